/*
 * controller/queue — the controllers' work queue, client-go's semantics in
 * C: keys ("vi/ns/name") are de-duplicated; a key being processed is never
 * handed to a second worker (re-adds mark it dirty and it comes back when
 * done); delayed adds sit in one timer heap (not a thread per key); failed
 * keys back off exponentially per key.
 *
 * Thread-safe.  The queue owns copies of the keys it is given.
 */
#ifndef VIM_CONTROLLER_QUEUE_H
#define VIM_CONTROLLER_QUEUE_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>

struct ctl_queue;

struct ctl_queue_opts {
	int64_t backoff_base_ms; /* 0 = 100 ms */
	int64_t backoff_max_ms;  /* 0 = 5 min */
	/* Monotonic milliseconds; NULL = the real clock.  Tests drive time. */
	int64_t (*now_ms)(void *self);
	void *clock_self;
};

int ctl_queue_new(struct ctl_queue **out, const struct ctl_queue_opts *o, struct vim_err *err);
/* Frees; call after ctl_queue_shutdown and after the workers left. */
void ctl_queue_free(struct ctl_queue *q);

/* Ready now (unless already waiting).  After shutdown: a no-op. */
void ctl_queue_add(struct ctl_queue *q, const char *key);
/* Ready after delay_ms; of two pending delays the earlier wins. */
void ctl_queue_add_after(struct ctl_queue *q, const char *key, int64_t delay_ms);
/* Ready after the key's next backoff step (base * 2^failures, capped). */
void ctl_queue_add_rate_limited(struct ctl_queue *q, const char *key);
/* Resets the key's failure count. */
void ctl_queue_forget(struct ctl_queue *q, const char *key);
/* Drops the key's pending timer, if any (a later decision replaces it). */
void ctl_queue_cancel_after(struct ctl_queue *q, const char *key);
int ctl_queue_failures(struct ctl_queue *q, const char *key);

/* Waits up to timeout_ms for a ready key: 1 (copied into buf), 0 on
 * timeout, VIM_ECANCELED after shutdown.  The key is "processing" until
 * ctl_queue_done. */
int ctl_queue_get(struct ctl_queue *q, char *buf, size_t len, int timeout_ms);
void ctl_queue_done(struct ctl_queue *q, const char *key);

size_t ctl_queue_len(struct ctl_queue *q);         /* ready keys */
size_t ctl_queue_delayed_len(struct ctl_queue *q); /* keys waiting on a timer */
size_t ctl_queue_tracked(struct ctl_queue *q);     /* keys with any state (tests) */

/* Wakes every getter (they return VIM_ECANCELED) and refuses new adds. */
void ctl_queue_shutdown(struct ctl_queue *q);

#endif
