/*
 * store/text_rv — an object's text with the resourceVersion its backend
 * gave it.  A backend that learns the revision only from the commit
 * (etcd) stores values without metadata.resourceVersion, as
 * kube-apiserver does; every read sets it from the key's mod_rev.
 */
#include "store/object.h"

#include <stdio.h>
#include <string.h>

int store_set_rv(json_t *obj, int64_t rv)
{
	char text[24];

	snprintf(text, sizeof(text), "%lld", (long long)rv);
	return json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
	                           json_string(text)) < 0
	           ? VIM_ENOMEM
	           : 0;
}

char *store_text_with_rv(const char *text, size_t len, int64_t rv, size_t *out_len)
{
	json_t *obj = json_loadb(text, len, 0, NULL), *md = json_object_get(obj, "metadata");
	char *out = NULL;

	*out_len = 0;
	if (!json_is_object(obj) || !json_is_object(md))
		goto out;
	if (store_set_rv(obj, rv) < 0)
		goto out;
	if ((out = json_dumps(obj, JSON_COMPACT)))
		*out_len = strlen(out);
out:
	json_decref(obj);
	return out;
}
