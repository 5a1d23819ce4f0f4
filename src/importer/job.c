/*
 * importer/job — one job's life on the engine's side: its thread in the
 * import pool, its progress, its end (state, message, a kick), and its
 * reaping.  Everything here runs under or takes the manager's lock.
 */
#include "importer/internal.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void imp_job_free(struct job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j->ca_pem);
	if (j->pull_pass) /* do not leave the secret in freed memory */
		memset(j->pull_pass, 0, strlen(j->pull_pass));
	free(j->pull_user);
	free(j->pull_pass);
	imp_checksum_clear(&j->want);
	free(j);
}

/* Job threads are detached, so a finished import's stack goes back at
 * once, not when the controller gets round to reaping its job (10,000
 * images imported in a burst left thousands of exited, unjoined threads
 * holding their stacks).  Whoever frees a job waits for this instead. */
static void *job_thread(void *arg)
{
	struct job *j = arg;
	struct imp_manager *m = j->m;

	j->run(j);
	pthread_mutex_lock(&m->mu);
	j->thread_done = true;
	pthread_cond_broadcast(&m->exited);
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

void imp_job_wait_thread(struct imp_manager *m, struct job *j)
{
	pthread_mutex_lock(&m->mu);
	while (!j->thread_done)
		pthread_cond_wait(&m->exited, &m->mu);
	pthread_mutex_unlock(&m->mu);
	j->has_thread = false;
}

void imp_job_reap(struct imp_manager *m, struct job *j)
{
	struct job **p;

	pthread_mutex_lock(&m->mu);
	for (p = &m->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	j->cancel = true;
	if (j->uploading) {
		/* an HTTP connection is feeding it right now: that thread frees it */
		j->orphan = true;
		pthread_mutex_unlock(&m->mu);
		return;
	}
	pthread_mutex_unlock(&m->mu);
	if (j->has_thread)
		imp_job_wait_thread(m, j);
	imp_job_free(j);
}

bool imp_job_canceled(struct job *j)
{
	bool c;
	pthread_mutex_lock(&j->m->mu);
	c = j->cancel;
	pthread_mutex_unlock(&j->m->mu);
	return c;
}

void imp_job_progress(struct job *j, uint64_t done, uint64_t total)
{
	pthread_mutex_lock(&j->m->mu);
	j->done = done;
	j->total = total;
	pthread_mutex_unlock(&j->m->mu);
}

void imp_job_launch_locked(struct imp_manager *m, struct job *j)
{
	if (m->running >= m->max_running) {
		j->state = IMP_JOB_QUEUED;
		return;
	}
	j->state = IMP_JOB_RUNNING;
	j->started_ms = vim_mono_ms();
	m->stats.started++;
	j->thread_done = false;
	if (pthread_create(&j->th, NULL, job_thread, j) != 0) {
		j->state = IMP_JOB_FAILED;
		snprintf(j->msg, sizeof(j->msg), "cannot start an import thread");
		return;
	}
	pthread_detach(j->th);
	j->has_thread = true;
	m->running++;
}

/* The oldest queued job goes next (jobs are kept newest first). */
static void start_queued_locked(struct imp_manager *m)
{
	struct job *j, *oldest = NULL;

	for (j = m->jobs; j; j = j->next)
		if (j->state == IMP_JOB_QUEUED && !j->cancel)
			oldest = j;
	if (oldest)
		imp_job_launch_locked(m, oldest);
}

void imp_job_end(struct job *j, int rc, bool terminal, const struct imp_result *res,
                 const char *msg)
{
	struct imp_manager *m = j->m;
	char key[sizeof(j->key)], source[sizeof(j->source)], why[sizeof(j->msg)];
	enum model_kind kind;
	bool orphan;

	pthread_mutex_lock(&m->mu);
	if (rc == 0 && res)
		j->res = *res;
	j->state = rc == 0 ? IMP_JOB_DONE : IMP_JOB_FAILED;
	if (rc == 0) {
		m->stats.succeeded++;
		m->stats.bytes += j->done;
		vim_hist_observe(&m->stats.duration_s,
		                 (double)(vim_mono_ms() - j->started_ms) / 1000.0);
	} else if (rc != VIM_ECANCELED) {
		m->stats.failed++;
	}
	j->terminal = terminal;
	/* the message becomes a condition, an event and a log line */
	vim_redact(j->msg, sizeof(j->msg), rc == 0 ? "" : (msg && *msg ? msg : "failed"));
	if (j->has_thread) {
		m->running--;
		start_queued_locked(m);
	}
	/* Copied under the lock: once it is released the job is finished,
	 * and a job without a thread (an upload's) may be reaped and freed
	 * by the controller at once (TSan saw the kick read a freed key). */
	kind = j->kind;
	snprintf(key, sizeof(key), "%s", j->key);
	snprintf(source, sizeof(source), "%s", j->source);
	snprintf(why, sizeof(why), "%s", j->msg);
	/* an upload's end (see imp_upload_end): reaped while it finished */
	j->uploading = false;
	orphan = j->orphan;
	pthread_mutex_unlock(&m->mu);
	if (orphan) {
		imp_job_free(j);
		return;
	}
	if (rc < 0)
		vim_log(VIM_LOG_WARN, "import %s %s (%s): %s", model_kind_info(kind)->name, key,
		        source, why);
	if (m->cfg.kick)
		m->cfg.kick(m->cfg.kick_arg, kind, key);
}
