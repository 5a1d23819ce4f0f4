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

	assert_int_equal(api_json_patch(&d, o, &err), want_rc);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_merge_patch_rfc7386_examples),
	    cmocka_unit_test(test_json_patch_operations),
	    cmocka_unit_test(test_json_patch_failures_are_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
