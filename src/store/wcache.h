/*
 * store/wcache — the watch cache of a store over a remote backend (etcd),
 * as kube-apiserver's cacher: every object of every resource in memory as
 * its compact JSON text (with metadata.resourceVersion), fed by one watch
 * of the backend from the revision of a first full read.  It serves whole
 * lists and starts watches (struct store_reads, store/object.h); the hub
 * (borrowed) gets every change in revision order, with the previous state's
 * selectable view for MODIFIED.
 *
 * Consistency (store_list_opts): resourceVersion unset — the backend's
 * current revision is asked first (one round trip) and the list waits
 * until the cache has seen it (KEP-2340's consistent reads from cache;
 * after a bounded wait it reads the backend instead); "0" — the cache as
 * it is; N (NotOlderThan) — waits until the cache has seen N (≤ 3 s, else
 * VIM_ETIMEDOUT "Too large resource version"); Exact, limit or continue
 * — VIM_EUNSUPPORTED (the layer reads the backend at that revision).
 *
 * When the backend's watch cannot resume (STORE_KV_EV_GONE: compacted
 * while away) the cache reads everything again and every open watch ends
 * with VIM_EGONE (its client relists), as the cacher's do.  While the
 * backend is down lists still need its revision, so they fail with
 * VIM_EUNAVAILABLE naming it; the cache resumes by itself.
 */
#ifndef VIM_STORE_WCACHE_H
#define VIM_STORE_WCACHE_H

#include "store/object.h"

/* A store_reads_open_fn. */
int store_wcache_open(struct store_reads **out, struct store_kv *kv, struct store_hub *hub,
                      struct vim_err *err);

/* What it holds (for /metrics and the RSS budget). */
void store_wcache_stats(struct store_reads *r, size_t *objects, size_t *bytes);

#endif
