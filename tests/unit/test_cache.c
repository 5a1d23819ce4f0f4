/* The controllers' cache against the real SQLite store: list, then follow
 * the watch, reporting every change. */
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

#include "controller/cache.h"

struct seen {
	pthread_mutex_t mu;
	char log[4096];
};

static void on_change(void *arg, const char *key, enum store_event_type t)
{
	struct seen *s = arg;
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = strlen(s->log);
	snprintf(s->log + n, sizeof(s->log) - n, "%s %s;", store_event_type_name(t), key);
	pthread_mutex_unlock(&s->mu);
}

static bool wait_log(struct seen *s, const char *want)
{
	int i;
	bool found = false;

	for (i = 0; i < 200 && !found; i++) {
		pthread_mutex_lock(&s->mu);
		found = strstr(s->log, want) != NULL;
		pthread_mutex_unlock(&s->mu);
		if (!found)
			usleep(10000);
	}
	return found;
}

static json_t *vi(const char *ns, const char *name)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:{}}", "apiVersion",
	                 "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	                 "name", name, "namespace", ns, "spec");
}

static void put(struct store *s, json_t *o)
{
	json_t *out = NULL;
	assert_int_equal(store_create(s, "virtualimages", o, &out, NULL), 0);
	json_decref(out);
	json_decref(o);
}

static void collect(void *arg, const char *key, const char *phase)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 256 - n, "%s=%s;", key, phase);
}

static void test_cache_lists_then_follows_the_watch(void **state)
{
	char dir[] = "/tmp/vimage-cache.XXXXXX", path[128], cmd[160];
	struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct store *s = NULL;
	struct ctl_cache *c = NULL;
	json_t *got, *st, *out = NULL;
	bool deleted;
	int i;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_sqlite_open(&s, path, 8, NULL), 0);
	put(s, vi("ns", "a"));
	assert_int_equal(ctl_cache_start(&c, s, "virtualimages", on_change, &seen, NULL), 0);
	/* the first list is in the cache when start returns */
	assert_int_equal(ctl_cache_len(c), 1);
	assert_true(wait_log(&seen, "ADDED ns/a;"));
	put(s, vi("ns", "b"));
	assert_true(wait_log(&seen, "ADDED ns/b;"));
	got = ctl_cache_get(c, "ns/b");
	assert_non_null(got);
	/* a status write reaches the cache as MODIFIED */
	st = json_deep_copy(got);
	json_object_set_new(st, "status", json_pack("{s:s}", "phase", "Ready"));
	assert_int_equal(store_update_status(s, "virtualimages", st, &out, NULL), 0);
	json_decref(out);
	json_decref(st);
	json_decref(got);
	assert_true(wait_log(&seen, "MODIFIED ns/b;"));
	got = ctl_cache_get(c, "ns/b");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(got, "status"), "phase")), "Ready");
	json_decref(got);
	/* the walk hands out each object's phase without parsing it */
	char walked[256] = "";
	assert_int_equal(ctl_cache_foreach(c, collect, walked), 0);
	assert_non_null(strstr(walked, "ns/b=Ready;"));
	assert_non_null(strstr(walked, "ns/a=;"));
	assert_int_equal(store_delete(s,
	                              &(struct store_delete_opts){
	                                  .resource = "virtualimages", .ns = "ns", .name = "a"},
	                              &out, &deleted, NULL),
	                 0);
	json_decref(out);
	assert_true(wait_log(&seen, "DELETED ns/a;"));
	assert_null(ctl_cache_get(c, "ns/a"));
	/* a burst of changes arrives in full */
	for (i = 0; i < 30; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%02d", i);
		put(s, vi("ns", name));
	}
	assert_true(wait_log(&seen, "ADDED ns/x29;"));
	for (i = 0; i < 200 && ctl_cache_len(c) != 31; i++)
		usleep(10000);
	assert_int_equal(ctl_cache_len(c), 31);
	ctl_cache_stop(c);
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_cache_key(void **state)
{
	char key[CTL_KEY_MAX];
	json_t *a = vi("ns", "a"), *b = json_pack("{s:{s:s}}", "metadata", "name", "c");
	(void)state;

	assert_int_equal(ctl_cache_key(a, key), 0);
	assert_string_equal(key, "ns/a");
	assert_int_equal(ctl_cache_key(b, key), 0);
	assert_string_equal(key, "c");
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cache_lists_then_follows_the_watch),
	    cmocka_unit_test(test_cache_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
