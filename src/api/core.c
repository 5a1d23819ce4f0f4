/*
 * api/core — the documents kubectl reads before anything else (version,
 * discovery in both forms, OpenAPI), and the core/v1 resources it needs
 * around images: Events (list, watch, create, get, delete); Namespaces are
 * namespace.c's.
 */
#include "api/internal.h"
#include "api/schema.h"

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

static void event_write(struct api_req *r)
{
	struct vim_err err = {0};
	json_t *in = NULL, *out = NULL;
	const char *ns;
	int rc;

	if (!api_check_write_options(
	        r, strcmp(r->method, "POST") == 0 ? "CreateOptions" : "UpdateOptions", true) ||
	    !(in = api_parse_body(r, "Event")))
		return;
	if (!json_is_object(json_object_get(in, "metadata"))) {
		json_decref(in);
		api_reply_error(r, VIM_EINVAL, "metadata: Required value");
		return;
	}
	ns = json_string_value(json_object_get(json_object_get(in, "metadata"), "namespace"));
	if (r->ns && (!ns || strcmp(ns, r->ns) != 0))
		json_object_set_new(json_object_get(in, "metadata"), "namespace",
		                    json_string(r->ns));
	/* dryRun=All: the store runs the write's rules and commits nothing */
	rc = strcmp(r->method, "POST") == 0
	         ? store_create_opts(r->store, "events", in,
	                             &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)},
	                             &out, &err)
	         : store_update_opts(r->store, "events", in,
	                             &(struct store_write_opts){.dry_run = api_dry_run(r, NULL)},
	                             &out, &err);
	json_decref(in);
	if (rc < 0)
		api_reply_error(r, rc, err.msg);
	else
		api_reply_json(r, strcmp(r->method, "POST") == 0 ? 201 : 200, out);
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
		bool w;
		if (!api_query_bool(r, "watch", &w))
			return;
		if (w)
			api_watch(r);
		else
			api_list(r);
		return;
	}
	if (!r->name && strcmp(r->method, "POST") == 0 && r->ns) {
		if (api_namespace_admit(r, r->ns, "events"))
			event_write(r);
		return;
	}
	if (r->name && r->ns && strcmp(r->method, "GET") == 0) {
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
		rc = store_delete_opts(r->store, "events", r->ns, r->name, NULL, NULL,
		                       &(struct store_write_opts){.dry_run = api_dry_run(r, opts)},
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
