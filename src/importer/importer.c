/*
 * importer/importer — the jobs table and the LifeCycle side of imports:
 * start a job for an image's source, publish its progress into the status,
 * finish it (Ready with size/format/cdrom/target) or fail it
 * (ProvisioningFailed, retried; ProvisioningFailedTerminally, not).
 */
#include "importer/internal.h"
#include "core/log.h"
#include "core/redact.h"
#include "core/sysutil.h"
#include "core/timeutil.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS 1000         /* progress is published this often */
#define QUEUED_POLL_MS 5000  /* a queued import is looked at this often */
#define RETRY_AFTER_S 30     /* a transient failure is retried after, doubling */
#define RETRY_MAX_S 600      /* ... up to this */
#define UPLOAD_TIMEOUT_S 600 /* upstream's 10 minutes */

/* ---- jobs ------------------------------------------------------------------------ */

static struct job *find_locked(struct imp_manager *m, const char *uid)
{
	struct job *j;
	for (j = m->jobs; j; j = j->next)
		if (strcmp(j->uid, uid) == 0)
			return j;
	return NULL;
}

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
	free(j->want.md5);
	free(j->want.sha1);
	free(j->want.sha256);
	free(j->want.sha512);
	free(j->want.streebog256);
	free(j->want.streebog512);
	free(j);
}

/* Unlinks and frees a job whose thread (if any) has ended or is joined here. */
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

static void wait_thread(struct imp_manager *m, struct job *j)
{
	pthread_mutex_lock(&m->mu);
	while (!j->thread_done)
		pthread_cond_wait(&m->exited, &m->mu);
	pthread_mutex_unlock(&m->mu);
	j->has_thread = false;
}

static void job_reap(struct imp_manager *m, struct job *j)
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
		wait_thread(m, j);
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

/* Starts a job's thread if the pool has room; else it stays JOB_QUEUED. */
static void launch_locked(struct imp_manager *m, struct job *j)
{
	if (m->running >= m->max_running) {
		j->state = JOB_QUEUED;
		return;
	}
	j->state = JOB_RUNNING;
	j->started_ms = vim_mono_ms();
	m->stats.started++;
	j->thread_done = false;
	if (pthread_create(&j->th, NULL, job_thread, j) != 0) {
		j->state = JOB_FAILED;
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
		if (j->state == JOB_QUEUED && !j->cancel)
			oldest = j;
	if (oldest)
		launch_locked(m, oldest);
}

void imp_job_end(struct job *j, int rc, bool terminal, const struct imp_result *res,
                 const char *msg)
{
	struct imp_manager *m = j->m;

	pthread_mutex_lock(&m->mu);
	if (rc == 0 && res)
		j->res = *res;
	j->state = rc == 0 ? JOB_DONE : JOB_FAILED;
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
	pthread_mutex_unlock(&m->mu);
	if (rc < 0)
		vim_log(VIM_LOG_WARN, "import %s %s (%s): %s", model_kind_info(j->kind)->name,
		        j->key, j->source, j->msg);
	if (m->cfg.kick)
		m->cfg.kick(m->cfg.kick_arg, j->kind, j->key);
}

/* ---- status helpers ---------------------------------------------------------------- */

static void ready_cond(struct model_image *img, const char *status, const char *reason,
                       const char *msg, int64_t now)
{
	model_condition_set(&img->status, MODEL_COND_READY, status, reason, msg,
	                    img->meta.generation, now);
}

static void record(struct imp_manager *m, const struct model_image *img, const char *type,
                   const char *reason, const char *msg)
{
	json_t *obj = model_image_ref_to_json(img);
	struct vim_err err;
	char safe[VIM_ERR_MSG_MAX + 64];

	vim_redact(safe, sizeof(safe), msg);
	if (!obj || store_event_record(m->cfg.store,
	                               &(struct store_event_rec){.involved = obj,
	                                                         .type = type,
	                                                         .reason = reason,
	                                                         .message = safe,
	                                                         .now = vim_time_now()},
	                               &err) < 0)
		vim_log(VIM_LOG_WARN, "event %s for %s %s/%s not recorded: %s", reason,
		        model_kind_info(img->kind)->name,
		        img->meta.namespace ? img->meta.namespace : "", img->meta.name,
		        obj ? err.msg : "out of memory");
	json_decref(obj);
}

static void set_size(struct model_image *img, const struct imp_result *r)
{
	char h[32], b[32];

	model_format_ibytes(r->stored_size, h, sizeof(h));
	snprintf(b, sizeof(b), "%llu", (unsigned long long)r->stored_size);
	model_set_str(&img->status.size_stored, h);
	model_set_str(&img->status.size_stored_bytes, b);
	model_format_ibytes(r->virtual_size, h, sizeof(h));
	snprintf(b, sizeof(b), "%llu", (unsigned long long)r->virtual_size);
	model_set_str(&img->status.size_unpacked, h);
	model_set_str(&img->status.size_unpacked_bytes, b);
	model_set_str(&img->status.format, r->format);
	img->status.cdrom = r->cdrom;
}

static void set_speed(struct model_image *img, uint64_t bytes, int64_t ms, bool current)
{
	char n[32], h[40], b[32];
	uint64_t per_s = ms > 0 ? bytes * 1000 / (uint64_t)ms : 0;

	model_format_ibytes(per_s, n, sizeof(n));
	snprintf(h, sizeof(h), "%s/s", n);
	snprintf(b, sizeof(b), "%llu", (unsigned long long)per_s);
	model_set_str(current ? &img->status.speed_current : &img->status.speed_avg, h);
	model_set_str(current ? &img->status.speed_current_bytes : &img->status.speed_avg_bytes, b);
}

/* Monotonic, and below 100% until Ready (upstream's CapProgressBelow). */
static void set_progress(struct model_image *img, uint64_t done, uint64_t total)
{
	double pct = total ? (double)done * 100.0 / (double)total : 0, prev = 0;
	char out[16];

	if (img->status.progress)
		prev = strtod(img->status.progress, NULL);
	if (pct < prev)
		pct = prev;
	if (pct > 99.9)
		pct = 99.9;
	model_format_percent(pct, out, sizeof(out));
	model_set_str(&img->status.progress, out);
}

static void clear_upload(struct model_image *img)
{
	model_set_str(&img->status.upload_url_external, NULL);
	model_set_str(&img->status.upload_url_in_cluster, NULL);
	model_set_str(&img->status.upload_command, NULL);
}

/* ---- sources ------------------------------------------------------------------------- */

/* The ObjectRef source: its store resource, namespace and name. */
static void source_ref(const struct model_image *img, const char **resource, const char **ns,
                       const char **name, bool *cluster)
{
	const struct model_ds_object_ref *o = img->spec.data_source.object_ref;

	*cluster = o && o->kind && strcmp(o->kind, "ClusterVirtualImage") == 0;
	*resource = *cluster ? "clustervirtualimages" : "virtualimages";
	*ns = *cluster ? NULL : (img->kind == MODEL_KIND_VI ? img->meta.namespace : o->namespace);
	*name = o ? o->name : NULL;
}

/* 1 ready (fills *src, caller frees), 0 not (reason/message), <0 error. */
static int load_source(struct imp_manager *m, const struct model_image *img,
                       struct model_image **src, char *reason, char *message, struct vim_err *err)
{
	const char *resource, *ns, *name;
	bool cluster;
	json_t *obj = NULL;
	int rc;

	*src = NULL;
	source_ref(img, &resource, &ns, &name, &cluster);
	snprintf(reason, CTL_REASON_MAX, "%s", cluster ? "ClusterImageNotReady" : "ImageNotReady");
	rc = store_get(m->cfg.store, resource, ns, name ? name : "", &obj, err);
	if (rc == VIM_ENOTFOUND) {
		snprintf(message, CTL_MESSAGE_MAX, "%s %s not found.",
		         cluster ? "ClusterVirtualImage" : "VirtualImage", name ? name : "");
		return 0;
	}
	if (rc < 0)
		return rc;
	rc = model_image_from_json(src, obj, NULL, err);
	json_decref(obj);
	if (rc < 0)
		return rc;
	if ((*src)->status.phase != MODEL_PHASE_READY || !(*src)->status.target_registry_url) {
		snprintf(message, CTL_MESSAGE_MAX, "%s %s not ready.",
		         cluster ? "ClusterVirtualImage" : "VirtualImage", name);
		model_image_free(*src);
		*src = NULL;
		return 0;
	}
	return 1;
}

/* The secret file of a ContainerImage source, "" when it names none. */
static int secret_file(const struct imp_manager *m, const struct model_image *img, char *out,
                       size_t len, struct vim_err *err)
{
	const struct model_ds_container_image *ci = img->spec.data_source.container_image;
	const char *ns;

	out[0] = '\0';
	if (!ci || !ci->pull_secret_name || !ci->pull_secret_name[0])
		return 0;
	ns = img->kind == MODEL_KIND_VI ? img->meta.namespace : ci->pull_secret_namespace;
	return imp_secret_path(m->secrets_dir[0] ? m->secrets_dir : NULL, ns ? ns : "",
	                       ci->pull_secret_name, out, len, err);
}

/* A named pull secret must exist, as upstream (ContainerRegistrySecretNotFound). */
static int secret_check(struct imp_manager *m, const struct model_image *img,
                        char reason[CTL_REASON_MAX], char message[CTL_MESSAGE_MAX],
                        struct vim_err *err)
{
	char path[4400];
	struct vim_err e2 = {0};

	(void)err;
	if (secret_file(m, img, path, sizeof(path), &e2) < 0 ||
	    (path[0] && access(path, R_OK) != 0)) {
		snprintf(reason, CTL_REASON_MAX, "ContainerRegistrySecretNotFound");
		snprintf(message, CTL_MESSAGE_MAX, "Container registry secret not found");
		return 0;
	}
	return 1;
}

static int ds_check(void *self, const struct model_image *img, char reason[CTL_REASON_MAX],
                    char message[CTL_MESSAGE_MAX], struct vim_err *err)
{
	struct model_image *src = NULL;
	const char *t = img->spec.data_source.type;
	int rc;

	if (img->status.phase == MODEL_PHASE_READY || img->status.phase == MODEL_PHASE_IMAGE_LOST)
		return 1; /* imported already: the source no longer matters */
	if (t && strcmp(t, MODEL_DS_CONTAINER_IMAGE) == 0)
		return secret_check(self, img, reason, message, err);
	if (!t || strcmp(t, MODEL_DS_OBJECT_REF) != 0)
		return 1; /* HTTP and Upload are always usable, as upstream */
	rc = load_source(self, img, &src, reason, message, err);
	model_image_free(src);
	return rc;
}

static void dup_checksum(struct model_checksum *dst, const struct model_checksum *src)
{
	dst->md5 = model_strdup(src->md5);
	dst->sha1 = model_strdup(src->sha1);
	dst->sha256 = model_strdup(src->sha256);
	dst->sha512 = model_strdup(src->sha512);
	dst->streebog256 = model_strdup(src->streebog256);
	dst->streebog512 = model_strdup(src->streebog512);
}

/* Backoff after n failed attempts: 30 s, doubling, at most 10 min. */
static int64_t retry_delay_ms(int n)
{
	int64_t ms = (int64_t)RETRY_AFTER_S * 1000;

	while (--n > 0 && ms < RETRY_MAX_S * 1000)
		ms *= 2;
	return ms < RETRY_MAX_S * 1000 ? ms : RETRY_MAX_S * 1000;
}

/* j->ca_pem from a base64 caBundle (NULL or "" = none).  Bad base64 is
 * terminal: the spec must change. */
static int decode_ca_bundle(struct job *j, const char *b64, bool *terminal, struct vim_err *err)
{
	size_t n = b64 ? strlen(b64) : 0;
	int len;

	if (!n)
		return 0;
	if (!(j->ca_pem = calloc(1, n + 1)))
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	len = EVP_DecodeBlock((unsigned char *)j->ca_pem, (const unsigned char *)b64, (int)n);
	if (len <= 0) {
		*terminal = true;
		return vim_err_set(err, VIM_EINVAL, "caBundle is not base64");
	}
	return 0;
}

/* Creates and starts the job for img's source.  Returns the new job's
 * state, or a negative code (message in err; *terminal when retrying
 * cannot help). */
static int start_job(struct imp_manager *m, struct model_image *img, bool *terminal, int failures,
                     struct vim_err *err)
{
	const struct model_data_source *ds = &img->spec.data_source;
	struct job *j = calloc(1, sizeof(*j));
	void *(*run)(void *) = NULL;
	int rc;

	*terminal = false;
	if (!j)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	j->m = m;
	j->failures = failures;
	j->kind = img->kind;
	snprintf(j->uid, sizeof(j->uid), "%s", img->meta.uid);
	if (img->kind == MODEL_KIND_VI)
		snprintf(j->key, sizeof(j->key), "%s/%s", img->meta.namespace, img->meta.name);
	else
		snprintf(j->key, sizeof(j->key), "%s", img->meta.name);
	snprintf(j->source, sizeof(j->source), "%s", ds->type ? ds->type : "");
	if ((rc = model_dvcr_repository(j->repo, sizeof(j->repo), m->cfg.dvcr_host, img, err)) < 0)
		goto fail;
	j->started_ms = vim_mono_ms();
	if (ds->http && strcmp(ds->type, MODEL_DS_HTTP) == 0) {
		j->url = model_strdup(ds->http->url);
		dup_checksum(&j->want, &ds->http->checksum);
		if ((rc = decode_ca_bundle(j, ds->http->ca_bundle, terminal, err)) < 0)
			goto fail;
		run = imp_http_run;
	} else if (strcmp(ds->type, MODEL_DS_UPLOAD) == 0) {
		if (ds->upload)
			dup_checksum(&j->want, &ds->upload->checksum);
		if ((rc = vim_random_hex(j->token, 32, err)) < 0)
			goto fail;
		j->state = JOB_WAIT_UPLOAD;
	} else if (ds->object_ref && strcmp(ds->type, MODEL_DS_OBJECT_REF) == 0) {
		struct model_image *src = NULL;
		struct dvcr_ref ref;
		char reason[CTL_REASON_MAX], msg[CTL_MESSAGE_MAX];
		rc = load_source(m, img, &src, reason, msg, err);
		if (rc == 0)
			rc = vim_err_set(err, VIM_EUPSTREAM, "%s", msg);
		if (rc < 0)
			goto fail;
		rc = dvcr_ref_parse(src->status.target_registry_url, &ref, err);
		if (rc == 0) {
			snprintf(j->src_repo, sizeof(j->src_repo), "%s", ref.repo);
			snprintf(j->src_tag, sizeof(j->src_tag), "%s", ref.tag);
			j->src_result.stored_size = strtoull(
			    src->status.size_stored_bytes ? src->status.size_stored_bytes : "0",
			    NULL, 10);
			j->src_result.virtual_size = strtoull(
			    src->status.size_unpacked_bytes ? src->status.size_unpacked_bytes : "0",
			    NULL, 10);
			snprintf(j->src_result.format, sizeof(j->src_result.format), "%s",
			         src->status.format ? src->status.format : "");
			j->src_result.cdrom = src->status.cdrom;
			snprintf(j->src_result.source_uid, sizeof(j->src_result.source_uid), "%s",
			         src->meta.uid);
		}
		model_image_free(src);
		if (rc < 0)
			goto fail;
		run = imp_objectref_run;
	} else if (ds->container_image && strcmp(ds->type, MODEL_DS_CONTAINER_IMAGE) == 0) {
		char path[4400];
		j->url = model_strdup(ds->container_image->image);
		if ((rc = decode_ca_bundle(j, ds->container_image->ca_bundle, terminal, err)) < 0 ||
		    (rc = secret_file(m, img, path, sizeof(path), err)) < 0 ||
		    (path[0] && (rc = imp_secret_credentials(path, j->url, &j->pull_user,
		                                             &j->pull_pass, err)) < 0))
			goto fail;
		run = imp_registry_run;
	} else {
		*terminal = true;
		rc = vim_err_set(err, VIM_EUNSUPPORTED,
		                 "a %s data source is not supported by this server yet",
		                 ds->type ? ds->type : "(no type)");
		goto fail;
	}
	pthread_mutex_lock(&m->mu);
	j->next = m->jobs;
	m->jobs = j;
	j->run = run;
	if (run)
		launch_locked(m, j);
	rc = (int)j->state;
	pthread_mutex_unlock(&m->mu);
	return rc;
fail:
	if (*terminal) {
		imp_job_free(j);
		return rc;
	}
	/* kept, threadless, as a failed attempt: its retry waits its turn */
	pthread_mutex_lock(&m->mu);
	vim_redact(j->msg, sizeof(j->msg), err->msg);
	j->state = JOB_FAILED;
	j->reported = true;
	j->retry_at_ms = vim_mono_ms() + retry_delay_ms(++j->failures);
	j->next = m->jobs;
	m->jobs = j;
	pthread_mutex_unlock(&m->mu);
	return rc;
}

/* ---- the ctl_importer interface ---------------------------------------------------- */

static bool failed_terminally(const struct model_image *img)
{
	const struct model_condition *r = model_condition_get(&img->status, MODEL_COND_READY);
	return img->status.phase == MODEL_PHASE_FAILED && r && r->reason &&
	       (strcmp(r->reason, "ProvisioningFailedTerminally") == 0 ||
	        strcmp(r->reason, "WaitForUserUploadTimeout") == 0);
}

/* The Failed status of an import (no event: see fail_image). */
static void show_failed(struct model_image *img, bool terminal, const char *msg, int64_t now,
                        char *full, size_t len)
{
	char safe[VIM_ERR_MSG_MAX];

	snprintf(full, len, "Provisioning failed: %s", vim_redact(safe, sizeof(safe), msg));
	img->status.phase = MODEL_PHASE_FAILED;
	ready_cond(img, "False", terminal ? "ProvisioningFailedTerminally" : "ProvisioningFailed",
	           full, now);
	clear_upload(img);
	model_set_str(&img->status.speed_current, NULL);
	model_set_str(&img->status.speed_current_bytes, NULL);
}

static void fail_image(struct imp_manager *m, struct model_image *img, bool terminal,
                       const char *msg, struct ctl_step *step, int64_t now)
{
	char full[VIM_ERR_MSG_MAX + 32];

	show_failed(img, terminal, msg, now, full, sizeof(full));
	record(m, img, "Warning", "DataSourceImportFailed", full);
	if (!terminal)
		step->requeue_after_ms = RETRY_AFTER_S * 1000;
}

/* status.target.registryURL: where the image's data goes in DVCR. */
static int set_target(struct imp_manager *m, struct model_image *img, struct vim_err *err)
{
	char url[600];

	if (model_dvcr_reference(url, sizeof(url), m->cfg.dvcr_host, img, err) < 0)
		return VIM_EINVAL;
	if (model_set_str(&img->status.target_registry_url, url) < 0)
		return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	return 0;
}

/* Starts an import for img (failures: how many attempts failed before,
 * for the retry backoff) and publishes what the user sees first. */
static int begin_import(struct imp_manager *m, struct model_image *img, struct ctl_step *step,
                        int64_t now, int failures, struct vim_err *err)
{
	char reason[64];
	struct job *j;
	bool terminal;
	int rc, e; /* rc: the new job's state */

	rc = start_job(m, img, &terminal, failures, err);
	if (rc < 0) {
		fail_image(m, img, terminal, err->msg, step, now);
		vim_err_clear(err);
		return 0;
	}
	if ((e = set_target(m, img, err)) < 0)
		return e;
	model_set_str(&img->status.progress, "0%");
	snprintf(reason, sizeof(reason), "The %s DataSource import has started",
	         img->spec.data_source.type);
	record(m, img, "Normal", "DataSourceImportStarted", reason);
	if (rc == JOB_WAIT_UPLOAD) {
		char ext[700], cmd[800];
		pthread_mutex_lock(&m->mu);
		j = find_locked(m, img->meta.uid);
		snprintf(ext, sizeof(ext), "%s/upload/%s", m->upload_base, j ? j->token : "");
		pthread_mutex_unlock(&m->mu);
		snprintf(cmd, sizeof(cmd), "curl %s --progress-bar -T <image.name> | cat", ext);
		img->status.phase = MODEL_PHASE_WAIT_FOR_USER_UPLOAD;
		ready_cond(img, "False", "WaitForUserUpload", "Waiting for the user upload.", now);
		model_set_str(&img->status.upload_url_external, ext);
		model_set_str(&img->status.upload_url_in_cluster, ext);
		model_set_str(&img->status.upload_command, cmd);
		step->requeue_after_ms = 5000;
		return 0;
	}
	img->status.phase = MODEL_PHASE_PROVISIONING;
	ready_cond(img, "False", "Provisioning", "Preparing to import the image.", now);
	step->requeue_after_ms = POLL_MS;
	return 0;
}

/* A failed job stays (threadless) until its retry is due, so the backoff
 * does not hang on the Ready condition's lastTransitionTime, which a
 * Failed -> Provisioning -> Failed round does not move. */
static int import_failed(struct imp_manager *m, struct model_image *img, struct job *j, bool term,
                         const char *msg, struct ctl_step *step, int64_t now, struct vim_err *err)
{
	int64_t left;
	int failures;

	if (term) { /* the job goes once the stored status says Failed */
		fail_image(m, img, true, msg, step, now);
		return 0;
	}
	if (!j->reported) {
		if (j->has_thread)
			wait_thread(m, j);
		j->reported = true;
		j->retry_at_ms = vim_mono_ms() + retry_delay_ms(++j->failures);
		fail_image(m, img, false, msg, step, now);
		step->requeue_after_ms = j->retry_at_ms - vim_mono_ms();
		return 0;
	}
	left = j->retry_at_ms - vim_mono_ms();
	if (left > 0) {
		/* the write that showed the failure may have lost a conflict */
		if (img->status.phase != MODEL_PHASE_FAILED) {
			char full[VIM_ERR_MSG_MAX + 32];
			show_failed(img, false, msg, now, full, sizeof(full));
		}
		step->requeue_after_ms = left;
		return 0;
	}
	failures = j->failures;
	job_reap(m, j);
	return begin_import(m, img, step, now, failures, err);
}

/* The stored status shows the outcome now: only here may its job go (once
 * its thread is done).  Reaping it in the reconcile that wrote the outcome lost
 * the outcome whenever that write lost a conflict. */
static void release(void *self, const struct model_image *img)
{
	struct imp_manager *m = self;
	struct job *j;
	bool done;

	if (!img->meta.uid)
		return;
	pthread_mutex_lock(&m->mu);
	j = find_locked(m, img->meta.uid);
	done = j && (j->state == JOB_DONE || j->state == JOB_FAILED || j->state == JOB_WAIT_UPLOAD);
	pthread_mutex_unlock(&m->mu);
	if (done)
		job_reap(m, j);
}

static int import_sync(void *self, struct model_image *img, struct ctl_step *step,
                       struct vim_err *err)
{
	struct imp_manager *m = self;
	const struct model_condition *r;
	int64_t now = vim_time_now();
	char reason[64];
	struct job *j;
	int rc;

	if (!img->meta.uid)
		return 0;
	if (img->status.phase == MODEL_PHASE_READY || failed_terminally(img)) {
		release(m, img);
		return 0;
	}
	pthread_mutex_lock(&m->mu);
	j = find_locked(m, img->meta.uid);
	pthread_mutex_unlock(&m->mu);

	if (!j) {
		/* a transient failure is retried, after a pause */
		r = model_condition_get(&img->status, MODEL_COND_READY);
		if (img->status.phase == MODEL_PHASE_FAILED && r &&
		    now - r->last_transition_time < RETRY_AFTER_S) {
			step->requeue_after_ms =
			    (RETRY_AFTER_S - (now - r->last_transition_time)) * 1000;
			return 0;
		}
		return begin_import(m, img, step, now, 0, err);
	}

	/* The reconcile that started the job set the target, but its write may
	 * have lost a conflict while the job went on: an image must never be
	 * Ready without the address of its data (found by bench/mass-outage). */
	if ((rc = set_target(m, img, err)) < 0)
		return rc;
	pthread_mutex_lock(&m->mu);
	enum job_state st = j->state;
	uint64_t done = j->done, total = j->total;
	int64_t ms = vim_mono_ms() - j->started_ms;
	struct imp_result res = j->res;
	bool term = j->terminal;
	char msg[VIM_ERR_MSG_MAX];
	snprintf(msg, sizeof(msg), "%s", j->msg);
	pthread_mutex_unlock(&m->mu);

	switch (st) {
	case JOB_WAIT_UPLOAD: {
		int64_t limit =
		    m->cfg.upload_timeout_s > 0 ? m->cfg.upload_timeout_s : UPLOAD_TIMEOUT_S;
		r = model_condition_get(&img->status, MODEL_COND_READY);
		if (r && now - r->last_transition_time >= limit) {
			char tmsg[256];
			bool min = limit % 60 == 0;
			snprintf(tmsg, sizeof(tmsg),
			         "The image was not uploaded within %lld %s. Recreate the %s to "
			         "upload the image again.",
			         (long long)(min ? limit / 60 : limit), min ? "minutes" : "seconds",
			         model_kind_info(img->kind)->name);
			/* The URL closes now; the job goes once the stored status
			 * says Failed (if this write loses a conflict, the next
			 * reconcile times out again). */
			pthread_mutex_lock(&m->mu);
			j->token[0] = '\0';
			pthread_mutex_unlock(&m->mu);
			img->status.phase = MODEL_PHASE_FAILED;
			ready_cond(img, "False", "WaitForUserUploadTimeout", tmsg, now);
			clear_upload(img);
			record(m, img, "Warning", "DataSourceImportFailed", tmsg);
			return 0;
		}
		/* also after an upload the client abandoned: the URL is open again */
		img->status.phase = MODEL_PHASE_WAIT_FOR_USER_UPLOAD;
		ready_cond(img, "False", "WaitForUserUpload", "Waiting for the user upload.", now);
		step->requeue_after_ms = 5000;
		return 0;
	}
	case JOB_QUEUED:
		img->status.phase = MODEL_PHASE_PROVISIONING;
		ready_cond(img, "False", "Provisioning",
		           "Waiting for a free import slot (other imports are running).", now);
		/* nothing moves until a slot frees: polling each queued image every
		 * second churned 10,000 reconciles a second in bench/mass-outage */
		step->requeue_after_ms = QUEUED_POLL_MS;
		return 0;
	case JOB_RUNNING:
		img->status.phase = MODEL_PHASE_PROVISIONING;
		ready_cond(img, "False", "Provisioning", "The image is being imported.", now);
		set_progress(img, done, total);
		set_speed(img, done, ms, false);
		set_speed(img, done, ms, true);
		step->requeue_after_ms = POLL_MS;
		return 0;
	case JOB_DONE:
		img->status.phase = MODEL_PHASE_READY;
		ready_cond(img, "True", MODEL_REASON_READY, "", now);
		model_set_str(&img->status.progress, "100%");
		set_size(img, &res);
		if (res.source_uid[0])
			model_set_str(&img->status.source_uid, res.source_uid);
		set_speed(img, res.stored_size, ms, false);
		model_set_str(&img->status.speed_current, NULL);
		model_set_str(&img->status.speed_current_bytes, NULL);
		clear_upload(img);
		snprintf(reason, sizeof(reason), "The %s DataSource import has completed",
		         img->spec.data_source.type);
		record(m, img, "Normal", "DataSourceImportCompleted", reason);
		return 0;
	case JOB_FAILED:
		return import_failed(m, img, j, term, msg, step, now, err);
	}
	return 0;
}

static int cleanup(void *self, const struct model_image *img, struct vim_err *err)
{
	struct imp_manager *m = self;
	struct job *j;

	(void)err;
	if (!img->meta.uid)
		return 0;
	pthread_mutex_lock(&m->mu);
	j = find_locked(m, img->meta.uid);
	pthread_mutex_unlock(&m->mu);
	if (j)
		job_reap(m, j); /* cancels and waits: the thread stops at its next chunk */
	return 0;
}

struct ctl_importer imp_manager_importer(struct imp_manager *m)
{
	struct ctl_importer i = {import_sync, cleanup, m, release};
	return i;
}

struct ctl_datasource imp_manager_datasource(struct imp_manager *m)
{
	struct ctl_datasource d = {ds_check, m};
	return d;
}

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

void imp_manager_stats(struct imp_manager *m, struct imp_stats *out)
{
	struct job *j;

	pthread_mutex_lock(&m->mu);
	*out = m->stats;
	out->running = out->queued = out->waiting_upload = out->finished = 0;
	for (j = m->jobs; j; j = j->next) {
		if (j->state == JOB_RUNNING)
			out->running++;
		else if (j->state == JOB_QUEUED)
			out->queued++;
		else if (j->state == JOB_WAIT_UPLOAD)
			out->waiting_upload++;
		else if (j->state == JOB_DONE || j->state == JOB_FAILED)
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

void imp_manager_free(struct imp_manager *m)
{
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	for (struct job *j = m->jobs; j; j = j->next)
		j->cancel = true; /* so no queued job starts while the others stop */
	pthread_mutex_unlock(&m->mu);
	while (m->jobs)
		job_reap(m, m->jobs);
	pthread_cond_destroy(&m->exited);
	pthread_mutex_destroy(&m->mu);
	free(m);
}
