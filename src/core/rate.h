/*
 * core/rate — a transfer's minimum speed.  A source (or a registry) that
 * sends 1 B/s never trips "no byte for N s", yet holds an import slot for
 * days.  The rate is judged over whole windows: once a window of
 * window_ms has passed, fewer than min_bps * window bytes in it is a stall.
 *
 * Time the transfer spent waiting on the other side of the pipe (our
 * consumer applying backpressure, or our producer having nothing to send)
 * is not the peer's fault and does not count: the caller reports it with
 * vim_rate_pause, so a slow registry is never blamed on the source.
 */
#ifndef VIM_CORE_RATE_H
#define VIM_CORE_RATE_H

#include "core/err.h"

#include <stdbool.h>
#include <stdint.h>

struct vim_rate {
	uint64_t min_bps;  /* 0 = no minimum */
	int64_t window_ms; /* > 0 when min_bps is */
	int64_t start_ms;  /* the current window's start; 0 = not started */
	uint64_t start_bytes;
	int64_t paused_ms; /* of the current window, not the peer's fault */
};

/* Bounds of the flags that set a minimum (and of the arithmetic). */
#define VIM_RATE_MAX_BPS ((uint64_t)1 << 32)
#define VIM_RATE_MAX_WINDOW_MS ((int64_t)7 * 24 * 3600 * 1000)

/* min_bps 0 (or window_ms <= 0) turns the check off. */
void vim_rate_init(struct vim_rate *r, uint64_t min_bps, int64_t window_ms);

/* Time (ms) spent waiting on our side of the transfer. */
void vim_rate_pause(struct vim_rate *r, int64_t ms);

/* bytes: the transfer's total so far.  true once a whole window moved too
 * little; *sent gets what it moved. */
bool vim_rate_stalled(struct vim_rate *r, int64_t now_ms, uint64_t bytes, uint64_t *sent);

/* "<who> <verb> 12 bytes in the last 60 s (minimum 1024 B/s): stalled"
 * (who: "the source", verb: "sent"), code VIM_ETIMEDOUT. */
int vim_rate_fail(struct vim_err *err, const char *prefix, const char *who, const char *verb,
                  const struct vim_rate *r, uint64_t sent);

#endif
