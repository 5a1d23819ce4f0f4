/* core/cond: a monotonic deadline wait times out after its wait and wakes
 * early on a signal, and the waits built on it (the work queue, a store
 * watch) neither stall nor return early when the wall clock jumps.
 *
 * The jump: this binary defines clock_gettime, which every call in it
 * (libvimage is linked in statically) reaches first; CLOCK_REALTIME then
 * reads wall_shift_s off the real clock.  pthread_cond_timedwait compares
 * a REALTIME deadline with the kernel's real clock, so a deadline taken
 * from the shifted clock is an hour off, exactly as after a jump between
 * taking the deadline and waiting on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "controller/queue.h"
#include "core/cond.h"
#include "core/err.h"
#include "core/timeutil.h"
#include "store/store.h"
#include "tmpdb.h"

/* atomic: the waiting thread's clock_gettime reads it while the test moves it */
static _Atomic long wall_shift_s;

int clock_gettime(clockid_t id, struct timespec *ts)
{
	long rc = syscall(SYS_clock_gettime, id, ts);

	if (rc == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += wall_shift_s;
	return (int)rc;
}

static int shift_teardown(void **state)
{
	(void)state;
	wall_shift_s = 0;
	return 0;
}

static void test_wait_until_times_out_after_the_wait(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	int64_t t0, took;
	(void)state;

	assert_int_equal(vim_cond_init(&c), 0);
	pthread_mutex_lock(&mu);
	t0 = vim_mono_ms();
	while (vim_cond_wait_until(&c, &mu, t0 + 150) != VIM_ETIMEDOUT)
		; /* spurious wake-ups loop, as callers do */
	took = vim_mono_ms() - t0;
	pthread_mutex_unlock(&mu);
	assert_true(took >= 150);
	assert_true(took < 1500);
	/* a deadline already past times out at once */
	pthread_mutex_lock(&mu);
	assert_int_equal(vim_cond_wait_until(&c, &mu, vim_mono_ms() - 1), VIM_ETIMEDOUT);
	pthread_mutex_unlock(&mu);
	pthread_cond_destroy(&c);
}

struct waker {
	pthread_mutex_t mu;
	pthread_cond_t c;
	int woken;
};

static void *wake_later(void *arg)
{
	struct waker *w = arg;

	usleep(50 * 1000);
	pthread_mutex_lock(&w->mu);
	w->woken = 1;
	pthread_cond_signal(&w->c);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static void test_signal_wakes_the_wait_early(void **state)
{
	struct waker w = {.mu = PTHREAD_MUTEX_INITIALIZER};
	pthread_t th;
	int64_t t0, took;
	int rc = 0;
	(void)state;

	assert_int_equal(vim_cond_init(&w.c), 0);
	pthread_mutex_lock(&w.mu);
	assert_int_equal(pthread_create(&th, NULL, wake_later, &w), 0);
	t0 = vim_mono_ms();
	while (!w.woken && (rc = vim_cond_wait_until(&w.c, &w.mu, t0 + 10000)) == 0)
		;
	took = vim_mono_ms() - t0;
	pthread_mutex_unlock(&w.mu);
	pthread_join(th, NULL);
	assert_int_equal(rc, 0);
	assert_true(w.woken);
	assert_true(took < 5000);
	pthread_cond_destroy(&w.c);
}

/* A wall clock an hour behind the kernel's when the deadline is taken (it
 * jumped forward since): a REALTIME deadline is already past. */
static void test_wait_ignores_a_wall_clock_jump(void **state)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c;
	int64_t t0, took;
	(void)state;

	assert_int_equal(vim_cond_init(&c), 0);
	wall_shift_s = -3600;
	pthread_mutex_lock(&mu);
	t0 = vim_mono_ms();
	while (vim_cond_wait_until(&c, &mu, t0 + 150) != VIM_ETIMEDOUT)
		;
	took = vim_mono_ms() - t0;
	pthread_mutex_unlock(&mu);
	assert_true(took >= 150);
	assert_true(took < 1500);
	pthread_cond_destroy(&c);
}

struct getter {
	struct ctl_queue *q;
	int rc;
	int64_t took;
	atomic_int done; /* polled by the test while the getter runs */
};

static void *get_once(void *arg)
{
	struct getter *g = arg;
	char key[64];
	int64_t t0 = vim_mono_ms();

	g->rc = ctl_queue_get(g->q, key, sizeof(key), 200);
	g->took = vim_mono_ms() - t0;
	g->done = 1;
	return NULL;
}

/* The wall clock an hour ahead: a REALTIME deadline sleeps an hour, and
 * the queue's 200 ms wait would stall its worker. */
static void test_queue_get_ignores_a_wall_clock_jump(void **state)
{
	struct getter g = {0};
	pthread_t th;
	int64_t t0;
	(void)state;

	assert_int_equal(ctl_queue_new(&g.q, NULL, NULL), 0);
	wall_shift_s = 3600;
	assert_int_equal(pthread_create(&th, NULL, get_once, &g), 0);
	t0 = vim_mono_ms();
	while (!g.done && vim_mono_ms() - t0 < 3000)
		usleep(10 * 1000);
	wall_shift_s = 0;
	if (!g.done)
		ctl_queue_shutdown(g.q); /* frees the stalled worker before failing */
	pthread_join(th, NULL);
	assert_true(g.done);
	assert_int_equal(g.rc, 0); /* timed out with nothing ready */
	assert_true(g.took >= 200);
	ctl_queue_shutdown(g.q);
	ctl_queue_free(g.q);
}

/* The wall clock an hour behind: a REALTIME deadline is past at once, and
 * a watch's 300 ms wait for the next event would return at once. */
static void test_watch_next_ignores_a_wall_clock_jump(void **state)
{
	struct store *s = NULL;
	struct store_watch *w = NULL;
	struct store_watch_opts o = {0};
	struct store_event ev;
	struct vim_err err = {0};
	int64_t t0, took;
	int rc;
	(void)state;

	assert_int_equal(tmpdb_setup("cond"), 0);
	assert_int_equal(store_sqlite_open(&s, tmpdb_path, 0, &err), 0);
	assert_int_equal(store_watch(s, "virtualimages", &o, &w, &err), 0);
	wall_shift_s = -3600;
	t0 = vim_mono_ms();
	rc = store_watch_next(w, 300, &ev, &err);
	took = vim_mono_ms() - t0;
	wall_shift_s = 0;
	assert_int_equal(rc, 0);
	assert_true(took >= 300);
	store_watch_free(w);
	store_close(s);
	assert_int_equal(tmpdb_teardown(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_wait_until_times_out_after_the_wait),
	    cmocka_unit_test(test_signal_wakes_the_wait_early),
	    cmocka_unit_test_teardown(test_wait_ignores_a_wall_clock_jump, shift_teardown),
	    cmocka_unit_test_teardown(test_queue_get_ignores_a_wall_clock_jump, shift_teardown),
	    cmocka_unit_test_teardown(test_watch_next_ignores_a_wall_clock_jump, shift_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
