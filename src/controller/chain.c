/*
 * controller/chain — runs the handler table over one image and writes what
 * changed, merging results as upstream's reconciler does.
 */
#include "controller/chain.h"

#include <string.h>

/* A stale write is not a failure: the next reconcile sees the newer
 * object (upstream requeues after 100 µs; a little longer here lets the
 * cache catch up first). */
#define CTL_CONFLICT_REQUEUE_MS 100

static void merge_requeue(int64_t *acc, int64_t ms)
{
	if (ms > 0 && (*acc == 0 || ms < *acc))
		*acc = ms;
}

static bool status_differs(const struct model_image *a, const struct model_image *b)
{
	json_t *ja = model_status_to_json(&a->status, a->kind);
	json_t *jb = model_status_to_json(&b->status, b->kind);
	bool differs = !ja || !jb || !json_equal(ja, jb);

	json_decref(ja);
	json_decref(jb);
	return differs;
}

static bool strmap_equal(const struct model_strmap *a, const struct model_strmap *b)
{
	size_t i, j;

	if (a->len != b->len)
		return false;
	for (i = 0; i < a->len; i++) {
		for (j = 0; j < b->len; j++)
			if (strcmp(a->items[i].key, b->items[j].key) == 0)
				break;
		if (j == b->len || strcmp(a->items[i].value, b->items[j].value) != 0)
			return false;
	}
	return true;
}

static bool strlist_equal(const struct model_strlist *a, const struct model_strlist *b)
{
	size_t i;

	if (a->len != b->len)
		return false;
	for (i = 0; i < a->len; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

static bool meta_differs(const struct model_image *a, const struct model_image *b)
{
	return !strlist_equal(&a->meta.finalizers, &b->meta.finalizers) ||
	       !strmap_equal(&a->meta.labels, &b->meta.labels) ||
	       !strmap_equal(&a->meta.annotations, &b->meta.annotations);
}

/* Keeps the first error; later ones are dropped, as errors.Join reports
 * the first cause first. */
static void keep_first(int *first, struct vim_err *first_err, int rc, const struct vim_err *e)
{
	if (*first == 0 && rc < 0) {
		*first = rc;
		if (first_err)
			*first_err = *e;
	}
}

/* A write that lost a race asks for a quick requeue instead of failing. */
static int write_one(int (*fn)(void *, const struct model_image *, struct vim_err *), void *self,
                     const struct model_image *work, struct ctl_outcome *out, bool *written,
                     struct vim_err *e)
{
	int rc;

	if (!fn)
		return 0;
	rc = fn(self, work, e);
	if (rc == VIM_ECONFLICT) {
		merge_requeue(&out->requeue_after_ms, CTL_CONFLICT_REQUEUE_MS);
		return 0;
	}
	if (rc == VIM_ENOTFOUND)
		return 0; /* deleted meanwhile (its last finalizer went): nothing to write */
	if (rc == 0)
		*written = true;
	return rc;
}

int ctl_chain_run(const struct ctl_handler *handlers, size_t n, struct ctl_ctx *ctx,
                  const struct model_image *orig, struct model_image *work, struct ctl_outcome *out,
                  struct vim_err *err)
{
	struct vim_err e;
	int first = 0, rc;
	size_t i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < n; i++) {
		struct ctl_step step = {0};

		vim_err_clear(&e);
		rc = handlers[i].fn(ctx, work, &step, &e);
		merge_requeue(&out->requeue_after_ms, step.requeue_after_ms);
		if (rc < 0) {
			vim_err_wrap(&e, "%s: ", handlers[i].name);
			keep_first(&first, err, rc, &e);
			continue;
		}
		if (rc == CTL_STOP) {
			out->stopped = true;
			break;
		}
	}
	work->status.observed_generation = work->meta.generation;

	/* Metadata first: dropping the last finalizer deletes the object, and
	 * adding one must not wait for a status write that might conflict. */
	if (meta_differs(orig, work)) {
		vim_err_clear(&e);
		rc = write_one(ctx->writer.write_meta, ctx->writer.self, work, out,
		               &out->meta_written, &e);
		keep_first(&first, err, rc, &e);
	}
	if (status_differs(orig, work)) {
		vim_err_clear(&e);
		rc = write_one(ctx->writer.write_status, ctx->writer.self, work, out,
		               &out->status_written, &e);
		keep_first(&first, err, rc, &e);
	}
	return first;
}
