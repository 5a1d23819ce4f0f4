/* dvcr/list — catalog and tag lists, paginated through Link headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dvcr/internal.h"

#define PAGE_MAX (1024 * 1024)
#define PAGES_MAX 10000

/* Link: </v2/_catalog?last=x&n=100>; rel="next" → the URL between <>. */
static int next_link(const char *link, char *out, size_t outlen)
{
	const char *a = strchr(link, '<'), *b;

	if (!a || !strstr(link, "rel=\"next\""))
		return VIM_ENOTFOUND;
	b = strchr(a + 1, '>');
	if (!b || (size_t)(b - a - 1) >= outlen)
		return VIM_EINVAL;
	memcpy(out, a + 1, (size_t)(b - a - 1));
	out[b - a - 1] = '\0';
	return 0;
}

static int walk(struct dvcr_client *c, const char *first, const char *repo, const char *key,
                const char *scope, dvcr_name_fn fn, void *ud, struct vim_err *err)
{
	int rc = 0, pages = 0, stop = 0;
	char *page = malloc(PAGE_MAX);
	char url[DVCR_URL_MAX], link[DVCR_URL_MAX];
	json_t *root = NULL, *arr, *v;
	size_t i;

	if (!page) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	snprintf(url, sizeof(url), "%s", first);
	while (!stop) {
		struct dvcr_req r = {.method = "GET", .url = url, .repo = repo, .what = key};
		r.scope = scope;
		r.buf = page;
		r.cap = PAGE_MAX;
		if (++pages > PAGES_MAX) {
			rc = vim_err_set(err, VIM_EUPSTREAM, "GET %s: more than %d pages", first,
			                 PAGES_MAX);
			goto out;
		}
		rc = dvcr_do(c, &r, err);
		if (rc == 0 && r.status != 200)
			rc = dvcr_fail(&r, err);
		if (rc != 0)
			goto out;
		json_decref(root);
		root = json_loadb(page, r.len, 0, NULL);
		arr = json_object_get(root, key);
		if (!root || (arr && !json_is_array(arr))) {
			rc = vim_err_set(err, VIM_EUPSTREAM, "GET %s: malformed %s list", url, key);
			goto out;
		}
		json_array_foreach(arr, i, v)
		{
			if (json_is_string(v) && fn(ud, json_string_value(v)) != 0) {
				stop = 1;
				break;
			}
		}
		if (stop || next_link(r.link, link, sizeof(link)) != 0)
			break;
		rc = dvcr_resolve(c, link, url, sizeof(url), err);
		if (rc != 0)
			goto out;
	}
out:
	json_decref(root);
	free(page);
	return rc;
}

int dvcr_catalog(struct dvcr_client *c, dvcr_name_fn fn, void *ud, struct vim_err *err)
{
	return walk(c, "/v2/_catalog?n=1000", NULL, "repositories", "registry:catalog:*", fn, ud,
	            err);
}

int dvcr_tags_list(struct dvcr_client *c, const char *repo, dvcr_name_fn fn, void *ud,
                   struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX];

	rc = dvcr_check_name(repo, NULL, err);
	if (rc != 0)
		return rc;
	snprintf(url, sizeof(url), "/v2/%s/tags/list?n=1000", repo);
	return walk(c, url, repo, "tags", NULL, fn, ud, err);
}
