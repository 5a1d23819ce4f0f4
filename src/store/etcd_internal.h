/*
 * store/etcd_internal — what the etcd backend's files share: the backend
 * struct, one request to etcd's v3 JSON gateway with endpoint failover
 * (etcd.c), the key layout and base64 (etcd.c), the kv calls (etcd_kv.c),
 * the leases (etcd_lease.c) and the watch thread (etcd_watch.c).  Not
 * part of any contract.
 *
 * The gateway speaks the gRPC messages of etcd's rpc.proto as JSON: int64
 * fields are strings, bytes fields (keys, values) base64, fields with
 * their default value (false, 0, empty) left out.
 */
#ifndef VIM_STORE_ETCD_INTERNAL_H
#define VIM_STORE_ETCD_INTERNAL_H

#include "store/kv.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

/* Keys a range asks for at once: ~1.7 MiB of JSON for 2.5 KiB values, so
 * a range of 100,000 keys keeps one page in memory, not the whole set. */
#define ETCD_PAGE 500
/* A read of every key (store_kv_range.want 0: the watch cache's full
 * read, a list without a limit) grows its pages to about ETCD_PAGE_BYTES
 * of answer, at most ETCD_PAGE_MAX keys: etcd 3.4 walks the rest of the
 * range on every page (to count it), so 100,000 keys in pages of 500 cost
 * 200 walks, ~7.8 s.  Memory stays one page: ~8 MiB of JSON (values of
 * a few KiB), as the size of the page before sets the next one. */
#define ETCD_PAGE_BYTES (8u << 20)
#define ETCD_PAGE_MAX 20000
/* Idle handles kept for reuse (each with its keep-alive connection); more
 * concurrent callers than this get a handle of their own, freed after. */
#define ETCD_POOL_MAX 64
/* A response is read into memory: bounded so a broken peer cannot make
 * us allocate without end (a page of 500 keys of etcd's largest value,
 * 1.5 MiB, would pass it; ours are ~2.5 KiB). */
#define ETCD_RESPONSE_MAX (256u << 20)
/* The longest key we make or parse back: prefix + group + resource +
 * namespace (63) + name (253). */
#define ETCD_KEY_MAX 1024

struct etcd_buf {
	char *p;
	size_t len, cap;
};
/* Room for n more bytes and a NUL; VIM_ETOOLARGE past max bytes in all. */
int etcd_buf_reserve(struct etcd_buf *b, size_t n, size_t max);
/* Appends n bytes and keeps the content NUL-terminated. */
int etcd_buf_put(struct etcd_buf *b, const void *p, size_t n, size_t max);
void etcd_buf_free(struct etcd_buf *b);

struct etcd_kv {
	struct store_kv base;
	char **ep; /* "http://127.0.0.1:2379", no trailing '/' */
	size_t nep;
	atomic_size_t good; /* the endpoint that answered last: tried first */
	char *prefix;       /* "/vimage": no trailing '/' */
	size_t plen;
	char *cafile, *certfile, *keyfile;
	int64_t timeout_ms;
	struct curl_slist *headers; /* read-only after open: shared by every handle */
	pthread_mutex_t mu;         /* the pool */
	CURL *pool[ETCD_POOL_MAX];
	size_t npool;
};

/* ---- one request (etcd.c) -------------------------------------------------------- */

struct etcd_call {
	const char *path; /* "/v3/kv/range" */
	const char *body; /* JSON, len bytes */
	size_t len;
	const char *what; /* "range /vimage/..." for messages */
	/* May go to the next endpoint after it was sent (a read); a write
	 * that may have reached etcd is never sent twice. */
	bool idempotent;
	int only_ep;        /* -1: any endpoint, failing over; else this one */
	int64_t timeout_ms; /* 0 = the backend's */
	/* Checked while waiting: true aborts with VIM_ECANCELED.  May be NULL. */
	const atomic_bool *cancel;
	/* Set: a 200 answer is left here unparsed (*out stays NULL), in
	 * memory the buffer already holds (a range reuses it page by page);
	 * errors are parsed and mapped as always. */
	struct etcd_buf *raw;
};

/* Sends c and parses the answer into *out (the caller's), or leaves it
 * in c->raw.  etcd's own error answers are mapped: compacted →
 * VIM_EGONE, a future revision → VIM_EINVAL, DeadlineExceeded or "request
 * timed out" → VIM_ETIMEDOUT, other gRPC Unavailable → VIM_EUNAVAILABLE
 * (a read fails over), too large → VIM_ETOOLARGE, anything else VIM_EIO
 * with etcd's message.  No endpoint reachable → VIM_EUNAVAILABLE naming
 * each with its cause; past the timeout → VIM_ETIMEDOUT. */
int etcd_request(struct etcd_kv *e, const struct etcd_call *c, json_t **out, struct vim_err *err);

/* What every handle to endpoint ep is set up with: its URL, then path; TLS files;
 * headers. The request path and the watch's stream share them. */
void etcd_easy_common(struct etcd_kv *e, CURL *h, const char *ep, const char *path,
                      char errbuf[CURL_ERROR_SIZE]);
/* Why a transfer failed, for messages: the OS error when there is one
 * ("Connection refused"), else curl's. */
void etcd_curl_why(CURL *h, CURLcode rc, const char *errbuf, char *out, size_t cap);

int64_t etcd_now_ms(void);

/* ---- JSON fields ---------------------------------------------------------------- */

/* An int64 field (a string in the gateway's JSON; a number is taken too);
 * 0 when absent. */
int64_t etcd_json_i64(const json_t *o, const char *field);
/* header.revision of a response; 0 when absent. */
int64_t etcd_json_header_rev(const json_t *o);

/* ---- base64 ------------------------------------------------------------------------ */

/* Appends the base64 of p (n bytes) to b, NUL-terminated. */
int etcd_b64_put(struct etcd_buf *b, const void *p, size_t n);
/* Decodes s (n chars) into b (replacing its content; NUL-terminated after
 * b->len bytes).  VIM_EIO when s is not base64. */
int etcd_unb64(struct etcd_buf *b, const char *s, size_t n);

/* ---- the key layout ---------------------------------------------------------------- */

/* "<prefix>/<group>/<resource>/" (no group for the core resources), then
 * "<ns>/" when ns is set: the prefix a range over one resource (and one
 * namespace) asks for.  Its length, or -1 when it does not fit cap. */
int etcd_key_dir(const struct etcd_kv *e, const char *resource, const char *ns, char *out,
                 size_t cap);
/* The whole key of k.  Its length, or -1. */
int etcd_key_of(const struct etcd_kv *e, const struct store_kv_key *k, char *out, size_t cap);
/* Parses key (len bytes) back into k, whose strings point into buf (cap
 * bytes, which must outlive k).  false for a key under the prefix that is
 * not one of ours. */
bool etcd_key_parse(const struct etcd_kv *e, const char *key, size_t len, char *buf, size_t cap,
                    struct store_kv_key *k);

/* ---- the kv calls (etcd_kv.c) and the watch (etcd_watch.c) ------------------------- */

int etcd_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
             struct vim_err *err);
int etcd_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn, void *arg,
               struct store_kv_range_meta *meta, struct vim_err *err);
int etcd_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
               struct vim_err *err);
int etcd_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err);
/* the leases (etcd_lease.c) */
int etcd_lease_grant(struct store_kv *kv, int64_t ttl_s, int64_t *id, struct vim_err *err);
int etcd_lease_keepalive(struct store_kv *kv, int64_t id, int64_t *ttl_s, struct vim_err *err);
int etcd_lease_revoke(struct store_kv *kv, int64_t id, struct vim_err *err);
/* current_rev through one endpoint (the watch's liveness probe). */
int etcd_probe(struct etcd_kv *e, int ep, int64_t timeout_ms, const atomic_bool *cancel,
               int64_t *rev, struct vim_err *err);

int etcd_watch(struct store_kv *kv, int64_t from_rev, store_kv_event_fn fn, void *arg,
               struct store_kv_watch **out, struct vim_err *err);
void etcd_watch_stop(struct store_kv_watch *w);

#endif
