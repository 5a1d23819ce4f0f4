/* dvcr/ref — "host[:port]/repo[:tag][@digest]" split into bounded parts. */
#include <string.h>

#include "dvcr/dvcr.h"
#include "core/digest.h"

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return VIM_ETOOLARGE;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int dvcr_ref_parse(const char *text, struct dvcr_ref *out, struct vim_err *err)
{
	int rc = 0;
	const char *slash, *at, *end, *colon, *p;
	size_t hostlen;

	memset(out, 0, sizeof(*out));
	if (!text || !text[0]) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference is empty");
		goto out;
	}
	slash = strchr(text, '/');
	if (!slash || slash == text) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: no registry host", text);
		goto out;
	}
	hostlen = (size_t)(slash - text);
	if (!memchr(text, '.', hostlen) && !memchr(text, ':', hostlen) &&
	    !(hostlen == 9 && strncmp(text, "localhost", 9) == 0)) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: no registry host", text);
		goto out;
	}
	if (copy_part(out->host, sizeof(out->host), text, hostlen) != 0) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference: host too long");
		goto out;
	}
	p = slash + 1;
	end = p + strlen(p);
	at = strchr(p, '@');
	if (at) {
		struct vim_err why = {0};
		if (vim_digest_parse(at + 1, NULL, &why) < 0) {
			rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: bad %s", text,
			                 why.msg);
			goto out;
		}
		copy_part(out->digest, sizeof(out->digest), at + 1, strlen(at + 1));
		end = at;
	}
	/* a tag is after the last ':' of the last path component */
	colon = NULL;
	for (const char *q = p; q < end; q++) {
		if (*q == '/')
			colon = NULL;
		else if (*q == ':')
			colon = q;
	}
	if (colon) {
		if (colon + 1 == end ||
		    copy_part(out->tag, sizeof(out->tag), colon + 1, (size_t)(end - colon - 1))) {
			rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: bad tag", text);
			goto out;
		}
		end = colon;
	} else if (!at) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: no tag or digest", text);
		goto out;
	}
	if (end == p || end[-1] == '/' || p[0] == '/' ||
	    copy_part(out->repo, sizeof(out->repo), p, (size_t)(end - p)) != 0) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: bad repository", text);
		goto out;
	}
	if (strspn(out->repo, "abcdefghijklmnopqrstuvwxyz0123456789._-/") != strlen(out->repo) ||
	    strstr(out->repo, "//")) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: bad repository", text);
		goto out;
	}
	if (out->tag[0] &&
	    strspn(out->tag, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
	        strlen(out->tag)) {
		rc = vim_err_set(err, VIM_EINVAL, "image reference %.200s: bad tag", text);
		goto out;
	}
out:
	if (rc != 0)
		memset(out, 0, sizeof(*out));
	return rc;
}
