/* store/watch: the history keeps each change as its JSON text, a watcher
 * that asks for text (store_watch_opts.text) gets exactly the stored
 * text with only the selectable fields parsed, and the history's memory
 * is its text, not a parsed tree (managedFields' FieldsV1 made a tree
 * of an image ~6 times its text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("wtext");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

/* An image as the controllers leave it: status and three managedFields
 * entries (a ~2.4 KB text, most of it FieldsV1). */
static json_t *image(const char *name, int i)
{
	char note[32];
	json_t *mf = json_array();
	int k;

	snprintf(note, sizeof(note), "n%d", i);
	for (k = 0; k < 3; k++)
		json_array_append_new(
		    mf,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:{s:{},s:{},s:{},s:{},s:{},s:{s:{s:{},s:{},"
		              "s:{},s:{},s:{}}}}}}",
		              "manager", k ? "vimaged" : "kubectl-create", "operation", "Update",
		              "apiVersion", "virtualization.deckhouse.io/v1alpha2", "time",
		              "2026-12-01T10:00:00Z", "fieldsType", "FieldsV1", "fieldsV1",
		              "f:status", "f:phase", "f:progress", "f:size", "f:format", "f:target",
		              "f:conditions", "k:{\"type\":\"Ready\"}", ".", "f:type", "f:status",
		              "f:reason", "f:message"));
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s},s:{s:s},s:o},s:{s:{s:s}},"
	                 "s:{s:s,s:s,s:[{s:s,s:s}]}}",
	                 "apiVersion", "virtualization.deckhouse.io/v1alpha2", "kind",
	                 "VirtualImage", "metadata", "name", name, "namespace", "ns", "labels",
	                 "tier", "gold", "annotations", "note", note, "managedFields", mf, "spec",
	                 "dataSource", "type", "Upload", "status", "phase",
	                 i % 2 ? "Ready" : "ImageLost", "progress", "100%", "conditions", "type",
	                 "Ready", "status", i % 2 ? "True" : "False");
}

static void put(struct store *s, int i)
{
	json_t *o = image("a", i), *out = NULL;
	struct vim_err err;
	int rc = i == 0 ? store_create(s, VI, o, &out, &err) : store_update(s, VI, o, &out, &err);

	if (rc != 0)
		fail_msg("write %d: %s", i, err.msg);
	json_decref(out);
	json_decref(o);
}

/* A text watcher gets the stored text itself and, parsed, only what
 * selectors and the controllers' cache read (name, namespace, phase); a
 * watcher without text still gets the whole object. */
static void test_text_watcher_gets_the_stored_text_and_the_selectable_fields(void **state)
{
	struct store *s = tmpdb_open_store();
	struct store_watch_opts to = {.text = true}, po = {0};
	struct store_watch *tw = NULL, *pw = NULL;
	struct store_event ev;
	struct vim_err err;
	json_t *got = NULL, *whole;
	char *stored;
	(void)state;

	assert_int_equal(store_watch(s, VI, &to, &tw, &err), 0);
	assert_int_equal(store_watch(s, VI, &po, &pw, &err), 0);
	put(s, 0);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	stored = json_dumps(got, JSON_COMPACT);

	assert_int_equal(store_watch_next(tw, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_ADDED);
	assert_non_null(ev.text);
	assert_int_equal(ev.text_len, strlen(stored));
	assert_string_equal(ev.text, stored);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ev.object, "metadata"), "name")),
	    "a");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(ev.object, "status"), "phase")),
	    "ImageLost");
	assert_null(json_object_get(ev.object, "spec"));
	assert_null(json_object_get(json_object_get(ev.object, "metadata"), "managedFields"));
	json_decref(ev.object);
	free(ev.text);

	assert_int_equal(store_watch_next(pw, 1000, &ev, &err), 1);
	assert_null(ev.text);
	whole = json_loads(stored, 0, NULL);
	assert_true(json_equal(ev.object, whole));
	json_decref(whole);
	json_decref(ev.object);

	free(stored);
	json_decref(got);
	store_watch_free(tw);
	store_watch_free(pw);
	store_close(s);
}

/* A selector watcher of a text watch: an update that moves the object out
 * of the selection is its DELETED, carrying the previous state's
 * selectable fields at the change's resourceVersion, as text too. */
static void test_text_watcher_with_selector_gets_deleted_on_leaving(void **state)
{
	struct store *s = tmpdb_open_store();
	struct store_watch_opts o = {.text = true, .field_selector = "status.phase=ImageLost"};
	struct store_watch *w = NULL;
	struct store_event ev;
	struct vim_err err;
	json_t *prev;
	/* revisions from the store's before the case: etcd's is the whole
	 * etcd's; a fresh SQLite file's is 0 (asserted: the same numbers) */
	int64_t base = tmpdb_store_rv(s);
	char want_rv[32];
	(void)state;

	if (tmpdb_is("sqlite"))
		assert_int_equal(base, 0);
	snprintf(want_rv, sizeof(want_rv), "%lld", (long long)(base + 2));
	assert_int_equal(store_watch(s, VI, &o, &w, &err), 0);
	put(s, 0); /* ImageLost: in */
	{
		json_t *ready = image("a", 1), *out = NULL; /* Ready: out */
		json_object_del(json_object_get(ready, "metadata"), "managedFields");
		assert_int_equal(store_update_status(s, VI, ready, &out, &err), 0);
		json_decref(out);
		json_decref(ready);
	}
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_ADDED);
	json_decref(ev.object);
	free(ev.text);
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_DELETED);
	assert_int_equal(ev.resource_version, base + 2);
	prev = json_loads(ev.text, 0, NULL);
	assert_non_null(prev);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(prev, "status"), "phase")),
	    "ImageLost");
	assert_string_equal(json_string_value(json_object_get(json_object_get(prev, "metadata"),
	                                                      "resourceVersion")),
	                    want_rv);
	json_decref(prev);
	json_decref(ev.object);
	free(ev.text);
	assert_int_equal(store_watch_next(w, 50, &ev, &err), 0);
	store_watch_free(w);
	store_close(s);
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* 4,000 changes of a 2.4 KB image with managedFields: the history holds
 * about their text (a parsed tree held ~6 times it). */
static void test_history_memory_is_its_text(void **state)
{
	struct store *s;
	long before, grew;
	size_t bytes = 0;
	int i;
	(void)state;

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	/* ASan's quarantine and TSan's allocator keep freed memory resident
	 * (TSan: 8.4 times the text for the same history): RSS says nothing */
	skip();
#endif
	s = tmpdb_open_store();
	for (i = 0; i < 200; i++) /* warm up SQLite's cache and the allocator */
		put(s, i);
	before = rss_kib();
	for (; i < 4200; i++)
		put(s, i);
	grew = rss_kib() - before;
	{
		json_t *o = image("a", 1);
		char *t = json_dumps(o, JSON_COMPACT);
		bytes = strlen(t);
		free(t);
		json_decref(o);
	}
	store_close(s);
	print_message("RSS +%ld KiB over 4,000 changes of a %zu-byte image\n", grew, bytes);
	if (grew > (long)(4000 * bytes * 2 / 1024))
		fail_msg("RSS grew by %ld KiB for 4,000 changes of %zu bytes (%.1f times the text)",
		         grew, bytes, grew * 1024.0 / (4000.0 * bytes));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_text_watcher_gets_the_stored_text_and_the_selectable_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_text_watcher_with_selector_gets_deleted_on_leaving,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_history_memory_is_its_text, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
