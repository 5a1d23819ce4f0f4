/*
 * vimaged/forward — what a follower passes on to the leader: an upload
 * (PUT <leader>/upload/<token>, streamed) and the registry's notifications
 * (POST <leader>/dvcr/events).  Only the leader's importer holds the upload
 * jobs, so a follower is a proxy that keeps nothing.
 *
 * An upload runs curl on a thread of its own, fed through a bounded ring:
 * the API's data calls copy into it and block while it is full, curl's
 * read callback takes from it.  Memory stays at the ring's size whatever
 * the image's.  begin waits for the leader's verdict on the headers (curl
 * sends Expect: 100-continue): an unknown token is answered at once, as the
 * leader itself would, not after the user has sent gigabytes.
 */
#include "vimaged.h"

#include <curl/curl.h>
#include <jansson.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FWD_RING_BYTES (256 * 1024)
#define FWD_ANSWER_MAX (16 * 1024) /* of the leader's answer body: a Status */
#define FWD_CONNECT_MS 10000L
/* A leader that does not say 100 Continue (a proxy in between that eats
 * it) gets the body anyway after this; ours answers at once. */
#define FWD_EXPECT_MS 5000L
#define FWD_EVENTS_TIMEOUT_MS 30000L
#define FWD_URL_MAX 1024

/* The leader's answer, whatever request carried it. */
struct answer {
	char body[FWD_ANSWER_MAX + 1];
	size_t len;
};

struct fwd_upload {
	CURL *h;
	struct curl_slist *hdrs;
	pthread_t th;
	bool joined;
	char leader[FWD_URL_MAX]; /* for messages: the base, never the token */
	char cerr[CURL_ERROR_SIZE];
	struct answer ans;
	/* guarded by mu; cv signals every change */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char ring[FWD_RING_BYTES];
	size_t head, len; /* the bytes curl has not taken yet */
	bool eof;         /* end(ok): nothing more comes */
	bool abort;       /* end(!ok): the client went away */
	bool started;     /* curl asked for the body: the leader took the headers */
	bool done;        /* curl_easy_perform returned */
	CURLcode cc;
	long status;
	uint64_t sent; /* bytes curl took */
};

/* ---- the leader's answer -------------------------------------------------------- */

static size_t on_answer(char *data, size_t size, size_t n, void *arg)
{
	struct answer *a = arg;
	size_t len = size * n, room = FWD_ANSWER_MAX - a->len;

	/* the rest is dropped, not refused: only the message is wanted */
	if (len < room)
		room = len;
	memcpy(a->body + a->len, data, room);
	a->len += room;
	a->body[a->len] = '\0';
	return len;
}

/* The leader's code for an HTTP status: what its own API mapped it from
 * (routes_transfer.c answers 409 Conflict and 400/411 for refused bodies). */
static int code_of_status(long status)
{
	switch (status) {
	case 400:
	case 411:
	case 422:
		return VIM_EINVAL;
	case 404:
		return VIM_ENOTFOUND;
	case 409:
		return VIM_EEXIST;
	case 413:
		return VIM_ETOOLARGE;
	case 503:
		return VIM_EUNAVAILABLE;
	default:
		return VIM_EUPSTREAM;
	}
}

/* The leader's words: its Status's message (or an {"error": ...}), else
 * the first line of its text, else the status. */
static int answer_error(long status, const struct answer *a, struct vim_err *err)
{
	int code = code_of_status(status);
	json_t *j = json_loadb(a->body, a->len, 0, NULL), *m = NULL;
	size_t n = 0;
	int rc;

	if (json_is_object(j) && !json_is_string(m = json_object_get(j, "message")))
		m = json_object_get(j, "error");
	if (json_is_string(m) && json_string_length(m) > 0) {
		rc = vim_err_set(err, code, "%s", json_string_value(m));
		json_decref(j);
		return rc;
	}
	json_decref(j);
	while (n < a->len && n < 200 && a->body[n] != '\n' && a->body[n] != '\r')
		n++;
	if (n > 0)
		return vim_err_set(err, code, "the leader answered %ld: %.*s", status, (int)n,
		                   a->body);
	return vim_err_set(err, code, "the leader answered %ld", status);
}

/* 0 for a 2xx; else the leader's refusal, or why it could not be asked. */
static int outcome(const char *leader, CURLcode cc, long status, const char *cerr, uint64_t sent,
                   const struct answer *a, struct vim_err *err)
{
	const char *why = cerr && *cerr ? cerr : curl_easy_strerror(cc);

	if (status >= 200 && status < 300)
		return 0;
	if (status == 401) /* not the user's credential: this replica's, to the leader */
		return vim_err_set(err, VIM_EUPSTREAM, "the leader %s refused this replica's token",
		                   leader);
	if (status >= 400)
		return answer_error(status, a, err);
	if (cc == CURLE_OK) /* 1xx or 3xx as the final answer: not ours */
		return vim_err_set(err, VIM_EUPSTREAM, "the leader %s answered %ld", leader,
		                   status);
	if (sent > 0)
		return vim_err_set(err, VIM_EUNAVAILABLE,
		                   "the leader %s went away after %" PRIu64 " bytes: %s", leader,
		                   sent, why);
	return vim_err_set(err, VIM_EUNAVAILABLE, "the leader %s cannot be reached: %s", leader,
	                   why);
}

/* The leader's URL without the slashes it may end in ("<base>/upload/..."). */
static size_t base_len(const char *url)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	return n;
}

/* What every request to the leader shares. */
static void common_opts(CURL *h, const char *ca_file, char *cerr, struct answer *a)
{
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, FWD_CONNECT_MS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, a);
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
}

/* ---- the upload ----------------------------------------------------------------------- */

/* curl's read callback, on the upload's thread: the next bytes of the
 * ring, 0 at the end of the body, or abort when the client went away. */
static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct fwd_upload *u = arg;
	size_t want = size * n, got = 0, first;

	pthread_mutex_lock(&u->mu);
	if (!u->started) {
		u->started = true;
		pthread_cond_broadcast(&u->cv);
	}
	while (!u->len && !u->eof && !u->abort)
		pthread_cond_wait(&u->cv, &u->mu);
	if (u->abort) {
		pthread_mutex_unlock(&u->mu);
		return CURL_READFUNC_ABORT;
	}
	got = want < u->len ? want : u->len;
	first = FWD_RING_BYTES - u->head < got ? FWD_RING_BYTES - u->head : got;
	memcpy(buf, u->ring + u->head, first);
	memcpy(buf + first, u->ring, got - first);
	u->head = (u->head + got) % FWD_RING_BYTES;
	u->len -= got;
	u->sent += got;
	if (got)
		pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return got;
}

/* Called about once a second even while a send is stuck: an abandoned
 * upload stops the leader's request without waiting for the socket. */
static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct fwd_upload *u = arg;
	bool stop;

	(void)dt;
	(void)dn;
	(void)ut;
	(void)un;
	pthread_mutex_lock(&u->mu);
	stop = u->abort;
	pthread_mutex_unlock(&u->mu);
	return stop ? 1 : 0;
}

static void *upload_thread(void *arg)
{
	struct fwd_upload *u = arg;
	CURLcode cc = curl_easy_perform(u->h);
	long status = 0;

	curl_easy_getinfo(u->h, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_lock(&u->mu);
	u->cc = cc;
	u->status = status;
	u->done = true;
	pthread_cond_broadcast(&u->cv);
	pthread_mutex_unlock(&u->mu);
	return NULL;
}

static void upload_free(struct fwd_upload *u)
{
	curl_easy_cleanup(u->h);
	curl_slist_free_all(u->hdrs);
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	free(u);
}

/* Waits for the thread (done is set) and gives the leader's answer. */
static int upload_finish(struct fwd_upload *u, struct vim_err *err)
{
	if (!u->joined)
		pthread_join(u->th, NULL);
	u->joined = true;
	return outcome(u->leader, u->cc, u->status, u->cerr, u->sent, &u->ans, err);
}

int fwd_upload_begin(struct fwd_upload **out, const char *leader_url, const char *token,
                     int64_t length, const char *ca_file, struct vim_err *err)
{
	struct fwd_upload *u;
	char url[FWD_URL_MAX + 256], *tok = NULL;
	size_t n;
	int rc;

	*out = NULL;
	if (!(u = calloc(1, sizeof(*u))))
		return vim_err_set(err, VIM_ENOMEM, "upload to the leader: out of memory");
	pthread_mutex_init(&u->mu, NULL);
	pthread_cond_init(&u->cv, NULL);
	if ((n = base_len(leader_url)) >= sizeof(u->leader)) {
		rc = vim_err_set(err, VIM_EINVAL, "the leader's URL %.200s... is too long",
		                 leader_url);
		goto fail;
	}
	snprintf(u->leader, sizeof(u->leader), "%.*s", (int)n, leader_url);
	/* the token is the path's last segment: escaped, it stays one */
	if (!(u->h = curl_easy_init()) || !(tok = curl_easy_escape(u->h, token, 0)) ||
	    !(u->hdrs = curl_slist_append(NULL, "Content-Type: application/octet-stream"))) {
		rc = vim_err_set(err, VIM_ENOMEM, "upload to the leader: out of memory");
		goto fail;
	}
	/* tokens are 64 characters: a longer one names no upload, here as there */
	if ((size_t)snprintf(url, sizeof(url), "%s/upload/%s", u->leader, tok) >= sizeof(url)) {
		rc = vim_err_set(err, VIM_ENOTFOUND, "no image waits for an upload at this URL");
		goto fail;
	}
	common_opts(u->h, ca_file, u->cerr, &u->ans);
	curl_easy_setopt(u->h, CURLOPT_URL, url);
	curl_easy_setopt(u->h, CURLOPT_UPLOAD, 1L); /* PUT */
	/* unknown (-1): curl sends it chunked, and the leader says whether it
	 * takes that (411 for an image, whose size must be known) */
	curl_easy_setopt(u->h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)(length < 0 ? -1 : length));
	curl_easy_setopt(u->h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(u->h, CURLOPT_READDATA, u);
	curl_easy_setopt(u->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(u->h, CURLOPT_XFERINFODATA, u);
	curl_easy_setopt(u->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(u->h, CURLOPT_HTTPHEADER, u->hdrs);
	curl_easy_setopt(u->h, CURLOPT_EXPECT_100_TIMEOUT_MS, FWD_EXPECT_MS);
	/* a leader that takes nothing for as long as its own API lets an
	 * upload idle has gone: the client's data call must not hang on */
	curl_easy_setopt(u->h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(u->h, CURLOPT_LOW_SPEED_TIME, (long)API_TRANSFER_IDLE_S);
	curl_free(tok);
	tok = NULL;
	if (pthread_create(&u->th, NULL, upload_thread, u) != 0) {
		rc = vim_err_set(err, VIM_ENOMEM, "upload to the leader: cannot start a thread");
		goto fail;
	}
	/* the leader's verdict on the headers: Continue (curl then reads the
	 * body), or its answer (refused: the user's body is never sent) */
	pthread_mutex_lock(&u->mu);
	while (!u->started && !u->done)
		pthread_cond_wait(&u->cv, &u->mu);
	pthread_mutex_unlock(&u->mu);
	if (!u->started) {
		rc = upload_finish(u, err);
		if (rc == 0) /* an empty body, taken */
			goto done;
		goto fail;
	}
done:
	*out = u;
	return 0;
fail:
	curl_free(tok);
	upload_free(u);
	return rc;
}

int fwd_upload_data(struct fwd_upload *u, const void *data, size_t len, struct vim_err *err)
{
	const unsigned char *p = data;
	size_t tail, n;
	bool done;
	long status;

	pthread_mutex_lock(&u->mu);
	while (len && !u->done) {
		if (u->len == FWD_RING_BYTES) { /* backpressure: curl has not taken it */
			pthread_cond_wait(&u->cv, &u->mu);
			continue;
		}
		tail = (u->head + u->len) % FWD_RING_BYTES;
		n = FWD_RING_BYTES - u->len;
		if (n > FWD_RING_BYTES - tail)
			n = FWD_RING_BYTES - tail;
		if (n > len)
			n = len;
		memcpy(u->ring + tail, p, n);
		u->len += n;
		p += n;
		len -= n;
		pthread_cond_broadcast(&u->cv);
	}
	done = u->done;
	status = u->status;
	pthread_mutex_unlock(&u->mu);
	if (!done)
		return 0;
	/* the leader answered before the body was whole: that is its answer */
	if (status >= 200 && status < 300)
		return vim_err_set(err, VIM_EUPSTREAM,
		                   "the leader %s took the upload before all of it was sent",
		                   u->leader);
	return outcome(u->leader, u->cc, status, u->cerr, u->sent, &u->ans, err);
}

int fwd_upload_end(struct fwd_upload *u, bool ok, struct vim_err *err)
{
	int rc = 0;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->mu);
	if (ok)
		u->eof = true;
	else
		u->abort = true; /* curl's callbacks return abort: the leader sees a short body */
	pthread_cond_broadcast(&u->cv);
	while (!u->done)
		pthread_cond_wait(&u->cv, &u->mu);
	pthread_mutex_unlock(&u->mu);
	rc = upload_finish(u, ok ? err : NULL);
	upload_free(u);
	return ok ? rc : 0;
}

/* ---- registry notifications ------------------------------------------------------------ */

int fwd_events(const char *leader_url, const char *token, const char *ca_file, const char *body,
               size_t len, struct vim_err *err)
{
	struct answer *a = calloc(1, sizeof(*a));
	struct curl_slist *hdrs = NULL, *h2;
	char url[FWD_URL_MAX + 32], auth[600], cerr[CURL_ERROR_SIZE] = "";
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int rc;

	size_t n = base_len(leader_url);

	if (n > FWD_URL_MAX ||
	    (size_t)snprintf(url, sizeof(url), "%.*s/dvcr/events", (int)n, leader_url) >=
	        sizeof(url) ||
	    (size_t)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token) >=
	        sizeof(auth)) {
		rc = vim_err_set(err, VIM_EINVAL, "the leader's URL or token is too long");
		goto out;
	}
	if (!a || !(h = curl_easy_init()) ||
	    !(hdrs = curl_slist_append(NULL, "Content-Type: application/json")) ||
	    !(h2 = curl_slist_append(hdrs, auth))) {
		rc = vim_err_set(err, VIM_ENOMEM,
		                 "registry notifications to the leader: out of memory");
		goto out;
	}
	hdrs = h2;
	common_opts(h, ca_file, cerr, a);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, FWD_EVENTS_TIMEOUT_MS);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	rc = outcome(leader_url, cc, status, cerr, 0, a, err);
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(a);
	return rc;
}
