/*
 * api/resource — VirtualImage and ClusterVirtualImage: GET, LIST, WATCH,
 * POST, PUT, PATCH (merge, JSON patch, apply), DELETE, and /status.  Every
 * write decodes into the model (so types are checked and unknown fields
 * found), validates, re-encodes canonically and goes to the store.
 */
#include "api/apply.h"
#include "api/internal.h"
#include "api/schema.h"
#include "core/k8sname.h"

#include <stdio.h>
#include <string.h>

/* The decoded body of a write, with what fieldValidation needs. */
struct decoded {
	json_t *json; /* canonical object to store */
	struct model_image *img;
	struct model_unknown unknown;
};

static void decoded_free(struct decoded *d)
{
	json_decref(d->json);
	model_image_free(d->img);
	memset(d, 0, sizeof(*d));
}

/* fieldValidation: Strict refuses unknown fields, Warn (the default)
 * reports them in Warning headers, Ignore drops them.  Returns false when a
 * reply was set. */
static bool field_validation(struct api_req *r, const struct model_unknown *u,
                             struct MHD_Response **warn_on)
{
	const char *mode = api_query(r, "fieldValidation");
	char msg[1024];
	size_t i, n = 0;

	(void)warn_on;
	if (u->len == 0 || (mode && strcmp(mode, "Ignore") == 0))
		return true;
	if (mode && strcmp(mode, "Strict") == 0) {
		n = (size_t)snprintf(msg, sizeof(msg), "strict decoding error: ");
		for (i = 0; i < u->len && n < sizeof(msg); i++)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%sunknown field \"%s\"",
			                      i ? ", " : "", u->paths[i]);
		api_reply_status(r, 400, "BadRequest", msg);
		return false;
	}
	return true; /* Warn: the caller adds the headers to its reply */
}

static void add_warnings(struct api_req *r, const struct model_unknown *u)
{
	const char *mode = api_query(r, "fieldValidation");
	char h[MODEL_FIELD_PATH_MAX + 64];
	size_t i;

	if (!r->resp || (mode && strcmp(mode, "Warn") != 0))
		return;
	for (i = 0; i < u->len; i++) {
		snprintf(h, sizeof(h), "299 - \"unknown field \\\"%s\\\"\"", u->paths[i]);
		MHD_add_response_header(r->resp, "Warning", h);
	}
	if (r->duplicate[0]) {
		snprintf(h, sizeof(h), "299 - \"duplicate field \\\"%s\\\"\"", r->duplicate);
		MHD_add_response_header(r->resp, "Warning", h);
	}
}

/* Decodes obj (borrowed) as this route's kind, with namespace and name
 * taken from the path.  Returns false when a reply was set. */
static bool decode(struct api_req *r, const json_t *obj, struct decoded *d)
{
	struct vim_err err = {0};
	const char *ns, *name;
	char msg[600];

	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj)) {
		api_reply_status(r, 400, "BadRequest", "the body must be a JSON or YAML object");
		return false;
	}
	if (model_image_from_json(&d->img, obj, &d->unknown, &err) < 0) {
		api_reply_status(r, 400, "BadRequest", err.msg);
		return false;
	}
	if (d->img->kind != r->kind->kind) {
		snprintf(msg, sizeof(msg),
		         "the kind in the body (%s) does not match the resource %s",
		         model_kind_info(d->img->kind)->name, r->kind->plural);
		api_reply_status(r, 400, "BadRequest", msg);
		decoded_free(d);
		return false;
	}
	ns = d->img->meta.namespace;
	if (r->kind->namespaced) {
		if (ns && *ns && r->ns && strcmp(ns, r->ns) != 0) {
			api_reply_status(r, 400, "BadRequest",
			                 "the namespace of the provided object does not match the "
			                 "namespace sent on the request");
			decoded_free(d);
			return false;
		}
		model_set_str(&d->img->meta.namespace, r->ns);
	} else {
		model_set_str(&d->img->meta.namespace, NULL);
	}
	name = d->img->meta.name;
	if (r->name && name && strcmp(name, r->name) != 0) {
		api_reply_status(r, 400, "BadRequest",
		                 "the name of the object does not match the name on the URL");
		decoded_free(d);
		return false;
	}
	if (r->name && !name)
		model_set_str(&d->img->meta.name, r->name);
	if (!field_validation(r, &d->unknown, NULL)) {
		decoded_free(d);
		return false;
	}
	return true;
}

static const char *rv_of(const json_t *obj)
{
	return json_string_value(
	    json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

static void reply_object(struct api_req *r, unsigned int code, json_t *obj)
{
	if (api_wants_table(r)) {
		json_t *items = json_pack("[O]", obj);
		json_t *t = api_schema_table(r->kind, items, api_query(r, "includeObject"),
		                             rv_of(obj), NULL);
		json_decref(items);
		json_decref(obj);
		api_reply_json(r, code, t);
		return;
	}
	api_reply_json(r, code, obj);
}

/* Warnings kube gives for valid metadata (non-qualified finalizers). */
static void add_meta_warnings(struct api_req *r, const struct model_image *img)
{
	struct model_warnings w;
	char h[2 * MODEL_CAUSE_MSG_MAX + 16];
	size_t i, n, j;

	model_meta_warnings(img, &w);
	for (i = 0; r->resp && i < w.len; i++) {
		n = (size_t)snprintf(h, sizeof(h), "299 - \"");
		for (j = 0; w.items[i][j] && n + 4 < sizeof(h); j++) {
			if (w.items[i][j] == '"' || w.items[i][j] == '\\')
				h[n++] = '\\';
			h[n++] = w.items[i][j];
		}
		snprintf(h + n, sizeof(h) - n, "\"");
		MHD_add_response_header(r->resp, "Warning", h);
	}
}

/* Creates body (borrowed) and replies, except that an apply's create
 * that loses a race (retry) returns VIM_EEXIST with no reply, to apply
 * again over the object that won.  Otherwise 0 (a reply set). */
static int create_object(struct api_req *r, const json_t *body, bool retry)
{
	struct store_write_opts wo = {.dry_run = false};
	struct model_causes causes;
	struct vim_err err = {0};
	struct decoded d;
	json_t *out = NULL;
	bool generated = false;
	int rc, tries;

	if (!decode(r, body, &d))
		return 0;
	model_apply_defaults(d.img);
	/* rest.BeforeCreate: the name is generated before validation, so
	 * the name the object gets is the one validated */
	if ((rc = model_meta_generate_name(d.img, &generated)) < 0 ||
	    (rc = model_validate_create(d.img, &causes)) < 0) {
		if (rc == VIM_EINVAL || rc == VIM_EUNSUPPORTED)
			api_reply_invalid(r, r->kind, d.img->meta.name, &causes, rc);
		else
			api_reply_error(r, rc, "cannot generate a name");
		decoded_free(&d);
		return 0;
	}
	/* NamespaceLifecycle, after validation as kube's validating
	 * admission: for a POST and for an apply that creates alike */
	if (!api_namespace_admit(r, r->kind->namespaced ? r->ns : NULL, r->kind->qualified)) {
		decoded_free(&d);
		return 0;
	}
	/* A new object starts with no status: only the controllers write it. */
	memset(&d.img->status, 0, sizeof(d.img->status));
	wo.dry_run = api_dry_run(r, NULL);
	for (tries = 0;; tries++) {
		d.json = model_image_to_json(d.img);
		json_object_del(d.json, "status");
		rc = store_create_opts(r->store, r->kind->plural, d.json, &wo, &out, &err);
		/* a generated name that is taken gets another (RetryGenerateName) */
		if (rc != VIM_EEXIST || !generated || tries == 7)
			break;
		json_decref(d.json);
		d.json = NULL;
		model_set_str(&d.img->meta.name, NULL);
		if (model_meta_generate_name(d.img, &generated) < 0)
			break;
	}
	if (rc == VIM_EEXIST && retry) {
		decoded_free(&d);
		return rc;
	}
	if (rc < 0)
		api_reply_error_named(r, rc, err.msg, d.img->meta.name);
	else
		reply_object(r, 201, out);
	add_warnings(r, &d.unknown);
	if (rc == 0)
		add_meta_warnings(r, d.img);
	decoded_free(&d);
	return 0;
}

static void do_create(struct api_req *r)
{
	json_t *body = NULL;

	if (!api_check_write_options(r, "CreateOptions", true) || !api_apply_check_options(r) ||
	    !(body = api_parse_body(r, "body")))
		return;
	/* a create by Update owns everything it set */
	if (json_is_object(body))
		api_apply_record_update(r, body, NULL, false);
	create_object(r, body, false);
	json_decref(body);
}

/* The CRD schema of status.conditions (metav1.Condition, as
 * controller-gen writes it), which kube-apiserver checks on every status
 * write; the decoder has checked the types (and lastTransitionTime's
 * RFC 3339) already.  Messages are the
 * schema validator's. */
#define COND_TYPE_MAX 316
#define COND_REASON_MAX 1024
#define COND_MESSAGE_MAX 32768
#define COND_TYPE_PATTERN                                                                          \
	"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/"                      \
	")?(([A-Za-z0-9][-A-Za-"                                                                   \
	"z0-9_.]*)?[A-Za-z0-9])$"
#define COND_REASON_PATTERN "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

static bool reason_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
		return false;
	for (i = 1; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		             (ch >= '0' && ch <= '9') || ch == '_';
		if (!alnum && !(i < n - 1 && (ch == ',' || ch == ':')))
			return false;
	}
	return true;
}

static void condition_causes(const json_t *cond, size_t i, struct model_causes *c)
{
	static const char *const required[] = {"type", "status", "reason", "message",
	                                       "lastTransitionTime"};
	const char *type = json_string_value(json_object_get(cond, "type"));
	const char *st = json_string_value(json_object_get(cond, "status"));
	const char *reason = json_string_value(json_object_get(cond, "reason"));
	const char *msg = json_string_value(json_object_get(cond, "message"));
	char f[96], q[320];
	size_t k;

	for (k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
		const json_t *v = json_object_get(cond, required[k]);
		if (!v || json_is_null(v)) {
			snprintf(f, sizeof(f), "status.conditions[%zu].%s", i, required[k]);
			model_causes_add(c, f, "FieldValueRequired", "Required value");
		}
	}
	snprintf(f, sizeof(f), "status.conditions[%zu].type", i);
	if (type && strlen(type) > COND_TYPE_MAX)
		model_causes_add(c, f, "FieldValueTooLong",
		                 "Too long: may not be more than %d bytes", COND_TYPE_MAX);
	else if (type && !k8sname_qualified(type, strlen(type), NULL)) {
		k8sname_quote(q, sizeof(q), type, strlen(type));
		model_causes_add(c, f, "FieldValueInvalid",
		                 "Invalid value: %s: %s in body should match '%s'", q, f,
		                 COND_TYPE_PATTERN);
	}
	snprintf(f, sizeof(f), "status.conditions[%zu].status", i);
	if (st && strcmp(st, "True") != 0 && strcmp(st, "False") != 0 &&
	    strcmp(st, "Unknown") != 0) {
		k8sname_quote(q, sizeof(q), st, strlen(st));
		model_causes_add(c, f, "FieldValueNotSupported",
		                 "Unsupported value: %s: supported values: \"True\", \"False\", "
		                 "\"Unknown\"",
		                 q);
	}
	snprintf(f, sizeof(f), "status.conditions[%zu].reason", i);
	if (reason && strlen(reason) > COND_REASON_MAX) {
		model_causes_add(c, f, "FieldValueTooLong",
		                 "Too long: may not be more than %d bytes", COND_REASON_MAX);
	} else if (reason && !*reason) {
		model_causes_add(c, f, "FieldValueInvalid",
		                 "Invalid value: \"\": %s in body should be at least 1 chars long",
		                 f);
	} else if (reason && !reason_ok(reason)) {
		k8sname_quote(q, sizeof(q), reason, strlen(reason));
		model_causes_add(c, f, "FieldValueInvalid",
		                 "Invalid value: %s: %s in body should match '%s'", q, f,
		                 COND_REASON_PATTERN);
	}
	snprintf(f, sizeof(f), "status.conditions[%zu].message", i);
	if (msg && strlen(msg) > COND_MESSAGE_MAX)
		model_causes_add(c, f, "FieldValueTooLong",
		                 "Too long: may not be more than %d bytes", COND_MESSAGE_MAX);
}

/* What a status write must satisfy (the rest of the object is the
 * stored one: the store keeps all but status, as kube's status strategy
 * does).  Returns false after a 422. */
static bool status_valid(struct api_req *r, const json_t *next)
{
	const json_t *conds = json_object_get(json_object_get(next, "status"), "conditions");
	struct model_causes causes = {.len = 0};
	size_t i;

	for (i = 0; json_is_array(conds) && i < json_array_size(conds); i++)
		if (json_is_object(json_array_get(conds, i)))
			condition_causes(json_array_get(conds, i), i, &causes);
	if (!causes.len)
		return true;
	api_reply_invalid(r, r->kind, r->name, &causes, VIM_EINVAL);
	return false;
}

/* Writes the decoded next version of `stored` (both borrowed) and
 * replies, except on a store conflict when the caller will retry
 * (retry): then VIM_ECONFLICT and no reply.  Otherwise 0 (a reply set). */
static int write_next(struct api_req *r, const json_t *stored, const json_t *next_json,
                      bool status_only, bool retry)
{
	const struct store_write_opts wo = {.dry_run = api_dry_run(r, NULL)};
	struct model_image *old = NULL;
	struct model_causes causes;
	struct vim_err err = {0};
	struct decoded d;
	json_t *out = NULL;
	int rc;

	if (!decode(r, next_json, &d))
		return 0;
	if (status_only && !status_valid(r, next_json)) {
		decoded_free(&d);
		return 0;
	}
	if (model_image_from_json(&old, stored, NULL, &err) < 0) {
		api_reply_error(r, VIM_EIO, "the stored object is unreadable");
		decoded_free(&d);
		return 0;
	}
	if (!status_only) {
		model_apply_defaults(d.img);
		if ((rc = model_validate_update(old, d.img, &causes)) < 0) {
			api_reply_invalid(r, r->kind, d.img->meta.name, &causes, rc);
			rc = 0;
			goto out;
		}
	}
	d.json = model_image_to_json(d.img);
	rc = status_only
	         ? store_update_status_opts(r->store, r->kind->plural, d.json, &wo, &out, &err)
	         : store_update_opts(r->store, r->kind->plural, d.json, &wo, &out, &err);
	if (rc == VIM_ECONFLICT && retry)
		goto out;
	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	else
		reply_object(r, 200, out);
	add_warnings(r, &d.unknown);
	rc = 0;
out:
	model_image_free(old);
	decoded_free(&d);
	return rc;
}

static int load(struct api_req *r, json_t **out)
{
	struct vim_err err = {0};
	int rc = store_get(r->store, r->kind->plural, r->ns, r->name, out, &err);

	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	return rc;
}

static const char *uid_of(const json_t *obj)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

static void reply_conflict(struct api_req *r, const char *why)
{
	char msg[VIM_ERR_MSG_MAX];

	snprintf(msg, sizeof(msg), "Operation cannot be fulfilled on %s \"%s\": %s",
	         r->kind->qualified, r->name, why);
	api_reply_error(r, VIM_ECONFLICT, msg);
}

/* PUT: a whole object, conditioned on its resourceVersion.  Custom
 * resources do not allow unconditional updates (AllowUnconditionalUpdate
 * is false for them in kube-apiserver), so a body without one is 422, and
 * a uid in the body is a precondition as kube's update makes it. */
static void do_put(struct api_req *r, bool status_only)
{
	struct model_causes causes = {.len = 0};
	json_t *stored = NULL, *body = NULL;
	const char *rv, *uid;
	char why[256];

	if (!api_check_write_options(r, "UpdateOptions", true) || !api_apply_check_options(r) ||
	    !(body = api_parse_body(r, "body")))
		return;
	if (load(r, &stored) < 0)
		goto out;
	rv = rv_of(body);
	uid = uid_of(body);
	if (json_is_object(body) && (!rv || !*rv)) {
		model_causes_add(&causes, "metadata.resourceVersion", "FieldValueInvalid",
		                 "Invalid value: 0x0: must be specified for an update");
		api_reply_invalid(r, r->kind, r->name, &causes, VIM_EINVAL);
		goto out;
	}
	if (uid && *uid && uid_of(stored) && strcmp(uid, uid_of(stored)) != 0) {
		snprintf(
		    why, sizeof(why),
		    "Precondition failed: UID in precondition: %.64s, UID in object meta: %.64s",
		    uid, uid_of(stored));
		reply_conflict(r, why);
		goto out;
	}
	if (json_is_object(body))
		api_apply_record_update(r, body, stored, status_only);
	write_next(r, stored, body, status_only, false);
out:
	json_decref(stored);
	json_decref(body);
}

/* kube-apiserver's GuaranteedUpdate retries an unconditional write until
 * it lands; here it gives up after this many conflicts in a row (each
 * one means another write landed, so only a flood of writers to the same
 * object reaches it). */
#define PATCH_MAX_ATTEMPTS 128

/* Applies the patch to a copy of stored: *next, or false after a reply. */
static bool apply_patch(struct api_req *r, const json_t *stored, const json_t *patch,
                        bool json_patch, bool status_only, json_t **next)
{
	struct model_causes causes = {.len = 0};
	size_t limit = r->srv ? api_server_max_body(r->srv) : (size_t)1 << 20, size = 0;
	struct vim_err err = {0};
	const char *uid, *rv;
	char msg[256];
	int rc;

	*next = json_deep_copy(stored);
	if (json_patch) {
		if ((rc = api_json_patch(next, patch, limit, &err)) < 0) {
			if (rc == VIM_ETOOLARGE)
				api_reply_status(r, 413, "RequestEntityTooLarge", err.msg);
			else
				api_reply_status(r, 422, "Invalid", err.msg);
			return false;
		}
	} else if (api_apply_is(r)) {
		/* server-side apply: the merge, conflicts and ownership */
		json_decref(*next);
		if (!api_apply_merge(r, stored, patch, status_only, next))
			return false;
	} else {
		/* merge patch: no larger than the object plus the patch */
		*next = api_merge_patch(*next, patch);
	}
	/* What goes to the store is bounded like a request body. */
	if (api_json_measure(*next, limit, &size, NULL) < 0) {
		snprintf(msg, sizeof(msg),
		         "Request entity too large: the patched object is over the limit of %zu "
		         "bytes",
		         limit);
		api_reply_status(r, 413, "RequestEntityTooLarge", msg);
		return false;
	}
	uid = uid_of(*next);
	if (uid && *uid && strcmp(uid, uid_of(stored) ? uid_of(stored) : "") != 0) {
		model_causes_add(&causes, "metadata.uid", "FieldValueInvalid",
		                 "Invalid value: \"%.64s\": field is immutable", uid);
		api_reply_invalid(r, r->kind, r->name, &causes, VIM_EINVAL);
		return false;
	}
	/* The patched object's resourceVersion is the write's precondition,
	 * as in kube: one the patch names must be the one it was applied to
	 * (409, no retry); none (the usual case) means "the one I read". */
	rv = rv_of(*next);
	if (rv && *rv && strcmp(rv, rv_of(stored) ? rv_of(stored) : "") != 0) {
		reply_conflict(r, "the object has been modified; please apply your changes to the "
		                  "latest version and try again");
		return false;
	}
	if (json_is_object(json_object_get(*next, "metadata")) && rv_of(stored))
		json_object_set_new(json_object_get(*next, "metadata"), "resourceVersion",
		                    json_string(rv_of(stored)));
	return true;
}

/* PATCH: read, apply, write conditioned on what was read; on a conflict
 * read again and re-apply, so concurrent patches (kubectl label,
 * annotate) never overwrite each other's changes. */
static void do_patch(struct api_req *r, bool status_only)
{
	const char *ct = api_header(r, "Content-Type");
	json_t *stored = NULL, *patch = NULL, *next = NULL;
	bool json_patch;
	int attempt;

	if (!ct || (!strstr(ct, "merge-patch+json") && !strstr(ct, "json-patch+json") &&
	            !strstr(ct, "apply-patch+yaml"))) {
		api_reply_status(
		    r, 415, "UnsupportedMediaType",
		    "the body of the request was in an unknown format - accepted media "
		    "types include: application/json-patch+json, "
		    "application/merge-patch+json, application/apply-patch+yaml");
		return;
	}
	json_patch = strstr(ct, "json-patch+json") != NULL;
	if (!api_check_write_options(r, "PatchOptions", true) || !api_apply_check_options(r) ||
	    !(patch = api_parse_body(r, "patch")))
		return;
	for (attempt = 0; attempt < PATCH_MAX_ATTEMPTS; attempt++) {
		json_decref(stored);
		json_decref(next);
		stored = next = NULL;
		/* apply creates what does not exist (as Flux and Argo CD use
		 * it); losing the create race applies again over the winner */
		if (api_apply_is(r) && !status_only &&
		    store_get(r->store, r->kind->plural, r->ns, r->name, &stored, NULL) ==
		        VIM_ENOTFOUND) {
			if (!api_apply_merge(r, NULL, patch, false, &next) ||
			    create_object(r, next, true) != VIM_EEXIST)
				goto out;
			continue;
		}
		json_decref(stored);
		stored = NULL;
		if (load(r, &stored) < 0 ||
		    !apply_patch(r, stored, patch, json_patch, status_only, &next))
			goto out;
		if (!api_apply_is(r))
			api_apply_record_update(r, next, stored, status_only);
		if (write_next(r, stored, next, status_only, true) != VIM_ECONFLICT)
			goto out;
	}
	reply_conflict(r, "the object has been modified; please apply your changes to the "
	                  "latest version and try again");
out:
	json_decref(stored);
	json_decref(patch);
	json_decref(next);
}

static void do_delete(struct api_req *r)
{
	struct store_write_opts wo = {.dry_run = false};
	json_t *opts = NULL, *pre, *out = NULL;
	struct vim_err err = {0};
	bool deleted = false;
	int rc;

	if (!api_delete_options(r, &opts))
		return;
	wo.dry_run = api_dry_run(r, opts);
	pre = json_object_get(opts, "preconditions");
	rc = store_delete(
	    r->store,
	    &(struct store_delete_opts){
	        .resource = r->kind->plural,
	        .ns = r->ns,
	        .name = r->name,
	        .precondition_uid = json_string_value(json_object_get(pre, "uid")),
	        .precondition_rv = json_string_value(json_object_get(pre, "resourceVersion")),
	        .write = wo},
	    &out, &deleted, &err);
	json_decref(opts);
	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	else
		api_reply_json(r, 200, out); /* as for custom resources: the object */
}

void api_handle_images(struct api_req *r)
{
	bool status = r->subresource && strcmp(r->subresource, "status") == 0;
	json_t *obj = NULL;

	r->kind = model_kind_lookup(r->resource);
	if (!r->kind || strcmp(r->kind->plural, r->resource) != 0 || (r->subresource && !status) ||
	    (status && !r->kind->has_status) || (r->ns && !r->kind->namespaced)) {
		api_reply_error(r, VIM_ENOTFOUND,
		                "the server could not find the requested resource");
		return;
	}
	if (!r->name) {
		if (strcmp(r->method, "GET") == 0) {
			api_get_collection(r);
		} else if (strcmp(r->method, "POST") == 0 && (r->ns || !r->kind->namespaced)) {
			do_create(r);
		} else if (strcmp(r->method, "DELETE") == 0 && (r->ns || !r->kind->namespaced)) {
			/* as kube: deletecollection is served in a namespace, not
			 * across all of them */
			api_delete_collection(r);
		} else {
			api_reply_status(r, 405, "MethodNotAllowed",
			                 "this verb is not supported on the collection");
		}
		return;
	}
	if (r->kind->namespaced && !r->ns) {
		api_reply_error(r, VIM_ENOTFOUND,
		                "the server could not find the requested resource");
		return;
	}
	if (strcmp(r->method, "GET") == 0) {
		if (api_check_get_options(r) && load(r, &obj) == 0)
			reply_object(r, 200, obj);
	} else if (strcmp(r->method, "PUT") == 0) {
		do_put(r, status);
	} else if (strcmp(r->method, "PATCH") == 0) {
		do_patch(r, status);
	} else if (strcmp(r->method, "DELETE") == 0 && !status) {
		do_delete(r);
	} else {
		api_reply_status(r, 405, "MethodNotAllowed", "this verb is not supported here");
	}
}
