/* /readyz as kube-apiserver words it: [+]/[-] lines, "readyz check passed"
 * or "failed", /readyz/<check>, ?exclude=. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/api.h"

static const char *const names[] = {"store", "controllers", "kubeconfig"};

static unsigned int render(struct api_ready *r, const char *check, bool verbose,
                           const char *exclude, char **text)
{
	struct vim_text t = {0};
	unsigned int code = api_ready_render(r, check, verbose, exclude, &t);

	assert_false(t.oom);
	*text = t.buf;
	return code;
}

static void test_ready_every_check_starts_failing(void **state)
{
	struct api_ready *r;
	struct vim_err err = {0};
	char *t;

	(void)state;
	assert_int_equal(api_ready_new(&r, names, 3, &err), 0);
	assert_int_equal(api_ready_set(r, "store", true, NULL), 0);
	assert_int_equal(render(r, NULL, false, NULL, &t), 503);
	/* a failure lists every check, even without ?verbose */
	assert_string_equal(t, "[+]store ok\n"
	                       "[-]controllers failed: not started yet\n"
	                       "[-]kubeconfig failed: not started yet\n"
	                       "readyz check failed\n");
	free(t);
	api_ready_free(r);
}

static void test_ready_passes_when_all_are_ok(void **state)
{
	struct api_ready *r;
	struct vim_err err = {0};
	char *t;

	(void)state;
	assert_int_equal(api_ready_new(&r, names, 3, &err), 0);
	api_ready_set(r, "store", true, NULL);
	api_ready_set(r, "controllers", false, "the registry is starting");
	assert_int_equal(render(r, NULL, true, NULL, &t), 503);
	assert_non_null(strstr(t, "[-]controllers failed: the registry is starting\n"));
	free(t);
	api_ready_set(r, "controllers", true, NULL);
	api_ready_set(r, "kubeconfig", true, NULL);
	assert_int_equal(render(r, NULL, false, NULL, &t), 200);
	assert_string_equal(t, "ok");
	free(t);
	assert_int_equal(render(r, NULL, true, NULL, &t), 200);
	assert_string_equal(t, "[+]store ok\n[+]controllers ok\n[+]kubeconfig ok\n"
	                       "readyz check passed\n");
	free(t);
	/* and back: shutting down is not ready */
	api_ready_set(r, "kubeconfig", false, "gone");
	assert_int_equal(render(r, NULL, false, NULL, &t), 503);
	free(t);
	api_ready_free(r);
}

static void test_ready_single_check_and_unknown(void **state)
{
	struct api_ready *r;
	struct vim_err err = {0};
	char *t;

	(void)state;
	assert_int_equal(api_ready_new(&r, names, 3, &err), 0);
	api_ready_set(r, "store", true, NULL);
	assert_int_equal(render(r, "store", false, NULL, &t), 200);
	assert_string_equal(t, "ok");
	free(t);
	assert_int_equal(render(r, "kubeconfig", false, NULL, &t), 503);
	assert_string_equal(t, "internal server error: not started yet\n");
	free(t);
	assert_int_equal(render(r, "nonesuch", false, NULL, &t), 404);
	free(t);
	assert_int_equal(api_ready_set(r, "nonesuch", true, NULL), VIM_ENOTFOUND);
	api_ready_free(r);
}

static void test_ready_exclude_skips_and_warns(void **state)
{
	struct api_ready *r;
	struct vim_err err = {0};
	char *t;

	(void)state;
	assert_int_equal(api_ready_new(&r, names, 3, &err), 0);
	api_ready_set(r, "store", true, NULL);
	api_ready_set(r, "kubeconfig", true, NULL);
	assert_int_equal(render(r, NULL, false, "controllers", &t), 200);
	assert_string_equal(t, "ok");
	free(t);
	assert_int_equal(render(r, NULL, true, "controllers,bogus", &t), 200);
	assert_string_equal(t, "[+]store ok\n[+]controllers excluded: ok\n[+]kubeconfig ok\n"
	                       "warn: some health checks cannot be excluded: no matches for "
	                       "\"bogus\"\nreadyz check passed\n");
	free(t);
	/* "control" is not "controllers" */
	assert_int_equal(render(r, NULL, false, "control", &t), 503);
	free(t);
	api_ready_free(r);
}

static void test_ready_without_checks_is_ready(void **state)
{
	char *t;

	(void)state;
	assert_int_equal(render(NULL, NULL, true, NULL, &t), 200);
	assert_string_equal(t, "ok");
	free(t);
}

static void test_ready_refuses_bad_names(void **state)
{
	static const char *const bad[] = {"a,b"};
	struct api_ready *r = NULL;
	struct vim_err err = {0};

	(void)state;
	assert_int_equal(api_ready_new(&r, bad, 1, &err), VIM_EINVAL);
	assert_null(r);
	assert_non_null(strstr(err.msg, "a,b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ready_every_check_starts_failing),
	    cmocka_unit_test(test_ready_passes_when_all_are_ok),
	    cmocka_unit_test(test_ready_single_check_and_unknown),
	    cmocka_unit_test(test_ready_exclude_skips_and_warns),
	    cmocka_unit_test(test_ready_without_checks_is_ready),
	    cmocka_unit_test(test_ready_refuses_bad_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
