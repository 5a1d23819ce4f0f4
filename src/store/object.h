/*
 * store/object — the Kubernetes object rules over a dumb backend
 * (store/kv.h): one implementation of struct store_ops for every backend.
 *
 * The layer assigns uid, generateName, creationTimestamp and generation;
 * checks resourceVersion and uid preconditions; keeps server-managed
 * metadata and status through update; lets finalizers hold a deleted
 * object; writes nothing for an update that changes nothing; runs
 * selectors and continue tokens; feeds the watch hub.  Every write is one
 * compare-and-swap on the key's mod_rev (kube's GuaranteedUpdate): a
 * write that loses the compare to another writer reads again and
 * re-applies, unless the caller's own resourceVersion precondition is the
 * one that failed (409).
 *
 * Reads: a local backend (kv->ops->local: sqlite) serves lists straight
 * from its range and watches from the hub the layer feeds in `committed`.
 * A remote one (etcd) gets a read side (struct store_reads) that keeps a
 * watch cache fed by the backend's watch: whole lists and watches come
 * from it, pages (limit/continue) and Exact reads from the backend at the
 * list's revision.
 */
#ifndef VIM_STORE_OBJECT_H
#define VIM_STORE_OBJECT_H

#include "store/internal.h"
#include "store/kv.h"

/* The read side of a store over a remote backend. */
struct store_reads;
struct store_reads_ops {
	const char *name;
	/* A list this side can serve (see store_list_opts' resourceVersion
	 * rules); VIM_EUNSUPPORTED when the layer must read the backend
	 * instead (a page: limit or continue; resourceVersionMatch=Exact). */
	int (*list)(struct store_reads *r, const char *resource, const struct store_list_opts *o,
	            store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err);
	/* store_watch: waits (≤ 3 s, else VIM_ETIMEDOUT "Too large resource
	 * version") until it has seen o->resource_version, then registers
	 * with the hub at the revision it has seen. */
	int (*watch)(struct store_reads *r, const char *resource, const struct store_watch_opts *o,
	             struct store_watch **out, struct vim_err *err);
	/* The revision it has seen (store_current_rv). */
	int64_t (*current_rv)(struct store_reads *r);
	void (*close)(struct store_reads *r); /* before the kv and the hub */
};
struct store_reads {
	const struct store_reads_ops *ops;
};

/* Opens a read side over kv and hub (both borrowed: they outlive it),
 * after its first full read of every resource. */
typedef int (*store_reads_open_fn)(struct store_reads **out, struct store_kv *kv,
                                   struct store_hub *hub, struct vim_err *err);

struct store_object_opts {
	int64_t history;       /* the hub's changes (10000) */
	int64_t history_bytes; /* and bytes (32 MiB) */
	/* Events older than this are removed: by a lease on a backend with
	 * leases, else by the expiry thread (store_event_expiry); 0 = kept. */
	int64_t event_ttl_s;
	int64_t event_expire_every_ms;
	/* NULL for a local backend; store_wcache_open for a remote one. */
	store_reads_open_fn reads_open;
};

/* The store over kv (taken: closed by store_close, also on failure). */
int store_object_open(struct store **out, struct store_kv *kv, const struct store_object_opts *o,
                      struct vim_err *err);

/* The object's text with metadata.resourceVersion set to rv (a new
 * malloc'd, NUL-terminated string, *out_len bytes); NULL when text is not
 * a JSON object or out of memory.  For values of a backend without
 * value_has_rev. */
char *store_text_with_rv(const char *text, size_t len, int64_t rv, size_t *out_len);
/* obj's metadata.resourceVersion = rv as kube writes it (decimal text);
 * obj must have a metadata object.  0, or VIM_ENOMEM. */
int store_set_rv(json_t *obj, int64_t rv);

#endif
