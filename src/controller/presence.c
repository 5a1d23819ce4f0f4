/*
 * controller/presence — ImagePresence: a Ready image whose data left DVCR
 * becomes ImageLost; a lost image whose data is back becomes Ready again,
 * with no re-import.  Exactly lifecycle.md's rules; only the phase and the
 * Ready condition are ever touched.
 */
#include "controller/chain.h"

#include <string.h>

static bool applies(const struct model_image *img)
{
	enum model_phase p = img->status.phase;

	if (p != MODEL_PHASE_READY && p != MODEL_PHASE_IMAGE_LOST)
		return false;
	/* A CVI is always in DVCR; a VI only with ContainerRegistry storage
	 * (absent = the default, ContainerRegistry). */
	if (img->kind == MODEL_KIND_VI && img->spec.storage &&
	    strcmp(img->spec.storage, MODEL_STORAGE_CONTAINER_REGISTRY) != 0)
		return false;
	return img->status.target_registry_url && img->status.target_registry_url[0];
}

int ctl_handle_image_presence(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                              struct vim_err *err)
{
	const struct model_kind_info *ki = model_kind_info(img->kind);
	struct vim_err cerr = {0};
	int64_t now;
	int rc;

	if (!applies(img) || !ctx->checker.check)
		return CTL_CONTINUE;
	if (ctx->echo) {
		/* proven a moment ago; a lost image keeps its recheck plan */
		if (img->status.phase == MODEL_PHASE_IMAGE_LOST)
			step->requeue_after_ms =
			    ctl_lost_recheck_ms(&img->status, ctx->clock.now(ctx->clock.self));
		return CTL_CONTINUE;
	}
	if (img->status.phase == MODEL_PHASE_IMAGE_LOST && ctx->checker.check_lost) {
		const struct model_condition *ready =
		    model_condition_get(&img->status, MODEL_COND_READY);
		rc = ctx->checker.check_lost(ctx->checker.self, img->status.target_registry_url,
		                             ready ? ready->last_transition_time : 0, &cerr);
	} else
		rc = ctx->checker.check(ctx->checker.self, img->status.target_registry_url, &cerr);
	if (rc < 0)
		return vim_err_set(err, rc, "failed to check image existence in DVCR: %s",
		                   cerr.msg);
	now = ctx->clock.now(ctx->clock.self);
	if (rc == CTL_IMAGE_ABSENT) {
		if (img->status.phase == MODEL_PHASE_READY) {
			img->status.phase = MODEL_PHASE_IMAGE_LOST;
			if (model_condition_set(&img->status, MODEL_COND_READY, "False",
			                        MODEL_REASON_IMAGE_LOST, MODEL_MSG_IMAGE_LOST,
			                        img->meta.generation, now) < 0)
				return vim_err_set(err, VIM_ENOMEM, "%s: out of memory",
				                   img->meta.name);
			/* This project's addition: upstream records no event on loss. */
			if (ctx->recorder.record)
				ctx->recorder.record(ctx->recorder.self, img, "Warning",
				                     ki->lost_event, MODEL_MSG_IMAGE_LOST);
		}
		step->requeue_after_ms = ctl_lost_recheck_ms(&img->status, now);
		return CTL_CONTINUE;
	}
	if (img->status.phase == MODEL_PHASE_IMAGE_LOST) {
		if (ctx->recorder.record)
			ctx->recorder.record(ctx->recorder.self, img, "Normal", ki->recovered_event,
			                     MODEL_MSG_RECOVERED);
		img->status.phase = MODEL_PHASE_READY;
		if (model_condition_set(&img->status, MODEL_COND_READY, "True", MODEL_REASON_READY,
		                        "", img->meta.generation, now) < 0)
			return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	}
	return CTL_CONTINUE;
}
