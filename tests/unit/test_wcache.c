/* store/wcache: the watch cache over a remote backend, against the real
 * etcd (tests/unit/etcd_fixture starts one on loopback ports it picks):
 * the first read, changes through the backend reaching lists and hub
 * watchers with the right type and resourceVersion, the resourceVersion
 * rules of a list and a watch, a compaction while the backend's watch was
 * away (read everything again, every watcher Gone), etcd down and back,
 * a slow list that does not hold writes up, and what a large catalog
 * costs.  The hub's reset and the table's order are pinned without etcd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/internal.h"
#include "store/wcache.h"
#include "store/wcache_internal.h"

/* ---- without etcd: the hub's reset, the table's order ------------------------------ */

static void publish(struct store_hub *h, const char *name, int64_t rv)
{
	json_t *o = json_pack("{s:{s:s,s:s}}", "metadata", "name", name, "namespace", "ns");

	store_hub_publish(h, "virtualimages", STORE_ADDED, o, NULL, rv);
	store_hub_wake(h);
}

/* store_hub_reset ends every open watch with Gone, and from then on a
 * watch may resume from the reset revision or later even though the
 * revisions after it skip numbers (a remote backend counts writes the
 * hub never sees): completeness is the floor, not the oldest change. */
static void test_hub_reset_ends_watches_and_sets_a_floor(void **state)
{
	struct store_watch_opts all = {0}, from50 = {.resource_version = 50},
	                        from100 = {.resource_version = 100};
	struct store_watch *w = NULL, *w2 = NULL;
	struct store_hub *h = NULL;
	struct store_event ev;
	struct vim_err err;

	(void)state;
	assert_int_equal(store_hub_new(&h, 0, &err), 0);
	publish(h, "a", 5);
	assert_int_equal(store_hub_watch(h, "virtualimages", &all, 5, &w, &err), 0);
	store_hub_reset(h, 100);
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), VIM_EGONE);
	store_watch_free(w);
	/* before the floor: the changes it needs are not there */
	assert_int_equal(store_hub_watch(h, "virtualimages", &from50, 100, &w, &err), VIM_EGONE);
	/* a change at 105; a watch from 100 misses nothing (101..104 were
	 * not ours) — without the floor it was Gone */
	publish(h, "b", 105);
	assert_int_equal(store_hub_watch(h, "virtualimages", &from100, 105, &w2, &err), 0);
	assert_int_equal(store_watch_next(w2, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_ADDED);
	assert_int_equal(ev.resource_version, 105);
	assert_string_equal(store_meta_str(ev.object, "name"), "b");
	json_decref(ev.object);
	store_watch_free(w2);
	store_hub_free(h);
}

static void table_put(struct wc_table *t, const char *ns, const char *name)
{
	char text[128];
	struct wc_obj *old = NULL;
	int n = snprintf(text, sizeof(text), "{\"n\":\"%s/%s\"}", ns, name);

	assert_int_equal(wc_table_put(t, ns, name, wc_obj_new(text, (size_t)n), &old), 0);
	wc_obj_unref(old);
}

/* The snapshot's keys, joined by spaces. */
static void table_keys(struct wc_table *t, const char *ns, char *out, size_t len)
{
	struct wc_obj **objs = NULL;
	size_t n = 0, i, o = 0;

	assert_int_equal(wc_table_snapshot(t, ns, &objs, &n), 0);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		json_t *j = json_loads(objs[i]->text, 0, NULL);
		o += (size_t)snprintf(out + o, len - o, "%s%s", i ? " " : "",
		                      json_string_value(json_object_get(j, "n")));
		json_decref(j);
		wc_obj_unref(objs[i]);
	}
	free(objs);
}

/* A list gives the keys in the etcd backend's order (the bytes of
 * "<ns>/<name>": "a-b/" before "a/"), keeps it through appends, deletes
 * and re-creates, and a namespace's list is that namespace only. */
static void test_table_order_is_the_bytes_of_the_key(void **state)
{
	struct wc_table t;
	struct wc_obj *old = NULL;
	char keys[512];
	char name[16];
	int i;

	(void)state;
	assert_int_equal(wc_table_init(&t, "virtualimages"), 0);
	table_put(&t, "a", "x");
	table_put(&t, "b", "z");
	table_put(&t, "a-b", "y");
	table_keys(&t, NULL, keys, sizeof(keys));
	assert_string_equal(keys, "a-b/y a/x b/z");
	table_keys(&t, "a", keys, sizeof(keys));
	assert_string_equal(keys, "a/x");
	/* appended after a sort, merged in; a deleted key gone; replaced in place */
	table_put(&t, "a", "w");
	table_put(&t, "0", "q");
	wc_table_del(&t, "b", "z", &old);
	assert_non_null(old);
	wc_obj_unref(old);
	wc_table_del(&t, "b", "z", &old);
	assert_null(old);
	table_put(&t, "a", "x");
	table_keys(&t, NULL, keys, sizeof(keys));
	assert_string_equal(keys, "0/q a-b/y a/w a/x");
	table_keys(&t, "b", keys, sizeof(keys));
	assert_string_equal(keys, "");
	/* many keys through the map's growth and backward-shift deletes */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%04d", i);
		table_put(&t, "m", name);
	}
	for (i = 0; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "n%04d", i);
		wc_table_del(&t, "m", name, &old);
		assert_non_null(old);
		wc_obj_unref(old);
	}
	assert_int_equal(t.live, 4 + 500);
	for (i = 1; i < 1000; i += 2) {
		snprintf(name, sizeof(name), "n%04d", i);
		wc_table_put(&t, "m", name, wc_obj_new("{}", 2), &old);
		assert_non_null(old); /* found again after the shifts */
		wc_obj_unref(old);
	}
	table_keys(&t, "a", keys, sizeof(keys));
	assert_string_equal(keys, "a/w a/x");
	wc_table_clear(&t);
}

/* An image as the controllers leave it (~1.8 KB, most of it what every
 * image repeats) is kept deflated, ~5 times smaller, and given back byte
 * for byte; a short text is kept as it is. */
static void test_text_is_kept_deflated_and_served_as_it_was(void **state)
{
	char text[4096];
	struct wc_codec z, z2;
	struct wc_obj *o, *small;
	const char *back;
	size_t len = 0;
	int n;

	(void)state;
	n = snprintf(
	    text, sizeof(text),
	    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
	    "\"metadata\":{\"name\":\"img-000123\",\"namespace\":\"bench\",\"uid\":"
	    "\"6f1c9a52-3c1e-4d0a-9a5e-000000000123\",\"resourceVersion\":\"100123\","
	    "\"generation\":1,\"creationTimestamp\":\"2026-12-02T01:00:00Z\",\"labels\":{"
	    "\"shard\":\"s11\"},\"finalizers\":[\"virtualization.deckhouse.io/vi-cleanup\"],"
	    "\"managedFields\":[{\"manager\":\"bench\",\"operation\":\"Update\",\"apiVersion\":"
	    "\"virtualization.deckhouse.io/v1alpha2\",\"time\":\"2026-12-02T01:00:00Z\","
	    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:labels\":{\".\":{},"
	    "\"f:shard\":{}}},\"f:spec\":{\".\":{},\"f:storage\":{},\"f:dataSource\":{\".\":{},"
	    "\"f:type\":{},\"f:http\":{\".\":{},\"f:url\":{}}}}}},{\"manager\":\"vimaged\","
	    "\"operation\":\"Update\",\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	    "\"time\":\"2026-12-02T01:00:01Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{"
	    "\"f:status\":{\".\":{},\"f:phase\":{},\"f:progress\":{},\"f:conditions\":{\".\":{},"
	    "\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\".\":{},\"f:type\":{},\"f:status\":{},"
	    "\"f:reason\":{},\"f:message\":{},\"f:lastTransitionTime\":{}}}}},\"subresource\":"
	    "\"status\"}]},\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{\"type\":"
	    "\"HTTP\",\"http\":{\"url\":\"http://127.0.0.1:1/img-000123.qcow2\"}}},\"status\":{"
	    "\"phase\":\"Failed\",\"progress\":\"0%%\",\"conditions\":[{\"type\":\"Ready\","
	    "\"status\":\"False\",\"reason\":\"ImportFailed\",\"message\":\"http://127.0.0.1:1/"
	    "img-000123.qcow2: Couldn't connect to server\",\"lastTransitionTime\":"
	    "\"2026-12-02T01:00:01Z\"}]}}");
	assert_true(n > 1200 && (size_t)n < sizeof(text));
	wc_codec_init(&z);
	wc_codec_init(&z2);
	o = wc_obj_pack(&z, text, (size_t)n);
	assert_non_null(o);
	print_message("an image of %d bytes is kept in %u\n", n, (unsigned)o->size);
	assert_true(o->packed);
	assert_true(o->size * 4 < (unsigned)n);
	back = wc_obj_text(&z2, o, &len); /* another thread's codec */
	assert_non_null(back);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(back, text, len);
	assert_int_equal(back[len], '\0');
	small = wc_obj_pack(&z, "{\"a\":1}", 7);
	assert_false(small->packed);
	assert_string_equal(wc_obj_text(&z2, small, &len), "{\"a\":1}");
	wc_obj_unref(o);
	wc_obj_unref(small);
	wc_codec_free(&z);
	wc_codec_free(&z2);
}

#include "etcd_fixture.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "core/timeutil.h"

#define VI "virtualimages"

/* ---- against etcd -------------------------------------------------------------------- */

static struct etcd_fx *fx; /* the process's etcd, or a test's own */

/* One test's world: its own key prefix in the shared etcd, a kv, a hub,
 * the cache over them. */
struct world {
	char prefix[64];
	struct store_kv *kv;
	struct store_hub *hub;
	struct store_reads *r;
};

static void kv_open(struct world *w)
{
	struct store_kv_etcd_opts o = {
	    .endpoints = etcd_fx_endpoints(fx), .prefix = w->prefix, .timeout_ms = 2000};
	struct vim_err err;

	if (store_kv_etcd_open(&w->kv, &o, &err) < 0)
		fail_msg("etcd kv: %s", err.msg);
}

static void world_kv(struct world *w)
{
	struct vim_err err;

	memset(w, 0, sizeof(*w));
	etcd_fx_prefix(w->prefix, sizeof(w->prefix), "wcache");
	kv_open(w);
	assert_int_equal(store_hub_new(&w->hub, 0, &err), 0);
}

static void world_cache(struct world *w)
{
	struct vim_err err;

	if (store_wcache_open(&w->r, w->kv, w->hub, &err) < 0)
		fail_msg("wcache: %s", err.msg);
}

static void world_close(struct world *w)
{
	if (w->r)
		w->r->ops->close(w->r);
	store_hub_free(w->hub);
	if (w->kv)
		w->kv->ops->close(w->kv);
	memset(w, 0, sizeof(*w));
}

struct enc {
	const char *text;
};

static int encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct enc *e = arg;

	(void)rev;
	*text = e->text;
	*len = strlen(e->text);
	return 0;
}

static int64_t mod_rev(struct store_kv *kv, const char *res, const char *ns, const char *name)
{
	struct store_kv_key key = {res, ns, name};
	struct store_kv_got got = {0};
	struct vim_err err;
	int rc = kv->ops->get(kv, &key, &got, &err);

	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		fail_msg("get %s/%s: %s", ns, name, err.msg);
	free(got.value);
	return got.mod_rev;
}

/* Puts an image (labels tier=<tier>) through the kv; the write's revision. */
static int64_t kv_put(struct store_kv *kv, const char *ns, const char *name, const char *tier)
{
	char text[512];
	struct enc e = {text};
	struct store_kv_write w = {
	    .key = {VI, ns, name}, .op = STORE_KV_PUT, .encode = encode, .arg = &e};
	struct vim_err err;
	int64_t rev = 0;

	snprintf(text, sizeof(text),
	         "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	         "\"VirtualImage\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
	         "\"uid\":\"u-%s\",\"labels\":{\"tier\":\"%s\"}},\"spec\":{\"dataSource\":"
	         "{\"type\":\"HTTP\",\"http\":{\"url\":\"http://example.invalid/%s.img\"}}},"
	         "\"status\":{\"phase\":\"Ready\"}}",
	         name, ns, name, tier, name);
	w.expect_rev = mod_rev(kv, VI, ns, name);
	if (kv->ops->write(kv, &w, &rev, &err) < 0)
		fail_msg("put %s/%s: %s", ns, name, err.msg);
	return rev;
}

static int64_t kv_del(struct store_kv *kv, const char *ns, const char *name)
{
	struct store_kv_write w = {.key = {VI, ns, name}, .op = STORE_KV_DELETE};
	struct vim_err err;
	int64_t rev = 0;

	w.expect_rev = mod_rev(kv, VI, ns, name);
	if (kv->ops->write(kv, &w, &rev, &err) < 0)
		fail_msg("delete %s/%s: %s", ns, name, err.msg);
	return rev;
}

struct got {
	json_t *items;
	int delay_ms; /* per object: a slow client */
	atomic_int seen;
};

static int collect(void *arg, const char *json, size_t len)
{
	struct got *g = arg;
	json_t *o = json_loadb(json, len, 0, NULL);

	assert_non_null(o);
	json_array_append_new(g->items, o);
	atomic_fetch_add(&g->seen, 1);
	if (g->delay_ms)
		usleep((useconds_t)g->delay_ms * 1000);
	return 0;
}

/* Lists resource (rv: the resourceVersion parameter, NULL unset) into
 * *items; the list's code. */
static int list(struct world *w, const char *resource, const char *ns, const char *rv,
                const char *label, json_t **items, struct store_list_meta *meta,
                struct vim_err *err)
{
	struct store_list_opts o = {.ns = ns, .resource_version = rv, .label_selector = label};
	struct got g = {.items = json_array()};
	int rc = w->r->ops->list(w->r, resource, &o, collect, &g, meta, err);

	*items = g.items;
	return rc;
}

/* The item named name in items, or NULL. */
static json_t *item(json_t *items, const char *name)
{
	size_t i;
	json_t *o;

	json_array_foreach(items, i, o) if (strcmp(store_meta_str(o, "name"), name) == 0) return o;
	return NULL;
}

static long long item_rv(json_t *items, const char *name)
{
	json_t *o = item(items, name);

	assert_non_null(o);
	return strtoll(store_meta_str(o, "resourceVersion"), NULL, 10);
}

static struct store_watch *watch(struct world *w, const char *label, int64_t from)
{
	struct store_watch_opts o = {.label_selector = label, .resource_version = from};
	struct store_watch *sw = NULL;
	struct vim_err err;

	if (w->r->ops->watch(w->r, VI, &o, &sw, &err) < 0)
		fail_msg("watch: %s", err.msg);
	return sw;
}

static void expect_event(struct store_watch *sw, enum store_event_type type, const char *name,
                         int64_t rv)
{
	struct store_event ev;
	struct vim_err err;
	int rc = store_watch_next(sw, 5000, &ev, &err);

	if (rc != 1)
		fail_msg("watch: expected %s of %s at %lld, got %d (%s)",
		         store_event_type_name(type), name, (long long)rv, rc,
		         rc < 0 ? err.msg : "timeout");
	assert_string_equal(store_event_type_name(ev.type), store_event_type_name(type));
	assert_string_equal(store_meta_str(ev.object, "name"), name);
	assert_int_equal(ev.resource_version, rv);
	assert_int_equal(strtoll(store_meta_str(ev.object, "resourceVersion"), NULL, 10), rv);
	json_decref(ev.object);
	free(ev.text);
}

/* What was in etcd before open is in the first read, each object with its
 * mod_revision as metadata.resourceVersion, in the backend's key order,
 * and a namespace's list holds that namespace only. */
static void test_first_read_holds_what_etcd_had(void **state)
{
	struct store_list_meta meta;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	int64_t r1, r2, r3;
	size_t objects = 0, bytes = 0;

	(void)state;
	world_kv(&w);
	r1 = kv_put(w.kv, "a", "x", "gold");
	r2 = kv_put(w.kv, "a-b", "y", "gold");
	r3 = kv_put(w.kv, "b", "z", "gold");
	world_cache(&w);
	assert_int_equal(w.r->ops->current_rv(w.r), r3);
	assert_int_equal(list(&w, VI, NULL, "0", NULL, &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 3);
	assert_string_equal(store_meta_str(json_array_get(items, 0), "name"),
	                    "y"); /* "a-b/" < "a/" */
	assert_int_equal(item_rv(items, "x"), r1);
	assert_int_equal(item_rv(items, "y"), r2);
	assert_int_equal(item_rv(items, "z"), r3);
	assert_int_equal(meta.resource_version, r3);
	assert_int_equal(meta.remaining, 0);
	assert_string_equal(meta.continue_token, "");
	json_decref(items);
	assert_int_equal(list(&w, VI, "a", "0", NULL, &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_non_null(item(items, "x"));
	json_decref(items);
	store_wcache_stats(w.r, &objects, &bytes);
	assert_int_equal(objects, 3);
	assert_true(bytes > 0 && bytes < 3 * 300); /* deflated: each text is ~290 bytes */
	world_close(&w);
}

/* A put and a delete through the backend after open reach the list and
 * the hub's watchers: ADDED, MODIFIED, DELETED at the writes' revisions
 * (DELETED with the last state at the deletion's), and a watcher whose
 * label selector the change moves the object out of gets DELETED. */
static void test_changes_reach_lists_and_watchers(void **state)
{
	struct store_watch *all, *gold;
	struct store_list_meta meta;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	int64_t r1, r2, r3;

	(void)state;
	world_kv(&w);
	world_cache(&w);
	all = watch(&w, NULL, 0);
	gold = watch(&w, "tier=gold", 0);
	r1 = kv_put(w.kv, "a", "x", "gold");
	expect_event(all, STORE_ADDED, "x", r1);
	expect_event(gold, STORE_ADDED, "x", r1);
	r2 = kv_put(w.kv, "a", "x", "silver");
	expect_event(all, STORE_MODIFIED, "x", r2);
	expect_event(gold, STORE_DELETED, "x", r2);
	assert_int_equal(list(&w, VI, NULL, NULL, "tier=silver", &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(item_rv(items, "x"), r2);
	json_decref(items);
	assert_int_equal(list(&w, VI, NULL, NULL, "tier=gold", &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 0);
	json_decref(items);
	r3 = kv_del(w.kv, "a", "x");
	expect_event(all, STORE_DELETED, "x", r3);
	assert_int_equal(list(&w, VI, NULL, NULL, NULL, &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 0);
	assert_true(meta.resource_version >= r3);
	json_decref(items);
	store_watch_free(all);
	store_watch_free(gold);
	world_close(&w);
}

/* A list with resourceVersion unset sees a write made through the
 * backend just before it (a consistent read: the cache waits until it
 * has seen etcd's current revision). */
static void test_unset_rv_list_reads_its_writes(void **state)
{
	struct store_list_meta meta;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	char name[16];
	int i;

	(void)state;
	world_kv(&w);
	world_cache(&w);
	for (i = 0; i < 30; i++) {
		int64_t rev;
		snprintf(name, sizeof(name), "n%02d", i);
		rev = kv_put(w.kv, "a", name, "gold");
		if (list(&w, VI, NULL, NULL, NULL, &items, &meta, &err) < 0)
			fail_msg("list: %s", err.msg);
		assert_int_equal(json_array_size(items), (size_t)i + 1);
		assert_int_equal(item_rv(items, name), rev);
		assert_true(meta.resource_version >= rev);
		json_decref(items);
	}
	world_close(&w);
}

/* A watch from now (resourceVersion 0) starts at etcd's revision, as
 * kube's cacher starts one without resourceVersion: a write made through
 * the backend just before it is not sent to it as news; the next one is. */
static void test_watch_from_now_starts_at_etcds_revision(void **state)
{
	struct store_event ev;
	struct vim_err err;
	struct world w;
	char name[16];
	int i, rc;

	(void)state;
	world_kv(&w);
	world_cache(&w);
	for (i = 0; i < 20; i++) {
		struct store_watch *sw;
		int64_t rev;
		snprintf(name, sizeof(name), "n%02d", i);
		kv_put(w.kv, "a", name, "gold");
		sw = watch(&w, NULL, 0);
		if ((rc = store_watch_next(sw, 30, &ev, &err)) != 0)
			fail_msg("write %d came to a watch opened after it (%s at %lld)", i,
			         rc == 1 ? store_event_type_name(ev.type) : err.msg,
			         rc == 1 ? (long long)ev.resource_version : 0LL);
		rev = kv_put(w.kv, "a", name, "silver");
		expect_event(sw, STORE_MODIFIED, name, rev);
		store_watch_free(sw);
	}
	world_close(&w);
}

/* A write to a key of a resource the cache does not hold still moves its
 * revision: a consistent list after it is served from the cache at once,
 * not after a second's wait and a read of etcd. */
static void test_a_foreign_resource_moves_the_revision(void **state)
{
	char text[] = "{\"metadata\":{\"name\":\"x\",\"namespace\":\"a\"}}";
	struct enc e = {text};
	struct store_kv_write wr = {
	    .key = {"widgets", "a", "x"}, .op = STORE_KV_PUT, .encode = encode, .arg = &e};
	struct store_list_meta meta;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	int64_t rev = 0, t0;

	(void)state;
	world_kv(&w);
	world_cache(&w);
	assert_int_equal(w.kv->ops->write(w.kv, &wr, &rev, &err), 0);
	t0 = vim_mono_ms();
	if (list(&w, VI, NULL, NULL, NULL, &items, &meta, &err) < 0)
		fail_msg("list after a widget: %s", err.msg);
	assert_true(vim_mono_ms() - t0 < 900);
	assert_true(meta.resource_version >= rev);
	json_decref(items);
	world_close(&w);
}

struct later {
	struct store_kv *kv;
	int delay_ms;
};

static void *put_later(void *arg)
{
	struct later *l = arg;

	usleep((useconds_t)l->delay_ms * 1000);
	kv_put(l->kv, "a", "later", "gold");
	return NULL;
}

/* A list or watch at a resourceVersion the cache has not seen waits for
 * it, and after 3 s answers "Too large resource version" (504). */
static void test_future_rv_waits_then_times_out(void **state)
{
	struct store_watch_opts wo = {0};
	struct store_list_meta meta;
	struct store_watch *sw = NULL;
	struct later l;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	char rv[32], want[96];
	int64_t cur, t0;
	pthread_t th;

	(void)state;
	world_kv(&w);
	world_cache(&w);
	cur = w.r->ops->current_rv(w.r);
	/* the next revision comes 300 ms later: the list waits for it */
	l = (struct later){w.kv, 300};
	assert_int_equal(pthread_create(&th, NULL, put_later, &l), 0);
	snprintf(rv, sizeof(rv), "%lld", (long long)cur + 1);
	assert_int_equal(list(&w, VI, NULL, rv, NULL, &items, &meta, &err), 0);
	pthread_join(th, NULL);
	assert_non_null(item(items, "later"));
	json_decref(items);
	/* one that never comes */
	cur = w.r->ops->current_rv(w.r);
	snprintf(rv, sizeof(rv), "%lld", (long long)cur + 1000);
	t0 = vim_mono_ms();
	assert_int_equal(list(&w, VI, NULL, rv, NULL, &items, &meta, &err), VIM_ETIMEDOUT);
	json_decref(items);
	assert_true(vim_mono_ms() - t0 >= 2900);
	snprintf(want, sizeof(want), "Too large resource version: %lld, current: %lld",
	         (long long)cur + 1000, (long long)cur);
	assert_string_equal(err.msg, want);
	assert_int_equal(vim_code_http_status(VIM_ETIMEDOUT), 504);
	wo.resource_version = cur + 1000;
	assert_int_equal(w.r->ops->watch(w.r, VI, &wo, &sw, &err), VIM_ETIMEDOUT);
	assert_null(sw);
	assert_string_equal(err.msg, want);
	world_close(&w);
}

/* Changes made and compacted while the cache's etcd watch was away: the
 * watch cannot resume (etcd: compacted), so the cache reads everything
 * again and every open watch ends with Gone; lists then hold the changes
 * and a new watch gets what follows. */
static void test_compaction_while_away_relists_and_ends_watches(void **state)
{
	struct store_list_meta meta;
	struct store_watch *old, *sw;
	struct store_event ev;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	int64_t r1, r2, r3, t0;
	char body[96];
	int rc;

	(void)state;
	world_kv(&w);
	kv_put(w.kv, "a", "x", "gold");
	world_cache(&w);
	old = watch(&w, NULL, 0);
	wcache_watch_pause(w.r);
	r1 = kv_put(w.kv, "a", "new", "gold");
	r2 = kv_del(w.kv, "a", "x");
	snprintf(body, sizeof(body), "{\"revision\":\"%lld\",\"physical\":true}", (long long)r2);
	assert_int_equal(etcd_fx_post(fx, 0, "/v3/kv/compaction", body), 0);
	assert_int_equal(wcache_watch_resume(w.r, &err), 0);
	rc = store_watch_next(old, 5000, &ev, &err);
	assert_int_equal(rc, VIM_EGONE);
	store_watch_free(old);
	t0 = vim_mono_ms();
	while (w.r->ops->current_rv(w.r) < r2 && vim_mono_ms() - t0 < 5000)
		usleep(10000);
	assert_int_equal(list(&w, VI, NULL, "0", NULL, &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(item_rv(items, "new"), r1);
	assert_true(meta.resource_version >= r2);
	json_decref(items);
	/* a watch from before the read is Gone; a new one sees what follows */
	{
		struct store_watch_opts stale = {.resource_version = r1};
		assert_int_equal(w.r->ops->watch(w.r, VI, &stale, &sw, &err), VIM_EGONE);
	}
	sw = watch(&w, NULL, meta.resource_version);
	r3 = kv_put(w.kv, "a", "after", "gold");
	expect_event(sw, STORE_ADDED, "after", r3);
	store_watch_free(sw);
	world_close(&w);
}

/* etcd stopped: a consistent list fails with VIM_EUNAVAILABLE naming
 * etcd (503) while resourceVersion=0 is still served from the cache; when
 * etcd returns the watch resumes by itself and lists see new writes. */
static void test_etcd_down_then_back(void **state)
{
	struct store_list_meta meta;
	struct vim_err err;
	struct world w;
	json_t *items = NULL;
	int64_t rev = 0, t0;
	int rc = 0;

	(void)state;
	world_kv(&w);
	kv_put(w.kv, "a", "x", "gold");
	world_cache(&w);
	assert_int_equal(etcd_fx_kill(fx, 0), 0);
	rc = list(&w, VI, NULL, NULL, NULL, &items, &meta, &err);
	json_decref(items);
	assert_int_equal(rc, VIM_EUNAVAILABLE);
	assert_int_equal(vim_code_http_status(rc), 503);
	assert_non_null(strstr(err.msg, "etcd"));
	assert_int_equal(list(&w, VI, NULL, "0", NULL, &items, &meta, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	assert_int_equal(etcd_fx_restart(fx, 0), 0);
	rev = kv_put(w.kv, "a", "back", "gold");
	t0 = vim_mono_ms();
	do {
		items = NULL;
		rc = list(&w, VI, NULL, NULL, NULL, &items, &meta, &err);
		if (rc == 0 && item(items, "back"))
			break;
		json_decref(items);
		items = NULL;
		usleep(100000);
	} while (vim_mono_ms() - t0 < 15000);
	if (!items)
		fail_msg("the cache did not catch up after etcd returned: %d %s", rc, err.msg);
	assert_int_equal(item_rv(items, "back"), rev);
	json_decref(items);
	world_close(&w);
}

struct slow {
	struct world *w;
	struct got g;
	atomic_bool done;
	int rc;
};

static void *slow_list(void *arg)
{
	struct slow *s = arg;
	struct store_list_meta meta;
	struct store_list_opts o = {.resource_version = "0"};
	struct vim_err err;

	s->rc = s->w->r->ops->list(s->w->r, VI, &o, collect, &s->g, &meta, &err);
	atomic_store(&s->done, true);
	return NULL;
}

/* A list streaming to a slow client holds no lock: writes through the
 * backend keep reaching the cache (its revision moves) while it runs, and
 * the list gives the objects as they were when it started. */
static void test_slow_list_does_not_hold_writes(void **state)
{
	struct slow s = {0};
	struct world w;
	pthread_t th;
	char name[16];
	int64_t rev, t0;
	int i;

	(void)state;
	world_kv(&w);
	for (i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "n%03d", i);
		kv_put(w.kv, "a", name, "gold");
	}
	world_cache(&w);
	s.w = &w;
	s.g.items = json_array();
	s.g.delay_ms = 20; /* ~2 s in all */
	assert_int_equal(pthread_create(&th, NULL, slow_list, &s), 0);
	while (atomic_load(&s.g.seen) == 0)
		usleep(1000);
	rev = kv_put(w.kv, "a", "n000", "silver");
	kv_put(w.kv, "a", "zzz", "gold");
	t0 = vim_mono_ms();
	while (w.r->ops->current_rv(w.r) < rev && vim_mono_ms() - t0 < 1500)
		usleep(1000);
	assert_true(w.r->ops->current_rv(w.r) >= rev);
	assert_false(atomic_load(&s.done)); /* the cache moved while the list streamed */
	pthread_join(th, NULL);
	assert_int_equal(s.rc, 0);
	assert_int_equal(json_array_size(s.g.items), 100); /* its snapshot */
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(json_array_get(s.g.items, 0), "metadata"),
	                        "labels"),
	        "tier")),
	    "gold");
	json_decref(s.g.items);
	world_close(&w);
}

static long rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long pages = 0, rss = 0;

	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld %ld", &pages, &rss), 2);
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

struct filler {
	struct world *w;
	int from, to;
};

static void *fill(void *arg)
{
	struct filler *f = arg;
	char text[700], name[32];
	struct enc e = {text};
	struct vim_err err;
	int i;

	for (i = f->from; i < f->to; i++) {
		struct store_kv_write wr = {
		    .key = {VI, "", name}, .op = STORE_KV_PUT, .encode = encode, .arg = &e};
		int64_t rev;
		char ns[16];
		snprintf(ns, sizeof(ns), "ns%02d", i % 50);
		snprintf(name, sizeof(name), "image-%06d", i);
		wr.key.ns = ns;
		snprintf(text, sizeof(text),
		         "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
		         "\"VirtualImage\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\","
		         "\"uid\":\"6f1c9a52-3c1e-4d0a-9a5e-%012d\",\"generation\":1,"
		         "\"creationTimestamp\":\"2026-12-01T10:00:00Z\",\"labels\":{\"tier\":"
		         "\"gold\"}},\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{"
		         "\"type\":\"HTTP\",\"http\":{\"url\":\"http://example.invalid/%s.img\"}}},"
		         "\"status\":{\"phase\":\"Ready\",\"progress\":\"100%%\",\"format\":"
		         "\"qcow2\",\"size\":{\"stored\":\"1Gi\",\"unpacked\":\"2Gi\"}}}",
		         name, ns, i, name);
		if (f->w->kv->ops->write(f->w->kv, &wr, &rev, &err) < 0)
			fail_msg("put %s: %s", name, err.msg);
	}
	return NULL;
}

static int count_item(void *arg, const struct store_kv_item *it)
{
	*(size_t *)arg += it->len;
	return 0;
}

static int count_only(void *arg, const char *json, size_t len)
{
	(void)json;
	*(size_t *)arg += len;
	return 0;
}

/* What a large catalog costs: WCACHE_LOAD_N objects (default 5,000; the
 * report's figure is 100,000) written to etcd, then the cache's first
 * read: time, RSS growth per object against its text, a whole list. */
static void test_large_catalog_load(void **state)
{
	const char *env = getenv("WCACHE_LOAD_N");
	long want = env ? strtol(env, NULL, 10) : 0;
	int n = want > 0 && want < 10000000 ? (int)want : 5000, i;
	struct filler f[8];
	pthread_t th[8];
	struct store_list_meta meta;
	struct store_list_opts o = {.resource_version = "0"};
	struct vim_err err;
	struct world w;
	size_t objects = 0, bytes = 0, listed = 0;
	long before, after;
	int64_t t0, load_ms, list_ms, fill_ms, range_ms;

	(void)state;
	world_kv(&w);
	t0 = vim_mono_ms();
	for (i = 0; i < 8; i++) {
		f[i] = (struct filler){&w, n * i / 8, n * (i + 1) / 8};
		assert_int_equal(pthread_create(&th[i], NULL, fill, &f[i]), 0);
	}
	for (i = 0; i < 8; i++)
		pthread_join(th[i], NULL);
	fill_ms = vim_mono_ms() - t0;
	/* the backend's part of the first read: the range alone */
	t0 = vim_mono_ms();
	{
		struct store_kv_range r = {.resource = VI};
		struct store_kv_range_meta m;
		assert_int_equal(w.kv->ops->range(w.kv, &r, count_item, &listed, &m, &err), 0);
	}
	range_ms = vim_mono_ms() - t0;
	listed = 0;
	before = rss_kib();
	t0 = vim_mono_ms();
	world_cache(&w);
	load_ms = vim_mono_ms() - t0;
	after = rss_kib();
	store_wcache_stats(w.r, &objects, &bytes);
	assert_int_equal(objects, (size_t)n);
	t0 = vim_mono_ms();
	assert_int_equal(w.r->ops->list(w.r, VI, &o, count_only, &listed, &meta, &err), 0);
	list_ms = vim_mono_ms() - t0;
	print_message("wcache: %d objects written in %lld ms; etcd range alone %lld ms; first read "
	              "%lld ms; held %zu bytes "
	              "(%zu/object); RSS +%ld KiB (%ld B/object); list of all %lld ms "
	              "(%zu bytes)\n",
	              n, (long long)fill_ms, (long long)range_ms, (long long)load_ms, bytes,
	              bytes / (size_t)n, after - before, (after - before) * 1024 / n,
	              (long long)list_ms, listed);
	/* The text and little more: a parsed tree per object was ~6 times it. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	/* (sanitizers' allocators keep freed memory resident: RSS says nothing) */
	if ((after - before) * 1024 / n > (long)(bytes / (size_t)n) * 2 + 512)
		fail_msg("RSS grew %ld B per object for %zu B of text", (after - before) * 1024 / n,
		         bytes / (size_t)n);
#endif
	world_close(&w);
}

static int etcd_setup(void **state)
{
	(void)state;
	return (fx = etcd_fx_shared()) ? 0 : -1;
}

/* Its own etcd: the test kills and restarts it. */
static int own_etcd_setup(void **state)
{
	(void)state;
	return etcd_fx_start(&fx, &(struct etcd_fx_opts){.members = 1});
}

static int own_etcd_teardown(void **state)
{
	(void)state;
	etcd_fx_stop(fx);
	fx = NULL;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hub_reset_ends_watches_and_sets_a_floor),
	    cmocka_unit_test(test_table_order_is_the_bytes_of_the_key),
	    cmocka_unit_test(test_text_is_kept_deflated_and_served_as_it_was),
	    cmocka_unit_test_setup_teardown(test_first_read_holds_what_etcd_had, etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_changes_reach_lists_and_watchers, etcd_setup,
	                                    NULL),
	    cmocka_unit_test_setup_teardown(test_unset_rv_list_reads_its_writes, etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_watch_from_now_starts_at_etcds_revision,
	                                    etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_a_foreign_resource_moves_the_revision, etcd_setup,
	                                    NULL),
	    cmocka_unit_test_setup_teardown(test_future_rv_waits_then_times_out, etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_compaction_while_away_relists_and_ends_watches,
	                                    etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_etcd_down_then_back, own_etcd_setup,
	                                    own_etcd_teardown),
	    cmocka_unit_test_setup_teardown(test_slow_list_does_not_hold_writes, etcd_setup, NULL),
	    cmocka_unit_test_setup_teardown(test_large_catalog_load, etcd_setup, NULL),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
