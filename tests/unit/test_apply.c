/* model/managed_fields: FieldsV1 sets, server-side apply (conflicts, force,
 * removal of dropped fields) and Update entries, as kube-apiserver's
 * fieldmanager keeps them; and the OpenAPI list types they rest on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/managed_fields.h"
#include "api/schema.h"

#define AV "virtualization.deckhouse.io/v1alpha2"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", e.text, text);
	return j;
}

static void assert_json(const json_t *got, const char *want_text)
{
	json_t *want = parse(want_text);

	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
		fail_msg("got %s\nwant %s", g, want_text);
	}
	json_decref(want);
}

/* The member at a dotted path of object keys ("spec.dataSource"), or NULL. */
static const json_t *at(const json_t *v, const char *path)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
		v = json_object_get(v, k);
	return v;
}

static struct model_mf_write w_of(const char *manager, bool force, int64_t now)
{
	struct model_mf_write w = {.manager = manager,
	                           .api_version = AV,
	                           .scope = MODEL_MF_SCOPE_MAIN,
	                           .now = now,
	                           .force = force};
	return w;
}

static const json_t *entries(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "managedFields");
}

/* The entry of manager with operation op, or NULL. */
static const json_t *entry(const json_t *obj, const char *manager, const char *op)
{
	const json_t *e;
	size_t i;

	json_array_foreach(entries(obj), i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "manager")), manager) &&
		    !strcmp(json_string_value(json_object_get(e, "operation")), op))
			return e;
	}
	return NULL;
}

static const char *VI_A =
    "{\"apiVersion\":\"" AV "\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"labels\":{\"app\":\"x\","
    "\"tier\":\"t\"}},"
    "\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{\"type\":\"HTTP\","
    "\"http\":{\"url\":\"https://e.example.org/a.img\"}}}}";

static void test_set_of_encodes_fieldsv1_like_kube(void **state)
{
	(void)state;
	json_t *obj = parse("{\"apiVersion\":\"" AV "\",\"kind\":\"VirtualImage\","
	                    "\"metadata\":{\"name\":\"a\",\"namespace\":\"d\",\"uid\":\"u\","
	                    "\"resourceVersion\":\"3\",\"finalizers\":[\"example.org/f\"],"
	                    "\"labels\":{\"app\":\"x\"}},"
	                    "\"spec\":{\"storage\":\"ContainerRegistry\"},"
	                    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
	                    "\"phase\":\"Ready\"}}");
	json_t *main_set = model_mf_set_of(obj, MODEL_MF_SCOPE_MAIN);
	json_t *status_set = model_mf_set_of(obj, MODEL_MF_SCOPE_STATUS);

	/* server-written metadata, apiVersion and kind belong to nobody;
	 * finalizers are a set, the main resource does not own status */
	assert_json(main_set, "{\"f:metadata\":{\"f:finalizers\":{\"v:\\\"example.org/f\\\"\":"
	                      "{\".\":{}}},\"f:labels\":{\"f:app\":{\".\":{}}}},"
	                      "\"f:spec\":{\"f:storage\":{\".\":{}}}}");
	/* conditions are a map list keyed by type: the item and its fields */
	assert_json(status_set,
	            "{\"f:status\":{\"f:phase\":{\".\":{}},\"f:conditions\":{\"k:{\\\"type\\\":"
	            "\\\"Ready\\\"}\":{\".\":{},\"f:type\":{\".\":{}},\"f:status\":{\".\":{}}}}}}");
	json_decref(main_set);
	json_decref(status_set);
	json_decref(obj);
}

static void test_apply_creates_with_an_apply_entry_in_fieldsv1(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("flux", false, 1764620000);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *applied = parse(VI_A), *out = NULL;
	const json_t *e;

	assert_int_equal(model_mf_apply(&out, NULL, applied, &w, &c, &err), 0);
	e = entry(out, "flux", "Apply");
	assert_non_null(e);
	assert_int_equal(json_array_size(entries(out)), 1);
	assert_string_equal(json_string_value(json_object_get(e, "apiVersion")), AV);
	assert_string_equal(json_string_value(json_object_get(e, "fieldsType")), "FieldsV1");
	assert_string_equal(json_string_value(json_object_get(e, "time")), "2025-12-01T20:13:20Z");
	assert_null(json_object_get(e, "subresource"));
	/* a leaf is {} on the wire */
	assert_json(json_object_get(e, "fieldsV1"),
	            "{\"f:metadata\":{\"f:labels\":{\"f:app\":{},\"f:tier\":{}}},"
	            "\"f:spec\":{\"f:storage\":{},\"f:dataSource\":{\"f:type\":{},"
	            "\"f:http\":{\"f:url\":{}}}}}");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "metadata"), "name")), "a");
	json_decref(out);
	json_decref(applied);
}

/* Applies text as manager over *live (replaced by the result). */
static int apply_as(json_t **live, const char *manager, bool force, const char *text,
                    struct model_mf_conflicts *c)
{
	struct model_mf_write w = w_of(manager, force, 1764620000);
	struct vim_err err = {0};
	json_t *applied = parse(text), *out = NULL;
	int rc = model_mf_apply(&out, *live, applied, &w, c, &err);

	json_decref(applied);
	if (rc == 0) {
		json_decref(*live);
		*live = out;
	}
	return rc;
}

static void test_second_manager_conflicts_unless_forced(void **state)
{
	(void)state;
	struct model_mf_conflicts c;
	json_t *live = NULL;
	char *b = strdup(VI_A);

	assert_int_equal(apply_as(&live, "first", false, VI_A, &c), 0);
	memcpy(strstr(b, "a.img"), "b", 1);
	assert_int_equal(apply_as(&live, "second", false, b, &c), VIM_ECONFLICT);
	assert_int_equal(c.len, 1);
	assert_string_equal(c.manager[0], "\"first\"");
	assert_string_equal(c.path[0], ".spec.dataSource.http.url");
	/* the same values co-own without a conflict */
	assert_int_equal(apply_as(&live, "third", false, VI_A, &c), 0);
	/* force wins and takes the field from both */
	assert_int_equal(apply_as(&live, "second", true, b, &c), 0);
	assert_string_equal(json_string_value(at(live, "spec.dataSource.http.url")),
	                    "https://e.example.org/b.img");
	assert_null(at(entry(live, "first", "Apply"), "fieldsV1.f:spec.f:dataSource.f:http"));
	assert_null(at(entry(live, "third", "Apply"), "fieldsV1.f:spec.f:dataSource.f:http"));
	assert_non_null(
	    at(entry(live, "second", "Apply"), "fieldsV1.f:spec.f:dataSource.f:http.f:url"));
	/* what nobody else changed stays co-owned */
	assert_non_null(at(entry(live, "first", "Apply"), "fieldsV1.f:spec.f:storage"));
	free(b);
	json_decref(live);
}

static void test_conflict_with_update_manager_names_its_api_version(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("kubectl-client-side-apply", false, 1764620000);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *live = parse(VI_A);
	char *b = strdup(VI_A);

	/* a create by Update owns everything it set */
	assert_int_equal(model_mf_update(live, NULL, &w, &err), 0);
	assert_non_null(entry(live, "kubectl-client-side-apply", "Update"));
	memcpy(strstr(b, "a.img"), "c", 1);
	assert_int_equal(apply_as(&live, "kubectl", false, b, &c), VIM_ECONFLICT);
	assert_int_equal(c.len, 1);
	assert_string_equal(c.manager[0], "\"kubectl-client-side-apply\" using " AV);
	free(b);
	json_decref(live);
}

static void test_dropped_field_goes_unless_another_manager_owns_it(void **state)
{
	(void)state;
	struct model_mf_conflicts c;
	json_t *live = NULL;
	char *no_tier = strdup(VI_A), *p = strstr(no_tier, ",\"tier\":\"t\"");
	const json_t *labels;

	memmove(p, p + 11, strlen(p + 11) + 1);
	assert_int_equal(apply_as(&live, "first", false, VI_A, &c), 0);
	assert_int_equal(apply_as(&live, "first", false, no_tier, &c), 0);
	labels = json_object_get(json_object_get(live, "metadata"), "labels");
	assert_null(json_object_get(labels, "tier"));
	assert_non_null(json_object_get(labels, "app"));

	/* now a second manager co-owns tier: first dropping it keeps it */
	json_decref(live);
	live = NULL;
	assert_int_equal(apply_as(&live, "first", false, VI_A, &c), 0);
	assert_int_equal(apply_as(&live, "second", false, VI_A, &c), 0);
	assert_int_equal(apply_as(&live, "first", false, no_tier, &c), 0);
	labels = json_object_get(json_object_get(live, "metadata"), "labels");
	assert_string_equal(json_string_value(json_object_get(labels, "tier")), "t");
	free(no_tier);
	json_decref(live);
}

static void test_update_takes_changed_fields_from_other_managers(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("kubectl-label", false, 1764620100);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *live = NULL, *next;
	const json_t *fl;

	assert_int_equal(apply_as(&live, "kubectl", false, VI_A, &c), 0);
	next = json_deep_copy(live);
	json_object_set_new(json_object_get(json_object_get(next, "metadata"), "labels"), "app",
	                    json_string("y"));
	json_object_set_new(json_object_get(json_object_get(next, "metadata"), "labels"), "new",
	                    json_string("1"));
	assert_int_equal(model_mf_update(next, live, &w, &err), 0);
	assert_json(json_object_get(entry(next, "kubectl-label", "Update"), "fieldsV1"),
	            "{\"f:metadata\":{\"f:labels\":{\"f:app\":{},\"f:new\":{}}}}");
	fl = at(entry(next, "kubectl", "Apply"), "fieldsV1.f:metadata.f:labels");
	assert_null(json_object_get(fl, "f:app"));
	assert_non_null(json_object_get(fl, "f:tier"));
	json_decref(next);
	json_decref(live);
}

static void test_conditions_merge_by_type_and_finalizers_as_a_set(void **state)
{
	(void)state;
	struct model_mf_conflicts c;
	json_t *live = parse("{\"apiVersion\":\"" AV "\",\"kind\":\"VirtualImage\","
	                     "\"metadata\":{\"name\":\"a\",\"finalizers\":[\"x/one\"]},"
	                     "\"spec\":{},\"status\":{\"conditions\":[{\"type\":\"Ready\","
	                     "\"status\":\"False\"},{\"type\":\"DatasourceReady\",\"status\":"
	                     "\"True\"}]}}");
	struct model_mf_write w = w_of("ctl", false, 1764620000);
	struct vim_err err = {0};
	json_t *applied = parse("{\"apiVersion\":\"" AV "\",\"kind\":\"VirtualImage\","
	                        "\"metadata\":{\"name\":\"a\",\"finalizers\":[\"x/two\"]},"
	                        "\"status\":{\"conditions\":[{\"type\":\"Ready\","
	                        "\"status\":\"True\"}]}}");
	json_t *out = NULL;

	assert_int_equal(model_mf_apply(&out, live, applied, &w, &c, &err), 0);
	/* the main resource: finalizers merge as a set, status is ignored */
	assert_json(json_object_get(json_object_get(out, "metadata"), "finalizers"),
	            "[\"x/one\",\"x/two\"]");
	assert_json(
	    json_array_get(json_object_get(json_object_get(out, "status"), "conditions"), 0),
	    "{\"type\":\"Ready\",\"status\":\"False\"}");
	json_decref(out);
	w.scope = MODEL_MF_SCOPE_STATUS;
	assert_int_equal(model_mf_apply(&out, live, applied, &w, &c, &err), 0);
	assert_json(json_object_get(json_object_get(out, "status"), "conditions"),
	            "[{\"type\":\"Ready\",\"status\":\"True\"},{\"type\":\"DatasourceReady\","
	            "\"status\":\"True\"}]");
	assert_json(json_object_get(json_object_get(out, "metadata"), "finalizers"), "[\"x/one\"]");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(entries(out), 0), "subresource")),
	    "status");
	assert_json(json_object_get(json_array_get(entries(out), 0), "fieldsV1"),
	            "{\"f:status\":{\"f:conditions\":{\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\".\":{},"
	            "\"f:type\":{},\"f:status\":{}}}}}");
	json_decref(out);
	json_decref(applied);
	json_decref(live);
}

static void test_unchanged_apply_keeps_the_entry_so_the_write_is_a_noop(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("flux", false, 1764620000);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *applied = parse(VI_A), *live = NULL, *again = NULL;

	assert_int_equal(model_mf_apply(&live, NULL, applied, &w, &c, &err), 0);
	w.now += 3600;
	assert_int_equal(model_mf_apply(&again, live, applied, &w, &c, &err), 0);
	assert_true(json_equal(live, again));
	json_decref(again);
	json_decref(live);
	json_decref(applied);
}

static void test_status_owner_takes_the_status_from_other_status_writers(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("vimaged", false, 1764620000);
	json_t *live =
	    parse("[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"" AV "\","
	          "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:storage\":{}}}},"
	          "{\"manager\":\"someone\",\"operation\":\"Update\",\"apiVersion\":\"" AV "\","
	          "\"subresource\":\"status\",\"fieldsType\":\"FieldsV1\","
	          "\"fieldsV1\":{\"f:status\":{\"f:phase\":{}}}}]");
	json_t *obj = parse("{\"metadata\":{\"name\":\"a\"},\"status\":{\"phase\":\"Ready\","
	                    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
	const json_t *e;

	w.scope = MODEL_MF_SCOPE_STATUS;
	assert_int_equal(model_mf_own(obj, live, &w), 0);
	/* someone owned only phase, which vimaged now owns: its entry goes */
	assert_int_equal(json_array_size(entries(obj)), 2);
	assert_non_null(entry(obj, "kubectl", "Apply"));
	assert_null(entry(obj, "someone", "Update"));
	e = entry(obj, "vimaged", "Update");
	assert_non_null(e);
	assert_string_equal(json_string_value(json_object_get(e, "subresource")), "status");
	assert_json(json_object_get(e, "fieldsV1"),
	            "{\"f:status\":{\"f:phase\":{},\"f:conditions\":{\"k:{\\\"type\\\":"
	            "\\\"Ready\\\"}\":{\".\":{},\"f:type\":{},\"f:status\":{}}}}}");
	json_decref(obj);
	json_decref(live);
}

static void test_long_label_keys_stay_distinct_fields(void **state)
{
	(void)state;
	char key_a[320], key_b[320], text[1024];
	json_t *obj, *set;

	memset(key_a, 'a', 310);
	key_a[310] = '\0';
	memcpy(key_b, key_a, sizeof(key_a));
	key_a[309] = 'x';
	key_b[309] = 'y';
	snprintf(text, sizeof(text), "{\"metadata\":{\"labels\":{\"%s\":\"1\",\"%s\":\"2\"}}}",
	         key_a, key_b);
	obj = parse(text);
	set = model_mf_set_of(obj, MODEL_MF_SCOPE_MAIN);
	assert_int_equal(json_object_size(at(set, "f:metadata.f:labels")), 2);
	json_decref(set);
	json_decref(obj);
}

static void test_apply_refuses_managed_fields_in_the_configuration(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("flux", false, 1764620000);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *applied = parse(VI_A), *out = NULL;

	json_object_set_new(json_object_get(applied, "metadata"), "managedFields",
	                    parse("[{\"manager\":\"x\"}]"));
	assert_int_equal(model_mf_apply(&out, NULL, applied, &w, &c, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "metadata.managedFields must be nil");
	assert_null(out);
	json_decref(applied);
}

static void test_entries_are_in_kubes_order_apply_first_then_time_then_manager(void **state)
{
	(void)state;
	struct model_mf_write w = w_of("kubectl-label", false, 1764620000);
	struct model_mf_conflicts c;
	struct vim_err err = {0};
	json_t *live = NULL, *next;
	const json_t *e;
	size_t i;
	char got[256] = "";

	assert_int_equal(apply_as(&live, "m", false, VI_A, &c), 0);
	next = json_deep_copy(live);
	json_object_set_new(json_object_get(json_object_get(next, "metadata"), "labels"), "new",
	                    json_string("1"));
	assert_int_equal(model_mf_update(next, live, &w, &err), 0);
	json_decref(live);
	live = next;
	assert_int_equal(apply_as(&live, "b", false, VI_A, &c), 0);
	assert_int_equal(apply_as(&live, "a", false, VI_A, &c), 0);
	json_array_foreach(entries(live), i, e)
	{
		size_t at = strlen(got);
		snprintf(got + at, sizeof(got) - at, "%s ",
		         json_string_value(json_object_get(e, "manager")));
	}
	assert_string_equal(got, "a b m kubectl-label ");
	json_decref(live);
}

static void test_default_manager_is_the_user_agent_product(void **state)
{
	(void)state;
	char m[MODEL_MF_MANAGER_MAX + 1];

	model_mf_default_manager("kubectl/v1.33.0 (linux/amd64) kubernetes/abc", m, sizeof(m));
	assert_string_equal(m, "kubectl");
	model_mf_default_manager(NULL, m, sizeof(m));
	assert_string_equal(m, "unknown");
}

static void test_openapi_marks_conditions_map_and_finalizers_set(void **state)
{
	(void)state;
	json_t *doc = api_schema_openapi_v3_group();
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	json_t *vi = json_object_get(schemas, "io.deckhouse.virtualization.v1alpha2.VirtualImage");
	json_t *meta = json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	const json_t *cond = at(vi, "properties.status.properties.conditions");
	const json_t *mp = json_object_get(meta, "properties");

	assert_string_equal(json_string_value(json_object_get(cond, "x-kubernetes-list-type")),
	                    "map");
	assert_json(json_object_get(cond, "x-kubernetes-list-map-keys"), "[\"type\"]");
	assert_string_equal(json_string_value(at(mp, "finalizers.x-kubernetes-list-type")), "set");
	assert_json(at(mp, "ownerReferences.x-kubernetes-list-map-keys"), "[\"uid\"]");
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_of_encodes_fieldsv1_like_kube),
	    cmocka_unit_test(test_apply_creates_with_an_apply_entry_in_fieldsv1),
	    cmocka_unit_test(test_second_manager_conflicts_unless_forced),
	    cmocka_unit_test(test_conflict_with_update_manager_names_its_api_version),
	    cmocka_unit_test(test_dropped_field_goes_unless_another_manager_owns_it),
	    cmocka_unit_test(test_update_takes_changed_fields_from_other_managers),
	    cmocka_unit_test(test_conditions_merge_by_type_and_finalizers_as_a_set),
	    cmocka_unit_test(test_unchanged_apply_keeps_the_entry_so_the_write_is_a_noop),
	    cmocka_unit_test(test_status_owner_takes_the_status_from_other_status_writers),
	    cmocka_unit_test(test_long_label_keys_stay_distinct_fields),
	    cmocka_unit_test(test_apply_refuses_managed_fields_in_the_configuration),
	    cmocka_unit_test(test_entries_are_in_kubes_order_apply_first_then_time_then_manager),
	    cmocka_unit_test(test_default_manager_is_the_user_agent_product),
	    cmocka_unit_test(test_openapi_marks_conditions_map_and_finalizers_set),
	};
	return cmocka_run_group_tests_name("apply", tests, NULL, NULL);
}
