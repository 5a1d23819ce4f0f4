/*
 * store/text_rv — an object's text with the resourceVersion its backend
 * gave it.  A backend that learns the revision only from the commit
 * (etcd) stores values without metadata.resourceVersion, as
 * kube-apiserver does; every read sets it from the key's mod_rev.
 */
#include "store/object.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *store_text_with_rv(const char *text, size_t len, int64_t rv, size_t *out_len)
{
	json_t *obj = json_loadb(text, len, 0, NULL), *md = json_object_get(obj, "metadata");
	char rvtext[24], *out = NULL;

	*out_len = 0;
	if (!json_is_object(obj) || !json_is_object(md))
		goto out;
	snprintf(rvtext, sizeof(rvtext), "%lld", (long long)rv);
	if (json_object_set_new(md, "resourceVersion", json_string(rvtext)) < 0)
		goto out;
	if ((out = json_dumps(obj, JSON_COMPACT)))
		*out_len = strlen(out);
out:
	json_decref(obj);
	return out;
}
