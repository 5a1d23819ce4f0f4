/*
 * controller/import — the import state machine LifeCycle drives.  The job
 * engine (ctx->jobs) runs the transfer; this file decides what its
 * snapshot makes of the image: phase, the Ready condition, progress,
 * downloadSpeed, size, upload URLs, target.registryURL, events and
 * requeues — with the chain's clock and recorder only.
 *
 *   no job    -> start one: Provisioning (or WaitForUserUpload)
 *   QUEUED    -> Provisioning, "waiting for a free import slot"
 *   RUNNING   -> Provisioning with progress and speed
 *   WAIT_UPLOAD -> WaitForUserUpload, until the upload timeout
 *   DONE      -> Ready
 *   FAILED    -> Failed: terminal stays; transient is retried after
 *                30 s, doubling to 10 min
 *
 * A job goes only once the stored status shows its outcome (Ready, or
 * failed for good): LifeCycle then calls ctl_import_release.
 */
#include "controller/chain.h"
#include "core/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLL_MS 1000         /* progress is published this often */
#define QUEUED_POLL_MS 5000  /* a queued import is looked at this often */
#define UPLOAD_POLL_MS 5000  /* an upload URL waiting */
#define RETRY_AFTER_S 30     /* a transient failure is retried after, doubling */
#define RETRY_MAX_S 600      /* ... up to this */
#define UPLOAD_TIMEOUT_S 600 /* upstream's 10 minutes */
#define REPO_MAX 256         /* DVCR_REPO_MAX */

/* ---- status helpers ---------------------------------------------------------------- */

static int64_t mono_ms(struct ctl_ctx *ctx)
{
	if (ctx->clock.mono_ms)
		return ctx->clock.mono_ms(ctx->clock.self);
	return ctx->clock.now(ctx->clock.self) * 1000;
}

static void ready_cond(struct model_image *img, const char *status, const char *reason,
                       const char *msg, int64_t now)
{
	model_condition_set(&img->status, MODEL_COND_READY, status, reason, msg,
	                    img->meta.generation, now);
}

static void record(struct ctl_ctx *ctx, const struct model_image *img, const char *type,
                   const char *reason, const char *msg)
{
	if (ctx->recorder.record)
		ctx->recorder.record(ctx->recorder.self, img, type, reason, msg);
}

/* Negative when one of the strings could not be stored (out of memory). */
static int set_size(struct model_image *img, const struct imp_result *r)
{
	char h[32], b[32];
	int rc = 0;

	model_format_ibytes(r->stored_size, h, sizeof(h));
	snprintf(b, sizeof(b), "%llu", (unsigned long long)r->stored_size);
	rc |= model_set_str(&img->status.size_stored, h);
	rc |= model_set_str(&img->status.size_stored_bytes, b);
	model_format_ibytes(r->virtual_size, h, sizeof(h));
	snprintf(b, sizeof(b), "%llu", (unsigned long long)r->virtual_size);
	rc |= model_set_str(&img->status.size_unpacked, h);
	rc |= model_set_str(&img->status.size_unpacked_bytes, b);
	rc |= model_set_str(&img->status.format, r->format);
	img->status.cdrom = r->cdrom;
	return rc < 0 ? VIM_ENOMEM : 0;
}

static void set_speed(struct model_image *img, uint64_t bytes, int64_t ms, bool current)
{
	char h[40], s[48], b[32];
	uint64_t per_s = ms > 0 ? bytes * 1000 / (uint64_t)ms : 0;

	model_format_ibytes(per_s, h, sizeof(h));
	snprintf(s, sizeof(s), "%s/s", h);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)per_s);
	model_set_str(current ? &img->status.speed_current : &img->status.speed_avg, s);
	model_set_str(current ? &img->status.speed_current_bytes : &img->status.speed_avg_bytes, b);
}

/* Monotonic, and below 100% until Ready (upstream's CapProgressBelow). */
static void set_progress(struct model_image *img, uint64_t done, uint64_t total)
{
	double pct = total ? (double)done * 100.0 / (double)total : 0, prev = 0;
	char out[16];

	if (img->status.progress)
		prev = strtod(img->status.progress, NULL);
	if (pct < prev)
		pct = prev;
	if (pct > 99.9)
		pct = 99.9;
	model_format_percent(pct, out, sizeof(out));
	model_set_str(&img->status.progress, out);
}

static void clear_upload(struct model_image *img)
{
	model_set_str(&img->status.upload_url_external, NULL);
	model_set_str(&img->status.upload_url_in_cluster, NULL);
	model_set_str(&img->status.upload_command, NULL);
}

static void show_upload(struct model_image *img, const char *url, int64_t now)
{
	char cmd[IMP_UPLOAD_URL_MAX + 64];

	snprintf(cmd, sizeof(cmd), "curl %s --progress-bar -T <image.name> | cat", url);
	img->status.phase = MODEL_PHASE_WAIT_FOR_USER_UPLOAD;
	ready_cond(img, "False", "WaitForUserUpload", "Waiting for the user upload.", now);
	model_set_str(&img->status.upload_url_external, url);
	model_set_str(&img->status.upload_url_in_cluster, url);
	model_set_str(&img->status.upload_command, cmd);
}

/* ---- the source of an ObjectRef ------------------------------------------------------ */

/* 1 ready (fills *src, caller frees), 0 not (reason/message), <0 error. */
static int load_source(struct ctl_ctx *ctx, const struct model_image *img, struct model_image **src,
                       char *reason, char *message, struct vim_err *err)
{
	const struct model_ds_object_ref *o = img->spec.data_source.object_ref;
	bool cluster = o && o->kind && strcmp(o->kind, "ClusterVirtualImage") == 0;
	const char *what = cluster ? "ClusterVirtualImage" : "VirtualImage";
	const char *ns = cluster                      ? NULL
	                 : img->kind == MODEL_KIND_VI ? img->meta.namespace
	                 : o                          ? o->namespace
	                                              : NULL;
	const char *name = o && o->name ? o->name : "";
	int rc;

	*src = NULL;
	snprintf(reason, CTL_REASON_MAX, "%s", cluster ? "ClusterImageNotReady" : "ImageNotReady");
	if (!ctx->images.get)
		return vim_err_set(err, VIM_EUNSUPPORTED, "no lookup of source images");
	rc = ctx->images.get(ctx->images.self, cluster ? MODEL_KIND_CVI : MODEL_KIND_VI, ns, name,
	                     src, err);
	if (rc == VIM_ENOTFOUND) {
		snprintf(message, CTL_MESSAGE_MAX, "%s %s not found.", what, name);
		return 0;
	}
	if (rc < 0)
		return rc;
	if ((*src)->status.phase != MODEL_PHASE_READY || !(*src)->status.target_registry_url) {
		snprintf(message, CTL_MESSAGE_MAX, "%s %s not ready.", what, name);
		model_image_free(*src);
		*src = NULL;
		return 0;
	}
	return 1;
}

static void source_result(const struct model_image *src, struct imp_result *r)
{
	const struct model_status *st = &src->status;

	r->stored_size = strtoull(st->size_stored_bytes ? st->size_stored_bytes : "0", NULL, 10);
	r->virtual_size =
	    strtoull(st->size_unpacked_bytes ? st->size_unpacked_bytes : "0", NULL, 10);
	snprintf(r->format, sizeof(r->format), "%s", st->format ? st->format : "");
	r->cdrom = st->cdrom;
	snprintf(r->source_uid, sizeof(r->source_uid), "%s", src->meta.uid ? src->meta.uid : "");
}

/* The job's input: the image's key and source; key is the caller's. */
static void job_input(const struct model_image *img, struct imp_job_input *in,
                      char key[IMP_KEY_MAX])
{
	memset(in, 0, sizeof(*in));
	if (img->kind == MODEL_KIND_VI)
		snprintf(key, IMP_KEY_MAX, "%s/%s", img->meta.namespace, img->meta.name);
	else
		snprintf(key, IMP_KEY_MAX, "%s", img->meta.name);
	in->uid = img->meta.uid;
	in->kind = img->kind;
	in->key = key;
	in->ns = img->kind == MODEL_KIND_VI ? img->meta.namespace : NULL;
	in->ds = &img->spec.data_source;
	in->tag = img->meta.uid;
	in->upload_url = img->status.upload_url_external;
}

static bool is_object_ref(const struct model_image *img)
{
	const char *t = img->spec.data_source.type;
	return t && strcmp(t, MODEL_DS_OBJECT_REF) == 0;
}

int ctl_import_source_check(struct ctl_ctx *ctx, const struct model_image *img,
                            char reason[CTL_REASON_MAX], char message[CTL_MESSAGE_MAX],
                            struct vim_err *err)
{
	struct model_image *src = NULL;
	struct imp_job_input in;
	char key[IMP_KEY_MAX];
	int rc;

	if (img->status.phase == MODEL_PHASE_READY || img->status.phase == MODEL_PHASE_IMAGE_LOST)
		return 1; /* imported already: the source no longer matters */
	if (is_object_ref(img)) {
		rc = load_source(ctx, img, &src, reason, message, err);
		model_image_free(src);
		return rc;
	}
	if (!ctx->jobs.check)
		return 1;
	job_input(img, &in, key);
	return ctx->jobs.check(ctx->jobs.self, &in, reason, message, err);
}

/* ---- the machine ---------------------------------------------------------------------- */

/* Backoff after n failed attempts: 30 s, doubling, at most 10 min. */
static int64_t retry_delay_ms(int n)
{
	int64_t ms = (int64_t)RETRY_AFTER_S * 1000;

	while (--n > 0 && ms < RETRY_MAX_S * 1000)
		ms *= 2;
	return ms < RETRY_MAX_S * 1000 ? ms : RETRY_MAX_S * 1000;
}

static bool failed_terminally(const struct model_image *img)
{
	const struct model_condition *r = model_condition_get(&img->status, MODEL_COND_READY);
	return img->status.phase == MODEL_PHASE_FAILED && r && r->reason &&
	       (strcmp(r->reason, "ProvisioningFailedTerminally") == 0 ||
	        strcmp(r->reason, "WaitForUserUploadTimeout") == 0);
}

/* The Failed status of an import (no event: see fail_image). */
static void show_failed(struct model_image *img, bool terminal, const char *msg, int64_t now,
                        char *full, size_t len)
{
	char safe[VIM_ERR_MSG_MAX];

	snprintf(full, len, "Provisioning failed: %s", vim_redact(safe, sizeof(safe), msg));
	img->status.phase = MODEL_PHASE_FAILED;
	ready_cond(img, "False", terminal ? "ProvisioningFailedTerminally" : "ProvisioningFailed",
	           full, now);
	clear_upload(img);
	model_set_str(&img->status.speed_current, NULL);
	model_set_str(&img->status.speed_current_bytes, NULL);
}

static void fail_image(struct ctl_ctx *ctx, struct model_image *img, bool terminal, const char *msg,
                       struct ctl_step *step, int64_t now)
{
	char full[VIM_ERR_MSG_MAX + 32];

	show_failed(img, terminal, msg, now, full, sizeof(full));
	record(ctx, img, "Warning", "DataSourceImportFailed", full);
	if (!terminal)
		step->requeue_after_ms = RETRY_AFTER_S * 1000;
}

/* status.target.registryURL: where the image's data goes in DVCR. */
static int set_target(struct ctl_ctx *ctx, struct model_image *img, struct vim_err *err)
{
	char url[600];

	if (model_dvcr_reference(url, sizeof(url), ctx->jobs.dvcr_host, img, err) < 0)
		return VIM_EINVAL;
	if (model_set_str(&img->status.target_registry_url, url) < 0)
		return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	return 0;
}

/* Starts the job (failures: attempts that failed before, for the retry
 * backoff): the job engine gets the inputs, the source image's address
 * for an ObjectRef. */
static int start_job(struct ctl_ctx *ctx, struct model_image *img, int failures,
                     struct imp_snapshot *first, bool *terminal, struct vim_err *err)
{
	struct model_image *src = NULL;
	struct imp_job_input in;
	struct vim_err lerr = {0};
	char key[IMP_KEY_MAX], repo[REPO_MAX];
	char reason[CTL_REASON_MAX], msg[CTL_MESSAGE_MAX];
	int rc;

	*terminal = false;
	job_input(img, &in, key);
	if ((rc = model_dvcr_repository(repo, sizeof(repo), ctx->jobs.dvcr_host, img, err)) < 0)
		goto out;
	in.repo = repo;
	if (is_object_ref(img)) {
		/* a source gone between DatasourceReady and here fails the
		 * attempt in the engine, so its retry backs off like any other */
		rc = load_source(ctx, img, &src, reason, msg, &lerr);
		if (rc == 1) {
			in.src_registry_url = src->status.target_registry_url;
			source_result(src, &in.src_result);
		} else {
			in.src_error = rc == 0 ? msg : lerr.msg;
		}
	}
	rc = ctx->jobs.start(ctx->jobs.self, &in, failures, first, terminal, err);
out:
	model_image_free(src);
	return rc;
}

/* Starts an import for img and publishes what the user sees first. */
static int begin_import(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                        int64_t now, int failures, struct vim_err *err)
{
	struct imp_snapshot snap;
	struct vim_err serr = {0};
	char reason[64];
	bool terminal;
	int rc;

	/* a source that cannot start fails the image, not the reconcile */
	if (start_job(ctx, img, failures, &snap, &terminal, &serr) < 0) {
		fail_image(ctx, img, terminal, serr.msg, step, now);
		if (!terminal) /* the engine kept the failed attempt: its retry waits */
			ctx->jobs.note(ctx->jobs.self, img->meta.uid, failures + 1,
			               mono_ms(ctx) + retry_delay_ms(failures + 1));
		return 0;
	}
	if ((rc = set_target(ctx, img, err)) < 0)
		return rc;
	model_set_str(&img->status.progress, "0%");
	snprintf(reason, sizeof(reason), "The %s DataSource import has started",
	         img->spec.data_source.type);
	record(ctx, img, "Normal", "DataSourceImportStarted", reason);
	if (snap.state == IMP_JOB_WAIT_UPLOAD) {
		show_upload(img, snap.upload_url, now);
		step->requeue_after_ms = UPLOAD_POLL_MS;
		return 0;
	}
	img->status.phase = MODEL_PHASE_PROVISIONING;
	ready_cond(img, "False", "Provisioning", "Preparing to import the image.", now);
	step->requeue_after_ms = POLL_MS;
	return 0;
}

static int import_failed(struct ctl_ctx *ctx, struct model_image *img, const struct imp_snapshot *s,
                         struct ctl_step *step, int64_t now, struct vim_err *err)
{
	int64_t left, at;

	if (s->terminal) { /* the job goes once the stored status says Failed */
		fail_image(ctx, img, true, s->msg, step, now);
		return 0;
	}
	if (!s->reported) {
		at = mono_ms(ctx) + retry_delay_ms(s->failures + 1);
		ctx->jobs.note(ctx->jobs.self, img->meta.uid, s->failures + 1, at);
		fail_image(ctx, img, false, s->msg, step, now);
		step->requeue_after_ms = at - mono_ms(ctx);
		return 0;
	}
	left = s->retry_at_ms - mono_ms(ctx);
	if (left > 0) {
		/* the write that showed the failure may have lost a conflict */
		if (img->status.phase != MODEL_PHASE_FAILED) {
			char full[VIM_ERR_MSG_MAX + 32];
			show_failed(img, false, s->msg, now, full, sizeof(full));
		}
		step->requeue_after_ms = left;
		return 0;
	}
	ctx->jobs.cancel(ctx->jobs.self, img->meta.uid);
	return begin_import(ctx, img, step, now, s->failures, err);
}

static void upload_timed_out(struct ctl_ctx *ctx, struct model_image *img, int64_t limit,
                             int64_t now)
{
	char tmsg[256];
	bool min = limit % 60 == 0;

	snprintf(tmsg, sizeof(tmsg),
	         "The image was not uploaded within %lld %s. Recreate the %s to "
	         "upload the image again.",
	         (long long)(min ? limit / 60 : limit), min ? "minutes" : "seconds",
	         model_kind_info(img->kind)->name);
	/* The URL closes now; the job goes once the stored status says Failed
	 * (if this write loses a conflict, the next reconcile times out
	 * again). */
	if (ctx->jobs.close_upload)
		ctx->jobs.close_upload(ctx->jobs.self, img->meta.uid);
	img->status.phase = MODEL_PHASE_FAILED;
	ready_cond(img, "False", "WaitForUserUploadTimeout", tmsg, now);
	clear_upload(img);
	record(ctx, img, "Warning", "DataSourceImportFailed", tmsg);
}

/* Ready only with every fact of the import in the status: an image shown
 * Ready without its size or source would stay so (the job goes once the
 * stored status is Ready), so out of memory fails this reconcile instead
 * and the job waits for the next. */
static int import_done(struct ctl_ctx *ctx, struct model_image *img, const struct imp_snapshot *s,
                       int64_t now, struct vim_err *err)
{
	char reason[64];

	if (set_size(img, &s->result) < 0 || model_set_str(&img->status.progress, "100%") < 0 ||
	    (s->result.source_uid[0] &&
	     model_set_str(&img->status.source_uid, s->result.source_uid) < 0) ||
	    model_condition_set(&img->status, MODEL_COND_READY, "True", MODEL_REASON_READY, "",
	                        img->meta.generation, now) < 0)
		return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	img->status.phase = MODEL_PHASE_READY;
	set_speed(img, s->result.stored_size, s->elapsed_ms, false);
	model_set_str(&img->status.speed_current, NULL);
	model_set_str(&img->status.speed_current_bytes, NULL);
	clear_upload(img);
	snprintf(reason, sizeof(reason), "The %s DataSource import has completed",
	         img->spec.data_source.type);
	record(ctx, img, "Normal", "DataSourceImportCompleted", reason);
	return 0;
}

int ctl_import_sync(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                    struct vim_err *err)
{
	const struct model_condition *r;
	int64_t now = ctx->clock.now(ctx->clock.self), limit;
	struct imp_snapshot s;
	int rc;

	if (!img->meta.uid || !ctx->jobs.poll || !ctx->jobs.start || !ctx->jobs.note ||
	    !ctx->jobs.cancel)
		return 0; /* no job engine: nothing to import with */
	if (img->status.phase == MODEL_PHASE_READY || failed_terminally(img)) {
		ctl_import_release(ctx, img);
		return 0;
	}
	if (ctx->jobs.poll(ctx->jobs.self, img->meta.uid, &s) == 0) {
		/* a transient failure is retried, after a pause */
		r = model_condition_get(&img->status, MODEL_COND_READY);
		if (img->status.phase == MODEL_PHASE_FAILED && r &&
		    now - r->last_transition_time < RETRY_AFTER_S) {
			step->requeue_after_ms =
			    (RETRY_AFTER_S - (now - r->last_transition_time)) * 1000;
			return 0;
		}
		return begin_import(ctx, img, step, now, 0, err);
	}

	/* The reconcile that started the job set the target, but its write may
	 * have lost a conflict while the job went on: an image must never be
	 * Ready without the address of its data (found by bench/mass-outage). */
	if ((rc = set_target(ctx, img, err)) < 0)
		return rc;
	switch (s.state) {
	case IMP_JOB_WAIT_UPLOAD:
		limit =
		    ctx->jobs.upload_timeout_s > 0 ? ctx->jobs.upload_timeout_s : UPLOAD_TIMEOUT_S;
		r = model_condition_get(&img->status, MODEL_COND_READY);
		if (r && now - r->last_transition_time >= limit) {
			upload_timed_out(ctx, img, limit, now);
			return 0;
		}
		/* also after an upload the client abandoned: the URL is open again */
		img->status.phase = MODEL_PHASE_WAIT_FOR_USER_UPLOAD;
		ready_cond(img, "False", "WaitForUserUpload", "Waiting for the user upload.", now);
		step->requeue_after_ms = UPLOAD_POLL_MS;
		return 0;
	case IMP_JOB_QUEUED:
		img->status.phase = MODEL_PHASE_PROVISIONING;
		ready_cond(img, "False", "Provisioning",
		           "Waiting for a free import slot (other imports are running).", now);
		/* nothing moves until a slot frees: polling each queued image every
		 * second churned 10,000 reconciles a second in bench/mass-outage */
		step->requeue_after_ms = QUEUED_POLL_MS;
		return 0;
	case IMP_JOB_RUNNING:
		img->status.phase = MODEL_PHASE_PROVISIONING;
		ready_cond(img, "False", "Provisioning", "The image is being imported.", now);
		set_progress(img, s.done, s.total);
		set_speed(img, s.done, s.elapsed_ms, false);
		set_speed(img, s.done, s.elapsed_ms, true);
		step->requeue_after_ms = POLL_MS;
		return 0;
	case IMP_JOB_DONE:
		return import_done(ctx, img, &s, now, err);
	case IMP_JOB_FAILED:
		return import_failed(ctx, img, &s, step, now, err);
	}
	return 0;
}

void ctl_import_cancel(struct ctl_ctx *ctx, const struct model_image *img)
{
	if (img->meta.uid && ctx->jobs.cancel)
		ctx->jobs.cancel(ctx->jobs.self, img->meta.uid);
}

void ctl_import_release(struct ctl_ctx *ctx, const struct model_image *img)
{
	if (img->meta.uid && ctx->jobs.release)
		ctx->jobs.release(ctx->jobs.self, img->meta.uid);
}
