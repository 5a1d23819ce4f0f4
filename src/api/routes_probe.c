/*
 * api/routes_probe — the rows for probes and scrapes: /healthz and /livez
 * (the process serves), /readyz (the readiness checks, as kube-apiserver
 * words them) and /metrics (the Prometheus text).  Who may call each is
 * the router's auth column, not these handlers' concern.
 */
#include "api/guard.h"
#include "api/server_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

void api_serve_live(struct api_req *r, const char *rest)
{
	(void)rest;
	api_reply_raw(r, 200, "text/plain", "ok", 2);
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

void api_serve_readyz(struct api_req *r, const char *check)
{
	struct api_server *s = r->srv;
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
	               api_server_refused_bodies());
}

void api_serve_metrics(struct api_req *r, const char *rest)
{
	struct api_server *s = r->srv;
	struct vim_text t = {0};

	(void)rest;
	if (!s->metrics) { /* as any path the API does not serve */
		api_reply_error(r, VIM_ENOTFOUND,
		                "the server could not find the requested resource");
		return;
	}
	s->metrics(s->metrics_arg, &t);
	http_metrics(&t);
	if (t.oom)
		api_reply_error(r, VIM_ENOMEM, "metrics: out of memory");
	else
		api_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8",
		              t.buf ? t.buf : "", t.len);
	free(t.buf);
}
