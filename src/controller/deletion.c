/*
 * controller/deletion — the cleanup finalizer: present while the image
 * lives; on delete the image's DVCR data (its manifest) is removed first,
 * then the finalizer goes and the store lets the object go.
 */
#include "controller/chain.h"

#include <stdlib.h>
#include <string.h>

/* Retry of a cleanup that could not reach DVCR (upstream: 1 s while
 * something is still being deleted). */
#define CTL_CLEANUP_RETRY_MS 1000

static ssize_t find(const struct model_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return (ssize_t)i;
	return -1;
}

static int add(struct model_strlist *l, const char *s)
{
	char **grown = realloc(l->items, (l->len + 1) * sizeof(*grown));

	if (!grown)
		return VIM_ENOMEM;
	l->items = grown;
	if (!(l->items[l->len] = model_strdup(s)))
		return VIM_ENOMEM;
	l->len++;
	return 0;
}

static void drop(struct model_strlist *l, size_t i)
{
	free(l->items[i]);
	memmove(&l->items[i], &l->items[i + 1], (l->len - i - 1) * sizeof(*l->items));
	l->len--;
}

int ctl_handle_deletion(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                        struct vim_err *err)
{
	const char *fin = model_kind_info(img->kind)->cleanup_finalizer;
	struct vim_err derr = {0};
	ssize_t at = find(&img->meta.finalizers, fin);
	int64_t now;
	int rc;

	if (img->meta.deletion_timestamp == 0) {
		model_condition_remove(&img->status, MODEL_COND_TERMINATING);
		if (at < 0 && add(&img->meta.finalizers, fin) < 0)
			return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
		return CTL_CONTINUE;
	}
	if (at < 0)
		return CTL_CONTINUE; /* not ours to clean (or already cleaned) */
	ctl_import_cancel(ctx, img);
	if (ctx->cleaner.remove && (rc = ctx->cleaner.remove(ctx->cleaner.self, img, &derr)) < 0)
		goto pending;
	model_condition_remove(&img->status, MODEL_COND_TERMINATING);
	drop(&img->meta.finalizers, (size_t)at);
	return CTL_CONTINUE;
pending:
	now = ctx->clock.now(ctx->clock.self);
	model_condition_set(&img->status, MODEL_COND_TERMINATING, "True", "CleanupPending",
	                    derr.msg, img->meta.generation, now);
	step->requeue_after_ms = CTL_CLEANUP_RETRY_MS;
	return vim_err_set(err, rc, "removing the image data from DVCR: %s", derr.msg);
}
