/*
 * store/wcache — the watch cache of a store over a remote backend, as
 * kube-apiserver's cacher (storage/cacher): one full read of every
 * resource at one revision R, then one watch of the backend from R+1
 * that keeps the cache and the watch hub in step.  Lists and watches are
 * served from here; the revision rules are in wcache.h.
 *
 * Threads: the backend's watch thread calls feed() for every change, in
 * revision order; it changes the tables and publishes to the hub under
 * c->mu, so a watch registered under the same lock (wc_watch) can neither
 * miss a change nor get one twice.  A thread of our own (resync_main)
 * reads everything again when the backend's watch cannot resume (GONE):
 * that needs a new backend watch, which cannot be started nor the old one
 * stopped from inside the old one's callback.  Lists copy references to
 * the objects under c->mu and stream them without it.
 */
#include "store/wcache.h"
#include "core/cond.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "store/wcache_internal.h"

#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

/* A consistent list waits this long for the cache to reach the backend's
 * revision before the layer reads the backend instead. */
#define CONSISTENT_WAIT_MS 1000
/* A list or watch at a revision the cache has not reached waits this
 * long, then 504 (kube's cacher: 3 s, "Too large resource version"). */
#define FUTURE_WAIT_MS 3000
/* Between two attempts to read everything again while the backend is down. */
#define RESYNC_RETRY_MS 1000

#define NRES (MODEL_KIND__COUNT + 2)

struct wcache {
	struct store_reads base;
	struct store_kv *kv;   /* borrowed */
	struct store_hub *hub; /* borrowed */
	pthread_mutex_t mu;
	pthread_cond_t seen; /* c->rev moved (list / watch waiters) */
	pthread_cond_t wake; /* resync_main: gone or closing */
	/* guarded by mu */
	struct wc_table tabs[NRES];
	int64_t rev; /* every change up to it is in the tables and the hub */
	bool gone, closing, down;
	/* the backend's watch: started by open and by resync_main, stopped
	 * by resync_main and close (after joining it) */
	struct store_kv_watch *watch;
	pthread_t thread;
	bool thread_started;
	atomic_bool fallback_logged;
	struct wc_codec fz; /* the feeder's */
};

/* The resources the cache holds: the kind table's, then the core ones. */
static const char *resource_name(size_t i)
{
	if (i < MODEL_KIND__COUNT)
		return model_kind_info((enum model_kind)i)->plural;
	return i == MODEL_KIND__COUNT ? "events" : "namespaces";
}

/* The table of resource (c->mu held: resync swaps them), or NULL for one
 * the cache does not hold. */
static struct wc_table *table_of(struct wcache *c, const char *resource)
{
	size_t i;

	for (i = 0; i < NRES; i++)
		if (strcmp(resource_name(i), resource) == 0)
			return &c->tabs[i];
	return NULL;
}

/* The value as served: with metadata.resourceVersion = mod_rev (malloc'd). */
static char *value_text(const struct wcache *c, const char *v, size_t len, int64_t rev,
                        size_t *out_len)
{
	char *t;

	if (!c->kv->ops->value_has_rev)
		return store_text_with_rv(v, len, rev, out_len);
	if ((t = malloc(len + 1))) {
		memcpy(t, v, len);
		t[len] = '\0';
		*out_len = len;
	}
	return t;
}

/* A change's value parsed once (*obj, a new reference) and as served
 * (*text, malloc'd): with metadata.resourceVersion = rev.  The feeder
 * runs on one thread for every write: parsing for the text and again for
 * the hub was a tenth of the daemon's CPU under a create load.  false
 * when the value is not a JSON object. */
static bool parse_change(const struct wcache *c, const char *v, size_t len, int64_t rev,
                         json_t **obj, char **text, size_t *out_len)
{
	json_t *md;

	*text = NULL;
	*out_len = 0;
	*obj = json_loadb(v, len, 0, NULL);
	md = json_object_get(*obj, "metadata");
	if (!json_is_object(*obj) || !json_is_object(md))
		goto fail;
	if (c->kv->ops->value_has_rev) {
		if (!(*text = malloc(len + 1)))
			goto fail;
		memcpy(*text, v, len);
		(*text)[len] = '\0';
		*out_len = len;
		return true;
	}
	if (store_set_rv(*obj, rev) < 0 || !(*text = json_dumps(*obj, JSON_COMPACT)))
		goto fail;
	*out_len = strlen(*text);
	return true;
fail:
	json_decref(*obj);
	*obj = NULL;
	return false;
}

/* ---- the full read ------------------------------------------------------------- */

struct load {
	struct wcache *c;
	struct wc_table *t;
	struct wc_codec *z;
};

static int load_item(void *arg, const struct store_kv_item *it)
{
	struct load *l = arg;
	struct wc_obj *o = NULL, *old = NULL;
	size_t len = 0;
	char *text = value_text(l->c, it->value, it->len, it->mod_rev, &len);
	int rc = 0;

	if (!text) {
		/* not a JSON object: served by no list rather than as damage */
		vim_log(VIM_LOG_ERROR,
		        "wcache: %s %s/%s: the stored value is not a JSON object; "
		        "left out of the cache",
		        l->t->resource, it->ns, it->name);
		return 0;
	}
	if (!(o = wc_obj_pack(l->z, text, len)) ||
	    (rc = wc_table_put(l->t, it->ns, it->name, o, &old)) < 0)
		rc = rc < 0 ? rc : VIM_ENOMEM;
	free(text);
	wc_obj_unref(old); /* a range gives each key once: none */
	return rc == VIM_EINVAL ? 0 : rc;
}

/* Reads every resource into tabs (initialised here; cleared on failure):
 * the first range at the current revision, the others at that one. */
static int load_all(struct wcache *c, struct wc_table tabs[NRES], int64_t *rev, struct vim_err *err)
{
	struct wc_codec z;
	size_t i;
	int rc = 0;

	wc_codec_init(&z);
	memset(tabs, 0, NRES * sizeof(*tabs));
	*rev = 0;
	for (i = 0; i < NRES && rc == 0; i++)
		rc = wc_table_init(&tabs[i], resource_name(i));
	if (rc < 0) {
		vim_err_set(err, rc, "wcache: out of memory");
		goto out;
	}
	for (i = 0; i < NRES; i++) {
		struct store_kv_range r = {.resource = tabs[i].resource, .rev = *rev};
		struct store_kv_range_meta meta = {0};
		struct load l = {.c = c, .t = &tabs[i], .z = &z};

		if ((rc = c->kv->ops->range(c->kv, &r, load_item, &l, &meta, err)) < 0) {
			if (rc == VIM_ENOMEM)
				vim_err_set(err, rc, "wcache: %s: out of memory", tabs[i].resource);
			goto out;
		}
		if (i == 0)
			*rev = meta.rev;
	}
out:
	if (rc < 0)
		for (i = 0; i < NRES; i++)
			wc_table_clear(&tabs[i]);
	wc_codec_free(&z);
	/* The backend's pages (etcd's: up to ~8 MiB each) were freed among
	 * the objects the cache keeps: give their pages back, so the
	 * daemon's resident memory is the cache and not its largest read. */
	malloc_trim(0);
	return rc;
}

/* ---- the feeder (the backend's watch thread) ------------------------------------------------ */

/* Every change up to rev is in (mu held): lists and watches waiting for
 * it go on. */
static void rev_seen(struct wcache *c, int64_t rev)
{
	if (rev > c->rev) {
		c->rev = rev;
		pthread_cond_broadcast(&c->seen);
	}
}

static void feed_put(struct wcache *c, const struct store_kv_event *ev)
{
	size_t len = 0;
	char *text;
	json_t *obj, *prev = NULL;
	struct wc_obj *o = NULL, *old = NULL;
	struct wc_table *t;
	int rc = VIM_ENOMEM;

	if (parse_change(c, ev->value, ev->len, ev->rev, &obj, &text, &len))
		o = wc_obj_pack(&c->fz, text, len);
	pthread_mutex_lock(&c->mu);
	if (!(t = table_of(c, ev->key.resource)) || ev->rev < c->rev) {
		rev_seen(c, ev->rev); /* a key of no resource of ours still moves it */
		wc_obj_unref(o);
		goto out;
	}
	if (!o || (rc = wc_table_put(t, ev->key.ns, ev->key.name, o, &old)) < 0) {
		/* The cache would miss this change: read everything again
		 * rather than serve lists without it. */
		vim_log(VIM_LOG_ERROR, "wcache: %s %s/%s at %lld: %s; reading everything again",
		        ev->key.resource, ev->key.ns ? ev->key.ns : "", ev->key.name,
		        (long long)ev->rev,
		        rc == VIM_EINVAL ? "the key is too long" : "out of memory");
		c->gone = true;
		pthread_cond_signal(&c->wake);
		goto out;
	}
	if (old) {
		size_t olen = 0;
		const char *otext = wc_obj_text(&c->fz, old, &olen);
		json_t *was = otext ? json_loadb(otext, olen, 0, NULL) : NULL;
		prev = was ? store_hub_selectable(was) : NULL;
		json_decref(was);
	}
	store_hub_publish_text(c->hub, t->resource, old ? STORE_MODIFIED : STORE_ADDED, obj, text,
	                       len, prev, ev->rev);
	text = NULL; /* the hub's */
	c->rev = ev->rev;
	pthread_cond_broadcast(&c->seen);
out:
	pthread_mutex_unlock(&c->mu);
	store_hub_wake(c->hub);
	wc_obj_unref(old);
	json_decref(obj);
	free(text);
}

static void feed_delete(struct wcache *c, const struct store_kv_event *ev)
{
	struct wc_obj *old = NULL;
	struct wc_table *t;
	json_t *last = NULL;
	const char *otext;
	size_t olen = 0;

	pthread_mutex_lock(&c->mu);
	if (!(t = table_of(c, ev->key.resource)) || ev->rev < c->rev) {
		rev_seen(c, ev->rev);
		goto out;
	}
	wc_table_del(t, ev->key.ns, ev->key.name, &old);
	/* DELETED carries the last state at the deletion's revision, as
	 * kube's watch sends it. */
	if (old && (otext = wc_obj_text(&c->fz, old, &olen)) &&
	    (last = json_loadb(otext, olen, 0, NULL))) {
		store_set_rv(last, ev->rev);
		store_hub_publish(c->hub, t->resource, STORE_DELETED, last, NULL, ev->rev);
	}
	c->rev = ev->rev;
	pthread_cond_broadcast(&c->seen);
out:
	pthread_mutex_unlock(&c->mu);
	store_hub_wake(c->hub);
	wc_obj_unref(old);
}

static void feed(void *arg, const struct store_kv_event *ev)
{
	struct wcache *c = arg;

	switch (ev->type) {
	case STORE_KV_EV_PUT:
		feed_put(c, ev);
		return;
	case STORE_KV_EV_DELETE:
		feed_delete(c, ev);
		return;
	case STORE_KV_EV_PROGRESS:
		pthread_mutex_lock(&c->mu);
		rev_seen(c, ev->rev);
		pthread_mutex_unlock(&c->mu);
		return;
	case STORE_KV_EV_GONE:
		vim_log(VIM_LOG_WARN,
		        "wcache: %s's watch cannot resume (compacted); reading "
		        "everything again",
		        c->kv->ops->name);
		pthread_mutex_lock(&c->mu);
		c->gone = true;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->mu);
		return;
	case STORE_KV_EV_DOWN:
	case STORE_KV_EV_UP:
		pthread_mutex_lock(&c->mu);
		if (c->down != (ev->type == STORE_KV_EV_DOWN)) {
			c->down = ev->type == STORE_KV_EV_DOWN;
			vim_log(c->down ? VIM_LOG_WARN : VIM_LOG_INFO,
			        c->down ? "wcache: %s is unreachable; lists fail until it returns"
			                : "wcache: %s is reachable again; the watch resumes",
			        c->kv->ops->name);
		}
		pthread_mutex_unlock(&c->mu);
		return;
	}
}

/* ---- reading everything again (resync_main) ----------------------------------------------------
 */

/* Waits up to ms on c->wake (mu held); true when closing. */
static bool pause_ms(struct wcache *c, int64_t ms)
{
	int64_t until = vim_deadline_ms(ms);

	while (!c->closing && vim_cond_wait_until(&c->wake, &c->mu, until) == 0)
		;
	return c->closing;
}

/* One resync: the old watch stopped, everything read at the current
 * revision and swapped in, every watcher sent Gone, a new watch started.
 * Retries while the backend is down; mu held on entry and return. */
static void resync(struct wcache *c)
{
	struct wc_table fresh[NRES];
	struct store_kv_watch *w = c->watch;
	struct vim_err err;
	int64_t rev = 0;
	size_t i;

	c->watch = NULL;
	pthread_mutex_unlock(&c->mu);
	c->kv->ops->watch_stop(w);
	pthread_mutex_lock(&c->mu);
	for (;;) {
		pthread_mutex_unlock(&c->mu);
		int rc = load_all(c, fresh, &rev, &err);
		pthread_mutex_lock(&c->mu);
		if (rc == 0)
			break;
		vim_log(VIM_LOG_WARN, "wcache: reading everything again: %s (retrying)", err.msg);
		if (pause_ms(c, RESYNC_RETRY_MS))
			return;
	}
	for (i = 0; i < NRES; i++) {
		struct wc_table old = c->tabs[i];
		c->tabs[i] = fresh[i];
		fresh[i] = old; /* cleared below, unlocked */
	}
	c->rev = rev;
	c->gone = false;
	store_hub_reset(c->hub, rev);
	pthread_cond_broadcast(&c->seen);
	pthread_mutex_unlock(&c->mu);
	for (i = 0; i < NRES; i++)
		wc_table_clear(&fresh[i]);
	vim_log(VIM_LOG_INFO, "wcache: read everything again at revision %lld", (long long)rev);
	pthread_mutex_lock(&c->mu);
	while (!c->closing) {
		pthread_mutex_unlock(&c->mu);
		int rc = c->kv->ops->watch(c->kv, rev + 1, feed, c, &w, &err);
		pthread_mutex_lock(&c->mu);
		if (rc == 0) {
			c->watch = w;
			return;
		}
		if (rc == VIM_EGONE) { /* compacted again since the read: again */
			c->gone = true;
			return;
		}
		vim_log(VIM_LOG_WARN, "wcache: watch from %lld: %s (retrying)", (long long)rev + 1,
		        err.msg);
		if (pause_ms(c, RESYNC_RETRY_MS))
			return;
	}
}

static void *resync_main(void *arg)
{
	struct wcache *c = arg;

	pthread_mutex_lock(&c->mu);
	while (!c->closing) {
		if (!c->gone) {
			pthread_cond_wait(&c->wake, &c->mu);
			continue;
		}
		resync(c);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* ---- the read side ---------------------------------------------------------------------- */

/* Waits (mu held) until the cache has seen want, at most ms; 0 or
 * VIM_ETIMEDOUT. */
static int wait_rev(struct wcache *c, int64_t want, int64_t ms)
{
	int64_t until = vim_deadline_ms(ms);

	while (c->rev < want)
		if (vim_cond_wait_until(&c->seen, &c->mu, until) == VIM_ETIMEDOUT)
			return c->rev < want ? VIM_ETIMEDOUT : 0;
	return 0;
}

static int too_large(struct vim_err *err, int64_t want, int64_t cur)
{
	return vim_err_set(err, VIM_ETIMEDOUT, "Too large resource version: %lld, current: %lld",
	                   (long long)want, (long long)cur);
}

/* The revision a list must see (o's resourceVersion rules) and how long it
 * may wait for it. */
static int list_want(struct wcache *c, const char *resource, const struct store_list_opts *o,
                     int64_t *want, int64_t *wait_ms, struct vim_err *err)
{
	const char *rv = o->resource_version, *match = o->resource_version_match;
	char *end = NULL;
	long long n;

	*want = 0;
	*wait_ms = 0;
	if (o->limit > 0 || (o->continue_token && *o->continue_token) ||
	    (match && strcmp(match, "Exact") == 0))
		return vim_err_set(err, VIM_EUNSUPPORTED,
		                   "wcache: list %s: pages and exact revisions are read from %s",
		                   resource, c->kv->ops->name);
	if (!rv || !*rv) {
		*wait_ms = CONSISTENT_WAIT_MS;
		return c->kv->ops->current_rev(c->kv, want, err);
	}
	errno = 0;
	n = strtoll(rv, &end, 10);
	if (errno || end == rv || *end || n < 0)
		return vim_err_set(err, VIM_EINVAL, "list %s: resourceVersion %.32s is not valid",
		                   resource, rv);
	*want = n;
	*wait_ms = FUTURE_WAIT_MS;
	return 0;
}

static int wc_list(struct store_reads *r, const char *resource, const struct store_list_opts *o,
                   store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	struct wcache *c = (struct wcache *)r;
	struct store_list_opts none = {0};
	struct store_selector *sel = NULL;
	struct wc_table *t;
	struct wc_obj **objs = NULL;
	struct wc_codec z;
	size_t n = 0, i = 0;
	int64_t want = 0, wait_ms = 0, at = 0;
	int rc;

	wc_codec_init(&z);
	o = o ? o : &none;
	/* meta is not touched before this side serves the list: a page's
	 * o->continue_token may point into it (the previous page's meta),
	 * and the layer reads that token once this side declines */
	if (!table_of(c, resource)) /* by name only: no lock */
		return vim_err_set(err, VIM_EUNSUPPORTED, "wcache: list %s: not cached", resource);
	if ((rc = list_want(c, resource, o, &want, &wait_ms, err)) < 0 ||
	    (rc = store_selector_parse(&sel, resource, o->label_selector, o->field_selector, err)) <
	        0)
		goto out;
	pthread_mutex_lock(&c->mu);
	if ((rc = wait_rev(c, want, wait_ms)) < 0) {
		at = c->rev;
		pthread_mutex_unlock(&c->mu);
		if (o->resource_version && *o->resource_version) {
			rc = too_large(err, want, at);
		} else {
			/* e.g. other keys of a shared etcd moved its revision past
			 * every change of ours: correct from the backend, slower */
			if (!atomic_exchange(&c->fallback_logged, true))
				vim_log(VIM_LOG_WARN,
				        "wcache: the cache did not reach %s's revision %lld within "
				        "%d ms (at %lld); such lists read %s",
				        c->kv->ops->name, (long long)want, CONSISTENT_WAIT_MS,
				        (long long)at, c->kv->ops->name);
			rc =
			    vim_err_set(err, VIM_EUNSUPPORTED,
			                "wcache: list %s: the cache is at %lld, %s at %lld",
			                resource, (long long)at, c->kv->ops->name, (long long)want);
		}
		goto out;
	}
	t = table_of(c, resource);
	rc = wc_table_snapshot(t, o->ns, &objs, &n);
	at = c->rev;
	pthread_mutex_unlock(&c->mu);
	if (rc < 0) {
		rc = vim_err_set(err, rc, "wcache: list %s: out of memory", resource);
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t len = 0;
		const char *text = wc_obj_text(&z, objs[i], &len);
		if (!text) {
			rc = vim_err_set(err, VIM_ENOMEM, "wcache: list %s: out of memory",
			                 resource);
			goto out;
		}
		if (sel) {
			json_t *obj = json_loadb(text, len, 0, NULL);
			bool match = obj && store_selector_match(sel, obj);
			json_decref(obj);
			if (!match)
				continue;
		}
		if ((rc = fn(arg, text, len)) != 0) {
			if (rc < 0)
				vim_err_set(err, rc, "wcache: list %s: the reader failed (%s)",
				            resource, vim_code_name(rc));
			goto out;
		}
	}
	memset(meta, 0, sizeof(*meta));
	meta->resource_version = at;
	meta->remaining = 0;
out:
	if (rc != 0 && rc != VIM_EUNSUPPORTED) /* a failed or stopped list */
		memset(meta, 0, sizeof(*meta));
	for (i = 0; i < n; i++)
		wc_obj_unref(objs[i]);
	free(objs);
	wc_codec_free(&z);
	store_selector_free(sel);
	return rc;
}

static int wc_watch(struct store_reads *r, const char *resource, const struct store_watch_opts *o,
                    struct store_watch **out, struct vim_err *err)
{
	struct wcache *c = (struct wcache *)r;
	int64_t want = o->resource_version;
	bool now = want <= 0;
	struct vim_err ignored;
	int rc;

	*out = NULL;
	/* "From now" is from the backend's revision, as kube's cacher starts
	 * a watch without resourceVersion at etcd's current one: a client
	 * that wrote and then watches must not get its own write as news.
	 * With the backend away nothing can be newer than the cache. */
	if (now && c->kv->ops->current_rev(c->kv, &want, &ignored) < 0)
		want = 0;
	pthread_mutex_lock(&c->mu);
	if (wait_rev(c, want, now ? CONSISTENT_WAIT_MS : FUTURE_WAIT_MS) < 0 && !now)
		rc = too_large(err, want, c->rev);
	else /* under mu: feed publishes under it, so nothing slips between */
		rc = store_hub_watch(c->hub, resource, o, c->rev, out, err);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static int64_t wc_current_rv(struct store_reads *r)
{
	struct wcache *c = (struct wcache *)r;
	int64_t rev;

	pthread_mutex_lock(&c->mu);
	rev = c->rev;
	pthread_mutex_unlock(&c->mu);
	return rev;
}

static void wc_close(struct store_reads *r)
{
	struct wcache *c = (struct wcache *)r;
	size_t i;

	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->closing = true;
	pthread_cond_broadcast(&c->wake);
	pthread_mutex_unlock(&c->mu);
	if (c->thread_started)
		pthread_join(c->thread, NULL);
	/* the watch first: after it no change arrives for the tables */
	c->kv->ops->watch_stop(c->watch);
	for (i = 0; i < NRES; i++)
		wc_table_clear(&c->tabs[i]);
	wc_codec_free(&c->fz);
	pthread_cond_destroy(&c->wake);
	pthread_cond_destroy(&c->seen);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void wcache_watch_pause(struct store_reads *r)
{
	struct wcache *c = (struct wcache *)r;
	struct store_kv_watch *w;

	pthread_mutex_lock(&c->mu);
	w = c->watch;
	c->watch = NULL;
	pthread_mutex_unlock(&c->mu);
	c->kv->ops->watch_stop(w);
}

int wcache_watch_resume(struct store_reads *r, struct vim_err *err)
{
	struct wcache *c = (struct wcache *)r;
	struct store_kv_watch *w = NULL;
	int64_t from = wc_current_rv(r) + 1;
	int rc = c->kv->ops->watch(c->kv, from, feed, c, &w, err);

	pthread_mutex_lock(&c->mu);
	if (rc == 0)
		c->watch = w;
	else if (rc == VIM_EGONE) { /* as the event would say it */
		c->gone = true;
		pthread_cond_signal(&c->wake);
		rc = 0;
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void store_wcache_stats(struct store_reads *r, size_t *objects, size_t *bytes)
{
	struct wcache *c = (struct wcache *)r;
	size_t i;

	*objects = *bytes = 0;
	pthread_mutex_lock(&c->mu);
	for (i = 0; i < NRES; i++) {
		*objects += c->tabs[i].live;
		*bytes += c->tabs[i].bytes;
	}
	pthread_mutex_unlock(&c->mu);
}

static const struct store_reads_ops wcache_ops = {
    .name = "wcache",
    .list = wc_list,
    .watch = wc_watch,
    .current_rv = wc_current_rv,
    .close = wc_close,
};

int store_wcache_open(struct store_reads **out, struct store_kv *kv, struct store_hub *hub,
                      struct vim_err *err)
{
	struct wcache *c = NULL;
	int64_t t0 = vim_mono_ms();
	size_t objects = 0, bytes = 0;
	int rc;

	*out = NULL;
	if (!kv->ops->watch)
		return vim_err_set(err, VIM_EINVAL, "wcache: %s has no watch to feed a cache",
		                   kv->ops->name);
	if (!(c = calloc(1, sizeof(*c))))
		return vim_err_set(err, VIM_ENOMEM, "wcache: out of memory");
	c->base.ops = &wcache_ops;
	c->kv = kv;
	c->hub = hub;
	atomic_init(&c->fallback_logged, false);
	wc_codec_init(&c->fz);
	pthread_mutex_init(&c->mu, NULL);
	vim_cond_init(&c->seen);
	vim_cond_init(&c->wake);
	if ((rc = load_all(c, c->tabs, &c->rev, err)) < 0)
		goto out;
	/* Revisions of a remote backend skip what the hub never sees (other
	 * keys): the hub's history is complete from here, not from its
	 * oldest change. */
	store_hub_reset(hub, c->rev);
	if ((rc = kv->ops->watch(kv, c->rev + 1, feed, c, &c->watch, err)) < 0)
		goto out;
	if ((rc = pthread_create(&c->thread, NULL, resync_main, c)) != 0) {
		rc = vim_err_set(err, VIM_ENOMEM, "wcache: cannot start a thread (%s)",
		                 strerror(rc));
		goto out;
	}
	c->thread_started = true;
	store_wcache_stats(&c->base, &objects, &bytes);
	vim_log(VIM_LOG_INFO,
	        "wcache: %zu objects (%zu bytes) read from %s at revision %lld in %lld ms", objects,
	        bytes, kv->ops->name, (long long)c->rev, (long long)(vim_mono_ms() - t0));
	*out = &c->base;
out:
	if (rc < 0)
		wc_close(&c->base);
	return rc;
}
