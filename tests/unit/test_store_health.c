/*
 * vimaged/health: /readyz's "store" check follows a remote store's health
 * (fails with the store's message while it is down, passes again when it
 * is back), asked once per interval on its own thread, so /readyz answers
 * at once even while a check waits out etcd's timeout.  The store is a
 * stand-in of our own struct store_ops whose health the test sets.
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

#include "cmd/vimaged/vimaged.h"
#include "core/metrics.h"
#include "core/timeutil.h"

static struct {
	struct store base;
	atomic_int down;    /* health answers VIM_EUNAVAILABLE */
	atomic_int slow_ms; /* each check takes this long */
	atomic_int checks;  /* how many were asked */
} fk;

static int f_health(struct store *s, struct vim_err *err)
{
	(void)s;
	atomic_fetch_add(&fk.checks, 1);
	if (atomic_load(&fk.slow_ms))
		usleep((useconds_t)atomic_load(&fk.slow_ms) * 1000);
	if (atomic_load(&fk.down))
		return vim_err_set(err, VIM_EUNAVAILABLE,
		                   "etcd http://127.0.0.1:1: current revision: connection refused");
	return 0;
}

static const struct store_ops fake_ops = {.name = "etcd", .health = f_health};

/* /readyz/store as it answers now; text (when not NULL) gets the body. */
static unsigned int readyz(struct api_ready *r, char *text, size_t cap)
{
	struct vim_text t = {0};
	unsigned int code = api_ready_render(r, NULL, true, NULL, &t);

	if (text)
		snprintf(text, cap, "%s", t.buf ? t.buf : "");
	free(t.buf);
	return code;
}

/* Waits (2 s at most) for /readyz to answer want. */
static bool becomes(struct api_ready *r, unsigned int want)
{
	int64_t end = vim_mono_ms() + 2000;

	while (vim_mono_ms() < end) {
		if (readyz(r, NULL, 0) == want)
			return true;
		usleep(5000);
	}
	return false;
}

static struct api_ready *ready_new(void)
{
	static const char *const names[] = {"store"};
	struct api_ready *r = NULL;
	struct vim_err err;

	assert_int_equal(api_ready_new(&r, names, 1, &err), 0);
	api_ready_set(r, "store", true, NULL); /* opened */
	return r;
}

static void test_readyz_follows_the_store_down_and_back(void **state)
{
	struct api_ready *r = ready_new();
	struct vimaged_health *h = NULL;
	struct vim_err err;
	char text[1024];
	(void)state;

	fk.base.ops = &fake_ops;
	atomic_store(&fk.down, 0);
	atomic_store(&fk.slow_ms, 0);
	assert_int_equal(vimaged_health_start(&h, &fk.base, r, 20, &err), 0);
	assert_int_equal(readyz(r, NULL, 0), 200);
	assert_int_equal(vimaged_health_up(h), 1);
	atomic_store(&fk.down, 1);
	assert_true(becomes(r, 503));
	readyz(r, text, sizeof(text));
	assert_non_null(strstr(text, "[-]store failed: etcd http://127.0.0.1:1: current revision: "
	                             "connection refused"));
	assert_int_equal(vimaged_health_up(h), 0);
	atomic_store(&fk.down, 0);
	assert_true(becomes(r, 200));
	assert_int_equal(vimaged_health_up(h), 1);
	vimaged_health_stop(h);
	api_ready_free(r);
	assert_int_equal(vimaged_health_up(NULL), -1); /* sqlite: nothing checked */
}

/* A check that takes 400 ms (etcd timing out) holds no /readyz, and
 * /readyz asked in a loop asks the store once per interval, not per call. */
static void test_readyz_never_waits_for_a_check(void **state)
{
	struct api_ready *r = ready_new();
	struct vimaged_health *h = NULL;
	struct vim_err err;
	int64_t t0, slowest = 0, end;
	int calls = 0, asked;
	(void)state;

	fk.base.ops = &fake_ops;
	atomic_store(&fk.down, 0);
	atomic_store(&fk.slow_ms, 400);
	atomic_store(&fk.checks, 0);
	assert_int_equal(vimaged_health_start(&h, &fk.base, r, 100, &err), 0);
	end = vim_mono_ms() + 1000;
	while (vim_mono_ms() < end) {
		t0 = vim_mono_ms();
		assert_int_equal(readyz(r, NULL, 0), 200);
		if (vim_mono_ms() - t0 > slowest)
			slowest = vim_mono_ms() - t0;
		calls++;
		usleep(1000);
	}
	asked = atomic_load(&fk.checks);
	assert_true(slowest < 100);
	assert_true(calls > 100);
	/* 400 ms each, then 100 ms apart: at most three in a second */
	assert_true(asked >= 1 && asked <= 3);
	vimaged_health_stop(h); /* waits for the check under way */
	api_ready_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_readyz_follows_the_store_down_and_back),
	    cmocka_unit_test(test_readyz_never_waits_for_a_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
