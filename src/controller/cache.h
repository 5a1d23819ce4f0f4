/*
 * controller/cache — an in-memory copy of one resource, fed by the store's
 * watch (list, then watch from the list's resourceVersion; relist on 410),
 * so a reconcile reads no database.  client-go's informer, in C.
 *
 * Objects are kept as compact JSON text (a few hundred bytes each) rather
 * than parsed trees: 100,000 images cost tens of MiB, not hundreds.
 *
 * Keys are "<namespace>/<name>" for namespaced objects and "<name>" for
 * cluster-scoped ones.  Thread-safe: readers take a shared lock, the feed
 * thread an exclusive one; callbacks run on the feed thread without any
 * cache lock held.
 */
#ifndef VIM_CONTROLLER_CACHE_H
#define VIM_CONTROLLER_CACHE_H

#include "core/err.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define CTL_KEY_MAX 320

struct ctl_cache;

/* Told after the cache changed: key (borrowed, valid during the call) and
 * what happened.  A relist reports every object it (re)saw as ADDED or
 * MODIFIED and every object that vanished meanwhile as DELETED. */
typedef void (*ctl_cache_fn)(void *arg, const char *key, enum store_event_type type);

/* Lists resource from s (borrowed; must outlive the cache), then follows
 * its watch on a thread of its own.  Returns once the first list is in the
 * cache (so a caller can rely on it being synced).  *out is freed with
 * ctl_cache_stop. */
int ctl_cache_start(struct ctl_cache **out, struct store *s, const char *resource,
                    ctl_cache_fn on_change, void *arg, struct vim_err *err);

/* Stops the feed thread and frees everything.  NULL is fine. */
void ctl_cache_stop(struct ctl_cache *c);

/* The cached object under key, parsed: a new reference the caller decrefs,
 * or NULL when the cache does not hold it. */
json_t *ctl_cache_get(struct ctl_cache *c, const char *key);

/* Calls fn for every key with the object's status.phase ("" when none),
 * kept beside the text so that walks by phase parse nothing (a snapshot
 * taken under the lock, so fn may call ctl_cache_get or enqueue freely). */
#define CTL_PHASE_MAX 32
typedef void (*ctl_cache_visit_fn)(void *arg, const char *key, const char *phase);
int ctl_cache_foreach(struct ctl_cache *c, ctl_cache_visit_fn fn, void *arg);

size_t ctl_cache_len(struct ctl_cache *c);

/* The key of an object ("ns/name" or "name"); 0 or VIM_EINVAL. */
int ctl_cache_key(const json_t *obj, char out[CTL_KEY_MAX]);

#endif
