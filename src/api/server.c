/*
 * api/server — libmicrohttpd wiring: one thread per connection, the body
 * read into a buffer bounded before it is read whole (413), the bearer
 * token checked in constant time (401), then the router.  Streamed replies
 * (LIST, WATCH) come from a producer thread through a pipe MHD reads, so
 * a LIST of 100,000 objects never sits in memory.
 *
 * Why thread-per-connection and poll(2), not epoll and a thread pool:
 * handlers block — an upload's data callback pushes into the importer as
 * it arrives, and the pipe of a WATCH, a LIST or a download is read with a
 * blocking read(2) by the connection's thread, so a WATCH with no events
 * would hold a pool thread for up to 30 minutes.  poll has no FD_SETSIZE
 * limit (select refused every descriptor above 1023); each thread gets a
 * small stack, so thousands of idle connections cost little memory.  Idle
 * connections are closed by MHD's inactivity timeout, slow headers by
 * api/guard's deadline.
 */
#define _GNU_SOURCE /* pipe2 */
#include "api/internal.h"
#include "api/guard.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_MAX_BODY_DEFAULT (1024 * 1024)
#define API_MAX_CONNECTIONS_DEFAULT 16384
/* A handler's deepest path (SQLite, jansson, an upload into the importer)
 * uses well under 100 KiB; 8 MiB stacks times thousands of connections
 * would only cost address space and map count. */
#define API_THREAD_STACK (512 * 1024)

struct api_server {
	struct MHD_Daemon *d;
	struct store *store;
	char *token;
	char *notify_token;
	int (*on_events)(void *arg, const char *body, size_t len, struct vim_err *err);
	void *events_arg;
	void (*metrics)(void *arg, struct vim_text *out);
	void *metrics_arg;
	bool metrics_anonymous;
	int (*download)(void *arg, const char *kind, const char *ns, const char *name, int *fd,
	                long long *size, char digest[96], struct vim_err *err);
	void *download_arg;
	const struct api_upload_ops *upload;
	void *upload_arg;
	size_t max_body;
	char *tls_cert, *tls_key;
	int port;
	struct api_ready *ready; /* borrowed */
	struct api_guard *guard;
	pthread_mutex_t mu;
	pthread_cond_t idle;
	int producers; /* live stream threads */
	bool stopping;
};

/* Per-request state between MHD's calls. */
struct conn_state {
	char *body;
	size_t len, cap;
	bool answered; /* a response was queued on the first call */
	void *upload;  /* an upload in flight (api_upload_ops handle) */
	int upload_rc; /* the first failure of its data */
	struct vim_err upload_err;
	uint64_t upload_bytes;
};

bool api_server_stopping(const struct api_server *s)
{
	bool stop;
	pthread_mutex_lock((pthread_mutex_t *)&s->mu);
	stop = s->stopping;
	pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
	return stop;
}

size_t api_server_max_body(const struct api_server *s)
{
	return s->max_body;
}

const char *api_query(const struct api_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *api_header(const struct api_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

bool api_wants_table(const struct api_req *r)
{
	const char *a = api_header(r, "Accept");
	return a && strstr(a, "as=Table");
}

/* ---- replies -------------------------------------------------------------------------- */

void api_reply_raw(struct api_req *r, unsigned int code, const char *content_type, const void *data,
                   size_t len)
{
	r->resp = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (r->resp && content_type)
		MHD_add_response_header(r->resp, "Content-Type", content_type);
	r->code = code;
}

void api_reply_json(struct api_req *r, unsigned int code, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		api_reply_raw(r, 500, "text/plain", "out of memory\n", 14);
		return;
	}
	r->resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (r->resp)
		MHD_add_response_header(r->resp, "Content-Type", "application/json");
	else
		free(text);
	r->code = code;
}

static json_t *status_body(int code, const char *reason, const char *message)
{
	return json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
	                 "metadata", "status", "Failure", "message", message, "reason", reason,
	                 "code", code);
}

void api_reply_status(struct api_req *r, unsigned int http, const char *reason, const char *message)
{
	api_reply_json(r, http, status_body((int)http, reason, message));
}

void api_reply_error(struct api_req *r, int vim_code, const char *message)
{
	api_reply_error_named(r, vim_code, message, r->name);
}

void api_reply_error_named(struct api_req *r, int vim_code, const char *message, const char *name)
{
	int http = vim_code_http_status(vim_code);
	json_t *st = status_body(http, vim_code_k8s_reason(vim_code), message), *details;

	/* kube's StatusDetails of the qualified resource: group only when not core */
	if (name && st &&
	    (details =
	         json_pack("{s:s,s:s}", "name", name, "kind", r->resource ? r->resource : ""))) {
		if (r->kind)
			json_object_set_new(details, "group", json_string(MODEL_GROUP));
		json_object_set_new(st, "details", details);
	}
	api_reply_json(r, (unsigned int)http, st);
}

void api_reply_invalid_kind(struct api_req *r, const char *group, const char *kind,
                            const char *name, const struct model_causes *causes)
{
	char msg[4096], q[128];
	size_t i, n;
	json_t *st, *cs = json_array(), *details;

	/* kube's qualified kind: "Event" in the core group */
	snprintf(q, sizeof(q), "%s%s%s", kind, *group ? "." : "", group);
	n = (size_t)snprintf(msg, sizeof(msg), "%s \"%s\" is invalid: ", q, name ? name : "");
	if (causes->len > 1 && n < sizeof(msg))
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "[");
	for (i = 0; i < causes->len; i++) {
		const struct model_cause *c = &causes->items[i];
		/* the message may be cut; details.causes always has them all */
		if (n < sizeof(msg))
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s%s: %s", i ? ", " : "",
			                      c->field, c->message);
		json_array_append_new(cs, json_pack("{s:s,s:s,s:s}", "reason", c->reason, "message",
		                                    c->message, "field", c->field));
	}
	if (causes->len > 1 && n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - n, "]");
	st = status_body(422, "Invalid", msg);
	/* name and group omitted when empty, as Go's omitempty does */
	details = json_pack("{s:s,s:o}", "kind", kind, "causes", cs);
	if (name && *name)
		json_object_set_new(details, "name", json_string(name));
	if (*group)
		json_object_set_new(details, "group", json_string(group));
	json_object_set_new(st, "details", details);
	api_reply_json(r, 422, st);
}

void api_reply_invalid(struct api_req *r, const struct model_kind_info *kind, const char *name,
                       const struct model_causes *causes, int vim_code)
{
	(void)vim_code;
	api_reply_invalid_kind(r, MODEL_GROUP, kind->name, name, causes);
}

bool api_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* The idle timeout is for connections that wait for nothing: a WATCH
 * waits for events (its timeoutSeconds ends it, and its producer notices
 * a reader that went away), a transfer may pause for its peer. */
static void set_timeout(struct MHD_Connection *c, unsigned int seconds)
{
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

static bool is_watch(const struct api_req *r)
{
	const char *w = api_query(r, "watch");
	return (w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0)) ||
	       strstr(r->path, "/watch/") != NULL;
}

/* What a streamed reply's producer and its MHD reader share: the read
 * end of the pipe and the producer's verdict, which it sets before it
 * closes its end, so the reader knows at EOF whether the body is whole.
 * Freed by whichever of the two lets go last. */
struct stream {
	pthread_mutex_t mu;
	int refs;
	int fd;         /* read end */
	bool done;      /* the producer has returned */
	int rc;         /* its result: < 0 = the body is not complete */
	long long want; /* bytes the body must have (-1 = unknown) */
	long long got;
	struct vim_err err; /* why, when rc < 0 */
	char what[160];     /* "GET /apis/..." for the log */
};

static void stream_unref(struct stream *st)
{
	bool last;

	pthread_mutex_lock(&st->mu);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (!last)
		return;
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

static struct stream *stream_new(const struct api_req *r, int fd, int refs, long long want)
{
	struct stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->mu, NULL);
	st->refs = refs;
	st->fd = fd;
	st->want = want;
	snprintf(st->what, sizeof(st->what), "%s %s", r->method, r->path);
	return st;
}

/* MHD's reader (the connection's thread, which may block).  A body that
 * ends short — the producer failed, or fewer bytes than announced came —
 * ends with an error: MHD then closes the connection without the last
 * chunk, so the client sees a failed transfer, not a short 200. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct vim_err why = {0};
	ssize_t n;
	int rc;

	(void)pos;
	do
		n = read(st->fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		st->got += n;
		return n;
	}
	if (n < 0) {
		vim_log(VIM_LOG_WARN, "http: %s: reply cut after %lld bytes: %s", st->what, st->got,
		        strerror(errno));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	/* EOF: a producer set its verdict before closing its end (a
	 * download's writer is no producer: rc stays 0) */
	pthread_mutex_lock(&st->mu);
	rc = st->rc;
	if (rc < 0)
		why = st->err;
	pthread_mutex_unlock(&st->mu);
	if (rc == 0 && (st->want < 0 || st->got == st->want))
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (rc < 0)
		vim_log(VIM_LOG_WARN, "http: %s: reply cut after %lld bytes: %s", st->what, st->got,
		        why.msg[0] ? why.msg : vim_code_name(rc));
	else
		vim_log(VIM_LOG_WARN,
		        "http: %s: reply cut: the body ended after %lld of %lld bytes", st->what,
		        st->got, st->want);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_release(void *cls)
{
	stream_unref(cls);
}

/* A response that reads st (which it then holds a reference of). */
static struct MHD_Response *stream_response(struct stream *st)
{
	return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, st,
	                                         stream_release);
}

struct producer {
	struct api_server *srv;
	api_stream_fn fn;
	void *arg;
	int fd; /* write end */
	struct stream *st;
};

static void *producer_main(void *p_)
{
	struct producer *p = p_;
	struct api_server *s = p->srv;
	struct vim_err err = {0};
	int rc = p->fn(p->arg, p->fd, &err);

	pthread_mutex_lock(&p->st->mu);
	p->st->rc = rc < 0 ? rc : 0;
	p->st->err = err;
	p->st->done = true;
	pthread_mutex_unlock(&p->st->mu);
	close(p->fd); /* the reader's EOF comes after the verdict */
	stream_unref(p->st);
	free(p);
	pthread_mutex_lock(&s->mu);
	s->producers--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Waits for the producer's first byte or its end.  Returns the producer's
 * error when it ended with nothing written (nothing has been sent yet). */
static int first_byte(struct stream *st, struct vim_err *err)
{
	struct pollfd pf = {.fd = st->fd, .events = POLLIN};
	int avail = 0, rc = 0;

	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	if (ioctl(st->fd, FIONREAD, &avail) != 0)
		avail = 0;
	pthread_mutex_lock(&st->mu);
	if (avail == 0 && st->done && st->rc < 0) {
		rc = st->rc;
		*err = st->err;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int api_reply_stream(struct api_req *r, unsigned int code, const char *content_type,
                     api_stream_fn fn, void *arg, bool hold, struct vim_err *err)
{
	struct producer *p = calloc(1, sizeof(*p));
	struct stream *st = NULL;
	pthread_t th;
	int fds[2] = {-1, -1}, rc = 0;

	if (!p || pipe2(fds, O_CLOEXEC) != 0 || !(st = stream_new(r, fds[0], 2, -1))) {
		/* O_CLOEXEC: not inherited by a child (vimaged spawns the registry) */
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		free(p);
		fn(arg, -1, NULL); /* lets fn free arg */
		api_reply_error(r, VIM_EINTERNAL, "cannot start a streamed reply");
		return 0;
	}
	p->srv = r->srv;
	p->fn = fn;
	p->arg = arg;
	p->fd = fds[1];
	p->st = st;
	pthread_mutex_lock(&r->srv->mu);
	r->srv->producers++;
	pthread_mutex_unlock(&r->srv->mu);
	if (pthread_create(&th, NULL, producer_main, p) != 0) {
		fn(arg, -1, NULL);
		close(fds[1]);
		free(p);
		pthread_mutex_lock(&r->srv->mu);
		r->srv->producers--;
		pthread_mutex_unlock(&r->srv->mu);
		st->refs = 1;
		stream_unref(st);
		api_reply_error(r, VIM_EINTERNAL, "cannot start a streamed reply");
		return 0;
	}
	pthread_detach(th);
	/* Held: an error before the first byte is still a proper Status. */
	if (hold && (rc = first_byte(st, err)) < 0) {
		stream_unref(st);
		return rc;
	}
	set_timeout(r->conn, is_watch(r) ? 0 : API_TRANSFER_IDLE_S);
	if (!(r->resp = stream_response(st))) {
		stream_unref(st); /* the producer's write fails: it ends */
		api_reply_error(r, VIM_ENOMEM, "cannot start a streamed reply");
		return 0;
	}
	if (content_type)
		MHD_add_response_header(r->resp, "Content-Type", content_type);
	r->code = code;
	return 0;
}

/* ---- the MHD callbacks ------------------------------------------------------------------ */

/* Constant-time comparison of a bearer header with a token. */
static bool bearer_is(const char *auth, const char *token)
{
	size_t a, b, i;
	unsigned char diff = 0;

	if (!auth || !token || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	a = strlen(auth);
	b = strlen(token);
	for (i = 0; i < b; i++)
		diff |= (unsigned char)(token[i] ^ (i < a ? auth[i] : 0));
	return diff == 0 && a == b;
}

/* Chunked bodies refused at the limit, every listener together. */
static atomic_uint_fast64_t refused_bodies;

static void http_metrics(struct vim_text *t)
{
	uint64_t open, reaped;

	api_guard_counts(&open, &reaped);
	vim_metric_head(t, "vimage_http_connections", "gauge",
	                "HTTP connections open now, every listener together.");
	vim_metric_u64(t, "vimage_http_connections", NULL, open);
	vim_metric_head(t, "vimage_http_connections_closed_total", "counter",
	                "HTTP connections vimaged closed: deadline = the request's headers or "
	                "body took over --http-header-timeout; body_too_large = a chunked "
	                "body passed the limit.");
	vim_metric_u64(t, "vimage_http_connections_closed_total", "reason=\"deadline\"", reaped);
	vim_metric_u64(t, "vimage_http_connections_closed_total", "reason=\"body_too_large\"",
	               atomic_load(&refused_bodies));
}

static void serve_metrics(struct api_server *s, struct api_req *r)
{
	struct vim_text t = {0};

	s->metrics(s->metrics_arg, &t);
	http_metrics(&t);
	if (t.oom)
		api_reply_error(r, VIM_ENOMEM, "metrics: out of memory");
	else
		api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8",
		              t.buf ? t.buf : "", t.len);
	free(t.buf);
}

/* "vi/<ns>/<name>" | "cvi/<name>": the layer streams from a pipe. */
static void download(struct api_server *s, struct api_req *r, const char *what)
{
	char kind[8] = "", ns[256] = "", name[256] = "", digest[96] = "", len[32];
	struct vim_err err = {0};
	struct stream *st = NULL;
	long long size = -1;
	int fd = -1, n = 0;

	if (!s->download) {
		api_reply_error(r, VIM_ENOTFOUND, "downloads are not enabled");
		return;
	}
	if (strcmp(r->method, "GET") != 0) {
		api_reply_status(r, 405, "MethodNotAllowed", "downloads are GET");
		return;
	}
	if (sscanf(what, "%7[a-z]/%255[^/]%n", kind, ns, &n) == 2 && what[n] == '/' &&
	    strcmp(kind, "vi") == 0 && sscanf(what + n + 1, "%255[^/]", name) == 1 &&
	    !strchr(what + n + 1, '/')) {
		/* vi/<ns>/<name> */
	} else if (sscanf(what, "%7[a-z]/%255[^/]%n", kind, name, &n) == 2 && !what[n] &&
	           strcmp(kind, "cvi") == 0) {
		ns[0] = '\0';
	} else {
		api_reply_status(
		    r, 400, "BadRequest",
		    "expected /download/vi/<namespace>/<name> or /download/cvi/<name>");
		return;
	}
	if (s->download(s->download_arg, kind, ns[0] ? ns : NULL, name, &fd, &size, digest, &err) <
	    0) {
		api_reply_error(r, err.code ? err.code : VIM_EINTERNAL, err.msg);
		return;
	}
	/* The layer's size is known: a body that ends short (the registry
	 * failed mid-blob) must not look like a whole layer. */
	if (!(st = stream_new(r, fd, 1, size)) || !(r->resp = stream_response(st))) {
		if (st)
			stream_unref(st); /* closes fd */
		else
			close(fd);
		api_reply_error(r, VIM_ENOMEM, "download: out of memory");
		return;
	}
	r->code = 200;
	set_timeout(r->conn, API_TRANSFER_IDLE_S);
	MHD_add_response_header(r->resp, "Content-Type", "application/x-tar");
	MHD_add_response_header(r->resp, "Docker-Content-Digest", digest);
	snprintf(len, sizeof(len), "%lld", size);
	MHD_add_response_header(r->resp, "X-Vimage-Layer-Size", len);
}

static void registry_events(struct api_server *s, struct api_req *r, const char *body, size_t len)
{
	struct vim_err err = {0};
	int n;

	if (!s->on_events) {
		api_reply_error(r, VIM_ENOTFOUND, "registry notifications are not configured");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		api_reply_status(r, 405, "MethodNotAllowed", "registry notifications are POSTed");
		return;
	}
	n = s->on_events(s->events_arg, body, len, &err);
	if (n < 0)
		api_reply_status(r, 400, "BadRequest", err.msg);
	else
		api_reply_raw(r, 200, "text/plain", "ok", 2);
}

static enum MHD_Result queue(struct MHD_Connection *c, struct api_req *r)
{
	enum MHD_Result ret;

	if (!r->resp)
		api_reply_raw(r, 500, "text/plain", "no response\n", 12);
	if (!r->resp)
		return MHD_NO;
	api_guard_request_received(r->srv->guard, c);
	MHD_add_response_header(r->resp, "Cache-Control", "no-cache, private");
	ret = MHD_queue_response(c, r->code, r->resp);
	MHD_destroy_response(r->resp);
	return ret;
}

static bool is_upload(const char *url, const char *method)
{
	return strncmp(url, "/upload/", 8) == 0 &&
	       (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0);
}

/* Maps an upload failure to its HTTP answer. */
static void upload_reply(struct api_req *r, int rc, const char *msg)
{
	if (rc == VIM_ENOTFOUND)
		api_reply_status(r, 404, "NotFound", msg);
	else if (rc == VIM_EEXIST)
		api_reply_status(r, 409, "Conflict", msg);
	else if (rc == VIM_EINVAL)
		api_reply_status(r, 400, "BadRequest", msg);
	else
		api_reply_error(r, rc, msg);
}

/* The first call of an upload: claim the slot (or answer at once). */
static enum MHD_Result upload_first(struct api_server *s, struct conn_state *cs, struct api_req *r,
                                    const char *url)
{
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	int64_t len = cl ? (int64_t)strtoll(cl, NULL, 10) : -1;
	struct vim_err err = {0};
	int rc;

	if (!s->upload) {
		cs->answered = true;
		api_reply_status(r, 404, "NotFound", "uploads are not enabled");
		return queue(r->conn, r);
	}
	rc = s->upload->begin(s->upload_arg, url + 8, len, &cs->upload, &err);
	if (rc < 0) {
		cs->answered = true;
		cs->upload = NULL;
		upload_reply(r, rc, err.msg);
		if (rc == VIM_EINVAL && len < 0)
			r->code = 411;
		return queue(r->conn, r);
	}
	set_timeout(r->conn, API_TRANSFER_IDLE_S);
	api_guard_request_received(s->guard, r->conn); /* streams on its own terms */
	return MHD_YES;
}

static enum MHD_Result upload_last(struct api_server *s, struct conn_state *cs, struct api_req *r)
{
	struct vim_err err = {0};
	char body[128];
	int rc;

	if (cs->upload_rc < 0) {
		s->upload->end(cs->upload, false, NULL);
		cs->upload = NULL;
		upload_reply(r, cs->upload_rc, cs->upload_err.msg);
		return queue(r->conn, r);
	}
	rc = s->upload->end(cs->upload, true, &err);
	cs->upload = NULL;
	if (rc < 0) {
		upload_reply(r, rc, err.msg);
		return queue(r->conn, r);
	}
	snprintf(body, sizeof(body), "{\"status\":\"ok\",\"bytes\":%llu}\n",
	         (unsigned long long)cs->upload_bytes);
	api_reply_raw(r, 200, "application/json", body, strlen(body));
	return queue(r->conn, r);
}

/* Writes all of buf to the connection's socket (plain) or TLS session;
 * false when it cannot within a second or two. */
static bool send_raw(struct MHD_Connection *c, bool tls, const char *buf, size_t len)
{
	const union MHD_ConnectionInfo *fi =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *ti =
	    tls ? MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION) : NULL;
	int tries = 0;

	if (!fi || (tls && (!ti || !ti->tls_session)))
		return false;
	while (len && tries < 20) {
		ssize_t n = tls ? gnutls_record_send(ti->tls_session, buf, len)
		                : send(fi->connect_fd, buf, len, MSG_NOSIGNAL);
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		/* EAGAIN / GNUTLS_E_AGAIN / GNUTLS_E_INTERRUPTED: the
		 * same call again once the socket takes more */
		if (tls ? (n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED)
		        : (n == 0 || (errno != EAGAIN && errno != EINTR)))
			return false;
		struct pollfd p = {.fd = fi->connect_fd, .events = POLLOUT};
		poll(&p, 1, 100);
		tries++;
	}
	return len == 0;
}

/* Lingering close, as nginx does: after the answer, read and drop what the
 * client still sends until it stops (it has read the 413) — for at most
 * 2 s and 4 MiB.  Closing with unread data would send a reset that can
 * destroy the answer before the client reads it. */
static void linger(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *fi =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	int64_t end = vim_mono_ms() + 2000, left;
	size_t dropped = 0;
	char buf[16384];

	if (!fi)
		return;
	shutdown(fi->connect_fd, SHUT_WR); /* the answer is complete */
	while ((left = end - vim_mono_ms()) > 0 && dropped < 4 * 1024 * 1024) {
		struct pollfd p = {.fd = fi->connect_fd, .events = POLLIN};
		ssize_t n;
		if (poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fi->connect_fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			break; /* the client closed: done */
		if (n > 0)
			dropped += (size_t)n;
	}
}

/* Set by refuse_body on its connection's thread: MHD then logs its
 * "Application reported internal error" for the MHD_NO, which here is a
 * deliberate refusal already logged as such. */
static _Thread_local bool refused_here;

/* A body past the limit while it arrives (chunked, so no Content-Length
 * said so up front): answer 413 now and drop the connection, rather than
 * read the rest of a body that may never end.  libmicrohttpd 0.9.75
 * refuses MHD_queue_response until the body is in, so the answer is
 * written here, then MHD_NO closes the connection. */
static enum MHD_Result refuse_body(struct api_server *s, struct MHD_Connection *c, const char *url)
{
	char head[256], *text;
	json_t *st =
	    status_body(413, vim_code_k8s_reason(VIM_ETOOLARGE), "the request body is too large");
	int n;

	text = st ? json_dumps(st, JSON_COMPACT) : NULL;
	json_decref(st);
	if (text) {
		n = snprintf(head, sizeof(head),
		             "HTTP/1.1 413 Request Entity Too Large\r\nConnection: close\r\n"
		             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		             strlen(text));
		if (send_raw(c, s->tls_cert != NULL, head, (size_t)n) &&
		    send_raw(c, s->tls_cert != NULL, text, strlen(text)))
			linger(c);
		free(text);
	}
	vim_log(VIM_LOG_INFO, "http: %s: request body over %zu bytes, refused (413)", url,
	        s->max_body);
	refused_here = true;
	atomic_fetch_add(&refused_bodies, 1);
	return MHD_NO;
}

/* /readyz, /readyz/<check>: ?verbose lists the checks, ?exclude=<check>
 * (repeated) skips one, as kube-apiserver does. */
struct readyz_args {
	struct vim_text exclude;
	bool verbose; /* "?verbose" has no value: present is enough */
};

static enum MHD_Result readyz_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct readyz_args *a = cls;

	(void)kind;
	if (key && strcmp(key, "verbose") == 0)
		a->verbose = !value || strcmp(value, "false") != 0;
	if (key && strcmp(key, "exclude") == 0 && value && value[0])
		vim_text_printf(&a->exclude, "%s%s", a->exclude.len ? "," : "", value);
	return MHD_YES;
}

static void serve_readyz(struct api_server *s, struct api_req *r, const char *check)
{
	struct readyz_args a = {0};
	struct vim_text body = {0};
	unsigned int code;

	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, readyz_arg, &a);
	code = api_ready_render(s->ready, check, a.verbose, a.exclude.buf, &body);
	if (api_server_stopping(s) && code == 200 && !check) {
		free(body.buf);
		body = (struct vim_text){0};
		vim_text_printf(&body, "[-]shutdown failed: the server is stopping\n"
		                       "readyz check failed\n");
		code = 503;
	}
	if (body.oom)
		api_reply_error(r, VIM_ENOMEM, "readyz: out of memory");
	else
		api_reply_raw(r, code, "text/plain; charset=utf-8", body.buf ? body.buf : "",
		              body.len);
	free(body.buf);
	free(a.exclude.buf);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct conn_state *cs = *con_cls;
	struct api_req r = {
	    .srv = s, .store = s->store, .conn = conn, .method = method, .path = url};
	const char *cl, *auth;

	(void)version;
	if (!cs) {
		if (!(cs = calloc(1, sizeof(*cs))))
			return MHD_NO;
		*con_cls = cs;
		api_guard_request_started(s->guard, conn); /* the headers are in */
		if (is_upload(url, method))
			return upload_first(s, cs, &r, url);
		/* Refuse what is too big before reading it (the body stays
		 * unread; MHD closes the connection after the answer). */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
		if (cl && strtoull(cl, NULL, 10) > s->max_body) {
			cs->answered = true;
			api_reply_error(&r, VIM_ETOOLARGE, "the request body is too large");
			return queue(conn, &r);
		}
		return MHD_YES;
	}
	if (cs->answered) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (cs->upload) {
		if (*upload_size) {
			if (cs->upload_rc == 0)
				cs->upload_rc = s->upload->data(cs->upload, upload_data,
				                                *upload_size, &cs->upload_err);
			cs->upload_bytes += *upload_size;
			*upload_size = 0;
			return MHD_YES;
		}
		return upload_last(s, cs, &r);
	}
	if (*upload_size) {
		if (cs->len + *upload_size > s->max_body) {
			cs->answered = true;
			return refuse_body(s, conn, url);
		}
		if (cs->len + *upload_size + 1 > cs->cap) {
			size_t ncap = (cs->len + *upload_size + 1) * 2;
			char *nb;
			if (ncap > s->max_body + 1)
				ncap = s->max_body + 1;
			if (!(nb = realloc(cs->body, ncap)))
				return MHD_NO;
			cs->body = nb;
			cs->cap = ncap;
		}
		memcpy(cs->body + cs->len, upload_data, *upload_size);
		cs->len += *upload_size;
		cs->body[cs->len] = '\0';
		*upload_size = 0;
		return MHD_YES;
	}
	api_guard_request_received(s->guard, conn); /* the body is in */
	/* liveness: the process serves */
	if (strcmp(url, "/healthz") == 0 || strcmp(url, "/livez") == 0) {
		api_reply_raw(&r, 200, "text/plain", "ok", 2);
		return queue(conn, &r);
	}
	if (strcmp(url, "/readyz") == 0 || strncmp(url, "/readyz/", 8) == 0) {
		serve_readyz(s, &r, url[7] == '/' ? url + 8 : NULL);
		return queue(conn, &r);
	}
	auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
	if (strcmp(url, "/metrics") == 0 && s->metrics &&
	    (s->metrics_anonymous || bearer_is(auth, s->token))) {
		serve_metrics(s, &r);
		return queue(conn, &r);
	}
	if (strcmp(url, "/dvcr/events") == 0 && bearer_is(auth, s->notify_token)) {
		registry_events(s, &r, cs->body ? cs->body : "", cs->len);
		return queue(conn, &r);
	}
	if (!bearer_is(auth, s->token)) {
		api_reply_error(&r, VIM_EAUTH, "Unauthorized");
		return queue(conn, &r);
	}
	if (strcmp(url, "/dvcr/events") == 0) {
		registry_events(s, &r, cs->body ? cs->body : "", cs->len);
		return queue(conn, &r);
	}
	if (strncmp(url, "/download/", 10) == 0) {
		download(s, &r, url + 10);
		return queue(conn, &r);
	}
	r.body = cs->body ? cs->body : "";
	r.body_len = cs->len;
	api_route(&r);
	return queue(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;

	struct api_server *s = cls;

	(void)toe;
	api_guard_request_done(s->guard, conn);
	if (cs && cs->upload) /* the client went away mid-upload */
		s->upload->end(cs->upload, false, NULL);
	if (cs) {
		free(cs->body);
		free(cs);
		*con_cls = NULL;
	}
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (refused_here && strstr(line, "Application reported internal error")) {
		refused_here = false;
		return;
	}
	line[strcspn(line, "\n")] = '\0';
	vim_log(VIM_LOG_WARN, "http: %s", line);
}

static char *slurp(const char *path, struct vim_err *err)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	long n;

	if (!f) {
		vim_err_set(err, VIM_EIO, "cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < 1024 * 1024 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (!buf)
		vim_err_set(err, VIM_EIO, "cannot read %s", path);
	return buf;
}

int api_server_start(struct api_server **out, const struct api_config *cfg, struct vim_err *err)
{
	struct api_server *s = calloc(1, sizeof(*s));
	struct sockaddr_in addr = {.sin_family = AF_INET};
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                     MHD_USE_POLL | MHD_USE_ERROR_LOG;
	unsigned int idle_s =
	    cfg->idle_timeout_s ? cfg->idle_timeout_s : API_IDLE_TIMEOUT_DEFAULT_S;
	unsigned int header_s =
	    cfg->header_timeout_s ? cfg->header_timeout_s : API_HEADER_TIMEOUT_DEFAULT_S;
	struct MHD_OptionItem ops[16];
	const union MHD_DaemonInfo *info;
	int rc, k = 0;

	*out = NULL;
	if (!s || !cfg->token || !(s->token = strdup(cfg->token))) {
		free(s);
		return vim_err_set(err, VIM_EINVAL, "api: a token is required");
	}
	s->store = cfg->store;
	s->notify_token = cfg->notify_token ? strdup(cfg->notify_token) : NULL;
	s->on_events = cfg->on_registry_events;
	s->events_arg = cfg->events_arg;
	s->metrics = cfg->metrics;
	s->metrics_arg = cfg->metrics_arg;
	s->metrics_anonymous = cfg->metrics_anonymous;
	s->download = cfg->download;
	s->download_arg = cfg->download_arg;
	s->upload = cfg->upload;
	s->upload_arg = cfg->upload_arg;
	s->max_body = cfg->max_body ? cfg->max_body : API_MAX_BODY_DEFAULT;
	s->ready = cfg->ready;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->idle, NULL);
	addr.sin_port = htons((uint16_t)cfg->listen_port);
	if (inet_pton(AF_INET, cfg->listen_host ? cfg->listen_host : "127.0.0.1", &addr.sin_addr) !=
	    1) {
		api_server_stop(s);
		return vim_err_set(err, VIM_EINVAL, "api: --listen host %s is not an IPv4 address",
		                   cfg->listen_host);
	}
	if (cfg->tls_cert || cfg->tls_key) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			api_server_stop(s);
			return vim_err_set(err, VIM_EINVAL,
			                   "api: --tls-cert and --tls-key go together");
		}
		if (!(s->tls_cert = slurp(cfg->tls_cert, err)) ||
		    !(s->tls_key = slurp(cfg->tls_key, err))) {
			api_server_stop(s);
			return VIM_EINVAL;
		}
		flags |= MHD_USE_TLS;
	}
	if ((rc = api_guard_new(&s->guard, (int64_t)header_s * 1000, (int64_t)idle_s * 1000, err)) <
	    0) {
		api_server_stop(s);
		return rc;
	}
#define OPT_ADD(o, v, p) (ops[k++] = (struct MHD_OptionItem){(o), (intptr_t)(v), (p)})
	OPT_ADD(MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL);
	OPT_ADD(MHD_OPTION_SOCK_ADDR, 0, &addr);
	OPT_ADD(MHD_OPTION_NOTIFY_COMPLETED, on_completed, s);
	OPT_ADD(MHD_OPTION_NOTIFY_CONNECTION, api_guard_notify, s->guard);
	OPT_ADD(MHD_OPTION_CONNECTION_LIMIT,
	        cfg->max_connections ? cfg->max_connections : API_MAX_CONNECTIONS_DEFAULT, NULL);
	OPT_ADD(MHD_OPTION_CONNECTION_TIMEOUT, idle_s, NULL);
	OPT_ADD(MHD_OPTION_THREAD_STACK_SIZE, API_THREAD_STACK, NULL);
	if (s->tls_cert) {
		OPT_ADD(MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert);
		OPT_ADD(MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key);
	}
	OPT_ADD(MHD_OPTION_END, 0, NULL);
#undef OPT_ADD
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, ops,
	                        MHD_OPTION_END);
	if (!s->d) {
		api_server_stop(s);
		return vim_err_set(err, VIM_EIO, "api: cannot listen on %s:%d (in use?)",
		                   cfg->listen_host ? cfg->listen_host : "127.0.0.1",
		                   cfg->listen_port);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : cfg->listen_port;
	*out = s;
	return 0;
}

int api_server_port(const struct api_server *s)
{
	return s->port;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	if (s->d) {
		MHD_quiesce_daemon(s->d); /* stop accepting; in-flight ones finish */
		MHD_stop_daemon(s->d);
	}
	api_guard_free(s->guard); /* no connection is left */
	/* Producers notice `stopping` within their poll interval. */
	pthread_mutex_lock(&s->mu);
	while (s->producers > 0)
		pthread_cond_wait(&s->idle, &s->mu);
	pthread_mutex_unlock(&s->mu);
	pthread_cond_destroy(&s->idle);
	pthread_mutex_destroy(&s->mu);
	free(s->tls_cert);
	free(s->tls_key);
	free(s->token);
	free(s->notify_token);
	free(s);
}
