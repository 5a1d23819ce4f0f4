/*
 * vimaged/wiring — plugs DVCR into the controllers: the presence checker
 * (the monitor), the cleaner (dvcr_image_remove_url), the registry's
 * notifications, the importer.  Without --dvcr-url it
 * starts and supervises a docker-registry of its own (dvcr/managed).
 */
#include "vimaged.h"
#include "core/log.h"
#include "core/sysutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int read_secret(const char *path, char *out, size_t len, struct vim_err *err)
{
	if (vim_file_first_line(path, out, len) < 0)
		return vim_err_set(err, VIM_EINVAL, "--dvcr-password-file %s: cannot read it",
		                   path);
	return 0;
}

/* ctl_dvcr_cleaner over dvcr (self: the client): the image's address is
 * all the removal needs. */
static int clean(void *self, const struct model_image *img, struct vim_err *err)
{
	return dvcr_image_remove_url(self, img->status.target_registry_url, err);
}

static void set_live(struct wiring *w, bool live)
{
	pthread_rwlock_wrlock(&w->live_rw);
	pthread_mutex_lock(&w->up_mu);
	atomic_store(&w->live, live);
	pthread_mutex_unlock(&w->up_mu);
	pthread_rwlock_unlock(&w->live_rw);
}

/* An upload into this replica's importer ended. */
static void up_done(struct wiring *w)
{
	pthread_mutex_lock(&w->up_mu);
	w->uploads--;
	pthread_cond_broadcast(&w->up_cv);
	pthread_mutex_unlock(&w->up_mu);
}

static void kick(void *arg, enum model_kind kind, const char *key)
{
	struct wiring *w = arg;

	pthread_mutex_lock(&w->kick_mu);
	if (w->kick_target)
		ctl_manager_enqueue(w->kick_target, kind, key);
	pthread_mutex_unlock(&w->kick_mu);
}

/* An upload this replica receives: into its own importer while it leads,
 * else passed on to the leader (forward.c). */
struct up {
	struct wiring *w;
	struct imp_upload *local; /* counted in w->uploads */
	struct fwd_upload *fwd;   /* or this, to the leader */
};

static int up_begin(void *arg, const char *token, int64_t length, void **h, struct vim_err *err)
{
	struct wiring *w = arg;
	struct imp_manager *m = NULL;
	struct up *u;
	int rc;

	*h = NULL;
	if (!(u = calloc(1, sizeof(*u))))
		return vim_err_set(err, VIM_ENOMEM, "upload: out of memory");
	u->w = w;
	/* counted before it starts: wiring_unlead frees no importer an upload
	 * is still feeding */
	pthread_mutex_lock(&w->up_mu);
	if (atomic_load(&w->live) && w->importer) {
		m = w->importer;
		w->uploads++;
	}
	pthread_mutex_unlock(&w->up_mu);
	if (!m) {
		char leader[300];

		/* another replica leads: the bytes go through to it */
		rc = vimaged_ha_leader_url(w, leader, sizeof(leader), err);
		if (rc == VIM_ENOTFOUND) /* one replica: its controllers are not running */
			rc = vim_err_set(err, VIM_ENOTFOUND,
			                 "no image waits for an upload at this URL");
		else if (rc == VIM_EEXIST || rc == VIM_EUNAVAILABLE)
			rc = vim_err_set(err, VIM_EUNAVAILABLE,
			                 rc == VIM_EEXIST
			                     ? "this replica has just come to lead and its "
			                       "controllers are starting: try the upload again"
			                     : "no replica leads right now: try the upload again");
		else if (rc == 0)
			rc = fwd_upload_begin(&u->fwd, leader, token, length, w->o->tls_cert, err);
		if (rc < 0) {
			free(u);
			return rc;
		}
		*h = u;
		return 0;
	}
	if ((rc = imp_upload_begin(m, token, length, &u->local, err)) < 0) {
		up_done(w);
		free(u);
		return rc;
	}
	*h = u;
	return 0;
}

static int up_data(void *h, const void *data, size_t len, struct vim_err *err)
{
	struct up *u = h;

	if (u->fwd)
		return fwd_upload_data(u->fwd, data, len, err);
	return imp_upload_data(u->local, data, len, err);
}

static int up_end(void *h, bool ok, struct vim_err *err)
{
	struct up *u = h;
	int rc;

	if (u->fwd) {
		rc = fwd_upload_end(u->fwd, ok, err);
	} else {
		rc = imp_upload_end(u->local, ok, err);
		up_done(u->w);
	}
	free(u);
	return rc;
}

const struct api_upload_ops wiring_upload_ops = {up_begin, up_data, up_end};

/* The DVCR client: to --dvcr-url, or to a registry of our own under
 * DIR/dvcr.  *url is borrowed (options or w->registry). */
static int open_dvcr(struct wiring *w, const struct options *o, const char **url,
                     struct vim_err *err)
{
	struct dvcr_config dc = {0};
	char password[512] = "", dir[4200], events[400];
	int rc;

	*url = o->dvcr_url;
	if (!*url) {
		struct dvcr_managed_config mc = {.dir = dir, .notify_token = o->notify_token};
		snprintf(dir, sizeof(dir), "%s/dvcr", o->data_dir);
		if (o->api_url) {
			snprintf(events, sizeof(events), "%s/dvcr/events", o->api_url);
			mc.notify_url = events;
		}
		if ((rc = dvcr_managed_start(&w->registry, &mc, err)) < 0)
			return rc;
		*url = dvcr_managed_url(w->registry);
		dc.username = dvcr_managed_username(w->registry);
		dc.password = dvcr_managed_password(w->registry);
		dc.head_trusted = 1; /* its config has no blob descriptor cache */
	} else {
		dc.username = o->dvcr_username;
		dc.ca_file = o->dvcr_ca_file;
		dc.head_trusted = o->dvcr_trust_head;
		if (o->dvcr_password_file &&
		    (rc = read_secret(o->dvcr_password_file, password, sizeof(password), err)) < 0)
			return rc;
		dc.password = password[0] ? password : NULL;
	}
	dc.base_url = *url;
	/* a registry that takes 1 B/s must not hold an import slot either */
	dc.min_rate_bps = o->import_min_rate;
	dc.rate_window_ms = o->import_stall_window_ms;
	return dvcr_client_new(&w->dvcr, &dc, err);
}

void wiring_init(struct wiring *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->kick_mu, NULL);
	pthread_mutex_init(&w->dl_mu, NULL);
	pthread_cond_init(&w->dl_cv, NULL);
	pthread_mutex_init(&w->up_mu, NULL);
	pthread_cond_init(&w->up_cv, NULL);
	pthread_rwlock_init(&w->live_rw, NULL);
}

void wiring_fini(struct wiring *w)
{
	pthread_mutex_destroy(&w->kick_mu);
	pthread_mutex_destroy(&w->dl_mu);
	pthread_cond_destroy(&w->dl_cv);
	pthread_mutex_destroy(&w->up_mu);
	pthread_cond_destroy(&w->up_cv);
	pthread_rwlock_destroy(&w->live_rw);
}

int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err)
{
	int rc;

	w->store = store;
	w->o = o;
	if ((rc = open_dvcr(w, o, &w->dvcr_url, err)) < 0 ||
	    (rc = dvcr_client_host(w->dvcr, w->dvcr_host, sizeof(w->dvcr_host), err)) < 0) {
		wiring_stop(w);
		return rc;
	}
	atomic_store(&w->dvcr_up, true);
	return 0;
}

int wiring_lead(struct wiring *w, struct vim_err *err)
{
	const struct options *o = w->o;
	struct ctl_manager_config mc = {.store = w->ctl_store ? w->ctl_store : w->store};
	struct ctl_monitor_config pc = {0};
	struct imp_config ic = {0};
	char secrets[4200], marker[4200];
	int rc;

	if (w->manager)
		return 0;
	mc.workers = o->workers;
	pc.dvcr = w->dvcr;
	pc.probe_interval_ms = o->probe_interval_ms;
	pc.sweep_interval_ms = o->sweep_interval_ms;
	pc.max_rps = o->max_rps;
	snprintf(marker, sizeof(marker), "%s/dvcr-canary", o->data_dir);
	pc.marker_path = marker;
	pc.marker_id = w->dvcr_url;
	if (w->ha) {
		/* the next leader must know this one placed the canary */
		pc.canary_recall = vimaged_ha_canary_recall;
		pc.canary_remember = vimaged_ha_canary_remember;
		pc.canary_outage = vimaged_ha_canary_outage;
		pc.canary_arg = w->ha;
	}
	if ((rc = ctl_monitor_new(&w->monitor, &pc, err)) < 0)
		goto fail;
	mc.checker = ctl_monitor_checker(w->monitor);
	mc.cleaner = (struct ctl_dvcr_cleaner){clean, w->dvcr};
	ic.dvcr = w->dvcr;
	ic.dvcr_host = w->dvcr_host;
	/* now, not after start: the controllers restart the jobs of images
	 * waiting for an upload at once (a restart, a new leader), and their
	 * URLs must name a host */
	ic.upload_base = w->upload_base;
	ic.kick = kick;
	ic.kick_arg = w;
	ic.max_imports = o->import_workers;
	ic.min_rate_bps = o->import_min_rate;
	ic.stall_window_ms = o->import_stall_window_ms;
	snprintf(secrets, sizeof(secrets), "%s/secrets", o->data_dir);
	ic.secrets_dir = secrets;
	if ((rc = imp_manager_new(&w->importer, &ic, err)) < 0)
		goto fail;
	mc.jobs = wiring_jobs(w->importer,
	                      (o->upload_timeout_ms + 999) / 1000); /* "0.5" is not 0 (none) */
	if ((rc = ctl_manager_start(&w->manager, &mc, err)) < 0)
		goto fail;
	pthread_mutex_lock(&w->kick_mu);
	w->kick_target = w->manager;
	pthread_mutex_unlock(&w->kick_mu);
	if ((rc = ctl_monitor_start(w->monitor, w->manager, err)) < 0)
		goto fail;
	vim_log(VIM_LOG_INFO, "controllers: %d workers, DVCR %s%s", mc.workers, w->dvcr_url,
	        w->registry ? " (managed)" : "");
	set_live(w, true);
	return 0;
fail:
	wiring_unlead(w);
	return rc;
}

/* The importer once no upload feeds it: uploads in flight are canceled
 * (their next chunk fails, their request ends) and waited for a while; one
 * whose client sends nothing may hold it until the API's transfer idle
 * timeout, so after UNLEAD_WAIT_MS the importer is parked, freed at stop
 * (after the API, which ends every request). */
#define UNLEAD_WAIT_MS 3000

static void drop_importer(struct wiring *w)
{
	struct timespec until;
	size_t i;

	if (!w->importer)
		return;
	imp_manager_cancel(w->importer);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += UNLEAD_WAIT_MS / 1000;
	pthread_mutex_lock(&w->up_mu);
	while (w->uploads > 0 && pthread_cond_timedwait(&w->up_cv, &w->up_mu, &until) == 0)
		;
	if (w->uploads > 0) {
		for (i = 0; i < WIRING_PARKED_MAX && w->parked[i]; i++)
			;
		/* no slot: wait for them as long as it takes */
		while (i == WIRING_PARKED_MAX && w->uploads > 0)
			pthread_cond_wait(&w->up_cv, &w->up_mu);
		if (w->uploads > 0) {
			vim_log(VIM_LOG_WARN,
			        "controllers: %d upload(s) still open: their importer "
			        "stays until they end",
			        w->uploads);
			w->parked[i] = w->importer;
			w->importer = NULL;
		}
	}
	pthread_mutex_unlock(&w->up_mu);
	imp_manager_free(w->importer);
}

void wiring_unlead(struct wiring *w)
{
	/* The monitor enqueues into the manager: it goes first.  The workers
	 * call the importer: the manager stops before it. */
	set_live(w, false);
	ctl_monitor_stop(w->monitor);
	pthread_mutex_lock(&w->kick_mu);
	w->kick_target = NULL;
	pthread_mutex_unlock(&w->kick_mu);
	ctl_manager_stop(w->manager);
	drop_importer(w);
	ctl_monitor_free(w->monitor); /* the workers checked through it until now */
	w->monitor = NULL;
	w->manager = NULL;
	w->importer = NULL;
}

void wiring_stop(struct wiring *w)
{
	/* The registry goes last: an import may be talking to it until the
	 * importer is gone. */
	wiring_unlead(w);
	atomic_store(&w->dvcr_up, false);
	/* the API is stopped: a download's pipe is closed, its pump ends */
	pthread_mutex_lock(&w->dl_mu);
	while (w->downloads > 0)
		pthread_cond_wait(&w->dl_cv, &w->dl_mu);
	pthread_mutex_unlock(&w->dl_mu);
	for (size_t i = 0; i < WIRING_PARKED_MAX; i++) {
		imp_manager_free(w->parked[i]); /* the API ended their uploads */
		w->parked[i] = NULL;
	}
	dvcr_client_free(w->dvcr);
	dvcr_managed_stop(w->registry);
	w->dvcr = NULL;
	w->registry = NULL;
}

int wiring_registry_events(void *arg, const char *body, size_t len, struct vim_err *err)
{
	struct wiring *w = arg;
	int n;

	pthread_rwlock_rdlock(&w->live_rw);
	if (!atomic_load(&w->live) || !w->monitor) {
		char leader[300];
		pthread_rwlock_unlock(&w->live_rw);
		/* the leader's presence monitor is the one that watches */
		int rc = vimaged_ha_leader_url(w, leader, sizeof(leader), err);
		if (rc == 0)
			return fwd_events(leader, w->o->notify_token, w->o->tls_cert, body, len,
			                  err);
		if (rc == VIM_ENOTFOUND)
			return vim_err_set(err, VIM_EINVAL, "vimaged is not watching a DVCR (yet)");
		/* the registry sends again: its notification queue retries */
		return vim_err_set(err, VIM_EUNAVAILABLE, "%s: the registry's retry will find it",
		                   rc == VIM_EEXIST ? "this replica's controllers are starting"
		                                    : "no replica leads right now");
	}
	n = ctl_monitor_notify(w->monitor, body, len, err);
	pthread_rwlock_unlock(&w->live_rw);
	if (n > 0)
		vim_log(VIM_LOG_INFO, "dvcr notification: %d image(s) to recheck", n);
	return n;
}
