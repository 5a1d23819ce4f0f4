/*
 * store/etcd — the etcd backend's plumbing: open/close, the pool of curl
 * handles (each keeps its keep-alive connection, so a request is one
 * round trip, not a TCP handshake), one request with endpoint failover
 * and etcd's errors mapped, the key layout and base64.
 *
 * Failover: endpoints are tried from the one that answered last.  A
 * member that refuses or does not accept the connection is skipped at
 * once; a read that times out goes to the next member with its share of
 * the time left; a write that may have reached etcd is never sent again
 * (a create retried on another member would find its own key and fail
 * as "exists").
 */
#include "store/etcd_internal.h"
#include "store/internal.h"
#include "core/log.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A connection that is not up in this time is a dead member: the next one
 * is tried with what is left of the request's time. */
#define ETCD_CONNECT_MS 2000

int64_t etcd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- buffers, JSON, base64 ------------------------------------------------------ */

int etcd_buf_reserve(struct etcd_buf *b, size_t n, size_t max)
{
	if (n > max || b->len > max - n)
		return VIM_ETOOLARGE;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (!q)
			return VIM_ENOMEM;
		b->p = q;
		b->cap = cap;
	}
	return 0;
}

int etcd_buf_put(struct etcd_buf *b, const void *p, size_t n, size_t max)
{
	int rc = etcd_buf_reserve(b, n, max);

	if (rc < 0)
		return rc;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

void etcd_buf_free(struct etcd_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

int64_t etcd_json_i64(const json_t *o, const char *field)
{
	const json_t *v = json_object_get(o, field);

	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_string(v)) {
		char *end;
		long long n;

		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (errno == 0 && end != json_string_value(v) && *end == '\0')
			return (int64_t)n;
	}
	return 0;
}

int64_t etcd_json_header_rev(const json_t *o)
{
	return etcd_json_i64(json_object_get(o, "header"), "revision");
}

int etcd_b64_put(struct etcd_buf *b, const void *p, size_t n)
{
	size_t need = 4 * ((n + 2) / 3);
	int rc;

	if (n > (size_t)INT32_MAX / 2)
		return VIM_ETOOLARGE;
	rc = etcd_buf_reserve(b, need, SIZE_MAX); /* EVP writes a NUL after the text */
	if (rc < 0)
		return rc;
	EVP_EncodeBlock((unsigned char *)b->p + b->len, p, (int)n);
	b->len += need;
	b->p[b->len] = '\0';
	return 0;
}

int etcd_unb64(struct etcd_buf *b, const char *s, size_t n)
{
	size_t pad = 0;
	int got;

	b->len = 0;
	if (n % 4 != 0 || n > (size_t)INT32_MAX)
		return VIM_EIO;
	if (etcd_buf_reserve(b, n / 4 * 3, SIZE_MAX) < 0)
		return VIM_ENOMEM;
	if (n == 0) {
		b->p[0] = '\0';
		return 0;
	}
	/* EVP_DecodeBlock counts padding as bytes: take them off again */
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	got = EVP_DecodeBlock((unsigned char *)b->p, (const unsigned char *)s, (int)n);
	if (got < 0 || (size_t)got < pad)
		return VIM_EIO;
	b->len = (size_t)got - pad;
	b->p[b->len] = '\0';
	return 0;
}

/* ---- the key layout ---------------------------------------------------------------- */

int etcd_key_dir(const struct etcd_kv *e, const char *resource, const char *ns, char *out,
                 size_t cap)
{
	const struct model_kind_info *k = store_kind_of(resource);
	bool has_ns = ns && *ns;
	int n = snprintf(out, cap, "%s/%s%s%s/%s%s", e->prefix, k ? k->group : "", k ? "/" : "",
	                 resource, has_ns ? ns : "", has_ns ? "/" : "");

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

int etcd_key_of(const struct etcd_kv *e, const struct store_kv_key *k, char *out, size_t cap)
{
	int n = etcd_key_dir(e, k->resource, k->ns, out, cap);
	int m;

	if (n < 0)
		return -1;
	m = snprintf(out + n, cap - (size_t)n, "%s", k->name);
	return m < 0 || (size_t)m >= cap - (size_t)n ? -1 : n + m;
}

bool etcd_key_parse(const struct etcd_kv *e, const char *key, size_t len, char *buf, size_t cap,
                    struct store_kv_key *k)
{
	char *seg[5];
	size_t nseg = 0, first = 0;
	char *p;
	const struct model_kind_info *kind;

	if (len <= e->plen + 1 || len >= cap || memcmp(key, e->prefix, e->plen) != 0 ||
	    key[e->plen] != '/')
		return false;
	memcpy(buf, key + e->plen + 1, len - e->plen - 1);
	buf[len - e->plen - 1] = '\0';
	for (p = buf; nseg < 5;) {
		seg[nseg++] = p;
		p = strchr(p, '/');
		if (!p)
			break;
		*p++ = '\0';
	}
	if (p)
		return false; /* more than five segments */
	for (size_t i = 0; i < nseg; i++)
		if (!*seg[i])
			return false;
	/* <group>/<resource>/...: a kind's own key; a kind's resource with no
	 * group (or another group) is nobody's */
	kind = nseg >= 3 ? store_kind_of(seg[1]) : NULL;
	if (kind && strcmp(kind->group, seg[0]) == 0)
		first = 1;
	else if (store_kind_of(seg[0]))
		return false;
	if (nseg - first == 2) {
		k->resource = seg[first];
		k->ns = "";
		k->name = seg[first + 1];
		return !kind || first == 0 || !kind->namespaced;
	}
	if (nseg - first == 3) {
		k->resource = seg[first];
		k->ns = seg[first + 1];
		k->name = seg[first + 2];
		return !kind || first == 0 || kind->namespaced;
	}
	return false;
}

/* ---- one request -------------------------------------------------------------------- */

struct sink {
	struct etcd_buf b;
	bool over;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (etcd_buf_put(&s->b, p, size * n, ETCD_RESPONSE_MAX) < 0) {
		s->over = true;
		return 0;
	}
	return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const atomic_bool *cancel = arg;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(cancel) ? 1 : 0;
}

void etcd_easy_common(struct etcd_kv *e, CURL *h, const char *ep, const char *path,
                      char errbuf[CURL_ERROR_SIZE])
{
	char url[1024];

	snprintf(url, sizeof(url), "%s%s", ep, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* etcd's gateway is HTTP/1.1 JSON; ALPN would offer h2 on https */
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, e->headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* a range page is ~1.7 MiB: fewer reads and callbacks than 16 KiB */
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
	curl_easy_setopt(h, CURLOPT_CAINFO, e->cafile);
	curl_easy_setopt(h, CURLOPT_SSLCERT, e->certfile);
	curl_easy_setopt(h, CURLOPT_SSLKEY, e->keyfile);
	errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
}

void etcd_curl_why(CURL *h, CURLcode rc, const char *errbuf, char *out, size_t cap)
{
	long oserr = 0;

	curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
	if (rc == CURLE_COULDNT_CONNECT && oserr)
		snprintf(out, cap, "%s", strerror((int)oserr));
	else
		snprintf(out, cap, "%s", errbuf && *errbuf ? errbuf : curl_easy_strerror(rc));
}

static CURL *pool_take(struct etcd_kv *e)
{
	CURL *h = NULL;

	pthread_mutex_lock(&e->mu);
	if (e->npool)
		h = e->pool[--e->npool];
	pthread_mutex_unlock(&e->mu);
	return h ? h : curl_easy_init();
}

static void pool_give(struct etcd_kv *e, CURL *h)
{
	pthread_mutex_lock(&e->mu);
	if (h && e->npool < ETCD_POOL_MAX) {
		e->pool[e->npool++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&e->mu);
	curl_easy_cleanup(h);
}

/* etcd's error answer ({"error":..,"message":..,"code":<gRPC code>}) as
 * our code; the caller's message may say more (the revision). */
static int etcd_error(const char *ep, const struct etcd_call *c, long http, const json_t *j,
                      struct vim_err *err)
{
	const json_t *nested = json_object_get(j, "error");
	const char *msg = json_string_value(json_object_get(j, "message"));
	int64_t grpc = etcd_json_i64(j, "code");
	int code = VIM_EIO;

	/* a stream's error (lease keepalive) comes as {"error":{"grpc_code":
	 * ..,"message":..}} inside a 200 answer */
	if (json_is_object(nested)) {
		msg = json_string_value(json_object_get(nested, "message"));
		grpc = etcd_json_i64(nested, "grpc_code");
	}
	if (!msg)
		msg = json_string_value(json_object_get(j, "error"));
	if (!msg)
		msg = "no message";
	if (strstr(msg, "has been compacted"))
		code = VIM_EGONE;
	else if (strstr(msg, "future revision"))
		code = VIM_EINVAL;
	else if (strstr(msg, "too large") || strstr(msg, "larger than max"))
		code = VIM_ETOOLARGE;
	else if (grpc == 4 || strstr(msg, "timed out"))
		/* DeadlineExceeded, or etcd's own "request timed out" (sent as
		 * Unavailable): the write may still commit, as for our timeout */
		code = VIM_ETIMEDOUT;
	else if (grpc == 14) /* Unavailable: no leader, member stopping, ... */
		code = VIM_EUNAVAILABLE;
	return vim_err_set(err, code, "etcd %s: %s: %s (HTTP %ld, gRPC code %lld)", ep, c->what,
	                   msg, http, (long long)grpc);
}

static int answer(const char *ep, const struct etcd_call *c, CURL *h, const struct sink *s,
                  json_t **out, struct vim_err *err)
{
	long http = 0;
	json_error_t je;
	json_t *j;
	int rc = 0;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &http);
	if (c->raw && http == 200)
		return 0; /* the caller reads it (etcd answers errors with another status) */
	j = json_loadb(s->b.p ? s->b.p : "", s->b.len, 0, &je);
	if (!json_is_object(j)) {
		rc = vim_err_set(err, VIM_EIO, "etcd %s: %s: HTTP %ld and not a JSON object: %.80s",
		                 ep, c->what, http, s->b.p ? s->b.p : "");
		goto out;
	}
	if (http != 200 || json_object_get(j, "error")) {
		rc = etcd_error(ep, c, http, j, err);
		goto out;
	}
	*out = j;
	j = NULL;
out:
	json_decref(j);
	return rc;
}

static void tried_add(char *tried, size_t cap, const char *ep, const char *why)
{
	size_t n = strlen(tried);

	/* cut short when full: the first members named are enough */
	if (n < cap && snprintf(tried + n, cap - n, "%s%s: %s", n ? "; " : "", ep, why) < 0)
		tried[n] = '\0';
}

int etcd_request(struct etcd_kv *e, const struct etcd_call *c, json_t **out, struct vim_err *err)
{
	int64_t timeout = c->timeout_ms > 0 ? c->timeout_ms : e->timeout_ms;
	int64_t deadline = etcd_now_ms() + timeout;
	size_t first = c->only_ep >= 0 ? (size_t)c->only_ep : atomic_load(&e->good) % e->nep;
	size_t n = c->only_ep >= 0 ? 1 : e->nep;
	char tried[VIM_ERR_MSG_MAX] = "", errbuf[CURL_ERROR_SIZE], why[CURL_ERROR_SIZE + 64];
	struct sink s = {0};
	bool timed_out = false, done = false;
	CURL *h = pool_take(e);
	int rc = 0;

	*out = NULL;
	if (c->raw) { /* its memory is reused for this answer */
		s.b = *c->raw;
		*c->raw = (struct etcd_buf){0};
	}
	if (!h) {
		rc = vim_err_set(err, VIM_ENOMEM, "etcd: %s: out of memory", c->what);
		goto out;
	}
	for (size_t i = 0; i < n && !done; i++) {
		size_t idx = (first + i) % e->nep;
		const char *ep = e->ep[idx];
		int64_t left = deadline - etcd_now_ms();
		/* a read keeps time for the members after this one */
		int64_t slot = c->idempotent && i + 1 < n ? left / (int64_t)(n - i) : left;
		curl_off_t sent = 0;
		CURLcode cr;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		etcd_easy_common(e, h, ep, c->path, errbuf);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->len);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(slot > 0 ? slot : 1));
		curl_easy_setopt(
		    h, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)(slot < ETCD_CONNECT_MS ? (slot > 0 ? slot : 1) : ETCD_CONNECT_MS));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, c->cancel ? 0L : 1L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, c->cancel ? on_progress : NULL);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)c->cancel);
		s.b.len = 0;
		s.over = false;
		cr = curl_easy_perform(h);
		if (cr == CURLE_OK) {
			rc = answer(ep, c, h, &s, out, err);
			if (rc == VIM_EUNAVAILABLE && c->idempotent && i + 1 < n) {
				tried_add(tried, sizeof(tried), ep, err ? err->msg : "unavailable");
				continue;
			}
			if (rc == 0 && c->only_ep < 0)
				atomic_store(&e->good, idx);
			done = true;
			break;
		}
		if (s.over) {
			rc = vim_err_set(err, VIM_EIO, "etcd %s: %s: an answer over %u MiB", ep,
			                 c->what, ETCD_RESPONSE_MAX >> 20);
			done = true;
			break;
		}
		if (cr == CURLE_ABORTED_BY_CALLBACK) {
			rc = vim_err_set(err, VIM_ECANCELED, "etcd %s: %s: canceled", ep, c->what);
			done = true;
			break;
		}
		etcd_curl_why(h, cr, errbuf, why, sizeof(why));
		tried_add(tried, sizeof(tried), ep, why);
		if (cr == CURLE_OPERATION_TIMEDOUT)
			timed_out = true;
		/* the next call starts at the member after this one */
		if (c->only_ep < 0)
			atomic_compare_exchange_strong(&e->good, &idx, (idx + 1) % e->nep);
		curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &sent);
		if (sent > 0 && !c->idempotent) {
			rc = vim_err_set(err, timed_out ? VIM_ETIMEDOUT : VIM_EUNAVAILABLE,
			                 "etcd %s: %s: %s (sent: etcd may have applied it)", ep,
			                 c->what, why);
			done = true;
		}
	}
	if (!done)
		rc = timed_out
		         ? vim_err_set(err, VIM_ETIMEDOUT, "etcd: %s: no answer in %lld ms (%s)",
		                       c->what, (long long)timeout, tried)
		         : vim_err_set(err, VIM_EUNAVAILABLE, "etcd: no endpoint answers (%s): %s",
		                       tried, c->what);
out:
	if (h) {
		/* nothing in the pool points into this call's stack */
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, NULL);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	}
	pool_give(e, h);
	if (c->raw)
		*c->raw = s.b;
	else
		etcd_buf_free(&s.b);
	return rc;
}

/* ---- open / close -------------------------------------------------------------------- */

static void etcd_close(struct store_kv *kv)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;

	if (!e)
		return;
	for (size_t i = 0; i < e->npool; i++)
		curl_easy_cleanup(e->pool[i]);
	for (size_t i = 0; i < e->nep; i++)
		free(e->ep[i]);
	free(e->ep);
	free(e->prefix);
	free(e->cafile);
	free(e->certfile);
	free(e->keyfile);
	curl_slist_free_all(e->headers);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static const struct store_kv_ops etcd_ops = {
    .name = "etcd",
    .local = false,
    .value_has_rev = false,
    .get = etcd_get,
    .range = etcd_range,
    .write = etcd_write,
    .current_rev = etcd_current_rev,
    .watch = etcd_watch,
    .watch_stop = etcd_watch_stop,
    .lease_grant = etcd_lease_grant,
    .lease_keepalive = etcd_lease_keepalive,
    .lease_revoke = etcd_lease_revoke,
    .close = etcd_close,
};

/* "http://a:p, http://b:q/" → e->ep, each checked for its scheme. */
static int parse_endpoints(struct etcd_kv *e, const char *list, struct vim_err *err)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char **grown;
		char *ep;

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '/'))
			n--;
		if (n) {
			if (!((n > 7 && strncmp(p, "http://", 7) == 0) ||
			      (n > 8 && strncmp(p, "https://", 8) == 0)) ||
			    n > 512)
				return vim_err_set(
				    err, VIM_EINVAL,
				    "etcd: endpoint \"%.*s\": want http://host:port or "
				    "https://host:port",
				    (int)(n > 512 ? 512 : n), p);
			grown = realloc(e->ep, (e->nep + 1) * sizeof(*e->ep));
			if (!grown)
				return vim_err_set(err, VIM_ENOMEM, "etcd: out of memory");
			e->ep = grown;
			ep = strndup(p, n);
			if (!ep)
				return vim_err_set(err, VIM_ENOMEM, "etcd: out of memory");
			e->ep[e->nep++] = ep;
		}
		p = end ? end + 1 : p + strlen(p);
	}
	if (e->nep == 0)
		return vim_err_set(err, VIM_EINVAL, "etcd: endpoints \"%s\": none given", list);
	return 0;
}

static int dup_opt(char **out, const char *s)
{
	*out = s && *s ? strdup(s) : NULL;
	return s && *s && !*out ? VIM_ENOMEM : 0;
}

int store_kv_etcd_open(struct store_kv **out, const struct store_kv_etcd_opts *o,
                       struct vim_err *err)
{
	struct etcd_kv *e = calloc(1, sizeof(*e));
	const char *prefix = o->prefix && *o->prefix ? o->prefix : "/vimage";
	size_t plen = strlen(prefix);
	int rc = 0;

	*out = NULL;
	if (!e)
		return vim_err_set(err, VIM_ENOMEM, "etcd: out of memory");
	e->base.ops = &etcd_ops;
	pthread_mutex_init(&e->mu, NULL);
	atomic_init(&e->good, 0);
	rc = parse_endpoints(e, o->endpoints ? o->endpoints : "", err);
	if (rc < 0)
		goto out;
	while (plen > 1 && prefix[plen - 1] == '/')
		plen--;
	if (prefix[0] != '/' || plen < 2 || plen > 256) {
		rc = vim_err_set(err, VIM_EINVAL,
		                 "etcd: prefix \"%s\": want an absolute key path like /vimage "
		                 "(at most 256 bytes, not /)",
		                 prefix);
		goto out;
	}
	e->prefix = strndup(prefix, plen);
	e->plen = plen;
	e->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 5000;
	e->headers = curl_slist_append(NULL, "Content-Type: application/json");
	/* no 100-continue round trip for bodies over 1 KiB (every write) */
	if (e->headers)
		e->headers = curl_slist_append(e->headers, "Expect:");
	if (!e->prefix || !e->headers || dup_opt(&e->cafile, o->cafile) < 0 ||
	    dup_opt(&e->certfile, o->certfile) < 0 || dup_opt(&e->keyfile, o->keyfile) < 0) {
		rc = vim_err_set(err, VIM_ENOMEM, "etcd: out of memory");
		goto out;
	}
	vim_log(VIM_LOG_DEBUG, "etcd: %zu endpoint(s), first %s, prefix %s", e->nep, e->ep[0],
	        e->prefix);
	*out = &e->base;
	e = NULL;
out:
	etcd_close(e ? &e->base : NULL);
	return rc;
}
