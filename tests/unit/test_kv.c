/*
 * The backend contract (store/kv.h), for real: one table of cases run
 * against every backend row (etcd here, on the real /usr/bin/etcd of
 * tests/unit/etcd_fixture; the sqlite row joins at merge).  A case that
 * needs what a local backend lacks (a watch, leases, old revisions)
 * skips on it.  The etcd-only cases (endpoints, TLS, an unreachable
 * member) run after the table.
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

static const struct backend backends[] = {
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

struct text {
	const char *s;
};

static int encode_text(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct text *t = arg;

	(void)rev;
	*text = t->s;
	*len = strlen(t->s);
	return 0;
}

static int put(struct store_kv *kv, const char *res, const char *ns, const char *name,
               const char *value, int64_t expect, int64_t lease, int64_t *rev, struct vim_err *err)
{
	struct text t = {value};
	struct store_kv_write w = {.key = {res, ns, name},
	                           .op = STORE_KV_PUT,
	                           .expect_rev = expect,
	                           .lease = lease,
	                           .encode = encode_text,
	                           .arg = &t};
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
    CASE(test_delete_goes_by_its_compare),
    CASE(test_range_order_namespace_after_and_stop),
    CASE(test_range_pages_read_at_one_revision),
    CASE(test_range_at_an_old_revision_sees_the_old_value),
    CASE(test_compacted_revisions_are_gone),
    CASE(test_watch_delivers_writes_in_revision_order),
    CASE(test_lease_expiry_deletes_the_key),
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

int main(void)
{
	static struct CMUnitTest tests[NCASES];
	static char names[NCASES][128];
	int rc = 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (size_t b = 0; b < sizeof(backends) / sizeof(backends[0]); b++) {
		for (size_t i = 0; i < NCASES; i++) {
			snprintf(names[i], sizeof(names[i]), "%s: %s", backends[b].name,
			         cases[i].name);
			tests[i] = (struct CMUnitTest){.name = names[i],
			                               .test_func = cases[i].fn,
			                               .setup_func = case_setup,
			                               .teardown_func = case_teardown,
			                               .initial_state = (void *)&backends[b]};
		}
		rc |= _cmocka_run_group_tests(backends[b].name, tests, NCASES, NULL, NULL);
	}
	curl_global_cleanup();
	return rc;
}
