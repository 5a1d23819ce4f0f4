/* model/format: upstream's HumanizeIBytes and percent.Format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>

#include "model/model.h"

static void assert_ibytes(uint64_t n, const char *want)
{
	char out[16];
	model_format_ibytes(n, out, sizeof(out));
	if (strcmp(out, want))
		fail_msg("%llu -> %s, want %s", (unsigned long long)n, out, want);
}

static void test_ibytes_matches_upstream_examples(void **state)
{
	(void)state;
	assert_ibytes(0, "0B");
	assert_ibytes(9, "9B");
	assert_ibytes(10, "10B");
	assert_ibytes(1023, "1023B");
	assert_ibytes(1024, "1Ki");
	assert_ibytes(1536, "1.5Ki");
	assert_ibytes(2048, "2Ki");
	assert_ibytes(2049, "2Ki");
	assert_ibytes(1126, "1.1Ki");
	assert_ibytes(209505484, "199.8Mi");
	assert_ibytes(2147483648ull, "2Gi");
	assert_ibytes(1048575, "1024Ki"); /* rounds up within the exponent, as upstream */
	assert_ibytes(1ull << 40, "1Ti");
	assert_ibytes(1ull << 50, "1Pi"); /* where a float log would say 1024Ti */
	assert_ibytes(1ull << 60, "1Ei");
	assert_ibytes(UINT64_MAX, "16Ei");
}

/* The upstream formula in floating point, with the exponent taken exactly:
 * for values a double holds exactly the two must agree everywhere. */
static void test_ibytes_rounding_agrees_with_the_float_formula(void **state)
{
	(void)state;
	static const char *const suf[] = {"B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	uint64_t n = 10;
	int checked = 0;
	while (n < (1ull << 53)) {
		int e = 0;
		double d = 1;
		while (e < 6 && (double)n / d >= 1024) {
			d *= 1024;
			e++;
		}
		double val = floor((double)n / d * 10 + 0.5) / 10;
		char want[32];
		if (val == floor(val))
			snprintf(want, sizeof(want), "%.0f%s", val, suf[e]);
		else
			snprintf(want, sizeof(want), "%.1f%s", val, suf[e]);
		assert_ibytes(n, want);
		n = n + 1 + n / 4093; /* dense at first, then across every exponent */
		checked++;
	}
	assert_true(checked > 100000);
}

static void test_ibytes_never_overflows_a_short_buffer(void **state)
{
	(void)state;
	char out[4];
	memset(out, 'x', sizeof(out));
	model_format_ibytes(209505484, out, sizeof(out));
	assert_string_equal(out, "199");
}

static void test_percent_matches_upstream_format(void **state)
{
	(void)state;
	static const struct {
		double v;
		const char *want;
	} cases[] = {{0, "0%"},      {100, "100%"},   {47.6, "47.6%"},   {50, "50.0%"},
	             {0.04, "0.0%"}, {99.9, "99.9%"}, {12.345, "12.3%"}, {-0.0, "0%"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[16];
		model_format_percent(cases[i].v, out, sizeof(out));
		assert_string_equal(out, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ibytes_matches_upstream_examples),
	    cmocka_unit_test(test_ibytes_rounding_agrees_with_the_float_formula),
	    cmocka_unit_test(test_ibytes_never_overflows_a_short_buffer),
	    cmocka_unit_test(test_percent_matches_upstream_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
