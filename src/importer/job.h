/*
 * importer/job — the job engine's contract, as plain data: what a job is
 * started with (imp_job_input) and what a poll of it shows (imp_snapshot).
 *
 * The engine runs transfers and reports back; it knows nothing of phases,
 * conditions or events.  The controller's import handler (controller/
 * import.c) turns a snapshot into the image's status.  This header depends
 * on the model only, so both sides include it and neither includes the
 * other.
 */
#ifndef VIM_IMPORTER_JOB_H
#define VIM_IMPORTER_JOB_H

#include "core/err.h"
#include "model/model.h"

#include <stdbool.h>
#include <stdint.h>

#define IMP_KEY_MAX 320 /* "ns/name" of the image, for the kick */
#define IMP_REASON_MAX 64
#define IMP_MESSAGE_MAX 256
#define IMP_UPLOAD_URL_MAX 700

/* What an import made: the facts the status shows. */
struct imp_result {
	uint64_t stored_size, virtual_size;
	char format[16];
	bool cdrom;
	char source_uid[64];
};

/* Everything a job starts from.  Pointers are borrowed for the call: the
 * engine copies what it keeps. */
struct imp_job_input {
	const char *uid; /* the job's key: one job per image */
	enum model_kind kind;
	const char *key; /* "ns/name" or "name": what the kick enqueues */
	const char *ns;  /* the image's namespace (NULL for a CVI) */
	/* the source: its type picks the engine's row, which reads its own
	 * block (http, container_image, upload, object_ref) */
	const struct model_data_source *ds;
	/* ObjectRef: the source image, found Ready by the controller, or why
	 * it could not be (src_error: the attempt fails and is retried) */
	const char *src_registry_url;
	struct imp_result src_result;
	const char *src_error;
	/* Upload: the URL the image's status already shows (NULL = none).
	 * One ending in /upload/<64 lowercase hex> gives the job its token,
	 * so the URL the user holds survives a new leader. */
	const char *upload_url;
	/* the target in DVCR */
	const char *repo, *tag;
};

/* QUEUED: waiting for a free slot of the import pool. */
enum imp_job_state {
	IMP_JOB_QUEUED = 0,
	IMP_JOB_RUNNING,
	IMP_JOB_WAIT_UPLOAD,
	IMP_JOB_DONE,
	IMP_JOB_FAILED
};

/* One look at a job (copied out under the engine's lock). */
struct imp_snapshot {
	enum imp_job_state state;
	uint64_t done, total;                /* source bytes */
	int64_t elapsed_ms;                  /* since this attempt started, at the poll */
	struct imp_result result;            /* DONE */
	bool terminal;                       /* FAILED: a retry fails again */
	char msg[VIM_ERR_MSG_MAX];           /* FAILED: why (redacted) */
	char upload_url[IMP_UPLOAD_URL_MAX]; /* WAIT_UPLOAD: where the bytes go */
	/* the caller's retry bookkeeping, kept with the job (imp_job_note) */
	int failures;
	bool reported;
	int64_t retry_at_ms;
};

#endif
