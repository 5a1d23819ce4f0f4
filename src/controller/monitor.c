/*
 * controller/monitor — checker, storage probe, notifications, sweep.
 */
#include "controller/monitor.h"
#include "core/digest.h"
#include "core/log.h"
#include "core/sysutil.h"
#include "core/cond.h"
#include "core/timeutil.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROBE_DEFAULT_MS 5000
#define DOWN_PROBE_MS 1000 /* while the storage is down: its return is noticed at once */
#define SWEEP_DEFAULT_MS (5 * 60 * 1000)
#define MAX_RPS_DEFAULT 50
/* Requests one presence check costs: manifest + config + one layer. */
#define REQUESTS_PER_CHECK 3
/* A recovery wave proves each blob digest once (dvcr_memo); it lasts this
 * long after the canary returned, plus WAVE_PER_IMAGE_MS for each image it
 * rechecks, then every check proves every blob again. */
#define WAVE_MS 60000
#define WAVE_PER_IMAGE_MS 10
#define WAVE_MEMO_CAP 65536

struct ctl_monitor {
	struct ctl_monitor_config cfg;
	struct ctl_manager *manager; /* borrowed, set by start */

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t wake;
	bool stopping;
	enum ctl_storage_state storage;
	bool canary_seen;         /* once seen, a missing canary means lost storage */
	int64_t ready_recheck_ms; /* probe thread only */
	/* The recovery wave.  last_up_s: when a probe last found the canary
	 * (unix seconds).  outage_from_s: last_up_s when the canary went, so
	 * an image lost later than that went with the storage, 0 = no
	 * outage known.  wave_until_ms (monotonic, 0 = none): until then an
	 * image lost in that outage is proven through the memo. */
	int64_t last_up_s, outage_from_s, wave_start_s, wave_until_ms;
	struct dvcr_memo *memo;
	/* Addresses of images found absent while the canary answered: lost
	 * on their own (a blob removed from one repository, say), never
	 * brought back by a wave.  Removed when they are found present. */
	struct dvcr_memo *alone;
	bool kick;                         /* an image check saw signs of an outage: probe now */
	char marker[4096], marker_id[512]; /* "" = no marker file */
	struct ctl_monitor_stats stats;
	pthread_t probe_thread, sweep_thread;
};

static void count(struct ctl_monitor *mon, uint64_t *counter)
{
	pthread_mutex_lock(&mon->mu);
	(*counter)++;
	pthread_mutex_unlock(&mon->mu);
}

/* ---- the checker ------------------------------------------------------------ */

static int check_real(struct ctl_monitor *mon, const char *registry_url, struct dvcr_memo *memo,
                      struct vim_err *err)
{
	int rc = dvcr_image_check_url_memo(mon->cfg.dvcr, registry_url, memo, err);

	if (rc == 1) {
		pthread_mutex_lock(&mon->mu);
		mon->stats.checks_present++;
		/* Data answers while the canary does not: the storage is fine and
		 * only the canary went (deleted by hand?).  Let the probe push it
		 * again, or lost images would wait for a canary that never
		 * returns. */
		if (mon->storage == CTL_STORAGE_DOWN)
			mon->canary_seen = false;
		pthread_mutex_unlock(&mon->mu);
		return CTL_IMAGE_PRESENT;
	}
	if (rc == 0) {
		count(mon, &mon->stats.checks_absent);
		return CTL_IMAGE_ABSENT;
	}
	count(mon, &mon->stats.checks_error);
	return rc;
}

/* A Ready image is always checked for real, so a deleted canary alone can
 * never make it ImageLost.  When it is absent, the canary says why, asked
 * after the verdict: still there = this image lost its data on its own
 * (remembered, so no recovery wave takes it back); gone = the storage is
 * going, and the probe runs at once instead of at its next tick. */
static int check(void *self, const char *registry_url, struct vim_err *err)
{
	struct ctl_monitor *mon = self;
	struct dvcr_manifest_info mi;
	int rc = check_real(mon, registry_url, NULL, err), canary;

	if (rc != CTL_IMAGE_ABSENT)
		return rc;
	pthread_mutex_lock(&mon->mu);
	canary = mon->storage == CTL_STORAGE_UP && !mon->kick;
	pthread_mutex_unlock(&mon->mu);
	if (!canary)
		return rc;
	canary = dvcr_manifest_head(mon->cfg.dvcr, CTL_CANARY_REPO, CTL_CANARY_TAG, &mi, NULL);
	if (canary == 0) {
		dvcr_memo_add(mon->alone, registry_url);
	} else if (canary == VIM_ENOTFOUND) {
		pthread_mutex_lock(&mon->mu);
		mon->kick = true;
		pthread_cond_broadcast(&mon->wake);
		pthread_mutex_unlock(&mon->mu);
	}
	return rc;
}

/* An ImageLost image during a storage-wide outage: absent, without a
 * request — 10,000 lost images cost the registry nothing until the canary
 * is back, and then they are all rechecked at once.  In that recovery
 * wave an image that went lost with the storage is proven by its own
 * manifest and by blob digests proven once for all (the memo): its blob
 * links came back with the storage they were in.  Any other lost image is
 * checked in full: one lost before the last good probe, one lost on its
 * own (the canary answered right after its verdict), one lost again
 * after the wave began. */
static int check_lost(void *self, const char *registry_url, int64_t lost_since, struct vim_err *err)
{
	struct ctl_monitor *mon = self;
	enum ctl_storage_state st;
	bool wave;
	int rc;

	pthread_mutex_lock(&mon->mu);
	st = mon->storage;
	wave = st == CTL_STORAGE_UP && mon->wave_until_ms > vim_mono_ms() &&
	       mon->outage_from_s > 0 && lost_since > mon->outage_from_s &&
	       lost_since < mon->wave_start_s;
	pthread_mutex_unlock(&mon->mu);
	if (st == CTL_STORAGE_DOWN) {
		count(mon, &mon->stats.checks_skipped);
		return CTL_IMAGE_ABSENT;
	}
	if (wave && dvcr_memo_has(mon->alone, registry_url))
		wave = false;
	if (wave)
		count(mon, &mon->stats.checks_wave);
	rc = check_real(mon, registry_url, wave ? mon->memo : NULL, err);
	if (rc == CTL_IMAGE_PRESENT)
		dvcr_memo_del(mon->alone, registry_url);
	return rc;
}

struct ctl_checker ctl_monitor_checker(struct ctl_monitor *mon)
{
	struct ctl_checker c = {check, check_lost, mon};
	return c;
}

/* ---- the canary ------------------------------------------------------------- */

static void sha256_digest(const void *p, size_t n, char out[DVCR_DIGEST_MAX])
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	vim_digest_format(out, md);
}

static int push_blob(struct dvcr_client *c, const void *data, size_t len,
                     char digest[DVCR_DIGEST_MAX], struct vim_err *err)
{
	struct dvcr_upload *up = NULL;
	int rc;

	sha256_digest(data, len, digest);
	if ((rc = dvcr_upload_begin(c, CTL_CANARY_REPO, &up, err)) < 0)
		return rc;
	if ((rc = dvcr_upload_write(up, data, len, err)) < 0) {
		dvcr_upload_cancel(up, NULL);
		return rc;
	}
	return dvcr_upload_finish(up, digest, err);
}

/* A minimal, valid image: a config and one small layer, so the probe walks
 * the same manifest + blobs path a real image does. */
static int push_canary(struct dvcr_client *c, struct vim_err *err)
{
	static const char layer[] = "vimage storage canary\n";
	static const char config[] =
	    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Labels\":"
	    "{\"vimage-canary\":\"true\"}},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	char ld[DVCR_DIGEST_MAX], cd[DVCR_DIGEST_MAX], man[1024];
	int rc, n;

	if ((rc = push_blob(c, layer, sizeof(layer) - 1, ld, err)) < 0 ||
	    (rc = push_blob(c, config, sizeof(config) - 1, cd, err)) < 0)
		return rc;
	n = snprintf(man, sizeof(man),
	             "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
	             "\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,"
	             "\"digest\":\"%s\"},\"layers\":[{\"mediaType\":"
	             "\"application/vnd.docker.image.rootfs.diff.tar\",\"size\":%zu,"
	             "\"digest\":\"%s\"}]}",
	             DVCR_MT_DOCKER_V2, sizeof(config) - 1, cd, sizeof(layer) - 1, ld);
	return dvcr_manifest_put(c, CTL_CANARY_REPO, CTL_CANARY_TAG, DVCR_MT_DOCKER_V2, man,
	                         (size_t)n, NULL, err);
}

/* ---- threads ---------------------------------------------------------------- */

/* Sleeps up to ms (less when kick is given and someone sets it); returns
 * true when the monitor is stopping. */
static bool nap_kickable(struct ctl_monitor *mon, int64_t ms, bool *kick)
{
	int64_t until = vim_deadline_ms(ms);
	bool stop;

	pthread_mutex_lock(&mon->mu);
	while (!mon->stopping && !(kick && *kick) &&
	       vim_cond_wait_until(&mon->wake, &mon->mu, until) != VIM_ETIMEDOUT)
		;
	if (kick)
		*kick = false;
	stop = mon->stopping;
	pthread_mutex_unlock(&mon->mu);
	return stop;
}

static bool nap(struct ctl_monitor *mon, int64_t ms)
{
	return nap_kickable(mon, ms, NULL);
}

/* Written after the push: a crash between the two only costs a push. */
static void remember_canary(struct ctl_monitor *mon)
{
	struct vim_err err = {0};
	char line[sizeof(mon->marker_id) + 2];

	if (mon->cfg.canary_recall) {
		if (mon->cfg.canary_remember)
			mon->cfg.canary_remember(mon->cfg.canary_arg);
		return;
	}
	if (!mon->marker[0])
		return;
	snprintf(line, sizeof(line), "%s\n", mon->marker_id);
	if (vim_file_replace(mon->marker, line, 0644, &err) < 0)
		vim_log(VIM_LOG_WARN, "dvcr storage probe: %s", err.msg);
}

/* Moves the recovery wave along with a probe's finding (mon->mu held):
 * the canary going opens an outage, its return after one opens a wave
 * with an empty memo, and the wave ends on its own. */
static void wave_step(struct ctl_monitor *mon, enum ctl_storage_state now,
                      enum ctl_storage_state before)
{
	int64_t t = vim_mono_ms();

	if (now == CTL_STORAGE_UP) {
		if (mon->outage_from_s > 0 && before != CTL_STORAGE_UP) {
			dvcr_memo_clear(mon->memo);
			mon->wave_start_s = (int64_t)time(NULL);
			mon->wave_until_ms = t + WAVE_MS;
		}
		mon->last_up_s = (int64_t)time(NULL);
	} else if (now == CTL_STORAGE_DOWN && before != CTL_STORAGE_DOWN) {
		/* Through an "unknown" spell (the registry unreachable) the
		 * outage stays the one that began at the last good probe. */
		if (mon->outage_from_s == 0 || mon->last_up_s > mon->outage_from_s)
			mon->outage_from_s = mon->last_up_s;
		mon->wave_until_ms = 0;
		dvcr_memo_clear(mon->memo);
	}
	if (mon->wave_until_ms && t >= mon->wave_until_ms) {
		mon->wave_until_ms = 0;
		mon->outage_from_s = 0;
		dvcr_memo_clear(mon->memo);
	}
}

static void probe_once(struct ctl_monitor *mon)
{
	struct vim_err err = {0};
	enum ctl_storage_state now, before;
	struct dvcr_manifest_info mi;
	size_t n;
	bool seen, down, outage_changed;
	int64_t outage;
	int rc;

	pthread_mutex_lock(&mon->mu);
	seen = mon->canary_seen;
	down = mon->storage == CTL_STORAGE_DOWN;
	pthread_mutex_unlock(&mon->mu);
	/* While the storage is down the probe runs every second; one manifest
	 * HEAD tells whether anything came back, the full check confirms. */
	rc = down ? dvcr_manifest_head(mon->cfg.dvcr, CTL_CANARY_REPO, CTL_CANARY_TAG, &mi, &err)
	          : 0;
	if (rc == VIM_ENOTFOUND)
		rc = 0;
	else if (rc == 0)
		rc = dvcr_image_check(mon->cfg.dvcr, CTL_CANARY_REPO, CTL_CANARY_TAG, &err);
	if (rc == 0 && !seen) {
		/* Not seen since start (the registry was not up when vimaged
		 * started, or this is a new registry), or image data answered
		 * while it was missing: push it.  A canary once seen and now
		 * missing is never pushed: that is the outage it detects. */
		if (push_canary(mon->cfg.dvcr, &err) == 0) {
			vim_log(VIM_LOG_INFO, "dvcr storage probe: canary %s:%s pushed",
			        CTL_CANARY_REPO, CTL_CANARY_TAG);
			remember_canary(mon);
			rc = 1;
		} else {
			rc = VIM_EUPSTREAM;
		}
	}
	now = rc == 1 ? CTL_STORAGE_UP : rc == 0 ? CTL_STORAGE_DOWN : CTL_STORAGE_UNKNOWN;
	pthread_mutex_lock(&mon->mu);
	before = mon->storage;
	mon->storage = now;
	if (rc == 1)
		mon->canary_seen = true;
	mon->stats.probes++;
	mon->stats.storage = now;
	outage = mon->outage_from_s;
	wave_step(mon, now, before);
	outage_changed = outage != mon->outage_from_s;
	outage = mon->outage_from_s;
	pthread_mutex_unlock(&mon->mu);
	if (outage_changed && mon->cfg.canary_outage)
		mon->cfg.canary_outage(mon->cfg.canary_arg, outage);
	if (now == before) {
		/* Still down: an image that turned Ready since (or that the
		 * cache had not caught up with at the transition) is checked
		 * now, not at the next sweep; at the normal probe pace. */
		int64_t t = vim_mono_ms();
		if (now != CTL_STORAGE_DOWN ||
		    t - mon->ready_recheck_ms < mon->cfg.probe_interval_ms)
			return;
		mon->ready_recheck_ms = t;
		if ((n = ctl_manager_enqueue_phase(mon->manager, MODEL_PHASE_READY)) > 0)
			vim_log(VIM_LOG_INFO,
			        "dvcr storage probe: still down; rechecking %zu Ready images", n);
		return;
	}
	if (now == CTL_STORAGE_DOWN) {
		n = ctl_manager_enqueue_phase(mon->manager, MODEL_PHASE_READY);
		vim_log(VIM_LOG_WARN,
		        "dvcr storage probe: the canary image is gone (%s); rechecking %zu Ready "
		        "images",
		        err.msg, n);
	} else if (now == CTL_STORAGE_UP) {
		n = ctl_manager_enqueue_phase(mon->manager, MODEL_PHASE_IMAGE_LOST);
		pthread_mutex_lock(&mon->mu);
		if (mon->wave_until_ms)
			mon->wave_until_ms += (int64_t)n * WAVE_PER_IMAGE_MS;
		pthread_mutex_unlock(&mon->mu);
		vim_log(VIM_LOG_INFO,
		        "dvcr storage probe: storage available; rechecking %zu ImageLost images",
		        n);
	} else {
		vim_log(VIM_LOG_WARN, "dvcr storage probe: registry cannot tell: %s", err.msg);
	}
}

static void *probe_main(void *arg)
{
	struct ctl_monitor *mon = arg;

	int64_t ms;

	do {
		probe_once(mon);
		pthread_mutex_lock(&mon->mu);
		ms = mon->storage == CTL_STORAGE_DOWN && mon->cfg.probe_interval_ms > DOWN_PROBE_MS
		         ? DOWN_PROBE_MS
		         : mon->cfg.probe_interval_ms;
		pthread_mutex_unlock(&mon->mu);
	} while (!nap_kickable(mon, ms, &mon->kick));
	return NULL;
}

struct pace {
	struct ctl_monitor *mon;
	int64_t gap_ms;
	bool stop;
};

static void sweep_one(void *arg, enum model_kind kind, const char *key)
{
	struct pace *p = arg;

	if (p->stop)
		return;
	ctl_manager_enqueue(p->mon->manager, kind, key);
	p->stop = nap(p->mon, p->gap_ms);
}

static void *sweep_main(void *arg)
{
	struct ctl_monitor *mon = arg;
	int rps = mon->cfg.max_rps / REQUESTS_PER_CHECK;
	struct pace p = {.mon = mon, .gap_ms = 1000 / (rps > 0 ? rps : 1)};

	while (!nap(mon, mon->cfg.sweep_interval_ms)) {
		ctl_manager_foreach_phase(mon->manager, MODEL_PHASE_READY, sweep_one, &p);
		count(mon, &mon->stats.sweeps);
		if (p.stop)
			break;
	}
	return NULL;
}

/* ---- public ------------------------------------------------------------------ */

int ctl_monitor_new(struct ctl_monitor **out, const struct ctl_monitor_config *cfg,
                    struct vim_err *err)
{
	struct ctl_monitor *mon = calloc(1, sizeof(*mon));
	int rc;

	*out = NULL;
	if (!mon)
		return vim_err_set(err, VIM_ENOMEM, "monitor: out of memory");
	mon->cfg = *cfg;
	if ((rc = dvcr_memo_new(&mon->memo, WAVE_MEMO_CAP, err)) < 0 ||
	    (rc = dvcr_memo_new(&mon->alone, WAVE_MEMO_CAP, err)) < 0) {
		dvcr_memo_free(mon->memo);
		free(mon);
		return rc;
	}
	if (cfg->canary_recall) {
		int64_t from = 0;
		if ((rc = cfg->canary_recall(cfg->canary_arg, &mon->canary_seen, &from, err)) < 0) {
			dvcr_memo_free(mon->memo);
			dvcr_memo_free(mon->alone);
			free(mon);
			return rc;
		}
		if (mon->canary_seen && from > 0) {
			/* the predecessor's outage: lost images wait for the canary
			 * (no request each), then recover in one wave */
			mon->outage_from_s = from;
			mon->storage = CTL_STORAGE_DOWN;
			mon->stats.storage = CTL_STORAGE_DOWN;
		}
	} else if (cfg->marker_path && cfg->marker_id) {
		char line[512];
		snprintf(mon->marker, sizeof(mon->marker), "%s", cfg->marker_path);
		snprintf(mon->marker_id, sizeof(mon->marker_id), "%s", cfg->marker_id);
		vim_file_first_line(mon->marker, line, sizeof(line));
		mon->canary_seen = strcmp(line, mon->marker_id) == 0;
	}
	mon->cfg.marker_path = mon->cfg.marker_id = NULL;
	if (mon->cfg.probe_interval_ms <= 0)
		mon->cfg.probe_interval_ms = PROBE_DEFAULT_MS;
	if (mon->cfg.sweep_interval_ms <= 0)
		mon->cfg.sweep_interval_ms = SWEEP_DEFAULT_MS;
	if (mon->cfg.max_rps <= 0)
		mon->cfg.max_rps = MAX_RPS_DEFAULT;
	pthread_mutex_init(&mon->mu, NULL);
	vim_cond_init(&mon->wake);
	*out = mon;
	return 0;
}

int ctl_monitor_start(struct ctl_monitor *mon, struct ctl_manager *m, struct vim_err *err)
{
	mon->manager = m;
	if (pthread_create(&mon->probe_thread, NULL, probe_main, mon) != 0)
		return vim_err_set(err, VIM_EINTERNAL, "monitor: cannot start the probe thread");
	if (pthread_create(&mon->sweep_thread, NULL, sweep_main, mon) != 0) {
		pthread_mutex_lock(&mon->mu);
		mon->stopping = true;
		pthread_cond_broadcast(&mon->wake);
		pthread_mutex_unlock(&mon->mu);
		pthread_join(mon->probe_thread, NULL);
		mon->probe_thread = 0;
		return vim_err_set(err, VIM_EINTERNAL, "monitor: cannot start the sweep thread");
	}
	return 0;
}

int ctl_monitor_notify(struct ctl_monitor *mon, const char *body, size_t len, struct vim_err *err)
{
	json_t *doc = json_loadb(body, len, 0, NULL), *events, *ev;
	size_t i, n = 0;

	events = json_object_get(doc, "events");
	if (!json_is_array(events)) {
		json_decref(doc);
		return vim_err_set(err, VIM_EINVAL,
		                   "registry notification: the body has no \"events\" array");
	}
	json_array_foreach(events, i, ev)
	{
		const char *action = json_string_value(json_object_get(ev, "action"));
		const char *repo =
		    json_string_value(json_object_get(json_object_get(ev, "target"), "repository"));
		if (!action || !repo || !mon->manager)
			continue;
		if (strcmp(action, "delete") == 0 || strcmp(action, "push") == 0)
			n += ctl_manager_enqueue_repo(mon->manager, repo);
	}
	json_decref(doc);
	count(mon, &mon->stats.notifications);
	return (int)n;
}

void ctl_monitor_stats(struct ctl_monitor *mon, struct ctl_monitor_stats *out)
{
	pthread_mutex_lock(&mon->mu);
	*out = mon->stats;
	out->storage = mon->storage;
	pthread_mutex_unlock(&mon->mu);
}

void ctl_monitor_stop(struct ctl_monitor *mon)
{
	if (!mon)
		return;
	pthread_mutex_lock(&mon->mu);
	mon->stopping = true;
	pthread_cond_broadcast(&mon->wake);
	pthread_mutex_unlock(&mon->mu);
	if (mon->probe_thread)
		pthread_join(mon->probe_thread, NULL);
	if (mon->sweep_thread)
		pthread_join(mon->sweep_thread, NULL);
	mon->probe_thread = mon->sweep_thread = 0;
}

void ctl_monitor_free(struct ctl_monitor *mon)
{
	if (!mon)
		return;
	ctl_monitor_stop(mon);
	dvcr_memo_free(mon->memo);
	dvcr_memo_free(mon->alone);
	pthread_mutex_destroy(&mon->mu);
	pthread_cond_destroy(&mon->wake);
	free(mon);
}
