/*
 * api/routes_transfer — the rows that move image bytes or registry news:
 * GET /download/... (a layer streamed from DVCR through a pipe), PUT/POST
 * /upload/<token> (a body streamed to the importer as it arrives, never
 * buffered) and POST /dvcr/events (the registry's notifications).  Their
 * credentials are the router's auth column; an upload's is its URL.
 */
#include "api/server_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* "vi/<ns>/<name>" | "cvi/<name>": the layer streams from a pipe. */
void api_serve_download(struct api_req *r, const char *what)
{
	struct api_server *s = r->srv;
	char kind[8] = "", ns[256] = "", name[256] = "", digest[96] = "", len[32];
	struct vim_err err = {0};
	struct api_stream *st = NULL;
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
	if (!(st = api_stream_new(r, fd, 1, size)) || !(r->resp = api_stream_response(st))) {
		if (st)
			api_stream_unref(st); /* closes fd */
		else
			close(fd);
		api_reply_error(r, VIM_ENOMEM, "download: out of memory");
		return;
	}
	r->code = 200;
	api_conn_timeout(r->conn, API_TRANSFER_IDLE_S);
	MHD_add_response_header(r->resp, "Content-Type", "application/x-tar");
	MHD_add_response_header(r->resp, "Docker-Content-Digest", digest);
	snprintf(len, sizeof(len), "%lld", size);
	MHD_add_response_header(r->resp, "X-Vimage-Layer-Size", len);
}

void api_serve_registry_events(struct api_req *r, const char *rest)
{
	struct api_server *s = r->srv;
	struct vim_err err = {0};
	int n;

	(void)rest;
	if (!s->on_events) {
		api_reply_error(r, VIM_ENOTFOUND, "registry notifications are not configured");
		return;
	}
	if (strcmp(r->method, "POST") != 0) {
		api_reply_status(r, 405, "MethodNotAllowed", "registry notifications are POSTed");
		return;
	}
	n = s->on_events(s->events_arg, r->body, r->body_len, &err);
	if (n < 0)
		api_reply_status(r, 400, "BadRequest", err.msg);
	else
		api_reply_raw(r, 200, "text/plain", "ok", 2);
}

/* ---- uploads ------------------------------------------------------------------------- */

/* One upload in flight: the importer's handle and the first failure of
 * its data, answered once the body is in (the client reads no answer
 * before it has sent its body). */
struct upload {
	struct api_server *srv;
	void *handle; /* api_upload_ops */
	int rc;
	struct vim_err err;
	uint64_t bytes;
};

/* An upload failure through the core table, but for two codes an upload
 * has always answered otherwise (vimagectl and clients read them): what
 * the URL's token names is a slot, not an API object, so a slot taken is
 * 409 Conflict (not AlreadyExists) and a refused body 400 BadRequest (not
 * the API's 422 Invalid, which names a field). */
static void upload_reply(struct api_req *r, int rc, const char *msg)
{
	if (rc == VIM_EEXIST)
		api_reply_status(r, 409, "Conflict", msg);
	else if (rc == VIM_EINVAL)
		api_reply_status(r, 400, "BadRequest", msg);
	else
		api_reply_error(r, rc, msg);
}

static bool upload_begin(struct api_req *r, const char *token, void **state)
{
	struct api_server *s = r->srv;
	const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
	int64_t len = cl ? (int64_t)strtoll(cl, NULL, 10) : -1;
	struct upload *u;
	int rc;

	*state = NULL;
	if (!s->upload) {
		api_reply_error(r, VIM_ENOTFOUND, "uploads are not enabled");
		return false;
	}
	if (!(u = calloc(1, sizeof(*u)))) {
		api_reply_error(r, VIM_ENOMEM, "upload: out of memory");
		return false;
	}
	u->srv = s;
	rc = s->upload->begin(s->upload_arg, token, len, &u->handle, &u->err);
	if (rc < 0) {
		upload_reply(r, rc, u->err.msg);
		if (rc == VIM_EINVAL && len < 0)
			r->code = 411;
		free(u);
		return false;
	}
	*state = u;
	return true;
}

static void upload_data(void *state, const char *data, size_t len)
{
	struct upload *u = state;

	if (u->rc == 0)
		u->rc = u->srv->upload->data(u->handle, data, len, &u->err);
	u->bytes += len;
}

static void upload_end(void *state, struct api_req *r)
{
	struct upload *u = state;
	struct vim_err err = {0};
	char body[128];
	int rc;

	if (u->rc < 0) {
		u->srv->upload->end(u->handle, false, NULL);
		upload_reply(r, u->rc, u->err.msg);
		goto out;
	}
	rc = u->srv->upload->end(u->handle, true, &err);
	if (rc < 0) {
		upload_reply(r, rc, err.msg);
		goto out;
	}
	snprintf(body, sizeof(body), "{\"status\":\"ok\",\"bytes\":%llu}\n",
	         (unsigned long long)u->bytes);
	api_reply_raw(r, 200, "application/json", body, strlen(body));
out:
	free(u);
}

static void upload_abort(void *state)
{
	struct upload *u = state;

	u->srv->upload->end(u->handle, false, NULL);
	free(u);
}

const struct api_sink api_upload_sink = {
    .begin = upload_begin, .data = upload_data, .end = upload_end, .abort = upload_abort};
