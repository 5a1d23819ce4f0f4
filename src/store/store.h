/*
 * store — where objects live: a Kubernetes-style object store behind an
 * interface (a struct of function pointers), so the embedded SQLite backend
 * and a later etcd backend serve the same callers.
 *
 * Objects are JSON (jansson) whole Kubernetes objects.  The store owns the
 * server-managed metadata: uid, resourceVersion (one global, monotonically
 * increasing counter, written as decimal text), creationTimestamp,
 * generation (1 on create, +1 when spec changes), deletionTimestamp.
 * The main resource ignores status changes; update_status changes only
 * status and never bumps generation.  Delete of an object with finalizers
 * sets deletionTimestamp and keeps it until an update removes the last one.
 *
 * Resources are named by plural ("virtualimages", "clustervirtualimages",
 * "events"); ns is NULL or "" for cluster-scoped ones.
 *
 * Ownership: every json_t* input is borrowed (the store copies what it
 * keeps); every json_t** output is a new reference the caller decrefs.
 * All functions are thread-safe.
 */
#ifndef VIM_STORE_H
#define VIM_STORE_H

#include "core/err.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct store;
struct store_watch;

/* The longest name and namespace Kubernetes allows (a DNS subdomain and a
 * DNS label); create refuses longer ones. */
#define STORE_NAME_MAX 253
#define STORE_NAMESPACE_MAX 63

struct store_list_opts {
	const char *ns;             /* NULL/"" = all namespaces */
	const char *label_selector; /* "a=b,c!=d,e,!f,g in (x,y),h notin (z)" */
	const char *field_selector; /* "metadata.name=x,involvedObject.uid=y" */
	int64_t limit;              /* 0 = no limit */
	const char *continue_token; /* from a previous page */
	/* kube's resourceVersion / resourceVersionMatch, as the API validated
	 * them (NULL = unset): unset = the most recent data (a consistent
	 * read), "0" = any the server has, N with "NotOlderThan" (or no match)
	 * = at least N, N with "Exact" = exactly N.  The embedded backend has
	 * one state and serves every list from it; a cached one (etcd) follows
	 * them as kube-apiserver's watch cache does. */
	const char *resource_version;
	const char *resource_version_match;
};

/* What a list returns besides its items. */
struct store_list_meta {
	int64_t resource_version; /* the list's resourceVersion */
	/* "" when this is the last page; holds the whole key of any valid
	 * name (253) and namespace (63) */
	char continue_token[640];
	int64_t remaining; /* items after this page, -1 unknown */
};

/* Called once per matching object, in (namespace, name) order, with the
 * object's stored JSON text (compact, metadata.resourceVersion current;
 * borrowed, valid during the call).  Streaming keeps a LIST of 100,000
 * objects flat in memory.  A non-zero return stops the list and is returned
 * by it.  A read that fails (a corrupt page, an I/O error) fails the list
 * with VIM_EIO: the objects fn already got are real, but the list is not
 * whole, and a caller must not take what it missed as deleted. */
typedef int (*store_list_fn)(void *arg, const char *json, size_t len);

enum store_event_type { STORE_ADDED = 0, STORE_MODIFIED, STORE_DELETED, STORE_BOOKMARK };

const char *store_event_type_name(enum store_event_type t); /* "ADDED", ... */

struct store_watch_opts {
	const char *ns;
	const char *label_selector;
	const char *field_selector;
	int64_t resource_version; /* 0 = from now; else events after this RV */
	bool bookmarks;           /* deliver BOOKMARK events */
	/* Events carry the object's JSON text (store_event.text), and their
	 * object is only what selectors see of it: for a watcher that sends
	 * or keeps the text, which the store has already. */
	bool text;
};

struct store_event {
	enum store_event_type type;
	/* A reference the receiver decrefs.  Shared with every other watcher
	 * of the change: read-only (copy before modifying).  For BOOKMARK only
	 * metadata.resourceVersion. */
	json_t *object;
	int64_t resource_version;
	/* With store_watch_opts.text (not for BOOKMARK): the object's compact
	 * JSON, text_len bytes and a NUL, which the receiver frees; object is
	 * then only metadata's name, namespace, uid, labels and
	 * creationTimestamp, status.phase and the event fields. */
	char *text;
	size_t text_len;
};

/* A leader's fence (ha/ha.h keeps one): the key whose mod_rev proves
 * that this replica leads, and that mod_rev.  A fenced write carries both
 * into the backend's transaction (store_kv_write.fence), so a replica
 * that lost its leadership while it was stalled cannot overwrite what the
 * new leader wrote.  Written by its keeper, read by every write. */
struct store_fence {
	const char *resource, *name; /* the leader key (cluster-scoped) */
	_Atomic int64_t rev;         /* 0 = not leading: every write refused */
	/* vim_mono_ms after which the lease may have expired unseen (a
	 * stall): writes are refused before asking the backend; 0 = none */
	_Atomic int64_t until_ms;
};

/* How a write is carried out; NULL means every member's zero value. */
struct store_write_opts {
	/* Kubernetes' dryRun=All: run every rule of the write (name taken,
	 * resourceVersion and uid preconditions, managed metadata, generation,
	 * finalizers) and answer what it would, but change nothing: no row
	 * written, no resourceVersion assigned, no watch event.  The answer of
	 * a dry create has no resourceVersion; of a dry update, update_status
	 * or delete, the stored one. */
	bool dry_run;
	/* update_status only: the caller's parse of the object as stored at
	 * the resourceVersion the write carries (borrowed, never changed by
	 * the write, which may share its members; NULL = none).  While the
	 * stored resourceVersion is still that one, the write starts from it
	 * instead of reading and parsing the stored JSON back: the
	 * controllers hold it already (their cache's copy, or what their
	 * previous write returned), and the parse cost a tenth of the mass
	 * status writes' CPU. */
	const json_t *basis;
	/* Fenced (see struct store_fence; borrowed): the write is also a
	 * compare of the leader key; a replica that does not lead gets
	 * VIM_EFENCED and nothing is written.  A dry run is not fenced.
	 * NULL = not fenced. */
	struct store_fence *fence;
};

/* What a delete removes and under which conditions (kube's
 * DeleteOptions.preconditions and dryRun); the object's key is in it, so
 * a call reads as one designated initializer rather than nine positional
 * arguments of which four are strings. */
struct store_delete_opts {
	const char *resource; /* plural: "virtualimages", "namespaces" */
	const char *ns;       /* NULL or "" for cluster-scoped ones */
	const char *name;
	/* NULL or "" = no precondition; a mismatch is VIM_ECONFLICT */
	const char *precondition_uid;
	const char *precondition_rv;
	struct store_write_opts write; /* dry_run */
};

/* The backend table.  A backend fills one of these; callers use the
 * store_* wrappers below.  Writes take wo (NULL = defaults). */
struct store_ops {
	const char *name; /* "sqlite", "etcd" */
	int (*get)(struct store *s, const char *resource, const char *ns, const char *name,
	           json_t **out, struct vim_err *err);
	int (*list)(struct store *s, const char *resource, const struct store_list_opts *o,
	            store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err);
	int (*create)(struct store *s, const char *resource, const json_t *obj,
	              const struct store_write_opts *wo, json_t **out, struct vim_err *err);
	/* obj's metadata.resourceVersion must equal the stored one (or be
	 * absent: unconditional), else VIM_ECONFLICT. */
	int (*update)(struct store *s, const char *resource, const json_t *obj,
	              const struct store_write_opts *wo, json_t **out, struct vim_err *err);
	int (*update_status)(struct store *s, const char *resource, const json_t *obj,
	                     const struct store_write_opts *wo, json_t **out, struct vim_err *err);
	/* *out gets the object as it was deleted, or as it stays
	 * (deletionTimestamp set) when finalizers hold it; *deleted tells
	 * which. */
	int (*remove)(struct store *s, const struct store_delete_opts *o, json_t **out,
	              bool *deleted, struct vim_err *err);
	int (*watch)(struct store *s, const char *resource, const struct store_watch_opts *o,
	             struct store_watch **out, struct vim_err *err);
	/* Current resourceVersion (the last one assigned). */
	int64_t (*current_rv)(struct store *s);
	/* Writes obj as exported (store_export): uid, creationTimestamp,
	 * generation, finalizers, deletionTimestamp, managedFields and status
	 * kept, a new resourceVersion; VIM_EEXIST when the key is taken. */
	int (*restore)(struct store *s, const char *resource, const json_t *obj, json_t **out,
	               struct vim_err *err);
	/* Can the backend be reached now (one round trip for etcd)?  /readyz's
	 * "store" check; err names the backend and the cause. */
	int (*health)(struct store *s, struct vim_err *err);
	/* Open watches and the changes the watch history holds (/metrics). */
	void (*watch_stats)(struct store *s, size_t *watchers, size_t *history);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/* The embedded backend: SQLite in WAL mode at path (created if missing).
 * history is how many changes a resuming watcher can replay (0 = default
 * 10000).  *out is freed with store_close. */
int store_sqlite_open(struct store **out, const char *path, int64_t history, struct vim_err *err);

/* The backend's options; zero values take the defaults. */
struct store_sqlite_opts {
	int64_t history;       /* changes a resuming watcher can replay (10000) */
	int64_t history_bytes; /* and their JSON text's bytes at most (32 MiB) */
	/* Events whose lastTimestamp is older than event_ttl_s are deleted
	 * by a thread of the store's own (store_event_expire at open, then
	 * when the oldest kept is due, at most once per event_expire_every_ms,
	 * default 60 s); 0 = Events are kept. */
	int64_t event_ttl_s;
	int64_t event_expire_every_ms;
};

/* The etcd backend (store/kv.h: etcd's v3 JSON gateway) under the same
 * object rules, with a watch cache serving lists and watches as
 * kube-apiserver's does.  Events expire by an etcd lease of event_ttl_s.
 * *out is freed with store_close. */
struct store_etcd_opts {
	const char *endpoints; /* "http://127.0.0.1:2379[,...]" */
	const char *prefix;    /* NULL = "/vimage" */
	const char *cafile, *certfile, *keyfile;
	int64_t timeout_ms; /* one request; 0 = 5000 */
	int64_t history, history_bytes, event_ttl_s;
};
int store_etcd_open(struct store **out, const struct store_etcd_opts *o, struct vim_err *err);

/* store_sqlite_open with every option.  A file that fails SQLite's
 * quick_check is refused (VIM_EIO, the message says how to recover):
 * serving it would answer lists with whatever pages are still readable. */
int store_sqlite_open_opts(struct store **out, const char *path, const struct store_sqlite_opts *o,
                           struct vim_err *err);

static inline int store_get(struct store *s, const char *r, const char *ns, const char *n,
                            json_t **out, struct vim_err *e)
{
	return s->ops->get(s, r, ns, n, out, e);
}
static inline int store_list(struct store *s, const char *r, const struct store_list_opts *o,
                             store_list_fn fn, void *arg, struct store_list_meta *meta,
                             struct vim_err *e)
{
	return s->ops->list(s, r, o, fn, arg, meta, e);
}
/* Convenience for small lists (tests, controller start-up): all matching
 * objects parsed into *items (a new array the caller decrefs). */
int store_list_json(struct store *s, const char *resource, const struct store_list_opts *o,
                    json_t **items, struct store_list_meta *meta, struct vim_err *err);
static inline int store_create(struct store *s, const char *r, const json_t *obj, json_t **out,
                               struct vim_err *e)
{
	return s->ops->create(s, r, obj, NULL, out, e);
}
static inline int store_create_opts(struct store *s, const char *r, const json_t *obj,
                                    const struct store_write_opts *wo, json_t **out,
                                    struct vim_err *e)
{
	return s->ops->create(s, r, obj, wo, out, e);
}
static inline int store_update(struct store *s, const char *r, const json_t *obj, json_t **out,
                               struct vim_err *e)
{
	return s->ops->update(s, r, obj, NULL, out, e);
}
static inline int store_update_opts(struct store *s, const char *r, const json_t *obj,
                                    const struct store_write_opts *wo, json_t **out,
                                    struct vim_err *e)
{
	return s->ops->update(s, r, obj, wo, out, e);
}
static inline int store_update_status(struct store *s, const char *r, const json_t *obj,
                                      json_t **out, struct vim_err *e)
{
	return s->ops->update_status(s, r, obj, NULL, out, e);
}
static inline int store_update_status_opts(struct store *s, const char *r, const json_t *obj,
                                           const struct store_write_opts *wo, json_t **out,
                                           struct vim_err *e)
{
	return s->ops->update_status(s, r, obj, wo, out, e);
}
static inline int store_delete(struct store *s, const struct store_delete_opts *o, json_t **out,
                               bool *deleted, struct vim_err *e)
{
	return s->ops->remove(s, o, out, deleted, e);
}
static inline int store_watch(struct store *s, const char *r, const struct store_watch_opts *o,
                              struct store_watch **out, struct vim_err *e)
{
	return s->ops->watch(s, r, o, out, e);
}
static inline int64_t store_current_rv(struct store *s)
{
	return s->ops->current_rv(s);
}
static inline int store_restore(struct store *s, const char *r, const json_t *obj, json_t **out,
                                struct vim_err *e)
{
	return s->ops->restore(s, r, obj, out, e);
}
static inline int store_health(struct store *s, struct vim_err *e)
{
	return s->ops->health(s, e);
}
static inline void store_watch_stats(struct store *s, size_t *watchers, size_t *history)
{
	s->ops->watch_stats(s, watchers, history);
}
void store_close(struct store *s); /* NULL is fine */

/* A view of base whose every write (create, update, update_status,
 * remove, and so store_event_record's) is fenced by f (a dry run is not);
 * restore is refused (VIM_EINVAL); reads and watches are base's.  What
 * the controllers of a replica write through: vimaged's API writes
 * unfenced.  base and f are borrowed and must outlive *out;
 * store_close(*out) frees the view only. */
int store_fenced_open(struct store **out, struct store *base, struct store_fence *f,
                      struct vim_err *err);

/* Waits up to timeout_ms for the next event.  Returns 1 and fills *ev
 * (ev->object owned by the caller), 0 on timeout, VIM_EGONE when the
 * requested resourceVersion is older than the history (or the watcher fell
 * too far behind), VIM_ECANCELED after store_watch_cancel / store close. */
int store_watch_next(struct store_watch *w, int timeout_ms, struct store_event *ev,
                     struct vim_err *err);
/* Wakes a blocked store_watch_next (it returns VIM_ECANCELED); thread-safe. */
void store_watch_cancel(struct store_watch *w);
void store_watch_free(struct store_watch *w); /* NULL is fine */

/* Namespaces (resource "namespaces", cluster-scoped). */

/* Gives ns (a Namespace being created: metadata.name set) what the API
 * server fills: apiVersion, kind, the kubernetes.io/metadata.name label,
 * spec.finalizers ["kubernetes"] (which hold it Terminating, once deleted,
 * until its content is gone) and status.phase Active. */
void store_namespace_defaults(json_t *ns);

/* Creates the missing Namespace of every namespace the stored images and
 * events use, and "default": a data dir written before Namespaces existed
 * keeps serving.  Run once at start, before the API. */
int store_namespaces_ensure(struct store *s, struct vim_err *err);

/* One Event to record: three strings side by side were one swap away
 * from a Warning whose reason is its message. */
struct store_event_rec {
	/* borrowed: its kind, apiVersion, metadata.name/namespace/uid/
	 * resourceVersion */
	const json_t *involved;
	const char *type; /* "Normal", "Warning" */
	const char *reason;
	const char *message;
	int64_t now; /* unix seconds: firstTimestamp / lastTimestamp */
};

/* Records a core/v1 Event about e->involved, de-duplicated as Kubernetes
 * does: the same object + type + reason + message increments count and
 * lastTimestamp of the existing Event. */
int store_event_record(struct store *s, const struct store_event_rec *e, struct vim_err *err);

/* Deletes Events whose lastTimestamp is older than now - ttl_s (what the
 * store's own expiry runs; see store_sqlite_opts.event_ttl_s).  Returns the
 * number removed, or a negative code.  *next_due: the earliest time an
 * Event could next expire (the oldest one kept, plus ttl_s; now when some
 * could not be deleted): recording only ever moves lastTimestamp forward,
 * so nothing expires before then and the caller need not list all Events
 * every minute. */
int store_event_expire(struct store *s, int64_t now, int64_t ttl_s, int64_t *next_due,
                       struct vim_err *err);

#endif
