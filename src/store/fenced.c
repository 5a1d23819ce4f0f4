/*
 * store/fenced — a view of a store whose writes are fenced
 * (store_fenced_open): what a replica's controllers write through, so a
 * replica that lost its leadership cannot overwrite what the new leader
 * wrote.  The view only adds the fence to each write's options; the
 * object layer carries it into every kv write the write makes (the
 * delete of a finalizer-free object, the Events store_event_record
 * writes through the view), and the backend compares it in the write's
 * own transaction.  Reads, watches and health are the base store's.
 *
 * A closed fence is refused here already, before the base store reads
 * anything: a replica that knows it does not lead does no work for a
 * write that would be refused.
 */
#include "store/internal.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

struct fenced {
	struct store base; /* first: a struct store * is a struct fenced * */
	struct store *inner;
	struct store_fence *fence;
};

static struct fenced *fenced_of(struct store *s)
{
	return (struct fenced *)s;
}

int store_fence_check(const struct store_fence *f, const char *what, int64_t *rev,
                      struct vim_err *err)
{
	int64_t r = atomic_load(&f->rev), until = atomic_load(&f->until_ms);

	*rev = 0;
	if (r <= 0)
		return vim_err_set(
		    err, VIM_EFENCED,
		    "store: %s: not written: the fence %s/%s is closed: this replica "
		    "no longer leads",
		    what, f->resource, f->name);
	if (until > 0 && vim_mono_ms() >= until)
		return vim_err_set(
		    err, VIM_EFENCED,
		    "store: %s: not written: the fence %s/%s is past its deadline (the "
		    "lease may have expired unseen): this replica no longer leads",
		    what, f->resource, f->name);
	*rev = r;
	return 0;
}

int store_fence_refused(const char *who, const char *key, int64_t want, int64_t seen,
                        struct vim_err *err)
{
	if (want <= 0)
		return vim_err_set(err, VIM_EFENCED,
		                   "%s: the fence %s has no revision (closed): this replica no "
		                   "longer leads",
		                   who, key);
	if (seen == 0)
		return vim_err_set(err, VIM_EFENCED,
		                   "%s: the fence %s is gone (wanted at revision %lld): this "
		                   "replica no longer leads",
		                   who, key, (long long)want);
	return vim_err_set(err, VIM_EFENCED,
	                   "%s: the fence %s is at revision %lld, not %lld: this replica no "
	                   "longer leads",
	                   who, key, (long long)seen, (long long)want);
}

/* The caller's options with the fence (NULL: the defaults with it), or
 * VIM_EFENCED at once when the fence is closed; a dry run is not fenced. */
static int fenced_opts(const struct fenced *v, const struct store_write_opts *wo,
                       struct store_write_opts *out, const char *resource, const char *name,
                       struct vim_err *err)
{
	char what[400];
	int64_t rev;

	*out = wo ? *wo : (struct store_write_opts){0};
	if (out->dry_run) {
		out->fence = NULL;
		return 0;
	}
	out->fence = v->fence;
	snprintf(what, sizeof(what), "%s %s", resource, name ? name : "");
	return store_fence_check(v->fence, what, &rev, err);
}

/* ---- writes: the fence added ------------------------------------------------------ */

/* create, update and update_status share one shape: fn is the inner
 * store's member of that name. */
typedef int (*fenced_write_fn)(struct store *s, const char *resource, const json_t *obj,
                               const struct store_write_opts *wo, json_t **out,
                               struct vim_err *err);

static int fenced_write(struct store *s, fenced_write_fn fn, const char *resource,
                        const json_t *obj, const struct store_write_opts *wo, json_t **out,
                        struct vim_err *err)
{
	struct fenced *v = fenced_of(s);
	struct store_write_opts o;
	int rc;

	*out = NULL;
	if ((rc = fenced_opts(v, wo, &o, resource, store_meta_str(obj, "name"), err)) < 0)
		return rc;
	return fn(v->inner, resource, obj, &o, out, err);
}

static int fenced_create(struct store *s, const char *resource, const json_t *obj,
                         const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	return fenced_write(s, fenced_of(s)->inner->ops->create, resource, obj, wo, out, err);
}

static int fenced_update(struct store *s, const char *resource, const json_t *obj,
                         const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	return fenced_write(s, fenced_of(s)->inner->ops->update, resource, obj, wo, out, err);
}

static int fenced_update_status(struct store *s, const char *resource, const json_t *obj,
                                const struct store_write_opts *wo, json_t **out,
                                struct vim_err *err)
{
	return fenced_write(s, fenced_of(s)->inner->ops->update_status, resource, obj, wo, out,
	                    err);
}

static int fenced_remove(struct store *s, const struct store_delete_opts *d, json_t **out,
                         bool *deleted, struct vim_err *err)
{
	struct fenced *v = fenced_of(s);
	struct store_delete_opts o = *d;
	int rc;

	*out = NULL;
	*deleted = false;
	if ((rc = fenced_opts(v, &d->write, &o.write, d->resource, d->name, err)) < 0)
		return rc;
	return v->inner->ops->remove(v->inner, &o, out, deleted, err);
}

/* A restore rewrites the store from an export: the operator's, before
 * the API serves, never a controller's. */
static int fenced_restore(struct store *s, const char *resource, const json_t *obj, json_t **out,
                          struct vim_err *err)
{
	(void)s;
	*out = NULL;
	return vim_err_set(err, VIM_EINVAL, "store: %s \"%s\": a fenced view does not restore",
	                   resource,
	                   store_meta_str(obj, "name") ? store_meta_str(obj, "name") : "");
}

/* ---- the rest: the base store's ---------------------------------------------------- */

static int fenced_get(struct store *s, const char *resource, const char *ns, const char *name,
                      json_t **out, struct vim_err *err)
{
	struct store *in = fenced_of(s)->inner;

	return in->ops->get(in, resource, ns, name, out, err);
}

static int fenced_list(struct store *s, const char *resource, const struct store_list_opts *o,
                       store_list_fn fn, void *arg, struct store_list_meta *meta,
                       struct vim_err *err)
{
	struct store *in = fenced_of(s)->inner;

	return in->ops->list(in, resource, o, fn, arg, meta, err);
}

static int fenced_watch(struct store *s, const char *resource, const struct store_watch_opts *o,
                        struct store_watch **out, struct vim_err *err)
{
	struct store *in = fenced_of(s)->inner;

	return in->ops->watch(in, resource, o, out, err);
}

static int64_t fenced_current_rv(struct store *s)
{
	struct store *in = fenced_of(s)->inner;

	return in->ops->current_rv(in);
}

static int fenced_health(struct store *s, struct vim_err *err)
{
	struct store *in = fenced_of(s)->inner;

	return in->ops->health(in, err);
}

static void fenced_watch_stats(struct store *s, size_t *watchers, size_t *history)
{
	struct store *in = fenced_of(s)->inner;

	in->ops->watch_stats(in, watchers, history);
}

/* The view only: the base store is the caller's. */
static void fenced_close(struct store *s)
{
	free(fenced_of(s));
}

static const struct store_ops fenced_ops = {
    .name = "fenced",
    .get = fenced_get,
    .list = fenced_list,
    .create = fenced_create,
    .update = fenced_update,
    .update_status = fenced_update_status,
    .remove = fenced_remove,
    .watch = fenced_watch,
    .current_rv = fenced_current_rv,
    .restore = fenced_restore,
    .health = fenced_health,
    .watch_stats = fenced_watch_stats,
    .close = fenced_close,
};

int store_fenced_open(struct store **out, struct store *base, struct store_fence *f,
                      struct vim_err *err)
{
	struct fenced *v;

	*out = NULL;
	if (!base || !f || !f->resource || !f->name || !*f->resource || !*f->name)
		return vim_err_set(err, VIM_EINVAL,
		                   "store: a fenced view needs a store and a fence with its key");
	if (!(v = calloc(1, sizeof(*v))))
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	v->base.ops = &fenced_ops;
	v->inner = base;
	v->fence = f;
	*out = &v->base;
	return 0;
}
