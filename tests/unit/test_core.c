/* core: the error vocabulary and RFC 3339 time text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/digest.h"
#include "core/err.h"
#include "core/timeutil.h"

static void test_err_set_returns_code_and_formats_message(void **state)
{
	(void)state;
	struct vim_err e;
	vim_err_clear(&e);
	assert_int_equal(vim_err_set(&e, VIM_ENOTFOUND, "VirtualImage %s/%s not found", "ns", "x"),
	                 VIM_ENOTFOUND);
	assert_int_equal(e.code, VIM_ENOTFOUND);
	assert_string_equal(e.msg, "VirtualImage ns/x not found");
	assert_int_equal(vim_err_set(NULL, VIM_EINVAL, "ignored"), VIM_EINVAL);
}

static void test_err_wrap_prefixes_and_keeps_code(void **state)
{
	(void)state;
	struct vim_err e;
	vim_err_set(&e, VIM_EUPSTREAM, "connection refused");
	assert_int_equal(vim_err_wrap(&e, "HEAD %s: ", "vi/a/b"), VIM_EUPSTREAM);
	assert_string_equal(e.msg, "HEAD vi/a/b: connection refused");
}

static void test_err_wrap_truncates_instead_of_overflowing(void **state)
{
	(void)state;
	struct vim_err e;
	char big[VIM_ERR_MSG_MAX * 2];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vim_err_set(&e, VIM_EIO, "%s", big);
	vim_err_wrap(&e, "%s", "prefix: ");
	assert_int_equal(strlen(e.msg), VIM_ERR_MSG_MAX - 1);
	assert_memory_equal(e.msg, "prefix: xxx", 11);
}

static void test_code_table_maps_to_http_and_reason(void **state)
{
	(void)state;
	assert_int_equal(vim_code_http_status(VIM_ENOTFOUND), 404);
	assert_string_equal(vim_code_k8s_reason(VIM_ENOTFOUND), "NotFound");
	assert_int_equal(vim_code_http_status(VIM_EEXIST), 409);
	assert_string_equal(vim_code_k8s_reason(VIM_EEXIST), "AlreadyExists");
	assert_int_equal(vim_code_http_status(VIM_ECONFLICT), 409);
	assert_string_equal(vim_code_k8s_reason(VIM_ECONFLICT), "Conflict");
	assert_int_equal(vim_code_http_status(VIM_EGONE), 410);
	assert_int_equal(vim_code_http_status(VIM_ETOOLARGE), 413);
	assert_int_equal(vim_code_http_status(VIM_EINVAL), 422);
	assert_string_equal(vim_code_k8s_reason(VIM_EINVAL), "Invalid");
	assert_int_equal(vim_code_http_status(VIM_EAUTH), 401);
	assert_string_equal(vim_code_name(VIM_ECONFLICT), "ECONFLICT");
	/* an unknown code is an internal error, never a NULL */
	assert_int_equal(vim_code_http_status(-999), 500);
	assert_string_equal(vim_code_name(-999), "EINTERNAL");
}

static void test_time_format_is_rfc3339_utc(void **state)
{
	(void)state;
	char buf[VIM_TIME_TEXT_MAX];
	vim_time_format(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
	vim_time_format(1795502400, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-24T06:40:00Z");
}

static void test_time_parse_accepts_zulu_offsets_and_fractions(void **state)
{
	(void)state;
	int64_t t = -1;
	assert_int_equal(vim_time_parse("2026-11-24T06:40:00Z", &t), 0);
	assert_int_equal(t, 1795502400);
	assert_int_equal(vim_time_parse("2026-11-24T09:40:00+03:00", &t), 0);
	assert_int_equal(t, 1795502400);
	assert_int_equal(vim_time_parse("2026-11-24T06:40:00.123456Z", &t), 0);
	assert_int_equal(t, 1795502400);
	assert_int_equal(vim_time_parse("1969-12-31T23:59:59Z", &t), 0);
	assert_int_equal(t, -1);
}

static void test_time_parse_refuses_garbage(void **state)
{
	(void)state;
	int64_t t = 42;
	const char *bad[] = {"",
	                     "2026-11-24",
	                     "2026-13-01T00:00:00Z",
	                     "2026-11-24T06:40:00",
	                     "2026-11-24T06:40:00Zjunk",
	                     "2026-11-24T25:00:00Z",
	                     "2026-11-24T06:40:00.Z",
	                     "2026-11-24T06:40:00+3:00",
	                     "abcd-11-24T06:40:00Z"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vim_time_parse(bad[i], &t), VIM_EINVAL);
	assert_int_equal(vim_time_parse(NULL, &t), VIM_EINVAL);
	assert_int_equal(t, 42);
}

static void test_time_round_trips(void **state)
{
	(void)state;
	char buf[VIM_TIME_TEXT_MAX];
	for (int64_t t = 0; t < 4000000000LL; t += 123456789) {
		int64_t back;
		vim_time_format(t, buf, sizeof(buf));
		assert_int_equal(vim_time_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

/* sha256 of the empty string, the well-known vector */
static const unsigned char empty_md[VIM_SHA256_LEN] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
#define EMPTY_DIGEST "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_digest_format_writes_sha256_lowercase_hex(void **state)
{
	char out[VIM_DIGEST_TEXT_MAX + 8];
	(void)state;

	memset(out, 'x', sizeof(out));
	vim_digest_format(out, empty_md);
	assert_string_equal(out, EMPTY_DIGEST);
	assert_int_equal(strlen(out), VIM_DIGEST_TEXT_LEN);
}

static void test_digest_parse_round_trips(void **state)
{
	unsigned char md[VIM_SHA256_LEN];
	struct vim_err e = {0};
	(void)state;

	assert_int_equal(vim_digest_parse(EMPTY_DIGEST, md, &e), 0);
	assert_memory_equal(md, empty_md, sizeof(md));
	assert_int_equal(vim_digest_parse(EMPTY_DIGEST, NULL, NULL), 0);
}

static void test_digest_parse_refuses_what_is_not_a_sha256_digest(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sha256:",
	    "sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
	    "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
	    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85:",
	};
	struct vim_err e = {0};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vim_err_clear(&e);
		assert_int_equal(vim_digest_parse(bad[i], NULL, &e), VIM_EINVAL);
		assert_non_null(strstr(e.msg, "digest"));
	}
	assert_int_equal(vim_digest_parse(NULL, NULL, &e), VIM_EINVAL);
	vim_digest_parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85g",
	                 NULL, &e);
	assert_non_null(strstr(e.msg, "offset 70"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_err_set_returns_code_and_formats_message),
	    cmocka_unit_test(test_err_wrap_prefixes_and_keeps_code),
	    cmocka_unit_test(test_err_wrap_truncates_instead_of_overflowing),
	    cmocka_unit_test(test_code_table_maps_to_http_and_reason),
	    cmocka_unit_test(test_time_format_is_rfc3339_utc),
	    cmocka_unit_test(test_time_parse_accepts_zulu_offsets_and_fractions),
	    cmocka_unit_test(test_time_parse_refuses_garbage),
	    cmocka_unit_test(test_time_round_trips),
	    cmocka_unit_test(test_digest_format_writes_sha256_lowercase_hex),
	    cmocka_unit_test(test_digest_parse_round_trips),
	    cmocka_unit_test(test_digest_parse_refuses_what_is_not_a_sha256_digest),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
