/*
 * vimaged/health — a remote store's health (etcd) as /readyz and /metrics
 * see it: store_health once a second on a thread of its own, so /readyz
 * answers from the last result at once instead of a request waiting out
 * etcd's timeout, and etcd is asked once a second however often /readyz
 * is.
 */
#include "vimaged.h"
#include "core/log.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

struct vimaged_health {
	struct store *store;     /* borrowed */
	struct api_ready *ready; /* borrowed */
	int64_t every_ms;
	atomic_int up;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	pthread_t th;
};

/* One check: /readyz's "store" line and the up flag follow it; a change
 * is logged once, not every second. */
static void check_once(struct vimaged_health *h)
{
	struct vim_err err = {0};
	int rc = store_health(h->store, &err);
	int was = atomic_exchange(&h->up, rc == 0);

	api_ready_set(h->ready, "store", rc == 0, rc == 0 ? NULL : err.msg);
	if (rc < 0 && was)
		vim_log(VIM_LOG_WARN, "store: unreachable: %s", err.msg);
	else if (rc == 0 && !was)
		vim_log(VIM_LOG_INFO, "store: reachable again");
}

static void *health_main(void *arg)
{
	struct vimaged_health *h = arg;
	struct timespec until;

	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		pthread_mutex_unlock(&h->mu);
		check_once(h); /* never under mu: a check may take the etcd timeout */
		pthread_mutex_lock(&h->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += h->every_ms / 1000;
		until.tv_nsec += (h->every_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

int vimaged_health_start(struct vimaged_health **out, struct store *s, struct api_ready *ready,
                         int64_t every_ms, struct vim_err *err)
{
	struct vimaged_health *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	*out = NULL;
	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "store health: out of memory");
	h->store = s;
	h->ready = ready;
	h->every_ms = every_ms > 0 ? every_ms : 1000;
	atomic_init(&h->up, 1); /* it has just been opened */
	pthread_mutex_init(&h->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&h->th, NULL, health_main, h) != 0) {
		pthread_cond_destroy(&h->cv);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return vim_err_set(err, VIM_ENOMEM, "store health: cannot start its thread");
	}
	*out = h;
	return 0;
}

int vimaged_health_up(struct vimaged_health *h)
{
	return h ? atomic_load(&h->up) : -1;
}

void vimaged_health_stop(struct vimaged_health *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->th, NULL);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h);
}
