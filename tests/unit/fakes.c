/* Fakes of the handler interfaces; see fakes.h. */
#include "fakes.h"

#include <stdio.h>
#include <string.h>

static int f_check(void *self, const char *url, struct vim_err *err)
{
	struct fakes *f = self;

	f->check_calls++;
	snprintf(f->check_url, sizeof(f->check_url), "%s", url ? url : "");
	if (f->check_answer < 0)
		return vim_err_set(err, f->check_answer, "%s", f->check_err_msg);
	return f->check_answer;
}

static void f_record(void *self, const struct model_image *img, const char *type,
                     const char *reason, const char *message)
{
	struct fakes *f = self;
	struct fake_event *e;

	(void)img;
	if (f->n_events >= FAKE_EVENTS_MAX)
		return;
	e = &f->events[f->n_events++];
	snprintf(e->type, sizeof(e->type), "%s", type);
	snprintf(e->reason, sizeof(e->reason), "%s", reason);
	snprintf(e->message, sizeof(e->message), "%s", message);
}

static int64_t f_now(void *self)
{
	return ((struct fakes *)self)->now;
}

static int f_write_status(void *self, const struct model_image *img, struct vim_err *err)
{
	struct fakes *f = self;

	if (f->write_status_rc < 0)
		return vim_err_set(err, f->write_status_rc, "fake status write failed");
	f->status_writes++;
	json_decref(f->written_status);
	f->written_status = model_status_to_json(&img->status, img->kind);
	return 0;
}

static int f_write_meta(void *self, const struct model_image *img, struct vim_err *err)
{
	struct fakes *f = self;

	(void)img;
	if (f->write_meta_rc < 0)
		return vim_err_set(err, f->write_meta_rc, "fake meta write failed");
	f->meta_writes++;
	return 0;
}

/* ---- the job engine --------------------------------------------------------- */

static int f_start(void *self, const struct imp_job_input *in, int failures,
                   struct imp_snapshot *out, bool *terminal, struct vim_err *err)
{
	struct fakes *f = self;

	f->start_calls++;
	f->start_failures = failures;
	snprintf(f->start_repo, sizeof(f->start_repo), "%s", in->repo ? in->repo : "");
	snprintf(f->start_tag, sizeof(f->start_tag), "%s", in->tag ? in->tag : "");
	snprintf(f->start_src_url, sizeof(f->start_src_url), "%s",
	         in->src_registry_url ? in->src_registry_url : "");
	f->start_src_result = in->src_result;
	snprintf(f->start_upload_url, sizeof(f->start_upload_url), "%s",
	         in->upload_url ? in->upload_url : "");
	*terminal = f->start_terminal;
	memset(&f->job, 0, sizeof(f->job));
	f->job.failures = failures;
	if (in->src_error && f->start_rc == 0) { /* as the ObjectRef row */
		f->has_job = true;
		f->job.state = IMP_JOB_FAILED;
		snprintf(f->job.msg, sizeof(f->job.msg), "%s", in->src_error);
		return vim_err_set(err, VIM_EUPSTREAM, "%s", in->src_error);
	}
	if (f->start_rc < 0) {
		/* as the engine: a transient failure is kept as a failed attempt */
		f->has_job = !f->start_terminal;
		f->job.state = IMP_JOB_FAILED;
		snprintf(f->job.msg, sizeof(f->job.msg), "%s", f->start_msg ? f->start_msg : "");
		return vim_err_set(err, f->start_rc, "%s", f->start_msg ? f->start_msg : "");
	}
	f->has_job = true;
	f->job.state = f->start_state;
	if (f->job.state == IMP_JOB_WAIT_UPLOAD)
		snprintf(f->job.upload_url, sizeof(f->job.upload_url),
		         "http://127.0.0.1:8080/upload/tok123");
	*out = f->job;
	return 0;
}

static int f_poll(void *self, const char *uid, struct imp_snapshot *out)
{
	struct fakes *f = self;

	(void)uid;
	f->sync_calls++;
	if (!f->has_job)
		return 0;
	*out = f->job;
	return 1;
}

static void f_cancel(void *self, const char *uid)
{
	struct fakes *f = self;

	(void)uid;
	f->cleanup_calls++;
	f->has_job = false;
}

static void f_release(void *self, const char *uid)
{
	struct fakes *f = self;

	(void)uid;
	f->release_calls++;
	if (f->job.state != IMP_JOB_QUEUED && f->job.state != IMP_JOB_RUNNING)
		f->has_job = false;
}

static void f_close_upload(void *self, const char *uid)
{
	struct fakes *f = self;

	(void)uid;
	f->close_calls++;
	snprintf(f->job.upload_url, sizeof(f->job.upload_url), "http://127.0.0.1:8080/upload/");
}

static void f_note(void *self, const char *uid, int failures, int64_t retry_at_ms)
{
	struct fakes *f = self;

	(void)uid;
	f->note_calls++;
	f->job.failures = failures;
	f->job.reported = true;
	f->job.retry_at_ms = retry_at_ms;
}

static int64_t f_mono(void *self)
{
	return ((struct fakes *)self)->mono_ms;
}

static int f_image_get(void *self, enum model_kind kind, const char *ns, const char *name,
                       struct model_image **out, struct vim_err *err)
{
	struct fakes *f = self;
	const struct model_image *o = f->other;

	f->images_calls++;
	*out = NULL;
	if (f->images_rc < 0)
		return vim_err_set(err, f->images_rc, "fake image lookup failed");
	if (!o || o->kind != kind || strcmp(o->meta.name, name) != 0 ||
	    (kind == MODEL_KIND_VI && strcmp(o->meta.namespace, ns ? ns : "") != 0))
		return vim_err_set(err, VIM_ENOTFOUND, "not found");
	return model_image_clone(out, o, err);
}

static int f_ds(void *self, const struct imp_job_input *in, char reason[CTL_REASON_MAX],
                char message[CTL_MESSAGE_MAX], struct vim_err *err)
{
	struct fakes *f = self;

	(void)in;
	if (f->ds_answer < 0)
		return vim_err_set(err, f->ds_answer, "fake datasource check failed");
	if (f->ds_answer == 0) {
		snprintf(reason, CTL_REASON_MAX, "%s", f->ds_reason ? f->ds_reason : "");
		snprintf(message, CTL_MESSAGE_MAX, "%s", f->ds_message ? f->ds_message : "");
	}
	return f->ds_answer;
}

static int f_remove(void *self, const struct model_image *img, struct vim_err *err)
{
	struct fakes *f = self;

	(void)img;
	f->remove_calls++;
	if (f->remove_rc < 0)
		return vim_err_set(err, f->remove_rc, "fake registry refused the delete");
	return 0;
}

void fakes_init(struct fakes *f, struct ctl_ctx *ctx)
{
	memset(f, 0, sizeof(*f));
	f->now = 1000000;
	f->mono_ms = 5000000;
	f->ds_answer = 1;
	f->start_state = IMP_JOB_RUNNING;
	ctx->checker = (struct ctl_checker){f_check, NULL, f};
	ctx->recorder = (struct ctl_recorder){f_record, f};
	ctx->clock = (struct ctl_clock){f_now, f, f_mono};
	ctx->jobs = (struct ctl_jobs){
	    .start = f_start,
	    .poll = f_poll,
	    .cancel = f_cancel,
	    .release = f_release,
	    .close_upload = f_close_upload,
	    .note = f_note,
	    .check = f_ds,
	    .self = f,
	    .dvcr_host = "dvcr.example.com",
	};
	ctx->images = (struct ctl_images){f_image_get, f};
	ctx->cleaner = (struct ctl_dvcr_cleaner){f_remove, f};
	ctx->writer = (struct ctl_writer){f_write_status, f_write_meta, f};
	ctx->echo = false;
}

void fakes_free(struct fakes *f)
{
	json_decref(f->written_status);
	f->written_status = NULL;
}
