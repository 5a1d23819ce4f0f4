/*
 * api/collection — deletecollection on VirtualImages and
 * ClusterVirtualImages: DELETE on the collection deletes every object the
 * labelSelector and fieldSelector match, each as a single DELETE would
 * (finalizers hold it with a deletionTimestamp, dryRun=All changes
 * nothing), and answers, as kube-apiserver's generic registry does, the
 * list of what was deleted.
 *
 * Bounded: the store is listed a page at a time and only a page's keys
 * are held while its objects are deleted; each delete is conditioned on
 * the uid that was listed, so an object deleted and created again under
 * the same name meanwhile is not taken for the one that matched.
 */
#include "api/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COLLECTION_PAGE 256

/* One listed object: its key and uid, copied out of the list callback. */
struct coll_key {
	char ns[STORE_NAMESPACE_MAX + 1];
	char name[STORE_NAME_MAX + 1];
	char uid[64];
};

struct coll_page {
	struct coll_key keys[COLLECTION_PAGE];
	size_t len;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src ? src : "");
}

static int collect_key(void *arg, const char *json, size_t len)
{
	struct coll_page *p = arg;
	json_t *obj, *md;

	if (p->len == COLLECTION_PAGE) /* the page's limit keeps it from happening */
		return VIM_EIO;
	if (!(obj = json_loadb(json, len, 0, NULL)))
		return VIM_EIO;
	md = json_object_get(obj, "metadata");
	copy_str(p->keys[p->len].ns, sizeof(p->keys[0].ns),
	         json_string_value(json_object_get(md, "namespace")));
	copy_str(p->keys[p->len].name, sizeof(p->keys[0].name),
	         json_string_value(json_object_get(md, "name")));
	copy_str(p->keys[p->len].uid, sizeof(p->keys[0].uid),
	         json_string_value(json_object_get(md, "uid")));
	p->len++;
	json_decref(obj);
	return 0;
}

/* Deletes the page's objects, appending each answer to items.  An object
 * gone since it was listed (404, or its uid no longer the listed one) is
 * skipped as kube skips NotFound; preconditions the client gave apply to
 * every object, and failing them fails the request. */
static int delete_page(struct api_req *r, const struct coll_page *p, const json_t *pre,
                       const struct store_write_opts *wo, json_t *items, struct vim_err *err)
{
	const char *puid = json_string_value(json_object_get(pre, "uid"));
	const char *prv = json_string_value(json_object_get(pre, "resourceVersion"));
	bool client_pre = (puid && *puid) || (prv && *prv), deleted;
	json_t *out;
	size_t i;
	int rc;

	for (i = 0; i < p->len; i++) {
		const struct coll_key *k = &p->keys[i];
		out = NULL;
		rc = store_delete(
		    r->store,
		    &(struct store_delete_opts){.resource = r->kind->plural,
		                                .ns = k->ns[0] ? k->ns : NULL,
		                                .name = k->name,
		                                .precondition_uid = puid && *puid ? puid : k->uid,
		                                .precondition_rv = prv,
		                                .write = *wo},
		    &out, &deleted, err);
		if (rc == VIM_ENOTFOUND || (rc == VIM_ECONFLICT && !client_pre))
			continue;
		if (rc < 0)
			return rc;
		json_array_append_new(items, out);
	}
	return 0;
}

void api_delete_collection(struct api_req *r)
{
	struct store_write_opts wo = {.dry_run = false};
	struct store_list_meta m = {0};
	struct store_list_opts o = {0};
	struct vim_err err = {0};
	struct coll_page *page = NULL;
	json_t *opts = NULL, *items = NULL;
	char cont[sizeof(m.continue_token)] = "", rv[32] = "";
	int rc = 0;

	if (!api_check_list_options(r, false) || !api_delete_options(r, &opts))
		return;
	wo.dry_run = api_dry_run(r, opts);
	if (!(page = calloc(1, sizeof(*page))) || !(items = json_array())) {
		api_reply_error(r, VIM_ENOMEM, "out of memory");
		goto out;
	}
	o.ns = r->ns;
	o.label_selector = api_query(r, "labelSelector");
	o.field_selector = api_query(r, "fieldSelector");
	/* the client's limit and continue are not honoured: deletecollection
	 * deletes every match, a page at a time of our choosing */
	o.limit = COLLECTION_PAGE;
	do {
		page->len = 0;
		o.continue_token = cont[0] ? cont : NULL;
		if ((rc = store_list(r->store, r->kind->plural, &o, collect_key, page, &m, &err)) <
		    0) {
			/* the only input a list refuses is a selector: 400 as kube */
			if (rc == VIM_EINVAL)
				api_reply_status(r, 400, "BadRequest", err.msg);
			else
				api_reply_error(
				    r, rc, err.msg[0] ? err.msg : "cannot list the collection");
			goto out;
		}
		if (!rv[0])
			snprintf(rv, sizeof(rv), "%lld", (long long)m.resource_version);
		if ((rc = delete_page(r, page, json_object_get(opts, "preconditions"), &wo, items,
		                      &err)) < 0) {
			api_reply_error(r, rc, err.msg);
			goto out;
		}
		copy_str(cont, sizeof(cont), m.continue_token);
	} while (cont[0]);
	api_reply_json(r, 200,
	               json_pack("{s:s,s:s,s:{s:s},s:o}", "apiVersion", r->kind->api_version,
	                         "kind", r->kind->list_kind, "metadata", "resourceVersion", rv,
	                         "items", items));
	items = NULL;
out:
	json_decref(items);
	json_decref(opts);
	free(page);
}
