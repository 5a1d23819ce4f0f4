/*
 * controller/monitor — how vimage notices, in seconds, that image data left
 * DVCR and that it came back (issue 5; lifecycle.md "where upstream stops"):
 *
 *  - the checker the ImagePresence handler uses: manifest + every blob
 *    (dvcr_image_check_url).  A Ready image is always checked for real; an
 *    ImageLost one, while the storage probe says the storage as a whole is
 *    gone, is "absent" without a request, so a mass outage costs the
 *    registry nothing;
 *  - a storage probe: a tiny canary image in DVCR checked every few
 *    seconds.  Canary gone = storage down: every Ready image is enqueued
 *    (and goes ImageLost).  Canary back = every ImageLost image is
 *    enqueued at once and recovers;
 *  - a Ready image found absent makes the monitor ask the canary right
 *    after the verdict: gone = the storage is going (the probe runs at
 *    once, not at its next tick); still there = the image lost its data
 *    on its own, and is remembered as such;
 *  - the recovery wave: for a while after the canary returns, an image
 *    that went lost with the storage (after the last good probe, before
 *    the return, not remembered as lost on its own) is proven by its
 *    manifest and by blob digests proven once for all the wave's images
 *    (dvcr_memo): ~1 request per image instead of 3 when images share
 *    data.  Every other check proves every blob;
 *  - registry notifications (POSTed to vimaged) enqueue the images whose
 *    repository an event names;
 *  - a paced sweep of Ready images catches everything else.
 *
 * The canary is pushed only when vimaged has not seen it since it started
 * (a new registry, or one that was down at start); never once seen,
 * because pushing into a registry whose storage was moved away would
 * create a new, empty storage directory in its place.  (So a vimaged that
 * starts during a storage outage takes the empty storage for a new one:
 * its images are still checked one by one and go ImageLost correctly; only
 * the storage-wide shortcut is lost until the next restart.)
 */
#ifndef VIM_CONTROLLER_MONITOR_H
#define VIM_CONTROLLER_MONITOR_H

#include "controller/chain.h"
#include "controller/manager.h"
#include "dvcr/dvcr.h"

#include <stdbool.h>
#include <stdint.h>

#define CTL_CANARY_REPO "vimage/canary"
#define CTL_CANARY_TAG "probe"

enum ctl_storage_state { CTL_STORAGE_UNKNOWN = 0, CTL_STORAGE_UP, CTL_STORAGE_DOWN };

struct ctl_monitor_config {
	struct dvcr_client *dvcr;  /* borrowed; outlives the monitor */
	int64_t probe_interval_ms; /* 0 = 5 s */
	int64_t sweep_interval_ms; /* 0 = 5 min */
	int max_rps;               /* DVCR requests per second of the sweep; 0 = 50 */
	/* A file that remembers, across restarts, that the canary was placed
	 * in the registry named by marker_id (its URL); both copied.  Without
	 * it a vimaged started during an outage would take the missing canary
	 * for a new registry, push it into the empty storage and hide the
	 * outage.  NULL = remember in memory only. */
	const char *marker_path;
	const char *marker_id;
	/* Instead of the file: replicas share the registry, so the one that
	 * leads next must know that another placed the canary, and whether
	 * an outage was open (vimaged keeps both in etcd).  recall runs once
	 * in ctl_monitor_new (an error fails it: guessing either way would
	 * hide an outage or invent one): *outage_from_s is the open outage's
	 * start (unix s, 0 = none), and the monitor starts from it as its
	 * predecessor left it: storage down, the recovery wave ready to open
	 * when the canary answers, so 10,000 lost images are proven through
	 * one memo instead of each in full.  remember after each push;
	 * outage whenever the open outage changes (0 = closed).  NULL recall
	 * = marker_path. */
	int (*canary_recall)(void *arg, bool *placed, int64_t *outage_from_s, struct vim_err *err);
	void (*canary_remember)(void *arg);
	void (*canary_outage)(void *arg, int64_t outage_from_s);
	void *canary_arg;
};

/* Counters for /metrics (a snapshot). */
struct ctl_monitor_stats {
	enum ctl_storage_state storage;
	uint64_t checks_present, checks_absent, checks_error, checks_skipped;
	uint64_t checks_wave; /* lost images proven through a recovery wave's memo */
	uint64_t probes, notifications, sweeps;
};

struct ctl_monitor;

int ctl_monitor_new(struct ctl_monitor **out, const struct ctl_monitor_config *cfg,
                    struct vim_err *err);

/* The checker to plug into the manager (self = the monitor). */
struct ctl_checker ctl_monitor_checker(struct ctl_monitor *mon);

/* Starts the probe and sweep threads, which enqueue into m (borrowed; stop
 * the monitor before the manager). */
int ctl_monitor_start(struct ctl_monitor *mon, struct ctl_manager *m, struct vim_err *err);

/* A registry notification envelope (body borrowed): enqueues the images of
 * every repository a push or delete event names.  Returns the number of
 * images enqueued, or VIM_EINVAL for a body that is not an envelope. */
int ctl_monitor_notify(struct ctl_monitor *mon, const char *body, size_t len, struct vim_err *err);

void ctl_monitor_stats(struct ctl_monitor *mon, struct ctl_monitor_stats *out);

/* Stops the threads and frees.  NULL is fine. */
/* Stops the probe and the sweep (they enqueue into the manager); the
 * checker stays usable until ctl_monitor_free, since the manager's
 * workers call it until they stop. */
void ctl_monitor_stop(struct ctl_monitor *mon);
void ctl_monitor_free(struct ctl_monitor *mon);

#endif
