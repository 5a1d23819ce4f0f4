/*
 * store/etcd_watch — one thread per watch: POST /v3/watch with one
 * create_request over the whole prefix, the answer streamed (one JSON
 * object a line) and turned into kv events in revision order.
 *
 * A dead connection is found three ways: the stream ends (member killed
 * or stopped), no "created" comes within the request timeout, or the
 * stream has been silent for WATCH_IDLE_MS and a probe (a count of one
 * key on the same member) gets no answer — a stopped process keeps its
 * TCP connections up, so silence alone says nothing.  Then DOWN once,
 * retries 100 ms doubling to 2 s across the endpoints, resuming after the
 * last revision delivered, and UP when a watch is created again.
 */
#include "store/etcd_internal.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WATCH_IDLE_MS 2000
#define WATCH_PROBE_MS 2000
#define WATCH_BACKOFF_MIN_MS 100
#define WATCH_BACKOFF_MAX_MS 2000
/* One answer of the stream: a batch of events (etcd sends at most 1000
 * revisions a batch; ~4 MiB for 2.5 KiB values) must fit. */
#define WATCH_LINE_MAX (256u << 20)

struct store_kv_watch {
	struct etcd_kv *e;
	store_kv_event_fn fn;
	void *arg;
	pthread_t th;
	atomic_bool stop;
	pthread_mutex_t mu; /* with cv: the backoff's sleep, cut short by stop */
	pthread_cond_t cv;
	/* the rest is the thread's own */
	int64_t next;      /* the revision a new connection asks for */
	int64_t conn_from; /* what this connection asked for */
	bool down, gone, created;
	size_t ep;
	int64_t conn_ms, data_ms, probe_ms;
	char why[VIM_ERR_MSG_MAX]; /* why the callbacks cut the connection */
	struct etcd_buf line, key, val;
	size_t scanned; /* bytes of line known to hold no '\n' */
	char kbuf[ETCD_KEY_MAX];
};

static void emit(struct store_kv_watch *w, enum store_kv_event_type type,
                 const struct store_kv_key *k, const char *value, size_t len, int64_t rev)
{
	struct store_kv_event ev = {.type = type, .value = value, .len = len, .rev = rev};

	if (k)
		ev.key = *k;
	w->fn(w->arg, &ev);
}

/* One event of a result: 0, or -1 when the stream is damaged. */
static int on_event(struct store_kv_watch *w, const json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const json_t *kv = json_object_get(ev, "kv");
	const char *ks = json_string_value(json_object_get(kv, "key"));
	const char *vs = json_string_value(json_object_get(kv, "value"));
	bool del = type && strcmp(type, "DELETE") == 0;
	int64_t rev = etcd_json_i64(kv, "mod_revision");
	struct store_kv_key k;

	if (!ks || etcd_unb64(&w->key, ks, strlen(ks)) < 0 ||
	    (!del && etcd_unb64(&w->val, vs ? vs : "", vs ? strlen(vs) : 0) < 0) || rev <= 0) {
		snprintf(w->why, sizeof(w->why),
		         "an event without a base64 key, value or revision");
		return -1;
	}
	if (rev < w->conn_from)
		return 0; /* before what this connection asked for: seen already */
	if (!etcd_key_parse(w->e, w->key.p, w->key.len, w->kbuf, sizeof(w->kbuf), &k)) {
		vim_log(VIM_LOG_DEBUG, "etcd watch: skipped %.*s: not one of ours",
		        (int)(w->key.len > 300 ? 300 : w->key.len), w->key.p);
		/* still a revision the watch has seen: a consistent list waits
		 * for the cache to reach etcd's revision, which this moved */
		emit(w, STORE_KV_EV_PROGRESS, NULL, NULL, 0, rev);
	} else {
		emit(w, del ? STORE_KV_EV_DELETE : STORE_KV_EV_PUT, &k, del ? NULL : w->val.p,
		     del ? 0 : w->val.len, rev);
	}
	if (rev + 1 > w->next)
		w->next = rev + 1;
	return 0;
}

/* One line of the stream: 0 goes on, -1 ends this connection. */
static int on_msg(struct store_kv_watch *w, const char *p, size_t n)
{
	json_error_t je;
	json_t *j = json_loadb(p, n, 0, &je);
	const json_t *res, *events, *ev, *error;
	const char *reason;
	int64_t hrev;
	size_t i;
	int rc = 0;

	if (!json_is_object(j)) {
		snprintf(w->why, sizeof(w->why), "an answer that is not a JSON object: %.80s", p);
		rc = -1;
		goto out;
	}
	error = json_object_get(j, "error");
	if (error) {
		const char *msg = json_string_value(json_object_get(error, "message"));

		if (!msg)
			msg = json_string_value(error);
		if (!msg)
			msg = json_string_value(json_object_get(j, "message"));
		snprintf(w->why, sizeof(w->why), "etcd: %s", msg ? msg : "an error");
		if (msg && strstr(msg, "has been compacted"))
			w->gone = true;
		rc = -1;
		goto out;
	}
	res = json_object_get(j, "result");
	hrev = etcd_json_header_rev(res);
	reason = json_string_value(json_object_get(res, "cancel_reason"));
	if (etcd_json_i64(res, "compact_revision") > 0 || (reason && strstr(reason, "compacted"))) {
		/* the revision we need is gone: the layer reads everything again */
		w->gone = true;
		rc = -1;
		goto out;
	}
	if (json_is_true(json_object_get(res, "canceled"))) {
		snprintf(w->why, sizeof(w->why), "etcd canceled the watch: %s",
		         reason ? reason : "no reason given");
		rc = -1;
		goto out;
	}
	events = json_object_get(res, "events");
	if (json_is_true(json_object_get(res, "created"))) {
		w->created = true;
		/* a watch "from now" starts after etcd's revision: a reconnect
		 * must resume there, not at a later "now" */
		if (w->next <= 0 && hrev > 0)
			w->next = hrev + 1;
		if (w->down) {
			vim_log(VIM_LOG_INFO, "etcd watch %s: resumed at revision %lld",
			        w->e->ep[w->ep], (long long)w->next);
			w->down = false;
			emit(w, STORE_KV_EV_UP, NULL, NULL, 0, 0);
		}
		/* etcd's revision is the one before the first we asked for:
		 * there is nothing to catch up, we have seen every write */
		if (hrev > 0 && hrev == w->next - 1)
			emit(w, STORE_KV_EV_PROGRESS, NULL, NULL, 0, hrev);
	} else if (json_array_size(events) == 0 && hrev > 0 && hrev >= w->next - 1) {
		/* a progress notification (progress_notify): nothing up to hrev */
		w->next = hrev + 1;
		emit(w, STORE_KV_EV_PROGRESS, NULL, NULL, 0, hrev);
	}
	json_array_foreach(events, i, ev)
	{
		rc = on_event(w, ev);
		if (rc < 0)
			goto out;
	}
out:
	json_decref(j);
	return rc;
}

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct store_kv_watch *w = arg;
	size_t start = 0;

	w->data_ms = etcd_now_ms();
	if (etcd_buf_put(&w->line, p, size * n, WATCH_LINE_MAX) < 0) {
		snprintf(w->why, sizeof(w->why), "an answer over %u MiB", WATCH_LINE_MAX >> 20);
		return 0;
	}
	for (;;) {
		char *nl = memchr(w->line.p + w->scanned, '\n', w->line.len - w->scanned);
		size_t len;

		if (!nl) {
			w->scanned = w->line.len;
			break;
		}
		len = (size_t)(nl - (w->line.p + start));
		if (len && on_msg(w, w->line.p + start, len) < 0)
			return 0;
		start += len + 1;
		w->scanned = start;
	}
	if (start) {
		memmove(w->line.p, w->line.p + start, w->line.len - start);
		w->line.len -= start;
		w->scanned -= start;
		w->line.p[w->line.len] = '\0';
	}
	return size * n;
}

/* Called about once a second while the stream is idle (and on data). */
static int on_tick(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct store_kv_watch *w = arg;
	int64_t now = etcd_now_ms(), rev;
	struct vim_err err;

	(void)dt, (void)dn, (void)ut, (void)un;
	if (atomic_load(&w->stop))
		return 1;
	if (!w->created) {
		if (now - w->conn_ms < w->e->timeout_ms)
			return 0;
		snprintf(w->why, sizeof(w->why), "no watch created in %lld ms",
		         (long long)w->e->timeout_ms);
		return 1;
	}
	if (now - w->data_ms < WATCH_IDLE_MS || now - w->probe_ms < WATCH_IDLE_MS)
		return 0;
	w->probe_ms = now;
	if (etcd_probe(w->e, (int)w->ep,
	               w->e->timeout_ms < WATCH_PROBE_MS ? w->e->timeout_ms : WATCH_PROBE_MS,
	               &w->stop, &rev, &err) < 0 &&
	    !atomic_load(&w->stop)) {
		snprintf(w->why, sizeof(w->why), "the member does not answer: %.440s", err.msg);
		return 1;
	}
	return atomic_load(&w->stop) ? 1 : 0;
}

static int put_str(struct etcd_buf *b, const char *s)
{
	return etcd_buf_put(b, s, strlen(s), SIZE_MAX);
}

static int watch_body(struct store_kv_watch *w, struct etcd_buf *b)
{
	struct etcd_kv *e = w->e;
	char dir[300];
	char t[64];
	int rc;

	snprintf(dir, sizeof(dir), "%s/", e->prefix);
	b->len = 0;
	rc = put_str(b, "{\"create_request\":{\"key\":\"");
	if (rc == 0)
		rc = etcd_b64_put(b, dir, e->plen + 1);
	if (rc == 0)
		rc = put_str(b, "\",\"range_end\":\"");
	dir[e->plen] = '0'; /* '/' + 1: the end of the prefix */
	if (rc == 0)
		rc = etcd_b64_put(b, dir, e->plen + 1);
	if (rc == 0)
		rc = put_str(b, "\"");
	snprintf(t, sizeof(t), ",\"start_revision\":\"%lld\"", (long long)w->next);
	if (rc == 0 && w->next > 0)
		rc = put_str(b, t);
	if (rc == 0)
		rc = put_str(b, ",\"progress_notify\":true}}");
	return rc;
}

/* The backoff's sleep; returns early when the watch is stopped. */
static void nap(struct store_kv_watch *w, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mu);
	while (!atomic_load(&w->stop) && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
		;
	pthread_mutex_unlock(&w->mu);
}

static void *watch_run(void *arg)
{
	struct store_kv_watch *w = arg;
	struct etcd_kv *e = w->e;
	struct etcd_buf body = {0};
	char errbuf[CURL_ERROR_SIZE], why[VIM_ERR_MSG_MAX];
	int64_t backoff = WATCH_BACKOFF_MIN_MS;
	CURL *h = curl_easy_init();

	w->ep = atomic_load(&e->good) % e->nep;
	while (h && !atomic_load(&w->stop) && !w->gone) {
		CURLcode cr;

		if (watch_body(w, &body) < 0) {
			vim_log(VIM_LOG_ERROR, "etcd watch: out of memory");
			nap(w, WATCH_BACKOFF_MAX_MS);
			continue;
		}
		etcd_easy_common(e, h, e->ep[w->ep], "/v3/watch", errbuf);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.p);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		                 (long)(e->timeout_ms < 2000 ? e->timeout_ms : 2000));
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_tick);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, w);
		w->created = false;
		w->conn_from = w->next;
		w->conn_ms = w->data_ms = w->probe_ms = etcd_now_ms();
		w->line.len = 0;
		w->scanned = 0;
		w->why[0] = '\0';
		cr = curl_easy_perform(h);
		if (atomic_load(&w->stop))
			break;
		if (w->gone) {
			vim_log(VIM_LOG_INFO, "etcd watch %s: revision %lld compacted: gone",
			        e->ep[w->ep], (long long)w->conn_from);
			emit(w, STORE_KV_EV_GONE, NULL, NULL, 0, 0);
			break;
		}
		if (w->why[0])
			snprintf(why, sizeof(why), "%s", w->why);
		else if (cr == CURLE_OK)
			snprintf(why, sizeof(why), "the stream ended%s%.80s",
			         w->line.len ? ": " : "", w->line.len ? w->line.p : "");
		else
			etcd_curl_why(h, cr, errbuf, why, sizeof(why));
		if (w->created)
			backoff = WATCH_BACKOFF_MIN_MS; /* it worked: start over */
		if (!w->down) {
			vim_log(VIM_LOG_WARN, "etcd watch %s: %s; retrying from revision %lld",
			        e->ep[w->ep], why, (long long)w->next);
			w->down = true;
			emit(w, STORE_KV_EV_DOWN, NULL, NULL, 0, 0);
		} else {
			vim_log(VIM_LOG_DEBUG, "etcd watch %s: %s", e->ep[w->ep], why);
		}
		nap(w, backoff);
		backoff = backoff * 2 < WATCH_BACKOFF_MAX_MS ? backoff * 2 : WATCH_BACKOFF_MAX_MS;
		w->ep = (w->ep + 1) % e->nep;
	}
	if (!h)
		vim_log(VIM_LOG_ERROR, "etcd watch: no curl handle: the watch delivers nothing");
	curl_easy_cleanup(h);
	etcd_buf_free(&body);
	return NULL;
}

int etcd_watch(struct store_kv *kv, int64_t from_rev, store_kv_event_fn fn, void *arg,
               struct store_kv_watch **out, struct vim_err *err)
{
	struct store_kv_watch *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!w)
		return vim_err_set(err, VIM_ENOMEM, "etcd watch: out of memory");
	w->e = (struct etcd_kv *)kv;
	w->fn = fn;
	w->arg = arg;
	w->next = from_rev;
	atomic_init(&w->stop, false);
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&w->th, NULL, watch_run, w);
	if (rc != 0) {
		pthread_cond_destroy(&w->cv);
		pthread_mutex_destroy(&w->mu);
		free(w);
		return vim_err_set(err, VIM_ENOMEM, "etcd watch: no thread: %s", strerror(rc));
	}
	*out = w;
	return 0;
}

void etcd_watch_stop(struct store_kv_watch *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->mu);
	atomic_store(&w->stop, true);
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	etcd_buf_free(&w->line);
	etcd_buf_free(&w->key);
	etcd_buf_free(&w->val);
	free(w);
}
