/* dvcr/memo: the set of blob digests a recovery wave has proven. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dvcr/dvcr.h"

static void digest(int i, char out[DVCR_DIGEST_MAX])
{
	snprintf(out, DVCR_DIGEST_MAX, "sha256:%064d", i);
}

static void test_memo_remembers_what_was_added(void **state)
{
	struct dvcr_memo *m = NULL;
	struct vim_err e = {0};
	char d[DVCR_DIGEST_MAX];
	int i;
	(void)state;

	assert_int_equal(dvcr_memo_new(&m, 5000, &e), 0);
	for (i = 0; i < 5000; i += 2) {
		digest(i, d);
		dvcr_memo_add(m, d);
		dvcr_memo_add(m, d); /* twice counts once */
	}
	assert_int_equal(dvcr_memo_size(m), 2500);
	for (i = 0; i < 5000; i++) {
		digest(i, d);
		assert_int_equal(dvcr_memo_has(m, d), i % 2 == 0);
	}
	dvcr_memo_free(m);
}

static void test_memo_clear_forgets_everything(void **state)
{
	struct dvcr_memo *m = NULL;
	char d[DVCR_DIGEST_MAX];
	(void)state;

	assert_int_equal(dvcr_memo_new(&m, 10, NULL), 0);
	digest(7, d);
	dvcr_memo_add(m, d);
	assert_true(dvcr_memo_has(m, d));
	dvcr_memo_clear(m);
	assert_int_equal(dvcr_memo_size(m), 0);
	assert_false(dvcr_memo_has(m, d));
	dvcr_memo_add(m, d); /* usable again after a clear */
	assert_true(dvcr_memo_has(m, d));
	dvcr_memo_free(m);
}

/* Deleting keeps every other key findable, whatever collided with it. */
static void test_memo_del_keeps_the_others(void **state)
{
	struct dvcr_memo *m = NULL;
	char d[DVCR_DIGEST_MAX];
	int i;
	(void)state;

	assert_int_equal(dvcr_memo_new(&m, 64, NULL), 0); /* 128 slots: many collisions */
	for (i = 0; i < 64; i++) {
		digest(i, d);
		dvcr_memo_add(m, d);
	}
	for (i = 1; i < 64; i += 2) {
		digest(i, d);
		dvcr_memo_del(m, d);
	}
	digest(1000, d);
	dvcr_memo_del(m, d); /* absent: nothing happens */
	assert_int_equal(dvcr_memo_size(m), 32);
	for (i = 0; i < 64; i++) {
		digest(i, d);
		assert_int_equal(dvcr_memo_has(m, d), i % 2 == 0);
	}
	dvcr_memo_free(m);
}

/* Random adds and deletes on a nearly full table agree with a plain array. */
static void test_memo_agrees_with_a_reference(void **state)
{
	struct dvcr_memo *m = NULL;
	bool in[40] = {0};
	char d[DVCR_DIGEST_MAX];
	unsigned seed = 12345;
	int step, i;
	(void)state;

	assert_int_equal(dvcr_memo_new(&m, 40, NULL), 0);
	for (step = 0; step < 20000; step++) {
		seed = seed * 1103515245u + 12345u;
		i = (int)((seed >> 16) % 40);
		digest(i, d);
		if ((seed >> 8) & 1) {
			dvcr_memo_add(m, d);
			in[i] = true;
		} else {
			dvcr_memo_del(m, d);
			in[i] = false;
		}
		for (i = 0; i < 40; i++) {
			digest(i, d);
			assert_int_equal(dvcr_memo_has(m, d), in[i]);
		}
	}
	dvcr_memo_free(m);
}

/* Full, it stops remembering (costing only requests) and never fails or
 * grows past its cap. */
static void test_memo_full_stops_remembering(void **state)
{
	struct dvcr_memo *m = NULL;
	char d[DVCR_DIGEST_MAX];
	int i;
	(void)state;

	assert_int_equal(dvcr_memo_new(&m, 3, NULL), 0);
	for (i = 0; i < 100; i++) {
		digest(i, d);
		dvcr_memo_add(m, d);
	}
	assert_int_equal(dvcr_memo_size(m), 3);
	digest(0, d);
	assert_true(dvcr_memo_has(m, d));
	digest(3, d);
	assert_false(dvcr_memo_has(m, d));
	dvcr_memo_free(m);
	dvcr_memo_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_memo_remembers_what_was_added),
	    cmocka_unit_test(test_memo_clear_forgets_everything),
	    cmocka_unit_test(test_memo_del_keeps_the_others),
	    cmocka_unit_test(test_memo_agrees_with_a_reference),
	    cmocka_unit_test(test_memo_full_stops_remembering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
