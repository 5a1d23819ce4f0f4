/* controller/backoff — upstream's stateless progressive backoff. */
#include "controller/chain.h"

int64_t ctl_backoff_progressive(int64_t elapsed_ms, int64_t base_ms, int64_t max_ms)
{
	if (elapsed_ms < base_ms)
		return base_ms;
	if (elapsed_ms > max_ms)
		return max_ms;
	return elapsed_ms;
}

/* Derived from when the image became lost, not from a counter, so the
 * interval survives restarts and needs no state of its own. */
int64_t ctl_lost_recheck_ms(const struct model_status *st, int64_t now)
{
	const struct model_condition *c = model_condition_get(st, MODEL_COND_READY);

	if (!c || c->last_transition_time == 0)
		return CTL_LOST_RECHECK_BASE_MS;
	return ctl_backoff_progressive((now - c->last_transition_time) * 1000,
	                               CTL_LOST_RECHECK_BASE_MS, CTL_LOST_RECHECK_MAX_MS);
}
