/* core/rate — minimum transfer speed over whole windows. */
#include "core/rate.h"

void vim_rate_init(struct vim_rate *r, uint64_t min_bps, int64_t window_ms)
{
	r->min_bps = min_bps > VIM_RATE_MAX_BPS ? VIM_RATE_MAX_BPS : min_bps;
	r->window_ms = window_ms > VIM_RATE_MAX_WINDOW_MS ? VIM_RATE_MAX_WINDOW_MS : window_ms;
	if (r->window_ms <= 0)
		r->min_bps = 0;
	r->start_ms = 0;
	r->start_bytes = 0;
	r->paused_ms = 0;
}

void vim_rate_pause(struct vim_rate *r, int64_t ms)
{
	if (ms > 0)
		r->paused_ms += ms;
}

bool vim_rate_stalled(struct vim_rate *r, int64_t now_ms, uint64_t bytes, uint64_t *sent)
{
	uint64_t moved, want;

	if (!r->min_bps)
		return false;
	if (r->start_ms == 0) {
		r->start_ms = now_ms;
		r->start_bytes = bytes;
		r->paused_ms = 0;
		return false;
	}
	if (now_ms - r->start_ms - r->paused_ms < r->window_ms)
		return false;
	moved = bytes >= r->start_bytes ? bytes - r->start_bytes : 0;
	/* both bounded (2^32 B/s, a week in ms < 2^30): no overflow */
	want = r->min_bps * (uint64_t)r->window_ms / 1000;
	if (moved < want) {
		*sent = moved;
		return true;
	}
	r->start_ms = now_ms;
	r->start_bytes = bytes;
	r->paused_ms = 0;
	return false;
}

int vim_rate_fail(struct vim_err *err, const char *prefix, const char *who, const char *verb,
                  const struct vim_rate *r, uint64_t sent)
{
	int64_t ms = r->window_ms;

	if (ms % 1000 == 0)
		return vim_err_set(
		    err, VIM_ETIMEDOUT,
		    "%s%s %s %llu bytes in the last %lld s (minimum %llu B/s): stalled", prefix,
		    who, verb, (unsigned long long)sent, (long long)(ms / 1000),
		    (unsigned long long)r->min_bps);
	return vim_err_set(err, VIM_ETIMEDOUT,
	                   "%s%s %s %llu bytes in the last %.1f s (minimum %llu B/s): stalled",
	                   prefix, who, verb, (unsigned long long)sent, (double)ms / 1000.0,
	                   (unsigned long long)r->min_bps);
}
