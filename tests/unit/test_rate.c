/* core/rate: a transfer below the minimum speed over a whole window is a
 * stall; time spent waiting on our own side does not count against the
 * peer; the message gives the numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/rate.h"

static void test_rate_trickle_stalls_after_one_window(void **state)
{
	struct vim_rate r;
	uint64_t sent = 0, bytes = 0;
	int64_t t;
	(void)state;

	vim_rate_init(&r, 1024, 60000);
	assert_false(vim_rate_stalled(&r, 1000, 0, &sent)); /* starts the window */
	/* 1 B/s: fine until the window is whole, a stall right then */
	for (t = 2000; t < 61000; t += 1000)
		assert_false(vim_rate_stalled(&r, t, ++bytes, &sent));
	assert_true(vim_rate_stalled(&r, 61000, 60, &sent));
	assert_int_equal(sent, 60);
}

static void test_rate_fast_enough_never_stalls(void **state)
{
	struct vim_rate r;
	uint64_t sent = 0, bytes = 0;
	int64_t t;
	(void)state;

	vim_rate_init(&r, 1024, 2000);
	for (t = 1; t < 100000; t += 100) {
		bytes += 103; /* 1030 B/s */
		assert_false(vim_rate_stalled(&r, t, bytes, &sent));
	}
	/* then it stops: stalled within two windows */
	for (; t < 104000; t += 100)
		if (vim_rate_stalled(&r, t, bytes, &sent))
			break;
	assert_true(t < 104000);
	assert_true(sent < 2048); /* what came before it stopped, in that window */
}

/* The consumer held the transfer (a slow DVCR): that time is not the
 * source's, so the window is not over yet. */
static void test_rate_pause_is_not_the_peers_fault(void **state)
{
	struct vim_rate r;
	uint64_t sent = 0;
	(void)state;

	vim_rate_init(&r, 1024, 10000);
	assert_false(vim_rate_stalled(&r, 1, 0, &sent));
	vim_rate_pause(&r, 9000);
	assert_false(vim_rate_stalled(&r, 10001, 1024, &sent));  /* 1 s of its own so far */
	assert_false(vim_rate_stalled(&r, 19002, 10240, &sent)); /* 10 s at 1 KiB/s: fine */
	assert_false(vim_rate_stalled(&r, 29001, 10250, &sent));
	assert_true(vim_rate_stalled(&r, 29003, 10250, &sent)); /* 10 B in the next window */
	assert_int_equal(sent, 10);
}

static void test_rate_off_and_bounds(void **state)
{
	struct vim_rate r;
	uint64_t sent = 0;
	(void)state;

	vim_rate_init(&r, 0, 60000);
	assert_false(vim_rate_stalled(&r, 1, 0, &sent));
	assert_false(vim_rate_stalled(&r, INT64_MAX / 2, 0, &sent));
	vim_rate_init(&r, 1024, 0);
	assert_false(vim_rate_stalled(&r, 1, 0, &sent));
	assert_false(vim_rate_stalled(&r, INT64_MAX / 2, 0, &sent));
	/* absurd flags are clamped, not overflowed */
	vim_rate_init(&r, UINT64_MAX, INT64_MAX);
	assert_false(vim_rate_stalled(&r, 1, 0, &sent));
	assert_false(vim_rate_stalled(&r, VIM_RATE_MAX_WINDOW_MS, UINT64_MAX / 2, &sent));
	assert_true(vim_rate_stalled(&r, 1 + VIM_RATE_MAX_WINDOW_MS, 1000, &sent));
	assert_int_equal(sent, 1000);
}

static void test_rate_message_gives_the_numbers(void **state)
{
	struct vim_rate r;
	struct vim_err err = {0};
	(void)state;

	vim_rate_init(&r, 1024, 60000);
	assert_int_equal(vim_rate_fail(&err, "GET http://h/x: ", "the source", "sent", &r, 12),
	                 VIM_ETIMEDOUT);
	assert_string_equal(err.msg, "GET http://h/x: the source sent 12 bytes in the last 60 s "
	                             "(minimum 1024 B/s): stalled");
	vim_rate_init(&r, 10, 2500);
	vim_rate_fail(&err, "", "the registry", "took", &r, 3);
	assert_string_equal(
	    err.msg, "the registry took 3 bytes in the last 2.5 s (minimum 10 B/s): stalled");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_trickle_stalls_after_one_window),
	    cmocka_unit_test(test_rate_fast_enough_never_stalls),
	    cmocka_unit_test(test_rate_pause_is_not_the_peers_fault),
	    cmocka_unit_test(test_rate_off_and_bounds),
	    cmocka_unit_test(test_rate_message_gives_the_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
