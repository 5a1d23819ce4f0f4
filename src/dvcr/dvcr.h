/*
 * dvcr — a libcurl client of the OCI distribution API (/v2/...), used to
 * read and write the VM images vimage keeps in DVCR.
 *
 * Process setup: curl_global_init(CURL_GLOBAL_DEFAULT) is main's job and
 * must run before the first dvcr_client_new (and curl_global_cleanup after
 * the last dvcr_client_free); this module never calls either because they
 * are not thread-safe.
 *
 * Threads: one client may be used from several threads at once.  It keeps
 * a pool of curl easy handles guarded by a mutex; a call borrows one handle
 * for its duration, so a handle is never used by two threads at once, and
 * returns it afterwards so its connections are reused by later calls.
 * An upload session (struct dvcr_upload) belongs to one thread at a time.
 *
 * Errors: every call returns 0 or a negative VIM_E* code and fills the
 * caller's struct vim_err with "<METHOD> <repo> <what>: <status> <CODE>:
 * <registry message>".  The code separates "absent" from "could not tell":
 *   VIM_ENOTFOUND  404, or a registry error code *_UNKNOWN — the object is gone
 *   VIM_EAUTH      401/403, or a token could not be obtained
 *   VIM_ETIMEDOUT  connect timeout, overall timeout or a stalled transfer
 *   VIM_EUPSTREAM  connection refused, DNS, TLS, 5xx, malformed answers
 *   VIM_ETOOLARGE  an answer larger than the caller's bound
 *   VIM_EINVAL     bad arguments, or the registry answered 400 otherwise
 * Only VIM_ENOTFOUND may turn an image into ImageLost.
 *
 * Secrets: passwords and tokens never appear in error messages.
 */
#ifndef VIM_DVCR_DVCR_H
#define VIM_DVCR_DVCR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/metrics.h"

#define DVCR_DIGEST_MAX 80      /* "sha256:" + 64 hex + NUL, with room for sha512 */
#define DVCR_MEDIA_TYPE_MAX 128 /* longest standard manifest type is 54 */
#define DVCR_REPO_MAX 256
#define DVCR_HOST_MAX 256
#define DVCR_TAG_MAX 129 /* OCI: tags are at most 128 characters */
#define DVCR_URL_MAX 2048

/* Manifest media types (all four go into every manifest Accept header). */
#define DVCR_MT_DOCKER_V2 "application/vnd.docker.distribution.manifest.v2+json"
#define DVCR_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DVCR_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define DVCR_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"

struct dvcr_config {
	const char *base_url;    /* "http://127.0.0.1:5000" or https; required */
	const char *username;    /* NULL = anonymous */
	const char *password;    /* NULL = none */
	const char *ca_file;     /* PEM bundle for https (CURLOPT_CAINFO); NULL = system roots */
	const char *ca_pem;      /* PEM text to trust instead (a caBundle); NULL = none */
	int insecure_tls;        /* 1 = do not verify the peer (tests only) */
	const char *user_agent;  /* NULL = "vimage-dvcr/1" */
	long connect_timeout_ms; /* 0 = 10 s */
	long timeout_ms;         /* overall bound of a non-streaming call; 0 = 60 s */
	long stall_secs; /* no byte moving for this long fails a call (VIM_ETIMEDOUT); 0 = 30 s */
	/* A streamed transfer (blob GET, upload PATCH) moving fewer than
	 * min_rate_bps bytes/s over a window of rate_window_ms fails
	 * (VIM_ETIMEDOUT); time spent in the caller's read/write callbacks
	 * does not count.  0 = no minimum. */
	uint64_t min_rate_bps;
	int64_t rate_window_ms;
	/* 1 = the registry keeps no blob descriptor cache, so a blob HEAD
	 * answers from the storage and presence checks use it; 0 = prove a
	 * blob by a 1-byte GET, which costs the registry ~2.3x as much CPU
	 * but no cache can fake (dvcr.md). */
	int head_trusted;
};

struct dvcr_client;

/* Copies every string of cfg (the caller keeps its own). *out is owned by
 * the caller and freed with dvcr_client_free. */
int dvcr_client_new(struct dvcr_client **out, const struct dvcr_config *cfg, struct vim_err *err);
/* Frees the client; no call may be running on it. NULL is allowed. */
void dvcr_client_free(struct dvcr_client *c);

/* For /metrics: requests by method (GET HEAD PUT PATCH POST DELETE) and
 * status class (0 = no answer, 1..5 = 1xx..5xx), latency by method. */
#define DVCR_STAT_METHODS 6
struct dvcr_stats {
	uint64_t requests[DVCR_STAT_METHODS][6];
	struct vim_hist seconds[DVCR_STAT_METHODS];
};
void dvcr_client_stats(struct dvcr_client *c, struct dvcr_stats *out);
const char *dvcr_stats_method(int i);

/* GET /v2/: reachable and credentials accepted (learns the auth scheme). */
int dvcr_ping(struct dvcr_client *c, struct vim_err *err);

struct dvcr_manifest_info {
	char digest[DVCR_DIGEST_MAX];         /* Docker-Content-Digest, "" if not sent */
	char media_type[DVCR_MEDIA_TYPE_MAX]; /* Content-Type */
	int64_t size;                         /* Content-Length, -1 if unknown */
};

/* ref is a tag or a digest.  info is filled on success. */
int dvcr_manifest_head(struct dvcr_client *c, const char *repo, const char *ref,
                       struct dvcr_manifest_info *info, struct vim_err *err);
/* Body into the caller's buf (cap bytes); *len = bytes.  A bigger manifest
 * is VIM_ETOOLARGE.  info may be NULL. */
int dvcr_manifest_get(struct dvcr_client *c, const char *repo, const char *ref, void *buf,
                      size_t cap, size_t *len, struct dvcr_manifest_info *info,
                      struct vim_err *err);
/* The same, parsed: *out is a JSON object (caller decrefs); a manifest
 * over cap bytes is VIM_ETOOLARGE, one that is not a JSON object
 * VIM_EUPSTREAM. */
int dvcr_manifest_get_json(struct dvcr_client *c, const char *repo, const char *ref, size_t cap,
                           json_t **out, struct dvcr_manifest_info *info, struct vim_err *err);
/* PUT by tag (or digest) with media_type as Content-Type; digest_out
 * (DVCR_DIGEST_MAX, may be NULL) gets the registry's digest. */
int dvcr_manifest_put(struct dvcr_client *c, const char *repo, const char *ref,
                      const char *media_type, const void *body, size_t len, char *digest_out,
                      struct vim_err *err);
/* DELETE by digest only (the registry refuses tags); 202 = deleted. */
int dvcr_manifest_delete(struct dvcr_client *c, const char *repo, const char *digest,
                         struct vim_err *err);

/* HEAD: 0 when the blob exists; *size (may be NULL) = Content-Length.
 * HEAD may be answered from a registry cache although the data is gone
 * (dvcr.md): use dvcr_blob_get_range to prove bytes exist. */
int dvcr_blob_head(struct dvcr_client *c, const char *repo, const char *digest, int64_t *size,
                   struct vim_err *err);
/* Ranged GET of up to len bytes from offset into buf; *got = bytes read.
 * A blob that answers 2xx but yields no bytes for a non-empty range is
 * VIM_ENOTFOUND ("no data"), since that is what lost storage looks like. */
int dvcr_blob_get_range(struct dvcr_client *c, const char *repo, const char *digest, int64_t offset,
                        void *buf, size_t len, size_t *got, struct vim_err *err);

/* Called with each piece of a streamed body; returns 0 to go on, anything
 * else aborts the transfer (the call then returns VIM_ECANCELED). */
typedef int (*dvcr_write_fn)(void *ud, const void *data, size_t len);
/* Fills buf with up to cap bytes; returns bytes (0 = end) or -1 to abort. */
typedef long (*dvcr_read_fn)(void *ud, void *buf, size_t cap);

/* Streams the blob from offset (0 = whole) to write.  No overall timeout:
 * only the stall bound applies. */
int dvcr_blob_get_stream(struct dvcr_client *c, const char *repo, const char *digest,
                         int64_t offset, dvcr_write_fn write, void *ud, struct vim_err *err);

/* Upload session: begin → write* (PATCH) → finish (PUT ?digest=), or begin
 * → finish_stream (one streamed PUT); cancel otherwise.  Owned by the
 * caller; finish, finish_stream and cancel free it (also on failure). */
struct dvcr_upload;
int dvcr_upload_begin(struct dvcr_client *c, const char *repo, struct dvcr_upload **out,
                      struct vim_err *err);
/* PATCH one chunk (Content-Range offset-based); len > 0.  On failure the
 * session stays open: the caller cancels it (or retries). */
int dvcr_upload_write(struct dvcr_upload *up, const void *data, size_t len, struct vim_err *err);
/* PATCH the next `length` bytes in one streamed request, read from read
 * (which may block: the transfer waits).  The body cannot be replayed, so
 * the session's POST must have settled auth (it has).  On failure the
 * session stays open: the caller cancels it. */
int dvcr_upload_write_stream(struct dvcr_upload *up, dvcr_read_fn read, void *ud, int64_t length,
                             struct vim_err *err);
/* Bytes accepted so far. */
int64_t dvcr_upload_offset(const struct dvcr_upload *up);
/* PUT ?digest= with no body after the PATCHes; frees up. */
int dvcr_upload_finish(struct dvcr_upload *up, const char *digest, struct vim_err *err);
/* PUT ?digest= whose body is read from read (length -1 = unknown, sent
 * chunked).  The body cannot be replayed, so the session's earlier POST
 * must have settled auth (it does: same repository and scope). Frees up. */
int dvcr_upload_finish_stream(struct dvcr_upload *up, const char *digest, dvcr_read_fn read,
                              void *ud, int64_t length, struct vim_err *err);
/* DELETE the session (best effort, result returned); frees up.  NULL ok. */
int dvcr_upload_cancel(struct dvcr_upload *up, struct vim_err *err);

/* POST ?mount=digest&from=from_repo.  *mounted = 1 on 201.  On 202 the
 * registry opened an upload session instead: *mounted = 0 and, if
 * session_out is not NULL, the caller owns it (use or cancel); otherwise it
 * is cancelled here. */
int dvcr_blob_mount(struct dvcr_client *c, const char *repo, const char *digest,
                    const char *from_repo, int *mounted, struct dvcr_upload **session_out,
                    struct vim_err *err);

/* Called per name; returns 0 to go on, else stops (the call returns 0). */
typedef int (*dvcr_name_fn)(void *ud, const char *name);
/* GET /v2/_catalog and /v2/<repo>/tags/list following Link rel="next".
 * Each page is bounded (1 MiB); the walk stops after 10000 pages. */
int dvcr_catalog(struct dvcr_client *c, dvcr_name_fn fn, void *ud, struct vim_err *err);
int dvcr_tags_list(struct dvcr_client *c, const char *repo, dvcr_name_fn fn, void *ud,
                   struct vim_err *err);

/* "host[:port]/path/name[:tag][@sha256:...]" split into bounded fields.
 * host must contain a '.' or ':' or be "localhost" (no Docker Hub default);
 * tag is "" when only a digest is given; digest is "" when absent. */
struct dvcr_ref {
	char host[DVCR_HOST_MAX];
	char repo[DVCR_REPO_MAX];
	char tag[DVCR_TAG_MAX];
	char digest[DVCR_DIGEST_MAX];
};
int dvcr_ref_parse(const char *text, struct dvcr_ref *out, struct vim_err *err);

/* WWW-Authenticate challenge (exposed for tests).  Fields "" when absent. */
enum dvcr_scheme { DVCR_SCHEME_NONE = 0, DVCR_SCHEME_BASIC, DVCR_SCHEME_BEARER };
struct dvcr_challenge {
	enum dvcr_scheme scheme;
	char realm[DVCR_URL_MAX];
	char service[DVCR_HOST_MAX];
	char scope[512];
};
/* Parses one header value; quoted strings may hold commas and \" escapes.
 * An unknown scheme is VIM_EUNSUPPORTED, a malformed value VIM_EINVAL. */
int dvcr_challenge_parse(const char *value, struct dvcr_challenge *out, struct vim_err *err);

/* ---- presence: is an image's data really there? ---------------------------
 * An image is present only if its manifest and every blob the manifest
 * names (config and layers; for an index, every child manifest and its
 * blobs) answer.  Each blob is proved with a 1-byte ranged GET, because a
 * registry with a blob descriptor cache answers HEAD for data it lost
 * (dvcr.md).  Returns 1 present, 0 absent (err->msg names the first missing
 * piece), or a negative code when the registry could not tell (refused,
 * timeout, auth, 5xx, a malformed manifest): never 0 for those, since only
 * a real "not found" may make an image ImageLost. */
int dvcr_image_check(struct dvcr_client *c, const char *repo, const char *ref, struct vim_err *err);
/* The same for an image address "host[:port]/repo:tag" (an image's
 * status.target.registryURL); the client's base URL decides where to ask. */
int dvcr_image_check_url(struct dvcr_client *c, const char *registry_url, struct vim_err *err);

/* Deletes the manifest of the image at registry_url ("host[:port]/repo:tag",
 * an image's status.target.registryURL) by its digest, as the registry
 * demands; an image already gone, or an empty/NULL address (never
 * written), is success.  Blobs stay for the registry's garbage collector.
 * The client's base URL decides where to ask. */
int dvcr_image_remove_url(struct dvcr_client *c, const char *registry_url, struct vim_err *err);

/* The one layer of the image at registry_url (the layout dvcr/image.h
 * writes: its disk file in a tar): where to stream it from with
 * dvcr_blob_get_stream, and its size.  A manifest with no layer is
 * VIM_EUPSTREAM. */
struct dvcr_image_layer {
	char repo[DVCR_REPO_MAX];
	char digest[DVCR_DIGEST_MAX];
	int64_t size;
};
int dvcr_image_layer_url(struct dvcr_client *c, const char *registry_url,
                         struct dvcr_image_layer *out, struct vim_err *err);

/* "host:port" of the client's base URL into out (len bytes): the host the
 * image addresses of what it writes name.  VIM_EINVAL if it does not fit. */
int dvcr_client_host(const struct dvcr_client *c, char *out, size_t len, struct vim_err *err);

/* A thread-safe set of strings (dvcr/memo.c).  Its first use: the blob
 * digests whose bytes a check has proven, for the checks of one
 * storage-wide recovery (the monitor also keeps image addresses in one,
 * see controller/monitor.h): blob data is shared by
 * every repository of a registry, so one proof per digest stands for all
 * the images that name it, and 10,000 images made from one source cost
 * one request each (their manifest) instead of three.  What the memo
 * cannot see is a blob *link* removed from one repository alone; callers
 * use it only while they know the storage as a whole just came back.
 * Thread-safe; cap bounds its memory (more digests are not remembered). */
struct dvcr_memo;
int dvcr_memo_new(struct dvcr_memo **out, size_t cap, struct vim_err *err);
bool dvcr_memo_has(struct dvcr_memo *m, const char *digest);
void dvcr_memo_add(struct dvcr_memo *m, const char *digest); /* copies digest */
void dvcr_memo_del(struct dvcr_memo *m, const char *digest);
size_t dvcr_memo_size(struct dvcr_memo *m);
void dvcr_memo_clear(struct dvcr_memo *m);
void dvcr_memo_free(struct dvcr_memo *m); /* NULL is fine */
/* dvcr_image_check_url, except that a blob in memo (borrowed, may be
 * NULL) is taken as present without a request, and a blob proven by a
 * request is added to it.  The manifests are always fetched. */
int dvcr_image_check_url_memo(struct dvcr_client *c, const char *registry_url,
                              struct dvcr_memo *memo, struct vim_err *err);

#endif
