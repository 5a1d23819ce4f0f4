/*
 * api/schema — the static descriptions kubectl reads: /version, discovery
 * (legacy and aggregated v2 forms), OpenAPI v3 (and v2 JSON), and the Table
 * rendering of `kubectl get`.  Pure functions building jansson values; no
 * I/O, no state.  Every json_t* returned is a new reference (caller decrefs).
 */
#ifndef VIM_API_SCHEMA_H
#define VIM_API_SCHEMA_H

#include "model/model.h"

#include <jansson.h>
#include <stdbool.h>

/* GET /version: Kubernetes-style info; gitVersion "v1.32.0-vimage+<ver>". */
json_t *api_schema_version(void);

/* GET /api (core v1 only: APIVersions) and GET /api/v1 (APIResourceList with
 * namespaces and events). */
json_t *api_schema_core_versions(void);
json_t *api_schema_core_resources(void);

/* GET /apis (APIGroupList) and GET /apis/virtualization.deckhouse.io and
 * /apis/virtualization.deckhouse.io/v1alpha2 (APIResourceList: plural,
 * singular, kind, namespaced, verbs, shortNames, categories; the status
 * subresource listed as "<plural>/status"). */
json_t *api_schema_group_list(void);
json_t *api_schema_group(void);
json_t *api_schema_group_resources(void);
/* Any named group's discovery by the path after "/apis/": "<group>" (an
 * APIGroup) or "<group>/<version>" (its APIResourceList); NULL when no
 * such group is served (ours, authentication.k8s.io, authorization.k8s.io). */
json_t *api_schema_group_path(const char *path);

/* The aggregated discovery forms (apidiscovery.k8s.io/v2, kind
 * APIGroupDiscoveryList) for /api and /apis, returned when the client's
 * Accept asks for them.  v2beta1 is the same document with that version. */
json_t *api_schema_aggregated_core(const char *apidiscovery_version);
json_t *api_schema_aggregated_apis(const char *apidiscovery_version);

/* GET /openapi/v3 (the paths index) and the group/version document with the
 * schemas of VirtualImage, ClusterVirtualImage (and their lists), with
 * descriptions so `kubectl explain vi.spec.dataSource.http` prints them and
 * x-kubernetes-group-version-kind so kubectl maps kinds to schemas. */
json_t *api_schema_openapi_v3_index(void);
json_t *api_schema_openapi_v3_group(void);
json_t *api_schema_openapi_v3_core(void); /* /openapi/v3/api/v1 (Event, Namespace, Status) */

/* GET /openapi/v2 and /swagger-2.0.0.pb-v1: a minimal protobuf
 * openapi_v2.Document (static, never freed).  kubectl 1.27/1.28 fetch it
 * before apply/explain and then use OpenAPI v3 for the real schemas. */
const unsigned char *api_schema_openapi_v2_pb(size_t *len);

/* A meta.k8s.io/v1 Table for `kubectl get`: the kind's printer columns
 * (wide ones at priority 1), one row per item with cells taken from the
 * object and "object" set to a PartialObjectMetadata (or the full object
 * when include_object is "Object"; omitted for "None").  items is borrowed.
 * list_rv / continue_token go to the Table's metadata. */
json_t *api_schema_table(const struct model_kind_info *kind, const json_t *items,
                         const char *include_object, const char *list_rv,
                         const char *continue_token);

/* Tables for core resources kubectl shows: events and namespaces. */
json_t *api_schema_table_events(const json_t *items, const char *include_object,
                                const char *list_rv, const char *continue_token);
json_t *api_schema_table_namespaces(const json_t *items, const char *include_object,
                                    const char *list_rv);

#endif
