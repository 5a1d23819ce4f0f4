/*
 * controller/cache — list + watch into a hash of compact JSON texts.
 *
 * A list that fails part-way (a corrupt page, an I/O error) is never taken
 * for the whole truth: what it did return is real and stays, but nothing
 * it missed is reported DELETED, no watch opens on it, and the cache lists
 * again with a growing backoff until a list succeeds.
 */
#include "controller/cache.h"
#include "core/cond.h"
#include "core/log.h"
#include "core/sysutil.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Relisting a failing store: 1 s, doubling, at most 30 s (a corrupt file
 * fails every time; the log says so once per attempt, not per spin). */
#define RELIST_BACKOFF_MIN_MS 1000
#define RELIST_BACKOFF_MAX_MS 30000

struct entry {
	char *key;
	char *json;
	char phase[CTL_PHASE_MAX]; /* status.phase, so walks by phase parse nothing */
	unsigned gen;              /* the relist that last saw it */
	struct entry *next;
};

struct ctl_cache {
	struct store *store; /* borrowed */
	char resource[64];
	ctl_cache_fn on_change;
	void *arg;

	pthread_rwlock_t lock; /* guards the table */
	struct entry **buckets;
	size_t nbuckets, len;
	unsigned gen;

	pthread_mutex_t wmu;  /* guards watch and stopping */
	pthread_cond_t wcond; /* wakes a backoff when stopping */
	struct store_watch *watch;
	bool stopping;
	int64_t rv;
	pthread_t thread;
};

static struct entry **slot(struct ctl_cache *c, const char *key)
{
	struct entry **p = &c->buckets[vim_str_hash(key) & (c->nbuckets - 1)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->next;
	return p;
}

static int grow(struct ctl_cache *c)
{
	size_t n = c->nbuckets * 2, i;
	struct entry **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return VIM_ENOMEM;
	for (i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			e->next = nb[vim_str_hash(e->key) & (n - 1)];
			nb[vim_str_hash(e->key) & (n - 1)] = e;
		}
	}
	free(c->buckets);
	c->buckets = nb;
	c->nbuckets = n;
	return 0;
}

int ctl_cache_key(const json_t *obj, char out[CTL_KEY_MAX])
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	int n;

	if (!name || !*name)
		return VIM_EINVAL;
	if (ns && *ns)
		n = snprintf(out, CTL_KEY_MAX, "%s/%s", ns, name);
	else
		n = snprintf(out, CTL_KEY_MAX, "%s", name);
	return n > 0 && n < CTL_KEY_MAX ? 0 : VIM_EINVAL;
}

/* The object's status.phase ("" when it has none). */
static void phase_of(const json_t *obj, char out[CTL_PHASE_MAX])
{
	const char *p = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));

	snprintf(out, CTL_PHASE_MAX, "%s", p ? p : "");
}

/* Stores text (obj serialized) under key, taking ownership of text.
 * Returns the event to report: ADDED, MODIFIED, or -1 when nothing
 * changed. */
static int upsert(struct ctl_cache *c, const char *key, char *text, const json_t *obj)
{
	struct entry **p, *e;
	int ev = -1;

	pthread_rwlock_wrlock(&c->lock);
	p = slot(c, key);
	if (*p) {
		e = *p;
		e->gen = c->gen;
		if (strcmp(e->json, text) != 0) {
			free(e->json);
			e->json = text;
			text = NULL;
			phase_of(obj, e->phase);
			ev = STORE_MODIFIED;
		}
	} else if ((e = calloc(1, sizeof(*e))) && (e->key = strdup(key))) {
		e->json = text;
		text = NULL;
		phase_of(obj, e->phase);
		e->gen = c->gen;
		*p = e;
		c->len++;
		ev = STORE_ADDED;
		if (c->len > c->nbuckets)
			grow(c); /* on failure the chains just get longer */
	} else {
		free(e);
	}
	pthread_rwlock_unlock(&c->lock);
	free(text);
	return ev;
}

static bool erase(struct ctl_cache *c, const char *key)
{
	struct entry **p, *e;

	pthread_rwlock_wrlock(&c->lock);
	p = slot(c, key);
	e = *p;
	if (e) {
		*p = e->next;
		c->len--;
	}
	pthread_rwlock_unlock(&c->lock);
	if (!e)
		return false;
	free(e->key);
	free(e->json);
	free(e);
	return true;
}

static void notify(struct ctl_cache *c, const char *key, int ev)
{
	if (ev >= 0 && c->on_change)
		c->on_change(c->arg, key, (enum store_event_type)ev);
}

static int list_item(void *arg, const char *json, size_t len)
{
	struct ctl_cache *c = arg;
	char key[CTL_KEY_MAX], *text;
	json_t *obj = json_loadb(json, len, 0, NULL);
	int rc = ctl_cache_key(obj, key);

	if (rc < 0) {
		json_decref(obj);
		return 0; /* not an object we can key: skip, never stop the list */
	}
	if (!(text = strndup(json, len))) {
		json_decref(obj);
		return VIM_ENOMEM;
	}
	notify(c, key, upsert(c, key, text, obj));
	json_decref(obj);
	return 0;
}

struct sweep {
	char **keys;
	size_t len, cap;
};

/* After a relist: drop (and report) what the list no longer holds. */
static void sweep_unseen(struct ctl_cache *c)
{
	struct sweep s = {0};
	size_t i;

	pthread_rwlock_rdlock(&c->lock);
	for (i = 0; i < c->nbuckets; i++) {
		struct entry *e;
		for (e = c->buckets[i]; e; e = e->next) {
			char **nk;
			if (e->gen == c->gen)
				continue;
			if (s.len == s.cap) {
				s.cap = s.cap ? s.cap * 2 : 16;
				if (!(nk = realloc(s.keys, s.cap * sizeof(*nk))))
					break;
				s.keys = nk;
			}
			if ((s.keys[s.len] = strdup(e->key)))
				s.len++;
		}
	}
	pthread_rwlock_unlock(&c->lock);
	for (i = 0; i < s.len; i++) {
		if (erase(c, s.keys[i]))
			notify(c, s.keys[i], STORE_DELETED);
		free(s.keys[i]);
	}
	free(s.keys);
}

/* List into the cache and open a watch from the list's resourceVersion. */
static int relist(struct ctl_cache *c, struct vim_err *err)
{
	struct store_list_opts lo = {0};
	struct store_list_meta meta;
	struct store_watch_opts wo = {0};
	struct store_watch *w = NULL;
	int rc;

	pthread_rwlock_wrlock(&c->lock);
	c->gen++;
	pthread_rwlock_unlock(&c->lock);
	rc = store_list(c->store, c->resource, &lo, list_item, c, &meta, err);
	if (rc < 0)
		return vim_err_wrap(err, "cache %s: list: ", c->resource);
	if (rc > 0) /* list_item never stops a list: a store that says it did failed */
		return vim_err_set(err, VIM_EINTERNAL, "cache %s: list stopped early", c->resource);
	/* Only after a list that ended well: a short one would delete what it
	 * did not reach. */
	sweep_unseen(c);
	wo.resource_version = meta.resource_version;
	wo.text = true; /* kept as it comes: no serialising of a parsed copy */
	rc = store_watch(c->store, c->resource, &wo, &w, err);
	if (rc < 0)
		return vim_err_wrap(err, "cache %s: watch: ", c->resource);
	pthread_mutex_lock(&c->wmu);
	if (c->stopping) {
		pthread_mutex_unlock(&c->wmu);
		store_watch_free(w);
		return VIM_ECANCELED;
	}
	c->watch = w;
	c->rv = meta.resource_version;
	pthread_mutex_unlock(&c->wmu);
	return 0;
}

static void apply_event(struct ctl_cache *c, struct store_event *ev)
{
	char key[CTL_KEY_MAX], *text;

	c->rv = ev->resource_version;
	if (ev->type == STORE_BOOKMARK || ctl_cache_key(ev->object, key) < 0)
		return;
	if (ev->type == STORE_DELETED) {
		if (erase(c, key))
			notify(c, key, STORE_DELETED);
		return;
	}
	/* the watch's own copy of the stored text (store_watch_opts.text);
	 * ev->object has the name, namespace and phase read here */
	text = ev->text;
	ev->text = NULL;
	if (text)
		notify(c, key, upsert(c, key, text, ev->object));
}

static void drop_watch(struct ctl_cache *c)
{
	pthread_mutex_lock(&c->wmu);
	store_watch_free(c->watch);
	c->watch = NULL;
	pthread_mutex_unlock(&c->wmu);
}

/* Waits ms unless the cache is being stopped; false when it is. */
static bool backoff_wait(struct ctl_cache *c, int64_t ms)
{
	int64_t until = vim_deadline_ms(ms);
	bool stopping;

	pthread_mutex_lock(&c->wmu);
	while (!c->stopping && vim_cond_wait_until(&c->wcond, &c->wmu, until) == 0)
		;
	stopping = c->stopping;
	pthread_mutex_unlock(&c->wmu);
	return !stopping;
}

static void *feed(void *arg)
{
	struct ctl_cache *c = arg;
	struct store_event ev;
	struct vim_err err = {0};
	int64_t backoff_ms = 0;
	int rc;

	for (;;) {
		if (!c->watch) {
			rc = relist(c, &err);
			if (rc == VIM_ECANCELED)
				break;
			if (rc < 0) {
				/* not synced: keep what was known, report nothing
				 * as vanished, and try again later */
				backoff_ms = backoff_ms ? backoff_ms * 2 : RELIST_BACKOFF_MIN_MS;
				if (backoff_ms > RELIST_BACKOFF_MAX_MS)
					backoff_ms = RELIST_BACKOFF_MAX_MS;
				vim_log(VIM_LOG_ERROR, "%s (not synced; listing again in %lld ms)",
				        err.msg, (long long)backoff_ms);
				if (!backoff_wait(c, backoff_ms))
					break;
				continue;
			}
			backoff_ms = 0;
		}
		memset(&ev, 0, sizeof(ev));
		rc = store_watch_next(c->watch, 1000, &ev, &err);
		if (rc == 1) {
			apply_event(c, &ev);
			json_decref(ev.object);
			free(ev.text);
		} else if (rc == VIM_ECANCELED) {
			break;
		} else if (rc < 0) {
			/* 410 Gone or a failure: relist (every object is then
			 * reported again, so say so: it costs a reconcile each) */
			vim_log(VIM_LOG_WARN, "cache %s: %s (relisting every object)", c->resource,
			        err.msg);
			drop_watch(c);
		}
	}
	drop_watch(c);
	return NULL;
}

int ctl_cache_start(struct ctl_cache **out, struct store *s, const char *resource,
                    ctl_cache_fn on_change, void *arg, struct vim_err *err)
{
	struct ctl_cache *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		return vim_err_set(err, VIM_ENOMEM, "cache %s: out of memory", resource);
	c->store = s;
	snprintf(c->resource, sizeof(c->resource), "%s", resource);
	c->on_change = on_change;
	c->arg = arg;
	c->nbuckets = 1024;
	pthread_rwlock_init(&c->lock, NULL);
	pthread_mutex_init(&c->wmu, NULL);
	vim_cond_init(&c->wcond);
	if (!(c->buckets = calloc(c->nbuckets, sizeof(*c->buckets)))) {
		rc = vim_err_set(err, VIM_ENOMEM, "cache %s: out of memory", resource);
		goto fail;
	}
	if ((rc = relist(c, err)) < 0)
		goto fail;
	if (pthread_create(&c->thread, NULL, feed, c) != 0) {
		rc = vim_err_set(err, VIM_EINTERNAL, "cache %s: cannot start its thread", resource);
		drop_watch(c);
		goto fail;
	}
	*out = c;
	return 0;
fail:
	c->thread = 0;
	ctl_cache_stop(c);
	return rc;
}

void ctl_cache_stop(struct ctl_cache *c)
{
	size_t i;

	if (!c)
		return;
	pthread_mutex_lock(&c->wmu);
	c->stopping = true;
	pthread_cond_broadcast(&c->wcond);
	if (c->watch)
		store_watch_cancel(c->watch);
	pthread_mutex_unlock(&c->wmu);
	if (c->thread)
		pthread_join(c->thread, NULL);
	for (i = 0; c->buckets && i < c->nbuckets; i++) {
		struct entry *e = c->buckets[i], *next;
		for (; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->json);
			free(e);
		}
	}
	free(c->buckets);
	pthread_rwlock_destroy(&c->lock);
	pthread_mutex_destroy(&c->wmu);
	pthread_cond_destroy(&c->wcond);
	free(c);
}

json_t *ctl_cache_get(struct ctl_cache *c, const char *key)
{
	struct entry *e;
	json_t *obj = NULL;

	pthread_rwlock_rdlock(&c->lock);
	e = *slot(c, key);
	if (e)
		obj = json_loads(e->json, 0, NULL);
	pthread_rwlock_unlock(&c->lock);
	return obj;
}

/* One object of a walk's snapshot. */
struct visit {
	char *key;
	char phase[CTL_PHASE_MAX];
};

int ctl_cache_foreach(struct ctl_cache *c, ctl_cache_visit_fn fn, void *arg)
{
	struct visit *v;
	size_t i, n = 0, cap;

	pthread_rwlock_rdlock(&c->lock);
	cap = c->len ? c->len : 1;
	v = malloc(cap * sizeof(*v));
	for (i = 0; v && i < c->nbuckets; i++) {
		struct entry *e;
		for (e = c->buckets[i]; e && n < cap; e = e->next)
			if ((v[n].key = strdup(e->key))) {
				memcpy(v[n].phase, e->phase, CTL_PHASE_MAX);
				n++;
			}
	}
	pthread_rwlock_unlock(&c->lock);
	if (!v)
		return VIM_ENOMEM;
	for (i = 0; i < n; i++) {
		fn(arg, v[i].key, v[i].phase);
		free(v[i].key);
	}
	free(v);
	return 0;
}

size_t ctl_cache_len(struct ctl_cache *c)
{
	size_t n;

	pthread_rwlock_rdlock(&c->lock);
	n = c->len;
	pthread_rwlock_unlock(&c->lock);
	return n;
}
