/*
 * store: the fenced view (store_fenced_open) that a replica's controllers
 * write through.  While the fence's revision is the leader key's mod_rev
 * a write lands; once the key was written again (another replica leads)
 * or the fence holds a stale revision, the write is VIM_EFENCED, the
 * object stays as it was and no watcher hears of it; a closed fence (rev
 * 0) or one past its deadline is refused before any write; reads are the
 * base store's.  These run on the tests' backend (tmpdb: sqlite, and etcd
 * under VIM_TEST_STORE=etcd).  The leader key here is a Namespace: any
 * key's mod_rev is a fence, and one the store itself writes needs no
 * backend of its own.  The last cases count the layer's kv writes through
 * a spy over the SQLite kv: the fence rides on every one of them, and a
 * fenced write is never retried.
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
#include <curl/curl.h>

#include "core/timeutil.h"
#include "store/object.h"
#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"
#define NS "namespaces"
#define LEADER "leader-key"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("fenced");
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

static int64_t rv_of(const json_t *o)
{
	const char *rv = meta(o, "resourceVersion");

	return rv ? strtoll(rv, NULL, 10) : 0;
}

static json_t *vi(const char *name)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	                 "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	                 "name", name, "namespace", "ns", "spec", "dataSource", "type", "Upload");
}

/* Creates the leader key; its mod_rev. */
static int64_t lead(struct store *s)
{
	json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", LEADER), *out = NULL;
	struct vim_err err;
	int64_t rev;

	store_namespace_defaults(ns);
	if (store_create(s, NS, ns, &out, &err) != 0)
		fail_msg("create the leader key: %s", err.msg);
	rev = rv_of(out);
	json_decref(ns);
	json_decref(out);
	assert_true(rev > 0);
	return rev;
}

/* Another replica takes the key over: it is written again; its new mod_rev. */
static int64_t take_over(struct store *s)
{
	json_t *ns = NULL, *out = NULL;
	struct vim_err err;
	int64_t rev;

	assert_int_equal(store_get(s, NS, NULL, LEADER, &ns, &err), 0);
	json_object_set_new(json_object_get(ns, "metadata"), "labels",
	                    json_pack("{s:s}", "holder", "other"));
	if (store_update(s, NS, ns, &out, &err) != 0)
		fail_msg("rewrite the leader key: %s", err.msg);
	rev = rv_of(out);
	json_decref(ns);
	json_decref(out);
	return rev;
}

static json_t *must_create(struct store *s, const char *name)
{
	json_t *in = vi(name), *out = NULL;
	struct vim_err err;

	if (store_create(s, VI, in, &out, &err) != 0)
		fail_msg("create %s: %s", name, err.msg);
	json_decref(in);
	return out;
}

/* obj with status.phase = phase (a new object). */
static json_t *with_phase(const json_t *obj, const char *phase)
{
	json_t *c = json_deep_copy(obj);

	json_object_set_new(c, "status", json_pack("{s:s}", "phase", phase));
	return c;
}

static json_t *must_get(struct store *s, const char *name)
{
	json_t *got = NULL;
	struct vim_err err;

	if (store_get(s, VI, "ns", name, &got, &err) != 0)
		fail_msg("get %s: %s", name, err.msg);
	return got;
}

static const char *phase_of(const json_t *o)
{
	return json_string_value(json_object_get(json_object_get(o, "status"), "phase"));
}

static struct store *view_of(struct store *base, struct store_fence *f)
{
	struct store *v = NULL;
	struct vim_err err;

	if (store_fenced_open(&v, base, f, &err) != 0)
		fail_msg("fenced open: %s", err.msg);
	return v;
}

/* ---- on the tests' backend ------------------------------------------------------------ */

static void test_a_status_write_through_the_view_lands_while_leading(void **state)
{
	struct store *s = tmpdb_open_store(), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	json_t *obj, *in, *out = NULL, *got;
	struct vim_err err;
	(void)state;

	atomic_store(&f.rev, lead(s));
	atomic_store(&f.until_ms, vim_mono_ms() + 60000);
	v = view_of(s, &f);
	obj = must_create(s, "a");
	in = with_phase(obj, "Ready");
	if (store_update_status(v, VI, in, &out, &err) != 0)
		fail_msg("fenced update_status: %s", err.msg);
	assert_true(rv_of(out) > rv_of(obj));
	got = must_get(s, "a");
	assert_string_equal(phase_of(got), "Ready");
	assert_int_equal(rv_of(got), rv_of(out));
	json_decref(got);
	json_decref(out);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

/* The next event of w, after one write of base that must be it. */
static void next_is(struct store_watch *w, const char *name, const char *phase)
{
	struct store_event ev = {0};
	struct vim_err err;

	if (store_watch_next(w, 5000, &ev, &err) != 1)
		fail_msg("no event for %s", name);
	assert_string_equal(meta(ev.object, "name"), name);
	assert_string_equal(phase_of(ev.object), phase);
	json_decref(ev.object);
	free(ev.text);
}

static void test_a_stale_fence_writes_nothing_and_no_watcher_hears_of_it(void **state)
{
	struct store *s = tmpdb_open_store(), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	struct store_watch *w = NULL;
	json_t *obj, *in, *out = NULL, *got;
	struct vim_err err;
	int64_t mine = lead(s), before;
	(void)state;

	atomic_store(&f.rev, mine);
	v = view_of(s, &f);
	obj = must_create(s, "a");
	assert_int_equal(
	    store_watch(s, VI,
	                &(struct store_watch_opts){.ns = "ns", .resource_version = rv_of(obj)}, &w,
	                &err),
	    0);
	in = with_phase(obj, "Ready");
	/* a revision the key never had (the keeper's value gone stale) */
	atomic_store(&f.rev, mine - 1);
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_null(out);
	assert_non_null(strstr(err.msg, LEADER));
	assert_non_null(strstr(err.msg, "this replica no longer leads"));
	/* the key written again by another replica: ours is stale */
	atomic_store(&f.rev, mine);
	take_over(s);
	before = tmpdb_store_rv(s);
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_non_null(strstr(err.msg, LEADER));
	assert_non_null(strstr(err.msg, "this replica no longer leads"));
	/* and without a resourceVersion (the layer retries lost compares) */
	json_object_del(json_object_get(in, "metadata"), "resourceVersion");
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	json_object_set_new(json_object_get(in, "metadata"), "labels",
	                    json_pack("{s:s}", "changed", "yes"));
	assert_int_equal(store_update(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(tmpdb_store_rv(s), before);
	got = must_get(s, "a");
	assert_int_equal(rv_of(got), rv_of(obj));
	assert_null(phase_of(got));
	json_decref(got);
	/* the watcher's next event is the unfenced write after them */
	json_decref(in);
	in = with_phase(obj, "Failed");
	assert_int_equal(store_update_status(s, VI, in, &out, &err), 0);
	json_decref(out);
	next_is(w, "a", "Failed");
	store_watch_free(w);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

static void test_a_closed_or_lapsed_fence_is_refused_before_any_write(void **state)
{
	struct store *s = tmpdb_open_store(), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	struct store_write_opts dry = {.dry_run = true};
	json_t *obj, *in, *fresh = vi("b"), *out = NULL;
	struct vim_err err;
	bool deleted = true;
	int64_t mine = lead(s), before;
	(void)state;

	v = view_of(s, &f); /* rev 0: not leading */
	obj = must_create(s, "a");
	in = with_phase(obj, "Ready");
	before = tmpdb_store_rv(s);
	assert_int_equal(store_create(v, VI, fresh, &out, &err), VIM_EFENCED);
	assert_non_null(strstr(err.msg, "this replica no longer leads"));
	assert_int_equal(store_update(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(
	    store_delete(v, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
	                 &out, &deleted, &err),
	    VIM_EFENCED);
	assert_false(deleted);
	assert_int_equal(store_event_record(v,
	                                    &(struct store_event_rec){.involved = obj,
	                                                              .type = "Normal",
	                                                              .reason = "Fenced",
	                                                              .message = "m",
	                                                              .now = vim_time_now()},
	                                    &err),
	                 VIM_EFENCED);
	/* leading, but past the deadline: the lease may have lapsed unseen */
	atomic_store(&f.rev, mine);
	atomic_store(&f.until_ms, vim_mono_ms() - 1);
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_non_null(strstr(err.msg, "deadline"));
	assert_int_equal(tmpdb_store_rv(s), before);
	/* a dry run writes nothing: it is not fenced */
	assert_int_equal(store_update_status_opts(v, VI, in, &dry, &out, &err), 0);
	assert_string_equal(phase_of(out), "Ready");
	json_decref(out);
	assert_int_equal(store_create_opts(v, VI, fresh, &dry, &out, &err), 0);
	json_decref(out);
	assert_int_equal(tmpdb_store_rv(s), before);
	/* the deadline moved on: through again */
	atomic_store(&f.until_ms, vim_mono_ms() + 60000);
	assert_int_equal(store_update_status(v, VI, in, &out, &err), 0);
	json_decref(out);
	json_decref(fresh);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

static int count_item(void *arg, const char *json, size_t len)
{
	(void)json, (void)len;
	++*(int *)arg;
	return 0;
}

static void test_reads_through_the_view_are_the_base_stores(void **state)
{
	struct store *s = tmpdb_open_store(), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	struct store_list_meta lm;
	struct store_watch *w = NULL;
	json_t *obj, *got = NULL, *items = NULL, *in, *out = NULL;
	struct vim_err err;
	size_t watchers = 0, history = 0;
	int n = 0;
	(void)state;

	atomic_store(&f.rev, lead(s));
	v = view_of(s, &f);
	obj = must_create(s, "a");
	assert_int_equal(store_get(v, VI, "ns", "a", &got, &err), 0);
	assert_string_equal(meta(got, "uid"), meta(obj, "uid"));
	json_decref(got);
	assert_int_equal(store_get(v, VI, "ns", "nope", &got, &err), VIM_ENOTFOUND);
	assert_int_equal(
	    store_list(v, VI, &(struct store_list_opts){.ns = "ns"}, count_item, &n, &lm, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_list_json(v, VI, NULL, &items, &lm, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	assert_int_equal(store_health(v, &err), 0);
	assert_int_equal(
	    store_watch(v, VI,
	                &(struct store_watch_opts){.ns = "ns", .resource_version = rv_of(obj)}, &w,
	                &err),
	    0);
	store_watch_stats(v, &watchers, &history);
	assert_true(watchers >= 1);
	/* a fenced write, seen by the view's own watch */
	in = with_phase(obj, "Ready");
	assert_int_equal(store_update_status(v, VI, in, &out, &err), 0);
	next_is(w, "a", "Ready");
	for (int i = 0; i < 100 && store_current_rv(v) < rv_of(out); i++)
		usleep(20 * 1000); /* a watch cache (etcd) sees it when its watch does */
	assert_int_equal(store_current_rv(v), store_current_rv(s));
	assert_true(store_current_rv(v) >= rv_of(out));
	json_decref(out);
	/* a restore is the operator's, before the API serves */
	assert_int_equal(store_restore(v, VI, obj, &out, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "a fenced view does not restore"));
	store_watch_free(w);
	/* closing the view leaves the base store open */
	store_close(v);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	json_decref(got);
	json_decref(in);
	json_decref(obj);
	store_close(s);
}

static void test_a_finalized_delete_through_the_view_is_fenced_to_the_end(void **state)
{
	struct store *s = tmpdb_open_store(), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	json_t *in = vi("held"), *obj = NULL, *out = NULL, *got;
	struct vim_err err;
	bool deleted = true;
	int64_t mine;
	(void)state;

	atomic_store(&f.rev, (mine = lead(s)));
	v = view_of(s, &f);
	json_object_set_new(json_object_get(in, "metadata"), "finalizers", json_pack("[s]", "x/y"));
	assert_int_equal(store_create(v, VI, in, &obj, &err), 0);
	assert_int_equal(
	    store_delete(v, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "held"},
	                 &out, &deleted, &err),
	    0);
	assert_false(deleted);
	assert_non_null(meta(out, "deletionTimestamp"));
	json_decref(obj);
	obj = out;
	out = NULL;
	/* the finalizer's removal deletes it: not from a deposed leader */
	json_object_set_new(json_object_get(obj, "metadata"), "finalizers", json_array());
	take_over(s);
	assert_int_equal(store_update(v, VI, obj, &out, &err), VIM_EFENCED);
	got = must_get(s, "held");
	assert_non_null(meta(got, "deletionTimestamp"));
	json_decref(got);
	/* the new leader's fence lets it go */
	assert_int_equal(store_get(s, NS, NULL, LEADER, &got, &err), 0);
	atomic_store(&f.rev, rv_of(got));
	json_decref(got);
	assert_int_equal(store_update(v, VI, obj, &out, &err), 0);
	json_decref(out);
	assert_int_equal(store_get(s, VI, "ns", "held", &got, &err), VIM_ENOTFOUND);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

/* ---- the layer's kv writes, counted (SQLite) ---------------------------------------- */

#define SPY_MAX 32

struct spy {
	struct store_kv base;
	struct store_kv_ops ops;
	struct store_kv *inner;
	int writes;
	struct {
		char key[96], fence[96];
		int64_t fence_rev;
	} w[SPY_MAX];
};

static int spy_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
                     struct vim_err *err)
{
	struct spy *sp = (struct spy *)kv;

	if (sp->writes < SPY_MAX) {
		snprintf(sp->w[sp->writes].key, sizeof(sp->w[0].key), "%s/%s", w->key.resource,
		         w->key.name);
		snprintf(sp->w[sp->writes].fence, sizeof(sp->w[0].fence), "%s/%s",
		         w->fence.resource ? w->fence.resource : "",
		         w->fence.name ? w->fence.name : "");
		sp->w[sp->writes].fence_rev = w->fence_rev;
	}
	sp->writes++;
	return sp->inner->ops->write(sp->inner, w, rev, err);
}

/* The reads pass through with the inner backend as theirs. */
static int spy_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
                   struct vim_err *err)
{
	struct store_kv *in = ((struct spy *)kv)->inner;

	return in->ops->get(in, key, out, err);
}

static int spy_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn,
                     void *arg, struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct store_kv *in = ((struct spy *)kv)->inner;

	return in->ops->range(in, r, fn, arg, meta, err);
}

static int spy_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err)
{
	struct store_kv *in = ((struct spy *)kv)->inner;

	return in->ops->current_rev(in, rev, err);
}

static void spy_close(struct store_kv *kv)
{
	struct spy *sp = (struct spy *)kv;

	sp->inner->ops->close(sp->inner);
	free(sp);
}

static struct store *spy_open(struct spy **out)
{
	struct spy *sp = calloc(1, sizeof(*sp));
	struct store *s = NULL;
	struct vim_err err;

	assert_non_null(sp);
	if (store_kv_sqlite_open(&sp->inner, tmpdb_path, &err) != 0)
		fail_msg("open: %s", err.msg);
	sp->ops = *sp->inner->ops;
	sp->ops.get = spy_get;
	sp->ops.range = spy_range;
	sp->ops.current_rev = spy_current_rev;
	sp->ops.write = spy_write;
	sp->ops.close = spy_close;
	sp->base.ops = &sp->ops;
	if (store_object_open(&s, &sp->base, NULL, &err) != 0)
		fail_msg("open: %s", err.msg);
	*out = sp;
	return s;
}

static void test_every_kv_write_of_the_view_carries_the_fence(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	json_t *in = vi("a"), *obj = NULL, *st, *out = NULL;
	struct vim_err err;
	bool deleted = false;
	int64_t mine = lead(s);
	int first;
	(void)state;

	atomic_store(&f.rev, mine);
	v = view_of(s, &f);
	first = sp->writes;
	json_object_set_new(json_object_get(in, "metadata"), "finalizers", json_pack("[s]", "x/y"));
	assert_int_equal(store_create(v, VI, in, &obj, &err), 0);
	st = with_phase(obj, "Ready");
	assert_int_equal(store_update_status(v, VI, st, &out, &err), 0);
	json_decref(obj);
	obj = out;
	assert_int_equal(store_event_record(v,
	                                    &(struct store_event_rec){.involved = obj,
	                                                              .type = "Normal",
	                                                              .reason = "Ready",
	                                                              .message = "m",
	                                                              .now = vim_time_now()},
	                                    &err),
	                 0);
	assert_int_equal(
	    store_delete(v, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
	                 &out, &deleted, &err),
	    0);
	json_decref(obj);
	obj = out;
	json_object_set_new(json_object_get(obj, "metadata"), "finalizers", json_array());
	assert_int_equal(store_update(v, VI, obj, &out, &err), 0);
	json_decref(out);
	/* create, status, the Event, deletionTimestamp, the delete itself */
	assert_int_equal(sp->writes - first, 5);
	for (int i = first; i < sp->writes; i++) {
		assert_string_equal(sp->w[i].fence, NS "/" LEADER);
		assert_int_equal(sp->w[i].fence_rev, mine);
	}
	assert_non_null(strstr(sp->w[first + 2].key, "events/"));
	/* the base store's own writes are not fenced */
	first = sp->writes;
	take_over(s);
	assert_int_equal(sp->writes - first, 1);
	assert_string_equal(sp->w[first].fence, "/");
	json_decref(st);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

static void test_a_fenced_write_is_sent_once_and_never_retried(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp), *v;
	struct store_fence f = {.resource = NS, .name = LEADER};
	json_t *obj, *in, *out = NULL;
	struct vim_err err;
	int64_t mine = lead(s);
	int first;
	(void)state;

	v = view_of(s, &f);
	obj = must_create(s, "a");
	in = with_phase(obj, "Ready");
	json_object_del(json_object_get(in, "metadata"), "resourceVersion");
	/* closed: no write at all */
	first = sp->writes;
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(sp->writes, first);
	/* stale: one write, refused by the backend, and no second try (a
	 * lost compare without a resourceVersion would read and try again) */
	atomic_store(&f.rev, mine);
	take_over(s);
	first = sp->writes;
	assert_int_equal(store_update_status(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(sp->writes - first, 1);
	json_object_set_new(json_object_get(in, "metadata"), "labels",
	                    json_pack("{s:s}", "changed", "yes"));
	first = sp->writes;
	assert_int_equal(store_update(v, VI, in, &out, &err), VIM_EFENCED);
	assert_int_equal(sp->writes - first, 1);
	json_decref(in);
	json_decref(obj);
	store_close(v);
	store_close(s);
}

static void test_a_fenced_view_needs_a_fence_with_a_key(void **state)
{
	struct store *s = tmpdb_open_store(), *v = NULL;
	struct store_fence nokey = {.resource = NS};
	struct vim_err err;
	(void)state;

	assert_int_equal(store_fenced_open(&v, s, NULL, &err), VIM_EINVAL);
	assert_int_equal(store_fenced_open(&v, s, &nokey, &err), VIM_EINVAL);
	assert_null(v);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_status_write_through_the_view_lands_while_leading, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_stale_fence_writes_nothing_and_no_watcher_hears_of_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_closed_or_lapsed_fence_is_refused_before_any_write, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_reads_through_the_view_are_the_base_stores, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_finalized_delete_through_the_view_is_fenced_to_the_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_every_kv_write_of_the_view_carries_the_fence,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_fenced_write_is_sent_once_and_never_retried,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_fenced_view_needs_a_fence_with_a_key, setup,
	                                    teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
