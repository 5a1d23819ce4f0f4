/*
 * Namespaces on the real SQLite store, in a temporary directory: a deleted
 * Namespace stays Terminating while spec.finalizers hold it; start-up
 * gives an old data tmpdb_dir a Namespace per namespace its objects use; the
 * namespace controller's sweep deletes the images, then the events, then
 * lets the namespace go; the protobuf Namespace kubectl posts is read.
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

#include "api/proto.h"
#include "controller/namespace.h"
#include "store/store.h"
#include "tmpdb.h"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("ns");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static struct store *open_store(void)
{
	return tmpdb_open_fresh_store();
}

static void create_ns(struct store *s, const char *name)
{
	json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", name), *out = NULL;
	struct vim_err err;

	store_namespace_defaults(ns);
	if (store_create(s, "namespaces", ns, &out, &err) != 0)
		fail_msg("create ns %s: %s", name, err.msg);
	json_decref(ns);
	json_decref(out);
}

/* A VI held by a finalizer, as the image controllers add one. */
static void create_vi(struct store *s, const char *ns, const char *name)
{
	json_t *vi = json_pack("{s:s,s:s,s:{s:s,s:s,s:[s]},s:{s:{s:s}}}", "apiVersion",
	                       "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                       "metadata", "name", name, "namespace", ns, "finalizers",
	                       "virtualization.deckhouse.io/vi-cleanup", "spec", "dataSource",
	                       "type", "Upload"),
	       *out = NULL;
	struct vim_err err;

	if (store_create(s, "virtualimages", vi, &out, &err) != 0)
		fail_msg("create vi: %s", err.msg);
	json_decref(vi);
	json_decref(out);
}

static void create_event(struct store *s, const char *ns, const char *name)
{
	json_t *ev = json_pack("{s:s,s:s,s:{s:s,s:s},s:s}", "apiVersion", "v1", "kind", "Event",
	                       "metadata", "name", name, "namespace", ns, "reason", "R"),
	       *out = NULL;
	struct vim_err err;

	if (store_create(s, "events", ev, &out, &err) != 0)
		fail_msg("create event: %s", err.msg);
	json_decref(ev);
	json_decref(out);
}

static int get(struct store *s, const char *res, const char *ns, const char *name, json_t **out)
{
	struct vim_err err;
	return store_get(s, res, ns, name, out, &err);
}

static const char *md_str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(json_object_get(o, "metadata"), k));
}

static void test_deleted_namespace_is_terminating_until_finalizers_empty(void **state)
{
	struct store *s = open_store();
	struct vim_err err;
	json_t *out = NULL, *next;
	bool deleted = true;
	(void)state;

	create_ns(s, "t");
	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = "namespaces", .name = "t"},
	                 &out, &deleted, &err),
	    0);
	assert_false(deleted);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "status"), "phase")),
	    "Terminating");
	assert_non_null(md_str(out, "deletionTimestamp"));
	json_decref(out);
	/* a second delete changes nothing */
	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = "namespaces", .name = "t"},
	                 &out, &deleted, &err),
	    0);
	assert_false(deleted);
	json_decref(out);
	/* emptying spec.finalizers lets it go */
	assert_int_equal(get(s, "namespaces", NULL, "t", &next), 0);
	json_object_set_new(json_object_get(next, "spec"), "finalizers", json_array());
	assert_int_equal(store_update(s, "namespaces", next, &out, &err), 0);
	json_decref(next);
	json_decref(out);
	assert_int_equal(get(s, "namespaces", NULL, "t", &out), VIM_ENOTFOUND);
	store_close(s);
}

static void test_ensure_creates_one_per_used_namespace_once(void **state)
{
	struct store *s = open_store();
	struct vim_err err;
	json_t *out = NULL;
	int64_t rv;
	(void)state;

	create_vi(s, "a", "x");
	create_event(s, "b", "e");
	assert_int_equal(store_namespaces_ensure(s, &err), 0);
	assert_int_equal(get(s, "namespaces", NULL, "default", &out), 0);
	json_decref(out);
	assert_int_equal(get(s, "namespaces", NULL, "a", &out), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(out, "status"), "phase")), "Active");
	assert_string_equal(json_string_value(json_array_get(
	                        json_object_get(json_object_get(out, "spec"), "finalizers"), 0)),
	                    "kubernetes");
	assert_non_null(md_str(out, "creationTimestamp"));
	json_decref(out);
	assert_int_equal(get(s, "namespaces", NULL, "b", &out), 0);
	json_decref(out);
	/* the store's revision as a consistent list sees it: a watch cache's
	 * current_rv may lag the writes just made, and catch up after */
	rv = tmpdb_store_rv(s);
	assert_int_equal(store_namespaces_ensure(s, &err), 0);
	assert_int_equal(tmpdb_store_rv(s), rv); /* nothing written the second time */
	store_close(s);
}

static void test_sweep_deletes_images_then_events_then_the_namespace(void **state)
{
	struct store *s = open_store();
	struct vim_err err;
	json_t *out = NULL, *vi;
	bool deleted;
	(void)state;

	create_ns(s, "t");
	create_ns(s, "keep");
	create_vi(s, "t", "img");
	create_vi(s, "keep", "img");
	create_event(s, "t", "e1");
	assert_int_equal(ctl_namespaces_sweep(s, &err), 0); /* nothing Terminating */
	assert_int_equal(get(s, "virtualimages", "t", "img", &out), 0);
	assert_null(md_str(out, "deletionTimestamp"));
	json_decref(out);

	assert_int_equal(
	    store_delete(s, &(struct store_delete_opts){.resource = "namespaces", .name = "t"},
	                 &out, &deleted, &err),
	    0);
	json_decref(out);
	/* first the images: deleted, held by their finalizer (the image
	 * controllers' cleanup); the events wait */
	assert_int_equal(ctl_namespaces_sweep(s, &err), 0);
	assert_int_equal(get(s, "virtualimages", "t", "img", &vi), 0);
	assert_non_null(md_str(vi, "deletionTimestamp"));
	assert_int_equal(get(s, "events", "t", "e1", &out), 0);
	json_decref(out);
	assert_int_equal(ctl_namespaces_sweep(s, &err), 0);
	assert_int_equal(get(s, "namespaces", NULL, "t", &out), 0);
	json_decref(out);
	/* the cleanup done: the finalizer goes, the store removes the image */
	json_object_del(json_object_get(vi, "metadata"), "finalizers");
	assert_int_equal(store_update(s, "virtualimages", vi, &out, &err), 0);
	json_decref(vi);
	json_decref(out);
	/* then the events, then the namespace */
	assert_int_equal(ctl_namespaces_sweep(s, &err), 0);
	assert_int_equal(get(s, "events", "t", "e1", &out), VIM_ENOTFOUND);
	assert_int_equal(ctl_namespaces_sweep(s, &err), 1);
	assert_int_equal(get(s, "namespaces", NULL, "t", &out), VIM_ENOTFOUND);
	/* another namespace's content is untouched */
	assert_int_equal(get(s, "virtualimages", "keep", "img", &out), 0);
	assert_null(md_str(out, "deletionTimestamp"));
	json_decref(out);
	assert_int_equal(get(s, "namespaces", NULL, "keep", &out), 0);
	json_decref(out);
	store_close(s);
}

/* length-delimited field (lengths < 128) */
static void put(unsigned char *buf, size_t *n, unsigned num, const void *data, size_t len)
{
	buf[(*n)++] = (unsigned char)(num << 3 | 2);
	buf[(*n)++] = (unsigned char)len;
	memcpy(buf + *n, data, len);
	*n += len;
}

static void test_proto_namespace_reads_name_and_labels(void **state)
{
	unsigned char entry[64], md[128], ns[160], body[256];
	size_t ne = 0, nm = 0, nn = 0, nb = 4, cut;
	json_t *out = NULL;
	(void)state;

	put(entry, &ne, 1, "tier", 4);
	put(entry, &ne, 2, "dev", 3);
	put(md, &nm, 1, "team", 4);
	put(md, &nm, 11, entry, ne);
	put(ns, &nn, 1, md, nm);
	put(ns, &nn, 2, "", 0); /* spec: the server's */
	memcpy(body, "k8s\0", 4);
	put(body, &nb, 2, ns, nn);
	assert_int_equal(api_proto_namespace(body, nb, &out), 0);
	assert_string_equal(md_str(out, "name"), "team");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(out, "metadata"), "labels"), "tier")),
	    "dev");
	assert_string_equal(json_string_value(json_object_get(out, "kind")), "Namespace");
	json_decref(out);
	for (cut = 0; cut < nb; cut++) {
		assert_int_equal(api_proto_namespace(body, cut, &out), -1);
		assert_null(out);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_deleted_namespace_is_terminating_until_finalizers_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ensure_creates_one_per_used_namespace_once, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sweep_deletes_images_then_events_then_the_namespace, setup, teardown),
	    cmocka_unit_test(test_proto_namespace_reads_name_and_labels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
