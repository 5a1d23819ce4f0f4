/*
 * importer — the job engine: one job per image (keyed by its uid) running
 * on a thread of its own, in a pool of max_imports.  A caller starts a job
 * from a plain imp_job_input, polls it into an imp_snapshot, cancels or
 * releases it.  The engine knows nothing of phases, conditions or events,
 * and touches neither store nor cache: the controller's import handler
 * (controller/import.c) decides what a snapshot makes of the image.
 *
 * Sources are rows (importer/internal.h, struct imp_source): HTTP (streamed
 * in one pass: checksums, format detection through gz/xz unpacking, the
 * DVCR writer), Upload (the user's bytes arrive on vimaged's
 * /upload/<token> and take the same path), ObjectRef (a copy by
 * cross-repository mount: no data moves), ContainerImage (the disk/ file of
 * an image in another https registry, pulled with a pull secret).
 */
#ifndef VIM_IMPORTER_IMPORTER_H
#define VIM_IMPORTER_IMPORTER_H

#include "core/metrics.h"
#include "dvcr/dvcr.h"
#include "importer/job.h"

#include <stdint.h>

struct imp_config {
	struct dvcr_client *dvcr; /* borrowed */
	const char
	    *dvcr_host; /* "127.0.0.1:5000": the host of status.target.registryURL (copied) */
	const char *upload_base; /* NULL: set later with imp_manager_set_upload_base */
	int max_imports;         /* downloads at once (0 = 4); more wait their turn */
	/* A source (HTTP, ContainerImage) that sends fewer than min_rate_bps
	 * bytes/s over a window of stall_window_ms fails the attempt as
	 * transient, freeing its slot; the retry queues behind the jobs
	 * waiting.  0 = IMP_MIN_RATE_BPS / IMP_STALL_WINDOW_MS. */
	uint64_t min_rate_bps;
	int64_t stall_window_ms;
	/* ContainerImage pull secrets: <secrets_dir>/<namespace>/<name>.json,
	 * dockerconfigjson ({"auths": {"host:port": {"auth": base64(user:pass)}}});
	 * copied; NULL = no secrets (an image naming one waits for it) */
	const char *secrets_dir;
	/* Called (from a job's thread) when a job changes state, so the image
	 * is reconciled at once instead of at its next poll. */
	void (*kick)(void *arg, enum model_kind kind, const char *key);
	void *kick_arg;
};

#define IMP_MIN_RATE_BPS 1024
#define IMP_STALL_WINDOW_MS 60000

struct imp_manager;

int imp_manager_new(struct imp_manager **out, const struct imp_config *cfg, struct vim_err *err);
/* The base of the upload URLs, once the API knows where it listens
 * ("http://127.0.0.1:8080"; copied). */
void imp_manager_set_upload_base(struct imp_manager *m, const char *base);

/* Cancels every job and waits for their threads.  NULL is fine.  No
 * upload may be in flight (between imp_upload_begin and _end): the
 * caller waits for them, after imp_manager_cancel. */
void imp_manager_free(struct imp_manager *m);
/* Cancels every job without waiting: an upload in flight fails its next
 * imp_upload_data (VIM_ECANCELED), so its request ends.  For a replica
 * that stops leading: its uploads must end before the importer goes. */
void imp_manager_cancel(struct imp_manager *m);

/* The DVCR host the engine writes to (borrowed, the manager's copy). */
const char *imp_manager_dvcr_host(const struct imp_manager *m);

/* ---- jobs ------------------------------------------------------------------ */

/* Starts the job for in->uid (failures: attempts that failed before, kept
 * for the caller's backoff).  0 once the job exists (queued, running or
 * waiting for its upload), its first snapshot in *out.  A negative code when the source's inputs
 * are bad or unusable (message in err): with *terminal the spec must change and no job is kept;
 * otherwise the job is kept as a FAILED attempt, so its retry waits its turn like any other. */
int imp_job_start(struct imp_manager *m, const struct imp_job_input *in, int failures,
                  struct imp_snapshot *out, bool *terminal, struct vim_err *err);
/* 1 and *out filled when a job for uid exists, else 0. */
int imp_job_poll(struct imp_manager *m, const char *uid, struct imp_snapshot *out);
/* Stops the job (its thread leaves at its next chunk) and forgets it.
 * Unknown uids are fine. */
void imp_job_cancel(struct imp_manager *m, const char *uid);
/* Forgets a job that is over (done, failed or waiting for an upload): the
 * caller saw its outcome stored.  A running job stays. */
void imp_job_release(struct imp_manager *m, const char *uid);
/* The job's upload URL stops working; the job stays until released. */
void imp_job_close_upload(struct imp_manager *m, const char *uid);
/* A failed attempt was shown: keep the count and when its retry is due
 * with the job (threadless from here on). */
void imp_job_note(struct imp_manager *m, const char *uid, int failures, int64_t retry_at_ms);
/* Is in's source usable (its row's check)?  1, or 0 with reason/message
 * (e.g. "ContainerRegistrySecretNotFound"). */
int imp_source_check(struct imp_manager *m, const struct imp_job_input *in,
                     char reason[IMP_REASON_MAX], char message[IMP_MESSAGE_MAX],
                     struct vim_err *err);

/* For /metrics. */
struct imp_stats {
	uint64_t started, succeeded, failed; /* jobs (an upload slot counts when data starts) */
	uint64_t bytes;                      /* source bytes of the imports that succeeded */
	unsigned running, queued, waiting_upload;
	/* Finished jobs still held: until the stored status shows their
	 * outcome, or a failed one's retry is due.  Back to 0 once every
	 * image is Ready. */
	unsigned finished;
	struct vim_hist duration_s; /* of the imports that succeeded */
};
void imp_manager_stats(struct imp_manager *m, struct imp_stats *out);

/* ---- uploads: vimaged's HTTP layer feeds these ------------------------------ */

struct imp_upload; /* one upload in flight; owned by the manager */

/* Claims the upload slot named by token for a body of `length` bytes
 * (-1 = unknown: refused, an upload must say its size).  VIM_ENOTFOUND for
 * an unknown token, VIM_EEXIST when an upload is already in progress. */
int imp_upload_begin(struct imp_manager *m, const char *token, int64_t length,
                     struct imp_upload **out, struct vim_err *err);
int imp_upload_data(struct imp_upload *u, const void *data, size_t len, struct vim_err *err);
/* Ends the upload: checksums, format, push to DVCR.  ok = false when the
 * client went away (the upload is dropped and the slot reopens). */
int imp_upload_end(struct imp_upload *u, bool ok, struct vim_err *err);

#endif
