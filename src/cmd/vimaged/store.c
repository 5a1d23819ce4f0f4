/*
 * vimaged/store — the store main opens (--store sqlite|etcd), its health
 * as /readyz and /metrics see it, and the runs that use the store and
 * exit (--store-export, --store-import).
 */
#include "vimaged.h"
#include "core/log.h"
#include "store/export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int vimaged_store_open(struct store **out, const struct options *o, char *where, size_t cap,
                       struct vim_err *err)
{
	int64_t ttl_s = (o->event_ttl_ms + 999) / 1000; /* "0.5" is not 0 (kept) */
	char path[4096];

	*out = NULL;
	if (strcmp(o->store, "etcd") == 0) {
		struct store_etcd_opts eo = {.endpoints = o->etcd_endpoints,
		                             .prefix = o->etcd_prefix,
		                             .cafile = o->etcd_cafile,
		                             .certfile = o->etcd_certfile,
		                             .keyfile = o->etcd_keyfile,
		                             .timeout_ms = o->etcd_timeout_ms,
		                             .event_ttl_s = ttl_s};
		snprintf(where, cap, "etcd %s, prefix %s", o->etcd_endpoints, o->etcd_prefix);
		return store_etcd_open(out, &eo, err);
	}
	struct store_sqlite_opts so = {.event_ttl_s = ttl_s};
	snprintf(path, sizeof(path), "%s/vimage.db", o->data_dir);
	snprintf(where, cap, "sqlite %s", path);
	return store_sqlite_open_opts(out, path, &so, err);
}

/* ---- health ----------------------------------------------------------------------- */

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

/* ---- export / import -------------------------------------------------------------- */

int vimaged_store_transfer(struct store *s, const struct options *o, struct vim_err *err)
{
	/* the report goes where the data does not */
	FILE *report = (o->store_export && strcmp(o->store_export, "-") == 0) ? stderr : stdout;
	struct store_import_result res;
	size_t n = 0;
	int rc;

	if (o->store_export) {
		if ((rc = store_export_file(s, o->store_export, &n, err)) < 0)
			return rc;
		fprintf(report, "exported %zu objects to %s\n", n, o->store_export);
		return 0;
	}
	if ((rc = store_import_file(s, o->store_import, &res, err)) < 0)
		return rc;
	fprintf(report, "imported %zu objects (%zu namespaces kept) from %s\n", res.objects,
	        res.kept, o->store_import);
	return 0;
}
