/*
 * api/reply — the answers a handler sets on its request: raw bytes, JSON,
 * and Kubernetes Status objects, whose code and reason come from the one
 * core/err table (vim_code_http_status, vim_code_k8s_reason).
 */
#include "api/server_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

json_t *api_status_body(int code, const char *reason, const char *message)
{
	return json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
	                 "metadata", "status", "Failure", "message", message, "reason", reason,
	                 "code", code);
}

void api_reply_status(struct api_req *r, unsigned int http, const char *reason, const char *message)
{
	api_reply_json(r, http, api_status_body((int)http, reason, message));
}

void api_reply_error(struct api_req *r, int vim_code, const char *message)
{
	api_reply_error_named(r, vim_code, message, r->name);
}

/* The text the store puts in a wait for a resourceVersion it has not seen
 * (store/wcache.h), kube's tooLargeResourceVersionCauseMsg. */
#define TOO_LARGE_RV "Too large resource version"

json_t *api_error_status(int vim_code, const char *message)
{
	char msg[VIM_ERR_MSG_MAX + 16];
	json_t *st;

	if (vim_code != VIM_ETIMEDOUT || !strstr(message, TOO_LARGE_RV))
		return api_status_body(vim_code_http_status(vim_code),
		                       vim_code_k8s_reason(vim_code), message);
	/* kube's NewTooLargeResourceVersionError: a NewTimeoutError (its
	 * "Timeout: " prefix, retryAfterSeconds) whose cause tells
	 * client-go's reflector to retry rather than relist */
	snprintf(msg, sizeof(msg), "Timeout: %s", message);
	st = api_status_body(504, "Timeout", msg);
	if (st)
		json_object_set_new(st, "details",
		                    json_pack("{s:[{s:s,s:s}],s:i}", "causes", "reason",
		                              "ResourceVersionTooLarge", "message", TOO_LARGE_RV,
		                              "retryAfterSeconds", 1));
	return st;
}

void api_reply_error_named(struct api_req *r, int vim_code, const char *message, const char *name)
{
	int http = vim_code_http_status(vim_code);
	json_t *st = api_error_status(vim_code, message), *details;

	/* kube's StatusDetails of the qualified resource: group only when not core */
	if (name && st &&
	    (details =
	         json_pack("{s:s,s:s}", "name", name, "kind", r->resource ? r->resource : ""))) {
		if (r->kind)
			json_object_set_new(details, "group", json_string(MODEL_GROUP));
		/* beside the causes api_error_status may have put there */
		json_object_update_missing(details, json_object_get(st, "details"));
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
	st = api_status_body(422, "Invalid", msg);
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
