/*
 * api/route — the route table: path patterns (segments, "{ns}", "{name}",
 * "{res}" captures) mapped to handlers.  Methods are dispatched by the
 * handlers, which know their verbs.
 */
#include "api/internal.h"

#include <string.h>

#define SEG_MAX 10
/* Every kind is served under one group/version (model/kind.c): "{res}" is
 * any kind's plural, so a new kind needs no route. */
#define G MODEL_GROUP
#define V MODEL_VERSION

struct route {
	const char *pattern;
	api_handler_fn fn;
};

static const struct route routes[] = {
    {"/version", api_handle_discovery},
    {"/api", api_handle_discovery},
    {"/api/v1", api_handle_discovery},
    {"/apis", api_handle_discovery},
    {"/apis/" G, api_handle_discovery},
    {"/apis/" G "/" V, api_handle_discovery},
    {"/openapi/v2", api_handle_discovery},
    {"/swagger-2.0.0.pb-v1", api_handle_discovery},
    {"/openapi/v3", api_handle_discovery},
    {"/openapi/v3/apis/" G "/" V, api_handle_discovery},
    {"/openapi/v3/api/v1", api_handle_discovery},
    {"/apis/authentication.k8s.io", api_handle_discovery},
    {"/apis/authentication.k8s.io/v1", api_handle_discovery},
    {"/apis/authentication.k8s.io/v1/{res}", api_handle_auth_review},
    /* kubectl 1.27 posts its whoami to v1beta1 (v1 came in 1.28): served, not discovered */
    {"/apis/authentication.k8s.io/v1beta1/{res}", api_handle_auth_review},
    {"/apis/authorization.k8s.io", api_handle_discovery},
    {"/apis/authorization.k8s.io/v1", api_handle_discovery},
    {"/apis/authorization.k8s.io/v1/{res}", api_handle_auth_review},
    {"/api/v1/namespaces", api_handle_namespaces},
    {"/api/v1/namespaces/{name}", api_handle_namespaces},
    {"/api/v1/namespaces/{ns}/{res}", api_handle_events},
    {"/api/v1/namespaces/{ns}/{res}/{name}", api_handle_events},
    {"/api/v1/{res}", api_handle_events},
    /* namespaced first: "namespaces/x/y" would also fit {res}/{name}/{sub} */
    {"/apis/" G "/" V "/namespaces/{ns}/{res}", api_handle_images},
    {"/apis/" G "/" V "/namespaces/{ns}/{res}/{name}", api_handle_images},
    {"/apis/" G "/" V "/namespaces/{ns}/{res}/{name}/{sub}", api_handle_images},
    {"/apis/" G "/" V "/{res}", api_handle_images},
    {"/apis/" G "/" V "/{res}/{name}", api_handle_images},
    {"/apis/" G "/" V "/{res}/{name}/{sub}", api_handle_images},
};

/* Splits path (copied into buf) into segments; returns the count or -1. */
static int split(char *buf, size_t cap, const char *path, char *seg[SEG_MAX])
{
	char *p, *save = NULL;
	int n = 0;

	if (strlen(path) >= cap)
		return -1;
	memcpy(buf, path, strlen(path) + 1);
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == SEG_MAX)
			return -1;
		seg[n++] = p;
	}
	return n;
}

void api_route(struct api_req *r)
{
	static __thread char pbuf[1024], ubuf[1024];
	char *ps[SEG_MAX], *us[SEG_MAX];
	int nu = split(ubuf, sizeof(ubuf), r->path, us);
	size_t i;

	for (i = 0; nu >= 0 && i < sizeof(routes) / sizeof(routes[0]); i++) {
		int np = split(pbuf, sizeof(pbuf), routes[i].pattern, ps), k;
		const char *ns = NULL, *name = NULL, *res = NULL, *sub = NULL;

		if (np != nu)
			continue;
		for (k = 0; k < np; k++) {
			if (strcmp(ps[k], "{ns}") == 0)
				ns = us[k];
			else if (strcmp(ps[k], "{name}") == 0)
				name = us[k];
			else if (strcmp(ps[k], "{res}") == 0)
				res = us[k];
			else if (strcmp(ps[k], "{sub}") == 0)
				sub = us[k];
			else if (strcmp(ps[k], us[k]) != 0)
				break;
		}
		if (k < np)
			continue;
		r->ns = ns;
		r->name = name;
		r->resource = res;
		r->subresource = sub;
		routes[i].fn(r);
		return;
	}
	api_reply_error(r, VIM_ENOTFOUND, "the server could not find the requested resource");
}
