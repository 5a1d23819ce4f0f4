/*
 * api/schema_discovery — /version and the discovery documents (legacy
 * APIVersions/APIGroupList/APIResourceList and the aggregated
 * apidiscovery.k8s.io APIGroupDiscoveryList).  Both forms are built from the
 * same resource rows so the two views can never disagree.
 */
#include "api/schema.h"

#include <stdio.h>
#include <string.h>

#define API_SCHEMA_KUBE_MINOR "32"

/* One discoverable resource.  Lists are NULL-terminated; a NULL list (or
 * short name, category) means "omit the member", as the API server does
 * for empty slices. */
struct api_schema_resource {
	const char *group; /* "" = core */
	const char *version;
	const char *plural;
	const char *singular;
	const char *kind;
	bool namespaced;
	const char *const *verbs;
	const char *short_name;
	const char *category;
	bool has_status;
};

static const char *const api_schema_crd_verbs[] = {
    "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch", NULL};
static const char *const api_schema_status_verbs[] = {"get", "patch", "update", NULL};
static const char *const api_schema_core_verbs[] = {"create", "get", "list", "watch", NULL};
static const char *const api_schema_ns_verbs[] = {"create", "delete", "get",   "list",
                                                  "patch",  "update", "watch", NULL};
static const char *const api_schema_create_verbs[] = {"create", NULL};

static const struct api_schema_resource api_schema_core_rows[] = {
    {"", "v1", "events", "event", "Event", true, api_schema_core_verbs, "ev", NULL, false},
    {"", "v1", "namespaces", "namespace", "Namespace", false, api_schema_ns_verbs, "ns", NULL,
     false},
};

/* kubectl auth whoami / can-i post these reviews (auth_review.c). */
static const struct api_schema_resource api_schema_authn_rows[] = {
    {"authentication.k8s.io", "v1", "selfsubjectreviews", "selfsubjectreview", "SelfSubjectReview",
     false, api_schema_create_verbs, NULL, NULL, false},
};
static const struct api_schema_resource api_schema_authz_rows[] = {
    {"authorization.k8s.io", "v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
     "SelfSubjectAccessReview", false, api_schema_create_verbs, NULL, NULL, false},
    {"authorization.k8s.io", "v1", "selfsubjectrulesreviews", "selfsubjectrulesreview",
     "SelfSubjectRulesReview", false, api_schema_create_verbs, NULL, NULL, false},
};

/* The named groups /apis lists, ours first; one version each.  rows NULL:
 * the group's resources are the kind table's rows of that group/version. */
struct api_schema_group_def {
	const char *name, *version, *group_version;
	const struct api_schema_resource *rows;
	size_t n;
};

#define API_SCHEMA_N(a) (sizeof(a) / sizeof((a)[0]))

static const struct api_schema_group_def api_schema_groups[] = {
    {MODEL_GROUP, MODEL_VERSION, MODEL_API_VERSION, NULL, 0},
    {"authentication.k8s.io", "v1", "authentication.k8s.io/v1", api_schema_authn_rows,
     API_SCHEMA_N(api_schema_authn_rows)},
    {"authorization.k8s.io", "v1", "authorization.k8s.io/v1", api_schema_authz_rows,
     API_SCHEMA_N(api_schema_authz_rows)},
};

/* The resources of a group: its static rows, or the kinds' rows filled into
 * buf (MODEL_KIND__COUNT entries), in the kind table's order.  Returns the
 * count; *rows is borrowed (static or buf). */
static size_t api_schema_rows_of(const struct api_schema_group_def *g,
                                 struct api_schema_resource buf[MODEL_KIND__COUNT],
                                 const struct api_schema_resource **rows)
{
	size_t n = 0;

	*rows = g->rows;
	if (g->rows)
		return g->n;
	for (int i = 0; i < MODEL_KIND__COUNT; i++) {
		const struct model_kind_info *k = model_kind_info((enum model_kind)i);
		if (strcmp(k->group, g->name) != 0 || strcmp(k->version, g->version) != 0)
			continue;
		buf[n++] = (struct api_schema_resource){
		    k->group,      k->version,           k->plural,     k->singular, k->name,
		    k->namespaced, api_schema_crd_verbs, k->short_name, k->category, k->has_status};
	}
	*rows = buf;
	return n;
}

static json_t *api_schema_strings(const char *const *list)
{
	json_t *arr = json_array();
	for (size_t i = 0; list && list[i]; i++)
		json_array_append_new(arr, json_string(list[i]));
	return arr;
}

json_t *api_schema_version(void)
{
	/* The kubectl dispatcher picks its build from major/minor and
	 * gitVersion, so they must look like a real 1.32 server. */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
	                 API_SCHEMA_KUBE_MINOR, "gitVersion",
	                 "v1." API_SCHEMA_KUBE_MINOR ".0-vimage.1", "gitCommit",
	                 "0000000000000000000000000000000000000000", "gitTreeState", "clean",
	                 "buildDate", "2026-11-24T00:00:00Z", "goVersion", "n/a", "compiler", "gcc",
	                 "platform", "linux/amd64");
}

json_t *api_schema_core_versions(void)
{
	return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
	                 "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
	                 "127.0.0.1");
}

/* One APIResourceList entry (and its "<plural>/status" twin). */
static void api_schema_add_legacy(json_t *arr, const struct api_schema_resource *r)
{
	json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->plural, "singularName",
	                      r->singular, "namespaced", r->namespaced, "kind", r->kind, "verbs",
	                      api_schema_strings(r->verbs));
	if (r->short_name)
		json_object_set_new(o, "shortNames", json_pack("[s]", r->short_name));
	if (r->category)
		json_object_set_new(o, "categories", json_pack("[s]", r->category));
	json_array_append_new(arr, o);
	if (r->has_status) {
		char name[96];
		snprintf(name, sizeof(name), "%s/status", r->plural);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", name,
		                                     "singularName", "", "namespaced",
		                                     r->namespaced, "kind", r->kind, "verbs",
		                                     api_schema_strings(api_schema_status_verbs)));
	}
}

static json_t *api_schema_resource_list(const char *gv, const struct api_schema_resource *rows,
                                        size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		api_schema_add_legacy(arr, &rows[i]);
	return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
	                 "groupVersion", gv, "resources", arr);
}

json_t *api_schema_core_resources(void)
{
	return api_schema_resource_list("v1", api_schema_core_rows,
	                                API_SCHEMA_N(api_schema_core_rows));
}

static json_t *api_schema_group_of(const struct api_schema_group_def *g)
{
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:{s:s, s:s}}", "kind", "APIGroup",
	                 "apiVersion", "v1", "name", g->name, "versions", "groupVersion",
	                 g->group_version, "version", g->version, "preferredVersion",
	                 "groupVersion", g->group_version, "version", g->version);
}

json_t *api_schema_group(void)
{
	return api_schema_group_of(&api_schema_groups[0]);
}

json_t *api_schema_group_list(void)
{
	json_t *groups = json_array(), *g;

	for (size_t i = 0; i < API_SCHEMA_N(api_schema_groups); i++) {
		if (!(g = api_schema_group_of(&api_schema_groups[i])))
			continue;
		/* Inside an APIGroupList the groups carry no kind/apiVersion. */
		json_object_del(g, "kind");
		json_object_del(g, "apiVersion");
		json_array_append_new(groups, g);
	}
	return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
	                 groups);
}

json_t *api_schema_group_path(const char *path)
{
	for (size_t i = 0; i < API_SCHEMA_N(api_schema_groups); i++) {
		const struct api_schema_group_def *g = &api_schema_groups[i];
		if (strcmp(path, g->name) == 0)
			return api_schema_group_of(g);
		if (strcmp(path, g->group_version) == 0) {
			struct api_schema_resource buf[MODEL_KIND__COUNT];
			const struct api_schema_resource *rows;
			size_t n = api_schema_rows_of(g, buf, &rows);
			return api_schema_resource_list(g->group_version, rows, n);
		}
	}
	return NULL;
}

json_t *api_schema_group_resources(void)
{
	return api_schema_group_path(MODEL_API_VERSION);
}

static json_t *api_schema_response_kind(const struct api_schema_resource *r)
{
	return json_pack("{s:s, s:s, s:s}", "group", r->group, "version", r->version, "kind",
	                 r->kind);
}

static json_t *api_schema_aggregated_resource(const struct api_schema_resource *r)
{
	json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:o}", "resource", r->plural, "responseKind",
	                      api_schema_response_kind(r), "scope",
	                      r->namespaced ? "Namespaced" : "Cluster", "singularResource",
	                      r->singular, "verbs", api_schema_strings(r->verbs));
	if (r->short_name)
		json_object_set_new(o, "shortNames", json_pack("[s]", r->short_name));
	if (r->category)
		json_object_set_new(o, "categories", json_pack("[s]", r->category));
	if (r->has_status)
		json_object_set_new(o, "subresources",
		                    json_pack("[{s:s, s:o, s:o}]", "subresource", "status",
		                              "responseKind", api_schema_response_kind(r), "verbs",
		                              api_schema_strings(api_schema_status_verbs)));
	return o;
}

/* One APIGroupDiscovery of one version.  The core group has no name: its
 * metadata stays empty, as the API server sends it. */
static json_t *api_schema_aggregated_group(const char *group, const char *version,
                                           const struct api_schema_resource *rows, size_t n)
{
	json_t *res = json_array();
	json_t *meta = json_object();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(res, api_schema_aggregated_resource(&rows[i]));
	if (*group)
		json_object_set_new(meta, "name", json_string(group));
	json_object_set_new(meta, "creationTimestamp", json_null());
	return json_pack("{s:o, s:[{s:s, s:o, s:s}]}", "metadata", meta, "versions", "version",
	                 version, "resources", res, "freshness", "Current");
}

/* APIGroupDiscoveryList of the given groups (items stolen). */
static json_t *api_schema_aggregated(const char *apidiscovery_version, json_t *items)
{
	char api_version[64];

	snprintf(api_version, sizeof(api_version), "apidiscovery.k8s.io/%s",
	         apidiscovery_version && *apidiscovery_version ? apidiscovery_version : "v2");
	return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
	                 api_version, "metadata", "items", items);
}

json_t *api_schema_aggregated_core(const char *apidiscovery_version)
{
	return api_schema_aggregated(
	    apidiscovery_version,
	    json_pack("[o]", api_schema_aggregated_group("", "v1", api_schema_core_rows,
	                                                 API_SCHEMA_N(api_schema_core_rows))));
}

json_t *api_schema_aggregated_apis(const char *apidiscovery_version)
{
	json_t *items = json_array();

	for (size_t i = 0; i < API_SCHEMA_N(api_schema_groups); i++) {
		const struct api_schema_group_def *g = &api_schema_groups[i];
		struct api_schema_resource buf[MODEL_KIND__COUNT];
		const struct api_schema_resource *rows;
		size_t n = api_schema_rows_of(g, buf, &rows);
		json_array_append_new(items,
		                      api_schema_aggregated_group(g->name, g->version, rows, n));
	}
	return api_schema_aggregated(apidiscovery_version, items);
}
