/*
 * vimaged/metrics — /metrics: a snapshot of each module's counters, written
 * in the Prometheus text format.  The modules keep the numbers; this file
 * only names them.
 */
#include "vimaged.h"

#include <stdio.h>

static const char *const storage_names[] = {"unknown", "up", "down"};

static void images(struct vim_text *t, struct ctl_manager *m)
{
	struct ctl_manager_stats st;
	char labels[128];
	int k, p;

	ctl_manager_stats(m, &st);
	vim_metric_head(t, "vimage_images", "gauge", "Images by kind and phase.");
	for (k = 0; k < MODEL_KIND__COUNT; k++)
		for (p = 0; p < MODEL_PHASE__COUNT; p++) {
			snprintf(labels, sizeof(labels), "kind=\"%s\",phase=\"%s\"",
			         model_kind_info((enum model_kind)k)->name,
			         model_phase_name((enum model_phase)p));
			vim_metric_u64(t, "vimage_images", labels, st.phases[k][p]);
		}
	vim_metric_head(t, "vimage_workqueue_depth", "gauge",
	                "Images waiting for a reconcile: ready now, or on a timer.");
	vim_metric_u64(t, "vimage_workqueue_depth", "state=\"ready\"", st.queue_ready);
	vim_metric_u64(t, "vimage_workqueue_depth", "state=\"delayed\"", st.queue_delayed);
	vim_metric_head(t, "vimage_reconcile_duration_seconds", "histogram",
	                "Time of one reconcile of one image.");
	vim_metric_hist(t, "vimage_reconcile_duration_seconds", "", &st.reconcile_s);
}

static void presence(struct vim_text *t, struct ctl_monitor *mon)
{
	struct ctl_monitor_stats st;
	int i;

	ctl_monitor_stats(mon, &st);
	vim_metric_head(t, "vimage_presence_checks_total", "counter",
	                "Image presence checks by result (skipped: answered from the storage "
	                "state during an outage, no request).");
	vim_metric_u64(t, "vimage_presence_checks_total", "result=\"present\"", st.checks_present);
	vim_metric_u64(t, "vimage_presence_checks_total", "result=\"absent\"", st.checks_absent);
	vim_metric_u64(t, "vimage_presence_checks_total", "result=\"error\"", st.checks_error);
	vim_metric_u64(t, "vimage_presence_checks_total", "result=\"skipped\"", st.checks_skipped);
	vim_metric_head(t, "vimage_presence_wave_checks_total", "counter",
	                "Checks of images lost in a storage outage, made in the recovery wave "
	                "that followed it: each blob digest proven once for all of them.");
	vim_metric_u64(t, "vimage_presence_wave_checks_total", NULL, st.checks_wave);
	vim_metric_head(t, "vimage_dvcr_storage", "gauge",
	                "The storage probe's verdict (1 for the current state).");
	for (i = 0; i < 3; i++) {
		char l[32];
		snprintf(l, sizeof(l), "state=\"%s\"", storage_names[i]);
		vim_metric_u64(t, "vimage_dvcr_storage", l, (int)st.storage == i);
	}
	vim_metric_head(t, "vimage_storage_probes_total", "counter", "Storage probes run.");
	vim_metric_u64(t, "vimage_storage_probes_total", "", st.probes);
	vim_metric_head(t, "vimage_registry_notifications_total", "counter",
	                "Registry notifications received.");
	vim_metric_u64(t, "vimage_registry_notifications_total", "", st.notifications);
	vim_metric_head(t, "vimage_presence_sweeps_total", "counter", "Sweeps of Ready images.");
	vim_metric_u64(t, "vimage_presence_sweeps_total", "", st.sweeps);
}

static void imports(struct vim_text *t, struct imp_manager *m)
{
	struct imp_stats st;

	imp_manager_stats(m, &st);
	vim_metric_head(t, "vimage_imports_total", "counter", "Imports by outcome.");
	vim_metric_u64(t, "vimage_imports_total", "result=\"started\"", st.started);
	vim_metric_u64(t, "vimage_imports_total", "result=\"succeeded\"", st.succeeded);
	vim_metric_u64(t, "vimage_imports_total", "result=\"failed\"", st.failed);
	vim_metric_head(t, "vimage_imports", "gauge", "Imports now, by state.");
	vim_metric_u64(t, "vimage_imports", "state=\"running\"", st.running);
	vim_metric_u64(t, "vimage_imports", "state=\"queued\"", st.queued);
	vim_metric_u64(t, "vimage_imports", "state=\"waiting_upload\"", st.waiting_upload);
	vim_metric_u64(t, "vimage_imports", "state=\"finished\"", st.finished);
	vim_metric_head(t, "vimage_import_bytes_total", "counter",
	                "Source bytes of the imports that succeeded.");
	vim_metric_u64(t, "vimage_import_bytes_total", "", st.bytes);
	vim_metric_head(t, "vimage_import_duration_seconds", "histogram",
	                "Duration of the imports that succeeded.");
	vim_metric_hist(t, "vimage_import_duration_seconds", "", &st.duration_s);
}

static void dvcr(struct vim_text *t, struct dvcr_client *c)
{
	static const char *const classes[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};
	struct dvcr_stats st;
	char l[64];
	int m, k;

	dvcr_client_stats(c, &st);
	vim_metric_head(t, "vimage_dvcr_requests_total", "counter",
	                "Requests to DVCR by method and status class (none: no answer).");
	for (m = 0; m < DVCR_STAT_METHODS; m++)
		for (k = 0; k < 6; k++)
			if (st.requests[m][k]) {
				snprintf(l, sizeof(l), "method=\"%s\",code=\"%s\"",
				         dvcr_stats_method(m), classes[k]);
				vim_metric_u64(t, "vimage_dvcr_requests_total", l,
				               st.requests[m][k]);
			}
	vim_metric_head(t, "vimage_dvcr_request_duration_seconds", "histogram",
	                "Latency of requests to DVCR by method.");
	for (m = 0; m < DVCR_STAT_METHODS; m++) {
		snprintf(l, sizeof(l), "method=\"%s\"", dvcr_stats_method(m));
		vim_metric_hist(t, "vimage_dvcr_request_duration_seconds", l, &st.seconds[m]);
	}
}

static void watches(struct vim_text *t, struct store *s)
{
	size_t watchers, history;

	store_watch_stats(s, &watchers, &history);
	vim_metric_head(t, "vimage_watchers", "gauge",
	                "Open watches (kubectl -w, the controllers' caches).");
	vim_metric_u64(t, "vimage_watchers", "", watchers);
	vim_metric_head(t, "vimage_watch_history", "gauge",
	                "Changes held for watchers that resume from a resourceVersion.");
	vim_metric_u64(t, "vimage_watch_history", "", history);
}

/* Which store serves, and (for one that can go away) whether it answered
 * the last health check: before the controllers' part, so a vimaged with
 * --controllers off says it too. */
static void store_backend(struct vim_text *t, const struct wiring *w)
{
	char l[64];
	int up = vimaged_health_up(w->health);

	if (!w->store_backend)
		return;
	vim_metric_head(t, "vimage_store_backend", "gauge",
	                "The store backend that serves (1 for the one in use).");
	snprintf(l, sizeof(l), "backend=\"%s\"", w->store_backend);
	vim_metric_u64(t, "vimage_store_backend", l, 1);
	if (up < 0)
		return;
	vim_metric_head(t, "vimage_store_up", "gauge",
	                "1 when the store answered its last health check (once a second).");
	vim_metric_u64(t, "vimage_store_up", "", (uint64_t)up);
}

void wiring_metrics(void *arg, struct vim_text *t)
{
	struct wiring *w = arg;

	store_backend(t, w);
	vimaged_ha_metrics(w, t);

	vim_metric_head(t, "vimage_controllers_up", "gauge",
	                "1 when the controllers run here (0: starting, another replica leads, "
	                "or --controllers off).");
	vim_metric_u64(t, "vimage_controllers_up", "", atomic_load(&w->live));
	watches(t, w->store);
	if (atomic_load(&w->dvcr_up))
		dvcr(t, w->dvcr); /* a follower's too: its downloads */
	pthread_rwlock_rdlock(&w->live_rw);
	if (atomic_load(&w->live)) {
		images(t, w->manager);
		presence(t, w->monitor);
		imports(t, w->importer);
	}
	pthread_rwlock_unlock(&w->live_rw);
}
