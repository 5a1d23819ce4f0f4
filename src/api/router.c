/*
 * api/router — the server's one route table: every path it serves is a
 * row {method, path, match, auth, handler}, the API's own table
 * (api/route.c) being the last row, which takes every path the others do
 * not.  The auth column is checked here and only here, before any
 * handler runs, so a handler never decides who may call it and a new row
 * cannot forget the check.
 */
#include "api/server_internal.h"

#include <string.h>

static void serve_api(struct api_req *r, const char *rest)
{
	(void)rest;
	api_route(r);
}

/* Paths are disjoint but for the last row; a row with a method matches
 * only that method (GET /upload/x is the API's: 401 or 404 like any path
 * it does not serve). */
static const struct api_server_route rows[] = {
    {NULL, "/healthz", API_MATCH_EXACT, API_AUTH_NONE, api_serve_live, NULL},
    {NULL, "/livez", API_MATCH_EXACT, API_AUTH_NONE, api_serve_live, NULL},
    {NULL, "/readyz", API_MATCH_TREE, API_AUTH_NONE, api_serve_readyz, NULL},
    {NULL, "/metrics", API_MATCH_EXACT, API_AUTH_METRICS, api_serve_metrics, NULL},
    {NULL, "/dvcr/events", API_MATCH_EXACT, API_AUTH_NOTIFY, api_serve_registry_events, NULL},
    {NULL, "/download/", API_MATCH_PREFIX, API_AUTH_ADMIN, api_serve_download, NULL},
    {"PUT", "/upload/", API_MATCH_PREFIX, API_AUTH_URL, NULL, &api_upload_sink},
    {"POST", "/upload/", API_MATCH_PREFIX, API_AUTH_URL, NULL, &api_upload_sink},
    {NULL, "/", API_MATCH_PREFIX, API_AUTH_ADMIN, serve_api, NULL},
};

const struct api_server_route *api_server_routes(size_t *n)
{
	*n = sizeof(rows) / sizeof(rows[0]);
	return rows;
}

static bool matches(const struct api_server_route *row, const char *method, const char *url,
                    const char **rest)
{
	size_t n = strlen(row->path);

	if (row->method && strcmp(row->method, method) != 0)
		return false;
	if (strncmp(url, row->path, n) != 0)
		return false;
	switch (row->match) {
	case API_MATCH_EXACT:
		*rest = NULL;
		return url[n] == '\0';
	case API_MATCH_TREE:
		*rest = url[n] == '/' ? url + n + 1 : NULL;
		return url[n] == '\0' || url[n] == '/';
	case API_MATCH_PREFIX:
		*rest = url + n;
		return true;
	}
	return false;
}

const struct api_server_route *api_server_route_find(const char *method, const char *url,
                                                     const char **rest)
{
	size_t i, n = sizeof(rows) / sizeof(rows[0]);

	for (i = 0; i < n - 1; i++)
		if (matches(&rows[i], method, url, rest))
			return &rows[i];
	*rest = url; /* the API's router reads the whole path */
	return &rows[n - 1];
}

/* Constant-time comparison of a bearer header with a token (NULL: no
 * such token is configured, nothing matches it). */
static bool bearer_is(const char *auth, const char *token)
{
	size_t a, b, i;
	unsigned char diff = 0;

	if (!auth || !token || strncmp(auth, "Bearer ", 7) != 0)
		return false;
	auth += 7;
	a = strlen(auth);
	b = strlen(token);
	for (i = 0; i < b; i++)
		diff |= (unsigned char)(token[i] ^ (i < a ? auth[i] : 0));
	return diff == 0 && a == b;
}

static bool auth_anyone(const struct api_server *s, const char *h)
{
	(void)s;
	(void)h;
	return true;
}

/* Another replica's token of kind (see api_config.token_known). */
static bool bearer_known(const struct api_server *s, const char *h, const char *kind)
{
	if (!s->token_known || !h || strncmp(h, "Bearer ", 7) != 0 || !h[7])
		return false;
	return s->token_known(s->token_arg, kind, h + 7);
}

static bool auth_admin(const struct api_server *s, const char *h)
{
	return bearer_is(h, s->token) || bearer_known(s, h, "api");
}

/* The registry is configured with its own token so that the admin's
 * never sits in its config file. */
static bool auth_notify(const struct api_server *s, const char *h)
{
	return bearer_is(h, s->notify_token) || bearer_is(h, s->token) ||
	       bearer_known(s, h, "notify") || bearer_known(s, h, "api");
}

/* Anonymous only when there are metrics to serve: without them /metrics
 * is a path like any the API does not serve (401 without the token). */
static bool auth_metrics(const struct api_server *s, const char *h)
{
	return (s->metrics && s->metrics_anonymous) || bearer_is(h, s->token) ||
	       bearer_known(s, h, "api");
}

static bool (*const auth_check[API_AUTH__COUNT])(const struct api_server *, const char *) = {
    [API_AUTH_NONE] = auth_anyone,   [API_AUTH_ADMIN] = auth_admin,
    [API_AUTH_NOTIFY] = auth_notify, [API_AUTH_METRICS] = auth_metrics,
    [API_AUTH_URL] = auth_anyone, /* the sink's begin checks the URL's token */
};

bool api_server_authorized(const struct api_server *s, const struct api_server_route *row,
                           const char *authorization)
{
	if ((unsigned)row->auth >= API_AUTH__COUNT || !auth_check[row->auth])
		return false; /* a row without a known column serves nobody */
	return auth_check[row->auth](s, authorization);
}
