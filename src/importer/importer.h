/*
 * importer — brings an image's data into DVCR: one job per image (keyed by
 * its uid) running on a thread of its own, driven by the LifeCycle handler
 * through the ctl_importer interface (start, report progress, finish), and
 * the ctl_datasource check (is an ObjectRef source Ready?).
 *
 * Sources: HTTP (streamed in one pass: checksums, format detection through
 * gz/xz unpacking, the DVCR writer), Upload (the user's bytes arrive on
 * vimaged's /upload/<token> and take the same path), ObjectRef (a copy by
 * cross-repository mount: no data moves), ContainerImage (the disk/ file
 * of an image in another https registry, pulled with a pull secret).
 */
#ifndef VIM_IMPORTER_IMPORTER_H
#define VIM_IMPORTER_IMPORTER_H

#include "controller/chain.h"
#include "core/metrics.h"
#include "dvcr/dvcr.h"
#include "store/store.h"

#include <stdint.h>

struct imp_config {
	struct dvcr_client *dvcr; /* borrowed */
	const char
	    *dvcr_host;      /* "127.0.0.1:5000": the host of status.target.registryURL (copied) */
	struct store *store; /* borrowed: ObjectRef sources are read from it */
	const char *upload_base;  /* NULL: set later with imp_manager_set_upload_base */
	int64_t upload_timeout_s; /* 0 = 600, as upstream */
	int max_imports;          /* downloads at once (0 = 4); more wait their turn */
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

/* Cancels every job and waits for their threads.  NULL is fine. */
void imp_manager_free(struct imp_manager *m);

/* The interfaces the handler chain uses (self = the manager). */
struct ctl_importer imp_manager_importer(struct imp_manager *m);
struct ctl_datasource imp_manager_datasource(struct imp_manager *m);

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
