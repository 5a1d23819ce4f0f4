/*
 * api/server_internal — what the server's own files share (server.c the
 * MHD plumbing, reply.c, stream.c, router.c and the routes_*.c rows): the
 * server's configuration, the request router's table and the stream the
 * transfer rows answer with.  The API's handlers (resource.c, list_watch.c
 * ...) see only api/internal.h.
 */
#ifndef VIM_API_SERVER_INTERNAL_H
#define VIM_API_SERVER_INTERNAL_H

#include "api/internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct api_guard;

struct api_server {
	struct MHD_Daemon *d;
	struct store *store;
	char *token;
	char *notify_token;
	bool (*token_known)(void *arg, const char *kind, const char *token);
	void *token_arg;
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

/* ---- the request router (router.c) ------------------------------------------------ */

/* Who may call a row: the one column every request is checked against,
 * in one place (api_server_authorized), before its handler runs.  A
 * refusal is 401 Unauthorized, as kube-apiserver answers a request
 * without valid credentials. */
enum api_auth {
	API_AUTH_NONE,    /* anyone: liveness and readiness probes */
	API_AUTH_ADMIN,   /* the admin bearer token */
	API_AUTH_NOTIFY,  /* the registry's notification token, or the admin's */
	API_AUTH_METRICS, /* anyone with metrics_anonymous, else the admin token */
	API_AUTH_URL,     /* the URL's own token, which the row's handler checks */
	API_AUTH__COUNT
};

enum api_match {
	API_MATCH_EXACT,  /* the path and nothing else; rest is NULL */
	API_MATCH_TREE,   /* the path, or path "/" rest */
	API_MATCH_PREFIX, /* path is a prefix of the URL; rest is what follows */
};

/* A row whose body goes to its handler as it arrives (an upload of many
 * GiB is never buffered); the other rows get their body whole, bounded
 * by max_body. */
struct api_sink {
	/* The headers are in: claim the transfer into *state.  false when it
	 * answered instead (r's reply set; the body is then dropped). */
	bool (*begin)(struct api_req *r, const char *rest, void **state);
	/* A piece of the body; a failure is kept in state for end. */
	void (*data)(void *state, const char *data, size_t len);
	/* The body is whole: sets r's reply and frees state. */
	void (*end)(void *state, struct api_req *r);
	/* The client went away mid-body: frees state. */
	void (*abort)(void *state);
};

struct api_server_route {
	const char *method; /* NULL = any (the handler answers 405 itself) */
	const char *path;
	enum api_match match;
	enum api_auth auth;
	/* the body is in: sets r's reply (rest: see api_match) */
	void (*handle)(struct api_req *r, const char *rest);
	const struct api_sink *sink; /* instead of handle, for a streamed body */
};

/* The row serving method + url, never NULL (the last row takes every
 * path: the API's own route table); *rest as the row's match says. */
const struct api_server_route *api_server_route_find(const char *method, const char *url,
                                                     const char **rest);

/* Does the Authorization header (NULL when absent) satisfy the row's
 * auth column on server s? */
bool api_server_authorized(const struct api_server *s, const struct api_server_route *row,
                           const char *authorization);

/* The table itself (tests walk every row). */
const struct api_server_route *api_server_routes(size_t *n);

/* The rows' handlers (routes_probe.c, routes_transfer.c). */
void api_serve_live(struct api_req *r, const char *rest);
void api_serve_readyz(struct api_req *r, const char *check);
void api_serve_metrics(struct api_req *r, const char *rest);
void api_serve_registry_events(struct api_req *r, const char *rest);
void api_serve_download(struct api_req *r, const char *what);
extern const struct api_sink api_upload_sink;

/* ---- replies and streams shared with the plumbing ---------------------------------- */

/* A Kubernetes Status object (a new reference; NULL when out of memory). */
json_t *api_status_body(int code, const char *reason, const char *message);

/* The connection's inactivity timeout, in seconds (0 = none). */
void api_conn_timeout(struct MHD_Connection *c, unsigned int seconds);

/* A pipe MHD reads a reply body from: fd is its read end (owned, closed
 * with the last reference), want the bytes it must have (-1 unknown; a
 * body that ends short is cut, not a short 200).  refs: its holders. */
struct api_stream;
struct api_stream *api_stream_new(const struct api_req *r, int fd, int refs, long long want);
void api_stream_unref(struct api_stream *st);
/* A response reading st (which it holds one reference of); NULL when out
 * of memory (the reference is then still the caller's). */
struct MHD_Response *api_stream_response(struct api_stream *st);

/* Chunked bodies refused at the limit since start, every listener
 * together (/metrics). */
uint64_t api_server_refused_bodies(void);

#endif
