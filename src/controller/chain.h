/*
 * controller/chain — one reconcile step of one image, nginx-phase style: a
 * table of handlers (name + function) run in order over one in-memory copy.
 *
 * Handlers do no I/O themselves: everything outside (DVCR presence, events,
 * time, the import job engine, other images, DVCR cleanup, status writes) reaches them
 * through the small interfaces in struct ctl_ctx, so each handler is
 * unit-tested with fakes of these interfaces.
 *
 * Combination rules (upstream's reconciler): the shortest positive requeue
 * wins; an error does not stop the later handlers (the first error is kept
 * and returned at the end); only CTL_STOP stops the chain; afterwards
 * status.observedGeneration = metadata.generation and the status is written
 * once if it changed (a conflict asks for a quick requeue), then the first
 * error is returned.
 */
#ifndef VIM_CONTROLLER_CHAIN_H
#define VIM_CONTROLLER_CHAIN_H

#include "core/err.h"
#include "importer/job.h"
#include "model/model.h"

#include <stdbool.h>
#include <stdint.h>

/* What a handler returns when it does not fail (failures are VIM_E* < 0). */
enum ctl_verdict {
	CTL_CONTINUE = 0, /* go on; step->requeue_after_ms may ask for a requeue */
	CTL_STOP = 1      /* go on no further; requeue still honoured */
};

/* A handler's request to run again later. 0 = no requeue. */
struct ctl_step {
	int64_t requeue_after_ms;
};

/* ---- the interfaces handlers use (self is the implementation's state) ---- */

enum ctl_presence { CTL_IMAGE_ABSENT = 0, CTL_IMAGE_PRESENT = 1 };

/* Does the image at registry_url exist in DVCR?  Returns CTL_IMAGE_PRESENT,
 * CTL_IMAGE_ABSENT (the registry said 404), or a negative code with err
 * filled when it could not tell (refused, timeout, 5xx, 401, ...). */
struct ctl_checker {
	int (*check)(void *self, const char *registry_url, struct vim_err *err);
	/* Optional: used instead of check for an image already ImageLost, so
	 * an implementation may answer from what it knows of the storage as a
	 * whole (NULL = use check).  lost_since: when it became lost (the
	 * Ready condition's lastTransitionTime, unix seconds; 0 = unknown). */
	int (*check_lost)(void *self, const char *registry_url, int64_t lost_since,
	                  struct vim_err *err);
	void *self;
};

/* Records a core/v1 Event about img; type is "Normal" or "Warning". */
struct ctl_recorder {
	void (*record)(void *self, const struct model_image *img, const char *type,
	               const char *reason, const char *message);
	void *self;
};

/* Wall-clock unix seconds, and a monotonic millisecond count for the
 * import retries' deadlines (NULL = none: retries are not held back). */
struct ctl_clock {
	int64_t (*now)(void *self);
	void *self;
	int64_t (*mono_ms)(void *self);
};

#define CTL_REASON_MAX IMP_REASON_MAX
#define CTL_MESSAGE_MAX IMP_MESSAGE_MAX

/* The import job engine (importer/importer.h), driven by the import state
 * machine (controller/import.c): start a job for an image, poll it into a
 * snapshot, cancel, release.  The engine knows nothing of phases,
 * conditions or events.  Each member mirrors the imp_job_* function of
 * the same name; dvcr_host and upload_timeout_s are the engine's
 * settings the state machine needs (the host of status.target.registryURL;
 * how long an upload URL waits, 0 = 600 s as upstream). */
struct ctl_jobs {
	int (*start)(void *self, const struct imp_job_input *in, int failures,
	             struct imp_snapshot *out, bool *terminal, struct vim_err *err);
	int (*poll)(void *self, const char *uid, struct imp_snapshot *out);
	void (*cancel)(void *self, const char *uid);
	void (*release)(void *self, const char *uid);
	void (*close_upload)(void *self, const char *uid);
	void (*note)(void *self, const char *uid, int failures, int64_t retry_at_ms);
	/* Is the source usable (the engine's row check)?  1, or 0 with
	 * reason/message, or a negative code when it could not tell. */
	int (*check)(void *self, const struct imp_job_input *in, char reason[CTL_REASON_MAX],
	             char message[CTL_MESSAGE_MAX], struct vim_err *err);
	void *self;
	const char *dvcr_host; /* borrowed */
	int64_t upload_timeout_s;
};

/* The other images as the controller sees them (ObjectRef sources): 0 and
 * *out (the caller frees it), VIM_ENOTFOUND, or another negative code. */
struct ctl_images {
	int (*get)(void *self, enum model_kind kind, const char *ns, const char *name,
	           struct model_image **out, struct vim_err *err);
	void *self;
};

/* Removes the image's data from DVCR (its manifest).  0 when removed or
 * already gone, negative when it could not. */
struct ctl_dvcr_cleaner {
	int (*remove)(void *self, const struct model_image *img, struct vim_err *err);
	void *self;
};

/* Persists what the chain changed.  write_status goes through the status
 * subresource; write_meta persists metadata (finalizers, labels,
 * annotations).  VIM_ECONFLICT means "stale": the chain requeues quickly. */
struct ctl_writer {
	int (*write_status)(void *self, const struct model_image *img, struct vim_err *err);
	int (*write_meta)(void *self, const struct model_image *img, struct vim_err *err);
	void *self;
};

/* Everything a handler may reach.  Members a handler does not use may be
 * NULL-function interfaces in tests. */
struct ctl_ctx {
	struct ctl_checker checker;
	struct ctl_recorder recorder;
	struct ctl_clock clock;
	struct ctl_jobs jobs;
	struct ctl_images images;
	struct ctl_dvcr_cleaner cleaner;
	struct ctl_writer writer;
	/* This reconcile sees exactly what the controller's own last status
	 * write made (the watch echoing it back): the presence it recorded
	 * was proven a moment ago and is not proven again. */
	bool echo;
};

typedef int (*ctl_handler_fn)(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                              struct vim_err *err);

struct ctl_handler {
	const char *name;
	ctl_handler_fn fn;
};

/* The handler tables, in upstream order (DatasourceReady, LifeCycle,
 * ImagePresence, Deletion).  The same handlers serve both kinds. */
extern const struct ctl_handler ctl_image_handlers[];
extern const size_t ctl_image_handlers_len;

struct ctl_outcome {
	int64_t requeue_after_ms; /* merged: smallest positive, 0 = none */
	bool status_written;
	bool meta_written;
	bool stopped; /* a handler returned CTL_STOP */
};

/* Runs handlers over work (the caller's private copy of orig), then writes
 * status/metadata through ctx->writer if they differ from orig.  Returns 0
 * or the first handler (or write) error, with err filled. */
int ctl_chain_run(const struct ctl_handler *handlers, size_t n, struct ctl_ctx *ctx,
                  const struct model_image *orig, struct model_image *work, struct ctl_outcome *out,
                  struct vim_err *err);

/* ---- the individual handlers (one file each) ----------------------------- */
int ctl_handle_datasource_ready(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                                struct vim_err *err);
int ctl_handle_lifecycle(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                         struct vim_err *err);
int ctl_handle_image_presence(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                              struct vim_err *err);
int ctl_handle_deletion(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                        struct vim_err *err);

/* ---- the import state machine (import.c), LifeCycle's and Deletion's ---- */

/* Drives the import of an image that is neither lost nor being deleted
 * from its job's snapshot: phase, Ready condition, progress, speed, size,
 * upload URLs, target.registryURL, events and requeues. */
int ctl_import_sync(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                    struct vim_err *err);
/* Stops the image's job and drops it (spec changed, image deleted). */
void ctl_import_cancel(struct ctl_ctx *ctx, const struct model_image *img);
/* The stored status of img shows its import's outcome: its job may go. */
void ctl_import_release(struct ctl_ctx *ctx, const struct model_image *img);
/* DatasourceReady's question: is img's source usable?  1, or 0 (reason
 * and message filled, e.g. "ImageNotReady" / "VirtualImage x not
 * ready."), or a negative code when it could not tell. */
int ctl_import_source_check(struct ctl_ctx *ctx, const struct model_image *img,
                            char reason[CTL_REASON_MAX], char message[CTL_MESSAGE_MAX],
                            struct vim_err *err);

/* ---- backoff -------------------------------------------------------------- */

/* upstream backoff.Progressive: elapsed < base -> base; elapsed > max -> max;
 * otherwise elapsed.  All in milliseconds. */
int64_t ctl_backoff_progressive(int64_t elapsed_ms, int64_t base_ms, int64_t max_ms);

#define CTL_LOST_RECHECK_BASE_MS (15 * 1000)
#define CTL_LOST_RECHECK_MAX_MS (5 * 60 * 1000)

/* The recheck interval of a lost image, from its Ready condition's
 * lastTransitionTime (15 s when missing or zero). */
int64_t ctl_lost_recheck_ms(const struct model_status *st, int64_t now);

#endif
