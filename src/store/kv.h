/*
 * store/kv — the backend contract: what a store backend keeps, and nothing
 * of Kubernetes.  The object rules (uid, generateName, timestamps,
 * generation, resourceVersion preconditions, finalizers, no-op updates,
 * managed fields, selectors, continue tokens, the watch hub) sit above it
 * in store/object.c; a backend keeps keys, values and revisions only.  The
 * model is libgit2's odb_backend: a dumb backend, the rules on top.
 *
 * Keys are (resource, namespace, name): resource the plural
 * ("virtualimages"), namespace "" for cluster-scoped objects.  Neither
 * namespace nor name holds a '/' (the API validates both), so a backend
 * may join them into one string, as etcd's "<prefix>/<group>/<resource>/
 * <ns>/<name>" does.  Within one resource a backend gives keys in one
 * stable order of its own (sqlite: by namespace, then name; etcd: by the
 * bytes of "<ns>/<name>"), and a range that starts after a key continues
 * in that same order: a continue token made by one backend is only ever
 * read back by it.
 *
 * Revisions: one counter per backend, > 0, increasing with every write
 * (sqlite's meta.rv; etcd's store revision).  A key's mod_rev is the
 * revision of its last write; the object layer publishes it as
 * metadata.resourceVersion.
 *
 * Values are the objects' compact JSON.  A backend that assigns revisions
 * itself, under its own write lock (sqlite), asks for the value once it
 * knows the revision, so the value can carry metadata.resourceVersion and
 * be served as stored (ops->value_has_rev); one that learns the revision
 * only from the commit (etcd) asks with rev 0, and the layer sets
 * resourceVersion from mod_rev on every read, as kube-apiserver does.
 *
 * Errors: 0 or a negative VIM_E* code with err filled.  VIM_ENOTFOUND: no
 * such key; VIM_ECONFLICT: a write's compare failed; VIM_EGONE: a revision
 * the backend has compacted; VIM_EUNAVAILABLE: the backend cannot be
 * reached (every endpoint tried); VIM_ETIMEDOUT: it did not answer in
 * time; VIM_EIO: it answered with damage.  Messages name the backend and
 * the key ("etcd http://127.0.0.1:2379: range /vimage/...: ...").
 *
 * Ownership: every pointer passed in is borrowed for the call; everything
 * handed to a callback is borrowed for the callback; get's value is the
 * caller's to free.  Every function is thread-safe.
 */
#ifndef VIM_STORE_KV_H
#define VIM_STORE_KV_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_kv; /* a backend instance: starts with const struct store_kv_ops * */
struct store_kv_watch;

struct store_kv_key {
	const char *resource;
	const char *ns; /* "" for cluster-scoped (NULL is read as "") */
	const char *name;
};

/* One key and its value, as a range or a get gives it. */
struct store_kv_item {
	const char *ns, *name; /* the key's parts (resource is the range's) */
	const char *value;     /* not NUL-terminated: len bytes */
	size_t len;
	int64_t mod_rev;
};

struct store_kv_got {
	char *value; /* malloc'd, NUL-terminated after len bytes; the caller frees */
	size_t len;
	int64_t mod_rev;
};

struct store_kv_range {
	const char *resource;
	const char *ns; /* NULL/"" = every namespace */
	/* Start strictly after this key (in the backend's order); NULL name =
	 * from the first key. */
	const char *after_ns, *after_name;
	/* Read at this revision (etcd: a snapshot; VIM_EGONE once compacted);
	 * 0 = the current one.  sqlite keeps no old revisions: it reads the
	 * current data and says so in meta->rev. */
	int64_t rev;
	/* When fn stops the range, count the keys from the one it stopped at
	 * (inclusive) to the end into meta->remaining, if the backend can do
	 * it cheaply (else -1). */
	bool count_rest;
	/* The keys fn is expected to take before it stops (a list page's
	 * limit + 1: the one after the page says there are more); 0 = every
	 * key.  A backend that reads in pages asks for this many first, so a
	 * page of the API is one read (etcd 3.4 walks the rest of the range
	 * on every read it is asked). */
	int64_t want;
};

struct store_kv_range_meta {
	/* the revision the keys were read at; set before fn's first call, so
	 * the layer can refuse a continue token newer than the data before
	 * it hands out a single key */
	int64_t rev;
	int64_t remaining; /* see count_rest; -1 unknown, 0 when fn never stopped */
};

/* Called once per key in order.  0 goes on; a positive return stops the
 * range (range then returns 0); a negative one stops it and range returns
 * it.  A backend may read in pages of its own (etcd does, to keep memory
 * flat), all at one revision. */
typedef int (*store_kv_item_fn)(void *arg, const struct store_kv_item *it);

enum store_kv_op { STORE_KV_PUT = 0, STORE_KV_DELETE };

/* One compare-and-swap transaction on one key. */
struct store_kv_write {
	struct store_kv_key key;
	enum store_kv_op op;
	/* The compare: the key's mod_rev must be expect_rev; 0 = the key must
	 * not exist.  A mismatch writes nothing and is VIM_ECONFLICT. */
	int64_t expect_rev;
	/* PUT only: a lease from ops->lease_grant the key goes with when it
	 * expires (0 = none). */
	int64_t lease;
	/* The fence (etcd's concurrency.Election does the same with its
	 * leader key): when fence.name is set, the write also requires that
	 * key's mod_rev to be fence_rev, in the same transaction.  A key
	 * that is gone or was written since fails it: nothing is written and
	 * the write is VIM_EFENCED (not VIM_ECONFLICT: the layer never
	 * retries it).  A write that fails both compares is VIM_EFENCED. */
	struct store_kv_key fence;
	int64_t fence_rev;
	/* PUT only: makes the value.  rev is the revision this write will
	 * get (a backend with value_has_rev) or 0 (one without).  *text is
	 * the layer's: the backend reads it during the write and never frees
	 * it.  A negative return aborts the write with that code. */
	int (*encode)(void *arg, int64_t rev, const char **text, size_t *len);
	/* Called after the write committed and before any later write can
	 * commit (under the backend's write lock), only by a backend with
	 * ops->local: the layer publishes the change to its watch hub here, so
	 * watchers see revision order. */
	void (*committed)(void *arg, int64_t rev);
	void *arg;
};

/* What a backend's watch delivers, on a thread of its own, in revision
 * order, for every key of every resource. */
enum store_kv_event_type {
	STORE_KV_EV_PUT = 0,
	STORE_KV_EV_DELETE,
	/* Nothing changed up to rev: the watch has seen every write up to
	 * it (etcd's progress notification; also sent after a reconnect). */
	STORE_KV_EV_PROGRESS,
	/* The watch cannot go on from where it was (the revision it needs
	 * was compacted while it was away): no further events.  The layer
	 * reads everything again (range at the current revision) and starts
	 * a new watch from there. */
	STORE_KV_EV_GONE,
	/* The backend is unreachable / reachable again: the watch retries by
	 * itself and resumes after the last revision delivered.  rev is 0. */
	STORE_KV_EV_DOWN,
	STORE_KV_EV_UP,
};

struct store_kv_event {
	enum store_kv_event_type type;
	struct store_kv_key key; /* PUT / DELETE */
	const char *value;       /* PUT: the new value; DELETE: NULL */
	size_t len;
	int64_t rev; /* PUT / DELETE: the write's revision (= mod_rev) */
};

typedef void (*store_kv_event_fn)(void *arg, const struct store_kv_event *ev);

struct store_kv_ops {
	const char *name; /* "sqlite", "etcd" */
	/* Every write goes through this process and calls `committed` in
	 * revision order (sqlite): the layer feeds its watch hub from its own
	 * writes, and watch is NULL.  false (etcd): other processes may write
	 * as well; the layer feeds its hub and its cache from watch. */
	bool local;
	/* Values carry metadata.resourceVersion == mod_rev (see encode). */
	bool value_has_rev;

	int (*get)(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
	           struct vim_err *err);
	int (*range)(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn,
	             void *arg, struct store_kv_range_meta *meta, struct vim_err *err);
	/* *rev: the revision the write got. */
	int (*write)(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
	             struct vim_err *err);
	/* The backend's current revision, asked of it (etcd: one round trip;
	 * this is also the health check /readyz runs). */
	int (*current_rev)(struct store_kv *kv, int64_t *rev, struct vim_err *err);
	/* Starts a watch of every key from from_rev (inclusive); fn runs on
	 * the backend's own thread.  NULL for local backends. */
	int (*watch)(struct store_kv *kv, int64_t from_rev, store_kv_event_fn fn, void *arg,
	             struct store_kv_watch **out, struct vim_err *err);
	/* Stops it: after the return fn is never called again.  NULL is fine. */
	void (*watch_stop)(struct store_kv_watch *w);
	/* A lease of ttl_s seconds; keys put with it are deleted (a DELETE
	 * event) when it expires.  NULL: the backend has no leases (the layer
	 * then expires Events itself, by their lastTimestamp). */
	int (*lease_grant)(struct store_kv *kv, int64_t ttl_s, int64_t *id, struct vim_err *err);
	/* Renews lease id once (etcd's LeaseKeepAlive, one request and its
	 * answer): *ttl_s gets the TTL it has again.  A lease that expired
	 * or was revoked is VIM_ENOTFOUND.  NULL with lease_grant. */
	int (*lease_keepalive)(struct store_kv *kv, int64_t id, int64_t *ttl_s,
	                       struct vim_err *err);
	/* Revokes lease id: its keys are deleted at once (a DELETE event
	 * each).  An unknown lease is VIM_ENOTFOUND.  NULL with lease_grant. */
	int (*lease_revoke)(struct store_kv *kv, int64_t id, struct vim_err *err);
	/* Stops the backend's threads and frees it. */
	void (*close)(struct store_kv *kv);
};

struct store_kv {
	const struct store_kv_ops *ops;
};

/* ---- over any backend (kv_put.c) ------------------------------------------------- */

/* A store_kv_write.encode for a value known before the write: arg is its
 * NUL-terminated text (borrowed for the write), given as it is. */
int store_kv_encode_text(void *arg, int64_t rev, const char **text, size_t *len);

/* PUT text at key whatever is there: a read of its mod_rev and one
 * compare-and-swap on it, read and tried again (5 times at most) when
 * another write comes in between; lease 0 = none.  For keys that are no
 * API object's (the replicas' records, shared tokens, the canary memory),
 * whose one writer at a time is known.  *rev: the write's revision (may
 * be NULL). */
int store_kv_put(struct store_kv *kv, const struct store_kv_key *key, const char *text,
                 int64_t lease, int64_t *rev, struct vim_err *err);

/* ---- the backends -------------------------------------------------------------- */

/* SQLite in WAL mode at path (created if missing; a file that fails
 * quick_check is refused with VIM_EIO and the ways to recover). */
int store_kv_sqlite_open(struct store_kv **out, const char *path, struct vim_err *err);

/* etcd's v3 API through its JSON gateway (libcurl). */
struct store_kv_etcd_opts {
	/* "http://127.0.0.1:2379,http://127.0.0.1:22379": tried in turn, a
	 * dead member skipped (https:// with the TLS files below) */
	const char *endpoints;
	const char *prefix;                      /* key prefix; NULL = "/vimage" */
	const char *cafile, *certfile, *keyfile; /* NULL = none */
	int64_t timeout_ms;                      /* one request; 0 = 5000 */
};
int store_kv_etcd_open(struct store_kv **out, const struct store_kv_etcd_opts *o,
                       struct vim_err *err);

#endif
