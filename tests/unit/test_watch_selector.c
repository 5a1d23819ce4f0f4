/*
 * Selector watches as kube's cacher sends them: a change that moves an
 * object into a watcher's label or field selection is ADDED, out of it
 * DELETED (with the previous content and the change's resourceVersion),
 * within it MODIFIED, and outside it nothing — so an informer with a
 * selector drops the objects that leave it.  Through the real SQLite
 * store, live and replayed from the history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("watchsel");
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

static const char *label(const json_t *o)
{
	return json_string_value(
	    json_object_get(json_object_get(json_object_get(o, "metadata"), "labels"), "tier"));
}

static const char *phase(const json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
}

static json_t *create(struct store *s, const char *name, const char *tier)
{
	json_t *in = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	                       "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                       "metadata", "name", name, "namespace", "ns", "labels", "tier", tier,
	                       "spec", "dataSource", "type", "Upload");
	json_t *out = NULL;
	struct vim_err err;
	if (store_create(s, VI, in, &out, &err) != 0)
		fail_msg("create: %s", err.msg);
	json_decref(in);
	return out;
}

/* Sets the tier label (and a spec change when tier is unchanged). */
static json_t *relabel(struct store *s, json_t *cur, const char *tier)
{
	json_t *in = json_deep_copy(cur), *out = NULL;
	struct vim_err err;
	json_object_set_new(json_object_get(json_object_get(in, "metadata"), "labels"), "tier",
	                    json_string(tier));
	json_object_set_new(json_object_get(in, "spec"), "note",
	                    json_string(meta(cur, "resourceVersion")));
	if (store_update(s, VI, in, &out, &err) != 0)
		fail_msg("update: %s", err.msg);
	json_decref(in);
	json_decref(cur);
	return out;
}

static json_t *set_phase(struct store *s, json_t *cur, const char *ph)
{
	json_t *in = json_deep_copy(cur), *out = NULL;
	struct vim_err err;
	static int progress;
	/* a progress that always moves: a status update with the same phase
	 * is a real change that no phase selector can tell from the last */
	json_object_set_new(in, "status",
	                    json_pack("{s:s,s:i}", "phase", ph, "progress", ++progress));
	if (store_update_status(s, VI, in, &out, &err) != 0)
		fail_msg("update status: %s", err.msg);
	json_decref(in);
	json_decref(cur);
	return out;
}

/* The next event: its type, and the object's tier / phase and RV checked. */
static void expect(struct store_watch *w, enum store_event_type type, const char *tier,
                   const char *ph, const char *rv)
{
	struct store_event ev;
	struct vim_err err;
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_string_equal(store_event_type_name(ev.type), store_event_type_name(type));
	if (tier)
		assert_string_equal(label(ev.object), tier);
	if (ph)
		assert_string_equal(phase(ev.object), ph);
	assert_string_equal(meta(ev.object, "resourceVersion"), rv);
	assert_string_equal(meta(ev.object, "name"), "a");
	json_decref(ev.object);
}

static void expect_nothing(struct store_watch *w)
{
	struct store_event ev;
	struct vim_err err;
	assert_int_equal(store_watch_next(w, 100, &ev, &err), 0);
}

static void test_label_selector_sees_objects_move_in_and_out(void **state)
{
	struct store *s = tmpdb_open_store();
	struct store_watch_opts wo = {.label_selector = "tier=web"}, replay = wo;
	struct store_watch *w = NULL, *r = NULL;
	struct vim_err err;
	json_t *a, *b, *d = NULL, *z = create(s, "z", "other"); /* RV 1: resume needs > 0 */
	char rvs[6][32];
	bool deleted = false;
	(void)state;

	assert_int_equal(store_watch(s, VI, &wo, &w, &err), 0);
	a = create(s, "a", "web");
	snprintf(rvs[0], sizeof(rvs[0]), "%s", meta(a, "resourceVersion"));
	replay.resource_version = strtoll(rvs[0], NULL, 10) - 1;
	expect(w, STORE_ADDED, "web", NULL, rvs[0]);
	a = relabel(s, a, "db"); /* out: DELETED with the old labels, the new RV */
	snprintf(rvs[1], sizeof(rvs[1]), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_DELETED, "web", NULL, rvs[1]);
	a = relabel(s, a, "db"); /* stays out: nothing */
	b = create(s, "b", "db");
	expect_nothing(w);
	a = relabel(s, a, "web"); /* back in: ADDED, not MODIFIED */
	snprintf(rvs[2], sizeof(rvs[2]), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_ADDED, "web", NULL, rvs[2]);
	a = relabel(s, a, "web"); /* stays in: MODIFIED */
	snprintf(rvs[3], sizeof(rvs[3]), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_MODIFIED, "web", NULL, rvs[3]);
	a = relabel(s, a, "db");
	snprintf(rvs[4], sizeof(rvs[4]), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_DELETED, "web", NULL, rvs[4]);
	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
	                 &d, &deleted, &err),
	    0);
	assert_true(deleted);
	expect_nothing(w); /* deleted while out of the selection */

	/* a watcher resuming from before the create replays the same story */
	assert_int_equal(store_watch(s, VI, &replay, &r, &err), 0);
	expect(r, STORE_ADDED, "web", NULL, rvs[0]);
	expect(r, STORE_DELETED, "web", NULL, rvs[1]);
	expect(r, STORE_ADDED, "web", NULL, rvs[2]);
	expect(r, STORE_MODIFIED, "web", NULL, rvs[3]);
	expect(r, STORE_DELETED, "web", NULL, rvs[4]);
	expect_nothing(r);
	store_watch_free(r);
	store_watch_free(w);
	json_decref(a);
	json_decref(b);
	json_decref(d);
	json_decref(z);
	store_close(s);
}

/* status.phase=Ready must see an image go ImageLost as DELETED. */
static void test_phase_field_selector_sees_the_phase_leave(void **state)
{
	struct store *s = tmpdb_open_store();
	struct store_watch_opts wo = {.field_selector = "status.phase=Ready"};
	struct store_watch *w = NULL;
	struct vim_err err;
	json_t *a;
	char rv[32];
	(void)state;

	assert_int_equal(store_watch(s, VI, &wo, &w, &err), 0);
	a = create(s, "a", "web");
	a = set_phase(s, a, "Pending");
	expect_nothing(w);
	a = set_phase(s, a, "Ready");
	snprintf(rv, sizeof(rv), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_ADDED, NULL, "Ready", rv);
	a = set_phase(s, a, "Ready"); /* stays Ready: MODIFIED */
	snprintf(rv, sizeof(rv), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_MODIFIED, NULL, "Ready", rv);
	a = relabel(s, a, "db"); /* a spec change keeps it Ready */
	snprintf(rv, sizeof(rv), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_MODIFIED, NULL, "Ready", rv);
	a = set_phase(s, a, "ImageLost");
	snprintf(rv, sizeof(rv), "%s", meta(a, "resourceVersion"));
	expect(w, STORE_DELETED, "db", "Ready", rv);
	a = set_phase(s, a, "Failed");
	expect_nothing(w);
	store_watch_free(w);
	json_decref(a);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_label_selector_sees_objects_move_in_and_out, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_phase_field_selector_sees_the_phase_leave, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
