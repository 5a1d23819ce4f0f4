/*
 * store: store_restore writes an object as store_export wrote it (the
 * catalog moved from one backend to another): what the server assigned
 * stays (uid, creationTimestamp, generation, finalizers, the deletion
 * marks, managedFields, status), the resourceVersion is the new store's,
 * and a taken key is refused, never overwritten.  store_health answers for
 * a reachable backend.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("restore");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static const char *meta(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

/* An image as exported from a store where it had lived a while. */
static json_t *exported(void)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:s,s:i,s:s,s:i,s:[s],s:[{s:s,s:s}],s:s},"
	                 "s:{s:{s:s}},s:{s:s}}",
	                 "apiVersion", "virtualization.deckhouse.io/v1alpha2", "kind",
	                 "VirtualImage", "metadata", "name", "a", "namespace", "ns", "uid",
	                 "u-exported", "creationTimestamp", "2020-01-02T03:04:05Z", "generation", 7,
	                 "deletionTimestamp", "2021-01-02T03:04:05Z", "deletionGracePeriodSeconds",
	                 0, "finalizers", "f/1", "managedFields", "manager", "kubectl", "operation",
	                 "Update", "resourceVersion", "999", "spec", "dataSource", "type", "Upload",
	                 "status", "phase", "Ready");
}

static void test_restore_keeps_what_the_server_assigned(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *in = exported(), *out = NULL, *got = NULL, *want;
	struct store_watch *w = NULL;
	struct store_event ev;
	struct vim_err err;
	(void)state;

	assert_int_equal(store_health(s, &err), 0);
	assert_int_equal(store_watch(s, VI, &(struct store_watch_opts){0}, &w, &err), 0);
	assert_int_equal(store_restore(s, VI, in, &out, &err), 0);
	/* the new store's revision, not the old one's */
	assert_string_not_equal(meta(out, "resourceVersion"), "999");
	/* (a cached backend's current_rv may not have seen it yet: >=) */
	assert_true(strtoll(meta(out, "resourceVersion"), NULL, 10) >= store_current_rv(s));
	/* everything else as exported */
	want = json_deep_copy(in);
	json_object_set(json_object_get(want, "metadata"), "resourceVersion",
	                json_object_get(json_object_get(out, "metadata"), "resourceVersion"));
	assert_true(json_equal(out, want));
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(got, want));
	/* and watchers see it arrive */
	assert_int_equal(store_watch_next(w, 2000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_ADDED);
	assert_string_equal(meta(ev.object, "uid"), "u-exported");
	json_decref(ev.object);
	free(ev.text);
	store_watch_free(w);
	json_decref(want);
	json_decref(got);
	json_decref(out);
	json_decref(in);
	store_close(s);
}

static void test_restore_refuses_a_taken_key_and_changes_nothing(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *in = exported(), *out = NULL, *got = NULL, *again;
	struct vim_err err;
	(void)state;

	assert_int_equal(store_restore(s, VI, in, &out, &err), 0);
	again = json_deep_copy(in);
	json_object_set_new(json_object_get(again, "metadata"), "uid", json_string("u-other"));
	assert_int_equal(store_restore(s, VI, again, &got, &err), VIM_EEXIST);
	assert_null(got);
	assert_string_equal(err.msg,
	                    "virtualimages.virtualization.deckhouse.io \"a\" already exists");
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(got, out));
	json_decref(got);
	json_decref(again);
	json_decref(out);
	json_decref(in);
	store_close(s);
}

static void test_restore_names_a_missing_name(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *in = exported(), *out = NULL;
	struct vim_err err;
	(void)state;

	json_object_del(json_object_get(in, "metadata"), "name");
	assert_int_equal(store_restore(s, VI, in, &out, &err), VIM_EINVAL);
	assert_null(out);
	assert_non_null(strstr(err.msg, "metadata.name: Required value"));
	json_decref(in);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_restore_keeps_what_the_server_assigned, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_restore_refuses_a_taken_key_and_changes_nothing,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restore_names_a_missing_name, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
