/* The work queue: de-duplication, one worker per key, timers, backoff,
 * shutdown, and memory released when keys are done. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/queue.h"

static int64_t fake_now;
static int64_t fake_clock(void *self)
{
	(void)self;
	return fake_now;
}

static struct ctl_queue *fake_queue(void)
{
	struct ctl_queue_opts o = {
	    .backoff_base_ms = 100, .backoff_max_ms = 1000, .now_ms = fake_clock};
	struct ctl_queue *q = NULL;
	fake_now = 1000000;
	assert_int_equal(ctl_queue_new(&q, &o, NULL), 0);
	return q;
}

static void test_add_is_deduplicated(void **state)
{
	struct ctl_queue *q = fake_queue();
	char k[64];
	(void)state;

	ctl_queue_add(q, "vi/ns/a");
	ctl_queue_add(q, "vi/ns/a");
	ctl_queue_add(q, "vi/ns/b");
	assert_int_equal(ctl_queue_len(q), 2);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "vi/ns/a"); /* FIFO */
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "vi/ns/b");
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 0);
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

static void test_readd_while_processing_comes_back_after_done(void **state)
{
	struct ctl_queue *q = fake_queue();
	char k[64];
	(void)state;

	ctl_queue_add(q, "k");
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	ctl_queue_add(q, "k"); /* dirty: not handed out twice */
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 0);
	ctl_queue_done(q, "k");
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	ctl_queue_done(q, "k");
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

static void test_add_after_fires_in_order_and_earliest_wins(void **state)
{
	struct ctl_queue *q = fake_queue();
	char k[64];
	(void)state;

	ctl_queue_add_after(q, "late", 3000);
	ctl_queue_add_after(q, "early", 1000);
	ctl_queue_add_after(q, "late", 5000); /* later than pending: ignored */
	ctl_queue_add_after(q, "mid", 9000);
	ctl_queue_add_after(q, "mid", 2000); /* earlier: wins */
	assert_int_equal(ctl_queue_delayed_len(q), 3);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 0);
	fake_now += 1000;
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "early");
	ctl_queue_done(q, k);
	fake_now += 2500;
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "mid");
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "late");
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

/* A canceled timer never fires; the others keep their order, and a key
 * with nothing left is released. */
static void test_cancel_after_drops_only_that_timer(void **state)
{
	struct ctl_queue *q = fake_queue();
	char k[64];
	(void)state;

	ctl_queue_add_after(q, "a", 1000);
	ctl_queue_add_after(q, "b", 2000);
	ctl_queue_add_after(q, "c", 3000);
	ctl_queue_add_after(q, "d", 4000);
	ctl_queue_cancel_after(q, "a");  /* the heap's top */
	ctl_queue_cancel_after(q, "c");  /* one in the middle */
	ctl_queue_cancel_after(q, "zz"); /* unknown: nothing happens */
	assert_int_equal(ctl_queue_delayed_len(q), 2);
	assert_int_equal(ctl_queue_tracked(q), 2);
	fake_now += 10000;
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "b");
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
	assert_string_equal(k, "d");
	ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 0);
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

static void test_rate_limited_backoff_doubles_caps_and_forgets(void **state)
{
	struct ctl_queue *q = fake_queue();
	int64_t want[] = {100, 200, 400, 800, 1000, 1000};
	char k[64];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ctl_queue_add_rate_limited(q, "k");
		fake_now += want[i] - 1;
		assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 0);
		fake_now += 1;
		assert_int_equal(ctl_queue_get(q, k, sizeof(k), 0), 1);
		ctl_queue_done(q, k);
	}
	assert_int_equal(ctl_queue_failures(q, "k"), 6);
	ctl_queue_forget(q, "k");
	assert_int_equal(ctl_queue_failures(q, "k"), 0);
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

static void *blocked_get(void *arg)
{
	char k[64];
	return (void *)(intptr_t)ctl_queue_get(arg, k, sizeof(k), 10000);
}

static void test_shutdown_wakes_blocked_getters(void **state)
{
	struct ctl_queue *q = NULL;
	pthread_t th[3];
	void *rc;
	int i;
	(void)state;

	assert_int_equal(ctl_queue_new(&q, NULL, NULL), 0);
	for (i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, blocked_get, q);
	usleep(50000);
	ctl_queue_shutdown(q);
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], &rc);
		assert_int_equal((int)(intptr_t)rc, VIM_ECANCELED);
	}
	ctl_queue_add(q, "after"); /* refused */
	assert_int_equal(ctl_queue_len(q), 0);
	ctl_queue_free(q);
}

static void test_real_clock_delay(void **state)
{
	struct ctl_queue *q = NULL;
	char k[64];
	(void)state;

	assert_int_equal(ctl_queue_new(&q, NULL, NULL), 0);
	ctl_queue_add_after(q, "soon", 50);
	assert_int_equal(ctl_queue_get(q, k, sizeof(k), 2000), 1); /* woken by its timer */
	assert_string_equal(k, "soon");
	ctl_queue_done(q, k);
	ctl_queue_free(q);
}

#define KEYS 1000
static struct ctl_queue *shared;
static int inflight[KEYS], overlap;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
	char k[64];
	int handled = 0;
	(void)arg;

	while (ctl_queue_get(shared, k, sizeof(k), 200) == 1) {
		int id = (int)strtol(k + 1, NULL, 10); /* keys are "k<id>" */
		pthread_mutex_lock(&mu);
		if (++inflight[id] > 1)
			overlap++;
		pthread_mutex_unlock(&mu);
		if (rand() % 3 == 0) /* a re-add while this worker holds the key */
			ctl_queue_add(shared, k);
		usleep(10);
		pthread_mutex_lock(&mu);
		inflight[id]--;
		pthread_mutex_unlock(&mu);
		ctl_queue_done(shared, k);
		handled++;
	}
	return (void *)(intptr_t)handled;
}

static void test_never_two_workers_on_one_key(void **state)
{
	pthread_t th[4];
	char k[16];
	int i, r;
	(void)state;

	assert_int_equal(ctl_queue_new(&shared, NULL, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (r = 0; r < 3; r++)
		for (i = 0; i < KEYS; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			ctl_queue_add(shared, k);
		}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(overlap, 0);
	assert_int_equal(ctl_queue_tracked(shared), 0);
	ctl_queue_free(shared);
}

static void test_many_keys_are_released(void **state)
{
	struct ctl_queue *q = fake_queue();
	char k[32];
	int i;
	(void)state;

	for (i = 0; i < 100000; i++) {
		snprintf(k, sizeof(k), "vi/ns/img-%d", i);
		ctl_queue_add(q, k);
	}
	assert_int_equal(ctl_queue_len(q), 100000);
	while (ctl_queue_get(q, k, sizeof(k), 0) == 1)
		ctl_queue_done(q, k);
	assert_int_equal(ctl_queue_tracked(q), 0);
	ctl_queue_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_is_deduplicated),
	    cmocka_unit_test(test_readd_while_processing_comes_back_after_done),
	    cmocka_unit_test(test_add_after_fires_in_order_and_earliest_wins),
	    cmocka_unit_test(test_rate_limited_backoff_doubles_caps_and_forgets),
	    cmocka_unit_test(test_shutdown_wakes_blocked_getters),
	    cmocka_unit_test(test_real_clock_delay),
	    cmocka_unit_test(test_never_two_workers_on_one_key),
	    cmocka_unit_test(test_cancel_after_drops_only_that_timer),
	    cmocka_unit_test(test_many_keys_are_released),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
