/*
 * store/watch — the watch hub: every change fans out, in resourceVersion
 * order, to the watchers of its resource; a bounded history lets a watcher
 * resume from an older resourceVersion; one that asks for more than the
 * history holds, or falls too far behind, gets 410 Gone — never unbounded
 * memory.  Backend-independent: SQLite today, etcd later.
 *
 * Watchers read the history itself, each from its own cursor (the last
 * resourceVersion it has seen), so the history is all the memory changes
 * take: a slow client costs nothing until the history moves past its
 * cursor, and then it gets 410 Gone and lists again (as a Kubernetes
 * watcher whose buffer overflows is closed).  A change is kept as the
 * object's compact JSON text plus the small projection selectors read
 * (as text too), so the history costs its bytes, not a parsed tree; a
 * watcher that asks for text (the controllers' caches, the API's watch
 * streams) gets a copy of it, which is what it would have serialised.
 */
#include "store/internal.h"
#include "core/cond.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HUB_HISTORY_DEFAULT 10000
/* Counted as the JSON text the history holds (the object, its selectable
 * projection and, when a selectable field changed, the previous one's):
 * 32 MiB is still more than 10,000 changes of ~2.5 KiB images, so the
 * count bound is what a catalog of ordinary images meets first. */
#define HUB_HISTORY_BYTES_DEFAULT (32 * 1024 * 1024)
/* A bookmark-wanting watcher that saw nothing for this long gets one. */
#define BOOKMARK_IDLE_MS 10000

struct change {
	char resource[64];
	enum store_event_type type;
	/* The object's compact JSON (owned): what is sent.  Text, not a
	 * parsed tree: a tree of an image with managedFields (each FieldsV1
	 * "{}" a jansson object) took ~6 times its text, and 10,000 changes
	 * of 2.4 KB images held ~150 MiB for replay. */
	char *text;
	size_t len;
	char ns[64];      /* the object's metadata.namespace ("" none) */
	char *selectable; /* store_hub_selectable(obj) as JSON text (owned) */
	/* What selectors saw before a MODIFIED change (the same projection as
	 * text, with this change's RV; owned): a watcher whose selector the
	 * change moves the object into or out of gets ADDED or DELETED, as
	 * kube's cacher sends.  NULL when no selectable field changed (most
	 * status updates) or for ADDED/DELETED: then it is selectable's. */
	char *prev;
	int64_t rv;
	size_t bytes; /* text + selectable + prev: what the byte bound counts */
};

struct store_watch {
	struct store_hub *hub;
	char resource[64];
	char *ns; /* "" = every namespace; owned (a cut one would match others) */
	struct store_selector *sel;
	bool has_sel; /* asked for a selector: the changes' projections are read */
	bool bookmarks;
	bool text; /* events carry the object's text (store_watch_opts.text) */

	/* guarded by hub->mu */
	int64_t cursor; /* every change up to this RV has been seen */
	bool canceled, detached;
	bool reset; /* the hub was reset (store_hub_reset) under it: VIM_EGONE */
	int64_t idle_ms;
	bool unwoken; /* a change it wants may have come since it was last woken */
	pthread_cond_t cond;
	struct store_watch *next;
};

struct store_hub {
	pthread_mutex_t mu;
	struct change *hist; /* ring of the last `cap` changes */
	size_t head, len, cap;
	size_t bytes, max_bytes; /* the history's JSON text, and its bound */
	int64_t last_rv;
	int64_t evicted_rv; /* the newest change pushed out of the history */
	/* Set by store_hub_reset: every change after floor is in the history,
	 * whatever revisions it skips (a remote backend's revisions count
	 * writes the hub never sees).  Without it the oldest change kept
	 * marks what is complete, which holds only where every revision is a
	 * change the hub got (sqlite). */
	int64_t floor;
	bool has_floor;
	struct store_watch *watchers;
	bool unwoken; /* some watcher has a change to be woken for */
	/* The store's reference plus one per watcher: a watcher may outlive
	 * store_close (it then answers VIM_ECANCELED), so the hub and its
	 * mutex stay until the last watcher is freed. */
	int refs;
};

static void change_clear(struct change *c)
{
	free(c->text);
	free(c->selectable);
	free(c->prev);
	memset(c, 0, sizeof(*c));
}

static void hub_release(struct store_hub *h)
{
	size_t i;

	for (i = 0; i < h->len; i++)
		change_clear(&h->hist[(h->head + i) % h->cap]);
	free(h->hist);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

int store_hub_new(struct store_hub **out, int64_t history, struct vim_err *err)
{
	struct store_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "watch: out of memory");
	h->cap = history > 0 ? (size_t)history : HUB_HISTORY_DEFAULT;
	h->max_bytes = HUB_HISTORY_BYTES_DEFAULT;
	if (!(h->hist = calloc(h->cap, sizeof(*h->hist)))) {
		free(h);
		return vim_err_set(err, VIM_ENOMEM, "watch: out of memory for the history");
	}
	pthread_mutex_init(&h->mu, NULL);
	h->refs = 1;
	*out = h;
	return 0;
}

/* Whether the object of namespace ns whose selectable projection is
 * seltext passes w's filter.  The projection is parsed only for a watcher
 * with a selector: most watch everything of a namespace or a resource. */
static bool passes(const struct store_watch *w, const char *ns, const char *seltext)
{
	json_t *sel;
	bool ok;

	if (w->ns[0] && strcmp(ns, w->ns) != 0)
		return false;
	if (!w->has_sel)
		return true;
	if (!seltext || !(sel = json_loads(seltext, 0, NULL)))
		return false; /* only out of memory: the projection is our own JSON */
	ok = store_selector_match(w->sel, sel);
	json_decref(sel);
	return ok;
}

/* kube's cacheWatcher.convertToWatchEvent: the change as this watcher
 * sees it, from whether the object passes its filter before and after —
 * into the selection is ADDED, out of it DELETED (with the previous
 * state), within it MODIFIED; false when neither state passes.  *prev
 * says the previous state's projection is what is sent. */
static bool wants(const struct store_watch *w, const struct change *c, enum store_event_type *type,
                  bool *prev)
{
	bool cur, old;

	if (strcmp(w->resource, c->resource) != 0)
		return false;
	cur = c->type != STORE_DELETED && passes(w, c->ns, c->selectable);
	if (c->type == STORE_DELETED)
		old = passes(w, c->ns, c->selectable);
	else if (c->type == STORE_MODIFIED)
		old = c->prev ? passes(w, c->ns, c->prev) : cur; /* no selectable field moved */
	else
		old = false;
	*prev = false;
	if (cur) {
		*type = old ? STORE_MODIFIED : STORE_ADDED;
	} else if (old) {
		*type = STORE_DELETED;
		*prev = c->type != STORE_DELETED;
	}
	return cur || old;
}

/* Selectable fields beyond metadata's: the event fields
 * (selector_grammar.c's event_fields) and status.phase. */
static const char *const top_fields[] = {"apiVersion", "kind",   "involvedObject",     "reason",
                                         "type",       "source", "reportingComponent", NULL};
static const char *const meta_fields[] = {"name",   "namespace",         "uid",
                                          "labels", "creationTimestamp", NULL};

static bool same_member(const json_t *a, const json_t *b, const char *key)
{
	const json_t *va = json_object_get(a, key), *vb = json_object_get(b, key);

	return va == vb || (va && vb && json_equal(va, vb));
}

/* Whether every selectable field of the projection prev is obj's. */
static bool same_selectable(const json_t *prev, const json_t *obj)
{
	const json_t *pm = json_object_get(prev, "metadata"),
	             *om = json_object_get(obj, "metadata");
	size_t i;

	for (i = 0; top_fields[i]; i++)
		if (!same_member(prev, obj, top_fields[i]))
			return false;
	for (i = 0; meta_fields[i]; i++)
		if (!same_member(pm, om, meta_fields[i]))
			return false;
	return same_member(json_object_get(prev, "status"), json_object_get(obj, "status"),
	                   "phase");
}

json_t *store_hub_selectable(const json_t *obj)
{
	json_t *out = json_object(), *md = json_object(), *v;
	const json_t *smd = json_object_get(obj, "metadata");
	size_t i;

	if (!out || !md || json_object_set_new(out, "metadata", md) < 0) {
		json_decref(md);
		goto fail;
	}
	/* References, not copies: the values are never changed in place
	 * (writers replace members), so the previous version's labels and
	 * strings are shared, not duplicated. */
	for (i = 0; top_fields[i]; i++)
		if ((v = json_object_get(obj, top_fields[i])) &&
		    json_object_set(out, top_fields[i], v) < 0)
			goto fail;
	for (i = 0; meta_fields[i]; i++)
		if ((v = json_object_get(smd, meta_fields[i])) &&
		    json_object_set(md, meta_fields[i], v) < 0)
			goto fail;
	if ((v = json_object_get(json_object_get(obj, "status"), "phase")) &&
	    json_object_set_new(out, "status", json_pack("{s:O}", "phase", v)) < 0)
		goto fail;
	return out;
fail:
	json_decref(out);
	return NULL;
}

void store_hub_limit_bytes(struct store_hub *h, int64_t max_bytes)
{
	pthread_mutex_lock(&h->mu);
	h->max_bytes = max_bytes > 0 ? (size_t)max_bytes : HUB_HISTORY_BYTES_DEFAULT;
	pthread_mutex_unlock(&h->mu);
}

/* Drops the oldest change (hub->mu held); a watcher that has not seen it
 * is told Gone, never sent a gap. */
static void evict_oldest(struct store_hub *h)
{
	struct change *c = &h->hist[h->head];

	h->evicted_rv = c->rv;
	h->bytes -= c->bytes;
	change_clear(c);
	h->head = (h->head + 1) % h->cap;
	h->len--;
}

void store_hub_publish(struct store_hub *h, const char *resource, enum store_event_type type,
                       json_t *obj, json_t *prev, int64_t rv)
{
	char *text = json_dumps(obj, JSON_COMPACT);

	store_hub_publish_text(h, resource, type, obj, text, text ? strlen(text) : 0, prev, rv);
	json_decref(obj);
}

void store_hub_publish_text(struct store_hub *h, const char *resource, enum store_event_type type,
                            const json_t *obj, char *text, size_t len, json_t *prev, int64_t rv)
{
	struct change c = {.type = type, .text = text, .len = len, .rv = rv};
	const char *ns = store_meta_str(obj, "namespace");
	json_t *sel = store_hub_selectable(obj);
	struct store_watch *w;

	/* Out of memory for the text or the projection: the change is still
	 * published (a gap would be worse), as an empty object, which a
	 * watcher's decoder refuses — it then lists again. */
	if (!c.text) {
		c.text = strdup("{}");
		c.len = c.text ? 2 : 0;
	}
	c.selectable = sel ? json_dumps(sel, JSON_COMPACT) : NULL;
	json_decref(sel);
	snprintf(c.ns, sizeof(c.ns), "%s", ns ? ns : "");
	if (type == STORE_MODIFIED && prev && !same_selectable(prev, obj)) {
		/* Sent as the DELETED of a watcher the change moves the object
		 * out of: the previous content at this change's RV, as kube. */
		char rvtext[32];
		snprintf(rvtext, sizeof(rvtext), "%lld", (long long)rv);
		json_object_set_new(json_object_get(prev, "metadata"), "resourceVersion",
		                    json_string(rvtext));
		c.prev = json_dumps(prev, JSON_COMPACT);
	}
	json_decref(prev);
	c.bytes = c.len + (c.selectable ? strlen(c.selectable) : 0) + (c.prev ? strlen(c.prev) : 0);
	snprintf(c.resource, sizeof(c.resource), "%s", resource);
	pthread_mutex_lock(&h->mu);
	if (h->len == h->cap)
		evict_oldest(h);
	/* Then by bytes: 1,000 changes of a 900 KB object are 900 MB held
	 * for replay.  The newest change always stays, however big. */
	while (h->len > 0 && h->bytes + c.bytes > h->max_bytes)
		evict_oldest(h);
	h->hist[(h->head + h->len) % h->cap] = c; /* the history owns the texts */
	h->len++;
	h->bytes += c.bytes;
	h->last_rv = rv;
	for (w = h->watchers; w; w = w->next)
		if (strcmp(w->resource, resource) == 0) /* the others need not wake */
			w->unwoken = h->unwoken = true;
	pthread_mutex_unlock(&h->mu);
}

size_t store_hub_history_bytes(struct store_hub *h)
{
	size_t n;

	pthread_mutex_lock(&h->mu);
	n = h->bytes;
	pthread_mutex_unlock(&h->mu);
	return n;
}

void store_hub_wake(struct store_hub *h)
{
	struct store_watch *w;

	pthread_mutex_lock(&h->mu);
	if (h->unwoken)
		for (w = h->watchers; w; w = w->next)
			if (w->unwoken) {
				w->unwoken = false;
				pthread_cond_signal(&w->cond);
			}
	h->unwoken = false;
	pthread_mutex_unlock(&h->mu);
}

int store_hub_watch(struct store_hub *h, const char *resource, const struct store_watch_opts *o,
                    int64_t current_rv, struct store_watch **out, struct vim_err *err)
{
	struct store_watch *w = calloc(1, sizeof(*w));
	int64_t from = o->resource_version;
	int rc;

	*out = NULL;
	if (!w)
		return vim_err_set(err, VIM_ENOMEM, "watch: out of memory");
	if ((rc = store_selector_parse(&w->sel, resource, o->label_selector, o->field_selector,
	                               err)) < 0) {
		free(w);
		return rc;
	}
	w->hub = h;
	if (strlen(resource) >= sizeof(w->resource)) {
		store_selector_free(w->sel);
		free(w);
		return vim_err_set(err, VIM_EINVAL, "watch: unknown resource %.64s...", resource);
	}
	if (!(w->ns = strdup(o->ns ? o->ns : ""))) {
		store_selector_free(w->sel);
		free(w);
		return vim_err_set(err, VIM_ENOMEM, "watch: out of memory");
	}
	snprintf(w->resource, sizeof(w->resource), "%s", resource);
	w->bookmarks = o->bookmarks;
	w->text = o->text;
	w->has_sel =
	    (o->label_selector && *o->label_selector) || (o->field_selector && *o->field_selector);
	vim_cond_init(&w->cond);

	pthread_mutex_lock(&h->mu);
	if (from > 0 && from < current_rv) {
		/* Every change after `from` must still be in the history. */
		int64_t complete = h->has_floor
		                       ? (h->floor > h->evicted_rv ? h->floor : h->evicted_rv)
		                       : (h->len ? h->hist[h->head].rv : current_rv + 1) - 1;
		if (from < complete) {
			pthread_mutex_unlock(&h->mu);
			store_watch_free(w);
			return vim_err_set(err, VIM_EGONE, "too old resource version: %lld (%lld)",
			                   (long long)from, (long long)complete);
		}
	}
	w->cursor = from > 0 && from < current_rv ? from : current_rv;
	w->next = h->watchers;
	h->watchers = w;
	h->refs++;
	pthread_mutex_unlock(&h->mu);
	*out = w;
	return 0;
}

/* The index (from the oldest) of the first change after rv, or h->len. */
static size_t first_after(const struct store_hub *h, int64_t rv)
{
	size_t lo = 0, hi = h->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (h->hist[(h->head + mid) % h->cap].rv > rv)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The next change this watcher wants, moving its cursor past the ones it
 * does not (hub->mu held); NULL when it has seen everything. */
static const struct change *next_wanted(struct store_watch *w, enum store_event_type *type,
                                        bool *prev)
{
	struct store_hub *h = w->hub;
	size_t i;

	for (i = first_after(h, w->cursor); i < h->len; i++) {
		const struct change *c = &h->hist[(h->head + i) % h->cap];
		w->cursor = c->rv;
		if (wants(w, c, type, prev))
			return c;
	}
	return NULL;
}

/* *out is a NUL-terminated copy of len bytes of s (NULL for NULL). */
static int dup_text(char **out, const char *s, size_t len)
{
	*out = NULL;
	if (!s)
		return 0;
	if (!(*out = malloc(len + 1)))
		return VIM_ENOMEM;
	memcpy(*out, s, len);
	(*out)[len] = '\0';
	return 0;
}

/* Fills ev's object (and text, for a text watcher) from the copies taken
 * under the lock (stolen): parsing is done outside it. */
static int event_fill(struct store_watch *w, struct store_event *ev, char *text, size_t len,
                      char *sel, struct vim_err *err)
{
	int rc = 0;

	if (w->text) {
		ev->object = sel ? json_loads(sel, 0, NULL) : NULL;
		ev->text = text;
		ev->text_len = len;
		text = NULL;
	} else {
		ev->object = text ? json_loadb(text, len, 0, NULL) : NULL;
	}
	if (!ev->object) {
		free(ev->text);
		ev->text = NULL;
		rc = vim_err_set(err, VIM_ENOMEM, "watch %s: out of memory for an event",
		                 w->resource);
	}
	free(text);
	free(sel);
	return rc;
}

int store_watch_next(struct store_watch *w, int timeout_ms, struct store_event *ev,
                     struct vim_err *err)
{
	struct store_hub *h = w->hub;
	const struct change *c = NULL;
	enum store_event_type type = STORE_ADDED;
	char *text = NULL, *sel = NULL;
	size_t len = 0;
	bool prev = false;
	int64_t until = vim_deadline_ms(timeout_ms);
	int rc = 0;

	memset(ev, 0, sizeof(*ev));
	pthread_mutex_lock(&h->mu);
	for (;;) {
		if (w->canceled || w->detached) {
			rc = vim_err_set(err, VIM_ECANCELED, "watch %s: canceled", w->resource);
			goto out;
		}
		if (w->reset) {
			rc = vim_err_set(err, VIM_EGONE,
			                 "watch %s: the store read everything again (its backend's "
			                 "watch could not resume); list again",
			                 w->resource);
			goto out;
		}
		if (h->evicted_rv > w->cursor) {
			rc = vim_err_set(err, VIM_EGONE,
			                 "watch %s: the watcher fell too far behind; list again",
			                 w->resource);
			goto out;
		}
		if ((c = next_wanted(w, &type, &prev)) ||
		    vim_cond_wait_until(&w->cond, &h->mu, until) == VIM_ETIMEDOUT)
			break;
	}
	if (c) {
		/* the previous state is its projection: both texts are it */
		const char *t = prev ? c->prev : c->text;
		const char *s = prev ? c->prev : c->selectable;

		len = prev ? strlen(c->prev) : c->len;
		ev->type = type;
		ev->resource_version = c->rv;
		w->idle_ms = 0;
		if ((rc = dup_text(&text, t, len)) < 0 ||
		    (w->text && (rc = dup_text(&sel, s, s ? strlen(s) : 0)) < 0))
			rc = vim_err_set(err, rc, "watch %s: out of memory for an event",
			                 w->resource);
		else
			rc = 1;
	} else if (w->bookmarks && (w->idle_ms += timeout_ms) >= BOOKMARK_IDLE_MS) {
		/* Idle: tell the client how far the store has moved. */
		char rvtext[32];
		w->idle_ms = 0;
		w->cursor = h->last_rv > w->cursor ? h->last_rv : w->cursor;
		snprintf(rvtext, sizeof(rvtext), "%lld", (long long)w->cursor);
		ev->type = STORE_BOOKMARK;
		ev->resource_version = w->cursor;
		ev->object = json_pack("{s:{s:s}}", "metadata", "resourceVersion", rvtext);
		rc = ev->object ? 1 : 0;
	}
out:
	pthread_mutex_unlock(&h->mu);
	if (c && rc == 1 && event_fill(w, ev, text, len, sel, err) < 0)
		rc = VIM_ENOMEM;
	else if (c && rc != 1) {
		free(text);
		free(sel);
	}
	return rc;
}

void store_watch_cancel(struct store_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->hub->mu);
	w->canceled = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->hub->mu);
}

void store_watch_free(struct store_watch *w)
{
	struct store_hub *h;
	struct store_watch **p;
	bool last = false, linked = false;

	if (!w)
		return;
	h = w->hub;
	pthread_mutex_lock(&h->mu);
	for (p = &h->watchers; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			linked = true;
			break;
		}
	if (linked || w->detached)
		last = --h->refs == 0;
	pthread_mutex_unlock(&h->mu);
	if (last)
		hub_release(h);
	pthread_cond_destroy(&w->cond);
	store_selector_free(w->sel);
	free(w->ns);
	free(w);
}

void store_hub_free(struct store_hub *h)
{
	struct store_watch *w, *next;
	bool last;

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	for (w = h->watchers; w; w = next) {
		next = w->next;
		w->detached = true;
		w->next = NULL;
		pthread_cond_broadcast(&w->cond);
	}
	h->watchers = NULL;
	last = --h->refs == 0;
	pthread_mutex_unlock(&h->mu);
	if (last)
		hub_release(h);
}

void store_hub_reset(struct store_hub *h, int64_t rv)
{
	struct store_watch *w;
	size_t i;

	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->len; i++)
		change_clear(&h->hist[(h->head + i) % h->cap]);
	h->head = h->len = h->bytes = 0;
	h->floor = rv;
	h->has_floor = true;
	h->evicted_rv = 0; /* the floor says it now */
	if (rv > h->last_rv)
		h->last_rv = rv;
	/* Their cursors point into a history that is gone, and what changed
	 * while the backend's watch was away reached none of them. */
	for (w = h->watchers; w; w = w->next) {
		w->reset = true;
		w->unwoken = false;
		pthread_cond_broadcast(&w->cond);
	}
	h->unwoken = false;
	pthread_mutex_unlock(&h->mu);
}

void store_hub_stats(struct store_hub *h, size_t *watchers, size_t *history)
{
	struct store_watch *w;
	size_t n = 0;

	pthread_mutex_lock(&h->mu);
	for (w = h->watchers; w; w = w->next)
		n++;
	*watchers = n;
	*history = h->len;
	pthread_mutex_unlock(&h->mu);
}
