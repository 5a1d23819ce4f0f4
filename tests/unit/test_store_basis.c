/* store: a status write with store_write_opts.basis starts from the
 * caller's parse of the stored object while its resourceVersion is still
 * the stored one, and reads the store back otherwise (a stale basis never
 * writes old content; a stale resourceVersion still conflicts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("basis");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static const char *rv_of(const json_t *o)
{
	return json_string_value(
	    json_object_get(json_object_get(o, "metadata"), "resourceVersion"));
}

/* The status write the controllers send: name, namespace, RV, status. */
static json_t *status_write(const char *rv, const char *phase)
{
	return json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "metadata", "name", "a", "namespace", "ns",
	                 "resourceVersion", rv, "status", "phase", phase);
}

static json_t *created(struct store *s)
{
	json_t *o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	                      "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                      "metadata", "name", "a", "namespace", "ns", "labels", "tier", "gold",
	                      "spec", "dataSource", "type", "Upload"),
	       *out = NULL;
	struct vim_err err;

	assert_int_equal(store_create(s, VI, o, &out, &err), 0);
	json_decref(o);
	return out;
}

/* A basis at the stored RV gives what a read-back gives, and is not
 * changed; the next write can start from what the first returned. */
static void test_basis_at_the_stored_rv_gives_the_read_back_result(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *live = created(s), *before = json_deep_copy(live), *in, *out = NULL, *out2 = NULL,
	       *got = NULL;
	struct store_write_opts wo = {.basis = live};
	struct vim_err err;
	(void)state;

	in = status_write(rv_of(live), "Ready");
	assert_int_equal(store_update_status_opts(s, VI, in, &wo, &out, &err), 0);
	json_decref(in);
	assert_true(json_equal(live, before));
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(out, got));
	json_decref(got);

	wo.basis = out;
	in = status_write(rv_of(out), "ImageLost");
	assert_int_equal(store_update_status_opts(s, VI, in, &wo, &out2, &err), 0);
	json_decref(in);
	assert_int_equal(store_get(s, VI, "ns", "a", &got, &err), 0);
	assert_true(json_equal(out2, got));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(got, "status"), "phase")),
	    "ImageLost");
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(got, "metadata"), "labels"), "tier")),
	    "gold");
	json_decref(got);
	json_decref(out2);
	json_decref(out);
	json_decref(before);
	json_decref(live);
	store_close(s);
}

/* The basis is what the write starts from at its RV (so a caller's parse
 * is not read back); once the object has moved on, the store's copy is:
 * another writer's change survives, and a stale RV conflicts. */
static void test_stale_basis_is_not_written(void **state)
{
	struct store *s = tmpdb_open_store();
	json_t *live = created(s), *lie = json_deep_copy(live), *in, *out = NULL, *upd,
	       *moved = NULL;
	struct store_write_opts wo = {.basis = lie};
	struct vim_err err;
	(void)state;

	/* at the stored RV the basis is taken as the stored object */
	json_object_set_new(json_object_get(json_object_get(lie, "metadata"), "labels"), "tier",
	                    json_string("basis"));
	in = status_write(rv_of(live), "Ready");
	assert_int_equal(store_update_status_opts(s, VI, in, &wo, &out, &err), 0);
	json_decref(in);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(out, "metadata"), "labels"), "tier")),
	    "basis");

	/* another writer moves the object on: the old basis is ignored */
	upd = json_deep_copy(out);
	json_object_set_new(json_object_get(json_object_get(upd, "metadata"), "labels"), "tier",
	                    json_string("silver"));
	assert_int_equal(store_update(s, VI, upd, &moved, &err), 0);
	json_decref(upd);
	wo.basis = out; /* at the previous RV */
	in = status_write(rv_of(out), "ImageLost");
	assert_int_equal(store_update_status_opts(s, VI, in, &wo, &upd, &err), VIM_ECONFLICT);
	json_decref(in);
	in = status_write(rv_of(moved), "ImageLost"); /* the right RV, a stale basis */
	assert_int_equal(store_update_status_opts(s, VI, in, &wo, &upd, &err), 0);
	json_decref(in);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(upd, "metadata"), "labels"), "tier")),
	    "silver");
	json_decref(upd);
	json_decref(moved);
	json_decref(out);
	json_decref(lie);
	json_decref(live);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_basis_at_the_stored_rv_gives_the_read_back_result,
	                                    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_basis_is_not_written, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
