/*
 * importer/importer — the job engine: the jobs table, the pool of import
 * threads, and the contract of importer.h (start, poll, cancel, release).
 * What a source does is in its row (http.c, upload.c, objectref.c,
 * registry.c); what a snapshot means for the image is the controller's.
 */
#include "importer/internal.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/sysutil.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sources, one row each: a new source is a file and a line here. */
static const struct imp_source *const sources[] = {
    &imp_source_http,
    &imp_source_upload,
    &imp_source_objectref,
    &imp_source_registry,
};

static const struct imp_source *source_of(const struct imp_job_input *in)
{
	const char *t = in->ds ? in->ds->type : NULL;

	for (size_t i = 0; t && i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strcmp(sources[i]->type, t) == 0)
			return sources[i];
	return NULL;
}

/* ---- the contract ------------------------------------------------------------------ */

static struct job *find_locked(struct imp_manager *m, const char *uid)
{
	struct job *j;
	for (j = m->jobs; j; j = j->next)
		if (strcmp(j->uid, uid) == 0)
			return j;
	return NULL;
}

static bool token_taken_locked(struct imp_manager *m, const char *token)
{
	for (struct job *j = m->jobs; j; j = j->next)
		if (strcmp(j->token, token) == 0)
			return true;
	return false;
}

int imp_job_start(struct imp_manager *m, const struct imp_job_input *in, int failures,
                  struct imp_snapshot *out, bool *terminal, struct vim_err *err)
{
	const struct imp_source *src = source_of(in);
	struct job *j = calloc(1, sizeof(*j));
	int rc;

	*terminal = false;
	if (!j)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	j->m = m;
	j->failures = failures;
	j->kind = in->kind;
	snprintf(j->uid, sizeof(j->uid), "%s", in->uid);
	snprintf(j->key, sizeof(j->key), "%s", in->key);
	snprintf(j->repo, sizeof(j->repo), "%s", in->repo);
	snprintf(j->source, sizeof(j->source), "%s", in->ds && in->ds->type ? in->ds->type : "");
	j->started_ms = vim_mono_ms();
	if (!src) {
		*terminal = true;
		rc = vim_err_set(err, VIM_EUNSUPPORTED,
		                 "a %s data source is not supported by this server yet",
		                 j->source[0] ? j->source : "(no type)");
		goto fail;
	}
	if ((rc = src->prepare(j, in, terminal, err)) < 0)
		goto fail;
	pthread_mutex_lock(&m->mu);
	/* a token taken from the image's status is another's when that status
	 * was copied: the URL is one image's credential, never two */
	if (j->token[0] && token_taken_locked(m, j->token) &&
	    (rc = vim_random_hex(j->token, 32, err)) < 0) {
		pthread_mutex_unlock(&m->mu);
		goto fail;
	}
	j->next = m->jobs;
	m->jobs = j;
	j->run = src->run;
	if (j->run)
		imp_job_launch_locked(m, j);
	else
		j->state = IMP_JOB_WAIT_UPLOAD;
	pthread_mutex_unlock(&m->mu);
	imp_job_poll(m, in->uid, out);
	return 0;
fail:
	if (*terminal) {
		imp_job_free(j);
		return rc;
	}
	/* kept, threadless, as a failed attempt: its retry waits its turn */
	pthread_mutex_lock(&m->mu);
	vim_redact(j->msg, sizeof(j->msg), err->msg);
	j->state = IMP_JOB_FAILED;
	j->next = m->jobs;
	m->jobs = j;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int imp_job_poll(struct imp_manager *m, const char *uid, struct imp_snapshot *out)
{
	struct job *j;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->mu);
	if ((j = find_locked(m, uid))) {
		out->state = j->state;
		out->done = j->done;
		out->total = j->total;
		out->elapsed_ms = vim_mono_ms() - j->started_ms;
		out->result = j->res;
		out->terminal = j->terminal;
		snprintf(out->msg, sizeof(out->msg), "%s", j->msg);
		snprintf(out->upload_url, sizeof(out->upload_url), "%s/upload/%s", m->upload_base,
		         j->token);
		out->failures = j->failures;
		out->reported = j->reported;
		out->retry_at_ms = j->retry_at_ms;
	}
	pthread_mutex_unlock(&m->mu);
	return j != NULL;
}

void imp_job_cancel(struct imp_manager *m, const char *uid)
{
	struct job *j;

	pthread_mutex_lock(&m->mu);
	j = find_locked(m, uid);
	pthread_mutex_unlock(&m->mu);
	if (j)
		imp_job_reap(m, j); /* cancels and waits: the thread stops at its next chunk */
}

/* Only once the stored status shows the outcome may a job go (the caller
 * says so): reaping it in the reconcile that wrote the outcome lost the
 * outcome whenever that write lost a conflict. */
void imp_job_release(struct imp_manager *m, const char *uid)
{
	struct job *j;
	bool done;

	pthread_mutex_lock(&m->mu);
	j = find_locked(m, uid);
	done = j && (j->state == IMP_JOB_DONE || j->state == IMP_JOB_FAILED ||
	             j->state == IMP_JOB_WAIT_UPLOAD);
	pthread_mutex_unlock(&m->mu);
	if (done)
		imp_job_reap(m, j);
}

void imp_job_close_upload(struct imp_manager *m, const char *uid)
{
	struct job *j;

	pthread_mutex_lock(&m->mu);
	if ((j = find_locked(m, uid)))
		j->token[0] = '\0';
	pthread_mutex_unlock(&m->mu);
}

/* A failed job stays (threadless) until its retry is due, so the backoff
 * does not hang on the Ready condition's lastTransitionTime, which a
 * Failed -> Provisioning -> Failed round does not move. */
void imp_job_note(struct imp_manager *m, const char *uid, int failures, int64_t retry_at_ms)
{
	struct job *j;

	pthread_mutex_lock(&m->mu);
	j = find_locked(m, uid);
	pthread_mutex_unlock(&m->mu);
	if (!j)
		return;
	if (j->has_thread)
		imp_job_wait_thread(m, j);
	pthread_mutex_lock(&m->mu);
	j->failures = failures;
	j->reported = true;
	j->retry_at_ms = retry_at_ms;
	pthread_mutex_unlock(&m->mu);
}

int imp_source_check(struct imp_manager *m, const struct imp_job_input *in,
                     char reason[IMP_REASON_MAX], char message[IMP_MESSAGE_MAX],
                     struct vim_err *err)
{
	const struct imp_source *src = source_of(in);

	(void)err;
	return src && src->check ? src->check(m, in, reason, message) : 1;
}

/* ---- the manager ------------------------------------------------------------------- */

int imp_manager_new(struct imp_manager **out, const struct imp_config *cfg, struct vim_err *err)
{
	struct imp_manager *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (!m)
		return vim_err_set(err, VIM_ENOMEM, "importer: out of memory");
	m->cfg = *cfg;
	snprintf(m->dvcr_host, sizeof(m->dvcr_host), "%s", cfg->dvcr_host ? cfg->dvcr_host : "");
	m->cfg.dvcr_host = m->dvcr_host[0] ? m->dvcr_host : NULL;
	snprintf(m->upload_base, sizeof(m->upload_base), "%s",
	         cfg->upload_base ? cfg->upload_base : "");
	m->cfg.upload_base = NULL;
	snprintf(m->secrets_dir, sizeof(m->secrets_dir), "%s",
	         cfg->secrets_dir ? cfg->secrets_dir : "");
	m->cfg.secrets_dir = NULL;
	m->max_running = cfg->max_imports > 0 ? cfg->max_imports : 4;
	if (!m->cfg.min_rate_bps)
		m->cfg.min_rate_bps = IMP_MIN_RATE_BPS;
	if (m->cfg.stall_window_ms <= 0)
		m->cfg.stall_window_ms = IMP_STALL_WINDOW_MS;
	vim_hist_init(&m->stats.duration_s, vim_hist_import_s, vim_hist_import_n);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->exited, NULL);
	*out = m;
	return 0;
}

const char *imp_manager_dvcr_host(const struct imp_manager *m)
{
	return m->cfg.dvcr_host;
}

void imp_manager_stats(struct imp_manager *m, struct imp_stats *out)
{
	struct job *j;

	pthread_mutex_lock(&m->mu);
	*out = m->stats;
	out->running = out->queued = out->waiting_upload = out->finished = 0;
	for (j = m->jobs; j; j = j->next) {
		if (j->state == IMP_JOB_RUNNING)
			out->running++;
		else if (j->state == IMP_JOB_QUEUED)
			out->queued++;
		else if (j->state == IMP_JOB_WAIT_UPLOAD)
			out->waiting_upload++;
		else if (j->state == IMP_JOB_DONE || j->state == IMP_JOB_FAILED)
			out->finished++;
	}
	pthread_mutex_unlock(&m->mu);
}

void imp_manager_set_upload_base(struct imp_manager *m, const char *base)
{
	pthread_mutex_lock(&m->mu);
	snprintf(m->upload_base, sizeof(m->upload_base), "%s", base ? base : "");
	pthread_mutex_unlock(&m->mu);
}

void imp_manager_cancel(struct imp_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (struct job *j = m->jobs; j; j = j->next)
		j->cancel = true;
	pthread_mutex_unlock(&m->mu);
}

void imp_manager_free(struct imp_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (struct job *j = m->jobs; j; j = j->next)
		j->cancel = true; /* so no queued job starts while the others stop */
	pthread_mutex_unlock(&m->mu);
	while (m->jobs)
		imp_job_reap(m, m->jobs);
	pthread_cond_destroy(&m->exited);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
