/*
 * The backend contract (store/kv.h), for real: one table of cases run
 * against every backend row (etcd here, on the real /usr/bin/etcd of
 * tests/unit/etcd_fixture; the sqlite row joins at merge).  A case that
 * needs what a local backend lacks (a watch, leases, old revisions)
 * skips on it.  The etcd-only cases (endpoints, TLS, an unreachable
 * member) run after the table.  Fenced writes run on both rows; the
 * leases' keepalive and revoke on etcd (sqlite has no leases).
 *
 * VIM_KV_BENCH=1 adds the measurements (writes/s from N threads, a range
 * of 20,000 keys); they print figures and never fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "store/kv.h"
#include "etcd_fixture.h"

#define VI "virtualimages"
#define CVI "clustervirtualimages"

/* ---- the backend rows ------------------------------------------------------------ */

struct backend {
	const char *name;
	int (*open)(struct store_kv **out, struct vim_err *err);
	/* tell etcd itself to compact up to rev (NULL: no such thing) */
	int (*compact)(int64_t rev);
};

static char last_prefix[128];

static int open_etcd(struct store_kv **out, struct vim_err *err)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv_etcd_opts o = {.timeout_ms = 3000};

	if (!fx)
		return vim_err_set(err, VIM_EIO, "no etcd");
	etcd_fx_prefix(last_prefix, sizeof(last_prefix), "kv");
	o.endpoints = etcd_fx_endpoints(fx);
	o.prefix = last_prefix;
	return store_kv_etcd_open(out, &o, err);
}

static int compact_etcd(int64_t rev)
{
	char body[96];

	snprintf(body, sizeof(body), "{\"revision\":\"%lld\",\"physical\":true}", (long long)rev);
	return etcd_fx_post(etcd_fx_shared(), 0, "/v3/kv/compaction", body);
}

/* sqlite: a fresh file per case (the kv contract says nothing of old
 * revisions: it has none to compact). */
static int open_sqlite(struct store_kv **out, struct vim_err *err)
{
	static unsigned n;
	char path[96];

	snprintf(path, sizeof(path), "/tmp/vimage-kv-%ld-%u.db", (long)getpid(), n++);
	unlink(path);
	return store_kv_sqlite_open(out, path, err);
}

static const struct backend backends[] = {
    {"sqlite", open_sqlite, NULL},
    {"etcd", open_etcd, compact_etcd},
};

struct ctx {
	const struct backend *b;
	struct store_kv *kv;
};

static int case_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct vim_err err;

	c->b = *state;
	if (c->b->open(&c->kv, &err) != 0) {
		fprintf(stderr, "open %s: %s\n", c->b->name, err.msg);
		free(c);
		return -1;
	}
	*state = c;
	return 0;
}

static int case_teardown(void **state)
{
	struct ctx *c = *state;

	c->kv->ops->close(c->kv);
	free(c);
	return 0;
}

/* ---- helpers ------------------------------------------------------------------------ */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int put(struct store_kv *kv, const char *res, const char *ns, const char *name,
               const char *value, int64_t expect, int64_t lease, int64_t *rev, struct vim_err *err)
{
	struct store_kv_write w = {.key = {res, ns, name},
	                           .op = STORE_KV_PUT,
	                           .expect_rev = expect,
	                           .lease = lease,
	                           .encode = store_kv_encode_text,
	                           .arg = (void *)value};
	int64_t r;

	return kv->ops->write(kv, &w, rev ? rev : &r, err);
}

static int del(struct store_kv *kv, const char *res, const char *ns, const char *name,
               int64_t expect, int64_t *rev, struct vim_err *err)
{
	struct store_kv_write w = {
	    .key = {res, ns, name}, .op = STORE_KV_DELETE, .expect_rev = expect};
	int64_t r;

	return kv->ops->write(kv, &w, rev ? rev : &r, err);
}

static int64_t must_put(struct store_kv *kv, const char *res, const char *ns, const char *name,
                        const char *value, int64_t expect)
{
	struct vim_err err = {0};
	int64_t rev = 0;

	if (put(kv, res, ns, name, value, expect, 0, &rev, &err) != 0)
		fail_msg("put %s/%s/%s: %s", res, ns, name, err.msg);
	assert_true(rev > 0);
	return rev;
}

/* What a range gave: "ns/name=value" lines, up to stop_at of them. */
struct seen {
	char items[2000][96];
	int64_t revs[2000];
	int n, stop_at;
	/* a write made during the range (snapshot check) */
	struct store_kv *kv;
	int write_at;
};

static int collect(void *arg, const struct store_kv_item *it)
{
	struct seen *s = arg;

	if (s->stop_at && s->n == s->stop_at)
		return 1;
	if (s->n < 2000) {
		snprintf(s->items[s->n], sizeof(s->items[0]), "%s/%s=%.*s", it->ns, it->name,
		         (int)it->len, it->value);
		s->revs[s->n] = it->mod_rev;
	}
	s->n++;
	if (s->kv && s->n == s->write_at)
		must_put(s->kv, VI, "page", "zzz-written-during-the-range", "late", 0);
	return 0;
}

/* ---- a watch's events, gathered on its thread ---------------------------------------- */

struct evlog {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n;
	struct {
		enum store_kv_event_type type;
		char key[160];
		char value[64];
		size_t len;
		unsigned long sum; /* of every byte: a large value arrived whole */
		int64_t rev;
	} ev[512];
};

static void on_event(void *arg, const struct store_kv_event *ev)
{
	struct evlog *l = arg;

	pthread_mutex_lock(&l->mu);
	if (l->n < 512) {
		l->ev[l->n].type = ev->type;
		l->ev[l->n].key[0] = l->ev[l->n].value[0] = '\0';
		if (ev->type == STORE_KV_EV_PUT || ev->type == STORE_KV_EV_DELETE)
			snprintf(l->ev[l->n].key, sizeof(l->ev[0].key), "%s/%s/%s",
			         ev->key.resource, ev->key.ns, ev->key.name);
		if (ev->value)
			snprintf(l->ev[l->n].value, sizeof(l->ev[0].value), "%.*s", (int)ev->len,
			         ev->value);
		l->ev[l->n].len = ev->len;
		l->ev[l->n].sum = 0;
		for (size_t i = 0; ev->value && i < ev->len; i++)
			l->ev[l->n].sum = l->ev[l->n].sum * 31 + (unsigned char)ev->value[i];
		l->ev[l->n].rev = ev->rev;
		l->n++;
	}
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static struct evlog *evlog_new(void)
{
	struct evlog *l = calloc(1, sizeof(*l));

	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	return l;
}

static void evlog_free(struct evlog *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
	free(l);
}

/* Waits (≤ ms) until an event of type (and key, when set) is logged at
 * index >= from; its index, or -1. */
static int evlog_wait(struct evlog *l, int from, enum store_kv_event_type type, const char *key,
                      long ms)
{
	long long end = now_ms() + ms;
	int found = -1;

	pthread_mutex_lock(&l->mu);
	while (found < 0) {
		struct timespec ts;

		for (int i = from; i < l->n && found < 0; i++)
			if (l->ev[i].type == type && (!key || strcmp(l->ev[i].key, key) == 0))
				found = i;
		if (found >= 0 || now_ms() >= end)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	}
	pthread_mutex_unlock(&l->mu);
	return found;
}

static int evlog_count(struct evlog *l)
{
	int n;

	pthread_mutex_lock(&l->mu);
	n = l->n;
	pthread_mutex_unlock(&l->mu);
	return n;
}

static struct store_kv_watch *watch_from(struct store_kv *kv, int64_t from, struct evlog *l)
{
	struct store_kv_watch *w = NULL;
	struct vim_err err;

	if (kv->ops->watch(kv, from, on_event, l, &w, &err) != 0)
		fail_msg("watch: %s", err.msg);
	return w;
}

/* ---- the cases of the table ------------------------------------------------------------- */

static void test_get_put_and_absent_keys(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {VI, "default", "ubuntu"};
	struct store_kv_got got;
	struct vim_err err;
	int64_t rev, cur = 0;

	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ENOTFOUND);
	assert_non_null(strstr(err.msg, "ubuntu"));
	rev = must_put(kv, VI, "default", "ubuntu", "{\"a\":1}", 0);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_int_equal(got.len, 7);
	assert_string_equal(got.value, "{\"a\":1}");
	assert_int_equal(got.mod_rev, rev);
	free(got.value);
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	assert_true(cur >= rev);
	/* a cluster-scoped key (ns "" and NULL are the same) */
	rev = must_put(kv, CVI, "", "base", "{}", 0);
	k = (struct store_kv_key){CVI, NULL, "base"};
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_int_equal(got.mod_rev, rev);
	free(got.value);
	/* the same name in another resource or namespace is another key */
	k = (struct store_kv_key){VI, "other", "ubuntu"};
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ENOTFOUND);
}

static void test_a_stale_compare_writes_nothing(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {VI, "default", "cas"};
	struct store_kv_got got;
	struct vim_err err;
	int64_t r1, r2, r3 = 0;

	r1 = must_put(kv, VI, "default", "cas", "one", 0);
	r2 = must_put(kv, VI, "default", "cas", "two", r1);
	assert_true(r2 > r1);
	/* stale: the revision of the first write */
	assert_int_equal(put(kv, VI, "default", "cas", "three", r1, 0, &r3, &err), VIM_ECONFLICT);
	assert_non_null(strstr(err.msg, "cas"));
	/* expect 0 (create) on a key that exists */
	assert_int_equal(put(kv, VI, "default", "cas", "four", 0, 0, &r3, &err), VIM_ECONFLICT);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_string_equal(got.value, "two");
	assert_int_equal(got.mod_rev, r2);
	free(got.value);
}

/* store_kv_put writes whatever a key holds: a new key, then over the
 * value another write left (no revision to give), each a new revision. */
static void test_put_replaces_whatever_the_key_holds(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {VI, "default", "any"};
	struct store_kv_got got;
	struct vim_err err;
	int64_t r1 = 0, r2, r3 = 0;

	assert_int_equal(store_kv_put(kv, &k, "one", 0, &r1, &err), 0);
	assert_true(r1 > 0);
	r2 = must_put(kv, VI, "default", "any", "two", r1);
	assert_int_equal(store_kv_put(kv, &k, "three", 0, &r3, &err), 0);
	assert_true(r3 > r2);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_string_equal(got.value, "three");
	assert_int_equal(got.mod_rev, r3);
	free(got.value);
}

static void test_delete_goes_by_its_compare(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {VI, "default", "gone"};
	struct store_kv_got got;
	struct vim_err err;
	int64_t r1, r2, rd = 0;

	r1 = must_put(kv, VI, "default", "gone", "one", 0);
	r2 = must_put(kv, VI, "default", "gone", "two", r1);
	assert_int_equal(del(kv, VI, "default", "gone", r1, &rd, &err), VIM_ECONFLICT);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	free(got.value);
	assert_int_equal(del(kv, VI, "default", "gone", r2, &rd, &err), 0);
	assert_true(rd > r2);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ENOTFOUND);
	/* a second delete finds nothing to compare with */
	assert_int_equal(del(kv, VI, "default", "gone", r2, &rd, &err), VIM_ECONFLICT);
}

static void test_range_order_namespace_after_and_stop(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct seen *s = calloc(1, sizeof(*s));
	struct store_kv_range_meta meta;
	struct store_kv_range r = {.resource = VI};
	struct vim_err err;
	int64_t last;

	must_put(kv, VI, "b", "x", "bx", 0);
	must_put(kv, VI, "a", "y", "ay", 0);
	must_put(kv, VI, "a", "x", "ax", 0);
	must_put(kv, VI, "ab", "x", "abx", 0); /* "a/..." sorts before "ab/..." by bytes */
	must_put(kv, CVI, "", "c", "cluster", 0);
	last = must_put(kv, VI, "b", "y", "by", 0);

	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 5);
	assert_string_equal(s->items[0], "a/x=ax");
	assert_string_equal(s->items[1], "a/y=ay");
	assert_string_equal(s->items[2], "ab/x=abx");
	assert_string_equal(s->items[3], "b/x=bx");
	assert_string_equal(s->items[4], "b/y=by");
	assert_int_equal(s->revs[4], last);
	assert_true(meta.rev >= last);
	assert_int_equal(meta.remaining, 0);

	/* one namespace */
	memset(s, 0, sizeof(*s));
	r.ns = "a";
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[1], "a/y=ay");

	/* after a key, in every namespace */
	memset(s, 0, sizeof(*s));
	r.ns = NULL;
	r.after_ns = "a";
	r.after_name = "y";
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 3);
	assert_string_equal(s->items[0], "ab/x=abx");

	/* stopped after two: the rest counted from the one it stopped at */
	memset(s, 0, sizeof(*s));
	r.after_ns = r.after_name = NULL;
	r.count_rest = true;
	s->stop_at = 2;
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 2);
	assert_int_equal(meta.remaining, 3);

	/* cluster-scoped */
	memset(s, 0, sizeof(*s));
	r = (struct store_kv_range){.resource = CVI};
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->items[0], "/c=cluster");
	free(s);
}

/* More keys than one page: every key once, in order, all at the first
 * page's revision (a write during the range is not in it). */
static void test_range_pages_read_at_one_revision(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct seen *s = calloc(1, sizeof(*s));
	struct store_kv_range_meta meta;
	struct store_kv_range r = {.resource = VI, .ns = "page"};
	struct vim_err err;
	char name[32];
	int64_t rev = 0;

	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "k%05d", i);
		rev = must_put(kv, VI, "page", name, "v", 0);
	}
	s->kv = kv;
	s->write_at = 700;
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	if (kv->ops->local) {
		assert_true(s->n >= 1100);
	} else {
		assert_int_equal(s->n, 1100);
		assert_int_equal(meta.rev, rev);
	}
	for (int i = 0; i < 1100; i++) {
		snprintf(name, sizeof(name), "page/k%05d=v", i);
		assert_string_equal(s->items[i], name);
	}
	free(s);
}

static void test_range_at_an_old_revision_sees_the_old_value(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct seen *s = calloc(1, sizeof(*s));
	struct store_kv_range_meta meta;
	struct store_kv_range r = {.resource = VI, .ns = "old"};
	struct vim_err err;
	int64_t r1, cur = 0;

	if (kv->ops->local) {
		free(s);
		skip(); /* keeps no old revisions */
	}
	r1 = must_put(kv, VI, "old", "k", "one", 0);
	must_put(kv, VI, "old", "k", "two", r1);
	r.rev = r1;
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 1);
	assert_string_equal(s->items[0], "old/k=one");
	assert_int_equal(meta.rev, r1);
	/* a revision etcd has not reached */
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	r.rev = cur + 1000;
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "newer"));
	free(s);
}

static void test_compacted_revisions_are_gone(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct seen *s = calloc(1, sizeof(*s));
	struct store_kv_range_meta meta;
	struct store_kv_range r = {.resource = VI, .ns = "compact"};
	struct store_kv_watch *w;
	struct evlog *l;
	struct vim_err err;
	int64_t r1, r2;

	if (kv->ops->local || !c->b->compact) {
		free(s);
		skip();
	}
	r1 = must_put(kv, VI, "compact", "k", "one", 0);
	r2 = must_put(kv, VI, "compact", "k", "two", r1);
	assert_int_equal(c->b->compact(r2), 0);
	r.rev = r1;
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), VIM_EGONE);
	assert_non_null(strstr(err.msg, "compacted"));
	/* a watch from it: GONE, and nothing after */
	l = evlog_new();
	w = watch_from(kv, r1, l);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_GONE, NULL, 5000) >= 0);
	kv->ops->watch_stop(w);
	assert_int_equal(evlog_count(l), 1);
	evlog_free(l);
	free(s);
}

static void test_watch_delivers_writes_in_revision_order(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_watch *w;
	struct evlog *l;
	struct vim_err err;
	int64_t cur = 0, ra, rb, rd = 0, rc2;
	int i;

	if (!kv->ops->watch)
		skip();
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	l = evlog_new();
	w = watch_from(kv, cur + 1, l);
	ra = must_put(kv, VI, "w", "a", "A1", 0);
	rb = must_put(kv, CVI, "", "b", "B1", 0);
	assert_int_equal(del(kv, VI, "w", "a", ra, &rd, &err), 0);
	rc2 = must_put(kv, VI, "w", "c", "C1", 0);
	i = evlog_wait(l, 0, STORE_KV_EV_PUT, VI "/w/c", 5000);
	assert_true(i >= 0);
	kv->ops->watch_stop(w);

	/* the events, skipping PROGRESS */
	{
		int k = 0;
		struct {
			enum store_kv_event_type t;
			const char *key, *value;
			int64_t rev;
		} want[] = {{STORE_KV_EV_PUT, VI "/w/a", "A1", ra},
		            {STORE_KV_EV_PUT, CVI "//b", "B1", rb},
		            {STORE_KV_EV_DELETE, VI "/w/a", "", rd},
		            {STORE_KV_EV_PUT, VI "/w/c", "C1", rc2}};

		for (int j = 0; j < l->n; j++) {
			if (l->ev[j].type == STORE_KV_EV_PROGRESS)
				continue;
			assert_true(k < 4);
			assert_int_equal(l->ev[j].type, want[k].t);
			assert_string_equal(l->ev[j].key, want[k].key);
			assert_string_equal(l->ev[j].value, want[k].value);
			assert_int_equal(l->ev[j].rev, want[k].rev);
			k++;
		}
		assert_int_equal(k, 4);
	}
	evlog_free(l);
}

static void test_lease_expiry_deletes_the_key(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {"events", "default", "ev1"};
	struct store_kv_got got;
	struct store_kv_watch *w;
	struct evlog *l;
	struct vim_err err;
	int64_t lease = 0, cur = 0;
	long long t0;

	if (!kv->ops->lease_grant || !kv->ops->watch)
		skip();
	assert_int_equal(kv->ops->lease_grant(kv, 2, &lease, &err), 0);
	assert_true(lease != 0);
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	l = evlog_new();
	w = watch_from(kv, cur + 1, l);
	assert_int_equal(put(kv, "events", "default", "ev1", "{}", 0, lease, NULL, &err), 0);
	t0 = now_ms();
	assert_true(evlog_wait(l, 0, STORE_KV_EV_PUT, "events/default/ev1", 5000) >= 0);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_DELETE, "events/default/ev1", 8000) >= 0);
	assert_true(now_ms() - t0 >= 1500);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ENOTFOUND);
	kv->ops->watch_stop(w);
	evlog_free(l);
}

/* A value far larger than one read of the stream: the watch puts the
 * pieces of its line together; over etcd's request limit: too large. */
static void test_large_values_arrive_whole(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	size_t n = 700 * 1024;
	char *big = malloc(2 * 1024 * 1024 + 1);
	unsigned long sum = 0;
	struct store_kv_key k = {VI, "big", "v"};
	struct store_kv_got got;
	struct store_kv_watch *w = NULL;
	struct evlog *l = NULL;
	struct vim_err err;
	int64_t cur = 0;
	int i;

	for (size_t j = 0; j < 2 * 1024 * 1024; j++)
		big[j] = (char)('a' + (j * 7) % 26);
	big[n] = '\0';
	for (size_t j = 0; j < n; j++)
		sum = sum * 31 + (unsigned char)big[j];
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	if (kv->ops->watch) {
		l = evlog_new();
		w = watch_from(kv, cur + 1, l);
	}
	must_put(kv, VI, "big", "v", big, 0);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_int_equal(got.len, n);
	assert_memory_equal(got.value, big, n);
	free(got.value);
	if (w) {
		i = evlog_wait(l, 0, STORE_KV_EV_PUT, VI "/big/v", 5000);
		assert_true(i >= 0);
		assert_int_equal(l->ev[i].len, n);
		assert_true(l->ev[i].sum == sum);
		kv->ops->watch_stop(w);
		evlog_free(l);
	}
	if (!kv->ops->local) {
		big[n] = 'x';
		big[2 * 1024 * 1024] = '\0';
		assert_int_equal(put(kv, VI, "big", "w", big, 0, 0, NULL, &err), VIM_ETOOLARGE);
		big[1600 * 1024] = '\0'; /* under gRPC's 2 MiB, over etcd's 1.5 MiB */
		assert_int_equal(put(kv, VI, "big", "w", big, 0, 0, NULL, &err), VIM_ETOOLARGE);
	}
	free(big);
}

/* ---- fenced writes (both backends) ------------------------------------------------ */

/* The leader key a fence compares: cluster-scoped, outside every API
 * resource, as ha keeps it. */
#define FENCE_RES "leader"
#define FENCE_NAME "controllers"

static int put_fenced(struct store_kv *kv, const char *name, const char *value, int64_t expect,
                      int64_t fence_rev, int64_t *rev, struct vim_err *err)
{
	struct store_kv_write w = {.key = {VI, "default", name},
	                           .op = STORE_KV_PUT,
	                           .expect_rev = expect,
	                           .fence = {FENCE_RES, "", FENCE_NAME},
	                           .fence_rev = fence_rev,
	                           .encode = store_kv_encode_text,
	                           .arg = (void *)value};
	int64_t r;

	return kv->ops->write(kv, &w, rev ? rev : &r, err);
}

static int del_fenced(struct store_kv *kv, const char *name, int64_t expect, int64_t fence_rev,
                      struct vim_err *err)
{
	struct store_kv_write w = {.key = {VI, "default", name},
	                           .op = STORE_KV_DELETE,
	                           .expect_rev = expect,
	                           .fence = {FENCE_RES, "", FENCE_NAME},
	                           .fence_rev = fence_rev};
	int64_t r;

	return kv->ops->write(kv, &w, &r, err);
}

/* The value and mod_rev of VI default/name ("" and 0 when absent). */
static int64_t value_of(struct store_kv *kv, const char *name, char *out, size_t cap)
{
	struct store_kv_key k = {VI, "default", name};
	struct store_kv_got got;
	struct vim_err err;
	int64_t rev;

	out[0] = '\0';
	if (kv->ops->get(kv, &k, &got, &err) != 0)
		return 0;
	snprintf(out, cap, "%s", got.value);
	rev = got.mod_rev;
	free(got.value);
	return rev;
}

static void test_a_fenced_write_goes_while_the_fence_key_holds(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct vim_err err;
	int64_t lead = must_put(kv, FENCE_RES, "", FENCE_NAME, "me", 0), r1 = 0, r2 = 0;
	char v[64];

	assert_int_equal(put_fenced(kv, "f", "one", 0, lead, &r1, &err), 0);
	assert_true(r1 > lead);
	assert_int_equal(put_fenced(kv, "f", "two", r1, lead, &r2, &err), 0);
	assert_int_equal(value_of(kv, "f", v, sizeof(v)), r2);
	assert_string_equal(v, "two");
	assert_int_equal(del_fenced(kv, "f", r2, lead, &err), 0);
	assert_int_equal(value_of(kv, "f", v, sizeof(v)), 0);
}

static void test_a_moved_or_gone_fence_key_writes_nothing(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct vim_err err;
	int64_t lead = must_put(kv, FENCE_RES, "", FENCE_NAME, "me", 0), r1, again, rev = 0;
	char v[64];

	r1 = must_put(kv, VI, "default", "f", "one", 0);
	/* another replica took the leader key over: ours is stale */
	again = must_put(kv, FENCE_RES, "", FENCE_NAME, "other", lead);
	assert_int_equal(put_fenced(kv, "f", "two", r1, lead, &rev, &err), VIM_EFENCED);
	assert_non_null(strstr(err.msg, FENCE_NAME));
	assert_non_null(strstr(err.msg, "this replica no longer leads"));
	assert_int_equal(rev, 0);
	assert_int_equal(del_fenced(kv, "f", r1, lead, &err), VIM_EFENCED);
	assert_int_equal(put_fenced(kv, "g", "new", 0, lead, NULL, &err), VIM_EFENCED);
	/* both compares failing: fenced, not a conflict */
	assert_int_equal(put_fenced(kv, "f", "two", r1 + 1000, lead, NULL, &err), VIM_EFENCED);
	assert_int_equal(value_of(kv, "f", v, sizeof(v)), r1);
	assert_string_equal(v, "one");
	assert_int_equal(value_of(kv, "g", v, sizeof(v)), 0);
	/* the new holder's revision lets it through */
	assert_int_equal(put_fenced(kv, "f", "three", r1, again, &rev, &err), 0);
	assert_true(rev > again);
	/* the key gone (its lease expired, a resign) */
	assert_int_equal(del(kv, FENCE_RES, "", FENCE_NAME, again, NULL, &err), 0);
	assert_int_equal(put_fenced(kv, "f", "four", rev, again, NULL, &err), VIM_EFENCED);
	assert_non_null(strstr(err.msg, FENCE_NAME));
	assert_non_null(strstr(err.msg, "this replica no longer leads"));
	/* a revision of 0 is no fence at all: refused, never read as "absent" */
	assert_int_equal(put_fenced(kv, "f", "five", rev, 0, NULL, &err), VIM_EFENCED);
	assert_int_equal(value_of(kv, "f", v, sizeof(v)), rev);
	assert_string_equal(v, "three");
}

static void test_a_fenced_write_losing_its_own_compare_is_a_conflict(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct vim_err err;
	int64_t lead = must_put(kv, FENCE_RES, "", FENCE_NAME, "me", 0), r1, r2;
	char v[64];

	r1 = must_put(kv, VI, "default", "f", "one", 0);
	r2 = must_put(kv, VI, "default", "f", "two", r1);
	assert_int_equal(put_fenced(kv, "f", "three", r1, lead, NULL, &err), VIM_ECONFLICT);
	assert_int_equal(put_fenced(kv, "f", "three", 0, lead, NULL, &err), VIM_ECONFLICT);
	assert_int_equal(del_fenced(kv, "f", r1, lead, &err), VIM_ECONFLICT);
	assert_int_equal(value_of(kv, "f", v, sizeof(v)), r2);
	assert_string_equal(v, "two");
}

/* ---- leases kept alive and revoked (etcd) --------------------------------------------- */

static void test_keepalive_renews_the_lease(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k = {"events", "default", "kept"};
	struct store_kv_got got;
	struct vim_err err;
	int64_t lease = 0, ttl = 0;
	long long t0, t;

	if (!kv->ops->lease_grant) {
		/* no leases: none of the three */
		assert_null(kv->ops->lease_keepalive);
		assert_null(kv->ops->lease_revoke);
		skip();
	}
	assert_int_equal(kv->ops->lease_grant(kv, 2, &lease, &err), 0);
	assert_int_equal(put(kv, "events", "default", "kept", "{}", 0, lease, NULL, &err), 0);
	/* renewed every 0.6 s for 4 s: twice the TTL, and the key stays */
	for (t0 = now_ms(); now_ms() - t0 < 4000;) {
		usleep(600 * 1000);
		t = now_ms();
		if (kv->ops->lease_keepalive(kv, lease, &ttl, &err) != 0)
			fail_msg("keepalive: %s", err.msg);
		/* one request and its answer: not the stream waiting for more */
		assert_true(now_ms() - t < 1000);
		assert_int_equal(ttl, 2); /* back to the whole TTL */
	}
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	free(got.value);
	/* left alone, it expires */
	for (t0 = now_ms(); now_ms() - t0 < 8000; usleep(200 * 1000))
		if (kv->ops->get(kv, &k, &got, &err) == VIM_ENOTFOUND)
			break;
		else
			free(got.value);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ENOTFOUND);
	assert_int_equal(kv->ops->lease_keepalive(kv, lease, &ttl, &err), VIM_ENOTFOUND);
	assert_int_equal(ttl, 0);
}

static void test_an_unknown_lease_is_not_found(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct vim_err err;
	int64_t ttl = 7;
	long long t0 = now_ms();

	if (!kv->ops->lease_keepalive)
		skip();
	assert_int_equal(kv->ops->lease_keepalive(kv, 0x1234567, &ttl, &err), VIM_ENOTFOUND);
	assert_int_equal(ttl, 0);
	assert_non_null(strstr(err.msg, "lease"));
	assert_int_equal(kv->ops->lease_revoke(kv, 0x1234567, &err), VIM_ENOTFOUND);
	assert_non_null(strstr(err.msg, "lease"));
	assert_true(now_ms() - t0 < 2000);
}

static void test_revoke_deletes_the_leased_keys_at_once(void **state)
{
	struct ctx *c = *state;
	struct store_kv *kv = c->kv;
	struct store_kv_key k1 = {FENCE_RES, "", FENCE_NAME}, k2 = {"replicas", "", "r1"};
	struct store_kv_got got;
	struct store_kv_watch *w;
	struct evlog *l;
	struct vim_err err;
	int64_t lease = 0, cur = 0, ttl = 0;
	long long t0;

	if (!kv->ops->lease_revoke || !kv->ops->watch)
		skip();
	assert_int_equal(kv->ops->lease_grant(kv, 60, &lease, &err), 0);
	assert_int_equal(put(kv, FENCE_RES, "", FENCE_NAME, "me", 0, lease, NULL, &err), 0);
	assert_int_equal(put(kv, "replicas", "", "r1", "{}", 0, lease, NULL, &err), 0);
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	l = evlog_new();
	w = watch_from(kv, cur + 1, l);
	t0 = now_ms();
	assert_int_equal(kv->ops->lease_revoke(kv, lease, &err), 0);
	/* gone when the revoke answers, not when the 60 s are up */
	assert_int_equal(kv->ops->get(kv, &k1, &got, &err), VIM_ENOTFOUND);
	assert_int_equal(kv->ops->get(kv, &k2, &got, &err), VIM_ENOTFOUND);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_DELETE, FENCE_RES "//" FENCE_NAME, 5000) >= 0);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_DELETE, "replicas//r1", 5000) >= 0);
	assert_true(now_ms() - t0 < 5000);
	assert_int_equal(kv->ops->lease_keepalive(kv, lease, &ttl, &err), VIM_ENOTFOUND);
	assert_int_equal(kv->ops->lease_revoke(kv, lease, &err), VIM_ENOTFOUND);
	kv->ops->watch_stop(w);
	evlog_free(l);
}

#define CASE(fn)                                                                                   \
	{                                                                                          \
#fn, fn                                                                            \
	}
static const struct {
	const char *name;
	CMUnitTestFunction fn;
} cases[] = {
    CASE(test_get_put_and_absent_keys),
    CASE(test_a_stale_compare_writes_nothing),
    CASE(test_put_replaces_whatever_the_key_holds),
    CASE(test_delete_goes_by_its_compare),
    CASE(test_range_order_namespace_after_and_stop),
    CASE(test_range_pages_read_at_one_revision),
    CASE(test_range_at_an_old_revision_sees_the_old_value),
    CASE(test_compacted_revisions_are_gone),
    CASE(test_watch_delivers_writes_in_revision_order),
    CASE(test_lease_expiry_deletes_the_key),
    CASE(test_large_values_arrive_whole),
    CASE(test_a_fenced_write_goes_while_the_fence_key_holds),
    CASE(test_a_moved_or_gone_fence_key_writes_nothing),
    CASE(test_a_fenced_write_losing_its_own_compare_is_a_conflict),
    CASE(test_keepalive_renews_the_lease),
    CASE(test_an_unknown_lease_is_not_found),
    CASE(test_revoke_deletes_the_leased_keys_at_once),
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* ---- etcd only: members that die, stop, or were never there ------------------------ */

static struct store_kv *open_at(const char *endpoints, int64_t timeout_ms, const char *ca,
                                const char *cert, const char *key)
{
	struct store_kv_etcd_opts o = {.endpoints = endpoints,
	                               .timeout_ms = timeout_ms,
	                               .cafile = ca,
	                               .certfile = cert,
	                               .keyfile = key};
	struct store_kv *kv = NULL;
	struct vim_err err;

	etcd_fx_prefix(last_prefix, sizeof(last_prefix), "etcd");
	o.prefix = last_prefix;
	if (store_kv_etcd_open(&kv, &o, &err) != 0)
		fail_msg("open %s: %s", endpoints, err.msg);
	return kv;
}

/* A loopback URL nobody listens on (a port the kernel just handed out
 * and nothing took). */
static void dead_endpoint(char *out, size_t cap)
{
	FILE *p = popen("/usr/bin/python3 -c 'import socket; s=socket.socket(); "
	                "s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'",
	                "r");
	int port = 0;

	assert_non_null(p);
	assert_int_equal(fscanf(p, "%d", &port), 1);
	pclose(p);
	snprintf(out, cap, "http://127.0.0.1:%d", port);
}

/* Two watches through a restart: one from a revision, one from "now"
 * (0), which must resume after the revision it started at, not at a
 * later "now" that skips what was written while it was away. */
static void test_watch_resumes_after_a_restart_without_missing_writes(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv *kv = open_at(etcd_fx_endpoints(fx), 3000, NULL, NULL, NULL);
	struct store_kv_watch *w[2];
	struct evlog *l[2] = {evlog_new(), evlog_new()};
	struct vim_err err;
	int64_t cur = 0, r2 = 0, r3 = 0;
	long long end;

	(void)state;
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	w[0] = watch_from(kv, cur + 1, l[0]);
	must_put(kv, VI, "r", "k1", "one", 0);
	assert_true(evlog_wait(l[0], 0, STORE_KV_EV_PUT, VI "/r/k1", 5000) >= 0);
	/* from now, and nothing delivered before the restart: only the
	 * revision its creation saw says where to resume */
	w[1] = watch_from(kv, 0, l[1]);
	assert_true(evlog_wait(l[1], 0, STORE_KV_EV_PROGRESS, NULL, 3000) >= 0);
	assert_int_equal(etcd_fx_kill(fx, 0), 0);
	for (int i = 0; i < 2; i++)
		assert_true(evlog_wait(l[i], 0, STORE_KV_EV_DOWN, NULL, 5000) >= 0);
	/* while it is down: a clear error, not a hang */
	assert_int_equal(put(kv, VI, "r", "k2", "two", 0, 0, NULL, &err), VIM_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, etcd_fx_endpoint(fx, 0)));
	assert_int_equal(etcd_fx_restart(fx, 0), 0);
	/* written before the watches are back: they must still see them */
	for (end = now_ms() + 5000; now_ms() < end;)
		if (put(kv, VI, "r", "k2", "two", 0, 0, &r2, &err) == 0)
			break;
	assert_true(r2 > 0);
	r3 = must_put(kv, VI, "r", "k3", "three", 0);
	for (int i = 0; i < 2; i++) {
		int down = evlog_wait(l[i], 0, STORE_KV_EV_DOWN, NULL, 0);
		int up = evlog_wait(l[i], down, STORE_KV_EV_UP, NULL, 8000);
		int e2 = evlog_wait(l[i], down, STORE_KV_EV_PUT, VI "/r/k2", 5000);
		int e3 = evlog_wait(l[i], down, STORE_KV_EV_PUT, VI "/r/k3", 5000);
		int n = 0;

		assert_true(up > down);
		assert_true(e2 > up && e3 > e2);
		assert_int_equal(l[i]->ev[e2].rev, r2);
		assert_int_equal(l[i]->ev[e3].rev, r3);
		kv->ops->watch_stop(w[i]);
		for (int j = 0; j < l[i]->n; j++)
			n += l[i]->ev[j].type == STORE_KV_EV_DOWN;
		assert_int_equal(n, 1); /* once, however many retries */
		evlog_free(l[i]);
	}
	kv->ops->close(kv);
}

static void test_a_stopped_member_times_out_then_comes_back(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv *kv = open_at(etcd_fx_endpoints(fx), 2000, NULL, NULL, NULL);
	struct store_kv_key k = {VI, "s", "k1"};
	struct store_kv_got got;
	struct store_kv_watch *w;
	struct evlog *l = evlog_new();
	struct vim_err err;
	int64_t cur = 0;
	int down, up;
	long long t0;

	(void)state;
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	w = watch_from(kv, cur + 1, l);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_PROGRESS, NULL, 3000) >= 0);
	assert_int_equal(etcd_fx_pause(fx, 0), 0);
	t0 = now_ms();
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_ETIMEDOUT);
	assert_true(now_ms() - t0 < 2000 + 1500);
	/* silent, not closed: found by the watch's probe */
	down = evlog_wait(l, 0, STORE_KV_EV_DOWN, NULL, 8000);
	assert_true(down >= 0);
	assert_int_equal(etcd_fx_resume(fx, 0), 0);
	up = evlog_wait(l, down, STORE_KV_EV_UP, NULL, 8000);
	assert_true(up > down);
	must_put(kv, VI, "s", "k1", "one", 0);
	assert_true(evlog_wait(l, up, STORE_KV_EV_PUT, VI "/s/k1", 5000) > up);
	/* stop is prompt, even while idle */
	t0 = now_ms();
	kv->ops->watch_stop(w);
	assert_true(now_ms() - t0 < 2000);
	evlog_free(l);
	kv->ops->close(kv);
}

static void test_a_dead_first_endpoint_is_skipped(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	char dead[64], eps[256];
	struct store_kv *kv;
	struct store_kv_key k = {VI, "ep", "k"};
	struct store_kv_got got;
	struct vim_err err;
	long long t0;

	(void)state;
	dead_endpoint(dead, sizeof(dead));
	snprintf(eps, sizeof(eps), "%s,%s", dead, etcd_fx_endpoint(fx, 0));
	kv = open_at(eps, 6000, NULL, NULL, NULL);
	t0 = now_ms();
	must_put(kv, VI, "ep", "k", "v", 0);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	free(got.value);
	/* refused is skipped at once: waiting on it would take the read's
	 * half of the 6 s (3 s), the write's whole */
	assert_true(now_ms() - t0 < 2500);
	kv->ops->close(kv);
}

static void test_no_endpoint_answers_names_each(void **state)
{
	char d1[64], d2[64], eps[160];
	struct store_kv *kv;
	struct store_kv_key k = {VI, "ep", "k"};
	struct store_kv_got got;
	struct store_kv_watch *w;
	struct evlog *l = evlog_new();
	struct vim_err err;
	long long t0;

	(void)state;
	dead_endpoint(d1, sizeof(d1));
	dead_endpoint(d2, sizeof(d2));
	snprintf(eps, sizeof(eps), "%s,%s", d1, d2);
	kv = open_at(eps, 2000, NULL, NULL, NULL);
	t0 = now_ms();
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_EUNAVAILABLE);
	assert_true(now_ms() - t0 <= 2000 + 1500);
	assert_non_null(strstr(err.msg, "no endpoint answers"));
	assert_non_null(strstr(err.msg, d1));
	assert_non_null(strstr(err.msg, d2));
	assert_non_null(strstr(err.msg, "Connection refused"));
	/* a write too, and a watch says DOWN */
	assert_int_equal(put(kv, VI, "ep", "k", "v", 0, 0, NULL, &err), VIM_EUNAVAILABLE);
	w = watch_from(kv, 1, l);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_DOWN, NULL, 3000) >= 0);
	kv->ops->watch_stop(w);
	evlog_free(l);
	kv->ops->close(kv);
}

static void test_bad_options_are_refused(void **state)
{
	struct store_kv_etcd_opts o = {.endpoints = "127.0.0.1:2379"};
	struct store_kv *kv = NULL;
	struct vim_err err;

	(void)state;
	assert_int_equal(store_kv_etcd_open(&kv, &o, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "127.0.0.1:2379"));
	o.endpoints = " , ";
	assert_int_equal(store_kv_etcd_open(&kv, &o, &err), VIM_EINVAL);
	o.endpoints = "http://127.0.0.1:2379";
	o.prefix = "vimage";
	assert_int_equal(store_kv_etcd_open(&kv, &o, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "prefix"));
	assert_null(kv);
}

/* Keys under the prefix that are not ours (another writer, another
 * layout) are skipped by the watch and by ranges. */
static void test_foreign_keys_are_skipped(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv *kv = open_at(etcd_fx_endpoints(fx), 3000, NULL, NULL, NULL);
	const char *foreign[] = {"/virtualimages/ns/x", "/foo/a/b/c", "/events/a/b/c", "/x"};
	struct store_kv_watch *w;
	struct evlog *l = evlog_new();
	struct vim_err err;
	int64_t cur = 0;
	int i;

	(void)state;
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	w = watch_from(kv, cur + 1, l);
	for (size_t f = 0; f < sizeof(foreign) / sizeof(foreign[0]); f++) {
		char key[256], b64[512], body[700];
		FILE *p;

		snprintf(key, sizeof(key), "%s%s", last_prefix, foreign[f]);
		snprintf(body, sizeof(body), "printf %%s '%s' | base64 -w0", key);
		p = popen(body, "r");
		assert_non_null(p);
		assert_non_null(fgets(b64, sizeof(b64), p));
		pclose(p);
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"eA==\"}", b64);
		assert_int_equal(etcd_fx_post(fx, 0, "/v3/kv/put", body), 0);
	}
	must_put(kv, "events", "a", "b", "mine", 0);
	i = evlog_wait(l, 0, STORE_KV_EV_PUT, "events/a/b", 5000);
	assert_true(i >= 0);
	kv->ops->watch_stop(w);
	for (int j = 0; j < l->n; j++)
		assert_true(l->ev[j].type != STORE_KV_EV_PUT || j == i);
	evlog_free(l);
	kv->ops->close(kv);
}

/* More foreign keys than a page, each too long to be ours, among ours:
 * the range steps over them page by page and ends. */
static void test_a_range_steps_over_pages_of_foreign_keys(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv *kv = open_at(etcd_fx_endpoints(fx), 3000, NULL, NULL, NULL);
	struct store_kv_range r = {.resource = VI, .ns = "f"};
	struct store_kv_range_meta meta;
	struct seen *s = calloc(1, sizeof(*s));
	struct vim_err err;
	char *key = malloc(1400), *body = malloc(4096);
	unsigned char *b64 = malloc(2000);

	(void)state;
	must_put(kv, VI, "f", "a", "first", 0);
	must_put(kv, VI, "f", "z", "last", 0);
	for (int i = 0; i < 600; i++) {
		int n = snprintf(key, 1400, "%s/virtualization.deckhouse.io/virtualimages/f/m%04d",
		                 last_prefix, i);

		memset(key + n, 'x', 1100); /* over the longest key of ours */
		key[n + 1100] = '\0';
		EVP_EncodeBlock(b64, (unsigned char *)key, n + 1100);
		snprintf(body, 4096, "{\"key\":\"%s\",\"value\":\"eA==\"}", b64);
		assert_int_equal(etcd_fx_post(fx, 0, "/v3/kv/put", body), 0);
	}
	assert_int_equal(kv->ops->range(kv, &r, collect, s, &meta, &err), 0);
	assert_int_equal(s->n, 2);
	assert_string_equal(s->items[1], "f/z=last");
	free(key);
	free(body);
	free(b64);
	free(s);
	kv->ops->close(kv);
}

static void test_tls_with_client_certificates(void **state)
{
	struct etcd_fx *fx = NULL;
	struct etcd_fx_opts fo = {.members = 1, .tls = true};
	struct store_kv *kv;
	struct store_kv_key k = {VI, "tls", "k"};
	struct store_kv_got got;
	struct store_kv_watch *w;
	struct evlog *l = evlog_new();
	struct vim_err err;
	int64_t rev, cur = 0;

	(void)state;
	assert_int_equal(etcd_fx_start(&fx, &fo), 0);
	kv = open_at(etcd_fx_endpoints(fx), 3000, etcd_fx_file(fx, "ca"), etcd_fx_file(fx, "cert"),
	             etcd_fx_file(fx, "key"));
	if (kv->ops->current_rev(kv, &cur, &err) != 0)
		fail_msg("over TLS: %s", err.msg);
	w = watch_from(kv, cur + 1, l);
	rev = must_put(kv, VI, "tls", "k", "secret", 0);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), 0);
	assert_string_equal(got.value, "secret");
	free(got.value);
	assert_true(evlog_wait(l, 0, STORE_KV_EV_PUT, VI "/tls/k", 5000) >= 0);
	kv->ops->watch_stop(w);
	kv->ops->close(kv);
	(void)rev;
	/* no client certificate: refused, and said so */
	kv = open_at(etcd_fx_endpoints(fx), 2000, etcd_fx_file(fx, "ca"), NULL, NULL);
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, etcd_fx_endpoint(fx, 0)));
	kv->ops->close(kv);
	/* no CA: the server's certificate is not trusted */
	kv = open_at(etcd_fx_endpoints(fx), 2000, NULL, etcd_fx_file(fx, "cert"),
	             etcd_fx_file(fx, "key"));
	assert_int_equal(kv->ops->get(kv, &k, &got, &err), VIM_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, "certificate"));
	kv->ops->close(kv);
	evlog_free(l);
	etcd_fx_stop(fx);
}

/* Three members, the one the watch and the writes use (a follower: a dead
 * leader stalls every write for an election, which is etcd's business)
 * killed: both go on through the others. */
static void test_a_cluster_serves_through_a_dead_member(void **state)
{
	struct etcd_fx *fx = NULL;
	struct etcd_fx_opts fo = {.members = 3};
	struct store_kv *kv;
	struct store_kv_watch *w[2];
	struct evlog *l[2] = {evlog_new(), evlog_new()};
	struct vim_err err;
	char eps[256];
	int64_t cur = 0, r2;
	int leader, f;

	(void)state;
	assert_int_equal(etcd_fx_start(&fx, &fo), 0);
	leader = etcd_fx_leader(fx);
	assert_true(leader >= 0);
	f = (leader + 1) % 3;
	snprintf(eps, sizeof(eps), "%s,%s,%s", etcd_fx_endpoint(fx, f),
	         etcd_fx_endpoint(fx, (f + 1) % 3), etcd_fx_endpoint(fx, (f + 2) % 3));
	kv = open_at(eps, 3000, NULL, NULL, NULL);
	assert_int_equal(kv->ops->current_rev(kv, &cur, &err), 0);
	w[0] = watch_from(kv, cur + 1, l[0]);
	must_put(kv, VI, "c", "k1", "one", 0);
	assert_true(evlog_wait(l[0], 0, STORE_KV_EV_PUT, VI "/c/k1", 5000) >= 0);
	/* from now, nothing delivered yet when its member dies */
	w[1] = watch_from(kv, 0, l[1]);
	assert_true(evlog_wait(l[1], 0, STORE_KV_EV_PROGRESS, NULL, 3000) >= 0);
	assert_int_equal(etcd_fx_kill(fx, f), 0);
	/* written while the watches wait to reconnect to another member */
	r2 = must_put(kv, VI, "c", "k2", "two", 0);
	for (int i = 0; i < 2; i++) {
		int up = evlog_wait(l[i], 0, STORE_KV_EV_UP, NULL, 5000);
		int e2 = evlog_wait(l[i], 0, STORE_KV_EV_PUT, VI "/c/k2", 5000);

		assert_true(up >= 0);
		assert_true(e2 >= 0);
		assert_int_equal(l[i]->ev[e2].rev, r2);
		kv->ops->watch_stop(w[i]);
		evlog_free(l[i]);
	}
	kv->ops->close(kv);
	etcd_fx_stop(fx);
}

/* ---- measurements (VIM_KV_BENCH=1) ---------------------------------------------------- */

#define BENCH_THREADS 16
#define BENCH_PER_THREAD 1250 /* 20,000 keys in all */

struct bench_arg {
	struct store_kv *kv;
	int t;
	const char *value;
	int failed;
};

static void *bench_writer(void *p)
{
	struct bench_arg *a = p;
	struct vim_err err;
	char name[32];

	for (int i = 0; i < BENCH_PER_THREAD; i++) {
		snprintf(name, sizeof(name), "t%02d-%05d", a->t, i);
		if (put(a->kv, VI, "bench", name, a->value, 0, 0, NULL, &err) != 0)
			a->failed++;
	}
	return NULL;
}

static int count_item(void *arg, const struct store_kv_item *it)
{
	(*(long *)arg) += it->len > 0;
	return 0;
}

static long maxrss_kib(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static long long cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static void test_bench_writes_and_a_range_of_20000(void **state)
{
	struct etcd_fx *fx;
	struct store_kv *kv;
	struct bench_arg args[BENCH_THREADS];
	pthread_t th[BENCH_THREADS];
	struct store_kv_range r = {.resource = VI, .ns = "bench"};
	struct store_kv_range_meta meta;
	struct vim_err err;
	char *value = malloc(2561);
	long n = 0, rss0, failed = 0;
	long long t0, t1, c0;

	(void)state;
	if (!getenv("VIM_KV_BENCH")) {
		free(value);
		skip();
	}
	fx = etcd_fx_shared();
	kv = open_at(etcd_fx_endpoints(fx), 5000, NULL, NULL, NULL);
	/* a JSON-ish 2.5 KiB value */
	memset(value, 'x', 2560);
	value[0] = '{';
	value[2559] = '}';
	value[2560] = '\0';
	t0 = now_ms();
	for (int t = 0; t < BENCH_THREADS; t++) {
		args[t] = (struct bench_arg){kv, t, value, 0};
		pthread_create(&th[t], NULL, bench_writer, &args[t]);
	}
	for (int t = 0; t < BENCH_THREADS; t++) {
		pthread_join(th[t], NULL);
		failed += args[t].failed;
	}
	t1 = now_ms();
	printf("kv-etcd: %d threads x %d writes of 2.5 KiB: %lld ms, %.0f writes/s, %ld failed\n",
	       BENCH_THREADS, BENCH_PER_THREAD, t1 - t0,
	       BENCH_THREADS * BENCH_PER_THREAD * 1000.0 / (double)(t1 - t0 ? t1 - t0 : 1), failed);
	rss0 = maxrss_kib();
	t0 = now_ms();
	c0 = cpu_ms();
	assert_int_equal(kv->ops->range(kv, &r, count_item, &n, &meta, &err), 0);
	t1 = now_ms();
	printf("kv-etcd: range of %ld keys: %lld ms (%lld ms of it our CPU); peak RSS %ld KiB "
	       "before, %ld KiB after\n",
	       n, t1 - t0, cpu_ms() - c0, rss0, maxrss_kib());
	assert_int_equal(n, BENCH_THREADS * BENCH_PER_THREAD - failed);
	kv->ops->close(kv);
	free(value);
}

static const struct CMUnitTest etcd_only[] = {
    cmocka_unit_test(test_bad_options_are_refused),
    cmocka_unit_test(test_foreign_keys_are_skipped),
    cmocka_unit_test(test_a_range_steps_over_pages_of_foreign_keys),
    cmocka_unit_test(test_a_dead_first_endpoint_is_skipped),
    cmocka_unit_test(test_no_endpoint_answers_names_each),
    cmocka_unit_test(test_watch_resumes_after_a_restart_without_missing_writes),
    cmocka_unit_test(test_a_stopped_member_times_out_then_comes_back),
    cmocka_unit_test(test_tls_with_client_certificates),
    cmocka_unit_test(test_a_cluster_serves_through_a_dead_member),
    cmocka_unit_test(test_bench_writes_and_a_range_of_20000),
};
#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))
#define NETCD (sizeof(etcd_only) / sizeof(etcd_only[0]))

/* One group, every row's cases then the etcd-only ones: tests/run counts
 * the last group's totals. */
int main(void)
{
	static struct CMUnitTest tests[NBACKENDS * NCASES + NETCD];
	static char names[NBACKENDS * NCASES][128];
	size_t n = 0;
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (size_t b = 0; b < NBACKENDS; b++)
		for (size_t i = 0; i < NCASES; i++, n++) {
			snprintf(names[n], sizeof(names[n]), "%s: %s", backends[b].name,
			         cases[i].name);
			tests[n] = (struct CMUnitTest){.name = names[n],
			                               .test_func = cases[i].fn,
			                               .setup_func = case_setup,
			                               .teardown_func = case_teardown,
			                               .initial_state = (void *)&backends[b]};
		}
	for (size_t i = 0; i < NETCD; i++)
		tests[n++] = etcd_only[i];
	rc = _cmocka_run_group_tests("kv", tests, n, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
