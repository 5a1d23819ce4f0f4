/* dvcr internals shared by the files of src/dvcr (not a public contract). */
#ifndef VIM_DVCR_INTERNAL_H
#define VIM_DVCR_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <curl/curl.h>

#include "core/rate.h"
#include "dvcr/dvcr.h"

#define DVCR_POOL_MAX 16
#define DVCR_TOKENS_MAX 32
#define DVCR_TOKEN_MAX 8192
#define DVCR_ERRBODY_MAX 4096
#define DVCR_SCOPE_MAX 600

struct dvcr_token {
	char scope[DVCR_SCOPE_MAX];
	char *token;        /* owned; "" never stored */
	int64_t expires_ms; /* monotonic */
};

struct dvcr_client {
	char *base; /* without trailing '/' */
	char *user, *pass, *ca, *ca_pem, *ua;
	int insecure, head_trusted;
	long connect_ms, timeout_ms, stall_secs;
	uint64_t min_rate_bps;
	int64_t rate_window_ms;
	pthread_mutex_t mu; /* guards everything below */
	CURL *pool[DVCR_POOL_MAX];
	int npool;
	enum dvcr_scheme scheme; /* learned from the last 401 */
	struct dvcr_challenge chal;
	struct dvcr_token tokens[DVCR_TOKENS_MAX];
	struct dvcr_stats stats;
};

/* One HTTP exchange.  The caller fills the request part; dvcr_do fills the
 * response part.  Borrowed pointers only: nothing here is freed by dvcr_do. */
struct dvcr_req {
	const char *method; /* GET HEAD PUT PATCH POST DELETE */
	const char *url;    /* absolute URL, or a path under base ("/v2/...") */
	const char *repo;   /* for messages and token scope; NULL = none */
	const char *what;   /* "manifests/<tag>" for messages */
	const char *scope;  /* token scope; NULL = derived from repo/push */
	int push;           /* needs push access */
	int stream;         /* no overall timeout, only the stall bound */
	int follow;         /* follow redirects (blob GET) */
	const char *accept;
	const char *content_type;
	const char *range; /* "bytes=..." */
	const char *content_range;
	const void *body; /* request body from memory (may be NULL, len 0) */
	size_t body_len;
	int has_body;      /* send body (PUT/PATCH), even if empty */
	dvcr_read_fn read; /* request body from a callback instead */
	void *read_ud;
	int64_t read_len; /* -1 = chunked */
	void *buf;        /* 2xx body into buf (cap) ... */
	size_t cap;
	int stop_when_full;  /* ... a full buf ends the transfer successfully */
	dvcr_write_fn write; /* ... or to a callback */
	void *write_ud;
	/* response */
	long status;
	size_t len;
	int64_t content_length;
	char digest[DVCR_DIGEST_MAX];
	char media_type[DVCR_MEDIA_TYPE_MAX];
	char location[DVCR_URL_MAX];
	char link[DVCR_URL_MAX];
	char www_auth[DVCR_URL_MAX + 1024];
	char errbody[DVCR_ERRBODY_MAX];
	size_t errlen;
	/* private state */
	CURL *h;
	size_t body_pos;
	int overflow, header_overflow, cb_abort, full, stalled, slow;
	int64_t last_moved, last_ms, stall_ms;
	struct vim_rate rate; /* streamed requests: the minimum speed */
	uint64_t slow_sent;
};

/* Performs req (with the 401 → credentials → one retry dance).  Returns 0
 * on any HTTP answer (req->status set; the caller judges it) or a negative
 * code for transport failures, with err filled. */
int dvcr_do(struct dvcr_client *c, struct dvcr_req *req, struct vim_err *err);

/* Maps a non-success answer to a code and the message
 * "<METHOD> <repo> <what>: <status> <CODE>: <message>". */
int dvcr_fail(const struct dvcr_req *req, struct vim_err *err);

/* Writes "HEAD vi/ns/name manifests/tag" (method, repo, what) into out. */
void dvcr_label(const struct dvcr_req *r, char *out, size_t n);

CURL *dvcr_handle_get(struct dvcr_client *c);
void dvcr_handle_put(struct dvcr_client *c, CURL *h);
void dvcr_apply_common(struct dvcr_client *c, CURL *h, int stream);

/* auth.c */
/* Looks up a cached token for scope; copies it into out (DVCR_TOKEN_MAX). */
int dvcr_token_lookup(struct dvcr_client *c, const char *scope, char *out, size_t outlen);
/* Handles a 401 answer: learns the scheme, fetches a token if bearer.
 * Returns 0 when a retry makes sense. */
int dvcr_auth_on_401(struct dvcr_client *c, const struct dvcr_req *req, const char *scope,
                     struct vim_err *err);
void dvcr_tokens_free(struct dvcr_client *c);
/* When a token fetched at now_ms stops being used, from the answer's
 * expires_in (present = 0: it said nothing) clamped to [60 s, 1 day]: 60 s
 * is what distribution's client assumes for a missing or shorter value,
 * and a day bounds both the arithmetic on the server's number and how long
 * a revoked token is reused. */
#define DVCR_TOKEN_TTL_MIN_S 60
#define DVCR_TOKEN_TTL_MAX_S 86400
int64_t dvcr_token_expiry_ms(int64_t now_ms, int present, long long expires_in);

/* Resolves a Location (absolute or relative) against base into out. */
int dvcr_resolve(struct dvcr_client *c, const char *loc, char *out, size_t outlen,
                 struct vim_err *err);

int dvcr_check_name(const char *repo, const char *ref, struct vim_err *err);

#endif
