/*
 * store/internal — pieces shared by the store's files and by any backend:
 * selectors, the watch hub (fan-out + bounded history), and small helpers.
 * Not part of the store contract.
 */
#ifndef VIM_STORE_INTERNAL_H
#define VIM_STORE_INTERNAL_H

#include "model/model.h"
#include "store/store.h"

#include <pthread.h>

/* ---- selectors ------------------------------------------------------------ */

struct store_selector; /* parsed label + field selector; NULL matches all */

/* Parses both (either may be NULL/""); *out NULL when both are empty.
 * resource decides which field keys are allowed.  VIM_EINVAL with a
 * message naming the bad part. */
int store_selector_parse(struct store_selector **out, const char *resource,
                         const char *label_selector, const char *field_selector,
                         struct vim_err *err);
bool store_selector_match(const struct store_selector *sel, const json_t *obj);
void store_selector_free(struct store_selector *sel);

/* ---- the watch hub ----------------------------------------------------------- */

struct store_hub;

int store_hub_new(struct store_hub **out, int64_t history, struct vim_err *err);
/* Wakes and detaches every watcher (they get VIM_ECANCELED), then frees. */
void store_hub_free(struct store_hub *h);
/* Open watchers and history length, for the backends' watch_stats. */
void store_hub_stats(struct store_hub *h, size_t *watchers, size_t *history);

/* Publishes one change (the caller serialises publishes in RV order).
 * obj (borrowed) gives the namespace and what selectors see; text
 * (stolen: obj's compact JSON, len bytes) is what the history keeps and
 * watchers get.  prev (stolen, may be NULL) is store_hub_selectable of
 * the object before a MODIFIED change: without it a watcher whose
 * selector the change moves the object into or out of could not be sent
 * ADDED / DELETED; ignored for ADDED and DELETED (a DELETED change's obj
 * is the last state). */
void store_hub_publish_text(struct store_hub *h, const char *resource, enum store_event_type type,
                            const json_t *obj, char *text, size_t len, json_t *prev, int64_t rv);
/* store_hub_publish_text of obj (stolen) serialised here. */
void store_hub_publish(struct store_hub *h, const char *resource, enum store_event_type type,
                       json_t *obj, json_t *prev, int64_t rv);
/* What selectors can see of obj (metadata's name, namespace, uid, labels,
 * status.phase, the event fields), sharing obj's values by reference: for
 * a 1.2 KiB image ~1.6 KiB of new heap, ~2.9 KiB with the labels and
 * strings it keeps alive (a parsed copy is ~6.7 KiB).  The hub keeps it
 * as text (~0.3 KiB).  NULL when out of memory.  Build it before
 * changing obj in place. */
json_t *store_hub_selectable(const json_t *obj);
/* Wakes the watchers of what was published since the last call.  Separate
 * from publishing so a backend can wake them after releasing its own write
 * lock: a watcher woken inside it preempts the writer, and every other
 * writer then queues behind a preempted lock holder. */
void store_hub_wake(struct store_hub *h);

/* Bounds the history by the bytes of its changes' JSON text as well as by
 * their count (0 = the default, 32 MiB): evicting moves the floor a
 * resuming watcher may ask for, as the count bound does (410 Gone). */
void store_hub_limit_bytes(struct store_hub *h, int64_t max_bytes);
/* The history's bytes (as store_hub_limit_bytes counts them). */
size_t store_hub_history_bytes(struct store_hub *h);

/* Starts the hub again at rv (a remote backend's cache read everything
 * again at rv, its watch having lost its place): every open watcher is
 * woken and gets VIM_EGONE (its client lists again), the history is
 * dropped, and from then on a watch may resume from rv or later only —
 * every change after rv is published, whatever revisions it skips.  A
 * watch cache also calls it once at open, with the revision of its first
 * read, for that last property. */
void store_hub_reset(struct store_hub *h, int64_t rv);

/* Registers a watcher for resource (opts borrowed; selectors copied);
 * current_rv is the store's RV at the time of the call. */
int store_hub_watch(struct store_hub *h, const char *resource, const struct store_watch_opts *o,
                    int64_t current_rv, struct store_watch **out, struct vim_err *err);

/* ---- event expiry ---------------------------------------------------------------- */

/* A thread that runs store_event_expire(s, now, ttl_s) at start and then
 * whenever the oldest Event kept is due, at most once per every_ms (0 =
 * 60 s).  A backend starts it at open when its options set a TTL and stops
 * it first thing at close (s must stay usable until then). */
struct store_event_expiry;
int store_event_expiry_start(struct store_event_expiry **out, struct store *s, int64_t ttl_s,
                             int64_t every_ms, struct vim_err *err);
void store_event_expiry_stop(struct store_event_expiry *x); /* NULL is fine */

/* ---- the fence (fenced.c) -------------------------------------------------------- */

/* Whether f lets a write through now: 0 with *rev its revision to
 * compare, or VIM_EFENCED (message: what, f's key, "this replica no
 * longer leads") when it is closed (rev 0) or past until_ms.  Read once:
 * the keeper may change it at any moment, and the backend's compare of
 * *rev is what decides. */
int store_fence_check(const struct store_fence *f, const char *what, int64_t *rev,
                      struct vim_err *err);
/* A backend's refusal of a fenced write, one wording for all: who ("etcd:
 * put /vimage/...", "store: /path/vimage.db") failed the fence key (as the
 * backend names it) wanted at want and found at seen (0: gone).  Returns
 * VIM_EFENCED. */
int store_fence_refused(const char *who, const char *key, int64_t want, int64_t seen,
                        struct vim_err *err);

/* ---- helpers ------------------------------------------------------------------ */

/* json_object_get(json_object_get(obj, "metadata"), key) as a string. */
const char *store_meta_str(const json_t *obj, const char *key);
/* Random UUID v4 text (37 bytes). */
void store_uuid(char out[37]);
/* The model kind a resource holds (its plural), borrowed from the kind
 * table; NULL for the core resources (events, namespaces).  The one place
 * the store reads the kind table: its facts (qualified name, namespaced,
 * field selectors) decide, never a resource name spelled here. */
const struct model_kind_info *store_kind_of(const char *resource);
/* "virtualimages.virtualization.deckhouse.io", "events", ... */
void store_qualified(char *out, size_t len, const char *resource);

#endif
