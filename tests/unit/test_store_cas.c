/*
 * store: every write of the object layer is one compare-and-swap on the
 * key's mod_rev (kube's GuaranteedUpdate).  Two writers of one object
 * without a resourceVersion both land, re-applied after a lost compare; a
 * create of a taken name is decided by the compare, not by a read before
 * it; a write whose compare failed is never followed by one that ignores
 * it; a watch never replays a revision a list has read; Events go with a
 * shared lease on a backend with leases.  The race and the 404 run on the
 * tests' backend (tmpdb); the rest watch the layer's calls through a spy
 * over the SQLite kv backend.
 */
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

#include "store/object.h"
#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"
#define RACE_UPDATES 1000

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("cas");
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

static json_t *vi(const char *name, const char *source)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	                 "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	                 "name", name, "namespace", "ns", "spec", "dataSource", "type", source);
}

/* ---- two writers, no resourceVersion ---------------------------------------------- */

struct racer {
	struct store *s;
	int id;
	int failed;     /* updates that did not land */
	char why[600];  /* the first failure */
	int64_t max_rv; /* the highest resourceVersion an update of this thread got */
};

static void *race(void *arg)
{
	struct racer *r = arg;
	struct vim_err err;
	char src[32];
	int i;

	for (i = 0; i < RACE_UPDATES; i++) {
		json_t *in, *out = NULL;
		/* a spec of its own each time: every update that lands bumps
		 * generation once */
		snprintf(src, sizeof(src), "t%d-%d", r->id, i);
		in = vi("a", src);
		if (store_update(r->s, VI, in, &out, &err) != 0) {
			if (!r->failed++)
				snprintf(r->why, sizeof(r->why), "%s", err.msg);
		} else if (strtoll(meta(out, "resourceVersion"), NULL, 10) > r->max_rv) {
			r->max_rv = strtoll(meta(out, "resourceVersion"), NULL, 10);
		}
		json_decref(in);
		json_decref(out);
	}
	return NULL;
}

static void test_two_writers_without_rv_both_land_every_update(void **state)
{
	struct store *s = tmpdb_open_store();
	struct racer r[2] = {{.s = s, .id = 0}, {.s = s, .id = 1}};
	pthread_t t[2];
	json_t *in = vi("a", "Upload"), *out = NULL, *got = NULL;
	struct vim_err err;
	int i;
	(void)state;

	assert_int_equal(store_create(s, VI, in, &out, &err), 0);
	json_decref(in);
	json_decref(out);
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < 2; i++)
		if (r[i].failed)
			fail_msg("thread %d: %d of %d updates failed: %s", i, r[i].failed,
			         RACE_UPDATES, r[i].why);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	/* both threads' changes are in it: one generation per update, none
	 * lost to a write made from an object another had replaced */
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(got, "metadata"), "generation")),
	    1 + 2 * RACE_UPDATES);
	/* and it is the last write's */
	assert_int_equal(strtoll(meta(got, "resourceVersion"), NULL, 10),
	                 r[0].max_rv > r[1].max_rv ? r[0].max_rv : r[1].max_rv);
	json_decref(got);
	store_close(s);
}

/* ---- a spy between the layer and the SQLite kv --------------------------------- */

#define SPY_MAX 16

struct spy {
	struct store_kv base;
	struct store_kv_ops ops;
	struct store_kv *inner;
	int gets;
	int writes, failed_writes;
	int64_t expect[SPY_MAX];
	int64_t lease[SPY_MAX]; /* each write's */
	int grants;
	int64_t lease_ttl; /* the last grant's */
	/* another writer, between the layer's read and its write: the next
	 * get is followed by a write of its own to the same key */
	int interfere;
	/* another writer creates the key of the next create first */
	int take_first;
	char names[SPY_MAX][80]; /* the keys written */
	/* a watch from the revision being written, started from another
	 * thread between the commit and its publish (the window a list that
	 * has read the revision can meet) */
	bool watch_in_commit;
	struct store *s;
	struct store_watch *w;
	int watch_rc;
	pthread_t watcher;
};

/* A write's callbacks, passed through (they share the layer's arg). */
struct spy_commit {
	struct spy *sp;
	int (*encode)(void *arg, int64_t rev, const char **text, size_t *len);
	void (*committed)(void *arg, int64_t rev);
	void *arg;
	int64_t rev;
};

static int spy_encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct spy_commit *c = arg;
	return c->encode(c->arg, rev, text, len);
}

static void *spy_watcher(void *arg)
{
	struct spy_commit *c = arg;
	struct vim_err err;

	c->sp->watch_rc = store_watch(
	    c->sp->s, VI, &(struct store_watch_opts){.resource_version = c->rev}, &c->sp->w, &err);
	return NULL;
}

static void spy_committed(void *arg, int64_t rev)
{
	struct spy_commit *c = arg;

	if (c->sp->watch_in_commit) {
		c->sp->watch_in_commit = false;
		c->rev = rev;
		assert_int_equal(pthread_create(&c->sp->watcher, NULL, spy_watcher, c), 0);
		usleep(150 * 1000); /* the watcher registers now, if it can */
	}
	c->committed(c->arg, rev);
}

static struct spy *spy_of(struct store_kv *kv)
{
	return (struct spy *)kv;
}

static int spy_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn,
                     void *arg, struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct store_kv *in = spy_of(kv)->inner;
	return in->ops->range(in, r, fn, arg, meta, err);
}

static int spy_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err)
{
	struct store_kv *in = spy_of(kv)->inner;
	return in->ops->current_rev(in, rev, err);
}

static void spy_close(struct store_kv *kv)
{
	struct store_kv *in = spy_of(kv)->inner;
	in->ops->close(in);
	free(kv);
}

/* The other writer's value: the stored one with a label of its own. */
struct other {
	json_t *obj;
	char *text;
};

static int other_encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct other *o = arg;
	char rvtext[24];

	snprintf(rvtext, sizeof(rvtext), "%lld", (long long)rev);
	json_object_set_new(json_object_get(o->obj, "metadata"), "resourceVersion",
	                    json_string(rvtext));
	o->text = json_dumps(o->obj, JSON_COMPACT);
	*text = o->text;
	*len = strlen(o->text);
	return 0;
}

static int spy_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
                     struct vim_err *err)
{
	struct spy *sp = spy_of(kv);
	int rc;

	if (sp->take_first > 0 && w->expect_rev == 0 && w->op == STORE_KV_PUT) {
		struct other o = {.obj = json_pack("{s:{s:s,s:s,s:{s:s}}}", "metadata", "name",
		                                   w->key.name, "namespace", w->key.ns, "labels",
		                                   "by", "other")};
		struct store_kv_write ow = {
		    .key = w->key, .op = STORE_KV_PUT, .encode = other_encode, .arg = &o};
		int64_t got;

		sp->take_first--;
		assert_int_equal(sp->inner->ops->write(sp->inner, &ow, &got, err), 0);
		json_decref(o.obj);
		free(o.text);
	}
	if (sp->writes < SPY_MAX) {
		sp->expect[sp->writes] = w->expect_rev;
		sp->lease[sp->writes] = w->lease;
		snprintf(sp->names[sp->writes], sizeof(sp->names[0]), "%s", w->key.name);
	}
	sp->writes++;
	if (w->committed) {
		struct spy_commit c = {
		    .sp = sp, .encode = w->encode, .committed = w->committed, .arg = w->arg};
		struct store_kv_write mine = *w;

		mine.encode = w->encode ? spy_encode : NULL;
		mine.committed = spy_committed;
		mine.arg = &c;
		rc = sp->inner->ops->write(sp->inner, &mine, rev, err);
	} else {
		rc = sp->inner->ops->write(sp->inner, w, rev, err);
	}
	if (rc < 0)
		sp->failed_writes++;
	return rc;
}

static int spy_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
                   struct vim_err *err)
{
	struct spy *sp = spy_of(kv);
	int rc = sp->inner->ops->get(sp->inner, key, out, err);

	sp->gets++;
	if (rc == 0 && sp->interfere > 0) {
		struct other o = {.obj = json_loadb(out->value, out->len, 0, NULL)};
		struct store_kv_write w = {.key = *key,
		                           .op = STORE_KV_PUT,
		                           .expect_rev = out->mod_rev,
		                           .encode = other_encode,
		                           .arg = &o};
		int64_t got;

		sp->interfere--;
		json_object_set_new(json_object_get(o.obj, "metadata"), "labels",
		                    json_pack("{s:s}", "by", "other"));
		assert_int_equal(sp->inner->ops->write(sp->inner, &w, &got, err), 0);
		json_decref(o.obj);
		free(o.text);
	}
	return rc;
}

static int spy_lease_grant(struct store_kv *kv, int64_t ttl_s, int64_t *id, struct vim_err *err)
{
	struct spy *sp = spy_of(kv);

	(void)err;
	sp->lease_ttl = ttl_s;
	*id = 100 + ++sp->grants;
	return 0;
}

/* The spy over the SQLite kv, with leases (that SQLite ignores) when
 * o->event_ttl_s is set. */
static struct store *spy_open_opts(struct spy **out, const struct store_object_opts *o)
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
	sp->ops.write = spy_write;
	sp->ops.current_rev = spy_current_rev;
	sp->ops.close = spy_close;
	if (o && o->event_ttl_s)
		sp->ops.lease_grant = spy_lease_grant;
	sp->base.ops = &sp->ops;
	if (store_object_open(&s, &sp->base, o, &err) != 0)
		fail_msg("open: %s", err.msg);
	sp->s = s;
	*out = sp;
	return s;
}

static struct store *spy_open(struct spy **out)
{
	return spy_open_opts(out, NULL);
}

static void spy_reset(struct spy *sp)
{
	sp->gets = sp->writes = sp->failed_writes = 0;
	memset(sp->expect, 0, sizeof(sp->expect));
	memset(sp->names, 0, sizeof(sp->names));
}

static void test_a_taken_name_is_refused_by_the_compare_not_a_read(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp);
	json_t *in = vi("a", "Upload"), *out = NULL;
	struct vim_err err;
	(void)state;

	assert_int_equal(store_create(s, VI, in, &out, &err), 0);
	json_decref(out);
	spy_reset(sp);
	assert_int_equal(store_create(s, VI, in, &out, &err), VIM_EEXIST);
	assert_null(out);
	assert_string_equal(err.msg,
	                    "virtualimages.virtualization.deckhouse.io \"a\" already exists");
	assert_int_equal(sp->gets, 0);
	assert_int_equal(sp->writes, 1);
	assert_int_equal(sp->expect[0], 0); /* "the key must not exist" */
	assert_int_equal(sp->failed_writes, 1);
	json_decref(in);
	store_close(s);
}

static void test_a_generated_name_that_is_taken_is_generated_again(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp);
	json_t *in = json_pack("{s:{s:s,s:s},s:{s:{s:s}}}", "metadata", "generateName", "gen-",
	                       "namespace", "ns", "spec", "dataSource", "type", "Upload"),
	       *out = NULL, *got = NULL;
	struct vim_err err;
	(void)state;

	/* another writer takes the first name the layer generates, between
	 * the generation and the write */
	sp->take_first = 1;
	assert_int_equal(store_create(s, VI, in, &out, &err), 0);
	assert_int_equal(sp->gets, 0); /* the compare decides: no read first */
	assert_int_equal(sp->writes, 2);
	assert_int_equal(sp->failed_writes, 1);
	assert_int_equal(sp->expect[0], 0);
	assert_int_equal(sp->expect[1], 0);
	assert_string_not_equal(sp->names[0], sp->names[1]);
	assert_string_equal(meta(out, "name"), sp->names[1]);
	assert_int_equal(strncmp(meta(out, "name"), "gen-", 4), 0);
	assert_int_equal(store_get(s, VI, "ns", sp->names[0], &got, &err), 0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_object_get(got, "metadata"), "labels"), "by")),
	                    "other"); /* the other writer's, untouched */
	json_decref(got);
	json_decref(out);
	json_decref(in);
	store_close(s);
}

static void test_a_stale_rv_lost_in_the_compare_writes_nothing_more(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp);
	json_t *in = vi("a", "Upload"), *out = NULL, *got = NULL, *up;
	struct vim_err err;
	char rv[24];
	(void)state;

	assert_int_equal(store_create(s, VI, in, &out, &err), 0);
	snprintf(rv, sizeof(rv), "%s", meta(out, "resourceVersion"));
	json_decref(out);
	json_decref(in);
	/* the caller's resourceVersion is the stored one when the layer reads,
	 * and another writer moves the object on before the layer writes */
	up = vi("a", "HTTP");
	json_object_set_new(json_object_get(up, "metadata"), "resourceVersion", json_string(rv));
	spy_reset(sp);
	sp->interfere = 1;
	assert_int_equal(store_update(s, VI, up, &out, &err), VIM_ECONFLICT);
	assert_non_null(strstr(err.msg, "the object has been modified"));
	assert_null(out);
	assert_int_equal(sp->writes, 1); /* the one that lost, and no other */
	assert_int_equal(sp->failed_writes, 1);
	assert_int_equal(sp->expect[0], strtoll(rv, NULL, 10));
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(json_object_get(got, "metadata"), "labels"), "by")),
	                    "other");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(got, "spec"), "dataSource"), "type")),
	    "Upload");
	json_decref(got);

	/* the same without a resourceVersion: read again and re-apply */
	json_object_del(json_object_get(up, "metadata"), "resourceVersion");
	spy_reset(sp);
	sp->interfere = 1;
	assert_int_equal(store_update(s, VI, up, &out, &err), 0);
	assert_int_equal(sp->writes, 2);
	assert_int_equal(sp->failed_writes, 1);
	assert_int_equal(sp->gets, 2);
	assert_int_equal(sp->expect[1], sp->expect[0] + 1); /* the other writer's */
	assert_int_equal(strtoll(meta(out, "resourceVersion"), NULL, 10), sp->expect[1] + 1);
	json_decref(out);

	/* and a delete whose compare lost to a writer retries too */
	spy_reset(sp);
	sp->interfere = 1;
	{
		bool deleted = false;
		assert_int_equal(
		    store_delete(
		        s, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
		        &out, &deleted, &err),
		    0);
		assert_true(deleted);
		json_decref(out);
	}
	assert_int_equal(sp->writes, 2);
	assert_int_equal(sp->failed_writes, 1);
	json_decref(up);
	store_close(s);
}

/* A status write from the caller's basis reads nothing; its compare on
 * the basis' revision is what finds it stale. */
static void test_a_status_write_from_a_basis_compares_without_reading(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp);
	json_t *in = vi("a", "Upload"), *basis = NULL, *st, *out = NULL, *other = NULL;
	struct store_write_opts wo = {0};
	struct vim_err err;
	(void)state;

	assert_int_equal(store_create(s, VI, in, &basis, &err), 0);
	json_decref(in);
	st = json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", "a", "namespace", "ns",
	               "resourceVersion", meta(basis, "resourceVersion"), "status", "phase",
	               "Ready");
	wo.basis = basis;
	spy_reset(sp);
	assert_int_equal(store_update_status_opts(s, VI, st, &wo, &out, &err), 0);
	assert_int_equal(sp->gets, 0);
	assert_int_equal(sp->writes, 1);
	assert_int_equal(sp->expect[0], strtoll(meta(basis, "resourceVersion"), NULL, 10));
	json_decref(out);
	/* the same basis again: the stored object has moved on (the write
	 * above), so the compare fails and nothing is written; one read
	 * after it tells a 409 from a 404 (the object gone) */
	json_object_set_new(json_object_get(st, "status"), "phase", json_string("Failed"));
	spy_reset(sp);
	assert_int_equal(store_update_status_opts(s, VI, st, &wo, &out, &err), VIM_ECONFLICT);
	assert_non_null(strstr(err.msg, "the object has been modified"));
	assert_int_equal(sp->gets, 1);
	assert_int_equal(sp->writes, 1);
	assert_int_equal(sp->failed_writes, 1);
	assert_int_equal(store_get(s, VI, "ns", "a", &other, &err), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(other, "status"), "phase")), "Ready");
	json_decref(other);
	json_decref(st);
	json_decref(basis);
	store_close(s);
}

/* A write whose compare finds the object deleted is a 404, as the read
 * before it would have said: a controller's status write from its cache's
 * copy of an object deleted meanwhile must not look like a conflict. */
static void test_a_compare_that_finds_the_object_gone_is_not_found(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *in = vi("a", "Upload"), *basis = NULL, *st, *out = NULL;
	struct store_write_opts wo = {0};
	struct vim_err err;
	bool deleted;
	(void)state;

	assert_int_equal(store_create(s, VI, in, &basis, &err), 0);
	json_decref(in);
	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
	                 &out, &deleted, &err),
	    0);
	json_decref(out);
	st = json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", "a", "namespace", "ns",
	               "resourceVersion", meta(basis, "resourceVersion"), "status", "phase",
	               "Ready");
	wo.basis = basis;
	assert_int_equal(store_update_status_opts(s, VI, st, &wo, &out, &err), VIM_ENOTFOUND);
	assert_string_equal(err.msg, "virtualimages.virtualization.deckhouse.io \"a\" not found");
	assert_null(out);
	json_decref(st);
	json_decref(basis);
	store_close(s);
}

/* A list can read a revision before the layer has published it (the
 * backend commits, then calls `committed`); a watch from that revision
 * must not get it again. */
static void test_a_watch_from_a_revision_being_published_does_not_replay_it(void **state)
{
	struct spy *sp;
	struct store *s = spy_open(&sp);
	json_t *in = vi("a", "Upload"), *out = NULL;
	struct store_event ev;
	struct vim_err err;
	(void)state;

	assert_int_equal(store_create(s, VI, in, &out, &err), 0);
	json_decref(out);
	json_decref(in);
	in = vi("a", "HTTP");
	sp->watch_in_commit = true;
	assert_int_equal(store_update(s, VI, in, &out, &err), 0);
	pthread_join(sp->watcher, NULL);
	assert_int_equal(sp->watch_rc, 0);
	/* nothing after the revision it asked for */
	assert_int_equal(store_watch_next(sp->w, 300, &ev, &err), 0);
	store_watch_free(sp->w);
	json_decref(out);
	json_decref(in);
	store_close(s);
}

static json_t *event_about(struct store *s, const char *name, int64_t when)
{
	json_t *img = vi(name, "Upload"), *out = NULL;
	struct vim_err err;

	assert_int_equal(store_create(s, VI, img, &out, &err), 0);
	json_decref(img);
	assert_int_equal(store_event_record(
	                     s, &(struct store_event_rec){out, "Normal", "Seen", "m", when}, &err),
	                 0);
	return out;
}

/* On a backend with leases every Event put goes with one, shared by the
 * writes of a window and granted for the TTL plus that window (kube's
 * leaseManager: 5 % of the TTL, at most 60 s; --event-ttl 120 is a lease
 * of 126 s), and nothing else gets one; the expiry thread does not run
 * (the backend expires them). */
static void test_events_get_one_shared_lease_and_nothing_else_does(void **state)
{
	struct store_object_opts o = {.event_ttl_s = 120, .event_expire_every_ms = 50};
	struct spy *sp;
	struct store *s = spy_open_opts(&sp, &o);
	struct store_list_meta m;
	json_t *a, *b, *items = NULL;
	struct vim_err err;
	int i, leased = 0;
	(void)state;

	a = event_about(s, "a", 1000); /* long past the TTL */
	b = event_about(s, "b", 1000);
	/* the same event again: an update of its count, leased as well */
	assert_int_equal(
	    store_event_record(s, &(struct store_event_rec){a, "Normal", "Seen", "m", 2000}, &err),
	    0);
	assert_int_equal(sp->grants, 1);
	assert_int_equal(sp->lease_ttl, 120 + 6);
	for (i = 0; i < sp->writes && i < SPY_MAX; i++) {
		if (strcmp(sp->names[i], "a") == 0 || strcmp(sp->names[i], "b") == 0)
			assert_int_equal(sp->lease[i], 0); /* the images */
		else if (sp->lease[i] == 101)
			leased++;
	}
	/* two creates, the third that found its Event there, and the update
	 * of its count: every put, one lease */
	assert_int_equal(leased, 4);
	usleep(400 * 1000); /* what the expiry thread would take to delete them */
	assert_int_equal(store_list_json(s, "events", NULL, &items, &m, &err), 0);
	assert_int_equal(json_array_size(items), 2);
	json_decref(items);
	json_decref(a);
	json_decref(b);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_two_writers_without_rv_both_land_every_update,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_taken_name_is_refused_by_the_compare_not_a_read,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_generated_name_that_is_taken_is_generated_again,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_stale_rv_lost_in_the_compare_writes_nothing_more,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_status_write_from_a_basis_compares_without_reading, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_compare_that_finds_the_object_gone_is_not_found,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_watch_from_a_revision_being_published_does_not_replay_it, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_get_one_shared_lease_and_nothing_else_does,
	                                    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
