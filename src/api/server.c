/*
 * api/server — libmicrohttpd wiring: one thread per connection, the row
 * of the one route table (api/router) found when the headers are in, the
 * body read into a buffer bounded before it is read whole (413) or
 * streamed to the row (uploads), the row's auth column checked (401),
 * then its handler.  Replies are api/reply's; streamed ones (LIST, WATCH,
 * downloads) api/stream's, so a LIST of 100,000 objects never sits in
 * memory.
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
#include "api/server_internal.h"
#include "api/guard.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_MAX_BODY_DEFAULT (1024 * 1024)
#define API_MAX_CONNECTIONS_DEFAULT 16384
/* A handler's deepest path (SQLite, jansson, an upload into the importer)
 * uses well under 100 KiB; 8 MiB stacks times thousands of connections
 * would only cost address space and map count. */
#define API_THREAD_STACK (512 * 1024)

/* Per-request state between MHD's calls. */
struct conn_state {
	char *body;
	size_t len, cap;
	bool answered;                        /* a response was queued on the first call */
	const struct api_server_route *route; /* found on the first call */
	ptrdiff_t rest;                       /* its rest, as an offset in the URL (-1: none) */
	void *sink_state;                     /* a streamed body in flight */
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

/* ---- the MHD callbacks ------------------------------------------------------------------ */

/* Chunked bodies refused at the limit, every listener together. */
static atomic_uint_fast64_t refused_bodies;

uint64_t api_server_refused_bodies(void)
{
	return atomic_load(&refused_bodies);
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
	json_t *st = api_status_body(413, vim_code_k8s_reason(VIM_ETOOLARGE),
	                             "the request body is too large");
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

/* Every Content-Length the request carries, for content_length. */
struct clen {
	const char *first;
	int count;
	bool differ;
};

static enum MHD_Result clen_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct clen *c = cls;

	(void)kind;
	if (strcasecmp(key, "Content-Length") != 0)
		return MHD_YES;
	if (c->count++ == 0)
		c->first = value ? value : "";
	else if (strcmp(c->first, value ? value : "") != 0)
		c->differ = true;
	return MHD_YES;
}

/* The request's Content-Length (-1 when it has none), parsed whole: digits
 * only, as RFC 9110 writes it.  Two that differ are refused (RFC 9112
 * 6.3: the length is then unknowable, the classic request-smuggling
 * shape), and a value strtoull would read as a prefix ("12abc") or wrap
 * never becomes a length.  On false, why says what is wrong. */
static bool content_length(struct MHD_Connection *conn, long long *len, char *why, size_t cap)
{
	struct clen c = {NULL, 0, false};
	int64_t n;

	*len = -1;
	MHD_get_connection_values(conn, MHD_HEADER_KIND, clen_value, &c);
	if (c.count == 0)
		return true;
	if (c.differ) {
		snprintf(why, cap, "Content-Length: the request names %d different lengths",
		         c.count);
		return false;
	}
	if (!api_parse_count(c.first, false, &n)) {
		snprintf(why, cap,
		         "Content-Length: Invalid value: \"%.64s\": must be a decimal "
		         "count of bytes",
		         c.first);
		return false;
	}
	*len = (long long)n;
	return true;
}

/* The first call of a row whose body streams to it: claim the transfer,
 * or answer at once (the body is then dropped). */
static enum MHD_Result sink_first(struct api_server *s, struct conn_state *cs, struct api_req *r)
{
	const char *auth = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");

	if (!api_server_authorized(s, cs->route, auth)) {
		cs->answered = true;
		api_reply_error(r, VIM_EAUTH, "Unauthorized");
		return queue(r->conn, r);
	}
	if (!cs->route->sink->begin(r, cs->rest < 0 ? NULL : r->path + cs->rest, &cs->sink_state)) {
		cs->answered = true;
		cs->sink_state = NULL;
		return queue(r->conn, r);
	}
	api_conn_timeout(r->conn, API_TRANSFER_IDLE_S);
	api_guard_request_received(s->guard, r->conn); /* streams on its own terms */
	return MHD_YES;
}

/* MHD calls this once when the headers are in, then once per piece of
 * body, then once with none left: the row is found on the first call, its
 * auth column checked once the body is in (or, for a streamed body, at
 * once), and its handler called last. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct api_server *s = cls;
	struct conn_state *cs = *con_cls;
	struct api_req r = {
	    .srv = s, .store = s->store, .conn = conn, .method = method, .path = url};
	const char *rest;
	char why[160];
	long long cl;

	(void)version;
	if (!cs) {
		if (!(cs = calloc(1, sizeof(*cs))))
			return MHD_NO;
		*con_cls = cs;
		api_guard_request_started(s->guard, conn); /* the headers are in */
		cs->route = api_server_route_find(method, url, &rest);
		cs->rest = rest ? rest - url : -1;
		if (!content_length(conn, &cl, why, sizeof(why))) {
			cs->answered = true;
			api_reply_status(&r, 400, "BadRequest", why);
			return queue(conn, &r);
		}
		if (cs->route->sink)
			return sink_first(s, cs, &r);
		/* Refuse what is too big before reading it (the body stays
		 * unread; MHD closes the connection after the answer). */
		if (cl >= 0 && (unsigned long long)cl > s->max_body) {
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
	if (cs->sink_state) {
		void *st = cs->sink_state;
		if (*upload_size) {
			cs->route->sink->data(st, upload_data, *upload_size);
			*upload_size = 0;
			return MHD_YES;
		}
		cs->sink_state = NULL; /* end frees it */
		cs->route->sink->end(st, &r);
		return queue(conn, &r);
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
	if (!api_server_authorized(
	        s, cs->route,
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"))) {
		api_reply_error(&r, VIM_EAUTH, "Unauthorized");
		return queue(conn, &r);
	}
	r.body = cs->body ? cs->body : "";
	r.body_len = cs->len;
	cs->route->handle(&r, cs->rest < 0 ? NULL : url + cs->rest);
	return queue(conn, &r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct conn_state *cs = *con_cls;
	struct api_server *s = cls;

	(void)toe;
	api_guard_request_done(s->guard, conn);
	if (cs && cs->sink_state) /* the client went away mid-body */
		cs->route->sink->abort(cs->sink_state);
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
	s->token_known = cfg->token_known;
	s->token_arg = cfg->token_arg;
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
