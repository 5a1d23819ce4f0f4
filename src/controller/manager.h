/*
 * controller/manager — runs the image controllers: a cache per kind fed by
 * the store's watch, one work queue keyed "vi/<ns>/<name>" / "cvi/<name>",
 * N workers each running the handler chain over one image at a time, and
 * the store-backed implementations of the chain's writer, recorder and
 * clock, and the other images (ObjectRef sources) from its caches.  The
 * checker, the import job engine and the cleaner are plugged in by main
 * (DVCR, importer) and borrowed for the manager's life.
 */
#ifndef VIM_CONTROLLER_MANAGER_H
#define VIM_CONTROLLER_MANAGER_H

#include "controller/chain.h"
#include "core/metrics.h"
#include "store/store.h"

struct ctl_manager;

struct ctl_manager_config {
	struct store *store; /* borrowed; outlives the manager */
	int workers;         /* 0 = 4 */
	/* Plugged-in interfaces (copied; their self pointers are borrowed).
	 * A NULL function means "not available": the handler skips it. */
	struct ctl_checker checker;
	struct ctl_jobs jobs;
	struct ctl_dvcr_cleaner cleaner;
};

/* Lists both kinds into the caches, enqueues every image, starts the
 * workers.  *out is freed with ctl_manager_stop. */
int ctl_manager_start(struct ctl_manager **out, const struct ctl_manager_config *cfg,
                      struct vim_err *err);

/* Stops the workers (in-flight reconciles finish), the caches and the
 * queue; frees the manager.  NULL is fine. */
void ctl_manager_stop(struct ctl_manager *m);

/* Asks for a reconcile of one image now (key "ns/name" for a VI, "name"
 * for a CVI).  Thread-safe; de-duplicated by the queue. */
void ctl_manager_enqueue(struct ctl_manager *m, enum model_kind kind, const char *key);

/* Enqueues every cached image whose phase is `phase` (the presence monitor
 * uses it: all Ready images when the storage vanishes, all ImageLost ones
 * when it returns).  Returns how many were enqueued. */
size_t ctl_manager_enqueue_phase(struct ctl_manager *m, enum model_phase phase);

/* Calls fn for every cached image in `phase` (a snapshot; fn may enqueue
 * or sleep).  Returns how many there were. */
size_t ctl_manager_foreach_phase(struct ctl_manager *m, enum model_phase phase,
                                 void (*fn)(void *arg, enum model_kind kind, const char *key),
                                 void *arg);

/* Enqueues the images stored in a DVCR repository ("vi/<ns>/<name>" or
 * "cvi/<name>"), as a registry notification names it.  A shortened
 * repository name (model_dvcr_repository) is matched against the images'
 * status.target.registryURL.  Returns how many were enqueued. */
/* For /metrics: images by kind and phase (from the caches), the queue, the
 * reconciles and their latency. */
struct ctl_manager_stats {
	uint64_t phases[MODEL_KIND__COUNT][MODEL_PHASE__COUNT];
	size_t queue_ready, queue_delayed;
	uint64_t reconciles;
	struct vim_hist reconcile_s;
};
void ctl_manager_stats(struct ctl_manager *m, struct ctl_manager_stats *out);

size_t ctl_manager_enqueue_repo(struct ctl_manager *m, const char *repo);

#endif
