/* api/internal — what the API's files share: the request, replies, routes. */
#ifndef VIM_API_INTERNAL_H
#define VIM_API_INTERNAL_H

#include "api/api.h"
#include "model/model.h"

#include <microhttpd.h>
#include <stdbool.h>

struct api_server;

/* One request, as the handlers see it (all borrowed, valid during the
 * handler call). */
struct api_req {
	struct api_server *srv;
	struct store *store;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	const char *body;
	size_t body_len;
	/* path parameters filled by the router */
	const char *group; /* "" for core */
	const char *ns;    /* NULL when not in the path */
	const char *resource;
	const char *name;                   /* NULL for collections */
	const char *subresource;            /* "status" or NULL */
	const struct model_kind_info *kind; /* NULL for core resources */
	/* a JSON member the body names twice (api_parse_body; "" = none):
	 * fieldValidation=Warn, the default, warns about it */
	char duplicate[128];
	/* the answer, set by exactly one api_reply_* */
	struct MHD_Response *resp;
	unsigned int code;
};

/* Query parameter / header (NULL when absent). */
const char *api_query(const struct api_req *r, const char *key);
const char *api_header(const struct api_req *r, const char *key);
bool api_wants_table(const struct api_req *r);

/* ---- replies (each sets r->resp and r->code) ---------------------------------- */

void api_reply_json(struct api_req *r, unsigned int code, json_t *body); /* steals body */
void api_reply_raw(struct api_req *r, unsigned int code, const char *content_type, const void *data,
                   size_t len); /* copies data */
/* A Kubernetes Status with an explicit HTTP code and reason ("BadRequest",
 * "MethodNotAllowed", "UnsupportedMediaType"). */
void api_reply_status(struct api_req *r, unsigned int http, const char *reason,
                      const char *message);
/* A Kubernetes Status for an error: code from vim_code_http_status. */
void api_reply_error(struct api_req *r, int vim_code, const char *message);
/* The Status for an error (a new reference; NULL when out of memory): code
 * and reason from the err table, and kube's details where it has them (a
 * "Too large resource version" timeout: its ResourceVersionTooLarge cause
 * and retryAfterSeconds).  What api_reply_error sends and a watch's ERROR
 * event carries. */
json_t *api_error_status(int vim_code, const char *message);
/* The same naming the object a create's body named (its URL has none). */
void api_reply_error_named(struct api_req *r, int vim_code, const char *message, const char *name);
/* 422 Invalid with causes, Kubernetes' message format. */
void api_reply_invalid(struct api_req *r, const struct model_kind_info *kind, const char *name,
                       const struct model_causes *causes, int vim_code);
/* The same for any kind: group "" for the core group ("Event"). */
void api_reply_invalid_kind(struct api_req *r, const char *group, const char *kind,
                            const char *name, const struct model_causes *causes);
/* A streamed reply produced by fn on its own thread, writing to fd (a pipe
 * MHD reads); fn owns arg and must free it (fd < 0, err NULL: only free
 * it).  fn returns 0 when the body is complete, or a negative code with
 * err filled when it is not (a store error mid-list, the client gone): the
 * error is logged and the reply is cut at the HTTP level (no last chunk),
 * so the client sees a failed transfer rather than a short 200.
 * hold: wait for fn's first byte before answering, so a failure before
 * it is returned (code < 0, *err filled, no reply set) for the caller to
 * answer with a Status.  Otherwise 0, with the reply set. */
typedef int (*api_stream_fn)(void *arg, int fd, struct vim_err *err);
int api_reply_stream(struct api_req *r, unsigned int code, const char *content_type,
                     api_stream_fn fn, void *arg, bool hold, struct vim_err *err);

/* Writes all of buf to fd; false when the reader is gone. */
bool api_write_all(int fd, const char *buf, size_t len);

/* ---- request parameters and body (params.c) -------------------------------------- */

/* Each returns false when it set a reply (400, or 422 on the options
 * kind, as kube-apiserver answers). */

/* dryRun (each value "All") and, when field_validation, fieldValidation
 * (Ignore, Warn, Strict).  options_kind: "CreateOptions", "UpdateOptions",
 * "PatchOptions", "DeleteOptions". */
bool api_check_write_options(struct api_req *r, const char *options_kind, bool field_validation);
/* watch, allowWatchBookmarks, limit, timeoutSeconds, resourceVersion,
 * resourceVersionMatch and their combinations with continue. */
bool api_check_list_options(struct api_req *r, bool watch);
/* The same, and what they say, parsed once (strings borrowed from r). */
struct api_list_params {
	int64_t limit;        /* 0 = none */
	int64_t timeout_s;    /* 0 = unset */
	int64_t rv;           /* 0 when unset */
	const char *rv_text;  /* resourceVersion; NULL when unset or empty */
	const char *rv_match; /* resourceVersionMatch; NULL when unset or empty */
};
bool api_list_params(struct api_req *r, bool watch, struct api_list_params *p);
/* A decimal count as kube's query decoding (Go's strconv) reads it: only
 * digits (sign: ParseInt's optional leading '+'), within int64. */
bool api_parse_count(const char *v, bool sign, int64_t *out);
/* GET of one object: resourceVersion (400 unless a decimal count). */
bool api_check_get_options(struct api_req *r);
/* A boolean query parameter as kube-apiserver reads it: absent, "0" and
 * "false" (any case) are false, any other value true; always returns true
 * (kept bool so callers read like the other checks). */
bool api_query_bool(struct api_req *r, const char *key, bool *out);
/* Does the write ask for dryRun=All, in the query or (delete) in its
 * DeleteOptions (NULL: none)?  Call after the options were checked. */
bool api_dry_run(const struct api_req *r, const json_t *delete_opts);
/* The body as JSON, or else YAML (a new reference), or NULL after a 400
 * that says where and why it does not parse.  A JSON member named twice
 * is refused under fieldValidation=Strict, else the last one counts and
 * r->duplicate names it (for a warning).  what: "body", "patch". */
json_t *api_parse_body(struct api_req *r, const char *what);
/* DeleteOptions (query and body) into *out (NULL without a body). */
bool api_delete_options(struct api_req *r, json_t **out);
/* 422 Invalid on <options_kind>.meta.k8s.io with causes. */
void api_reply_options_invalid(struct api_req *r, const char *options_kind,
                               const struct model_causes *causes);

/* ---- handlers ------------------------------------------------------------------------ */

typedef void (*api_handler_fn)(struct api_req *r);

void api_handle_images(struct api_req *r); /* VI/CVI: all verbs */
void api_handle_events(struct api_req *r);
void api_handle_namespaces(struct api_req *r); /* namespace.c */
/* kube's NamespaceLifecycle admission for a create in ns (NULL/"": none):
 * 404 `namespaces "ns" not found`, 403 while it is terminating.  Returns
 * false when it replied.  qualified_resource: "virtualimages.<group>",
 * "events" (for the message). */
bool api_namespace_admit(struct api_req *r, const char *ns, const char *qualified_resource);
void api_handle_discovery(struct api_req *r);
void api_handle_auth_review(struct api_req *r); /* whoami, can-i (auth_review.c) */

/* LIST and WATCH shared by images and events (resource = r->resource). */
void api_list(struct api_req *r);
void api_watch(struct api_req *r);
/* GET of a collection: a WATCH when ?watch= says so (kube's boolean
 * rule), else a LIST. */
void api_get_collection(struct api_req *r);

/* DELETE on a VI/CVI collection (collection.c): every object the label and
 * field selectors match, with the single delete's rules. */
void api_delete_collection(struct api_req *r);

/* Routes the request to a handler and fills the path parameters. */
void api_route(struct api_req *r);

/* The request body limit (413 above it): also the bound of what a patch
 * may build from a body. */
size_t api_server_max_body(const struct api_server *s);

/* Is the server shutting down (watch producers stop)? */
bool api_server_stopping(const struct api_server *s);

#endif
