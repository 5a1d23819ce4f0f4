/*
 * api/namespace — core/v1 Namespaces, as kube-apiserver serves them:
 * create (the server fills spec.finalizers ["kubernetes"], status.phase
 * Active and the kubernetes.io/metadata.name label), get, list, watch,
 * update and patch of metadata, and delete, which leaves the namespace
 * Terminating until the namespace controller (controller/namespace.c) has
 * deleted its images and events and emptied spec.finalizers.
 *
 * It also holds kube's NamespaceLifecycle admission for creates elsewhere:
 * content only goes into a namespace that exists and is not terminating.
 */
#include "api/internal.h"
#include "api/proto.h"
#include "core/k8sname.h"

#include <string.h>

#define NS_PATCH_ATTEMPTS 5

static bool terminating(const json_t *ns)
{
	return json_object_get(json_object_get(ns, "metadata"), "deletionTimestamp") != NULL;
}

/* A Status with kube's details {name, group, kind} (group left out when
 * empty): clients read the refused object from them, and the create's URL
 * has no name for api_reply_error to take. */
static void reply_details(struct api_req *r, unsigned int http, const char *reason,
                          const char *message, const char *group, const char *kind,
                          const char *name)
{
	json_t *st, *details;

	details = json_pack("{s:s,s:s}", "name", name, "kind", kind);
	if (details && *group)
		json_object_set_new(details, "group", json_string(group));
	st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:o*,s:i}", "kind", "Status", "apiVersion", "v1",
	               "metadata", "status", "Failure", "message", message, "reason", reason,
	               "details", details, "code", (int)http);
	if (!st) {
		api_reply_status(r, http, reason, message);
		return;
	}
	api_reply_json(r, http, st);
}

/* kube's NamespaceLifecycle reads its informer's cache, not etcd: the
 * namespace as a list at resourceVersion "0" has it (the watch cache on
 * etcd answers without a round trip, which was half of a create's etcd
 * requests), and one the cache has not seen yet (created a moment ago) is
 * read live, as the admission's live lookup does.  A cached one may lag a
 * delete by the watch's latency, as kube's does. */
static int namespace_lookup(struct store *s, const char *ns, json_t **out, struct vim_err *err)
{
	char sel[128];
	struct store_list_opts o = {.field_selector = sel, .resource_version = "0"};
	struct store_list_meta meta;
	json_t *items = NULL;

	*out = NULL;
	snprintf(sel, sizeof(sel), "metadata.name=%s", ns);
	if (store_list_json(s, "namespaces", &o, &items, &meta, err) == 0 &&
	    json_array_size(items) == 1) {
		*out = json_incref(json_array_get(items, 0));
		json_decref(items);
		return 0;
	}
	json_decref(items);
	return store_get(s, "namespaces", NULL, ns, out, err);
}

bool api_namespace_admit(struct api_req *r, const char *ns, const char *qualified_resource)
{
	struct vim_err err = {0};
	json_t *obj = NULL, *body;
	const char *name, *dot;
	char msg[VIM_ERR_MSG_MAX + 256], res[64];
	int rc;

	if (!ns || !*ns)
		return true;
	rc = namespace_lookup(r->store, ns, &obj, &err);
	if (rc == VIM_ENOTFOUND) {
		/* kube's NewNotFound(namespaces, ns): the namespace is what is missing */
		reply_details(r, 404, "NotFound", err.msg, "", "namespaces", ns);
		return false;
	}
	if (rc < 0) {
		api_reply_error(r, rc, err.msg);
		return false;
	}
	if (!terminating(obj)) {
		json_decref(obj);
		return true;
	}
	json_decref(obj);
	/* the name as kube's admission sees it: the posted object's */
	body = r->body ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	name = json_string_value(json_object_get(json_object_get(body, "metadata"), "name"));
	snprintf(msg, sizeof(msg),
	         "%s \"%.253s\" is forbidden: unable to create new content in namespace %s "
	         "because it is being terminated",
	         qualified_resource, name ? name : "", ns);
	/* kube's NewForbidden(group resource, name, ...) */
	dot = strchr(qualified_resource, '.');
	snprintf(res, sizeof(res), "%.*s",
	         (int)(dot ? (size_t)(dot - qualified_resource) : strlen(qualified_resource)),
	         qualified_resource);
	reply_details(r, 403, "Forbidden", msg, dot ? dot + 1 : "", res, name ? name : "");
	json_decref(body);
	return false;
}

/* 422 Invalid on a Namespace, with kube's message form. */
static void reply_invalid(struct api_req *r, const char *name, const char *field, const char *why)
{
	char msg[1024], q[300];

	k8sname_quote(q, sizeof(q), name ? name : "", name ? strlen(name) : 0);
	snprintf(msg, sizeof(msg), "Namespace %s is invalid: %s: %s", q, field, why);
	api_reply_status(r, 422, "Invalid", msg);
}

/* The body of a create or update, checked: a Namespace (kind and
 * apiVersion may be left out), its name a DNS-1123 label, matching the
 * URL's on an update.  NULL after a reply. */
static json_t *ns_body(struct api_req *r, const char *options_kind)
{
	const char *ct = api_header(r, "Content-Type");
	struct k8sname_msgs why;
	json_t *in = NULL, *md;
	const char *kind, *name, *gen;
	char msg[K8SNAME_MSG_MAX * K8SNAME_MSGS_MAX + 300], q[300];

	if (!api_check_write_options(r, options_kind, true))
		return NULL;
	if (ct && strncmp(ct, "application/vnd.kubernetes.protobuf", 35) == 0) {
		/* what kubectl create namespace sends */
		if (api_proto_namespace(r->body, r->body_len, &in) < 0) {
			api_reply_status(r, 400, "BadRequest",
			                 "the protobuf body of the Namespace does not parse");
			return NULL;
		}
	} else if (!(in = api_parse_body(r, "body"))) {
		return NULL;
	}
	md = json_object_get(in, "metadata");
	kind = json_string_value(json_object_get(in, "kind"));
	if (!json_is_object(in) || (kind && strcmp(kind, "Namespace") != 0)) {
		api_reply_status(
		    r, 400, "BadRequest",
		    "the body must be a Namespace (kind \"Namespace\", apiVersion \"v1\")");
		goto bad;
	}
	if (!json_is_object(md)) {
		reply_invalid(r, NULL, "metadata.name",
		              "Required value: name or generateName is "
		              "required");
		goto bad;
	}
	name = json_string_value(json_object_get(md, "name"));
	gen = json_string_value(json_object_get(md, "generateName"));
	if (r->name && (!name || strcmp(name, r->name) != 0)) {
		reply_invalid(r, name, "metadata.name",
		              "Invalid value: the name of the object does not match the name on "
		              "the URL");
		goto bad;
	}
	if ((!name || !*name) && (!gen || !*gen)) {
		reply_invalid(r, name, "metadata.name",
		              "Required value: name or generateName is required");
		goto bad;
	}
	if (name && *name && !k8sname_dns1123_label(name, strlen(name), &why)) {
		k8sname_quote(q, sizeof(q), name, strlen(name));
		k8sname_join(msg, sizeof(msg), &why, "; ");
		char detail[sizeof(msg) + 400];
		snprintf(detail, sizeof(detail), "Invalid value: %s: %s", q, msg);
		reply_invalid(r, name, "metadata.name", detail);
		goto bad;
	}
	json_object_del(md, "namespace"); /* cluster-scoped */
	return in;
bad:
	json_decref(in);
	return NULL;
}

static void ns_create(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *in = ns_body(r, "CreateOptions"), *out = NULL;
	int rc;

	if (!in)
		return;
	/* generateName is named by the store before the label can say it */
	store_namespace_defaults(in);
	rc = store_create_opts(r->store, "namespaces", in,
	                       &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)}, &out,
	                       &err);
	if (rc < 0)
		api_reply_error_named(
		    r, rc, err.msg,
		    json_string_value(json_object_get(json_object_get(in, "metadata"), "name")));
	else
		api_reply_json(r, 201, out);
	json_decref(in);
}

/* An update keeps what only the server changes: spec.finalizers (kube's
 * /finalize subresource is the only way to them) and the status. */
static int ns_write(struct api_req *r, const json_t *stored, json_t *next, json_t **out,
                    struct vim_err *err)
{
	json_t *spec = json_object_get(next, "spec"), *md, *labels;
	const json_t *fin = json_object_get(json_object_get(stored, "spec"), "finalizers");

	if (!json_is_object(spec)) {
		spec = json_object();
		json_object_set_new(next, "spec", spec);
	}
	if (fin)
		json_object_set_new(spec, "finalizers", json_deep_copy(fin));
	else
		json_object_del(spec, "finalizers");
	json_object_set_new(next, "apiVersion", json_string("v1"));
	json_object_set_new(next, "kind", json_string("Namespace"));
	md = json_object_get(next, "metadata");
	if (!json_is_object(labels = json_object_get(md, "labels"))) {
		labels = json_object();
		json_object_set_new(md, "labels", labels);
	}
	json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(r->name));
	return store_update_opts(r->store, "namespaces", next,
	                         &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)}, out,
	                         err);
}

static void ns_put(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *in = ns_body(r, "UpdateOptions"), *stored = NULL, *out = NULL;
	int rc;

	if (!in)
		return;
	if ((rc = store_get(r->store, "namespaces", NULL, r->name, &stored, &err)) == 0)
		rc = ns_write(r, stored, in, &out, &err);
	json_decref(in);
	json_decref(stored);
	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	else
		api_reply_json(r, 200, out);
}

/* A strategic merge patch of a Namespace is a merge patch once its
 * directives ("$patch", "$retainKeys", "$setElementOrder/...") are gone:
 * the fields a client may change are maps of strings. */
static void drop_directives(json_t *v)
{
	const char *key;
	json_t *child;
	void *tmp;

	if (!json_is_object(v))
		return;
	json_object_foreach_safe(v, tmp, key, child)
	{
		if (key[0] == '$')
			json_object_del(v, key);
		else
			drop_directives(child);
	}
}

static void ns_patch(struct api_req *r)
{
	const char *ct = api_header(r, "Content-Type");
	struct vim_err err = {0};
	json_t *patch = NULL, *stored = NULL, *next = NULL, *out = NULL;
	bool json_patch;
	int rc = 0, attempt;

	if (!ct || (!strstr(ct, "merge-patch+json") && !strstr(ct, "json-patch+json"))) {
		api_reply_status(
		    r, 415, "UnsupportedMediaType",
		    "the body of the request was in an unknown format - accepted media "
		    "types include: application/json-patch+json, "
		    "application/merge-patch+json, "
		    "application/strategic-merge-patch+json");
		return;
	}
	json_patch = strstr(ct, "json-patch+json") != NULL;
	if (!api_check_write_options(r, "PatchOptions", true) ||
	    !(patch = api_parse_body(r, "patch")))
		return;
	if (!json_patch)
		drop_directives(patch);
	for (attempt = 0; attempt < NS_PATCH_ATTEMPTS; attempt++) {
		json_decref(stored);
		json_decref(out);
		stored = out = NULL;
		if ((rc = store_get(r->store, "namespaces", NULL, r->name, &stored, &err)) < 0)
			break;
		next = json_deep_copy(stored);
		if (json_patch) {
			rc = api_json_patch(&next, patch, api_server_max_body(r->srv), &err);
		} else {
			next = api_merge_patch(next, patch);
			rc = json_is_object(next)
			         ? 0
			         : vim_err_set(&err, VIM_EINVAL, "the patch must be a JSON object");
		}
		if (rc == 0 &&
		    (!json_is_object(json_object_get(next, "metadata")) ||
		     !json_is_string(json_object_get(json_object_get(next, "metadata"), "name")) ||
		     strcmp(json_string_value(
		                json_object_get(json_object_get(next, "metadata"), "name")),
		            r->name) != 0))
			rc = vim_err_set(
			    &err, VIM_EINVAL,
			    "Namespace \"%s\" is invalid: metadata.name: Invalid value: "
			    "a patch cannot change the name",
			    r->name);
		if (rc == 0)
			rc = ns_write(r, stored, next, &out, &err);
		json_decref(next);
		next = NULL;
		if (rc != VIM_ECONFLICT ||
		    json_object_get(json_object_get(patch, "metadata"), "resourceVersion"))
			break;
	}
	if (rc < 0) {
		api_reply_error(r, rc, err.msg);
		json_decref(out);
	} else {
		api_reply_json(r, 200, out); /* steals out */
	}
	json_decref(stored);
	json_decref(patch);
}

static void ns_delete(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *opts = NULL, *pre, *out = NULL;
	bool deleted = false;
	int rc;

	/* kube's NamespaceLifecycle keeps the namespace everything defaults to */
	if (strcmp(r->name, "default") == 0) {
		api_reply_status(r, 403, "Forbidden",
		                 "namespaces \"default\" is forbidden: this namespace may not be "
		                 "deleted");
		return;
	}
	if (!api_delete_options(r, &opts))
		return;
	pre = json_object_get(opts, "preconditions");
	rc = store_delete(
	    r->store,
	    &(struct store_delete_opts){
	        .resource = "namespaces",
	        .name = r->name,
	        .precondition_uid = json_string_value(json_object_get(pre, "uid")),
	        .precondition_rv = json_string_value(json_object_get(pre, "resourceVersion")),
	        .write.dry_run = api_dry_run(r, opts)},
	    &out, &deleted, &err);
	json_decref(opts);
	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	else
		api_reply_json(r, 200, out); /* Terminating, as kube answers */
}

void api_handle_namespaces(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *out = NULL;
	int rc;

	r->resource = "namespaces";
	if (!r->name && strcmp(r->method, "GET") == 0) {
		api_get_collection(r);
	} else if (!r->name && strcmp(r->method, "POST") == 0) {
		ns_create(r);
	} else if (r->name && strcmp(r->method, "GET") == 0) {
		if (!api_check_get_options(r))
			return;
		if ((rc = store_get(r->store, "namespaces", NULL, r->name, &out, &err)) < 0)
			api_reply_error(r, rc, err.msg);
		else
			api_reply_json(r, 200, out);
	} else if (r->name && strcmp(r->method, "PUT") == 0) {
		ns_put(r);
	} else if (r->name && strcmp(r->method, "PATCH") == 0) {
		ns_patch(r);
	} else if (r->name && strcmp(r->method, "DELETE") == 0) {
		ns_delete(r);
	} else {
		api_reply_status(r, 405, "MethodNotAllowed",
		                 "this verb is not supported on namespaces");
	}
}
