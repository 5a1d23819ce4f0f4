/*
 * vimaged/wiring — plugs DVCR into the controllers: the presence checker
 * (the monitor), the cleaner that removes a deleted image's manifest, and
 * the registry's notifications.  Without --dvcr-url the controllers still
 * run (finalizers, phases) but have no registry to check.
 */
#include "vimaged.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_secret(const char *path, char *out, size_t len, struct vim_err *err)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(out, (int)len, f)) {
		if (f)
			fclose(f);
		return vim_err_set(err, VIM_EINVAL, "--dvcr-password-file %s: cannot read it",
		                   path);
	}
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

/* ctl_dvcr_cleaner: delete the image's manifest (by digest, as the
 * registry demands); already gone is success. */
static int clean(void *self, const struct model_image *img, struct vim_err *err)
{
	struct dvcr_client *c = self;
	struct dvcr_manifest_info mi;
	struct dvcr_ref ref;
	int rc;

	if (!img->status.target_registry_url || !img->status.target_registry_url[0])
		return 0; /* never imported: nothing in DVCR */
	if ((rc = dvcr_ref_parse(img->status.target_registry_url, &ref, err)) < 0)
		return rc;
	rc = dvcr_manifest_head(c, ref.repo, ref.tag[0] ? ref.tag : ref.digest, &mi, err);
	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	rc = dvcr_manifest_delete(c, ref.repo, mi.digest, err);
	return rc == VIM_ENOTFOUND ? 0 : rc;
}

static int64_t seconds_ms(const char *v, int64_t dflt)
{
	return v && *v ? (int64_t)(atof(v) * 1000) : dflt;
}

int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err)
{
	struct ctl_manager_config mc = {.store = store};
	struct ctl_monitor_config pc = {0};
	struct dvcr_config dc = {0};
	char password[512] = "";
	int rc;

	memset(w, 0, sizeof(*w));
	mc.workers = o->workers ? atoi(o->workers) : 0;
	if (o->dvcr_url) {
		dc.base_url = o->dvcr_url;
		dc.username = o->dvcr_username;
		dc.ca_file = o->dvcr_ca_file;
		if (o->dvcr_password_file &&
		    (rc = read_secret(o->dvcr_password_file, password, sizeof(password), err)) < 0)
			return rc;
		dc.password = password[0] ? password : NULL;
		if ((rc = dvcr_client_new(&w->dvcr, &dc, err)) < 0)
			return rc;
		pc.dvcr = w->dvcr;
		pc.probe_interval_ms = seconds_ms(o->probe_interval, 0);
		pc.sweep_interval_ms = seconds_ms(o->sweep_interval, 0);
		pc.max_rps = o->max_rps ? atoi(o->max_rps) : 0;
		if ((rc = ctl_monitor_new(&w->monitor, &pc, err)) < 0)
			goto fail;
		mc.checker = ctl_monitor_checker(w->monitor);
		mc.cleaner = (struct ctl_dvcr_cleaner){clean, w->dvcr};
	}
	if ((rc = ctl_manager_start(&w->manager, &mc, err)) < 0)
		goto fail;
	if (w->monitor && (rc = ctl_monitor_start(w->monitor, w->manager, err)) < 0)
		goto fail;
	vim_log(VIM_LOG_INFO, "controllers: %d workers, DVCR %s", mc.workers ? mc.workers : 4,
	        o->dvcr_url ? o->dvcr_url : "(none: presence is not checked)");
	return 0;
fail:
	wiring_stop(w);
	return rc;
}

void wiring_stop(struct wiring *w)
{
	/* The monitor enqueues into the manager: it goes first. */
	ctl_monitor_free(w->monitor);
	ctl_manager_stop(w->manager);
	dvcr_client_free(w->dvcr);
	memset(w, 0, sizeof(*w));
}

int wiring_registry_events(void *arg, const char *body, size_t len, struct vim_err *err)
{
	struct wiring *w = arg;
	int n;

	if (!w->monitor)
		return vim_err_set(err, VIM_EINVAL, "no DVCR is configured");
	n = ctl_monitor_notify(w->monitor, body, len, err);
	if (n > 0)
		vim_log(VIM_LOG_INFO, "dvcr notification: %d image(s) to recheck", n);
	return n;
}
