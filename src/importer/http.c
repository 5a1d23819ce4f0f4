/*
 * importer/http — the HTTP source: one GET, streamed straight into the
 * pipeline as it arrives.  The tar header needs the size, so the body's
 * Content-Length is required (as upstream requires it); redirects are
 * followed (bounded); a stalled transfer, a 4xx/5xx or a short body fail
 * the import with the numbers in the message.
 */
#include "importer/internal.h"
#include "core/rate.h"
#include "core/redact.h"
#include "core/timeutil.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define HTTP_MAX_REDIRECTS 10
#define HTTP_CONNECT_TIMEOUT_S 30
#define HTTP_STALL_S 60 /* less than 1 byte/s for this long is a stall */

struct xfer {
	struct job *j;
	CURL *c;
	struct imp_pipeline *p;
	struct vim_err err;
	int rc;
	long status;
	bool started;
	struct vim_rate rate;
	const char *label; /* "GET <url, redacted>: " */
};

/* The source's minimum speed; the time on_body spends in the pipeline
 * (DVCR taking the bytes) is ours, not the source's. */
static int on_progress(void *arg, curl_off_t dltot, curl_off_t dlnow, curl_off_t ultot,
                       curl_off_t ulnow)
{
	struct xfer *x = arg;
	uint64_t sent;

	(void)dltot;
	(void)ultot;
	(void)ulnow;
	if (!vim_rate_stalled(&x->rate, vim_mono_ms(), (uint64_t)dlnow, &sent))
		return 0;
	x->rc = vim_rate_fail(&x->err, x->label, "the source", "sent", &x->rate, sent);
	return 1;
}

static const char *file_name_of(const char *url)
{
	/* upstream: path.Base(url.Path), query ignored */
	static __thread char name[256];
	const char *q = strpbrk(url, "?#"), *end = q ? q : url + strlen(url), *slash = end;

	while (slash > url && slash[-1] != '/')
		slash--;
	snprintf(name, sizeof(name), "%.*s", (int)(end - slash), slash);
	return name[0] ? name : "disk.img";
}

/* The first body byte: the status and the size are known now. */
static int start(struct xfer *x)
{
	curl_off_t len = -1;

	curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &x->status);
	curl_easy_getinfo(x->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
	x->started = true;
	if (x->status >= 400)
		return 0; /* reported after the transfer */
	if (len <= 0) {
		x->rc = vim_err_set(&x->err, VIM_EUPSTREAM,
		                    "the server sent no Content-Length: the image size must be "
		                    "known before it is stored");
		return -1;
	}
	imp_job_progress(x->j, 0, (uint64_t)len);
	x->rc = imp_pipeline_begin(&x->p, x->j->m->cfg.dvcr, x->j->repo, file_name_of(x->j->url),
	                           (uint64_t)len, &x->j->want, &x->err);
	return x->rc < 0 ? -1 : 0;
}

static size_t on_body(char *data, size_t sz, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = sz * n;
	int64_t t0;

	if (imp_job_canceled(x->j))
		return 0;
	if (!x->started && start(x) < 0)
		return 0;
	if (x->status >= 400)
		return len; /* drain the error page */
	t0 = vim_mono_ms();
	x->rc = imp_pipeline_feed(x->p, data, len, &x->err);
	vim_rate_pause(&x->rate, vim_mono_ms() - t0);
	if (x->rc < 0)
		return 0;
	imp_job_progress(x->j, x->j->done + len, x->j->total);
	return len;
}

static void *http_run(void *arg)
{
	struct job *j = arg;
	struct xfer x = {.j = j};
	struct imp_result res;
	char errbuf[CURL_ERROR_SIZE] = "", msg[VIM_ERR_MSG_MAX], url[VIM_ERR_MSG_MAX / 2];
	char label[VIM_ERR_MSG_MAX / 2 + 8];
	bool terminal = false;
	CURLcode cr;

	if (!(x.c = curl_easy_init())) {
		imp_job_end(j, VIM_ENOMEM, false, NULL, "cannot start an HTTP client");
		return NULL;
	}
	curl_easy_setopt(x.c, CURLOPT_URL, j->url);
	curl_easy_setopt(x.c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(x.c, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
	curl_easy_setopt(x.c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(x.c, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
	curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(x.c, CURLOPT_LOW_SPEED_TIME, (long)HTTP_STALL_S);
	curl_easy_setopt(x.c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.c, CURLOPT_USERAGENT, "vimage-importer/1");
	curl_easy_setopt(x.c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x.c, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.c, CURLOPT_ERRORBUFFER, errbuf);
	vim_rate_init(&x.rate, j->m->cfg.min_rate_bps, j->m->cfg.stall_window_ms);
	curl_easy_setopt(x.c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(x.c, CURLOPT_XFERINFODATA, &x);
	curl_easy_setopt(x.c, CURLOPT_NOPROGRESS, 0L);
	if (j->ca_pem) {
		struct curl_blob blob = {j->ca_pem, strlen(j->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(x.c, CURLOPT_CAINFO_BLOB, &blob);
	}
	/* messages name the URL without its credentials (curl's own
	 * error text may quote it too) */
	vim_redact(url, sizeof(url), j->url);
	snprintf(label, sizeof(label), "GET %s: ", url);
	x.label = label;
	cr = curl_easy_perform(x.c);
	if (!x.started) /* an empty body still has a status */
		curl_easy_getinfo(x.c, CURLINFO_RESPONSE_CODE, &x.status);
	if (imp_job_canceled(j)) {
		imp_job_end(j, VIM_ECANCELED, false, NULL, "canceled");
	} else if (x.status >= 400) {
		snprintf(msg, sizeof(msg), "GET %s: the server answered %ld", url, x.status);
		/* a missing file stays missing; a 5xx or 429 may pass */
		imp_job_end(j, VIM_EUPSTREAM, x.status >= 400 && x.status < 500 && x.status != 429,
		            NULL, msg);
	} else if (x.rc < 0) {
		imp_job_end(j, x.rc, x.rc == VIM_EINVAL, NULL, x.err.msg);
	} else if (cr != CURLE_OK) {
		vim_redact_inplace(errbuf, sizeof(errbuf));
		snprintf(msg, sizeof(msg), "GET %s: %.200s after %llu of %llu bytes", url,
		         errbuf[0] ? errbuf : curl_easy_strerror(cr), (unsigned long long)j->done,
		         (unsigned long long)j->total);
		imp_job_end(j, VIM_EUPSTREAM, false, NULL, msg);
	} else if (!x.p) {
		imp_job_end(j, VIM_EUPSTREAM, false, NULL, "the server sent no body");
	} else {
		int rc = imp_pipeline_finish(x.p, j->uid, &res, &terminal, &x.err);
		x.p = NULL;
		imp_job_end(j, rc, terminal, &res, x.err.msg);
	}
	imp_pipeline_abort(x.p);
	curl_easy_cleanup(x.c);
	return NULL;
}

static int http_prepare(struct job *j, const struct imp_job_input *in, bool *terminal,
                        struct vim_err *err)
{
	const struct model_ds_http *h = in->ds->http;
	int rc;

	if (!h || !h->url) {
		*terminal = true;
		return vim_err_set(err, VIM_EINVAL, "spec.dataSource.http.url is required");
	}
	if (!(j->url = model_strdup(h->url)))
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	if ((rc = imp_checksum_copy(&j->want, &h->checksum, model_strdup, err)) < 0)
		return rc;
	return imp_ca_bundle_decode(j, h->ca_bundle, terminal, err);
}

const struct imp_source imp_source_http = {MODEL_DS_HTTP, NULL, http_prepare, http_run};
