/* dvcr/client — the client object, its handle pool and the one request
 * engine every operation goes through. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/redact.h"
#include "core/timeutil.h"
#include "dvcr/internal.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int dvcr_client_new(struct dvcr_client **out, const struct dvcr_config *cfg, struct vim_err *err)
{
	int rc = 0;
	struct dvcr_client *c = NULL;
	size_t n;

	*out = NULL;
	if (!cfg || !cfg->base_url ||
	    (strncmp(cfg->base_url, "http://", 7) != 0 &&
	     strncmp(cfg->base_url, "https://", 8) != 0)) {
		rc = vim_err_set(err, VIM_EINVAL,
		                 "dvcr: base URL must start with http:// or https://");
		goto out;
	}
	if (strlen(cfg->base_url) > DVCR_URL_MAX / 2) {
		rc = vim_err_set(err, VIM_EINVAL, "dvcr: base URL too long");
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	c->base = strdup(cfg->base_url);
	c->user = dup_or_null(cfg->username);
	c->pass = dup_or_null(cfg->password);
	c->ca = dup_or_null(cfg->ca_file);
	c->ca_pem = dup_or_null(cfg->ca_pem);
	c->ua = strdup(cfg->user_agent ? cfg->user_agent : "vimage-dvcr/1");
	if (!c->base || !c->ua || (cfg->username && !c->user) || (cfg->password && !c->pass) ||
	    (cfg->ca_file && !c->ca) || (cfg->ca_pem && !c->ca_pem)) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	n = strlen(c->base);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->insecure = cfg->insecure_tls;
	c->head_trusted = cfg->head_trusted;
	c->connect_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 60000;
	c->stall_secs = cfg->stall_secs > 0 ? cfg->stall_secs : 30;
	c->min_rate_bps = cfg->min_rate_bps;
	c->rate_window_ms = cfg->rate_window_ms;
	for (n = 0; n < DVCR_STAT_METHODS; n++)
		vim_hist_init(&c->stats.seconds[n], vim_hist_request_s, vim_hist_request_n);
	if (pthread_mutex_init(&c->mu, NULL) != 0) {
		rc = vim_err_set(err, VIM_EINTERNAL, "dvcr: mutex init failed");
		goto out;
	}
	*out = c;
	c = NULL;
out:
	if (c) {
		free(c->base);
		free(c->user);
		free(c->pass);
		free(c->ca);
		free(c->ca_pem);
		free(c->ua);
		free(c);
	}
	return rc;
}

void dvcr_client_free(struct dvcr_client *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->npool; i++)
		curl_easy_cleanup(c->pool[i]);
	dvcr_tokens_free(c);
	pthread_mutex_destroy(&c->mu);
	free(c->base);
	free(c->user);
	if (c->pass) /* do not leave the secret in freed memory */
		memset(c->pass, 0, strlen(c->pass));
	free(c->pass);
	free(c->ca);
	free(c->ca_pem);
	free(c->ua);
	free(c);
}

CURL *dvcr_handle_get(struct dvcr_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->npool > 0)
		h = c->pool[--c->npool];
	pthread_mutex_unlock(&c->mu);
	if (!h)
		h = curl_easy_init();
	return h;
}

/* A returned handle keeps its connection cache, so the next call on any
 * thread reuses the socket; past DVCR_POOL_MAX idle handles we close. */
void dvcr_handle_put(struct dvcr_client *c, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&c->mu);
	if (c->npool < DVCR_POOL_MAX) {
		c->pool[c->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

void dvcr_apply_common(struct dvcr_client *c, CURL *h, int stream)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS */
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->ua);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	if (!stream)
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_secs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	if (c->ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->ca);
	if (c->ca_pem) {
		struct curl_blob blob = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

/* Copies a header value if it fits; a longer one is flagged, not cut, so a
 * truncated digest or Location can never be used. */
static void take(const char *v, size_t vlen, char *dst, size_t cap, int *overflow)
{
	if (vlen >= cap) {
		*overflow = 1;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, v, vlen);
	dst[vlen] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct dvcr_req *r = ud;
	size_t len = size * n, nl, vl;
	const char *colon, *v;

	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		/* a new response (100 Continue, redirect): forget earlier headers */
		r->digest[0] = r->media_type[0] = r->location[0] = r->link[0] = '\0';
		r->www_auth[0] = '\0';
		r->content_length = -1;
		return len;
	}
	colon = memchr(data, ':', len);
	if (!colon)
		return len;
	nl = (size_t)(colon - data);
	v = colon + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
#define IS(name) (nl == sizeof(name) - 1 && strncasecmp(data, name, nl) == 0)
	if (IS("Docker-Content-Digest")) {
		take(v, vl, r->digest, sizeof(r->digest), &r->header_overflow);
	} else if (IS("Content-Type")) {
		take(v, vl, r->media_type, sizeof(r->media_type), &r->header_overflow);
	} else if (IS("Location")) {
		take(v, vl, r->location, sizeof(r->location), &r->header_overflow);
	} else if (IS("Link")) {
		take(v, vl, r->link, sizeof(r->link), &r->header_overflow);
	} else if (IS("WWW-Authenticate")) {
		take(v, vl, r->www_auth, sizeof(r->www_auth), &r->header_overflow);
	} else if (IS("Content-Length")) {
		char tmp[24];
		int ovf = 0;
		take(v, vl, tmp, sizeof(tmp), &ovf);
		if (!ovf && tmp[0] >= '0' && tmp[0] <= '9') {
			char *end;
			long long x;
			errno = 0;
			x = strtoll(tmp, &end, 10);
			/* beyond 2^63 strtoll says LLONG_MAX: unknown, not huge */
			r->content_length =
			    (*end == '\0' && x >= 0 && errno != ERANGE) ? (int64_t)x : -1;
		}
	}
#undef IS
	return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *ud)
{
	struct dvcr_req *r = ud;
	size_t len = size * n, room;
	long status = 0;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status > 299) {
		/* an error answer: keep its head for the message, bounded */
		room = sizeof(r->errbody) - 1 - r->errlen;
		if (room > len)
			room = len;
		memcpy(r->errbody + r->errlen, data, room);
		r->errlen += room;
		r->errbody[r->errlen] = '\0';
		return len;
	}
	if (r->write) {
		int64_t t0 = vim_mono_ms();
		int wrc = r->write(r->write_ud, data, len);
		vim_rate_pause(&r->rate, vim_mono_ms() - t0); /* our consumer's time */
		if (wrc != 0) {
			r->cb_abort = 1;
			return 0;
		}
		r->len += len;
		return len;
	}
	if (!r->buf)
		return len;
	room = r->cap - r->len;
	if (len > room) {
		memcpy((char *)r->buf + r->len, data, room);
		r->len += room;
		if (r->stop_when_full)
			r->full = 1;
		else
			r->overflow = 1;
		return 0; /* stop reading: the rest is not wanted or not allowed */
	}
	memcpy((char *)r->buf + r->len, data, len);
	r->len += len;
	return len;
}

static size_t on_read(char *dst, size_t size, size_t n, void *ud)
{
	struct dvcr_req *r = ud;
	size_t cap = size * n, left;
	long got;

	if (r->read) {
		int64_t t0 = vim_mono_ms();
		got = r->read(r->read_ud, dst, cap);
		vim_rate_pause(&r->rate, vim_mono_ms() - t0); /* our producer's time */
		if (got < 0 || (size_t)got > cap) {
			r->cb_abort = 1;
			return CURL_READFUNC_ABORT;
		}
		return (size_t)got;
	}
	left = r->body_len - r->body_pos;
	if (left > cap)
		left = cap;
	if (left)
		memcpy(dst, (const char *)r->body + r->body_pos, left);
	r->body_pos += left;
	return left;
}

static int on_seek(void *ud, curl_off_t off, int origin)
{
	struct dvcr_req *r = ud;

	if (r->read || origin != SEEK_SET || off < 0 || (size_t)off > r->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->body_pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

int dvcr_resolve(struct dvcr_client *c, const char *loc, char *out, size_t outlen,
                 struct vim_err *err)
{
	int rc = 0;
	CURLU *u = curl_url();
	char *full = NULL;
	char base[DVCR_URL_MAX];

	if (!u) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	snprintf(base, sizeof(base), "%s/", c->base);
	/* setting a relative URL on top of the base resolves it like a browser */
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "dvcr: registry sent an unusable URL");
		goto out;
	}
	if (strlen(full) >= outlen) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "dvcr: registry sent a URL over %zu bytes",
		                 outlen);
		goto out;
	}
	memcpy(out, full, strlen(full) + 1);
out:
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

static void derive_scope(const struct dvcr_req *r, char *out, size_t outlen)
{
	if (r->scope)
		snprintf(out, outlen, "%s", r->scope);
	else if (r->repo)
		snprintf(out, outlen, "repository:%s:%s", r->repo, r->push ? "pull,push" : "pull");
	else
		out[0] = '\0';
}

static void reset_response(struct dvcr_req *r)
{
	r->status = 0;
	r->len = 0;
	r->content_length = -1;
	r->digest[0] = r->media_type[0] = r->location[0] = r->link[0] = r->www_auth[0] = '\0';
	r->errbody[0] = '\0';
	r->errlen = 0;
	r->body_pos = 0;
	r->overflow = r->header_overflow = r->cb_abort = r->full = r->stalled = r->slow = 0;
	r->last_moved = r->last_ms = 0;
}

/* A stall is "no byte moved for stall_ms", measured here rather than with
 * CURLOPT_LOW_SPEED_*, whose averaged speed lets a burst hide a stall for
 * many seconds. */
static int on_progress(void *ud, curl_off_t dltot, curl_off_t dlnow, curl_off_t ultot,
                       curl_off_t ulnow)
{
	struct dvcr_req *r = ud;
	int64_t moved = (int64_t)dlnow + (int64_t)ulnow, now = vim_mono_ms();

	(void)dltot;
	(void)ultot;
	if (vim_rate_stalled(&r->rate, now, (uint64_t)moved, &r->slow_sent)) {
		r->slow = 1;
		return 1;
	}
	if (moved != r->last_moved || r->last_ms == 0) {
		r->last_moved = moved;
		r->last_ms = now;
		return 0;
	}
	if (now - r->last_ms > r->stall_ms) {
		r->stalled = 1;
		return 1;
	}
	return 0;
}

/* One attempt on handle h. */
static const char *const stat_methods[DVCR_STAT_METHODS] = {"GET",   "HEAD", "PUT",
                                                            "PATCH", "POST", "DELETE"};

/* One request's outcome into the counters (status 0: no answer). */
static void stats_note(struct dvcr_client *c, const char *method, long status, int64_t ms)
{
	int mi, ci = status >= 100 && status < 600 ? (int)(status / 100) : 0;

	for (mi = 0; mi < DVCR_STAT_METHODS - 1; mi++)
		if (strcmp(method, stat_methods[mi]) == 0)
			break;
	pthread_mutex_lock(&c->mu);
	c->stats.requests[mi][ci]++;
	vim_hist_observe(&c->stats.seconds[mi], (double)ms / 1000.0);
	pthread_mutex_unlock(&c->mu);
}

void dvcr_client_stats(struct dvcr_client *c, struct dvcr_stats *out)
{
	pthread_mutex_lock(&c->mu);
	*out = c->stats;
	pthread_mutex_unlock(&c->mu);
}

const char *dvcr_stats_method(int i)
{
	return i >= 0 && i < DVCR_STAT_METHODS ? stat_methods[i] : "";
}

static int perform(struct dvcr_client *c, CURL *h, struct dvcr_req *r, const char *scope,
                   struct vim_err *err)
{
	int rc = 0;
	CURLcode cc;
	struct curl_slist *hdrs = NULL, *t;
	char url[DVCR_URL_MAX * 2], line[DVCR_TOKEN_MAX + 64], cerr[CURL_ERROR_SIZE];
	char lb[DVCR_REPO_MAX + DVCR_URL_MAX];
	char *tok = NULL;
	int basic, bearer, n;

	reset_response(r);
	r->h = h;
	dvcr_label(r, lb, sizeof(lb));
	dvcr_apply_common(c, h, r->stream);
	n = snprintf(url, sizeof(url), "%s%s", r->url[0] == '/' ? c->base : "", r->url);
	if (n < 0 || (size_t)n >= sizeof(url)) {
		/* never send a cut URL: it would name another object */
		rc = vim_err_set(err, VIM_EINVAL, "%s: URL too long", lb);
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	cerr[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	r->stall_ms = (int64_t)c->stall_secs * 1000;
	/* the short calls have their overall timeout; the streams need this */
	vim_rate_init(&r->rate, r->stream ? c->min_rate_bps : 0, c->rate_window_ms);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	if (r->follow) {
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 3L);
	}

	/* "Expect:" off: the 100-continue round trip only adds latency here */
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (r->accept) {
		snprintf(line, sizeof(line), "Accept: %s", r->accept);
		hdrs = (t = curl_slist_append(hdrs, line)) ? t : hdrs;
	}
	if (r->content_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", r->content_type);
		hdrs = (t = curl_slist_append(hdrs, line)) ? t : hdrs;
	}
	if (r->content_range) {
		snprintf(line, sizeof(line), "Content-Range: %s", r->content_range);
		hdrs = (t = curl_slist_append(hdrs, line)) ? t : hdrs;
	}
	if (r->range)
		curl_easy_setopt(h, CURLOPT_RANGE, r->range);

	pthread_mutex_lock(&c->mu);
	basic = c->scheme == DVCR_SCHEME_BASIC;
	bearer = c->scheme == DVCR_SCHEME_BEARER;
	pthread_mutex_unlock(&c->mu);
	if (basic && c->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass ? c->pass : "");
	} else if (bearer) {
		tok = malloc(DVCR_TOKEN_MAX);
		if (tok && dvcr_token_lookup(c, scope, tok, DVCR_TOKEN_MAX) == 0) {
			snprintf(line, sizeof(line), "Authorization: Bearer %s", tok);
			hdrs = (t = curl_slist_append(hdrs, line)) ? t : hdrs;
			memset(line, 0, sizeof(line));
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);

	if (strcmp(r->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (r->has_body || r->read) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
		if (!r->read)
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
		else if (r->read_len >= 0)
			curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->read_len);
		if (strcmp(r->method, "PUT") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (strcmp(r->method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}

	{
		int64_t t0 = vim_mono_ms();
		cc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		stats_note(c, r->method, cc == CURLE_OK ? r->status : 0, vim_mono_ms() - t0);
	}
	if (cc == CURLE_WRITE_ERROR && r->full) {
		cc = CURLE_OK; /* we stopped on purpose: the buffer is full */
	}
	if (cc != CURLE_OK) {
		const char *why = cerr[0] ? cerr : curl_easy_strerror(cc);
		vim_redact_inplace(cerr, sizeof(cerr)); /* curl may quote a URL */
		if (r->cb_abort)
			rc = vim_err_set(err, VIM_ECANCELED, "%s: aborted by the caller", lb);
		else if (r->overflow)
			rc = vim_err_set(err, VIM_ETOOLARGE, "%s: answer over %zu bytes", lb,
			                 r->cap);
		else if (r->slow) {
			char pre[sizeof(lb) + 2];
			snprintf(pre, sizeof(pre), "%s: ", lb);
			rc = vim_rate_fail(err, pre, "the registry",
			                   r->read || r->has_body ? "took" : "sent", &r->rate,
			                   r->slow_sent);
		} else if (r->stalled)
			rc = vim_err_set(err, VIM_ETIMEDOUT, "%s: stalled, no data for %ld s", lb,
			                 c->stall_secs);
		else if (cc == CURLE_OPERATION_TIMEDOUT)
			rc = vim_err_set(err, VIM_ETIMEDOUT, "%s: %s", lb, why);
		else
			rc = vim_err_set(err, VIM_EUPSTREAM, "%s: %s", lb, why);
		goto out;
	}
	if (r->header_overflow) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "%s: a response header is too long", lb);
		goto out;
	}
out:
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(hdrs); /* may hold the token: freed right away */
	if (tok) {
		memset(tok, 0, DVCR_TOKEN_MAX);
		free(tok);
	}
	return rc;
}

int dvcr_do(struct dvcr_client *c, struct dvcr_req *r, struct vim_err *err)
{
	int rc;
	CURL *h = dvcr_handle_get(c);
	char scope[DVCR_SCOPE_MAX];

	if (!h) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: cannot create a curl handle");
		goto out;
	}
	derive_scope(r, scope, sizeof(scope));
	rc = perform(c, h, r, scope, err);
	if (rc != 0 || r->status != 401)
		goto out;
	/* one retry after learning the scheme; a callback body cannot be replayed */
	if (dvcr_auth_on_401(c, r, scope, err) != 0 || r->read)
		goto out;
	rc = perform(c, h, r, scope, err);
out:
	dvcr_handle_put(c, h);
	return rc;
}
