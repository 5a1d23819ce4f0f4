/*
 * importer/upload — the Upload source: the user's bytes arrive on
 * vimaged's /upload/<token> (PUT or POST, as `curl -T` sends them) and take
 * the same pipeline as an HTTP download.  The token in the URL is the
 * credential, as upstream's upload URLs are.
 */
#include "importer/internal.h"
#include "core/digest.h"
#include "core/sysutil.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

struct imp_upload {
	struct imp_manager *m;
	struct job *j;
	struct imp_pipeline *p;
};

int imp_upload_begin(struct imp_manager *m, const char *token, int64_t length,
                     struct imp_upload **out, struct vim_err *err)
{
	struct imp_upload *u;
	struct job *j;
	char name[96];
	int rc;

	*out = NULL;
	pthread_mutex_lock(&m->mu);
	for (j = m->jobs; j; j = j->next)
		if (j->token[0] && strcmp(j->token, token) == 0)
			break;
	if (!j || (j->state != IMP_JOB_WAIT_UPLOAD && !j->uploading)) {
		pthread_mutex_unlock(&m->mu);
		return vim_err_set(err, VIM_ENOTFOUND, "no image waits for an upload at this URL");
	}
	if (j->uploading) {
		pthread_mutex_unlock(&m->mu);
		return vim_err_set(err, VIM_EEXIST, "an upload to this image is already running");
	}
	if (length <= 0) {
		pthread_mutex_unlock(&m->mu);
		return vim_err_set(err, VIM_EINVAL,
		                   "the upload must say its size (Content-Length): the image size "
		                   "must be known before it is stored");
	}
	j->uploading = true;
	j->state = IMP_JOB_RUNNING;
	m->stats.started++;
	j->done = 0;
	j->total = (uint64_t)length;
	j->started_ms = vim_mono_ms();
	pthread_mutex_unlock(&m->mu);
	if (!(u = calloc(1, sizeof(*u)))) {
		rc = vim_err_set(err, VIM_ENOMEM, "upload: out of memory");
		goto fail;
	}
	u->m = m;
	u->j = j;
	snprintf(name, sizeof(name), "source-stream-%s", j->uid);
	if ((rc = imp_pipeline_begin(&u->p, m->cfg.dvcr, j->repo, name, (uint64_t)length, &j->want,
	                             err)) < 0)
		goto fail;
	if (m->cfg.kick)
		m->cfg.kick(m->cfg.kick_arg, j->kind, j->key); /* now Provisioning */
	*out = u;
	return 0;
fail:
	free(u);
	pthread_mutex_lock(&m->mu);
	j->uploading = false;
	j->state = IMP_JOB_WAIT_UPLOAD;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int imp_upload_data(struct imp_upload *u, const void *data, size_t len, struct vim_err *err)
{
	int rc;

	if (imp_job_canceled(u->j))
		return vim_err_set(err, VIM_ECANCELED, "the image was deleted or changed");
	if ((rc = imp_pipeline_feed(u->p, data, len, err)) < 0)
		return rc;
	imp_job_progress(u->j, u->j->done + len, u->j->total);
	return 0;
}

int imp_upload_end(struct imp_upload *u, bool ok, struct vim_err *err)
{
	struct imp_manager *m = u->m;
	struct job *j = u->j;
	struct imp_result res;
	bool terminal = false, orphan;
	enum model_kind kind = j->kind;
	char key[IMP_KEY_MAX];
	int rc = 0;

	pthread_mutex_lock(&m->mu);
	orphan = j->orphan;
	pthread_mutex_unlock(&m->mu);
	if (ok && !orphan) {
		rc = imp_pipeline_finish(u->p, j->uid, &res, &terminal, err);
		u->p = NULL;
	}
	imp_pipeline_abort(u->p);
	pthread_mutex_lock(&m->mu);
	orphan = j->orphan;
	/* a finished upload stays "uploading" until imp_job_end has marked
	 * it done, under its lock: a reap meanwhile orphans it (imp_job_end
	 * then frees it) instead of freeing a job this thread still uses */
	if (!ok || orphan)
		j->uploading = false;
	if (!ok && !orphan)
		j->state = IMP_JOB_WAIT_UPLOAD; /* the client went away: the slot reopens */
	/* once unlocked a reconcile may reap j (upload timeout): copy its name */
	snprintf(key, sizeof(key), "%s", j->key);
	pthread_mutex_unlock(&m->mu);
	if (orphan)
		imp_job_free(j);
	else if (ok)
		imp_job_end(j, rc, terminal, &res, err ? err->msg : "");
	else if (m->cfg.kick)
		m->cfg.kick(m->cfg.kick_arg, kind, key); /* back to WaitForUserUpload */
	free(u);
	return orphan ? vim_err_set(err, VIM_ECANCELED, "the image was deleted or changed") : rc;
}

/* The token of an upload URL ".../upload/<64 lowercase hex>", or NULL. */
static const char *url_token(const char *url)
{
	size_t n = url ? strlen(url) : 0;
	const char *t;

	if (n < 8 + VIM_SHA256_HEX_LEN)
		return NULL;
	t = url + n - VIM_SHA256_HEX_LEN;
	/* a token is 32 random bytes in hex: the same text as a sha256's */
	if (strncmp(t - 8, "/upload/", 8) != 0 || vim_sha256_unhex(t, NULL) < 0)
		return NULL;
	return t;
}

/* The job waits (no thread) for the user's bytes behind the token of the
 * URL its image already shows (a new leader, or a restart, takes the job
 * over: the user's URL keeps working), or a fresh one. */
static int upload_prepare(struct job *j, const struct imp_job_input *in, bool *terminal,
                          struct vim_err *err)
{
	const char *t = url_token(in->upload_url);
	int rc;

	(void)terminal;
	if (in->ds->upload &&
	    (rc = imp_checksum_copy(&j->want, &in->ds->upload->checksum, model_strdup, err)) < 0)
		return rc;
	if (t) {
		memcpy(j->token, t, VIM_SHA256_HEX_LEN + 1);
		return 0;
	}
	return vim_random_hex(j->token, 32, err);
}

const struct imp_source imp_source_upload = {MODEL_DS_UPLOAD, NULL, upload_prepare, NULL};
