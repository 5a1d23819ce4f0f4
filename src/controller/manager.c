/*
 * controller/manager — caches → queue → workers → handler chain → store.
 */
#include "controller/manager.h"
#include "controller/cache.h"
#include "controller/namespace.h"
#include "controller/queue.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/sysutil.h"
#include "core/timeutil.h"
#include "model/managed_fields.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANAGER_WORKERS_MAX 64
#define QUEUE_KEY_MAX (CTL_KEY_MAX + 8)
/* A stale write (someone changed the object meanwhile) is retried soon:
 * the cache will hold the newer object by then. */
#define CONFLICT_REQUEUE_MS 200

/* The status writes whose watch echo is still to come: (hash of the queue
 * key, resourceVersion written), each key in one of ECHO_WAYS slots from
 * its hash.  A key pushed out only costs one presence check its echo
 * would have skipped. */
#define ECHO_SLOTS 16384
#define ECHO_WAYS 8
struct echo {
	uint64_t h;
	char rv[32];
};

/* What a kind's cache hands its change callback: one per kind. */
struct feed {
	struct ctl_manager *m;
	enum model_kind kind;
};

struct ctl_manager {
	struct ctl_manager_config cfg;
	pthread_mutex_t echo_mu;
	struct echo *echoes;                        /* ECHO_SLOTS */
	struct ctl_cache *cache[MODEL_KIND__COUNT]; /* by enum model_kind */
	struct feed feeds[MODEL_KIND__COUNT];       /* the caches' callback arguments */
	struct ctl_queue *queue;
	pthread_t workers[MANAGER_WORKERS_MAX];
	int nworkers;
	struct ctl_namespaces *namespaces; /* Terminating namespaces' sweeper */
	pthread_mutex_t stats_mu;          /* guards the two below */
	uint64_t reconciles;
	struct vim_hist reconcile_s;
};

/* Per-reconcile state of the store writer: the resourceVersion the next
 * write must carry, advanced by each successful write. */
struct writer_state {
	struct ctl_manager *m;
	const char *resource;
	const char *qk; /* the queue key of the object being written */
	char rv[32];
	/* The object as stored at rv (owned): the cache's copy the reconcile
	 * started from, then what each write returned.  Its managedFields
	 * are the stored ones whenever the write's rv precondition holds. */
	json_t *live;
	/* The Events this reconcile decided, recorded once the write that
	 * carries the decision lands (flush_events), dropped when it loses a
	 * conflict: the next reconcile decides again, events and all.  An
	 * event recorded before a lost write came twice — an ImageLost with
	 * count 2 for one loss, seen on etcd, where the controller's cache
	 * can lag its own write and a second reconcile starts from the old
	 * state. */
	struct deferred_event {
		json_t *involved;
		char *type, *reason, *message;
	} events[8];
	size_t nevents;
	/* A write of this reconcile lost a conflict (the chain turns that
	 * into a quick requeue, not an error): what it decided is decided
	 * again by the next reconcile. */
	bool lost;
};

static uint64_t echo_hash(const char *s)
{
	return vim_str_hash(s) | 1; /* 0 marks a free slot */
}

/* The key's slot among its ECHO_WAYS (echo_mu held): its own, else a free
 * one, else (all taken) the first, whose key loses its skip. */
static struct echo *echo_slot(struct ctl_manager *m, uint64_t h, bool for_write)
{
	struct echo *free_e = NULL;
	size_t i;

	for (i = 0; i < ECHO_WAYS; i++) {
		struct echo *e = &m->echoes[(h + i) % ECHO_SLOTS];
		if (e->h == h)
			return e;
		if (!e->h && !free_e)
			free_e = e;
	}
	if (!for_write)
		return NULL;
	return free_e ? free_e : &m->echoes[h % ECHO_SLOTS];
}

static void echo_expect(struct ctl_manager *m, const char *qk, const char *rv)
{
	uint64_t h = echo_hash(qk);
	struct echo *e;

	pthread_mutex_lock(&m->echo_mu);
	e = echo_slot(m, h, true);
	e->h = h;
	snprintf(e->rv, sizeof(e->rv), "%s", rv);
	pthread_mutex_unlock(&m->echo_mu);
}

/* True, once, when the object under qk is at the resourceVersion our own
 * last write gave it. */
static bool echo_take(struct ctl_manager *m, const char *qk, const char *rv)
{
	uint64_t h = echo_hash(qk);
	struct echo *e;
	bool hit = false;

	pthread_mutex_lock(&m->echo_mu);
	if ((e = echo_slot(m, h, false))) {
		hit = rv && strcmp(e->rv, rv) == 0;
		e->h = 0; /* seen: a later object is not this write's echo */
	}
	pthread_mutex_unlock(&m->echo_mu);
	return hit;
}

static const char *kind_prefix(enum model_kind k)
{
	return model_kind_info(k)->repo_prefix;
}

void ctl_manager_enqueue(struct ctl_manager *m, enum model_kind kind, const char *key)
{
	char qk[QUEUE_KEY_MAX];

	snprintf(qk, sizeof(qk), "%s/%s", kind_prefix(kind), key);
	ctl_queue_add(m->queue, qk);
}

static void on_change(void *arg, const char *key, enum store_event_type t)
{
	const struct feed *f = arg;

	(void)t;
	ctl_manager_enqueue(f->m, f->kind, key);
}

/* ---- the chain's store-backed interfaces ---------------------------------- */

static int64_t clock_now(void *self)
{
	(void)self;
	return vim_time_now();
}

static int64_t clock_mono_ms(void *self)
{
	(void)self;
	return vim_mono_ms();
}

/* ctl_images over the caches: an ObjectRef's source image as the
 * controller sees it (a reconcile reads no database). */
static int images_get(void *self, enum model_kind kind, const char *ns, const char *name,
                      struct model_image **out, struct vim_err *err)
{
	struct ctl_manager *m = self;
	char key[CTL_KEY_MAX];
	json_t *obj;
	int rc;

	*out = NULL;
	if (kind == MODEL_KIND_VI)
		snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
	else
		snprintf(key, sizeof(key), "%s", name);
	if (!(obj = ctl_cache_get(m->cache[kind], key)))
		return vim_err_set(err, VIM_ENOTFOUND, "%s %s not found",
		                   model_kind_info(kind)->name, key);
	rc = model_image_from_json(out, obj, NULL, err);
	json_decref(obj);
	return rc;
}

static void record_now(struct ctl_manager *m, const json_t *involved, const char *type,
                       const char *reason, const char *message)
{
	const json_t *md = json_object_get(involved, "metadata");
	const char *kind = json_string_value(json_object_get(involved, "kind"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));
	struct vim_err err;
	char safe[1024];

	/* an event outlives the object: no URL credential goes into one */
	vim_redact(safe, sizeof(safe), message ? message : "");
	if (store_event_record(m->cfg.store,
	                       &(struct store_event_rec){.involved = involved,
	                                                 .type = type,
	                                                 .reason = reason,
	                                                 .message = safe,
	                                                 .now = vim_time_now()},
	                       &err) < 0)
		vim_log(VIM_LOG_WARN, "event %s for %s %s/%s not recorded: %s", reason,
		        kind ? kind : "", ns ? ns : "", name ? name : "", err.msg);
}

static void event_free(struct deferred_event *e)
{
	json_decref(e->involved);
	free(e->type);
	free(e->reason);
	free(e->message);
	memset(e, 0, sizeof(*e));
}

/* The chain's recorder: keeps the event until flush_events (see
 * writer_state.events); one that does not fit is recorded at once. */
static void defer_event(void *self, const struct model_image *img, const char *type,
                        const char *reason, const char *message)
{
	struct writer_state *ws = self;
	json_t *involved = model_image_ref_to_json(img);
	struct deferred_event *e;

	if (!involved) {
		vim_log(VIM_LOG_WARN, "event %s for %s/%s not recorded: out of memory", reason,
		        img->meta.namespace ? img->meta.namespace : "", img->meta.name);
		return;
	}
	if (ws->nevents == sizeof(ws->events) / sizeof(ws->events[0])) {
		record_now(ws->m, involved, type, reason, message);
		json_decref(involved);
		return;
	}
	e = &ws->events[ws->nevents];
	e->involved = involved;
	e->type = strdup(type);
	e->reason = strdup(reason);
	e->message = strdup(message ? message : "");
	if (!e->type || !e->reason || !e->message) {
		record_now(ws->m, involved, type, reason, message);
		event_free(e);
		return;
	}
	ws->nevents++;
}

/* Records (record = true) or drops what defer_event kept. */
static void flush_events(struct writer_state *ws, bool record)
{
	for (size_t i = 0; i < ws->nevents; i++) {
		if (record)
			record_now(ws->m, ws->events[i].involved, ws->events[i].type,
			           ws->events[i].reason, ws->events[i].message);
		event_free(&ws->events[i]);
	}
	ws->nevents = 0;
}

typedef int (*store_write_fn)(struct store *s, const char *r, const json_t *obj, json_t **out,
                              struct vim_err *e);

/* The status subresource reads only the object's name, namespace,
 * resourceVersion and status: the rest is not encoded for it. */
static json_t *status_body(const struct model_image *img)
{
	json_t *ref = model_image_ref_to_json(img),
	       *st = model_status_to_json(&img->status, img->kind);

	if (!ref || !st || json_object_set_new(ref, "status", st) < 0) {
		json_decref(ref);
		return NULL;
	}
	return ref;
}

/* As a kube client's writes: managedFields name this manager ("vimaged")
 * as the owner of the status it writes (subresource status) and of the
 * metadata it changes (the cleanup finalizer).  They are reckoned against
 * ws->live, not img: one reconcile writes metadata then status from the
 * same img, and the entries of the first write must survive the second.
 * ws->live is the object at ws->rv, and the write is conditioned on
 * ws->rv, so a write that lands replaces exactly those entries — no read
 * of the store is needed (a read per write cost the mass recovery a
 * third of its speed).  Never fails the write. */
static void record_manager(struct writer_state *ws, bool status, json_t *obj)
{
	struct model_mf_write w = {.manager = "vimaged",
	                           .api_version = MODEL_API_VERSION,
	                           .scope = status ? MODEL_MF_SCOPE_STATUS : MODEL_MF_SCOPE_MAIN,
	                           .now = vim_time_now()};
	struct vim_err err = {0};

	if (!ws->live)
		return;
	if (status) {
		model_mf_own(
		    obj, json_object_get(json_object_get(ws->live, "metadata"), "managedFields"),
		    &w);
	} else {
		/* the stored entries, not img's (see above) */
		json_object_del(json_object_get(obj, "metadata"), "managedFields");
		model_mf_update(obj, ws->live, &w, &err);
	}
}

static int write_with(struct writer_state *ws, const struct model_image *img, store_write_fn fn,
                      struct vim_err *err)
{
	json_t *obj = fn == store_update_status ? status_body(img) : model_image_to_json(img);
	json_t *out = NULL;
	const char *rv;
	int rc;

	if (!obj)
		return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
	                    json_string(ws->rv));
	record_manager(ws, fn == store_update_status, obj);
	if (fn == store_update_status) {
		/* ws->live is the object at ws->rv: no read-back (store_write_opts) */
		struct store_write_opts wo = {.basis = ws->live};

		rc = store_update_status_opts(ws->m->cfg.store, ws->resource, obj, &wo, &out, err);
	} else {
		rc = fn(ws->m->cfg.store, ws->resource, obj, &out, err);
	}
	if (rc == VIM_ECONFLICT)
		ws->lost = true;
	if (rc == 0) {
		flush_events(ws, true); /* their decision is stored now */
		rv = json_string_value(
		    json_object_get(json_object_get(out, "metadata"), "resourceVersion"));
		if (rv)
			snprintf(ws->rv, sizeof(ws->rv), "%s", rv);
		json_decref(ws->live);
		ws->live = json_incref(out);
	}
	json_decref(out);
	json_decref(obj);
	return rc;
}

static int write_status(void *self, const struct model_image *img, struct vim_err *err)
{
	struct writer_state *ws = self;
	int rc = write_with(ws, img, store_update_status, err);

	if (rc == 0)
		echo_expect(ws->m, ws->qk, ws->rv);
	return rc;
}

static int write_meta(void *self, const struct model_image *img, struct vim_err *err)
{
	return write_with(self, img, store_update, err);
}

/* ---- one reconcile ------------------------------------------------------- */

/* obj (borrowed) without metadata.managedFields, sharing everything else
 * (a new reference; obj itself when it has none): what the handlers
 * decode.  No handler reads the entries and the writes take them from
 * ws->live (record_manager), but decoding keeps unknown metadata as deep
 * copies — twice per reconcile, half an image's JSON each time. */
static json_t *without_managed_fields(json_t *obj)
{
	json_t *md = json_object_get(obj, "metadata"), *view, *vmd;

	if (!json_object_get(md, "managedFields"))
		return json_incref(obj);
	view = json_copy(obj);
	vmd = json_copy(md);
	if (!view || !vmd || json_object_del(vmd, "managedFields") < 0 ||
	    json_object_set_new(view, "metadata", vmd) < 0) {
		json_decref(view);
		return NULL;
	}
	return view;
}

/* Splits "vi/ns/name" into kind and cache key. */
static int parse_key(const char *qk, enum model_kind *kind, const char **key)
{
	const char *slash = strchr(qk, '/');
	const struct model_kind_info *k =
	    slash ? model_kind_by_repo_prefix(qk, (size_t)(slash - qk)) : NULL;

	if (!k)
		return VIM_EINVAL;
	*kind = k->kind;
	*key = slash + 1;
	return 0;
}

static void reconcile(struct ctl_manager *m, const char *qk)
{
	struct model_image *orig = NULL, *work = NULL;
	struct writer_state ws = {.m = m, .qk = qk};
	struct ctl_outcome out = {0};
	struct vim_err err = {0};
	enum model_kind kind;
	const char *key;
	json_t *obj = NULL, *view = NULL;
	int rc;

	if (parse_key(qk, &kind, &key) < 0 || !(obj = ctl_cache_get(m->cache[kind], key))) {
		ctl_queue_forget(m->queue, qk); /* deleted (or never ours): nothing to do */
		return;
	}
	if (!(view = without_managed_fields(obj))) {
		ctl_queue_add_rate_limited(m->queue, qk); /* out of memory: later */
		goto out;
	}
	if (model_image_from_json(&orig, view, NULL, &err) < 0 ||
	    model_image_from_json(&work, view, NULL, &err) < 0) {
		vim_log(VIM_LOG_ERROR, "reconcile %s: stored object unreadable: %s", qk, err.msg);
		ctl_queue_forget(m->queue, qk);
		goto out;
	}
	ws.resource = model_kind_info(kind)->plural;
	ws.live = json_incref(obj);
	snprintf(ws.rv, sizeof(ws.rv), "%s",
	         orig->meta.resource_version ? orig->meta.resource_version : "");
	struct ctl_ctx ctx = {
	    .checker = m->cfg.checker,
	    .recorder = {defer_event, &ws},
	    .clock = {clock_now, NULL, clock_mono_ms},
	    .jobs = m->cfg.jobs,
	    .images = {images_get, m},
	    .cleaner = m->cfg.cleaner,
	    .writer = {write_status, write_meta, &ws},
	    .echo = echo_take(m, qk, orig->meta.resource_version),
	};
	rc =
	    ctl_chain_run(ctl_image_handlers, ctl_image_handlers_len, &ctx, orig, work, &out, &err);
	/* a lost conflict is decided again by the next reconcile */
	flush_events(&ws, rc != VIM_ECONFLICT && !ws.lost);
	if (rc == VIM_ECONFLICT) {
		ctl_queue_add_after(m->queue, qk, CONFLICT_REQUEUE_MS);
	} else if (rc < 0) {
		vim_log(VIM_LOG_WARN, "reconcile %s: %s", qk, err.msg);
		ctl_queue_add_rate_limited(m->queue, qk);
	} else {
		/* The chain's answer is the whole plan for this key: a timer an
		 * earlier reconcile left (a lost image's recheck, say, after it
		 * recovered) would only cost a needless full presence check. */
		ctl_queue_cancel_after(m->queue, qk);
		ctl_queue_forget(m->queue, qk);
		if (out.requeue_after_ms > 0)
			ctl_queue_add_after(m->queue, qk, out.requeue_after_ms);
	}
out:
	json_decref(ws.live);
	model_image_free(work);
	model_image_free(orig);
	json_decref(view);
	json_decref(obj);
}

static void *worker(void *arg)
{
	struct ctl_manager *m = arg;
	char qk[QUEUE_KEY_MAX];
	int rc;

	for (;;) {
		rc = ctl_queue_get(m->queue, qk, sizeof(qk), 1000);
		if (rc == VIM_ECANCELED)
			break;
		if (rc != 1)
			continue;
		int64_t t0 = vim_mono_ms();
		reconcile(m, qk);
		ctl_queue_done(m->queue, qk);
		pthread_mutex_lock(&m->stats_mu);
		m->reconciles++;
		vim_hist_observe(&m->reconcile_s, (double)(vim_mono_ms() - t0) / 1000.0);
		pthread_mutex_unlock(&m->stats_mu);
	}
	return NULL;
}

/* ---- walks over the caches --------------------------------------------------- */

/* A walk over both caches: match decides per object, fn acts on a match. */
struct walk {
	struct ctl_manager *m;
	enum model_kind kind;
	bool phase; /* match status.phase against want, else call match */
	bool (*match)(const struct walk *w, const json_t *obj);
	void (*fn)(void *arg, enum model_kind kind, const char *key);
	void *arg;
	const char *want; /* the phase text, or the "/<repo>:" needle */
	size_t n;
};

static void walk_one(void *arg, const char *key, const char *phase)
{
	struct walk *w = arg;
	json_t *obj;

	if (w->phase) { /* by phase: the cache keeps it, nothing to parse */
		if (strcmp(phase, w->want) != 0)
			return;
		w->fn(w->arg, w->kind, key);
		w->n++;
		return;
	}
	obj = ctl_cache_get(w->m->cache[w->kind], key);
	if (obj && w->match(w, obj)) {
		w->fn(w->arg, w->kind, key);
		w->n++;
	}
	json_decref(obj);
}

static size_t walk_all(struct walk *w)
{
	for (w->kind = 0; w->kind < MODEL_KIND__COUNT; w->kind++)
		ctl_cache_foreach(w->m->cache[w->kind], walk_one, w);
	return w->n;
}

static const char *status_str(const json_t *obj, const char *a, const char *b)
{
	const json_t *v = json_object_get(json_object_get(obj, "status"), a);
	return json_string_value(b ? json_object_get(v, b) : v);
}

static bool match_repo(const struct walk *w, const json_t *obj)
{
	const char *url = status_str(obj, "target", "registryURL");
	return url && strstr(url, w->want) != NULL;
}

static void enqueue_fn(void *arg, enum model_kind kind, const char *key)
{
	ctl_manager_enqueue(arg, kind, key);
}

size_t ctl_manager_foreach_phase(struct ctl_manager *m, enum model_phase phase,
                                 void (*fn)(void *arg, enum model_kind kind, const char *key),
                                 void *arg)
{
	struct walk w = {
	    .m = m, .phase = true, .fn = fn, .arg = arg, .want = model_phase_name(phase)};
	return walk_all(&w);
}

static void count_phase(void *arg, const char *key, const char *phase)
{
	struct walk *w = arg;
	struct ctl_manager_stats *st = w->arg;
	enum model_phase p = MODEL_PHASE_NONE;

	(void)key;
	if (!*phase || model_phase_parse(phase, &p) < 0)
		p = MODEL_PHASE_NONE;
	st->phases[w->kind][p]++;
}

void ctl_manager_stats(struct ctl_manager *m, struct ctl_manager_stats *out)
{
	struct walk w = {.m = m, .arg = out};

	memset(out, 0, sizeof(*out));
	for (w.kind = 0; w.kind < MODEL_KIND__COUNT; w.kind++)
		ctl_cache_foreach(m->cache[w.kind], count_phase, &w);
	out->queue_ready = ctl_queue_len(m->queue);
	out->queue_delayed = ctl_queue_delayed_len(m->queue);
	pthread_mutex_lock(&m->stats_mu);
	out->reconciles = m->reconciles;
	out->reconcile_s = m->reconcile_s;
	pthread_mutex_unlock(&m->stats_mu);
}

size_t ctl_manager_enqueue_phase(struct ctl_manager *m, enum model_phase phase)
{
	return ctl_manager_foreach_phase(m, phase, enqueue_fn, m);
}

/* model_dvcr_repository cuts long names and appends "-<16 hex>". */
static bool looks_shortened(const char *repo)
{
	size_t n = strlen(repo), i;

	if (n < 17 || repo[n - 17] != '-')
		return false;
	for (i = n - 16; i < n; i++)
		if (!strchr("0123456789abcdef", repo[i]))
			return false;
	return true;
}

size_t ctl_manager_enqueue_repo(struct ctl_manager *m, const char *repo)
{
	char needle[QUEUE_KEY_MAX + 4];
	struct walk w = {.m = m, .match = match_repo, .fn = enqueue_fn, .arg = m, .want = needle};
	enum model_kind kind;
	const char *key;
	json_t *obj;

	/* The repository is the key ("vi/ns/name" -> vi "ns/name") unless the
	 * name was shortened; only then is the cache walked. */
	if (parse_key(repo, &kind, &key) == 0 && (obj = ctl_cache_get(m->cache[kind], key))) {
		json_decref(obj);
		ctl_manager_enqueue(m, kind, key);
		return 1;
	}
	if (!looks_shortened(repo))
		return 0;
	snprintf(needle, sizeof(needle), "/%s:", repo);
	return walk_all(&w);
}

/* ---- start / stop ---------------------------------------------------------- */

int ctl_manager_start(struct ctl_manager **out, const struct ctl_manager_config *cfg,
                      struct vim_err *err)
{
	struct ctl_manager *m = calloc(1, sizeof(*m));
	struct ctl_queue_opts qo = {0};
	int rc, i;

	*out = NULL;
	if (!m)
		return vim_err_set(err, VIM_ENOMEM, "controller: out of memory");
	pthread_mutex_init(&m->stats_mu, NULL);
	pthread_mutex_init(&m->echo_mu, NULL);
	if (!(m->echoes = calloc(ECHO_SLOTS, sizeof(*m->echoes)))) {
		rc = vim_err_set(err, VIM_ENOMEM, "controller: out of memory");
		goto fail;
	}
	vim_hist_init(&m->reconcile_s, vim_hist_request_s, vim_hist_request_n);
	m->cfg = *cfg;
	if (m->cfg.workers <= 0)
		m->cfg.workers = 4;
	if (m->cfg.workers > MANAGER_WORKERS_MAX)
		m->cfg.workers = MANAGER_WORKERS_MAX;
	if ((rc = ctl_queue_new(&m->queue, &qo, err)) < 0)
		goto fail;
	/* The caches enqueue every object they list: the first reconcile of
	 * everything happens as soon as the workers start. */
	for (i = 0; i < MODEL_KIND__COUNT; i++) {
		m->feeds[i] = (struct feed){m, (enum model_kind)i};
		if ((rc = ctl_cache_start(&m->cache[i], cfg->store, model_kind_info(i)->plural,
		                          on_change, &m->feeds[i], err)) < 0)
			goto fail;
	}
	for (i = 0; i < m->cfg.workers; i++) {
		if (pthread_create(&m->workers[i], NULL, worker, m) != 0) {
			rc = vim_err_set(err, VIM_EINTERNAL, "controller: cannot start worker %d",
			                 i);
			goto fail;
		}
		m->nworkers++;
	}
	if ((rc = ctl_namespaces_start(&m->namespaces, cfg->store, err)) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	ctl_manager_stop(m);
	return rc;
}

void ctl_manager_stop(struct ctl_manager *m)
{
	int i;

	if (!m)
		return;
	ctl_namespaces_stop(m->namespaces);
	/* Workers first (they read the caches), then the caches (whose feed
	 * may still add to the shut-down queue, a no-op), then the queue. */
	if (m->queue)
		ctl_queue_shutdown(m->queue);
	for (i = 0; i < m->nworkers; i++)
		pthread_join(m->workers[i], NULL);
	for (i = 0; i < MODEL_KIND__COUNT; i++)
		ctl_cache_stop(m->cache[i]);
	ctl_queue_free(m->queue);
	pthread_mutex_destroy(&m->stats_mu);
	pthread_mutex_destroy(&m->echo_mu);
	free(m->echoes);
	free(m);
}
