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

static void kick(void *arg, enum model_kind kind, const char *key)
{
	struct wiring *w = arg;

	pthread_mutex_lock(&w->kick_mu);
	if (w->kick_target)
		ctl_manager_enqueue(w->kick_target, kind, key);
	pthread_mutex_unlock(&w->kick_mu);
}

static int up_begin(void *arg, const char *token, int64_t length, void **h, struct vim_err *err)
{
	struct wiring *w = arg;

	if (!atomic_load(&w->live) || !w->importer)
		return vim_err_set(err, VIM_ENOTFOUND, "no image waits for an upload at this URL");
	return imp_upload_begin(w->importer, token, length, (struct imp_upload **)h, err);
}

static int up_data(void *h, const void *data, size_t len, struct vim_err *err)
{
	return imp_upload_data(h, data, len, err);
}

static int up_end(void *h, bool ok, struct vim_err *err)
{
	return imp_upload_end(h, ok, err);
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

int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err)
{
	struct ctl_manager_config mc = {.store = store};
	struct ctl_monitor_config pc = {0};
	struct imp_config ic = {0};
	const char *url;
	char host[256], secrets[4200], marker[4200];
	int rc;

	pthread_mutex_init(&w->kick_mu, NULL);
	pthread_mutex_init(&w->dl_mu, NULL);
	pthread_cond_init(&w->dl_cv, NULL);
	w->store = store;
	mc.workers = o->workers;
	if ((rc = open_dvcr(w, o, &url, err)) < 0)
		goto fail;
	pc.dvcr = w->dvcr;
	pc.probe_interval_ms = o->probe_interval_ms;
	pc.sweep_interval_ms = o->sweep_interval_ms;
	pc.max_rps = o->max_rps;
	snprintf(marker, sizeof(marker), "%s/dvcr-canary", o->data_dir);
	pc.marker_path = marker;
	pc.marker_id = url;
	if ((rc = ctl_monitor_new(&w->monitor, &pc, err)) < 0)
		goto fail;
	mc.checker = ctl_monitor_checker(w->monitor);
	mc.cleaner = (struct ctl_dvcr_cleaner){clean, w->dvcr};
	if ((rc = dvcr_client_host(w->dvcr, host, sizeof(host), err)) < 0)
		goto fail;
	ic.dvcr = w->dvcr;
	ic.dvcr_host = host;
	/* now, not after start: the controllers restart the jobs of images
	 * waiting for an upload at once (a restart, a new leader), and their
	 * URLs must name a host */
	ic.upload_base = o->external_url ? o->external_url : o->api_url;
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
	vim_log(VIM_LOG_INFO, "controllers: %d workers, DVCR %s%s", mc.workers, url,
	        w->registry ? " (managed)" : "");
	atomic_store(&w->live, true);
	return 0;
fail:
	wiring_stop(w);
	return rc;
}

void wiring_stop(struct wiring *w)
{
	/* The monitor enqueues into the manager: it goes first.  The workers
	 * call the importer: the manager stops before it.  The registry goes
	 * last: an import may be talking to it until the importer is gone. */
	atomic_store(&w->live, false);
	ctl_monitor_stop(w->monitor);
	pthread_mutex_lock(&w->kick_mu);
	w->kick_target = NULL;
	pthread_mutex_unlock(&w->kick_mu);
	ctl_manager_stop(w->manager);
	imp_manager_free(w->importer);
	/* the API is stopped: a download's pipe is closed, its pump ends */
	pthread_mutex_lock(&w->dl_mu);
	while (w->downloads > 0)
		pthread_cond_wait(&w->dl_cv, &w->dl_mu);
	pthread_mutex_unlock(&w->dl_mu);
	ctl_monitor_free(w->monitor); /* the workers checked through it until now */
	dvcr_client_free(w->dvcr);
	dvcr_managed_stop(w->registry);
	pthread_mutex_destroy(&w->kick_mu);
	pthread_mutex_destroy(&w->dl_mu);
	pthread_cond_destroy(&w->dl_cv);
	w->monitor = NULL;
	w->manager = NULL;
	w->importer = NULL;
	w->dvcr = NULL;
	w->registry = NULL;
}

int wiring_registry_events(void *arg, const char *body, size_t len, struct vim_err *err)
{
	struct wiring *w = arg;
	int n;

	if (!atomic_load(&w->live) || !w->monitor)
		return vim_err_set(err, VIM_EINVAL, "vimaged is not watching a DVCR (yet)");
	n = ctl_monitor_notify(w->monitor, body, len, err);
	if (n > 0)
		vim_log(VIM_LOG_INFO, "dvcr notification: %d image(s) to recheck", n);
	return n;
}
