/*
 * model/dvcr_ref — where an image lives in DVCR: "vi/<ns>/<name>:<uid>" or
 * "cvi/<name>:<uid>" under the registry host.  Names that would make
 * host + "/" + repository longer than 255 characters are shortened as
 * upstream does (api/dvcr/repo.go): cut, trailing "-._" trimmed, and
 * "-<16 hex of FNV-1a-64(name)>" appended, so images written by either
 * project are found by both.
 */
#include "model/model.h"

#include <stdio.h>
#include <string.h>

#define DVCR_REPO_NAME_MAX 255
#define DVCR_DEFAULT_HOST "dvcr.d8-virtualization.svc"

static uint64_t fnv1a64(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static int repo(char *out, size_t outlen, const char *host, const struct model_image *img,
                struct vim_err *err)
{
	const struct model_kind_info *ki = model_kind_info(img->kind);
	const char *name = img->meta.name, *ns = img->meta.namespace;
	size_t prefix, keep;
	char shortname[DVCR_REPO_NAME_MAX + 1];
	int n;

	if (!name || !*name || (ki->namespaced && (!ns || !*ns)))
		return vim_err_set(err, VIM_EINVAL, "%s: the DVCR address needs a name%s", ki->name,
		                   ki->namespaced ? " and a namespace" : "");
	if (!host || !*host)
		host = DVCR_DEFAULT_HOST; /* upstream measures against its default */
	prefix = strlen(host) + 1 + strlen(ki->repo_prefix) + 1;
	if (ki->namespaced)
		prefix += strlen(ns) + 1;
	if (prefix + strlen(name) <= DVCR_REPO_NAME_MAX) {
		snprintf(shortname, sizeof(shortname), "%s", name);
	} else if (prefix + 1 + 16 >= DVCR_REPO_NAME_MAX) {
		snprintf(shortname, sizeof(shortname), "%016llx",
		         (unsigned long long)fnv1a64(name));
	} else {
		keep = DVCR_REPO_NAME_MAX - prefix - 1 - 16;
		while (keep > 0 && strchr("-._", name[keep - 1]))
			keep--;
		snprintf(shortname, sizeof(shortname), "%.*s-%016llx", (int)keep, name,
		         (unsigned long long)fnv1a64(name));
	}
	if (ki->namespaced)
		n = snprintf(out, outlen, "%s/%s/%s", ki->repo_prefix, ns, shortname);
	else
		n = snprintf(out, outlen, "%s/%s", ki->repo_prefix, shortname);
	if (n < 0 || (size_t)n >= outlen)
		return vim_err_set(err, VIM_EINVAL, "%s %s: the DVCR address does not fit",
		                   ki->name, name);
	return 0;
}

int model_dvcr_repository(char *out, size_t outlen, const char *host, const struct model_image *img,
                          struct vim_err *err)
{
	return repo(out, outlen, host, img, err);
}

int model_dvcr_reference(char *out, size_t outlen, const char *host, const struct model_image *img,
                         struct vim_err *err)
{
	char r[DVCR_REPO_NAME_MAX + 1];
	int rc, n;

	if ((rc = repo(r, sizeof(r), host, img, err)) < 0)
		return rc;
	if (!img->meta.uid || !*img->meta.uid)
		return vim_err_set(err, VIM_EINVAL, "%s %s: the DVCR address needs the uid",
		                   model_kind_info(img->kind)->name, img->meta.name);
	n = snprintf(out, outlen, "%s/%s:%s", host && *host ? host : DVCR_DEFAULT_HOST, r,
	             img->meta.uid);
	if (n < 0 || (size_t)n >= outlen)
		return vim_err_set(err, VIM_EINVAL, "%s %s: the DVCR address does not fit",
		                   model_kind_info(img->kind)->name, img->meta.name);
	return 0;
}
