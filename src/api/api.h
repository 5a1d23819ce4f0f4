/*
 * api — the Kubernetes-compatible HTTP API (libmicrohttpd) that a real,
 * unmodified kubectl drives: discovery, OpenAPI, VirtualImage and
 * ClusterVirtualImage CRUD / patch / watch / status, Events, Namespaces,
 * Tables for `kubectl get`, Kubernetes Status errors.
 *
 * Threads: one per connection (a WATCH or a large LIST streams from a
 * producer thread of its own through a pipe, so memory stays flat).
 */
#ifndef VIM_API_API_H
#define VIM_API_API_H

#include "core/err.h"
#include "core/metrics.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PUT/POST /upload/<token>: a user's image streamed to the importer as it
 * arrives (no bearer token: the URL's token is the credential). */
struct api_upload_ops {
	int (*begin)(void *arg, const char *token, int64_t length, void **handle,
	             struct vim_err *err);
	int (*data)(void *handle, const void *data, size_t len, struct vim_err *err);
	/* ok = false: the client went away or the data was refused. */
	int (*end)(void *handle, bool ok, struct vim_err *err);
};

struct api_ready;

/* kube-apiserver's own (secure_serving.go): IdleTimeout 90 s, which
 * matches Go's http.DefaultTransport keep-alive, so a client's pooled
 * connection is not cut under it; ReadHeaderTimeout 32 s. */
#define API_IDLE_TIMEOUT_DEFAULT_S 90
#define API_HEADER_TIMEOUT_DEFAULT_S 32

struct api_config {
	const char *listen_host; /* "127.0.0.1" */
	int listen_port;         /* 0 = the kernel picks */
	const char *tls_cert;    /* PEM paths; both NULL = plain HTTP */
	const char *tls_key;
	const char *token;   /* the admin bearer token (borrowed, copied) */
	size_t max_body;     /* 0 = 1 MiB */
	struct store *store; /* borrowed; outlives the server */
	/* POST /dvcr/events: the registry's notifications.  Accepted with the
	 * admin token or notify_token (NULL = admin only); NULL fn = 404. */
	const char *notify_token;
	int (*on_registry_events)(void *arg, const char *body, size_t len, struct vim_err *err);
	void *events_arg;
	/* A bearer token that is neither token nor notify_token may still be
	 * one another replica of the service accepts (their hashes are shared
	 * through etcd): asked with kind "api" (where the admin token is
	 * needed) or "notify" (/dvcr/events), the token without "Bearer ".
	 * NULL = no other tokens. */
	bool (*token_known)(void *arg, const char *kind, const char *token);
	void *token_arg;
	const struct api_upload_ops *upload; /* NULL = no uploads */
	void *upload_arg;
	/* GET /download/vi/<ns>/<name> | /download/cvi/<name> (admin token):
	 * the image's DVCR layer, as stored (a tar holding disk/<file>).  fn
	 * opens it: *fd is the read end of a pipe the layer streams into (the
	 * server owns and closes it), size and digest describe the layer.
	 * NULL fn = 404. */
	int (*download)(void *arg, const char *kind, const char *ns, const char *name, int *fd,
	                long long *size, char digest[96], struct vim_err *err);
	void *download_arg;
	/* GET /metrics: fn appends the Prometheus text (NULL = 404).  It needs
	 * the admin token unless metrics_anonymous. */
	void (*metrics)(void *arg, struct vim_text *out);
	void *metrics_arg;
	bool metrics_anonymous;
	/* /readyz answers from this (borrowed, shared by every listener of the
	 * process; NULL = ready while serving). */
	struct api_ready *ready;
	/* Connections at once (0 = 16384); more wait in the listen backlog. */
	unsigned int max_connections;
	/* Seconds a connection may sit idle (0 = API_IDLE_TIMEOUT_DEFAULT_S),
	 * and from accept to the end of a request's headers (0 =
	 * API_HEADER_TIMEOUT_DEFAULT_S).  Watches have no idle timeout
	 * (their timeoutSeconds ends them); uploads, downloads and streamed
	 * LISTs get API_TRANSFER_IDLE_S. */
	unsigned int idle_timeout_s;
	unsigned int header_timeout_s;
};

#define API_TRANSFER_IDLE_S 600

struct api_server;

/* Binds and starts serving.  *out is freed with api_server_stop. */
int api_server_start(struct api_server **out, const struct api_config *cfg, struct vim_err *err);

/* The port actually bound (useful with listen_port 0). */
int api_server_port(const struct api_server *s);

/* Stops accepting, cancels watches, waits for in-flight requests, frees.
 * NULL is fine. */
void api_server_stop(struct api_server *s);

/* ---- readiness: /readyz, /readyz?verbose, /readyz/<check> ---------------- */

/* The process's readiness checks, named (e.g. "store", "controllers",
 * "kubeconfig"), listed in this order; each starts not ready. */
int api_ready_new(struct api_ready **out, const char *const *names, size_t n, struct vim_err *err);
void api_ready_free(struct api_ready *r); /* NULL is fine */

/* Sets a check; why (may be NULL) says what a failing one waits for.
 * VIM_ENOTFOUND for a name not given to api_ready_new. */
int api_ready_set(struct api_ready *r, const char *name, bool ok, const char *why);

/* The answer to /readyz (check NULL) or /readyz/<check>, as
 * kube-apiserver words it: 200 "ok" (or the list with "[+]name ok" lines
 * and "readyz check passed" when verbose); 503 with the list, the failing
 * checks as "[-]name failed: why", and "readyz check failed"; 404 for an
 * unknown check.  exclude: a comma-separated list of checks to skip
 * (NULL = none).  The text goes to out. */
unsigned int api_ready_render(struct api_ready *r, const char *check, bool verbose,
                              const char *exclude, struct vim_text *out);

/* Makes (once) a self-signed certificate for 127.0.0.1/localhost under dir
 * (tls.crt, tls.key, 0600) and returns their paths.  kubectl sends its
 * token only over TLS, so the kubeconfig points at a TLS listener with it. */
int api_tls_ensure(const char *dir, char *cert_path, size_t cert_len, char *key_path,
                   size_t key_len, struct vim_err *err);

/* ---- pure pieces, exposed for unit tests ---------------------------------- */

/* RFC 7386 JSON merge patch: applies patch to target in place (target is
 * modified; patch borrowed).  Returns the (possibly replaced) target: a new
 * reference when patch is not an object. */
json_t *api_merge_patch(json_t *target, const json_t *patch);

/* kube-apiserver's bound on the operations of one JSON patch. */
#define API_JSON_PATCH_MAX_OPS 10000
/* The deepest document a patch may produce: jansson's parser limit, so
 * nothing a patch builds is deeper than what a request could carry (and
 * jansson's recursive free/copy/compare stay shallow). */
#define API_JSON_MAX_DEPTH 2048

/* RFC 6902 JSON patch: applies ops (an array) to doc in place.  0, or
 * VIM_EINVAL with a message naming the failing op, leaving doc in an
 * unspecified state (callers patch a copy).  Bounded before anything is
 * built: more than API_JSON_PATCH_MAX_OPS operations is VIM_ETOOLARGE;
 * copies adding more than max_copy bytes in all (kube's
 * JSONPatchMaxCopyBytes), or a document nested deeper than
 * API_JSON_MAX_DEPTH, is VIM_EINVAL. */
int api_json_patch(json_t **doc, const json_t *ops, size_t max_copy, struct vim_err *err);

/* The approximate compact-encoded size of v and its depth (either output
 * may be NULL).  The walk stops once the size passes cap or the depth
 * passes API_JSON_MAX_DEPTH: then VIM_ETOOLARGE (the outputs are as far
 * as it got). */
int api_json_measure(const json_t *v, size_t cap, size_t *size, size_t *depth);

/* The member path ("spec.items[2].name") at byte pos of JSON text buf
 * (valid up to pos) into out: names the duplicate member jansson's
 * JSON_REJECT_DUPLICATES stopped at. */
void api_json_path_at(const char *buf, size_t pos, char *out, size_t cap);

#endif
