/*
 * The kind table (model/kind.c) is the one place a kind's facts live: every
 * row must be served by each module that reads it.  Each test walks the
 * table and asks the real builder for that row — discovery (legacy and
 * aggregated), OpenAPI v3 (schema, list schema, paths), the Table columns,
 * the store's field selectors and qualified name, the namespace backfill
 * and the namespace sweep — so a row added without its facts, or a module
 * that goes back to naming VI and CVI, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/schema.h"
#include "controller/namespace.h"
#include "store/internal.h"
#include "tmpdb.h"

#define EACH_KIND(k)                                                                               \
	for (const struct model_kind_info *k = model_kind_info(0); k;                              \
	     k = k->kind + 1 < MODEL_KIND__COUNT ? model_kind_info(k->kind + 1) : NULL)

static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool str_eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* The member of arr whose key is name, or NULL. */
static json_t *find_named(const json_t *arr, const char *key, const char *name)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (str_eq(str_at(v, key), name))
			return v;
	}
	return NULL;
}

static bool one_string_list(const json_t *arr, const char *want)
{
	return json_array_size(arr) == 1 && str_eq(json_string_value(json_array_get(arr, 0)), want);
}

static void test_every_row_is_whole_and_found_by_each_of_its_names(void **state)
{
	char gv[128], q[160];

	(void)state;
	assert_true(MODEL_KIND__COUNT >= 2);
	EACH_KIND(k)
	{
		const char *names[] = {k->name, k->plural, k->singular, k->short_name};
		const char *strs[] = {k->group,          k->version,           k->api_version,
		                      k->name,           k->list_kind,         k->plural,
		                      k->singular,       k->short_name,        k->category,
		                      k->qualified,      k->schema_name,       k->description,
		                      k->repo_prefix,    k->cleanup_finalizer, k->lost_event,
		                      k->recovered_event};
		for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
			assert_non_null(strs[i]);
			assert_true(*strs[i]);
		}
		snprintf(gv, sizeof(gv), "%s/%s", k->group, k->version);
		assert_string_equal(k->api_version, gv);
		snprintf(q, sizeof(q), "%s.%s", k->plural, k->group);
		assert_string_equal(k->qualified, q);
		for (size_t i = 0; i < 4; i++)
			assert_ptr_equal(model_kind_lookup(names[i]), k);
		assert_ptr_equal(model_kind_by_repo_prefix(k->repo_prefix, strlen(k->repo_prefix)),
		                 k);
		assert_non_null(k->field_selectors);
		assert_string_equal(k->field_selectors[0], "metadata.name");
	}
	assert_null(model_kind_lookup("nosuchkind"));
	assert_null(model_kind_by_repo_prefix("vix", 3));
}

static void check_legacy_entry(const json_t *list, const struct model_kind_info *k)
{
	char status[96];
	json_t *e = find_named(json_object_get(list, "resources"), "name", k->plural);

	assert_non_null(e);
	assert_string_equal(str_at(e, "singularName"), k->singular);
	assert_string_equal(str_at(e, "kind"), k->name);
	assert_int_equal(json_is_true(json_object_get(e, "namespaced")), k->namespaced);
	assert_true(one_string_list(json_object_get(e, "shortNames"), k->short_name));
	assert_true(one_string_list(json_object_get(e, "categories"), k->category));
	snprintf(status, sizeof(status), "%s/status", k->plural);
	assert_int_equal(find_named(json_object_get(list, "resources"), "name", status) != NULL,
	                 k->has_status);
}

static void test_discovery_serves_every_kind_in_both_forms(void **state)
{
	json_t *res = api_schema_group_resources(), *agg = api_schema_aggregated_apis("v2");

	(void)state;
	EACH_KIND(k)
	{
		json_t *gv = api_schema_group_path(k->api_version);
		check_legacy_entry(res, k);
		check_legacy_entry(gv, k);
		json_decref(gv);

		json_t *group = NULL, *it;
		size_t i;
		json_array_foreach(json_object_get(agg, "items"), i, it)
		{
			if (str_eq(str_at(json_object_get(it, "metadata"), "name"), k->group))
				group = it;
		}
		assert_non_null(group);
		json_t *ver = find_named(json_object_get(group, "versions"), "version", k->version);
		json_t *e = find_named(json_object_get(ver, "resources"), "resource", k->plural);
		assert_non_null(e);
		assert_string_equal(str_at(e, "scope"), k->namespaced ? "Namespaced" : "Cluster");
		assert_string_equal(str_at(json_object_get(e, "responseKind"), "kind"), k->name);
		assert_int_equal(json_array_size(json_object_get(e, "subresources")),
		                 k->has_status ? 1 : 0);
	}
	json_decref(res);
	json_decref(agg);
}

static void test_openapi_has_every_kinds_schema_list_and_paths(void **state)
{
	json_t *doc = api_schema_openapi_v3_group();
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	json_t *paths = json_object_get(doc, "paths");
	char name[200], base[256], item[300];

	(void)state;
	EACH_KIND(k)
	{
		json_t *s = json_object_get(schemas, k->schema_name);
		assert_non_null(s);
		assert_string_equal(str_at(s, "description"), k->description);
		json_t *gvk =
		    json_array_get(json_object_get(s, "x-kubernetes-group-version-kind"), 0);
		assert_string_equal(str_at(gvk, "group"), k->group);
		assert_string_equal(str_at(gvk, "version"), k->version);
		assert_string_equal(str_at(gvk, "kind"), k->name);
		/* the image fields and the checksum block were placed for it */
		json_t *spec = json_object_get(json_object_get(s, "properties"), "spec");
		assert_non_null(spec);

		snprintf(name, sizeof(name), "%sList", k->schema_name);
		gvk = json_array_get(json_object_get(json_object_get(schemas, name),
		                                     "x-kubernetes-group-version-kind"),
		                     0);
		assert_string_equal(str_at(gvk, "kind"), k->list_kind);

		if (k->namespaced)
			snprintf(base, sizeof(base), "/apis/%s/namespaces/{namespace}/%s",
			         k->api_version, k->plural);
		else
			snprintf(base, sizeof(base), "/apis/%s/%s", k->api_version, k->plural);
		assert_non_null(json_object_get(paths, base));
		snprintf(item, sizeof(item), "%s/{name}/status", base);
		assert_int_equal(json_object_get(paths, item) != NULL, k->has_status);
	}
	json_decref(doc);
}

static void test_table_prints_every_kind_with_name_first_and_age_last(void **state)
{
	json_t *items = json_pack("[{s:{s:s}}]", "metadata", "name", "x");

	(void)state;
	EACH_KIND(k)
	{
		json_t *t = api_schema_table(k, items, "None", "1", NULL);
		json_t *defs = json_object_get(t, "columnDefinitions");
		json_t *cells =
		    json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
		size_t n = json_array_size(defs);
		assert_true(n >= 3);
		assert_string_equal(str_at(json_array_get(defs, 0), "name"), "Name");
		assert_string_equal(str_at(json_array_get(defs, n - 1), "name"), "Age");
		assert_int_equal(json_array_size(cells), n);
		assert_string_equal(json_string_value(json_array_get(cells, 0)), "x");
		json_decref(t);
	}
	json_decref(items);
}

static void test_store_serves_each_kinds_field_selectors_and_names_its_group(void **state)
{
	char q[200], term[200];

	(void)state;
	EACH_KIND(k)
	{
		struct store_selector *sel = NULL;
		struct vim_err err = {0};

		assert_ptr_equal(store_kind_of(k->plural), k);
		assert_null(store_kind_of(k->short_name)); /* a resource is its plural */
		store_qualified(q, sizeof(q), k->plural);
		assert_string_equal(q, k->qualified);
		for (size_t i = 0; k->field_selectors[i]; i++) {
			snprintf(term, sizeof(term), "%s=v", k->field_selectors[i]);
			assert_int_equal(store_selector_parse(&sel, k->plural, NULL, term, &err),
			                 0);
			store_selector_free(sel);
			sel = NULL;
		}
		/* a field it lacks is refused, naming every one it has */
		assert_int_equal(store_selector_parse(&sel, k->plural, NULL, "no.such=1", &err),
		                 VIM_EINVAL);
		assert_null(sel);
		for (size_t i = 0; k->field_selectors[i]; i++) {
			snprintf(term, sizeof(term), "\"%s\"", k->field_selectors[i]);
			assert_non_null(strstr(err.msg, term));
		}
	}
}

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("kind");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static struct store *open_store(void)
{
	return tmpdb_open_fresh_store();
}

/* One object of the kind named "o" (in ns when the kind is namespaced). */
static void create_of(struct store *s, const struct model_kind_info *k, const char *ns)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s}}}", "apiVersion", k->api_version, "kind",
	                      k->name, "metadata", "name", "o", "spec", "dataSource", "type",
	                      "Upload"),
	       *out = NULL;
	struct vim_err err;

	if (k->namespaced)
		json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
	if (store_create(s, k->plural, o, &out, &err) != 0)
		fail_msg("create %s: %s", k->name, err.msg);
	json_decref(o);
	json_decref(out);
}

static size_t count_of(struct store *s, const struct model_kind_info *k, const char *ns)
{
	struct store_list_opts o = {.ns = k->namespaced ? ns : NULL};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items = NULL;
	size_t n;

	if (store_list_json(s, k->plural, &o, &items, &m, &err) != 0)
		fail_msg("list %s: %s", k->plural, err.msg);
	n = json_array_size(items);
	json_decref(items);
	return n;
}

/* The namespace backfill and the Terminating namespace's sweep both cover
 * every namespaced kind, and leave cluster-scoped kinds alone. */
static void test_namespaces_cover_every_namespaced_kind(void **state)
{
	struct store *s = open_store();
	struct vim_err err;
	json_t *out = NULL;
	bool deleted;
	char ns[64];

	(void)state;
	EACH_KIND(k)
	{
		snprintf(ns, sizeof(ns), "ns-%s", k->short_name);
		create_of(s, k, ns);
	}
	assert_int_equal(store_namespaces_ensure(s, &err), 0);
	EACH_KIND(k)
	{
		snprintf(ns, sizeof(ns), "ns-%s", k->short_name);
		int rc = store_get(s, "namespaces", NULL, ns, &out, &err);
		json_decref(out);
		out = NULL;
		assert_int_equal(rc, k->namespaced ? 0 : VIM_ENOTFOUND);
		if (!k->namespaced)
			continue;
		/* delete it: Terminating; the sweep removes what it holds */
		assert_int_equal(
		    store_delete(s,
		                 &(struct store_delete_opts){.resource = "namespaces", .name = ns},
		                 &out, &deleted, &err),
		    0);
		json_decref(out);
		out = NULL;
	}
	for (int pass = 0; pass < 4; pass++)
		assert_true(ctl_namespaces_sweep(s, &err) >= 0);
	EACH_KIND(k)
	{
		snprintf(ns, sizeof(ns), "ns-%s", k->short_name);
		assert_int_equal(count_of(s, k, ns), k->namespaced ? 0 : 1);
	}
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_row_is_whole_and_found_by_each_of_its_names),
	    cmocka_unit_test(test_discovery_serves_every_kind_in_both_forms),
	    cmocka_unit_test(test_openapi_has_every_kinds_schema_list_and_paths),
	    cmocka_unit_test(test_table_prints_every_kind_with_name_first_and_age_last),
	    cmocka_unit_test(test_store_serves_each_kinds_field_selectors_and_names_its_group),
	    cmocka_unit_test_setup_teardown(test_namespaces_cover_every_namespaced_kind, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
