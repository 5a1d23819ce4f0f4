/* RFC 7386 merge patch and RFC 6902 JSON patch, as kubectl sends them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

static void expect_json(json_t *got, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);

	assert_non_null(w);
	if (!json_equal(got, w))
		fail_msg("got %s, want %s", g, want);
	free(g);
	json_decref(w);
}

static void test_merge_patch_rfc7386_examples(void **state)
{
	static const char *cases[][3] = {
	    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
	    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
	    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
	    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
	    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
	    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
	    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
	    {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
	    {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
	    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
	    {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
	    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *t = json_loads(cases[i][0], JSON_DECODE_ANY, NULL);
		json_t *p = json_loads(cases[i][1], JSON_DECODE_ANY, NULL);
		t = api_merge_patch(t, p);
		expect_json(t, cases[i][2]);
		json_decref(t);
		json_decref(p);
	}
}

static void apply(const char *doc, const char *ops, int want_rc, const char *want)
{
	json_t *d = json_loads(doc, 0, NULL), *o = json_loads(ops, 0, NULL);
	struct vim_err err;

	assert_int_equal(api_json_patch(&d, o, 1 << 20, &err), want_rc);
	if (want)
		expect_json(d, want);
	json_decref(d);
	json_decref(o);
}

static void test_json_patch_operations(void **state)
{
	(void)state;
	apply("{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":2}]", 0,
	      "{\"a\":1,\"b\":2}");
	apply("{\"a\":[1,3]}", "[{\"op\":\"add\",\"path\":\"/a/1\",\"value\":2}]", 0,
	      "{\"a\":[1,2,3]}");
	apply("{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/-\",\"value\":2}]", 0,
	      "{\"a\":[1,2]}");
	apply("{\"m\":{\"f\":[\"x\"]}}", "[{\"op\":\"remove\",\"path\":\"/m/f\"}]", 0,
	      "{\"m\":{}}");
	apply("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":5}]", 0, "{\"a\":5}");
	apply("{\"a\":1}",
	      "[{\"op\":\"test\",\"path\":\"/a\",\"value\":1},"
	      "{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/b\"},"
	      "{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/c\"}]",
	      0, "{\"b\":1,\"c\":1}");
	apply("{\"a/b\":1,\"m~n\":2}",
	      "[{\"op\":\"remove\",\"path\":\"/a~1b\"},"
	      "{\"op\":\"remove\",\"path\":\"/m~0n\"}]",
	      0, "{}");
}

static void test_json_patch_failures_are_errors(void **state)
{
	(void)state;
	apply("{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/nope\"}]", VIM_EINVAL, NULL);
	apply("{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/nope\",\"value\":1}]", VIM_EINVAL,
	      NULL);
	apply("{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", VIM_EINVAL, NULL);
	apply("{\"a\":[1]}", "[{\"op\":\"add\",\"path\":\"/a/5\",\"value\":2}]", VIM_EINVAL, NULL);
	apply("{\"a\":1}", "[{\"op\":\"jump\",\"path\":\"/a\"}]", VIM_EINVAL, NULL);
	apply("{\"a\":1}", "{\"op\":\"add\"}", VIM_EINVAL, NULL);
}

/* The bomb of issue 13: "copy" of the root into itself, repeated, doubles
 * the document each time (24 operations pass 2 GB).  The copies are
 * measured before they are made, so it fails at the limit, fast, and the
 * document never grows past about twice the limit. */
static void test_json_patch_root_copy_bomb_stops_at_the_copy_limit(void **state)
{
	json_t *d = json_pack("{s:s}", "a", "0123456789012345678901234567890123456789");
	json_t *ops = json_array();
	struct vim_err err = {0};
	size_t i, size = 0;
	(void)state;

	for (i = 0; i < 40; i++)
		json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "copy", "from", "",
		                                     "path", i % 2 ? "/b" : "/a"));
	assert_int_equal(api_json_patch(&d, ops, 1 << 20, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "accumulated size increase of copy"));
	assert_int_equal(api_json_measure(d, (size_t)-1, &size, NULL), 0);
	assert_true(size < 2u << 20);
	json_decref(d);
	json_decref(ops);
}

static void test_json_patch_over_10000_operations_is_too_large(void **state)
{
	json_t *d = json_object(), *ops = json_array();
	struct vim_err err = {0};
	size_t i;
	(void)state;

	for (i = 0; i <= API_JSON_PATCH_MAX_OPS; i++)
		json_array_append_new(
		    ops, json_pack("{s:s,s:s,s:i}", "op", "add", "path", "/a", "value", 1));
	assert_int_equal(api_json_patch(&d, ops, 1 << 20, &err), VIM_ETOOLARGE);
	assert_string_equal(err.msg,
	                    "The allowed maximum operations in a JSON patch is 10000, got 10001");
	assert_int_equal(json_object_size(d), 0); /* nothing was applied */
	json_array_remove(ops, 0);
	assert_int_equal(api_json_patch(&d, ops, 1 << 20, &err), 0);
	json_decref(d);
	json_decref(ops);
}

/* Moves under ever longer paths nest the document without making it
 * bigger; jansson frees and copies recursively, so the nesting is bounded
 * like the parser's (an upper bound kept per op, no walk). */
static void test_json_patch_cannot_nest_deeper_than_the_parser(void **state)
{
	json_t *d = json_pack("{s:{}}", "a"), *ops = json_array();
	struct vim_err err = {0};
	char path[8192];
	size_t i, n = 0;
	(void)state;

	/* add {} at /a/a, /a/a/a, ...: each op one level deeper */
	for (i = 0; i < 2100 && n + 3 < sizeof(path); i++) {
		n += (size_t)snprintf(path + n, sizeof(path) - n, "/a");
		json_array_append_new(
		    ops, json_pack("{s:s,s:s,s:{}}", "op", "add", "path", path, "value", "a"));
	}
	assert_int_equal(api_json_patch(&d, ops, 1 << 20, &err), VIM_EINVAL);
	if (!strstr(err.msg, "levels deep"))
		fail_msg("%s", err.msg);
	json_decref(d);
	json_decref(ops);
}

static void test_json_measure_estimates_the_encoded_size(void **state)
{
	json_t *v = json_loads(
	    "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"b\"}},\"n\":[1,2]}", 0, NULL);
	char *text = json_dumps(v, JSON_COMPACT);
	size_t size = 0, depth = 0;
	(void)state;

	assert_int_equal(api_json_measure(v, (size_t)-1, &size, &depth), 0);
	assert_true(size >= strlen(text) && size <= 3 * strlen(text));
	assert_int_equal(depth, 4); /* root, metadata, labels, "b" */
	assert_int_equal(api_json_measure(v, 10, &size, NULL), VIM_ETOOLARGE);
	free(text);
	json_decref(v);
}

/* The path of the member jansson's JSON_REJECT_DUPLICATES stopped at, as
 * kube's strict decoding names it. */
static void test_duplicate_member_is_named_by_its_path(void **state)
{
	static const char *cases[][2] = {
	    {"{\"metadata\":{\"name\":\"a\",\"name\":\"b\"}}", "metadata.name"},
	    {"{\"a\":1,\"a\":2}", "a"},
	    {"{\"spec\":{\"l\":[{\"x\":\"\\\"}\",\"y\":1},{\"y\":2,\"y\":3}]}}", "spec.l[1].y"},
	};
	char path[128];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_error_t e;
		assert_null(json_loads(cases[i][0], JSON_REJECT_DUPLICATES, &e));
		assert_int_equal(json_error_code(&e), json_error_duplicate_key);
		api_json_path_at(cases[i][0], (size_t)e.position, path, sizeof(path));
		assert_string_equal(path, cases[i][1]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_patch_rfc7386_examples),
	    cmocka_unit_test(test_json_patch_operations),
	    cmocka_unit_test(test_json_patch_failures_are_errors),
	    cmocka_unit_test(test_json_patch_root_copy_bomb_stops_at_the_copy_limit),
	    cmocka_unit_test(test_json_patch_over_10000_operations_is_too_large),
	    cmocka_unit_test(test_json_patch_cannot_nest_deeper_than_the_parser),
	    cmocka_unit_test(test_json_measure_estimates_the_encoded_size),
	    cmocka_unit_test(test_duplicate_member_is_named_by_its_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
