/*
 * The store, for real, on the backend tmpdb names (SQLite in a temporary
 * directory, or a prefix of the test process's etcd): Kubernetes' write
 * rules, selectors, paging, restart, the watch hub and events.
 *
 * Revisions are counted from the store's revision before the case
 * (rv_before): on etcd the revision is the whole etcd's, shared by every
 * prefix of the process.  Each write of a case is one revision, as etcd
 * and SQLite both count them, and nothing else writes while a case runs.
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
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("store");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static struct store *open_store(int64_t history)
{
	return tmpdb_open_store_opts(&(struct store_sqlite_opts){.history = history});
}

static json_t *vi(const char *ns, const char *name, const char *label)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	                 "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	                 "name", name, "namespace", ns, "labels", "tier", label, "spec",
	                 "dataSource", "type", "Upload");
}

static json_t *create(struct store *s, json_t *obj)
{
	json_t *out = NULL;
	struct vim_err err;
	if (store_create(s, VI, obj, &out, &err) != 0)
		fail_msg("create: %s", err.msg);
	json_decref(obj);
	return out;
}

static const char *meta(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static json_int_t generation(const json_t *o)
{
	return json_integer_value(json_object_get(json_object_get(o, "metadata"), "generation"));
}

/* metadata.resourceVersion as a number (0 when there is none). */
static int64_t rv_of(const json_t *o)
{
	const char *rv = meta(o, "resourceVersion");

	return rv ? strtoll(rv, NULL, 10) : 0;
}

/* The revision of a fresh store before the case writes.  A fresh SQLite
 * file starts at 0: there every count below is the absolute revision it
 * always was, so no assertion is weaker on SQLite than before. */
static int64_t rv_before(struct store *s)
{
	int64_t rv = tmpdb_store_rv(s);

	if (tmpdb_is("sqlite"))
		assert_int_equal(rv, 0);
	return rv;
}

static void test_create_assigns_server_metadata(void **state)
{
	struct store *s = open_store(0);
	int64_t base = rv_before(s);
	json_t *a = create(s, vi("ns", "a", "web")), *got = NULL, *dup = NULL;
	struct vim_err err;
	(void)state;

	assert_int_equal(strlen(meta(a, "uid")), 36);
	assert_non_null(meta(a, "creationTimestamp"));
	assert_int_equal(generation(a), 1);
	assert_int_equal(rv_of(a), base + 1);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(a, got));
	json_decref(got);
	assert_int_equal(store_create(s, VI, a, &dup, &err), VIM_EEXIST);
	assert_string_equal(err.msg,
	                    "virtualimages.virtualization.deckhouse.io \"a\" already exists");
	assert_int_equal(store_get(s, VI, "ns", "zz", &got, &err), VIM_ENOTFOUND);
	assert_string_equal(err.msg, "virtualimages.virtualization.deckhouse.io \"zz\" not found");
	json_decref(a);
	store_close(s);
}

static void test_generate_name(void **state)
{
	struct store *s = open_store(0);
	json_t *o = vi("ns", "x", "a"), *out;
	(void)state;

	json_object_del(json_object_get(o, "metadata"), "name");
	json_object_set_new(json_object_get(o, "metadata"), "generateName", json_string("img-"));
	out = create(s, o);
	assert_int_equal(strlen(meta(out, "name")), 9);
	assert_memory_equal(meta(out, "name"), "img-", 4);
	json_decref(out);
	store_close(s);
}

/* Kubernetes' generator: the prefix cut to 58 characters, then 5 from
 * "bcdfghjklmnpqrstvwxz2456789", so a long prefix still gives a valid
 * 63-character name. */
static void test_generate_name_cuts_a_long_prefix_as_kubernetes(void **state)
{
	struct store *s = open_store(0);
	char prefix[71];
	const char *name;
	json_t *o, *out;
	int i, k;
	(void)state;

	memset(prefix, 'p', 70);
	prefix[70] = '\0';
	for (i = 0; i < 20; i++) {
		o = vi("ns", "x", "a");
		json_object_del(json_object_get(o, "metadata"), "name");
		json_object_set_new(json_object_get(o, "metadata"), "generateName",
		                    json_string(prefix));
		out = create(s, o);
		name = meta(out, "name");
		assert_int_equal(strlen(name), 63);
		assert_memory_equal(name, prefix, 58);
		for (k = 58; k < 63; k++)
			assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", name[k]));
		json_decref(out);
	}
	store_close(s);
}

/* Longer keys than Kubernetes allows are refused, not stored: a continue
 * token could not carry them, and paging would start again at them. */
static void test_create_refuses_keys_longer_than_kubernetes_allows(void **state)
{
	struct store *s = open_store(0);
	char longname[255], longns[65];
	json_t *o, *out = NULL;
	struct vim_err err;
	(void)state;

	memset(longname, 'x', 254);
	longname[254] = '\0';
	memset(longns, 'n', 64);
	longns[64] = '\0';
	o = vi("ns", longname, "a");
	assert_int_equal(store_create(s, VI, o, &out, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "metadata.name"));
	json_decref(o);
	o = vi(longns, "a", "a");
	assert_int_equal(store_create(s, VI, o, &out, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "metadata.namespace"));
	json_decref(o);
	longname[253] = '\0';
	longns[63] = '\0';
	json_decref(create(s, vi(longns, longname, "a"))); /* the longest valid ones */
	store_close(s);
}

static void test_update_rules(void **state)
{
	struct store *s = open_store(0);
	int64_t base = rv_before(s);
	json_t *a = create(s, vi("ns", "a", "web")), *b, *c = NULL, *stale;
	struct vim_err err;
	(void)state;

	/* a label change: new RV, same generation */
	b = json_deep_copy(a);
	json_object_set_new(json_object_get(json_object_get(b, "metadata"), "labels"), "tier",
	                    json_string("db"));
	json_object_set_new(b, "status", json_pack("{s:s}", "phase", "Ready")); /* ignored */
	json_object_set_new(json_object_get(b, "metadata"), "uid", json_string("forged"));
	assert_int_equal(store_update(s, VI, b, &c, &err), 0);
	assert_int_equal(rv_of(c), base + 2);
	assert_int_equal(generation(c), 1);
	assert_null(json_object_get(c, "status"));
	assert_string_equal(meta(c, "uid"), meta(a, "uid"));
	json_decref(b);
	/* the stale copy conflicts */
	stale = json_deep_copy(a);
	json_object_set_new(json_object_get(stale, "spec"), "storage", json_string("x"));
	assert_int_equal(store_update(s, VI, stale, &b, &err), VIM_ECONFLICT);
	assert_non_null(strstr(err.msg, "the object has been modified"));
	/* a spec change bumps generation */
	json_object_set_new(json_object_get(stale, "metadata"), "resourceVersion",
	                    json_string(meta(c, "resourceVersion")));
	json_decref(c);
	assert_int_equal(store_update(s, VI, stale, &c, &err), 0);
	assert_int_equal(generation(c), 2);
	/* a no-op update keeps the RV */
	json_decref(stale);
	stale = json_deep_copy(c);
	json_decref(c);
	assert_int_equal(store_update(s, VI, stale, &c, &err), 0);
	assert_int_equal(rv_of(c), base + 3);
	assert_int_equal(tmpdb_store_rv(s), base + 3); /* and nothing was written */
	json_decref(stale);
	json_decref(c);
	json_decref(a);
	store_close(s);
}

static void test_status_subresource_changes_only_status(void **state)
{
	struct store *s = open_store(0);
	json_t *a = create(s, vi("ns", "a", "web")), *b = json_deep_copy(a), *c = NULL;
	struct vim_err err;
	(void)state;

	json_object_set_new(b, "status", json_pack("{s:s}", "phase", "Ready"));
	json_object_set_new(json_object_get(b, "spec"), "storage", json_string("changed"));
	json_object_del(json_object_get(b, "metadata"), "labels");
	assert_int_equal(store_update_status(s, VI, b, &c, &err), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(c, "status"), "phase")), "Ready");
	assert_null(json_object_get(json_object_get(c, "spec"), "storage"));
	assert_non_null(json_object_get(json_object_get(c, "metadata"), "labels"));
	assert_int_equal(generation(c), 1);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	store_close(s);
}

static void test_finalizers_hold_a_deleted_object(void **state)
{
	struct store *s = open_store(0);
	json_t *o = vi("ns", "a", "web"), *a, *d = NULL, *b, *c = NULL, *got;
	struct store_watch_opts wo = {0};
	struct store_watch *w = NULL;
	struct store_event ev;
	struct vim_err err;
	bool deleted = true;
	(void)state;

	json_object_set_new(json_object_get(o, "metadata"), "finalizers", json_pack("[s]", "x/y"));
	a = create(s, o);
	assert_int_equal(store_watch(s, VI, &wo, &w, &err), 0);
	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = VI, .ns = "ns", .name = "a"},
	                 &d, &deleted, &err),
	    0);
	assert_false(deleted);
	assert_non_null(meta(d, "deletionTimestamp"));
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_MODIFIED);
	json_decref(ev.object);
	/* dropping the last finalizer deletes it */
	b = json_deep_copy(d);
	json_object_set_new(json_object_get(b, "metadata"), "finalizers", json_array());
	assert_int_equal(store_update(s, VI, b, &c, &err), 0);
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_int_equal(ev.type, STORE_DELETED);
	json_decref(ev.object);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), VIM_ENOTFOUND);
	store_watch_free(w);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
	store_close(s);
}

/* dryRun=All: each write runs its rules and answers what it would, and
 * nothing changes: no row, no resourceVersion, no watch event. */
static void test_dry_run_writes_change_nothing(void **state)
{
	struct store *s = open_store(0);
	const struct store_write_opts dry = {.dry_run = true};
	json_t *o = vi("ns", "a", "web"), *a, *out = NULL, *got = NULL, *next;
	struct store_watch_opts wopts = {0};
	struct store_watch *w = NULL;
	struct store_event ev;
	struct vim_err err;
	bool deleted = false;
	int64_t rv;
	(void)state;

	json_object_set_new(json_object_get(o, "metadata"), "finalizers", json_pack("[s]", "x/y"));
	a = create(s, o);
	rv = tmpdb_store_rv(s);
	assert_int_equal(rv, rv_of(a));
	assert_int_equal(store_watch(s, VI, &wopts, &w, &err), 0);

	/* create: server metadata, no resourceVersion, nothing stored */
	o = vi("ns", "b", "web");
	assert_int_equal(store_create_opts(s, VI, o, &dry, &out, &err), 0);
	assert_non_null(meta(out, "uid"));
	assert_non_null(meta(out, "creationTimestamp"));
	assert_int_equal(generation(out), 1);
	assert_null(meta(out, "resourceVersion"));
	assert_int_equal(store_get(s, VI, "ns", "b", &got, &err), VIM_ENOTFOUND);
	json_decref(out);
	/* the same rules as a real create: a taken name is 409 */
	json_object_set_new(json_object_get(o, "metadata"), "name", json_string("a"));
	assert_int_equal(store_create_opts(s, VI, o, &dry, &out, &err), VIM_EEXIST);
	json_decref(o);

	/* update: the would-be object under the old resourceVersion */
	next = json_deep_copy(a);
	json_object_set_new(json_object_get(next, "spec"), "storage", json_string("x"));
	assert_int_equal(store_update_opts(s, VI, next, &dry, &out, &err), 0);
	assert_string_equal(meta(out, "resourceVersion"), meta(a, "resourceVersion"));
	assert_int_equal(generation(out), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "spec"), "storage")), "x");
	json_decref(out);
	/* an unconditional one too */
	json_object_del(json_object_get(next, "metadata"), "resourceVersion");
	assert_int_equal(store_update_opts(s, VI, next, &dry, &out, &err), 0);
	assert_string_equal(meta(out, "resourceVersion"), meta(a, "resourceVersion"));
	json_decref(out);
	/* a stale resourceVersion is still a conflict */
	json_object_set_new(json_object_get(next, "metadata"), "resourceVersion",
	                    json_string("999"));
	assert_int_equal(store_update_opts(s, VI, next, &dry, &out, &err), VIM_ECONFLICT);
	json_decref(next);

	/* status */
	next = json_deep_copy(a);
	json_object_set_new(next, "status", json_pack("{s:s}", "phase", "Ready"));
	assert_int_equal(store_update_status_opts(s, VI, next, &dry, &out, &err), 0);
	assert_string_equal(meta(out, "resourceVersion"), meta(a, "resourceVersion"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "status"), "phase")), "Ready");
	json_decref(out);
	json_decref(next);

	/* delete held by a finalizer: deletionTimestamp set, not stored */
	assert_int_equal(store_delete(s,
	                              &(struct store_delete_opts){
	                                  .resource = VI, .ns = "ns", .name = "a", .write = dry},
	                              &out, &deleted, &err),
	                 0);
	assert_false(deleted);
	assert_non_null(meta(out, "deletionTimestamp"));
	assert_string_equal(meta(out, "resourceVersion"), meta(a, "resourceVersion"));
	json_decref(out);
	assert_int_equal(store_delete(s,
	                              &(struct store_delete_opts){.resource = VI,
	                                                          .ns = "ns",
	                                                          .name = "a",
	                                                          .precondition_uid = "other-uid",
	                                                          .write = dry},
	                              &out, &deleted, &err),
	                 VIM_ECONFLICT);

	/* nothing of it happened */
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(got, a));
	json_decref(got);
	assert_int_equal(tmpdb_store_rv(s), rv);
	assert_int_equal(store_watch_next(w, 100, &ev, &err), 0);

	/* delete without finalizers: deleted, but still there */
	next = json_deep_copy(a);
	json_object_set_new(json_object_get(next, "metadata"), "finalizers", json_array());
	assert_int_equal(store_update(s, VI, next, &out, &err), 0);
	json_decref(next);
	json_decref(out);
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1); /* the real update */
	json_decref(ev.object);
	rv = tmpdb_store_rv(s);
	assert_int_equal(store_delete(s,
	                              &(struct store_delete_opts){
	                                  .resource = VI, .ns = "ns", .name = "a", .write = dry},
	                              &out, &deleted, &err),
	                 0);
	assert_true(deleted);
	assert_null(meta(out, "deletionTimestamp"));
	json_decref(out);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	json_decref(got);
	assert_int_equal(tmpdb_store_rv(s), rv);
	assert_int_equal(store_watch_next(w, 100, &ev, &err), 0);

	store_watch_free(w);
	json_decref(a);
	store_close(s);
}

static void test_delete_preconditions(void **state)
{
	struct store *s = open_store(0);
	json_t *a = create(s, vi("ns", "a", "web")), *d = NULL;
	struct vim_err err;
	bool deleted;
	(void)state;

	assert_int_equal(store_delete(s,
	                              &(struct store_delete_opts){.resource = VI,
	                                                          .ns = "ns",
	                                                          .name = "a",
	                                                          .precondition_uid = "other-uid"},
	                              &d, &deleted, &err),
	                 VIM_ECONFLICT);
	assert_non_null(strstr(err.msg, "Precondition failed"));
	assert_int_equal(
	    store_delete(s,
	                 &(struct store_delete_opts){
	                     .resource = VI, .ns = "ns", .name = "a", .precondition_rv = "999"},
	                 &d, &deleted, &err),
	    VIM_ECONFLICT);
	assert_int_equal(
	    store_delete(
	        s,
	        &(struct store_delete_opts){
	            .resource = VI, .ns = "ns", .name = "a", .precondition_uid = meta(a, "uid")},
	        &d, &deleted, &err),
	    0);
	assert_true(deleted);
	json_decref(d);
	json_decref(a);
	store_close(s);
}

static void test_selectors(void **state)
{
	struct store *s = open_store(0);
	struct store_list_opts o = {0};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items;
	static const struct {
		const char *label, *field;
		size_t want;
	} cases[] = {
	    {"tier=web", NULL, 2},
	    {"tier==web", NULL, 2},
	    {"tier!=web", NULL, 1},
	    {"tier in (web,db)", NULL, 3},
	    {"tier notin (web)", NULL, 1},
	    {"tier", NULL, 3},
	    {"!tier", NULL, 0},
	    {"tier=web,tier!=db", NULL, 2},
	    {NULL, "metadata.name=a", 1},
	    {NULL, "metadata.namespace=n2", 1},
	    {"tier=web", "metadata.name!=a", 1},
	};
	size_t i;
	int64_t base = rv_before(s);
	(void)state;

	json_decref(create(s, vi("n1", "a", "web")));
	json_decref(create(s, vi("n1", "b", "web")));
	json_decref(create(s, vi("n2", "c", "db")));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		o.label_selector = cases[i].label;
		o.field_selector = cases[i].field;
		assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
		if (json_array_size(items) != cases[i].want)
			fail_msg("%s / %s: %zu items, want %zu",
			         cases[i].label ? cases[i].label : "",
			         cases[i].field ? cases[i].field : "", json_array_size(items),
			         cases[i].want);
		json_decref(items);
	}
	o.label_selector = NULL;
	o.field_selector = "spec.nope=1";
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "\"spec.nope\" is not a known field selector: only "
	                             "\"metadata.name\", \"metadata.namespace\", \"status.phase\"");
	o.field_selector = NULL;
	o.label_selector = "tier in web";
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), VIM_EINVAL);
	o.label_selector = NULL;
	o.ns = "n1";
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
	assert_int_equal(json_array_size(items), 2);
	assert_int_equal(m.resource_version, base + 3);
	json_decref(items);
	store_close(s);
}

/* The order kv.h lets the backend give keys of one resource in, on
 * "<ns>/<name>" strings: SQLite's (namespace, then name), etcd's the bytes
 * of "<ns>/<name>" (they differ where one namespace is a prefix of another
 * and the next byte sorts below '/', as '-' does).  "" sorts first. */
static int key_cmp(const char *a, const char *b)
{
	const char *sa = strchr(a, '/'), *sb = strchr(b, '/');
	size_t na, nb;
	int c;

	if (tmpdb_is("etcd") || !sa || !sb)
		return strcmp(a, b);
	na = (size_t)(sa - a);
	nb = (size_t)(sb - b);
	c = memcmp(a, b, na < nb ? na : nb);
	if (c == 0 && na != nb)
		c = na < nb ? -1 : 1;
	return c ? c : strcmp(sa + 1, sb + 1);
}

static void test_paging_with_continue_sees_every_object_once(void **state)
{
	struct store *s = open_store(0);
	struct store_list_opts o = {.limit = 100};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items;
	char name[32], prev[64] = "";
	int i, total = 0, pages = 0;
	int64_t base = rv_before(s);
	(void)state;

	for (i = 0; i < 1050; i++) {
		snprintf(name, sizeof(name), "img-%04d", i);
		json_decref(create(s, vi(i % 2 ? "odd" : "even", name, "x")));
	}
	do {
		size_t k;
		json_t *it;
		assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
		json_array_foreach(items, k, it)
		{
			char key[64];
			snprintf(key, sizeof(key), "%s/%s", meta(it, "namespace"),
			         meta(it, "name"));
			assert_true(key_cmp(prev, key) < 0); /* strictly increasing: no repeats */
			memcpy(prev, key, sizeof(prev));
		}
		total += (int)json_array_size(items);
		pages++;
		if (m.continue_token[0])
			assert_int_equal(m.remaining, 1050 - total);
		assert_int_equal(m.resource_version, base + 1050); /* every page: the first's */
		json_decref(items);
		/* the token may be passed straight back from the meta it came in */
		o.continue_token = m.continue_token;
	} while (m.continue_token[0]);
	assert_int_equal(total, 1050);
	assert_int_equal(pages, 11);
	o.continue_token = "not-a-token!";
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), VIM_EINVAL);
	store_close(s);
}

/* Names up to 253 characters and namespaces up to 63 are valid: a page of
 * one object at a time must still see each exactly once and end (the
 * token holds the whole key, never a truncated one). */
static void test_paging_one_at_a_time_over_the_longest_keys(void **state)
{
	struct store *s = open_store(0);
	struct store_list_opts o = {.limit = 1};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items;
	char ns[2][64], name[254], seen[8][254 + 64];
	int i, total = 0, pages = 0;
	(void)state;

	for (i = 0; i < 2; i++) {
		memset(ns[i], 'n', 63);
		ns[i][62] = (char)('a' + i);
		ns[i][63] = '\0';
	}
	memset(name, 'x', 253);
	name[253] = '\0';
	for (i = 0; i < 7; i++) {
		name[252] = (char)('a' + i / 2); /* pairs differ only in the last byte */
		name[251] = (char)('a' + i % 2);
		json_decref(create(s, vi(ns[i % 2], name, "x")));
	}
	{ /* and one named by a 300-character generateName (cut to 58 + 5) */
		char prefix[301];
		json_t *g = vi(ns[1], "x", "x");
		memset(prefix, 'a', 300); /* first of its namespace: not the last page */
		prefix[300] = '\0';
		json_object_del(json_object_get(g, "metadata"), "name");
		json_object_set_new(json_object_get(g, "metadata"), "generateName",
		                    json_string(prefix));
		json_decref(create(s, g));
	}
	do {
		json_t *it;
		assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
		assert_true(json_array_size(items) <= 1);
		if ((it = json_array_get(items, 0))) {
			assert_true(total < 8);
			snprintf(seen[total], sizeof(seen[total]), "%s/%s", meta(it, "namespace"),
			         meta(it, "name"));
			if (total > 0)
				assert_true(key_cmp(seen[total - 1], seen[total]) < 0);
			total++;
		}
		pages++;
		json_decref(items);
		o.continue_token = m.continue_token;
	} while (m.continue_token[0] && pages < 20);
	assert_int_equal(total, 8);
	assert_int_equal(pages, 8);
	store_close(s);
}

/* Namespaces where the two backends' orders differ ("a" before "a-b" by
 * namespace; "a-b/..." before "a/..." by bytes, '-' < '/'): pages of one
 * and of two objects see each once, in the order the backend gives, the
 * token continuing in that same order. */
static void test_paging_continues_in_the_backends_own_order(void **state)
{
	struct store *s = open_store(0);
	static const char *const nss[] = {"a", "a-b", "a0", "b"};
	struct store_list_opts o = {0};
	struct store_list_meta m;
	struct vim_err err;
	char seen[16][64];
	json_t *items, *it;
	size_t k, ni;
	int i, n, limit, pages;
	(void)state;

	for (ni = 0; ni < 4; ni++)
		for (i = 0; i < 2; i++) {
			char name[16];
			snprintf(name, sizeof(name), "x%d", i);
			json_decref(create(s, vi(nss[ni], name, "x")));
		}
	for (limit = 1; limit <= 2; limit++) {
		o.limit = limit;
		o.continue_token = NULL;
		n = pages = 0;
		do {
			assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
			json_array_foreach(items, k, it)
			{
				assert_true(n < 8);
				snprintf(seen[n], sizeof(seen[n]), "%s/%s", meta(it, "namespace"),
				         meta(it, "name"));
				if (n > 0 && key_cmp(seen[n - 1], seen[n]) >= 0)
					fail_msg("limit %d: %s after %s", limit, seen[n],
					         seen[n - 1]);
				n++;
			}
			json_decref(items);
			o.continue_token = m.continue_token;
		} while (m.continue_token[0] && ++pages < 20);
		assert_int_equal(n, 8);
	}
	store_close(s);
}

static int b64url_char(char c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *p = strchr(a, c);
	return p && c ? (int)(p - a) : -1;
}

/* Decodes unpadded base64url (the tests' own, to read tokens). */
static size_t b64url_dec(const char *in, char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (; *in; in++) {
		int v = b64url_char(*in);
		assert_true(v >= 0);
		acc = acc << 6 | (unsigned)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			out[o++] = (char)(acc >> bits & 0xff);
		}
	}
	return o;
}

static void b64url_enc(const char *in, char *out)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned acc = 0;
	int bits = 0;
	for (; *in; in++) {
		acc = acc << 8 | (unsigned char)*in;
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			*out++ = a[acc >> bits & 63];
		}
	}
	if (bits)
		*out++ = a[acc << (6 - bits) & 63];
	*out = '\0';
}

/* The continue token is Kubernetes' own: base64url of
 * {"v":"meta.k8s.io/v1","rv":N,"start":"<ns>/<name>\u0000"}; anything
 * else is "continue key is not valid", never a list from the start. */
static void test_continue_token_is_kubernetes_shaped_and_checked(void **state)
{
	struct store *s = open_store(0);
	struct store_list_opts o = {.limit = 1};
	struct store_list_meta m;
	struct vim_err err;
	char raw[700], tok[1000];
	char future[128];
	const char *bad[] = {"{\"v\":\"other/v9\",\"rv\":1,\"start\":\"ns/a\\u0000\"}",
	                     "{\"v\":\"meta.k8s.io/v1\",\"rv\":0,\"start\":\"ns/a\\u0000\"}",
	                     "{\"v\":\"meta.k8s.io/v1\",\"rv\":1}",
	                     "{\"v\":\"meta.k8s.io/v1\",\"rv\":1,\"start\":\"\"}",
	                     future, /* a revision newer than the store's */
	                     "[1,2]"};
	json_t *items, *t;
	size_t n, i;
	int64_t base = rv_before(s);
	(void)state;

	snprintf(future, sizeof(future),
	         "{\"v\":\"meta.k8s.io/v1\",\"rv\":%lld,\"start\":\"ns/a\\u0000\"}",
	         (long long)(base + 99));
	json_decref(create(s, vi("ns", "a", "x")));
	json_decref(create(s, vi("ns", "b", "x")));
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), 0);
	json_decref(items);
	n = b64url_dec(m.continue_token, raw);
	t = json_loadb(raw, n, JSON_ALLOW_NUL, NULL);
	assert_non_null(t);
	assert_string_equal(json_string_value(json_object_get(t, "v")), "meta.k8s.io/v1");
	assert_int_equal(json_integer_value(json_object_get(t, "rv")), base + 2);
	assert_int_equal(json_string_length(json_object_get(t, "start")), 5);
	assert_memory_equal(json_string_value(json_object_get(t, "start")), "ns/a\0", 5);
	json_decref(t);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b64url_enc(bad[i], tok);
		o.continue_token = tok;
		assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), VIM_EINVAL);
		assert_null(items);
		if (!strstr(err.msg, "continue key is not valid"))
			fail_msg("token %s: %s", bad[i], err.msg);
	}
	o.continue_token = "%%%garbage";
	assert_int_equal(store_list_json(s, VI, &o, &items, &m, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "continue key is not valid"));
	store_close(s);
}

static void test_restart_keeps_objects_and_rv_order(void **state)
{
	struct store *s = open_store(0);
	int64_t base = rv_before(s);
	json_t *c, *got = NULL;
	struct vim_err err;
	(void)state;

	json_decref(create(s, vi("ns", "a", "x")));
	json_decref(create(s, vi("ns", "b", "x")));
	store_close(s);
	s = open_store(0); /* the same file, the same etcd prefix */
	assert_int_equal(store_current_rv(s), base + 2);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_int_equal(rv_of(got), base + 1);
	json_decref(got);
	assert_int_equal(store_get(s, VI, "ns", "b", &got, &err), 0);
	assert_int_equal(rv_of(got), base + 2);
	c = create(s, vi("ns", "c", "x"));
	assert_int_equal(rv_of(c), base + 3);
	json_decref(c);
	json_decref(got);
	store_close(s);
}

/* A file written by the first schema (a WITHOUT ROWID table, no
 * user_version), made with SQLite directly as that build made it. */
static void write_schema_1_file(int user_version)
{
	sqlite3 *db = NULL;
	char sql[1024];

	assert_int_equal(sqlite3_open(tmpdb_path, &db), SQLITE_OK);
	snprintf(sql, sizeof(sql),
	         "PRAGMA journal_mode=WAL;"
	         "CREATE TABLE objects(resource TEXT NOT NULL, ns TEXT NOT NULL,"
	         " name TEXT NOT NULL, rv INTEGER NOT NULL, json TEXT NOT NULL,"
	         " PRIMARY KEY(resource, ns, name)) WITHOUT ROWID;"
	         "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
	         "INSERT INTO meta VALUES('rv', 7);"
	         "INSERT INTO objects VALUES('virtualimages', 'ns', 'old', 7,"
	         " '{\"kind\":\"VirtualImage\",\"metadata\":{\"name\":\"old\","
	         "\"namespace\":\"ns\",\"resourceVersion\":\"7\",\"uid\":\"u-7\"}}');"
	         "PRAGMA user_version=%d;",
	         user_version);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int count_item(void *arg, const char *json, size_t len)
{
	(void)json;
	(void)len;
	(*(int *)arg)++;
	return 0;
}

static void test_schema_1_file_is_moved_without_losing_an_object(void **state)
{
	struct store_list_opts lo = {0};
	struct store_list_meta lm;
	struct store *s;
	json_t *got = NULL, *c;
	struct vim_err err;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int n = 0;
	(void)state;

	tmpdb_require("sqlite"); /* SQLite's file format */
	write_schema_1_file(0);
	s = open_store(0);
	assert_int_equal(store_current_rv(s), 7);
	assert_int_equal(store_get(s, VI, "ns", "old", &got, &err), 0);
	assert_string_equal(meta(got, "uid"), "u-7");
	json_decref(got);
	c = create(s, vi("ns", "new", "x"));
	assert_string_equal(meta(c, "resourceVersion"), "8");
	json_decref(c);
	store_close(s);
	s = open_store(0); /* and the moved file opens as it is */
	assert_int_equal(store_list(s, VI, &lo, count_item, &n, &lm, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(lm.resource_version, 8);
	store_close(s);
	assert_int_equal(sqlite3_open(tmpdb_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT (SELECT user_version FROM pragma_user_version),"
	                                    " sql LIKE '%WITHOUT ROWID%' FROM sqlite_master"
	                                    " WHERE name='objects'",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	assert_int_equal(sqlite3_column_int(st, 1), 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void test_a_newer_schema_is_refused_untouched(void **state)
{
	struct store *s = NULL;
	struct vim_err err;
	(void)state;

	tmpdb_require("sqlite"); /* SQLite's file format */
	write_schema_1_file(3);
	assert_int_not_equal(store_sqlite_open(&s, tmpdb_path, 0, &err), 0);
	assert_null(s);
	assert_non_null(strstr(err.msg, "schema 3, newer than this vimaged's"));
}

static long file_size(const char *suffix)
{
	char p[160];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s", tmpdb_path, suffix);
	return stat(p, &st) == 0 ? (long)st.st_size : 0;
}

/* Checkpoints run on their own thread: after a burst of writes (fewer WAL
 * pages than make a writer checkpoint itself) the rows reach the database
 * file while the store is open. */
static void test_wal_is_checkpointed_while_writes_go_on(void **state)
{
	struct store *s;
	char pad[2001], name[32];
	json_t *obj;
	int i;
	(void)state;

	tmpdb_require("sqlite"); /* SQLite's WAL */
	s = open_store(0);
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < 1500; i++) {
		snprintf(name, sizeof(name), "img-%04d", i);
		obj = vi("ns", name, "x");
		json_object_set_new(json_object_get(obj, "metadata"), "annotations",
		                    json_pack("{s:s}", "pad", pad));
		json_decref(create(s, obj));
	}
	for (i = 0; i < 100 && file_size("") < 2 * 1024 * 1024; i++)
		usleep(50 * 1000);
	assert_true(file_size("") >= 2 * 1024 * 1024);
	assert_true(file_size("-wal") > 0); /* and not by closing */
	store_close(s);
}

static void test_watch_fan_out_resume_and_gone(void **state)
{
	struct store *s = open_store(4); /* a history of 4 changes */
	struct store_watch_opts all = {0}, n2 = {.ns = "n2"}, from = {0};
	struct store_watch *w1, *w2, *w3 = NULL;
	struct store_event ev;
	struct vim_err err;
	int64_t base = rv_before(s);
	int i;
	(void)state;

	assert_int_equal(store_watch(s, VI, &all, &w1, &err), 0);
	assert_int_equal(store_watch(s, VI, &n2, &w2, &err), 0);
	json_decref(create(s, vi("n1", "a", "x")));
	json_decref(create(s, vi("n2", "b", "x")));
	for (i = 1; i <= 2; i++) {
		assert_int_equal(store_watch_next(w1, 1000, &ev, &err), 1);
		assert_int_equal(ev.type, STORE_ADDED);
		assert_int_equal(ev.resource_version, base + i);
		json_decref(ev.object);
	}
	assert_int_equal(store_watch_next(w2, 1000, &ev, &err), 1);
	assert_string_equal(meta(ev.object, "name"), "b");
	json_decref(ev.object);
	assert_int_equal(store_watch_next(w2, 50, &ev, &err), 0); /* nothing else for n2 */
	/* resume from the first create: replays the second */
	from.resource_version = base + 1;
	assert_int_equal(store_watch(s, VI, &from, &w3, &err), 0);
	assert_int_equal(store_watch_next(w3, 1000, &ev, &err), 1);
	assert_int_equal(ev.resource_version, base + 2);
	json_decref(ev.object);
	store_watch_free(w3);
	/* push the first out of the 4-entry history: resuming from it is Gone */
	for (i = 0; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "x%d", i);
		json_decref(create(s, vi("n1", name, "x")));
	}
	tmpdb_store_rv(s); /* the history has them (a cache's watch delivered them) */
	assert_int_equal(store_watch(s, VI, &from, &w3, &err), VIM_EGONE);
	assert_non_null(strstr(err.msg, "too old resource version"));
	/* cancel wakes a blocked next */
	store_watch_cancel(w2);
	assert_int_equal(store_watch_next(w2, 5000, &ev, &err), VIM_ECANCELED);
	store_watch_free(w2);
	/* close with a live watcher: it answers canceled, then frees cleanly */
	store_close(s);
	assert_int_equal(store_watch_next(w1, 100, &ev, &err), VIM_ECANCELED);
	store_watch_free(w1);
}

/* A watcher reads the shared history from its own cursor: one that stops
 * reading holds nothing, and once the history has moved past it, it is
 * told to list again instead of being sent a gap; one that skips other
 * namespaces' changes keeps up however many they are. */
static void test_watch_slow_reader_is_gone_not_a_gap(void **state)
{
	struct store *s = open_store(4);
	struct store_watch_opts all = {0}, n2 = {.ns = "n2"};
	struct store_watch *slow, *quiet;
	struct store_event ev;
	struct vim_err err;
	char name[16];
	int64_t base = rv_before(s);
	int i;
	(void)state;

	assert_int_equal(store_watch(s, VI, &all, &slow, &err), 0);
	assert_int_equal(store_watch(s, VI, &n2, &quiet, &err), 0);
	json_decref(create(s, vi("n1", "a", "x")));
	assert_int_equal(store_watch_next(slow, 1000, &ev, &err), 1);
	assert_int_equal(ev.resource_version, base + 1);
	json_decref(ev.object);
	for (i = 0; i < 6; i++) { /* base+2..7: 2 and 3 leave the 4-entry history */
		snprintf(name, sizeof(name), "b%d", i);
		json_decref(create(s, vi("n1", name, "x")));
		/* the quiet watcher scans past n1's changes as they come */
		assert_int_equal(store_watch_next(quiet, 10, &ev, &err), 0);
	}
	tmpdb_store_rv(s); /* the history has moved past slow (a cache's watch delivered) */
	assert_int_equal(store_watch_next(slow, 1000, &ev, &err), VIM_EGONE);
	assert_non_null(strstr(err.msg, "fell too far behind"));
	json_decref(create(s, vi("n2", "c", "x")));
	assert_int_equal(store_watch_next(quiet, 1000, &ev, &err), 1);
	assert_string_equal(meta(ev.object, "name"), "c");
	assert_int_equal(ev.resource_version, base + 8);
	json_decref(ev.object);
	store_watch_free(slow);
	store_watch_free(quiet);
	store_close(s);
}

static struct store *open_store_bytes(int64_t history_bytes)
{
	return tmpdb_open_store_opts(&(struct store_sqlite_opts){.history_bytes = history_bytes});
}

/* Updates vi ns/big with an annotation of size bytes (differing by i). */
static void update_big(struct store *s, int i, size_t size)
{
	char *note = malloc(size + 1);
	json_t *o = vi("ns", "big", "x"), *out = NULL;
	struct vim_err err;

	assert_non_null(note);
	memset(note, 'a' + i % 26, size);
	note[size] = '\0';
	snprintf(note, 16, "%08d", i);
	note[8] = '-';
	json_object_set_new(json_object_get(o, "metadata"), "annotations",
	                    json_pack("{s:s}", "note", note));
	if (i == 0) {
		if (store_create(s, VI, o, &out, &err) != 0)
			fail_msg("create: %s", err.msg);
	} else if (store_update(s, VI, o, &out, &err) != 0) {
		fail_msg("update: %s", err.msg);
	}
	json_decref(out);
	json_decref(o);
	free(note);
}

/* The history is bounded by the bytes of its changes as well as their
 * count: big objects push old changes out, and resuming from before them
 * is 410 Gone, as for the count bound. */
static void test_watch_history_is_bounded_by_bytes(void **state)
{
	struct store *s = open_store_bytes(64 * 1024);
	struct store_watch_opts from = {0}, all = {0};
	struct store_watch *w = NULL, *slow = NULL;
	struct store_event ev;
	struct vim_err err;
	size_t watchers, hist;
	int64_t base = rv_before(s);
	int i;
	(void)state;

	assert_int_equal(store_watch(s, VI, &all, &slow, &err), 0);
	for (i = 0; i < 20; i++)
		update_big(s, i, 8 * 1024);
	tmpdb_store_rv(s); /* the history has all 20 (a cache's watch delivered them) */
	store_watch_stats(s, &watchers, &hist);
	assert_true(hist >= 6 && hist <= 8); /* 64 KiB of ~8.3 KiB changes */
	from.resource_version = base + 1;
	assert_int_equal(store_watch(s, VI, &from, &w, &err), VIM_EGONE);
	assert_non_null(strstr(err.msg, "too old resource version"));
	assert_int_equal(store_watch_next(slow, 100, &ev, &err), VIM_EGONE);
	from.resource_version = base + 17; /* 18..20 are still there */
	assert_int_equal(store_watch(s, VI, &from, &w, &err), 0);
	for (i = 18; i <= 20; i++) {
		assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
		assert_int_equal(ev.resource_version, base + i);
		json_decref(ev.object);
	}
	/* one change bigger than the bound still stays (it is the newest) */
	update_big(s, 20, 100 * 1024);
	tmpdb_store_rv(s);
	store_watch_stats(s, &watchers, &hist);
	assert_int_equal(hist, 1);
	assert_int_equal(store_watch_next(w, 1000, &ev, &err), 1);
	assert_int_equal(ev.resource_version, base + 21);
	json_decref(ev.object);
	store_watch_free(w);
	store_watch_free(slow);
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

/* 200 updates of an object with a 512 KiB annotation would hold 100 MiB
 * for replay under the count bound alone; with a 4 MiB byte bound the
 * process stays flat. */
static void test_big_updates_keep_memory_flat(void **state)
{
	struct store *s;
	long before, grew;
	size_t watchers, hist;
	int64_t base;
	int i;
	(void)state;

#if defined(__SANITIZE_ADDRESS__)
	skip(); /* ASan's quarantine keeps freed memory resident: RSS says nothing */
#endif
	s = open_store_bytes(4 * 1024 * 1024);
	base = rv_before(s);
	for (i = 0; i < 20; i++) /* warm up: the bound's worth, allocator pools */
		update_big(s, i, 512 * 1024);
	before = rss_kib();
	for (; i < 220; i++)
		update_big(s, i, 512 * 1024);
	grew = rss_kib() - before;
	assert_true(tmpdb_store_rv(s) == base + 220);
	store_watch_stats(s, &watchers, &hist);
	store_close(s);
	print_message("RSS +%ld KiB over 200 updates of 512 KiB (history %zu changes)\n", grew,
	              hist);
	assert_true(hist <= 8);
	if (grew > 40 * 1024)
		fail_msg("RSS grew by %ld KiB over 200 updates of 512 KiB", grew);
}

static void test_events_deduplicate_and_expire(void **state)
{
	struct store *s = open_store(0);
	json_t *img = create(s, vi("ns", "a", "x")), *items;
	struct store_list_opts o = {.ns = "ns", .field_selector = "involvedObject.name=a,reason=R"};
	struct store_list_meta m;
	struct vim_err err;
	int64_t due;
	(void)state;

	assert_int_equal(store_event_record(s,
	                                    &(struct store_event_rec){.involved = img,
	                                                              .type = "Warning",
	                                                              .reason = "R",
	                                                              .message = "lost",
	                                                              .now = 1000},
	                                    &err),
	                 0);
	assert_int_equal(store_event_record(s,
	                                    &(struct store_event_rec){.involved = img,
	                                                              .type = "Warning",
	                                                              .reason = "R",
	                                                              .message = "lost",
	                                                              .now = 1010},
	                                    &err),
	                 0);
	assert_int_equal(store_event_record(s,
	                                    &(struct store_event_rec){.involved = img,
	                                                              .type = "Normal",
	                                                              .reason = "R2",
	                                                              .message = "back",
	                                                              .now = 1020},
	                                    &err),
	                 0);
	assert_int_equal(store_list_json(s, "events", &o, &items, &m, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "count")), 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(items, 0), "lastTimestamp")),
	    "1970-01-01T00:16:50Z");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_array_get(items, 0), "involvedObject"), "uid")),
	    meta(img, "uid"));
	json_decref(items);
	/* TTL 15 s at t=1030: the R event (last 1010) goes, R2 (1020) stays
	 * and is the next to go, at 1035 */
	assert_int_equal(store_event_expire(s, 1030, 15, &due, &err), 1);
	assert_int_equal(due, 1035);
	o.field_selector = NULL;
	assert_int_equal(store_list_json(s, "events", &o, &items, &m, &err), 0);
	assert_int_equal(json_array_size(items), 1);
	json_decref(items);
	json_decref(img);
	store_close(s);
}

static struct store *shared;

static void *writer(void *arg)
{
	char name[32];
	int i, t = (int)(intptr_t)arg;
	for (i = 0; i < 200; i++) {
		json_t *out = NULL, *o;
		snprintf(name, sizeof(name), "t%d-%d", t, i);
		o = vi("ns", name, "x");
		if (store_create(shared, VI, o, &out, NULL) != 0)
			return (void *)1;
		json_decref(o);
		json_decref(out);
	}
	return NULL;
}

static void test_concurrent_creates_get_distinct_ordered_rvs(void **state)
{
	pthread_t th[4];
	struct store_watch_opts wo = {0};
	struct store_watch *w;
	struct store_event ev;
	int i;
	int64_t last;
	void *rv;
	(void)state;

	shared = open_store(0);
	last = rv_before(shared);
	assert_int_equal(store_watch(shared, VI, &wo, &w, NULL), 0);
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i);
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], &rv);
		assert_null(rv);
	}
	assert_int_equal(tmpdb_store_rv(shared), last + 800);
	for (i = 0; i < 800; i++) {
		assert_int_equal(store_watch_next(w, 1000, &ev, NULL), 1);
		assert_true(ev.resource_version == last + 1);
		last = ev.resource_version;
		json_decref(ev.object);
	}
	store_watch_free(w);
	store_close(shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_create_assigns_server_metadata, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_name, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_generate_name_cuts_a_long_prefix_as_kubernetes,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_create_refuses_keys_longer_than_kubernetes_allows,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_rules, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_status_subresource_changes_only_status, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_finalizers_hold_a_deleted_object, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_delete_preconditions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dry_run_writes_change_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_selectors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paging_with_continue_sees_every_object_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_paging_one_at_a_time_over_the_longest_keys, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_paging_continues_in_the_backends_own_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_continue_token_is_kubernetes_shaped_and_checked,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_keeps_objects_and_rv_order, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_schema_1_file_is_moved_without_losing_an_object,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_newer_schema_is_refused_untouched, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_wal_is_checkpointed_while_writes_go_on, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_watch_fan_out_resume_and_gone, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_watch_slow_reader_is_gone_not_a_gap, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_watch_history_is_bounded_by_bytes, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_big_updates_keep_memory_flat, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_deduplicate_and_expire, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_creates_get_distinct_ordered_rvs, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
