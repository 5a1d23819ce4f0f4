#include "core/cond.h"

#include "core/err.h"
#include "core/timeutil.h"

#include <errno.h>
#include <time.h>

int vim_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int rc;

	if (pthread_condattr_init(&a) != 0)
		return VIM_ENOMEM;
	rc = pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	if (rc == 0)
		rc = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return rc == 0 ? 0 : rc == ENOMEM || rc == EAGAIN ? VIM_ENOMEM : VIM_EINTERNAL;
}

int64_t vim_deadline_ms(int64_t ms)
{
	return vim_mono_ms() + ms;
}

int vim_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t deadline_ms)
{
	struct timespec ts;

	/* the deadline is checked here too: a wait that starts late (the
	 * caller was descheduled) ends at once, not a full tick later */
	if (deadline_ms <= vim_mono_ms())
		return VIM_ETIMEDOUT;
	ts.tv_sec = (time_t)(deadline_ms / 1000);
	ts.tv_nsec = (long)(deadline_ms % 1000) * 1000000L;
	return pthread_cond_timedwait(c, mu, &ts) == ETIMEDOUT ? VIM_ETIMEDOUT : 0;
}
