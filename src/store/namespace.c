/*
 * store/namespace — the Namespace objects every namespaced object lives in:
 * their kube shape (spec.finalizers ["kubernetes"], status.phase Active, the
 * kubernetes.io/metadata.name label) and the start-up step that gives a data
 * dir written before Namespaces existed one for every namespace its objects
 * use, plus "default", so nothing it holds sits in a namespace that is not
 * there.
 */
#include "model/model.h"
#include "store/store.h"

#include <string.h>

void store_namespace_defaults(json_t *ns)
{
	json_t *md = json_object_get(ns, "metadata"), *labels, *spec;
	const char *name = json_string_value(json_object_get(md, "name"));

	json_object_set_new(ns, "apiVersion", json_string("v1"));
	json_object_set_new(ns, "kind", json_string("Namespace"));
	if (json_is_object(md) && name) {
		/* kube's NamespaceDefaultLabelName: always the name, never the
		 * client's value */
		if (!json_is_object(labels = json_object_get(md, "labels"))) {
			labels = json_object();
			json_object_set_new(md, "labels", labels);
		}
		json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
	}
	if (!json_is_object(spec = json_object_get(ns, "spec"))) {
		spec = json_object();
		json_object_set_new(ns, "spec", spec);
	}
	json_object_set_new(spec, "finalizers", json_pack("[s]", "kubernetes"));
	json_object_set_new(ns, "status", json_pack("{s:s}", "phase", "Active"));
}

static int collect_ns(void *arg, const char *json, size_t len)
{
	json_t *obj = json_loadb(json, len, 0, NULL);
	const char *ns =
	    json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));

	if (ns && *ns)
		json_object_set_new(arg, ns, json_true());
	json_decref(obj);
	return 0;
}

int store_namespaces_ensure(struct store *s, struct vim_err *err)
{
	json_t *seen = json_object(), *v, *ns = NULL, *out = NULL;
	struct store_list_opts o = {0};
	struct store_list_meta m;
	const char *name;
	size_t i;
	int rc = 0;

	if (!seen)
		return vim_err_set(err, VIM_ENOMEM, "store: namespaces: out of memory");
	json_object_set_new(seen, "default", json_true());
	/* every namespaced kind's objects, then the events */
	for (i = 0; i <= MODEL_KIND__COUNT; i++) {
		const char *resource = "events";
		if (i < MODEL_KIND__COUNT) {
			const struct model_kind_info *k = model_kind_info((enum model_kind)i);
			if (!k->namespaced)
				continue;
			resource = k->plural;
		}
		if ((rc = store_list(s, resource, &o, collect_ns, seen, &m, err)) < 0)
			goto out;
	}
	json_object_foreach(seen, name, v)
	{
		rc = store_get(s, "namespaces", NULL, name, &out, err);
		json_decref(out);
		out = NULL;
		if (rc == 0)
			continue;
		if (rc != VIM_ENOTFOUND)
			goto out;
		ns = json_pack("{s:{s:s}}", "metadata", "name", name);
		store_namespace_defaults(ns);
		if ((rc = store_create(s, "namespaces", ns, &out, err)) < 0 && rc != VIM_EEXIST)
			goto out;
		json_decref(ns);
		json_decref(out);
		ns = out = NULL;
		rc = 0;
	}
out:
	json_decref(ns);
	json_decref(seen);
	return rc;
}
