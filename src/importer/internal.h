/* importer/internal — the pipeline every source feeds, the source rows,
 * and the job state shared by the importer's files. */
#ifndef VIM_IMPORTER_INTERNAL_H
#define VIM_IMPORTER_INTERNAL_H

#include "dvcr/image.h"
#include "importer/importer.h"
#include "importer/layer.h"
#include "importer/sniff.h"

#include <pthread.h>
#include <stdbool.h>

/* ---- the pipeline: source bytes -> checksums, format, DVCR ---------------- */

struct imp_pipeline;

/* want (borrowed, may be NULL): checksums the bytes must match. */
int imp_pipeline_begin(struct imp_pipeline **out, struct dvcr_client *c, const char *repo,
                       const char *file_name, uint64_t size, const struct model_checksum *want,
                       struct vim_err *err);
int imp_pipeline_feed(struct imp_pipeline *p, const void *data, size_t len, struct vim_err *err);
/* Verifies the checksums and the format before anything is committed, then
 * completes the DVCR image under tag.  Frees p.  *terminal tells whether a
 * failure would fail again on retry (checksum, bad image). */
int imp_pipeline_finish(struct imp_pipeline *p, const char *tag, struct imp_result *res,
                        bool *terminal, struct vim_err *err);
void imp_pipeline_abort(struct imp_pipeline *p);

/* ---- sources: one row per dataSource type ------------------------------------ */

struct job;
struct imp_manager;

/* In the spirit of curl's Curl_handler: the engine calls the hooks and
 * never asks which source it runs.  Adding a source is one file exporting
 * one row, listed in importer.c's table. */
struct imp_source {
	const char *type; /* spec.dataSource.type */
	/* Is the source usable now (1), or not (0, reason/message filled)?
	 * NULL = always, as upstream for HTTP and Upload. */
	int (*check)(struct imp_manager *m, const struct imp_job_input *in,
	             char reason[IMP_REASON_MAX], char message[IMP_MESSAGE_MAX]);
	/* Copies and checks the row's inputs into j at start; *terminal when
	 * they can never work (the spec must change). */
	int (*prepare)(struct job *j, const struct imp_job_input *in, bool *terminal,
	               struct vim_err *err);
	/* The job's thread body; NULL = the job waits for an upload. */
	void *(*run)(void *job);
};

extern const struct imp_source imp_source_http;
extern const struct imp_source imp_source_upload;
extern const struct imp_source imp_source_objectref;
extern const struct imp_source imp_source_registry;

/* Shared by the rows' prepare hooks (inputs.c).  dst = copies of src's sums, through dup
 * (model_strdup; a test passes a failing one).  VIM_ENOMEM when one fails: dst is then all NULL, as
 * a requested checksum that is not verified would pass a wrong image. */
int imp_checksum_copy(struct model_checksum *dst, const struct model_checksum *src,
                      char *(*dup)(const char *), struct vim_err *err);
void imp_checksum_clear(struct model_checksum *c);
/* j->ca_pem from a base64 caBundle (NULL or "" = none); bad base64 is terminal. */
int imp_ca_bundle_decode(struct job *j, const char *b64, bool *terminal, struct vim_err *err);

/* ---- jobs ------------------------------------------------------------------------------------ */

struct job {
	struct imp_manager *m;
	char uid[64];
	enum model_kind kind;
	char key[IMP_KEY_MAX];
	char repo[DVCR_REPO_MAX];
	char source[16]; /* "HTTP", "Upload", ... (for messages) */
	/* inputs copied from the spec at start */
	char *url;    /* the URL, or the image reference for ContainerImage */
	char *ca_pem; /* the spec's caBundle decoded once (PEM text); NULL = system roots */
	char *pull_user, *pull_pass; /* ContainerImage credentials, NULL = anonymous */
	struct model_checksum want;
	char src_repo[DVCR_REPO_MAX], src_tag[DVCR_TAG_MAX];
	struct imp_result src_result;
	char token[65]; /* upload slot */
	/* progress and outcome; guarded by m->mu */
	enum imp_job_state state;
	bool terminal, cancel, uploading;
	bool orphan; /* reaped while an upload held it: the uploader frees it */
	/* the caller's retry bookkeeping (imp_job_note): a transient failure,
	 * shown to the user, waiting for its retry */
	bool reported;
	int failures; /* attempts that failed before (and including) this one */
	int64_t retry_at_ms;
	char msg[VIM_ERR_MSG_MAX];
	uint64_t done, total;
	int64_t started_ms;
	struct imp_result res;
	void *(*run)(void *); /* the thread body, for a queued job */
	pthread_t th;
	bool has_thread;
	bool thread_done; /* its (detached) thread has left the job for good */
	struct job *next;
};

struct imp_manager {
	struct imp_config cfg; /* cfg.dvcr_host points at dvcr_host below */
	char dvcr_host[256];
	char secrets_dir[4096]; /* "" = none */
	char upload_base[256];  /* guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t exited;    /* a job's thread is done (thread_done set) */
	struct job *jobs;         /* newest first */
	int running, max_running; /* threads of the import pool */
	struct imp_stats stats;   /* counters; running/queued computed on demand */
};

/* Pull secrets (pull_secret.c).  The file of secret ns/name under dir. */
int imp_secret_path(const char *dir, const char *ns, const char *name, char *out, size_t len,
                    struct vim_err *err);
/* The secret file a ContainerImage source names ("" when none) under the
 * manager's secrets directory. */
int imp_secret_file(const struct imp_manager *m, const struct imp_job_input *in, char *out,
                    size_t len, struct vim_err *err);
/* Credentials for image's registry from the secret file at path (malloc'd,
 * caller frees; both NULL when it has none for that host).  VIM_ENOTFOUND
 * when the file does not exist. */
int imp_secret_credentials(const char *path, const char *image, char **user, char **pass,
                           struct vim_err *err);

/* job.c.  Starts j's thread if the pool has room; else it stays
 * IMP_JOB_QUEUED.  Under m->mu. */
void imp_job_launch_locked(struct imp_manager *m, struct job *j);
/* Unlinks j, cancels it, waits for its thread and frees it (an upload in
 * flight frees it instead). */
void imp_job_reap(struct imp_manager *m, struct job *j);
void imp_job_wait_thread(struct imp_manager *m, struct job *j);

/* The ContainerImage manifest (registry.c).  A manifest or index body is
 * read up to IMP_MANIFEST_MAX bytes, then parsed as JSON. */
#define IMP_MANIFEST_MAX (1 << 20)
#define IMP_LAYERS_MAX 128

struct imp_layer_ref {
	char digest[DVCR_DIGEST_MAX];
	uint64_t size;
};

struct imp_manifest {
	char child[DVCR_DIGEST_MAX]; /* an index: the image to read next; "" otherwise */
	struct imp_layer_ref layers[IMP_LAYERS_MAX]; /* bottom layer first */
	int nlayers;                                 /* 1..IMP_LAYERS_MAX when child is "" */
	uint64_t total;                              /* the layers' sizes, each at most 2^56 */
};

/* Reads the parsed manifest m (borrowed) into *out: with index_ok, an index
 * (OCI image index, Docker manifest list) names its linux/amd64 child (or
 * its only one) in out->child; otherwise m must be a schema 2 / OCI image
 * with 1 to IMP_LAYERS_MAX layers, each a digest and a size, none zstd.
 * what ("host/repo:ref") names the image in err. */
int imp_manifest_read(const json_t *m, bool index_ok, const char *what, struct imp_manifest *out,
                      struct vim_err *err);

/* Ends a job (from its thread): state, message, then a kick. */
void imp_job_end(struct job *j, int rc, bool terminal, const struct imp_result *res,
                 const char *msg);
bool imp_job_canceled(struct job *j);
void imp_job_free(struct job *j);
void imp_job_progress(struct job *j, uint64_t done, uint64_t total);

#endif
