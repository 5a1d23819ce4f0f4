/*
 * The handler chain's combination rules, and the LifeCycle, Deletion and
 * DatasourceReady handlers, over fakes of their outside world.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

static struct model_image *image(enum model_kind kind, enum model_phase phase)
{
	struct model_image *img = model_image_new(kind);

	model_set_str(&img->meta.name, "img");
	if (kind == MODEL_KIND_VI)
		model_set_str(&img->meta.namespace, "ns");
	model_set_str(&img->meta.uid, "u1");
	model_set_str(&img->meta.resource_version, "7");
	img->meta.generation = 1;
	model_set_str(&img->spec.data_source.type, "HTTP");
	img->status.phase = phase;
	img->status.observed_generation = 1;
	return img;
}

static struct model_image *clone(const struct model_image *img)
{
	struct model_image *c = NULL;
	assert_int_equal(model_image_clone(&c, img, NULL), 0);
	return c;
}

static char *status_text(const struct model_image *img)
{
	json_t *j = model_status_to_json(&img->status, img->kind);
	char *t = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	return t;
}

/* ---- chain combination ------------------------------------------------------- */

static int h_requeue_5s(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s,
                        struct vim_err *e)
{
	(void)c, (void)i, (void)e;
	s->requeue_after_ms = 5000;
	return CTL_CONTINUE;
}
static int h_requeue_2s(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s,
                        struct vim_err *e)
{
	(void)c, (void)i, (void)e;
	s->requeue_after_ms = 2000;
	return CTL_CONTINUE;
}
static int h_nothing(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s,
                     struct vim_err *e)
{
	(void)c, (void)i, (void)s, (void)e;
	return CTL_CONTINUE;
}
static int h_fail(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s, struct vim_err *e)
{
	(void)c, (void)i, (void)s;
	return vim_err_set(e, VIM_EUPSTREAM, "first cause");
}
static int h_fail2(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s, struct vim_err *e)
{
	(void)c, (void)i, (void)s;
	return vim_err_set(e, VIM_EIO, "second cause");
}
static int h_set_failed(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s,
                        struct vim_err *e)
{
	(void)c, (void)s, (void)e;
	i->status.phase = MODEL_PHASE_FAILED;
	return CTL_CONTINUE;
}
static int h_stop(struct ctl_ctx *c, struct model_image *i, struct ctl_step *s, struct vim_err *e)
{
	(void)c, (void)e;
	i->status.phase = MODEL_PHASE_PENDING;
	s->requeue_after_ms = 15000;
	return CTL_STOP;
}

static void run_chain(const struct ctl_handler *hs, size_t n, struct fakes *f,
                      struct model_image *orig, struct ctl_outcome *out, int *rc,
                      struct vim_err *err)
{
	struct ctl_ctx ctx;
	struct model_image *work = clone(orig);
	int64_t now;

	now = f->now;
	fakes_init(f, &ctx);
	if (now)
		f->now = now;
	*rc = ctl_chain_run(hs, n, &ctx, orig, work, out, err);
	model_image_free(work);
}

static void test_chain_shortest_positive_requeue_wins(void **state)
{
	const struct ctl_handler hs[] = {
	    {"a", h_requeue_5s}, {"b", h_nothing}, {"c", h_requeue_2s}, {"d", h_requeue_5s}};
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_READY);
	struct ctl_outcome out;
	struct fakes f = {0};
	struct vim_err err = {0};
	int rc;
	(void)state;

	run_chain(hs, 4, &f, img, &out, &rc, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(out.requeue_after_ms, 2000);
	assert_false(out.status_written); /* nothing changed */
	assert_int_equal(f.status_writes, 0);
	fakes_free(&f);
	model_image_free(img);
}

static void test_chain_error_does_not_stop_later_handlers_and_status_is_written(void **state)
{
	const struct ctl_handler hs[] = {
	    {"first", h_fail}, {"setter", h_set_failed}, {"second", h_fail2}};
	struct model_image *img = image(MODEL_KIND_CVI, MODEL_PHASE_PROVISIONING);
	struct ctl_outcome out;
	struct fakes f = {0};
	struct vim_err err = {0};
	int rc;
	(void)state;

	run_chain(hs, 3, &f, img, &out, &rc, &err);
	assert_int_equal(rc, VIM_EUPSTREAM);
	assert_non_null(strstr(err.msg, "first: first cause"));
	assert_int_equal(f.status_writes, 1);
	assert_string_equal(json_string_value(json_object_get(f.written_status, "phase")),
	                    "Failed");
	fakes_free(&f);
	model_image_free(img);
}

static void test_chain_stop_skips_the_rest_but_writes_and_requeues(void **state)
{
	const struct ctl_handler hs[] = {{"stop", h_stop}, {"never", h_fail}};
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_NONE);
	struct ctl_outcome out;
	struct fakes f = {0};
	struct vim_err err = {0};
	int rc;
	(void)state;

	run_chain(hs, 2, &f, img, &out, &rc, &err);
	assert_int_equal(rc, 0);
	assert_true(out.stopped);
	assert_int_equal(out.requeue_after_ms, 15000);
	assert_int_equal(f.status_writes, 1);
	fakes_free(&f);
	model_image_free(img);
}

static void test_chain_sets_observed_generation(void **state)
{
	const struct ctl_handler hs[] = {{"noop", h_nothing}};
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_READY);
	struct ctl_outcome out;
	struct fakes f = {0};
	struct vim_err err = {0};
	int rc;
	(void)state;

	img->meta.generation = 3;
	run_chain(hs, 1, &f, img, &out, &rc, &err);
	assert_int_equal(rc, 0);
	assert_int_equal(f.status_writes, 1);
	assert_int_equal(
	    json_integer_value(json_object_get(f.written_status, "observedGeneration")), 3);
	fakes_free(&f);
	model_image_free(img);
}

static void test_chain_write_conflict_requeues_quickly_without_error(void **state)
{
	const struct ctl_handler hs[] = {{"setter", h_set_failed}};
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_PROVISIONING);
	struct model_image *work = clone(img);
	struct ctl_outcome out;
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	(void)state;

	fakes_init(&f, &ctx);
	f.write_status_rc = VIM_ECONFLICT;
	assert_int_equal(ctl_chain_run(hs, 1, &ctx, img, work, &out, &err), 0);
	assert_true(out.requeue_after_ms > 0 && out.requeue_after_ms <= 1000);
	assert_false(out.status_written);
	fakes_free(&f);
	model_image_free(work);
	model_image_free(img);
}

static void test_full_table_ready_image_absent_goes_lost_and_gets_finalizer(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_READY);
	struct model_image *work;
	struct ctl_outcome out;
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	const json_t *conds, *c;
	size_t i;
	bool found = false;
	(void)state;

	model_set_str(&img->spec.storage, "ContainerRegistry");
	model_set_str(&img->status.target_registry_url, "dvcr.local/vi/ns/img:u1");
	model_set_str(&img->status.progress, "100%");
	model_condition_set(&img->status, "Ready", "True", "Ready", "", 1, 100);
	work = clone(img);
	fakes_init(&f, &ctx);
	f.check_answer = CTL_IMAGE_ABSENT;
	assert_int_equal(
	    ctl_chain_run(ctl_image_handlers, ctl_image_handlers_len, &ctx, img, work, &out, &err),
	    0);
	assert_int_equal(out.requeue_after_ms, 15000);
	assert_int_equal(f.sync_calls, 0);    /* a Ready image is not imported again */
	assert_int_equal(f.release_calls, 1); /* and its finished import job may go */
	assert_int_equal(f.meta_writes, 1);   /* the cleanup finalizer */
	assert_int_equal(work->meta.finalizers.len, 1);
	assert_string_equal(work->meta.finalizers.items[0],
	                    "virtualization.deckhouse.io/vi-cleanup");
	assert_int_equal(f.status_writes, 1);
	assert_string_equal(json_string_value(json_object_get(f.written_status, "phase")),
	                    "ImageLost");
	assert_string_equal(json_string_value(json_object_get(f.written_status, "progress")),
	                    "100%");
	conds = json_object_get(f.written_status, "conditions");
	json_array_foreach(conds, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0) {
			assert_string_equal(json_string_value(json_object_get(c, "reason")),
			                    "ImageLost");
			found = true;
		}
	}
	assert_true(found);
	assert_int_equal(f.n_events, 1);
	assert_string_equal(f.events[0].reason, "VirtualImageLost");
	fakes_free(&f);
	model_image_free(work);
	model_image_free(img);
}

/* ---- LifeCycle ----------------------------------------------------------------- */

static void lifecycle_lost_returns_early(enum model_kind kind)
{
	struct model_image *img = image(kind, MODEL_PHASE_IMAGE_LOST);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	char *before, *after;

	img->meta.generation = 2; /* even with a spec change pending */
	model_condition_set(&img->status, "Ready", "False", "ImageLost", MODEL_MSG_IMAGE_LOST, 1,
	                    50);
	before = status_text(img);
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, &err), CTL_CONTINUE);
	after = status_text(img);
	assert_string_equal(after, before);
	assert_int_equal(f.sync_calls, 0);
	assert_int_equal(f.cleanup_calls, 0);
	assert_int_equal(f.release_calls, 0);
	assert_int_equal(f.n_events, 0);
	assert_int_equal(step.requeue_after_ms, 0);
	free(before);
	free(after);
	model_image_free(img);
}

static void test_lifecycle_image_lost_vi_returns_at_once(void **state)
{
	(void)state;
	lifecycle_lost_returns_early(MODEL_KIND_VI);
}

static void test_lifecycle_image_lost_cvi_returns_at_once(void **state)
{
	(void)state;
	lifecycle_lost_returns_early(MODEL_KIND_CVI);
}

static void test_lifecycle_deleting_is_terminating_and_chain_goes_on(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_READY);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	img->meta.deletion_timestamp = 5;
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(img->status.phase, MODEL_PHASE_TERMINATING);
	assert_int_equal(f.sync_calls, 0);
	model_image_free(img);
}

static void test_lifecycle_new_image_pending_then_import_without_spec_event(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_NONE);
	const struct model_condition *r;
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	img->status.observed_generation = 0;
	fakes_init(&f, &ctx);
	model_condition_set(&img->status, "DatasourceReady", "True", "DatasourceReady", "", 1, 1);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(f.sync_calls, 1);
	/* upstream's first-reconcile quirk (a SpecHasBeenChanged event) not
	 * kept: the only event is the import's start */
	assert_int_equal(f.n_events, 1);
	assert_string_equal(f.events[0].reason, "DataSourceImportStarted");
	assert_int_equal(img->status.phase, MODEL_PHASE_PROVISIONING);
	assert_string_equal(img->status.progress, "0%");
	r = model_condition_get(&img->status, "Ready");
	assert_non_null(r);
	/* the import step (controller/import.c, over the fake job engine) took
	 * the Unknown LifeCycle set first to Provisioning */
	assert_string_equal(r->status, "False");
	assert_string_equal(r->reason, "Provisioning");
	model_image_free(img);
}

static void test_lifecycle_spec_change_before_ready_restarts_import(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_PROVISIONING);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	img->meta.generation = 2;
	model_set_str(&img->status.progress, "47.6%");
	model_condition_set(&img->status, "Ready", "False", "Provisioning", "", 1, 1);
	model_condition_set(&img->status, "DatasourceReady", "True", "DatasourceReady", "", 1, 1);
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(f.n_events, 1);
	assert_string_equal(f.events[0].reason, "VirtualImageSpecHasBeenChanged");
	assert_int_equal(f.cleanup_calls, 1);
	assert_int_equal(f.sync_calls, 0);
	assert_int_equal(img->status.phase, MODEL_PHASE_PENDING);
	assert_null(img->status.progress);
	assert_int_equal(img->status.n_conditions, 0); /* a VI's status is wiped */
	assert_true(step.requeue_after_ms > 0);
	model_image_free(img);
}

static void test_lifecycle_datasource_not_ready_blocks_import(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_PENDING);
	const struct model_condition *r;
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	model_condition_set(&img->status, "DatasourceReady", "False", "ImageNotReady", "x", 1, 1);
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(f.sync_calls, 0);
	r = model_condition_get(&img->status, "Ready");
	assert_string_equal(r->status, "False");
	assert_string_equal(r->reason, "DatasourceNotReady");
	assert_string_equal(r->message, "Datasource is not ready.");
	model_image_free(img);
}

/* ---- Deletion and DatasourceReady ---------------------------------------------- */

static void test_deletion_adds_the_cleanup_finalizer_once(void **state)
{
	struct model_image *img = image(MODEL_KIND_CVI, MODEL_PHASE_READY);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(img->meta.finalizers.len, 1);
	assert_string_equal(img->meta.finalizers.items[0],
	                    "virtualization.deckhouse.io/cvi-cleanup");
	assert_int_equal(f.remove_calls, 0);
	model_image_free(img);
}

static void test_deletion_removes_dvcr_data_then_the_finalizer(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_TERMINATING);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	ctl_handle_deletion(&ctx, img, &step, NULL);
	img->meta.deletion_timestamp = 10;
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, NULL), CTL_CONTINUE);
	assert_int_equal(f.remove_calls, 1);
	assert_int_equal(img->meta.finalizers.len, 0);
	model_image_free(img);
}

static void test_deletion_keeps_the_finalizer_when_dvcr_refuses(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_TERMINATING);
	const struct model_condition *t;
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	(void)state;

	fakes_init(&f, &ctx);
	ctl_handle_deletion(&ctx, img, &step, NULL);
	img->meta.deletion_timestamp = 10;
	f.remove_rc = VIM_EUPSTREAM;
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, &err), VIM_EUPSTREAM);
	assert_non_null(strstr(err.msg, "fake registry refused the delete"));
	assert_int_equal(img->meta.finalizers.len, 1);
	t = model_condition_get(&img->status, "Terminating");
	assert_non_null(t);
	assert_string_equal(t->reason, "CleanupPending");
	assert_int_equal(step.requeue_after_ms, 1000);
	model_image_free(img);
}

static void test_datasource_ready_condition_follows_the_source(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_PENDING);
	const struct model_condition *c;
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	(void)state;

	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_datasource_ready(&ctx, img, &step, &err), CTL_CONTINUE);
	c = model_condition_get(&img->status, "DatasourceReady");
	assert_string_equal(c->status, "True");
	f.ds_answer = 0;
	f.ds_reason = "ImageNotReady";
	f.ds_message = "VirtualImage src not ready.";
	assert_int_equal(ctl_handle_datasource_ready(&ctx, img, &step, &err), CTL_CONTINUE);
	c = model_condition_get(&img->status, "DatasourceReady");
	assert_string_equal(c->status, "False");
	assert_string_equal(c->reason, "ImageNotReady");
	assert_string_equal(c->message, "VirtualImage src not ready.");
	f.ds_answer = VIM_EIO;
	assert_int_equal(ctl_handle_datasource_ready(&ctx, img, &step, &err), VIM_EIO);
	c = model_condition_get(&img->status, "DatasourceReady");
	assert_string_equal(c->status, "Unknown");
	model_image_free(img);
}

/* ---- ImagePresence: the lost checker learns when the image was lost ---------- */

struct lost_probe {
	int calls;
	int64_t lost_since;
	char url[128];
};

static int probe_check_lost(void *self, const char *url, int64_t lost_since, struct vim_err *err)
{
	struct lost_probe *p = self;

	(void)err;
	p->calls++;
	p->lost_since = lost_since;
	snprintf(p->url, sizeof(p->url), "%s", url);
	return CTL_IMAGE_PRESENT;
}

static int probe_check(void *self, const char *url, struct vim_err *err)
{
	(void)self, (void)url;
	return vim_err_set(err, VIM_EINTERNAL, "check called for a lost image");
}

static void test_presence_lost_image_uses_check_lost_with_its_loss_time(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_IMAGE_LOST);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	struct lost_probe p = {0};
	struct vim_err err = {0};
	(void)state;

	model_set_str(&img->status.target_registry_url, "dvcr.local/vi/ns/img:u1");
	model_condition_set(&img->status, "Ready", "False", "ImageLost", MODEL_MSG_IMAGE_LOST, 1,
	                    424242);
	fakes_init(&f, &ctx);
	ctx.checker = (struct ctl_checker){probe_check, probe_check_lost, &p};
	assert_int_equal(ctl_handle_image_presence(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(p.calls, 1);
	assert_int_equal(p.lost_since, 424242);
	assert_string_equal(p.url, "dvcr.local/vi/ns/img:u1");
	assert_int_equal(img->status.phase, MODEL_PHASE_READY);
	model_image_free(img);
}

/* The echo of the controller's own status write proves nothing again: the
 * presence it recorded was proven a moment before. */
static void test_presence_skips_the_echo_of_its_own_write(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, MODEL_PHASE_READY);
	struct ctl_step step = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	struct vim_err err = {0};
	(void)state;

	model_set_str(&img->status.target_registry_url, "dvcr.local/vi/ns/img:u1");
	fakes_init(&f, &ctx);
	f.check_answer = CTL_IMAGE_ABSENT;
	ctx.echo = true;
	assert_int_equal(ctl_handle_image_presence(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.check_calls, 0);
	assert_int_equal(img->status.phase, MODEL_PHASE_READY);
	ctx.echo = false; /* any other reconcile checks */
	assert_int_equal(ctl_handle_image_presence(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.check_calls, 1);
	assert_int_equal(img->status.phase, MODEL_PHASE_IMAGE_LOST);
	/* the echo of that ImageLost write keeps the image's recheck plan */
	step.requeue_after_ms = 0;
	ctx.echo = true;
	assert_int_equal(ctl_handle_image_presence(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.check_calls, 1);
	assert_int_equal(step.requeue_after_ms, 15000);
	model_image_free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chain_shortest_positive_requeue_wins),
	    cmocka_unit_test(test_chain_error_does_not_stop_later_handlers_and_status_is_written),
	    cmocka_unit_test(test_chain_stop_skips_the_rest_but_writes_and_requeues),
	    cmocka_unit_test(test_chain_sets_observed_generation),
	    cmocka_unit_test(test_chain_write_conflict_requeues_quickly_without_error),
	    cmocka_unit_test(test_full_table_ready_image_absent_goes_lost_and_gets_finalizer),
	    cmocka_unit_test(test_lifecycle_image_lost_vi_returns_at_once),
	    cmocka_unit_test(test_lifecycle_image_lost_cvi_returns_at_once),
	    cmocka_unit_test(test_lifecycle_deleting_is_terminating_and_chain_goes_on),
	    cmocka_unit_test(test_lifecycle_new_image_pending_then_import_without_spec_event),
	    cmocka_unit_test(test_lifecycle_spec_change_before_ready_restarts_import),
	    cmocka_unit_test(test_lifecycle_datasource_not_ready_blocks_import),
	    cmocka_unit_test(test_deletion_adds_the_cleanup_finalizer_once),
	    cmocka_unit_test(test_deletion_removes_dvcr_data_then_the_finalizer),
	    cmocka_unit_test(test_deletion_keeps_the_finalizer_when_dvcr_refuses),
	    cmocka_unit_test(test_datasource_ready_condition_follows_the_source),
	    cmocka_unit_test(test_presence_lost_image_uses_check_lost_with_its_loss_time),
	    cmocka_unit_test(test_presence_skips_the_echo_of_its_own_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
