/* api/schema: the discovery, OpenAPI and Table documents kubectl reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/schema.h"
#include "core/timeutil.h"

/* Every document must survive a dump/load round trip as JSON. */
static void assert_valid_json(const json_t *doc)
{
	assert_non_null(doc);
	char *text = json_dumps(doc, JSON_COMPACT);
	assert_non_null(text);
	json_error_t e;
	json_t *back = json_loads(text, 0, &e);
	assert_non_null(back);
	assert_true(json_equal(back, doc));
	json_decref(back);
	free(text);
}

static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The APIResourceList entry with this name, or NULL. */
static json_t *find_named(json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (str_at(v, key) && !strcmp(str_at(v, key), name))
			return v;
	}
	return NULL;
}

static bool has_string(const json_t *arr, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static void test_version_looks_like_kubernetes_1_32(void **state)
{
	(void)state;
	json_t *v = api_schema_version();
	assert_valid_json(v);
	assert_string_equal(str_at(v, "major"), "1");
	assert_string_equal(str_at(v, "minor"), "32");
	assert_true(!strncmp(str_at(v, "gitVersion"), "v1.32.0", 7));
	assert_string_equal(str_at(v, "platform"), "linux/amd64");
	json_decref(v);
}

static void test_core_discovery(void **state)
{
	(void)state;
	json_t *v = api_schema_core_versions();
	assert_valid_json(v);
	assert_string_equal(str_at(v, "kind"), "APIVersions");
	assert_true(has_string(json_object_get(v, "versions"), "v1"));
	json_decref(v);

	json_t *r = api_schema_core_resources();
	assert_valid_json(r);
	assert_string_equal(str_at(r, "kind"), "APIResourceList");
	json_t *ns = find_named(json_object_get(r, "resources"), "name", "namespaces");
	json_t *ev = find_named(json_object_get(r, "resources"), "name", "events");
	assert_non_null(ns);
	assert_non_null(ev);
	assert_false(json_is_true(json_object_get(ns, "namespaced")));
	assert_true(json_is_true(json_object_get(ev, "namespaced")));
	assert_true(has_string(json_object_get(ev, "shortNames"), "ev"));
	assert_true(has_string(json_object_get(ev, "verbs"), "watch"));
	json_decref(r);
}

static void test_group_discovery_names_short_names_categories_status(void **state)
{
	(void)state;
	json_t *gl = api_schema_group_list();
	assert_valid_json(gl);
	assert_string_equal(str_at(gl, "kind"), "APIGroupList");
	json_t *g = find_named(json_object_get(gl, "groups"), "name", MODEL_GROUP);
	assert_non_null(g);
	assert_string_equal(str_at(json_object_get(g, "preferredVersion"), "groupVersion"),
	                    MODEL_API_VERSION);
	json_decref(gl);

	json_t *grp = api_schema_group();
	assert_valid_json(grp);
	assert_string_equal(str_at(grp, "kind"), "APIGroup");
	json_decref(grp);

	json_t *r = api_schema_group_resources();
	assert_valid_json(r);
	assert_string_equal(str_at(r, "groupVersion"), MODEL_API_VERSION);
	json_t *res = json_object_get(r, "resources");
	json_t *vi = find_named(res, "name", "virtualimages");
	json_t *cvi = find_named(res, "name", "clustervirtualimages");
	assert_non_null(vi);
	assert_non_null(cvi);
	assert_string_equal(str_at(vi, "kind"), "VirtualImage");
	assert_string_equal(str_at(vi, "singularName"), "virtualimage");
	assert_true(json_is_true(json_object_get(vi, "namespaced")));
	assert_false(json_is_true(json_object_get(cvi, "namespaced")));
	assert_true(has_string(json_object_get(vi, "shortNames"), "vi"));
	assert_true(has_string(json_object_get(cvi, "shortNames"), "cvi"));
	assert_true(has_string(json_object_get(vi, "categories"), "virtualization"));
	assert_false(has_string(json_object_get(vi, "categories"), "all"));
	assert_true(has_string(json_object_get(cvi, "categories"), "virtualization-cluster"));
	assert_int_equal(json_array_size(json_object_get(vi, "verbs")), 8);
	json_t *st = find_named(res, "name", "virtualimages/status");
	assert_non_null(st);
	assert_true(has_string(json_object_get(st, "verbs"), "patch"));
	assert_non_null(find_named(res, "name", "clustervirtualimages/status"));
	json_decref(r);
}

static void test_aggregated_discovery_v2_and_v2beta1(void **state)
{
	(void)state;
	static const char *const versions[] = {"v2", "v2beta1"};
	for (size_t k = 0; k < 2; k++) {
		char want[64];
		snprintf(want, sizeof(want), "apidiscovery.k8s.io/%s", versions[k]);
		json_t *a = api_schema_aggregated_apis(versions[k]);
		assert_valid_json(a);
		assert_string_equal(str_at(a, "kind"), "APIGroupDiscoveryList");
		assert_string_equal(str_at(a, "apiVersion"), want);
		json_t *item = json_array_get(json_object_get(a, "items"), 0);
		assert_string_equal(str_at(json_object_get(item, "metadata"), "name"), MODEL_GROUP);
		json_t *ver = json_array_get(json_object_get(item, "versions"), 0);
		assert_string_equal(str_at(ver, "version"), MODEL_VERSION);
		assert_string_equal(str_at(ver, "freshness"), "Current");
		json_t *vi =
		    find_named(json_object_get(ver, "resources"), "resource", "virtualimages");
		json_t *cvi = find_named(json_object_get(ver, "resources"), "resource",
		                         "clustervirtualimages");
		assert_non_null(vi);
		assert_non_null(cvi);
		assert_string_equal(str_at(vi, "scope"), "Namespaced");
		assert_string_equal(str_at(cvi, "scope"), "Cluster");
		assert_string_equal(str_at(vi, "singularResource"), "virtualimage");
		assert_string_equal(str_at(json_object_get(vi, "responseKind"), "kind"),
		                    "VirtualImage");
		assert_true(has_string(json_object_get(vi, "shortNames"), "vi"));
		assert_true(has_string(json_object_get(vi, "categories"), "virtualization"));
		json_t *sub = json_array_get(json_object_get(vi, "subresources"), 0);
		assert_string_equal(str_at(sub, "subresource"), "status");
		json_decref(a);

		json_t *c = api_schema_aggregated_core(versions[k]);
		assert_valid_json(c);
		item = json_array_get(json_object_get(c, "items"), 0);
		assert_null(json_object_get(json_object_get(item, "metadata"), "name"));
		ver = json_array_get(json_object_get(item, "versions"), 0);
		assert_string_equal(str_at(ver, "version"), "v1");
		assert_non_null(
		    find_named(json_object_get(ver, "resources"), "resource", "events"));
		json_decref(c);
	}
}

static json_t *schema_of(json_t *doc, const char *name)
{
	return json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
	                       name);
}

/* Walks properties.a.properties.b... of a schema. */
static json_t *prop(json_t *schema, const char *a, const char *b, const char *c, const char *d)
{
	const char *segs[] = {a, b, c, d};
	for (size_t i = 0; i < 4 && segs[i] && schema; i++)
		schema = json_object_get(json_object_get(schema, "properties"), segs[i]);
	return schema;
}

static void test_openapi_group_doc_describes_fields(void **state)
{
	(void)state;
	json_t *doc = api_schema_openapi_v3_group();
	assert_valid_json(doc);
	assert_string_equal(str_at(doc, "openapi"), "3.0.0");
	json_t *vi = schema_of(doc, "io.deckhouse.virtualization.v1alpha2.VirtualImage");
	json_t *cvi = schema_of(doc, "io.deckhouse.virtualization.v1alpha2.ClusterVirtualImage");
	assert_non_null(vi);
	assert_non_null(cvi);
	assert_non_null(schema_of(doc, "io.deckhouse.virtualization.v1alpha2.VirtualImageList"));
	assert_non_null(schema_of(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
	assert_non_null(schema_of(doc, "io.k8s.apimachinery.pkg.apis.meta.v1.Condition"));

	json_t *gvk = json_array_get(json_object_get(vi, "x-kubernetes-group-version-kind"), 0);
	assert_string_equal(str_at(gvk, "group"), MODEL_GROUP);
	assert_string_equal(str_at(gvk, "version"), MODEL_VERSION);
	assert_string_equal(str_at(gvk, "kind"), "VirtualImage");

	json_t *http = prop(vi, "spec", "dataSource", "http", NULL);
	assert_non_null(http);
	assert_non_null(strstr(str_at(http, "description"), "import an image from an HTTP"));
	assert_true(has_string(json_object_get(http, "required"), "url"));
	json_t *ca = prop(http, "caBundle", NULL, NULL, NULL);
	assert_string_equal(str_at(ca, "format"), "byte");
	json_t *sha = prop(http, "checksum", "sha256", NULL, NULL);
	assert_int_equal(json_integer_value(json_object_get(sha, "maxLength")), 64);
	assert_non_null(strstr(str_at(prop(http, "checksum", NULL, NULL, NULL), "description"),
	                       "must match all specified checksums"));
	assert_non_null(prop(vi, "spec", "dataSource", "upload", "checksum"));
	/* storage is VI only, objectRef.namespace CVI only. */
	assert_non_null(prop(vi, "spec", "storage", NULL, NULL));
	assert_null(prop(cvi, "spec", "storage", NULL, NULL));
	assert_null(prop(vi, "spec", "dataSource", "objectRef", "namespace"));
	assert_non_null(prop(cvi, "spec", "dataSource", "objectRef", "namespace"));
	assert_true(has_string(json_object_get(prop(vi, "status", "phase", NULL, NULL), "enum"),
	                       "PVCLost"));
	assert_false(has_string(json_object_get(prop(cvi, "status", "phase", NULL, NULL), "enum"),
	                        "PVCLost"));
	json_decref(doc);
}

/* Every property under spec and status carries a description. */
static void assert_described(json_t *schema, const char *where)
{
	const char *key;
	json_t *p;
	json_object_foreach(json_object_get(schema, "properties"), key, p)
	{
		if (!str_at(p, "description"))
			fail_msg("%s.%s has no description", where, key);
		assert_described(p, key);
	}
}

static void test_openapi_every_field_described(void **state)
{
	(void)state;
	json_t *doc = api_schema_openapi_v3_group();
	assert_described(schema_of(doc, "io.deckhouse.virtualization.v1alpha2.VirtualImage"), "vi");
	assert_described(schema_of(doc, "io.deckhouse.virtualization.v1alpha2.ClusterVirtualImage"),
	                 "cvi");
	json_decref(doc);
}

static void test_openapi_write_ops_take_field_validation(void **state)
{
	(void)state;
	json_t *doc = api_schema_openapi_v3_group();
	json_t *paths = json_object_get(doc, "paths");
	const char *path;
	json_t *item;
	int writes = 0;
	json_object_foreach(paths, path, item)
	{
		const char *method;
		json_t *op;
		json_object_foreach(item, method, op)
		{
			assert_non_null(json_object_get(op, "x-kubernetes-action"));
			assert_true(
			    json_is_object(json_object_get(op, "x-kubernetes-group-version-kind")));
			if (strcmp(method, "post") && strcmp(method, "put") &&
			    strcmp(method, "patch"))
				continue;
			writes++;
			assert_non_null(find_named(json_object_get(op, "parameters"), "name",
			                           "fieldValidation"));
		}
	}
	assert_true(writes >= 8);
	assert_non_null(json_object_get(paths, "/apis/" MODEL_API_VERSION
	                                       "/namespaces/{namespace}/virtualimages/{name}"));
	assert_non_null(json_object_get(paths, "/apis/" MODEL_API_VERSION "/clustervirtualimages"));
	json_decref(doc);
}

static void test_openapi_index_and_core(void **state)
{
	(void)state;
	json_t *idx = api_schema_openapi_v3_index();
	assert_valid_json(idx);
	json_t *g = json_object_get(json_object_get(idx, "paths"), "apis/" MODEL_API_VERSION);
	const char *url = str_at(g, "serverRelativeURL");
	assert_non_null(url);
	assert_true(!strncmp(url, "/openapi/v3/apis/" MODEL_API_VERSION "?hash=", 49));
	assert_non_null(json_object_get(json_object_get(idx, "paths"), "api/v1"));
	/* Same document, same hash: kubectl caches by it. */
	json_t *idx2 = api_schema_openapi_v3_index();
	assert_true(json_equal(idx, idx2));
	json_decref(idx2);
	json_decref(idx);

	json_t *core = api_schema_openapi_v3_core();
	assert_valid_json(core);
	json_t *ev = schema_of(core, "io.k8s.api.core.v1.Event");
	assert_non_null(prop(ev, "involvedObject", "name", NULL, NULL));
	assert_non_null(schema_of(core, "io.k8s.api.core.v1.Namespace"));
	json_decref(core);
}

/* Not yet in schema.h (see schema_openapi.c). */
const unsigned char *api_schema_openapi_v2_pb(size_t *len);

static void test_openapi_v2_stub_is_a_minimal_protobuf_document(void **state)
{
	(void)state;
	static const unsigned char want[] = {
	    0x0a, 0x03, '2', '.', '0', 0x12, 0x15, 0x0a, 0x0a, 'K', 'u', 'b', 'e', 'r',
	    'n',  'e',  't', 'e', 's', 0x12, 0x07, 'v',  '1',  '.', '3', '2', '.', '0'};
	size_t len = 0;
	const unsigned char *doc = api_schema_openapi_v2_pb(&len);
	assert_int_equal(len, sizeof(want));
	assert_memory_equal(doc, want, sizeof(want));
}

static json_t *sample_items(void)
{
	char created[VIM_TIME_TEXT_MAX];
	vim_time_format(vim_time_now() - 303, created, sizeof(created));
	return json_pack("[{s:s, s:s, s:{s:s, s:s, s:s}, s:{s:s, s:b, s:s, s:{s:s, s:s}, s:{s:s}}},"
	                 " {s:s, s:s, s:{s:s, s:s}}]",
	                 "apiVersion", MODEL_API_VERSION, "kind", "VirtualImage", "metadata",
	                 "name", "ubuntu", "namespace", "default", "creationTimestamp", created,
	                 "status", "phase", "Ready", "cdrom", 0, "progress", "100%", "size",
	                 "stored", "199.8Mi", "unpacked", "2Gi", "target", "registryURL",
	                 "dvcr.local/vi/default/ubuntu:uid", "apiVersion", MODEL_API_VERSION,
	                 "kind", "VirtualImage", "metadata", "name", "fresh", "namespace",
	                 "default");
}

static int col_index(json_t *table, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(table, "columnDefinitions"), i, c)
	{
		if (!strcmp(str_at(c, "name"), name))
			return (int)i;
	}
	return -1;
}

static void test_table_vi_columns_and_cells(void **state)
{
	(void)state;
	json_t *items = sample_items();
	json_t *t = api_schema_table(model_kind_info(MODEL_KIND_VI), items, NULL, "42", "tok");
	assert_valid_json(t);
	assert_string_equal(str_at(t, "kind"), "Table");
	assert_string_equal(str_at(t, "apiVersion"), "meta.k8s.io/v1");
	assert_string_equal(str_at(json_object_get(t, "metadata"), "resourceVersion"), "42");
	assert_string_equal(str_at(json_object_get(t, "metadata"), "continue"), "tok");

	static const struct {
		const char *name;
		int priority;
	} want[] = {{"Name", 0},         {"Phase", 0},      {"CDROM", 0},
	            {"Progress", 0},     {"StoredSize", 1}, {"UnpackedSize", 1},
	            {"Registry URL", 1}, {"TargetPVC", 1},  {"Age", 0}};
	json_t *defs = json_object_get(t, "columnDefinitions");
	assert_int_equal(json_array_size(defs), 9);
	for (size_t i = 0; i < 9; i++) {
		json_t *c = json_array_get(defs, i);
		assert_string_equal(str_at(c, "name"), want[i].name);
		assert_int_equal(json_integer_value(json_object_get(c, "priority")),
		                 want[i].priority);
	}
	assert_string_equal(str_at(json_array_get(defs, 2), "type"), "boolean");

	json_t *rows = json_object_get(t, "rows");
	assert_int_equal(json_array_size(rows), 2);
	json_t *cells = json_object_get(json_array_get(rows, 0), "cells");
	assert_string_equal(json_string_value(json_array_get(cells, 0)), "ubuntu");
	assert_string_equal(json_string_value(json_array_get(cells, 1)), "Ready");
	assert_true(json_is_false(json_array_get(cells, 2)));
	assert_string_equal(json_string_value(json_array_get(cells, 4)), "199.8Mi");
	assert_true(json_is_null(json_array_get(cells, 7)));
	assert_string_equal(json_string_value(json_array_get(cells, 8)), "5m3s");
	json_t *obj = json_object_get(json_array_get(rows, 0), "object");
	assert_string_equal(str_at(obj, "kind"), "PartialObjectMetadata");
	assert_string_equal(str_at(json_object_get(obj, "metadata"), "name"), "ubuntu");
	assert_null(json_object_get(obj, "status"));
	/* A fresh object: status cells null (kubectl prints <none>). */
	cells = json_object_get(json_array_get(rows, 1), "cells");
	assert_true(json_is_null(json_array_get(cells, 1)));
	assert_string_equal(json_string_value(json_array_get(cells, 8)), "<unknown>");
	json_decref(t);

	t = api_schema_table(model_kind_info(MODEL_KIND_VI), items, "Object", NULL, NULL);
	obj = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object");
	assert_string_equal(str_at(obj, "kind"), "VirtualImage");
	assert_non_null(json_object_get(obj, "status"));
	assert_null(json_object_get(json_object_get(t, "metadata"), "continue"));
	json_decref(t);

	t = api_schema_table(model_kind_info(MODEL_KIND_VI), items, "None", NULL, NULL);
	assert_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object"));
	json_decref(t);
	json_decref(items);
}

static void test_table_cvi_has_no_target_pvc(void **state)
{
	(void)state;
	json_t *items = json_array();
	json_t *t = api_schema_table(model_kind_info(MODEL_KIND_CVI), items, NULL, NULL, NULL);
	assert_valid_json(t);
	assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 8);
	assert_int_equal(col_index(t, "TargetPVC"), -1);
	assert_int_equal(col_index(t, "Registry URL"), 6);
	assert_int_equal(json_array_size(json_object_get(t, "rows")), 0);
	json_decref(t);
	json_decref(items);
}

static void test_table_events_and_namespaces(void **state)
{
	(void)state;
	char seen[VIM_TIME_TEXT_MAX];
	vim_time_format(vim_time_now() - 2 * 86400 - 3 * 3600, seen, sizeof(seen));
	json_t *evs =
	    json_pack("[{s:{s:s}, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:{s:s}}]", "metadata", "name",
	              "ubuntu.1", "type", "Warning", "reason", "VirtualImageLost", "message",
	              "gone", "lastTimestamp", seen, "involvedObject", "kind", "VirtualImage",
	              "name", "ubuntu", "source", "component", "vimage");
	json_t *t = api_schema_table_events(evs, NULL, "7", NULL);
	assert_valid_json(t);
	assert_int_equal(col_index(t, "Last Seen"), 0);
	assert_int_equal(col_index(t, "Message"), 6);
	json_t *cells = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
	assert_string_equal(json_string_value(json_array_get(cells, 0)), "2d3h");
	assert_string_equal(json_string_value(json_array_get(cells, 1)), "Warning");
	assert_string_equal(json_string_value(json_array_get(cells, 3)), "virtualimage/ubuntu");
	assert_string_equal(json_string_value(json_array_get(cells, 5)), "vimage");
	json_decref(t);
	json_decref(evs);

	json_t *nss = json_pack("[{s:{s:s}, s:{s:s}}]", "metadata", "name", "default", "status",
	                        "phase", "Active");
	t = api_schema_table_namespaces(nss, "None", NULL);
	assert_valid_json(t);
	assert_int_equal(json_array_size(json_object_get(t, "columnDefinitions")), 3);
	cells = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
	assert_string_equal(json_string_value(json_array_get(cells, 1)), "Active");
	json_decref(t);
	json_decref(nss);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_looks_like_kubernetes_1_32),
	    cmocka_unit_test(test_core_discovery),
	    cmocka_unit_test(test_group_discovery_names_short_names_categories_status),
	    cmocka_unit_test(test_aggregated_discovery_v2_and_v2beta1),
	    cmocka_unit_test(test_openapi_group_doc_describes_fields),
	    cmocka_unit_test(test_openapi_every_field_described),
	    cmocka_unit_test(test_openapi_write_ops_take_field_validation),
	    cmocka_unit_test(test_openapi_index_and_core),
	    cmocka_unit_test(test_openapi_v2_stub_is_a_minimal_protobuf_document),
	    cmocka_unit_test(test_table_vi_columns_and_cells),
	    cmocka_unit_test(test_table_cvi_has_no_target_pvc),
	    cmocka_unit_test(test_table_events_and_namespaces),
	};
	return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
