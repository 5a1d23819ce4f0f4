/*
 * controller/lifecycle — drives an image through Pending → Provisioning →
 * Ready (the import's part is the state machine in import.c).  The rule
 * that matters most: an ImageLost image returns at once — a lost image is
 * never re-imported; only ImagePresence brings it back.
 */
#include "controller/chain.h"

#define DATASOURCE_POLL_MS 5000

#include <stdio.h>
#include <string.h>

/* "Requeue: true" upstream: as soon as possible. */
#define CTL_REQUEUE_NOW_MS 1

static int oom(struct vim_err *err, const struct model_image *img)
{
	return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
}

static bool cond_true(const struct model_status *st, const char *type)
{
	const struct model_condition *c = model_condition_get(st, type);
	return c && c->status && strcmp(c->status, "True") == 0;
}

/* Spec changed before the image became Ready: start over.  Only a spec
 * already observed counts (observedGeneration 0 is a new object; upstream
 * fires the event on every first reconcile — a quirk not kept). */
static int restart(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                   struct vim_err *err)
{
	char reason[64];
	struct model_condition *keep = NULL;
	size_t nkeep = 0;
	int64_t keep_gen = img->status.observed_generation;

	snprintf(reason, sizeof(reason), "%sSpecHasBeenChanged", model_kind_info(img->kind)->name);
	if (ctx->recorder.record)
		ctx->recorder.record(ctx->recorder.self, img, "Normal", reason,
		                     "The spec changed before the image was ready: the import "
		                     "starts over.");
	ctl_import_cancel(ctx, img);
	/* VI wipes the whole status; CVI keeps conditions and
	 * observedGeneration, as upstream does. */
	if (img->kind == MODEL_KIND_CVI) {
		keep = img->status.conditions;
		nkeep = img->status.n_conditions;
		img->status.conditions = NULL;
		img->status.n_conditions = 0;
	}
	{
		struct model_image *fresh = model_image_new(img->kind);
		if (!fresh)
			return oom(err, img);
		/* Swap the status out and free the old one with the shell. */
		struct model_status old = img->status;
		img->status = fresh->status;
		fresh->status = old;
		model_image_free(fresh);
	}
	img->status.phase = MODEL_PHASE_PENDING;
	if (img->kind == MODEL_KIND_CVI) {
		img->status.conditions = keep;
		img->status.n_conditions = nkeep;
		img->status.observed_generation = keep_gen;
	}
	step->requeue_after_ms = CTL_REQUEUE_NOW_MS;
	return CTL_CONTINUE;
}

static int normalize_progress(struct model_image *img)
{
	switch (img->status.phase) {
	case MODEL_PHASE_NONE:
	case MODEL_PHASE_PENDING:
		return model_set_str(&img->status.progress, NULL);
	case MODEL_PHASE_PROVISIONING:
	case MODEL_PHASE_WAIT_FOR_USER_UPLOAD:
		if (!img->status.progress || !img->status.progress[0])
			return model_set_str(&img->status.progress, "0%");
		return 0;
	default:
		return 0;
	}
}

int ctl_handle_lifecycle(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                         struct vim_err *err)
{
	int64_t now;
	int rc;

	if (img->meta.deletion_timestamp != 0) {
		img->status.phase = MODEL_PHASE_TERMINATING;
		return CTL_CONTINUE; /* Deletion still has to run */
	}
	if (img->status.phase == MODEL_PHASE_IMAGE_LOST ||
	    img->status.phase == MODEL_PHASE_PVC_LOST)
		return CTL_CONTINUE;

	now = ctx->clock.now(ctx->clock.self);
	if (!model_condition_get(&img->status, MODEL_COND_READY) &&
	    model_condition_set(&img->status, MODEL_COND_READY, "Unknown", MODEL_REASON_UNKNOWN, "",
	                        img->meta.generation, now) < 0)
		return oom(err, img);
	if (img->status.phase == MODEL_PHASE_NONE)
		img->status.phase = MODEL_PHASE_PENDING;
	if (img->status.phase == MODEL_PHASE_READY) {
		/* imported; nothing to drive, and nothing to keep */
		ctl_import_release(ctx, img);
		return CTL_CONTINUE;
	}

	if (!cond_true(&img->status, MODEL_COND_READY) && img->status.observed_generation != 0 &&
	    img->meta.generation != img->status.observed_generation)
		return restart(ctx, img, step, err);

	if (!cond_true(&img->status, MODEL_COND_DATASOURCE_READY)) {
		if (img->status.phase != MODEL_PHASE_FAILED &&
		    model_condition_set(&img->status, MODEL_COND_READY, "False",
		                        "DatasourceNotReady", "Datasource is not ready.",
		                        img->meta.generation, now) < 0)
			return oom(err, img);
		/* a source image or a pull secret may appear at any time and
		 * neither sends us an event: look again soon */
		if (step->requeue_after_ms == 0 || step->requeue_after_ms > DATASOURCE_POLL_MS)
			step->requeue_after_ms = DATASOURCE_POLL_MS;
		return normalize_progress(img) < 0 ? oom(err, img) : CTL_CONTINUE;
	}
	rc = ctl_import_sync(ctx, img, step, err);
	if (normalize_progress(img) < 0)
		return oom(err, img);
	return rc < 0 ? rc : CTL_CONTINUE;
}
