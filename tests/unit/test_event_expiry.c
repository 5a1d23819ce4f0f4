/*
 * The store expires Events itself: opened with an event TTL, it deletes
 * what is older at open (left from before a restart) and what ages past
 * the TTL while it runs, with nobody calling store_event_expire; opened
 * without one it keeps every Event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "store/store.h"
#include "tmpdb.h"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("expiry");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static struct store *open_ttl(int64_t ttl_s, int64_t every_ms)
{
	return tmpdb_open_store_opts(
	    &(struct store_sqlite_opts){.event_ttl_s = ttl_s, .event_expire_every_ms = every_ms});
}

static json_t *image(struct store *s, const char *name)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	                      "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                      "metadata", "name", name, "namespace", "ns", "spec", "dataSource",
	                      "type", "Upload"),
	       *out = NULL;
	struct vim_err err;

	if (store_create(s, "virtualimages", o, &out, &err) != 0)
		fail_msg("create: %s", err.msg);
	json_decref(o);
	return out;
}

static size_t events(struct store *s)
{
	struct store_list_opts o = {0};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items = NULL;
	size_t n;

	if (store_list_json(s, "events", &o, &items, &m, &err) != 0)
		fail_msg("list: %s", err.msg);
	n = json_array_size(items);
	json_decref(items);
	return n;
}

/* Polls (bounded: 8 s) until the store holds want Events. */
static size_t wait_events(struct store *s, size_t want)
{
	int64_t until = vim_mono_ms() + 8000;
	size_t n;

	while ((n = events(s)) != want && vim_mono_ms() < until)
		usleep(20000);
	return n;
}

static void test_events_older_than_the_ttl_go_at_open(void **state)
{
	struct store *s;
	json_t *img;
	int64_t now = vim_time_now();
	struct vim_err err;
	(void)state;

	/* the expiry thread: a backend without leases (sqlite) */
	tmpdb_require("sqlite");
	s = open_ttl(0, 0);
	img = image(s, "a");
	/* one from two hours ago, one from now: a TTL of one hour keeps one */
	assert_int_equal(
	    store_event_record(s, &(struct store_event_rec){img, "Warning", "Old", "m", now - 7200},
	                       &err),
	    0);
	assert_int_equal(
	    store_event_record(s, &(struct store_event_rec){img, "Normal", "New", "m", now}, &err),
	    0);
	json_decref(img);
	store_close(s);

	s = open_ttl(3600, 0);
	assert_int_equal(wait_events(s, 1), 1);
	store_close(s);
}

static void test_events_expire_while_the_store_runs(void **state)
{
	struct store *s;
	json_t *img;
	struct vim_err err;
	(void)state;

	/* the expiry thread: a backend with leases expires them by lease */
	tmpdb_require("sqlite");
	s = open_ttl(1, 50);
	img = image(s, "b");
	assert_int_equal(
	    store_event_record(
	        s, &(struct store_event_rec){img, "Normal", "R", "m", vim_time_now()}, &err),
	    0);
	assert_int_equal(events(s), 1);
	/* strictly older than 1 s: gone within ~2 s, nobody asking */
	assert_int_equal(wait_events(s, 0), 0);
	json_decref(img);
	store_close(s);
}

static void test_without_a_ttl_events_are_kept(void **state)
{
	struct store *s = open_ttl(0, 0);
	json_t *img = image(s, "c");
	struct vim_err err;
	(void)state;

	assert_int_equal(
	    store_event_record(s, &(struct store_event_rec){img, "Normal", "R", "m", 1000}, &err),
	    0);
	usleep(300000);
	assert_int_equal(events(s), 1);
	json_decref(img);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_events_older_than_the_ttl_go_at_open, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_events_expire_while_the_store_runs, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_without_a_ttl_events_are_kept, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
