/* model/managed_fields' model_mf_own, the controllers' status writes:
 * it shares the entries it cannot change with the live object and keeps
 * the manager's previous fieldsV1 when the set of fields is the same.
 * Each kind of write is checked against the entries computed afresh
 * (every entry copied, minus the set, as before the reuse), and the live
 * entries are checked to be left as they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/timeutil.h"
#include "model/fieldset.h"
#include "model/managed_fields.h"

#define AV "virtualization.deckhouse.io/v1alpha2"

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fail_msg("bad JSON in test: %s: %s", e.text, text);
	return j;
}

static const char *str(const json_t *e, const char *key)
{
	const char *s = json_string_value(json_object_get(e, key));
	return s ? s : "";
}

static bool is_mine(const json_t *e, const struct model_mf_write *w)
{
	return strcmp(str(e, "manager"), w->manager) == 0 &&
	       strcmp(str(e, "operation"), "Update") == 0 &&
	       strcmp(str(e, "subresource"), "status") == 0;
}

static int order(const void *pa, const void *pb)
{
	const json_t *a = *(const json_t *const *)pa, *b = *(const json_t *const *)pb;
	static const char *const keys[] = {"operation", "time", "manager", "apiVersion",
	                                   "subresource"};
	size_t i;
	int d;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((d = strcmp(str(a, keys[i]), str(b, keys[i]))) != 0)
			return d;
	return 0;
}

/* The entries as computed afresh: every live entry deep-copied, the
 * manager's fields replaced by the set, everyone else's minus the set,
 * empty entries dropped, kube's order. */
static json_t *fresh_entries(const json_t *next, const json_t *live, const struct model_mf_write *w)
{
	json_t *set = model_mf_set_of(next, w->scope), *out = json_array(), *e, *v[16];
	char t[VIM_TIME_TEXT_MAX];
	bool mine = false;
	size_t i, n = 0;

	vim_time_format(w->now, t, sizeof(t));
	json_array_foreach(live, i, e)
	{
		json_t *copy = json_deep_copy(e), *es, *left;

		if (is_mine(e, w)) {
			mine = true;
			json_object_set_new(copy, "time", json_string(t));
			json_object_set_new(copy, "apiVersion", json_string(w->api_version));
			left = json_incref(set);
		} else {
			es = model_fs_from_fields(json_object_get(e, "fieldsV1"));
			left = model_fs_sub(es, set);
			json_decref(es);
		}
		json_object_set_new(copy, "fieldsV1", model_fs_to_fields(left));
		json_decref(left);
		if (json_object_size(json_object_get(copy, "fieldsV1")) && n < 16)
			v[n++] = copy;
		else
			json_decref(copy);
	}
	if (!mine)
		v[n++] = json_pack("{ss ss ss ss ss so ss}", "manager", w->manager, "operation",
		                   "Update", "apiVersion", w->api_version, "time", t, "fieldsType",
		                   "FieldsV1", "fieldsV1", model_fs_to_fields(set), "subresource",
		                   "status");
	qsort(v, n, sizeof(v[0]), order);
	for (i = 0; i < n; i++)
		json_array_append_new(out, v[i]);
	json_decref(set);
	return out;
}

static const json_t *entries_of(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "managedFields");
}

static const json_t *mine_of(const json_t *entries, const struct model_mf_write *w)
{
	const json_t *e;
	size_t i;

	json_array_foreach(entries, i, e) if (is_mine(e, w)) return e;
	return NULL;
}

static const json_t *named(const json_t *entries, const char *manager)
{
	const json_t *e;
	size_t i;

	json_array_foreach(entries, i, e) if (strcmp(str(e, "manager"), manager) == 0) return e;
	return NULL;
}

/* One status write of status_text over the live object's entries:
 * model_mf_own's entries equal the fresh ones, and live's are unchanged. */
static json_t *own_checked(const json_t *live, const char *status_text, int64_t now)
{
	struct model_mf_write w = {
	    .manager = "vimaged", .api_version = AV, .scope = MODEL_MF_SCOPE_STATUS, .now = now};
	const json_t *le = entries_of(live);
	json_t *before = json_deep_copy(le);
	json_t *next = json_pack("{s:{s:s,s:s},s:o}", "metadata", "name", "a", "namespace", "ns",
	                         "status", parse(status_text));
	json_t *want = fresh_entries(next, le ? le : NULL, &w);

	assert_int_equal(model_mf_own(next, le, &w), 0);
	if (!json_equal(entries_of(next), want)) {
		char *g = json_dumps(entries_of(next), JSON_COMPACT),
		     *x = json_dumps(want, JSON_COMPACT);
		fail_msg("reused entries differ from fresh ones\n got %s\nwant %s", g, x);
	}
	assert_true(le == NULL || json_equal(le, before)); /* live left as it was */
	json_decref(want);
	json_decref(before);
	return next;
}

static json_t *live_with(const char *entries_text)
{
	return json_pack("{s:{s:s,s:s,s:o},s:{}}", "metadata", "name", "a", "namespace", "ns",
	                 "managedFields", parse(entries_text), "status");
}

#define CREATE                                                                                     \
	"{\"manager\":\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":\"" AV            \
	"\",\"time\":\"2026-12-01T10:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"           \
	"{\"f:spec\":{\".\":{},\"f:dataSource\":{\".\":{},\"f:type\":{}}}}}"
#define FINALIZER                                                                                  \
	"{\"manager\":\"vimaged\",\"operation\":\"Update\",\"apiVersion\":\"" AV                   \
	"\",\"time\":\"2026-12-01T10:00:01Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"           \
	"{\"f:metadata\":{\"f:finalizers\":{\".\":{},\"v:\\\"cleanup\\\"\":{}}}}}"
#define READY "{\"phase\":\"Ready\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}"
#define LOST                                                                                       \
	"{\"phase\":\"ImageLost\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\","       \
	"\"reason\":\"ImageLost\"}]}"

/* The controllers' writes in the order an image goes through them: the
 * first status write (no entry of its own yet), a write that adds fields,
 * one that changes only values (the previous fieldsV1 is kept, by
 * reference), one that removes fields. */
static void test_status_writes_equal_fresh_entries_and_reuse_same_sets(void **state)
{
	struct model_mf_write w = {.manager = "vimaged", .scope = MODEL_MF_SCOPE_STATUS};
	json_t *live = live_with("[" CREATE "," FINALIZER "]"), *next, *prev;
	(void)state;

	next = own_checked(live, "{\"phase\":\"Pending\"}", 1764600000);
	json_decref(live);
	live = next;
	next = own_checked(live, READY, 1764600001); /* adds conditions */
	json_decref(live);
	live = next;
	next = own_checked(live, LOST, 1764600002); /* adds reason: a new set */
	json_decref(live);
	live = next;
	prev = json_incref(live);
	next = own_checked(live,
	                   "{\"phase\":\"ImageLost\",\"conditions\":[{\"type\":\"Ready\","
	                   "\"status\":\"False\",\"reason\":\"Other\"}]}",
	                   1764600003); /* values only */
	/* the same set: the previous fieldsV1, not a copy; the entries that
	 * cannot own status fields are the live ones themselves */
	assert_ptr_equal(json_object_get(mine_of(entries_of(next), &w), "fieldsV1"),
	                 json_object_get(mine_of(entries_of(prev), &w), "fieldsV1"));
	assert_ptr_equal(named(entries_of(next), "kubectl-create"),
	                 named(entries_of(prev), "kubectl-create"));
	assert_non_null(named(entries_of(next), "kubectl-create"));
	json_decref(prev);
	json_decref(live);
	live = next;
	next = own_checked(live, "{\"phase\":\"Ready\"}", 1764600004); /* removes fields */
	json_decref(live);
	json_decref(next);
}

/* Another manager's status fields (a kubectl edit of /status, an apply of
 * status) are taken from it; an entry of another fieldsType owns nothing
 * and goes, as when computed afresh. */
static void test_status_write_takes_other_managers_status_fields(void **state)
{
	json_t *live =
	    live_with("[" CREATE ","
	              "{\"manager\":\"kubectl-edit\",\"operation\":\"Update\",\"apiVersion\":\"" AV
	              "\",\"time\":\"2026-12-01T10:00:02Z\",\"subresource\":\"status\","
	              "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\"f:phase\":{},"
	              "\"f:progress\":{}}}},"
	              "{\"manager\":\"ops\",\"operation\":\"Apply\",\"apiVersion\":\"" AV
	              "\",\"time\":\"2026-12-01T10:00:03Z\",\"fieldsType\":\"FieldsV1\","
	              "\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\"f:team\":{}}},"
	              "\"f:status\":{\"f:phase\":{}}}},"
	              "{\"manager\":\"old\",\"operation\":\"Update\",\"apiVersion\":\"v0\","
	              "\"time\":\"2026-12-01T10:00:04Z\",\"fieldsType\":\"Other\"}]");
	json_t *next = own_checked(live, READY, 1764600010), *again;
	(void)state;

	/* kubectl-edit keeps only progress, ops only its label */
	assert_int_equal(json_array_size(entries_of(next)), 4);
	again = own_checked(next, LOST, 1764600011);
	json_decref(again);
	json_decref(next);
	json_decref(live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_status_writes_equal_fresh_entries_and_reuse_same_sets),
	    cmocka_unit_test(test_status_write_takes_other_managers_status_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
