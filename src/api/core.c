/*
 * api/core — the documents kubectl reads before anything else (version,
 * discovery in both forms, OpenAPI), and the core/v1 resources it needs
 * around images: Events (list, watch, create, get, delete); Namespaces are
 * namespace.c's.
 */
#include "api/internal.h"
#include "api/schema.h"
#include "core/k8sname.h"

#include <ctype.h>
#include <string.h>

#define AGG_CT(v) "application/json;g=apidiscovery.k8s.io;v=" v ";as=APIGroupDiscoveryList"

/* The aggregated-discovery version the client accepts first, or NULL. */
static const char *aggregated_version(const struct api_req *r)
{
	const char *a = api_header(r, "Accept");
	const char *v2 = a ? strstr(a, "v=v2;") : NULL, *v2b = a ? strstr(a, "v=v2beta1") : NULL;

	if (!a || !strstr(a, "as=APIGroupDiscoveryList"))
		return NULL;
	if (v2 && (!v2b || v2 < v2b))
		return "v2";
	return v2b ? "v2beta1" : NULL;
}

static void reply_aggregated(struct api_req *r, json_t *doc, const char *v)
{
	char *text = json_dumps(doc, JSON_COMPACT);

	json_decref(doc);
	if (!text) {
		api_reply_error(r, VIM_ENOMEM, "out of memory");
		return;
	}
	api_reply_raw(r, 200, strcmp(v, "v2") == 0 ? AGG_CT("v2") : AGG_CT("v2beta1"), text,
	              strlen(text));
	free(text);
}

void api_handle_discovery(struct api_req *r)
{
	const char *p = r->path, *agg = aggregated_version(r);
	size_t len;
	const unsigned char *pb;
	json_t *doc;

	if (strcmp(r->method, "GET") != 0) {
		api_reply_status(r, 405, "MethodNotAllowed", "discovery documents are read-only");
		return;
	}
	if (strcmp(p, "/version") == 0)
		api_reply_json(r, 200, api_schema_version());
	else if (strcmp(p, "/api") == 0 && agg)
		reply_aggregated(r, api_schema_aggregated_core(agg), agg);
	else if (strcmp(p, "/api") == 0)
		api_reply_json(r, 200, api_schema_core_versions());
	else if (strcmp(p, "/api/v1") == 0)
		api_reply_json(r, 200, api_schema_core_resources());
	else if (strcmp(p, "/apis") == 0 && agg)
		reply_aggregated(r, api_schema_aggregated_apis(agg), agg);
	else if (strcmp(p, "/apis") == 0)
		api_reply_json(r, 200, api_schema_group_list());
	else if (strcmp(p, "/apis/" MODEL_GROUP) == 0)
		api_reply_json(r, 200, api_schema_group());
	else if (strcmp(p, "/apis/" MODEL_API_VERSION) == 0)
		api_reply_json(r, 200, api_schema_group_resources());
	else if (strncmp(p, "/apis/", 6) == 0 && (doc = api_schema_group_path(p + 6)))
		api_reply_json(r, 200, doc);
	else if (strcmp(p, "/openapi/v3") == 0)
		api_reply_json(r, 200, api_schema_openapi_v3_index());
	else if (strcmp(p, "/openapi/v3/apis/" MODEL_API_VERSION) == 0)
		api_reply_json(r, 200, api_schema_openapi_v3_group());
	else if (strcmp(p, "/openapi/v3/api/v1") == 0)
		api_reply_json(r, 200, api_schema_openapi_v3_core());
	else {
		/* As kube-apiserver labels it: Go's mime parser (kubectl 1.27)
		 * rejects the '@' of the protobuf media type. */
		pb = api_schema_openapi_v2_pb(&len);
		api_reply_raw(r, 200, "application/octet-stream", pb, len);
	}
}

/* ---- events -------------------------------------------------------------------------------- */

/* SimpleNameGenerator keeps 63 - 5 bytes of generateName. */
#define EVENT_GEN_PREFIX_MAX 58
/* TotalAnnotationSizeLimitB: the sum of len(key) + len(value). */
#define EVENT_ANNOTATIONS_MAX (256 * 1024)

/* One cause per reason, as kube makes one field error of each. */
static void invalid_each(struct model_causes *c, const char *field, const char *value,
                         const struct k8sname_msgs *why)
{
	char q[320];
	size_t i;

	k8sname_quote(q, sizeof(q), value, strlen(value));
	for (i = 0; i < why->len; i++)
		model_causes_add(c, field, "FieldValueInvalid", "Invalid value: %s: %s", q,
		                 why->items[i]);
}

/* A metadata member of the wrong JSON type: kube's decoder refuses the
 * body (400) before any validation. */
static bool wrong_type(struct api_req *r, const json_t *meta, const char *key, bool map)
{
	const json_t *v = json_object_get(meta, key), *e;
	const char *k;
	char msg[256];

	if (!v || json_is_null(v) || (!map && json_is_string(v)))
		return false;
	if (map && json_is_object(v)) {
		bool strings = true;
		json_object_foreach((json_t *)v, k, e)
		{
			strings = strings && json_is_string(e);
		}
		if (strings)
			return false;
	}
	snprintf(msg, sizeof(msg),
	         "Event in version \"v1\" cannot be handled as a Event: "
	         "metadata.%s: must be %s",
	         key, map ? "a map of strings" : "a string");
	api_reply_status(r, 400, "BadRequest", msg);
	return true;
}

/* kube's ValidateObjectMeta for an Event (core/v1: the name is a DNS
 * subdomain), with the checks core/k8sname shares with the model. */
static void event_meta_causes(const json_t *meta, struct model_causes *c)
{
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *gen = json_string_value(json_object_get(meta, "generateName"));
	struct k8sname_msgs why;
	const char *k;
	json_t *v;
	size_t total = 0, n;

	if (gen && *gen && !k8sname_dns1123_subdomain_prefix(gen, strlen(gen), &why))
		invalid_each(c, "metadata.generateName", gen, &why);
	if (name && *name) {
		if (!k8sname_dns1123_subdomain(name, strlen(name), &why))
			invalid_each(c, "metadata.name", name, &why);
	} else if (gen && *gen) {
		/* the store generates the name: judge the one it will get
		 * (any 5 runes of the generator's alphabet judge alike) */
		char trial[EVENT_GEN_PREFIX_MAX + 6];
		n = strlen(gen) > EVENT_GEN_PREFIX_MAX ? EVENT_GEN_PREFIX_MAX : strlen(gen);
		memcpy(trial, gen, n);
		memcpy(trial + n, "bcdfg", 6);
		if (!k8sname_dns1123_subdomain(trial, strlen(trial), &why))
			invalid_each(c, "metadata.name", trial, &why);
	} else {
		model_causes_add(c, "metadata.name", "FieldValueRequired",
		                 "Required value: name or generateName is required");
	}
	json_object_foreach(json_object_get(meta, "labels"), k, v)
	{
		const char *lv = json_string_value(v);
		if (!k8sname_qualified(k, strlen(k), &why))
			invalid_each(c, "metadata.labels", k, &why);
		if (!k8sname_label_value(lv, strlen(lv), &why))
			invalid_each(c, "metadata.labels", lv, &why);
	}
	json_object_foreach(json_object_get(meta, "annotations"), k, v)
	{
		char lower[K8SNAME_SUBDOMAIN_MAX + 64 + 2];
		n = strlen(k);
		total += n + strlen(json_string_value(v));
		/* a qualified name, except that case does not matter; a key
		 * too long to copy is too long to be one */
		if (n >= sizeof(lower)) {
			if (!k8sname_qualified(k, n, &why))
				invalid_each(c, "metadata.annotations", k, &why);
			continue;
		}
		for (size_t i = 0; i <= n; i++)
			lower[i] = (char)tolower((unsigned char)k[i]);
		if (!k8sname_qualified(lower, n, &why))
			invalid_each(c, "metadata.annotations", k, &why);
	}
	if (total > EVENT_ANNOTATIONS_MAX)
		model_causes_add(c, "metadata.annotations", "FieldValueTooLong",
		                 "Too long: must have at most %d bytes", EVENT_ANNOTATIONS_MAX);
}

/* The path's namespace and (PUT) name against the body's, then the
 * metadata rules.  Returns false when a reply was set. */
static bool event_check(struct api_req *r, json_t *in)
{
	json_t *meta = json_object_get(in, "metadata");
	struct model_causes causes = {.len = 0};
	const char *ns, *name;

	if (!json_is_object(meta)) {
		model_causes_add(&causes, "metadata.name", "FieldValueRequired",
		                 "Required value: name or generateName is required");
		api_reply_invalid_kind(r, "", "Event", r->name, &causes);
		return false;
	}
	if (wrong_type(r, meta, "name", false) || wrong_type(r, meta, "generateName", false) ||
	    wrong_type(r, meta, "namespace", false) || wrong_type(r, meta, "labels", true) ||
	    wrong_type(r, meta, "annotations", true))
		return false;
	ns = json_string_value(json_object_get(meta, "namespace"));
	if (ns && *ns && strcmp(ns, r->ns) != 0) {
		api_reply_status(
		    r, 400, "BadRequest",
		    "the namespace of the provided object does not match the namespace "
		    "sent on the request");
		return false;
	}
	json_object_set_new(meta, "namespace", json_string(r->ns));
	name = json_string_value(json_object_get(meta, "name"));
	if (r->name && name && *name && strcmp(name, r->name) != 0) {
		api_reply_status(r, 400, "BadRequest",
		                 "the name of the object does not match the name on the URL");
		return false;
	}
	if (r->name && (!name || !*name))
		json_object_set_new(meta, "name", json_string(r->name));
	event_meta_causes(meta, &causes);
	if (causes.len) {
		name = json_string_value(json_object_get(meta, "name"));
		api_reply_invalid_kind(r, "", "Event", name ? name : "", &causes);
		return false;
	}
	return true;
}

static void event_write(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *in = NULL, *out = NULL;
	bool create = strcmp(r->method, "POST") == 0;
	int rc;

	if (!api_check_write_options(r, create ? "CreateOptions" : "UpdateOptions", true) ||
	    !(in = api_parse_body(r, "Event")))
		return;
	if (!json_is_object(in)) {
		json_decref(in);
		api_reply_status(r, 400, "BadRequest", "the body must be a JSON or YAML object");
		return;
	}
	if (!event_check(r, in)) {
		json_decref(in);
		return;
	}
	/* dryRun=All: the store runs the write's rules and commits nothing */
	rc = create ? store_create_opts(r->store, "events", in,
	                                &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)},
	                                &out, &err)
	            : store_update_opts(r->store, "events", in,
	                                &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)},
	                                &out, &err);
	if (rc < 0)
		api_reply_error_named(
		    r, rc, err.msg,
		    json_string_value(json_object_get(json_object_get(in, "metadata"), "name")));
	else
		api_reply_json(r, create ? 201 : 200, out);
	json_decref(in);
}

void api_handle_events(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *out = NULL;
	bool deleted;
	int rc;

	if (strcmp(r->resource, "events") != 0) {
		api_reply_error(r, VIM_ENOTFOUND,
		                "the server could not find the requested resource");
		return;
	}
	if (!r->name && strcmp(r->method, "GET") == 0) {
		api_get_collection(r);
		return;
	}
	if (!r->name && strcmp(r->method, "POST") == 0 && r->ns) {
		if (api_namespace_admit(r, r->ns, "events"))
			event_write(r);
		return;
	}
	if (r->name && r->ns && strcmp(r->method, "GET") == 0) {
		if (!api_check_get_options(r))
			return;
		rc = store_get(r->store, "events", r->ns, r->name, &out, &err);
		if (rc < 0)
			api_reply_error(r, rc, err.msg);
		else
			api_reply_json(r, 200, out);
		return;
	}
	if (r->name && r->ns && strcmp(r->method, "PUT") == 0) {
		event_write(r);
		return;
	}
	if (r->name && r->ns && strcmp(r->method, "DELETE") == 0) {
		json_t *opts = NULL;
		if (!api_delete_options(r, &opts))
			return;
		rc =
		    store_delete(r->store,
		                 &(struct store_delete_opts){.resource = "events",
		                                             .ns = r->ns,
		                                             .name = r->name,
		                                             .write.dry_run = api_dry_run(r, opts)},
		                 &out, &deleted, &err);
		json_decref(opts);
		if (rc < 0)
			api_reply_error(r, rc, err.msg);
		else
			api_reply_json(r, 200, out);
		return;
	}
	api_reply_status(r, 405, "MethodNotAllowed", "this verb is not supported on events");
}
