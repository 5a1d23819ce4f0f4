/*
 * store: the object layer over a remote backend (one that learns a
 * write's revision only from its commit, as etcd): values are stored
 * without metadata.resourceVersion and every read sets it from mod_rev;
 * lists ask the read side first and, when it cannot serve them (a page,
 * an Exact list), read the backend at the list's revision; a compacted
 * revision is kube's 410; watches and the current revision are the read
 * side's; no write is published by the layer itself.  The backend is the
 * SQLite kv seen through a spy that hides its local nature.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/object.h"
#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("remote");
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

/* ---- a remote-looking backend ------------------------------------------------ */

struct remote {
	struct store_kv base;
	struct store_kv_ops ops;
	struct store_kv *inner;
	int64_t range_rev; /* the last range's r->rev */
	bool gone;         /* ranges at a past revision fail: compacted */
	bool published;    /* a write came with `committed` */
};

static struct remote *remote_of(struct store_kv *kv)
{
	return (struct remote *)kv;
}

static int r_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
                 struct vim_err *err)
{
	struct store_kv *in = remote_of(kv)->inner;
	return in->ops->get(in, key, out, err);
}

static int r_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn,
                   void *arg, struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct remote *rm = remote_of(kv);

	rm->range_rev = r->rev;
	if (rm->gone && r->rev > 0)
		return vim_err_set(err, VIM_EGONE, "remote: range at %lld: compacted",
		                   (long long)r->rev);
	return rm->inner->ops->range(rm->inner, r, fn, arg, meta, err);
}

/* The layer's encode, asked as a backend without value_has_rev asks. */
struct r_enc {
	int (*encode)(void *arg, int64_t rev, const char **text, size_t *len);
	void *arg;
};

static int r_encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct r_enc *e = arg;
	(void)rev;
	return e->encode(e->arg, 0, text, len);
}

static int r_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
                   struct vim_err *err)
{
	struct remote *rm = remote_of(kv);
	struct r_enc e = {.encode = w->encode, .arg = w->arg};
	struct store_kv_write mine = *w;

	if (w->committed)
		rm->published = true;
	mine.encode = w->encode ? r_encode : NULL;
	mine.committed = NULL;
	mine.arg = &e;
	return rm->inner->ops->write(rm->inner, &mine, rev, err);
}

static int r_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err)
{
	struct store_kv *in = remote_of(kv)->inner;
	return in->ops->current_rev(in, rev, err);
}

static void r_close(struct store_kv *kv)
{
	struct store_kv *in = remote_of(kv)->inner;
	in->ops->close(in);
	free(kv);
}

/* A read side that serves nothing but its revision: every list is the
 * layer's to read from the backend. */
struct fake_reads {
	struct store_reads base;
	int lists, watches;
};

static int fr_list(struct store_reads *r, const char *resource, const struct store_list_opts *o,
                   store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	(void)resource, (void)o, (void)fn, (void)arg, (void)meta;
	((struct fake_reads *)r)->lists++;
	return vim_err_set(err, VIM_EUNSUPPORTED, "fake reads: read the backend");
}

static int fr_watch(struct store_reads *r, const char *resource, const struct store_watch_opts *o,
                    struct store_watch **out, struct vim_err *err)
{
	(void)resource, (void)o;
	*out = NULL;
	((struct fake_reads *)r)->watches++;
	return vim_err_set(err, VIM_EUNAVAILABLE, "fake reads: no watch");
}

static int64_t fr_current_rv(struct store_reads *r)
{
	(void)r;
	return 77;
}

static struct fake_reads *the_reads;

static void fr_close(struct store_reads *r)
{
	the_reads = NULL;
	free(r);
}

static const struct store_reads_ops fr_ops = {
    .name = "fake",
    .list = fr_list,
    .watch = fr_watch,
    .current_rv = fr_current_rv,
    .close = fr_close,
};

static int fr_open(struct store_reads **out, struct store_kv *kv, struct store_hub *hub,
                   struct vim_err *err)
{
	struct fake_reads *r = calloc(1, sizeof(*r));

	(void)kv, (void)hub, (void)err;
	r->base.ops = &fr_ops;
	the_reads = r;
	*out = &r->base;
	return 0;
}

static struct store *remote_open(struct remote **out)
{
	struct remote *rm = calloc(1, sizeof(*rm));
	struct store_object_opts o = {.reads_open = fr_open};
	struct store *s = NULL;
	struct vim_err err;

	assert_non_null(rm);
	if (store_kv_sqlite_open(&rm->inner, tmpdb_path, &err) != 0)
		fail_msg("open: %s", err.msg);
	rm->ops = *rm->inner->ops;
	rm->ops.name = "remote";
	rm->ops.local = false;
	rm->ops.value_has_rev = false;
	rm->ops.get = r_get;
	rm->ops.range = r_range;
	rm->ops.write = r_write;
	rm->ops.current_rev = r_current_rev;
	rm->ops.close = r_close;
	rm->base.ops = &rm->ops;
	if (store_object_open(&s, &rm->base, &o, &err) != 0)
		fail_msg("open: %s", err.msg);
	*out = rm;
	return s;
}

static json_t *created(struct store *s, const char *name)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	                      "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                      "metadata", "name", name, "namespace", "ns", "spec", "dataSource",
	                      "type", "Upload"),
	       *out = NULL;
	struct vim_err err;

	assert_int_equal(store_create(s, VI, o, &out, &err), 0);
	json_decref(o);
	return out;
}

static int keep_items(void *arg, const char *json, size_t len)
{
	json_t *obj = json_loadb(json, len, 0, NULL);

	assert_non_null(obj);
	json_array_append_new(arg, obj);
	return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_values_are_stored_without_rv_and_read_with_mod_rev(void **state)
{
	struct remote *rm;
	struct store *s = remote_open(&rm);
	json_t *a = created(s, "a"), *got = NULL, *raw, *up, *out = NULL;
	struct store_kv_got kg = {0};
	struct vim_err err;
	char rv[24];
	(void)state;

	assert_non_null(meta(a, "resourceVersion")); /* the answer has it */
	assert_int_equal(
	    rm->inner->ops->get(rm->inner, &(struct store_kv_key){VI, "ns", "a"}, &kg, &err), 0);
	raw = json_loadb(kg.value, kg.len, 0, NULL);
	assert_null(meta(raw, "resourceVersion")); /* the value does not */
	assert_int_equal(strtoll(meta(a, "resourceVersion"), NULL, 10), kg.mod_rev);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_string_equal(meta(got, "resourceVersion"), meta(a, "resourceVersion"));
	/* an update with the read's resourceVersion: the precondition holds */
	snprintf(rv, sizeof(rv), "%s", meta(got, "resourceVersion"));
	up = json_deep_copy(got);
	json_object_set_new(json_object_get(up, "metadata"), "labels",
	                    json_pack("{s:s}", "x", "y"));
	assert_int_equal(store_update(s, VI, up, &out, &err), 0);
	assert_string_not_equal(meta(out, "resourceVersion"), rv);
	/* and the same again changes nothing: no new revision */
	json_decref(got);
	assert_int_equal(store_update(s, VI, out, &got, &err), 0);
	assert_string_equal(meta(got, "resourceVersion"), meta(out, "resourceVersion"));
	assert_false(rm->published); /* the read side publishes, not the layer */
	free(kg.value);
	json_decref(raw);
	json_decref(up);
	json_decref(out);
	json_decref(got);
	json_decref(a);
	store_close(s);
}

static void test_pages_read_the_backend_at_the_first_pages_revision(void **state)
{
	struct remote *rm;
	struct store *s = remote_open(&rm);
	struct store_list_opts o = {.limit = 1};
	struct store_list_meta m;
	json_t *items = json_array();
	struct vim_err err;
	int64_t first;
	(void)state;

	json_decref(created(s, "a"));
	json_decref(created(s, "b"));
	json_decref(created(s, "c"));
	assert_int_equal(store_list(s, VI, &o, keep_items, items, &m, &err), 0);
	assert_int_equal(the_reads->lists, 1); /* asked first */
	assert_int_equal(rm->range_rev, 0);
	first = m.resource_version;
	assert_int_equal(m.remaining, 2);
	o.continue_token = m.continue_token;
	assert_int_equal(store_list(s, VI, &o, keep_items, items, &m, &err), 0);
	assert_int_equal(rm->range_rev, first);
	assert_int_equal(m.resource_version, first);
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(meta(json_array_get(items, 1), "name"), "b");
	assert_non_null(meta(json_array_get(items, 1), "resourceVersion"));
	/* the revision compacted meanwhile: kube's 410 */
	rm->gone = true;
	assert_int_equal(store_list(s, VI, &o, keep_items, items, &m, &err), VIM_EGONE);
	assert_string_equal(err.msg, "The provided continue parameter is too old to display a "
	                             "consistent list result. You can start a new list without the "
	                             "continue parameter.");
	json_decref(items);
	store_close(s);
}

static void test_an_exact_list_reads_at_its_revision(void **state)
{
	struct remote *rm;
	struct store *s = remote_open(&rm);
	struct store_list_opts o = {.resource_version = "2", .resource_version_match = "Exact"};
	struct store_list_meta m;
	json_t *items = json_array();
	struct store_watch *w = NULL;
	struct vim_err err;
	(void)state;

	json_decref(created(s, "a"));
	json_decref(created(s, "b"));
	assert_int_equal(store_list(s, VI, &o, keep_items, items, &m, &err), 0);
	assert_int_equal(rm->range_rev, 2);
	assert_int_equal(m.resource_version, 2);
	rm->gone = true;
	assert_int_equal(store_list(s, VI, &o, keep_items, items, &m, &err), VIM_EGONE);
	assert_string_equal(err.msg, "The resourceVersion for the provided list is too old.");
	/* watches and the revision are the read side's */
	assert_int_equal(store_current_rv(s), 77);
	assert_int_equal(store_watch(s, VI, &(struct store_watch_opts){0}, &w, &err),
	                 VIM_EUNAVAILABLE);
	assert_int_equal(the_reads->watches, 1);
	json_decref(items);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_values_are_stored_without_rv_and_read_with_mod_rev,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pages_read_the_backend_at_the_first_pages_revision,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_an_exact_list_reads_at_its_revision, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
