/*
 * The import state machine (controller/import.c) over a fake job engine:
 * each job state the engine reports becomes its phase, Ready condition,
 * progress, speed, size, upload URLs, events and requeue; retries back off
 * 30 s doubling to 10 min on the chain's monotonic clock; a terminal
 * failure is not retried; an upload URL times out; a spec change or a
 * delete cancels the job; a status write that lost a conflict loses no
 * outcome (the job goes only when the stored status shows it); and a Ready
 * image always carries target.registryURL.
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

#define TARGET_VI "dvcr.example.com/vi/ns/img:u1"

static struct model_image *image(enum model_kind kind, const char *type)
{
	struct model_image *img = model_image_new(kind);

	assert_non_null(img);
	model_set_str(&img->meta.name, "img");
	if (kind == MODEL_KIND_VI)
		model_set_str(&img->meta.namespace, "ns");
	model_set_str(&img->meta.uid, "u1");
	model_set_str(&img->meta.resource_version, "7");
	img->meta.generation = 1;
	img->status.observed_generation = 1;
	model_set_str(&img->spec.data_source.type, type);
	img->status.phase = MODEL_PHASE_PENDING;
	model_condition_set(&img->status, MODEL_COND_DATASOURCE_READY, "True", "DatasourceReady",
	                    "", 1, 1);
	model_condition_set(&img->status, MODEL_COND_READY, "Unknown", "Unknown", "", 1, 1);
	return img;
}

static const struct model_condition *ready(const struct model_image *img)
{
	const struct model_condition *r = model_condition_get(&img->status, MODEL_COND_READY);
	assert_non_null(r);
	return r;
}

static void assert_ready(const struct model_image *img, const char *status, const char *reason,
                         const char *message)
{
	const struct model_condition *r = ready(img);
	assert_string_equal(r->status, status);
	assert_string_equal(r->reason, reason);
	assert_string_equal(r->message, message);
}

/* One import step, as LifeCycle takes it. */
static int64_t step_once(struct ctl_ctx *ctx, struct model_image *img)
{
	struct ctl_step step = {0};
	struct vim_err err = {0};

	assert_int_equal(ctl_import_sync(ctx, img, &step, &err), 0);
	return step.requeue_after_ms;
}

/* ---- start ------------------------------------------------------------------------ */

static void test_a_new_image_starts_its_job_and_shows_provisioning(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	assert_int_equal(step_once(&ctx, img), 1000);
	assert_int_equal(f.start_calls, 1);
	assert_int_equal(f.start_failures, 0);
	assert_string_equal(f.start_repo, "vi/ns/img");
	assert_string_equal(f.start_tag, "u1");
	assert_int_equal(img->status.phase, MODEL_PHASE_PROVISIONING);
	assert_ready(img, "False", "Provisioning", "Preparing to import the image.");
	assert_int_equal(ready(img)->last_transition_time, f.now);
	assert_string_equal(img->status.progress, "0%");
	assert_string_equal(img->status.target_registry_url, TARGET_VI);
	assert_int_equal(f.n_events, 1);
	assert_string_equal(f.events[0].type, "Normal");
	assert_string_equal(f.events[0].reason, "DataSourceImportStarted");
	assert_string_equal(f.events[0].message, "The HTTP DataSource import has started");
	model_image_free(img);
}

static void test_a_queued_job_polls_every_5s(void **state)
{
	struct model_image *img = image(MODEL_KIND_CVI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	f.start_state = IMP_JOB_QUEUED;
	step_once(&ctx, img);
	assert_int_equal(step_once(&ctx, img), 5000);
	assert_int_equal(f.start_calls, 1);
	assert_int_equal(img->status.phase, MODEL_PHASE_PROVISIONING);
	assert_ready(img, "False", "Provisioning",
	             "Waiting for a free import slot (other imports are running).");
	assert_string_equal(img->status.target_registry_url, "dvcr.example.com/cvi/img:u1");
	model_image_free(img);
}

static void test_a_running_job_shows_progress_and_speed(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	step_once(&ctx, img);
	f.job.done = 50 << 20;
	f.job.total = 200 << 20;
	f.job.elapsed_ms = 10000;
	assert_int_equal(step_once(&ctx, img), 1000);
	assert_ready(img, "False", "Provisioning", "The image is being imported.");
	assert_string_equal(img->status.progress, "25.0%");
	assert_string_equal(img->status.speed_avg, "5Mi/s");
	assert_string_equal(img->status.speed_avg_bytes, "5242880");
	assert_string_equal(img->status.speed_current, "5Mi/s");
	/* progress never goes back, and stays below 100% until Ready */
	f.job.done = 10 << 20;
	step_once(&ctx, img);
	assert_string_equal(img->status.progress, "25.0%");
	f.job.done = f.job.total;
	step_once(&ctx, img);
	assert_string_equal(img->status.progress, "99.9%");
	assert_int_equal(f.n_events, 1); /* only the start */
	model_image_free(img);
}

/* ---- done ------------------------------------------------------------------------- */

static void test_a_done_job_makes_the_image_ready_and_goes_once_stored(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	step_once(&ctx, img);
	f.job.state = IMP_JOB_DONE;
	f.job.done = 3 << 20;
	f.job.elapsed_ms = 2000;
	f.job.result = (struct imp_result){
	    .stored_size = 2 << 20, .virtual_size = 1 << 30, .format = "qcow2", .cdrom = false};
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(img->status.phase, MODEL_PHASE_READY);
	assert_ready(img, "True", "Ready", "");
	assert_string_equal(img->status.progress, "100%");
	assert_string_equal(img->status.size_stored, "2Mi");
	assert_string_equal(img->status.size_stored_bytes, "2097152");
	assert_string_equal(img->status.size_unpacked, "1Gi");
	assert_string_equal(img->status.size_unpacked_bytes, "1073741824");
	assert_string_equal(img->status.format, "qcow2");
	assert_string_equal(img->status.speed_avg, "1Mi/s"); /* stored bytes over the time */
	assert_null(img->status.speed_current);
	assert_null(img->status.upload_url_external);
	assert_string_equal(img->status.target_registry_url, TARGET_VI);
	assert_int_equal(f.n_events, 2);
	assert_string_equal(f.events[1].reason, "DataSourceImportCompleted");
	assert_string_equal(f.events[1].message, "The HTTP DataSource import has completed");
	/* the reconcile that wrote Ready kept the job ... */
	assert_int_equal(f.release_calls, 0);
	assert_true(f.has_job);
	/* ... the one that reads it back from the store lets it go */
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(f.release_calls, 1);
	assert_false(f.has_job);
	assert_int_equal(f.start_calls, 1);
	model_image_free(img);
}

/* The reconcile that started the job set target.registryURL, but its write
 * lost a conflict: Ready must still carry the address of the data. */
static void test_ready_always_carries_the_target(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	f.has_job = true;
	f.job.state = IMP_JOB_DONE;
	assert_null(img->status.target_registry_url);
	step_once(&ctx, img);
	assert_int_equal(img->status.phase, MODEL_PHASE_READY);
	assert_string_equal(img->status.target_registry_url, TARGET_VI);
	model_image_free(img);
}

/* The whole chain: the status write that showed Ready loses a conflict;
 * the outcome is not lost (the job stays) and the next reconcile, from the
 * stored status that never saw it, writes Ready again. */
static void test_a_lost_status_write_loses_no_outcome(void **state)
{
	struct model_image *orig = image(MODEL_KIND_VI, "HTTP"), *work = NULL;
	struct ctl_outcome out;
	struct vim_err err = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	orig->status.phase = MODEL_PHASE_PROVISIONING;
	model_set_str(&orig->status.progress, "40%");
	fakes_init(&f, &ctx);
	f.has_job = true;
	f.job.state = IMP_JOB_DONE;
	f.check_answer = CTL_IMAGE_PRESENT;
	f.write_status_rc = VIM_ECONFLICT;
	assert_int_equal(model_image_clone(&work, orig, NULL), 0);
	assert_int_equal(
	    ctl_chain_run(ctl_image_handlers, ctl_image_handlers_len, &ctx, orig, work, &out, &err),
	    0);
	assert_false(out.status_written);
	assert_true(out.requeue_after_ms > 0); /* a quick retry */
	assert_int_equal(work->status.phase, MODEL_PHASE_READY);
	assert_int_equal(f.release_calls, 0);
	assert_true(f.has_job);
	model_image_free(work);

	f.write_status_rc = 0;
	work = NULL;
	assert_int_equal(model_image_clone(&work, orig, NULL), 0);
	assert_int_equal(
	    ctl_chain_run(ctl_image_handlers, ctl_image_handlers_len, &ctx, orig, work, &out, &err),
	    0);
	assert_true(out.status_written);
	assert_string_equal(json_string_value(json_object_get(f.written_status, "phase")), "Ready");
	assert_int_equal(f.start_calls, 0); /* nothing imported twice */
	model_image_free(work);
	model_image_free(orig);
	fakes_free(&f);
}

/* ---- failures ------------------------------------------------------------------------ */

static void test_a_terminal_failure_is_not_retried(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	step_once(&ctx, img);
	f.job.state = IMP_JOB_FAILED;
	f.job.terminal = true;
	snprintf(f.job.msg, sizeof(f.job.msg), "GET http://x/a.img: the server answered 404");
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(img->status.phase, MODEL_PHASE_FAILED);
	assert_ready(img, "False", "ProvisioningFailedTerminally",
	             "Provisioning failed: GET http://x/a.img: the server answered 404");
	assert_int_equal(f.n_events, 2);
	assert_string_equal(f.events[1].type, "Warning");
	assert_string_equal(f.events[1].reason, "DataSourceImportFailed");
	assert_string_equal(f.events[1].message,
	                    "Provisioning failed: GET http://x/a.img: the server answered 404");
	assert_int_equal(f.note_calls, 0);
	/* the stored status shows it: the job goes, nothing starts again */
	f.now += 3600;
	f.mono_ms += 3600 * 1000;
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(f.release_calls, 1);
	assert_int_equal(f.start_calls, 1);
	assert_int_equal(f.n_events, 2);
	model_image_free(img);
}

static void test_a_transient_failure_backs_off_30s_doubling_to_10min(void **state)
{
	static const int64_t delays_s[] = {30, 60, 120, 240, 480, 600, 600};
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	size_t i;
	(void)state;

	fakes_init(&f, &ctx);
	step_once(&ctx, img);
	for (i = 0; i < sizeof(delays_s) / sizeof(delays_s[0]); i++) {
		int events = f.n_events;
		f.job.state = IMP_JOB_FAILED;
		snprintf(f.job.msg, sizeof(f.job.msg),
		         "GET http://x/a.img: the server answered 503");
		assert_int_equal(step_once(&ctx, img), delays_s[i] * 1000);
		assert_int_equal(f.job.failures, (int)i + 1);
		assert_int_equal(img->status.phase, MODEL_PHASE_FAILED);
		assert_ready(img, "False", "ProvisioningFailed",
		             "Provisioning failed: GET http://x/a.img: the server answered 503");
		assert_int_equal(f.n_events, events + 1);
		assert_string_equal(f.events[f.n_events - 1].reason, "DataSourceImportFailed");
		/* waiting: no new attempt, no new event, the rest of the pause */
		f.mono_ms += 10000;
		assert_int_equal(step_once(&ctx, img), delays_s[i] * 1000 - 10000);
		assert_int_equal(f.start_calls, (int)i + 1);
		/* the write that showed Failed lost a conflict: shown again, quietly */
		img->status.phase = MODEL_PHASE_PROVISIONING;
		step_once(&ctx, img);
		assert_int_equal(img->status.phase, MODEL_PHASE_FAILED);
		assert_int_equal(f.n_events, events + 1);
		/* due: the old attempt goes and a new one starts, counting */
		f.mono_ms += delays_s[i] * 1000 - 10000;
		f.n_events = 0;
		assert_int_equal(step_once(&ctx, img), 1000);
		assert_int_equal(f.cleanup_calls, (int)i + 1);
		assert_int_equal(f.start_calls, (int)i + 2);
		assert_int_equal(f.start_failures, (int)i + 1);
		assert_int_equal(img->status.phase, MODEL_PHASE_PROVISIONING);
		assert_string_equal(f.events[0].reason, "DataSourceImportStarted");
	}
	model_image_free(img);
}

static void test_a_source_that_cannot_start_fails_the_image(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	/* transient: the engine keeps the attempt, the retry waits 30 s */
	fakes_init(&f, &ctx);
	f.start_rc = VIM_EUPSTREAM;
	f.start_msg = "cannot resolve the source";
	assert_int_equal(step_once(&ctx, img), 30000);
	assert_int_equal(img->status.phase, MODEL_PHASE_FAILED);
	assert_ready(img, "False", "ProvisioningFailed",
	             "Provisioning failed: cannot resolve the source");
	assert_int_equal(f.note_calls, 1);
	assert_true(f.job.reported);
	assert_int_equal(f.job.retry_at_ms, f.mono_ms + 30000);
	assert_null(img->status.target_registry_url);
	model_image_free(img);

	/* terminal: the spec must change; nothing is retried */
	img = image(MODEL_KIND_VI, "Blank");
	fakes_init(&f, &ctx);
	f.start_rc = VIM_EUNSUPPORTED;
	f.start_terminal = true;
	f.start_msg = "a Blank data source is not supported by this server yet";
	assert_int_equal(step_once(&ctx, img), 0);
	assert_ready(img, "False", "ProvisioningFailedTerminally",
	             "Provisioning failed: a Blank data source is not supported by this server "
	             "yet");
	assert_int_equal(f.note_calls, 0);
	assert_false(f.has_job);
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(f.start_calls, 1);
	model_image_free(img);
}

/* After a restart the engine holds no job: a Failed image waits out the
 * rest of 30 s from its Ready condition before it is tried again. */
static void test_a_failed_image_without_a_job_waits_before_the_retry(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	img->status.phase = MODEL_PHASE_FAILED;
	model_condition_set(&img->status, MODEL_COND_READY, "False", "ProvisioningFailed", "x", 1,
	                    f.now - 10);
	assert_int_equal(step_once(&ctx, img), 20000);
	assert_int_equal(f.start_calls, 0);
	f.now += 20;
	assert_int_equal(step_once(&ctx, img), 1000);
	assert_int_equal(f.start_calls, 1);
	model_image_free(img);
}

/* ---- uploads ------------------------------------------------------------------------- */

static void test_an_upload_waits_then_times_out(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "Upload");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	f.start_state = IMP_JOB_WAIT_UPLOAD;
	assert_int_equal(step_once(&ctx, img), 5000);
	assert_int_equal(img->status.phase, MODEL_PHASE_WAIT_FOR_USER_UPLOAD);
	assert_ready(img, "False", "WaitForUserUpload", "Waiting for the user upload.");
	assert_string_equal(img->status.upload_url_external, "http://127.0.0.1:8080/upload/tok123");
	assert_string_equal(img->status.upload_url_in_cluster,
	                    "http://127.0.0.1:8080/upload/tok123");
	assert_string_equal(img->status.upload_command,
	                    "curl http://127.0.0.1:8080/upload/tok123 --progress-bar -T "
	                    "<image.name> | cat");
	assert_string_equal(f.events[0].message, "The Upload DataSource import has started");
	/* still waiting after 9 min 59 s */
	f.now += 599;
	assert_int_equal(step_once(&ctx, img), 5000);
	assert_int_equal(img->status.phase, MODEL_PHASE_WAIT_FOR_USER_UPLOAD);
	/* 10 min: the URL closes and the image fails for good */
	f.now += 1;
	assert_int_equal(step_once(&ctx, img), 0);
	assert_int_equal(f.close_calls, 1);
	assert_int_equal(img->status.phase, MODEL_PHASE_FAILED);
	assert_ready(img, "False", "WaitForUserUploadTimeout",
	             "The image was not uploaded within 10 minutes. Recreate the VirtualImage to "
	             "upload the image again.");
	assert_null(img->status.upload_url_external);
	assert_null(img->status.upload_command);
	assert_string_equal(f.events[f.n_events - 1].reason, "DataSourceImportFailed");
	/* stored: the job goes */
	step_once(&ctx, img);
	assert_int_equal(f.release_calls, 1);
	assert_false(f.has_job);
	model_image_free(img);
}

static void test_an_upload_timeout_in_seconds_says_seconds(void **state)
{
	struct model_image *img = image(MODEL_KIND_CVI, "Upload");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	ctx.jobs.upload_timeout_s = 45;
	f.start_state = IMP_JOB_WAIT_UPLOAD;
	step_once(&ctx, img);
	f.now += 45;
	step_once(&ctx, img);
	assert_ready(img, "False", "WaitForUserUploadTimeout",
	             "The image was not uploaded within 45 seconds. Recreate the "
	             "ClusterVirtualImage to upload the image again.");
	model_image_free(img);
}

/* A new leader has no job for an image waiting for its upload: the job it
 * starts is handed the URL the status shows (the engine keeps its token),
 * so the URL the user was given still works. */
static void test_a_restarted_upload_job_is_handed_the_url_the_image_shows(void **state)
{
	static const char url[] =
	    "http://10.0.0.1:8080/upload/"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	struct model_image *img = image(MODEL_KIND_VI, "Upload");
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	f.start_state = IMP_JOB_WAIT_UPLOAD;
	/* a first start: no URL yet */
	step_once(&ctx, img);
	assert_int_equal(f.start_calls, 1);
	assert_string_equal(f.start_upload_url, "");
	/* what the old leader left: its URL in the status, and no job here */
	model_set_str(&img->status.upload_url_external, url);
	f.has_job = false;
	step_once(&ctx, img);
	assert_int_equal(f.start_calls, 2);
	assert_string_equal(f.start_upload_url, url);
	assert_int_equal(img->status.phase, MODEL_PHASE_WAIT_FOR_USER_UPLOAD);
	model_image_free(img);
}

/* ---- spec change and delete ------------------------------------------------------------ */

static void test_a_spec_change_mid_import_cancels_and_starts_over(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_step step = {0};
	struct vim_err err = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_true(f.has_job);
	img->meta.generation = 2; /* the user edits the URL */
	f.n_events = 0;
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.cleanup_calls, 1);
	assert_false(f.has_job);
	assert_int_equal(img->status.phase, MODEL_PHASE_PENDING);
	assert_string_equal(f.events[0].reason, "VirtualImageSpecHasBeenChanged");
	/* the next reconcile (DatasourceReady, then LifeCycle) starts afresh */
	assert_int_equal(ctl_handle_datasource_ready(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.start_calls, 2);
	assert_int_equal(img->status.phase, MODEL_PHASE_PROVISIONING);
	model_image_free(img);
}

static void test_a_delete_cancels_the_job(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "HTTP");
	struct ctl_step step = {0};
	struct vim_err err = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	fakes_init(&f, &ctx);
	step_once(&ctx, img);
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, &err), CTL_CONTINUE);
	img->meta.deletion_timestamp = f.now;
	assert_int_equal(ctl_handle_lifecycle(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(img->status.phase, MODEL_PHASE_TERMINATING);
	assert_int_equal(ctl_handle_deletion(&ctx, img, &step, &err), CTL_CONTINUE);
	assert_int_equal(f.cleanup_calls, 1);
	assert_false(f.has_job);
	assert_int_equal(f.remove_calls, 1);
	model_image_free(img);
}

/* ---- ObjectRef: the source image is the controller's to find ------------------------- */

static void test_an_object_ref_waits_for_its_source_then_copies_it(void **state)
{
	struct model_image *img = image(MODEL_KIND_VI, "ObjectRef");
	struct model_image *src = image(MODEL_KIND_VI, "HTTP");
	char reason[CTL_REASON_MAX], message[CTL_MESSAGE_MAX];
	struct vim_err err = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	img->spec.data_source.object_ref = calloc(1, sizeof(*img->spec.data_source.object_ref));
	model_set_str(&img->spec.data_source.object_ref->kind, "VirtualImage");
	model_set_str(&img->spec.data_source.object_ref->name, "src");
	model_set_str(&src->meta.name, "src");
	model_set_str(&src->meta.uid, "src-uid");
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), 0);
	assert_string_equal(reason, "ImageNotReady");
	assert_string_equal(message, "VirtualImage src not found.");
	f.other = src;
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), 0);
	assert_string_equal(message, "VirtualImage src not ready.");
	src->status.phase = MODEL_PHASE_READY;
	model_set_str(&src->status.target_registry_url, "dvcr.example.com/vi/ns/src:src-uid");
	model_set_str(&src->status.size_stored_bytes, "1234");
	model_set_str(&src->status.size_unpacked_bytes, "5678");
	model_set_str(&src->status.format, "raw");
	src->status.cdrom = true;
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), 1);
	f.images_rc = VIM_EIO;
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), VIM_EIO);
	f.images_rc = 0;

	step_once(&ctx, img);
	assert_int_equal(f.start_calls, 1);
	assert_string_equal(f.start_src_url, "dvcr.example.com/vi/ns/src:src-uid");
	assert_int_equal(f.start_src_result.stored_size, 1234);
	assert_int_equal(f.start_src_result.virtual_size, 5678);
	assert_string_equal(f.start_src_result.format, "raw");
	assert_true(f.start_src_result.cdrom);
	assert_string_equal(f.start_src_result.source_uid, "src-uid");
	f.job.state = IMP_JOB_DONE;
	f.job.result = f.start_src_result;
	step_once(&ctx, img);
	assert_string_equal(img->status.source_uid, "src-uid");
	assert_true(img->status.cdrom);
	model_image_free(src);
	model_image_free(img);
}

static void test_an_object_ref_to_a_cluster_image_says_so(void **state)
{
	struct model_image *img = image(MODEL_KIND_CVI, "ObjectRef");
	char reason[CTL_REASON_MAX], message[CTL_MESSAGE_MAX];
	struct vim_err err = {0};
	struct ctl_ctx ctx;
	struct fakes f;
	(void)state;

	img->spec.data_source.object_ref = calloc(1, sizeof(*img->spec.data_source.object_ref));
	model_set_str(&img->spec.data_source.object_ref->kind, "ClusterVirtualImage");
	model_set_str(&img->spec.data_source.object_ref->name, "base");
	fakes_init(&f, &ctx);
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), 0);
	assert_string_equal(reason, "ClusterImageNotReady");
	assert_string_equal(message, "ClusterVirtualImage base not found.");
	/* a source gone between DatasourceReady and the start fails the
	 * attempt in the engine: its retry backs off like any other */
	assert_int_equal(step_once(&ctx, img), 30000);
	assert_int_equal(f.start_calls, 1);
	assert_true(f.has_job);
	assert_int_equal(f.job.failures, 1);
	assert_ready(img, "False", "ProvisioningFailed",
	             "Provisioning failed: ClusterVirtualImage base not found.");
	f.mono_ms += 30000;
	assert_int_equal(step_once(&ctx, img), 30000); /* looked at again in 30 s ... */
	assert_int_equal(f.start_calls, 2);
	assert_int_equal(f.job.retry_at_ms, f.mono_ms + 60000); /* ... retried in 60 */
	f.mono_ms += 30000;
	assert_int_equal(step_once(&ctx, img), 30000);
	assert_int_equal(f.start_calls, 2);
	/* an imported image no longer needs its source */
	img->status.phase = MODEL_PHASE_READY;
	assert_int_equal(ctl_import_source_check(&ctx, img, reason, message, &err), 1);
	model_image_free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_new_image_starts_its_job_and_shows_provisioning),
	    cmocka_unit_test(test_a_queued_job_polls_every_5s),
	    cmocka_unit_test(test_a_running_job_shows_progress_and_speed),
	    cmocka_unit_test(test_a_done_job_makes_the_image_ready_and_goes_once_stored),
	    cmocka_unit_test(test_ready_always_carries_the_target),
	    cmocka_unit_test(test_a_lost_status_write_loses_no_outcome),
	    cmocka_unit_test(test_a_terminal_failure_is_not_retried),
	    cmocka_unit_test(test_a_transient_failure_backs_off_30s_doubling_to_10min),
	    cmocka_unit_test(test_a_source_that_cannot_start_fails_the_image),
	    cmocka_unit_test(test_a_failed_image_without_a_job_waits_before_the_retry),
	    cmocka_unit_test(test_an_upload_waits_then_times_out),
	    cmocka_unit_test(test_an_upload_timeout_in_seconds_says_seconds),
	    cmocka_unit_test(test_a_restarted_upload_job_is_handed_the_url_the_image_shows),
	    cmocka_unit_test(test_a_spec_change_mid_import_cancels_and_starts_over),
	    cmocka_unit_test(test_a_delete_cancels_the_job),
	    cmocka_unit_test(test_an_object_ref_waits_for_its_source_then_copies_it),
	    cmocka_unit_test(test_an_object_ref_to_a_cluster_image_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
