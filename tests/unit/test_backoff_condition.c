/* Progressive backoff (upstream's table) and Kubernetes condition rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "controller/chain.h"

#define S 1000

static void test_progressive_matches_upstream_table(void **state)
{
	(void)state;
	assert_int_equal(ctl_backoff_progressive(0, 15 * S, 300 * S), 15 * S);
	assert_int_equal(ctl_backoff_progressive(5 * S, 15 * S, 300 * S), 15 * S);
	assert_int_equal(ctl_backoff_progressive(15 * S, 15 * S, 300 * S), 15 * S);
	assert_int_equal(ctl_backoff_progressive(30 * S, 15 * S, 300 * S), 30 * S);
	assert_int_equal(ctl_backoff_progressive(120 * S, 15 * S, 300 * S), 120 * S);
	assert_int_equal(ctl_backoff_progressive(300 * S, 15 * S, 300 * S), 300 * S);
	assert_int_equal(ctl_backoff_progressive(600 * S, 15 * S, 300 * S), 300 * S);
}

static void test_lost_recheck_derives_from_ready_transition(void **state)
{
	struct model_status st = {0};
	(void)state;

	assert_int_equal(ctl_lost_recheck_ms(&st, 5000), 15 * S); /* no condition */
	model_condition_set(&st, "Ready", "False", "ImageLost", "m", 1, 0);
	assert_int_equal(ctl_lost_recheck_ms(&st, 5000), 15 * S); /* zero time */
	st.conditions[0].last_transition_time = 5000 - 40;
	assert_int_equal(ctl_lost_recheck_ms(&st, 5000), 40 * S);
	st.conditions[0].last_transition_time = 5000 - 600;
	assert_int_equal(ctl_lost_recheck_ms(&st, 5000), 300 * S);
	/* a clock that went backwards still gives the base */
	st.conditions[0].last_transition_time = 6000;
	assert_int_equal(ctl_lost_recheck_ms(&st, 5000), 15 * S);
	model_condition_remove(&st, "Ready");
	free(st.conditions);
}

static void test_condition_transition_time_moves_only_on_status_change(void **state)
{
	struct model_status st = {0};
	const struct model_condition *c;
	(void)state;

	assert_int_equal(model_condition_set(&st, "Ready", "False", "Provisioning", "a", 1, 100),
	                 0);
	c = model_condition_get(&st, "Ready");
	assert_int_equal(c->last_transition_time, 100);
	/* same status, new reason/message/generation: time stays */
	assert_int_equal(
	    model_condition_set(&st, "Ready", "False", "ProvisioningFailed", "b", 2, 200), 0);
	c = model_condition_get(&st, "Ready");
	assert_int_equal(c->last_transition_time, 100);
	assert_string_equal(c->reason, "ProvisioningFailed");
	assert_string_equal(c->message, "b");
	assert_int_equal(c->observed_generation, 2);
	/* status flips: time moves */
	assert_int_equal(model_condition_set(&st, "Ready", "True", "Ready", NULL, 2, 300), 0);
	c = model_condition_get(&st, "Ready");
	assert_int_equal(c->last_transition_time, 300);
	assert_string_equal(c->message, "");
	assert_int_equal(st.n_conditions, 1);
	model_condition_remove(&st, "Ready");
	free(st.conditions);
}

static void test_condition_remove_keeps_the_others_in_order(void **state)
{
	struct model_status st = {0};
	(void)state;

	model_condition_set(&st, "A", "True", "r", "", 1, 1);
	model_condition_set(&st, "B", "True", "r", "", 1, 1);
	model_condition_set(&st, "C", "True", "r", "", 1, 1);
	assert_true(model_condition_remove(&st, "B"));
	assert_false(model_condition_remove(&st, "B"));
	assert_int_equal(st.n_conditions, 2);
	assert_string_equal(st.conditions[0].type, "A");
	assert_string_equal(st.conditions[1].type, "C");
	assert_null(model_condition_get(&st, "B"));
	model_condition_remove(&st, "A");
	model_condition_remove(&st, "C");
	free(st.conditions);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_progressive_matches_upstream_table),
	    cmocka_unit_test(test_lost_recheck_derives_from_ready_transition),
	    cmocka_unit_test(test_condition_transition_time_moves_only_on_status_change),
	    cmocka_unit_test(test_condition_remove_keeps_the_others_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
