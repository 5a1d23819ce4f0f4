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

static void f_release(void *self, const struct model_image *img)
{
	struct fakes *f = self;

	(void)img;
	f->release_calls++;
}

static int f_sync(void *self, struct model_image *img, struct ctl_step *step, struct vim_err *err)
{
	struct fakes *f = self;

	(void)step;
	f->sync_calls++;
	if (f->sync_rc < 0)
		return vim_err_set(err, f->sync_rc, "fake import failed");
	if (f->sync_sets_phase != MODEL_PHASE_NONE)
		img->status.phase = f->sync_sets_phase;
	return 0;
}

static int f_cleanup(void *self, const struct model_image *img, struct vim_err *err)
{
	struct fakes *f = self;

	(void)img;
	f->cleanup_calls++;
	if (f->cleanup_rc < 0)
		return vim_err_set(err, f->cleanup_rc, "fake cleanup failed");
	return 0;
}

static int f_ds(void *self, const struct model_image *img, char reason[CTL_REASON_MAX],
                char message[CTL_MESSAGE_MAX], struct vim_err *err)
{
	struct fakes *f = self;

	(void)img;
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
	f->ds_answer = 1;
	ctx->checker = (struct ctl_checker){f_check, NULL, f};
	ctx->recorder = (struct ctl_recorder){f_record, f};
	ctx->clock = (struct ctl_clock){f_now, f};
	ctx->importer = (struct ctl_importer){f_sync, f_cleanup, f, f_release};
	ctx->datasource = (struct ctl_datasource){f_ds, f};
	ctx->cleaner = (struct ctl_dvcr_cleaner){f_remove, f};
	ctx->writer = (struct ctl_writer){f_write_status, f_write_meta, f};
	ctx->echo = false;
}

void fakes_free(struct fakes *f)
{
	json_decref(f->written_status);
	f->written_status = NULL;
}
