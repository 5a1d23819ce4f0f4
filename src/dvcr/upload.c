/* dvcr/upload — blob upload sessions (POST, PATCH*, PUT ?digest=) and
 * cross-repository mounts.  distribution 2.8 ignores a body on the POST
 * (dvcr.md), so a monolithic upload is POST then one PUT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvcr/internal.h"

struct dvcr_upload {
	struct dvcr_client *c; /* borrowed */
	char repo[DVCR_REPO_MAX];
	char location[DVCR_URL_MAX]; /* absolute; changes after each PATCH */
	int64_t offset;
};

static int new_session(struct dvcr_client *c, const char *repo, const struct dvcr_req *r,
                       struct dvcr_upload **out, struct vim_err *err)
{
	int rc = 0;
	struct dvcr_upload *up = NULL;

	if (!r->location[0]) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "POST %s blobs/uploads/: %ld without Location",
		                 repo, r->status);
		goto out;
	}
	up = calloc(1, sizeof(*up));
	if (!up) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	up->c = c;
	snprintf(up->repo, sizeof(up->repo), "%s", repo);
	rc = dvcr_resolve(c, r->location, up->location, sizeof(up->location), err);
	if (rc != 0)
		goto out;
	*out = up;
	up = NULL;
out:
	free(up);
	return rc;
}

int dvcr_upload_begin(struct dvcr_client *c, const char *repo, struct dvcr_upload **out,
                      struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX];
	struct dvcr_req r = {
	    .method = "POST", .url = url, .repo = repo, .what = "blobs/uploads/", .push = 1};

	*out = NULL;
	rc = dvcr_check_name(repo, NULL, err);
	if (rc != 0)
		goto out;
	snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/", repo);
	rc = dvcr_do(c, &r, err);
	if (rc == 0 && r.status != 202)
		rc = dvcr_fail(&r, err);
	if (rc == 0)
		rc = new_session(c, repo, &r, out, err);
out:
	return rc;
}

int64_t dvcr_upload_offset(const struct dvcr_upload *up)
{
	return up->offset;
}

/* A request whose body of `length` bytes is pulled from read. */
static void with_reader(struct dvcr_req *r, dvcr_read_fn read, void *ud, int64_t length)
{
	r->content_type = "application/octet-stream";
	r->has_body = 1;
	r->read = read;
	r->read_ud = ud;
	r->read_len = length;
}

/* The session moves to the Location a PATCH answered with (if any). */
static int follow_location(struct dvcr_upload *up, const struct dvcr_req *r, struct vim_err *err)
{
	char next[DVCR_URL_MAX];
	int rc;

	if (!r->location[0])
		return 0;
	if ((rc = dvcr_resolve(up->c, r->location, next, sizeof(next), err)) != 0)
		return rc;
	memcpy(up->location, next, sizeof(next));
	return 0;
}

int dvcr_upload_write(struct dvcr_upload *up, const void *data, size_t len, struct vim_err *err)
{
	int rc;
	char cr[64];
	struct dvcr_req r = {.method = "PATCH",
	                     .url = up->location,
	                     .repo = up->repo,
	                     .what = "blobs/uploads (PATCH)",
	                     .push = 1,
	                     .stream = 1};

	if (!data || len == 0)
		return vim_err_set(err, VIM_EINVAL, "PATCH %s: empty chunk", up->repo);
	snprintf(cr, sizeof(cr), "%lld-%lld", (long long)up->offset,
	         (long long)up->offset + (long long)len - 1);
	r.content_range = cr;
	r.content_type = "application/octet-stream";
	r.body = data;
	r.body_len = len;
	r.has_body = 1;
	rc = dvcr_do(up->c, &r, err);
	if (rc == 0 && r.status != 202)
		rc = dvcr_fail(&r, err);
	if (rc != 0)
		goto out;
	if ((rc = follow_location(up, &r, err)) == 0)
		up->offset += (int64_t)len;
out:
	return rc;
}

int dvcr_upload_write_stream(struct dvcr_upload *up, dvcr_read_fn read, void *ud, int64_t length,
                             struct vim_err *err)
{
	int rc;
	struct dvcr_req r = {.method = "PATCH",
	                     .url = up->location,
	                     .repo = up->repo,
	                     .what = "blobs/uploads (streamed PATCH)",
	                     .push = 1,
	                     .stream = 1};

	if (!read || length <= 0)
		return vim_err_set(err, VIM_EINVAL, "PATCH %s: nothing to stream", up->repo);
	/* no Content-Range: the registry's stream mode appends the whole body */
	with_reader(&r, read, ud, length);
	rc = dvcr_do(up->c, &r, err);
	if (rc == 0 && r.status != 202)
		rc = dvcr_fail(&r, err);
	if (rc != 0)
		return rc;
	if ((rc = follow_location(up, &r, err)) == 0)
		up->offset += length;
	return rc;
}

static int finish(struct dvcr_upload *up, const char *digest, dvcr_read_fn read, void *ud,
                  int64_t length, struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX + DVCR_DIGEST_MAX + 16];
	struct dvcr_req r = {.method = "PUT",
	                     .url = url,
	                     .repo = up->repo,
	                     .what = "blobs/uploads (PUT)",
	                     .push = 1,
	                     .stream = 1};

	rc = dvcr_check_name(up->repo, digest, err);
	if (rc != 0)
		goto out;
	snprintf(url, sizeof(url), "%s%cdigest=%s", up->location,
	         strchr(up->location, '?') ? '&' : '?', digest);
	with_reader(&r, read, ud, length);
	rc = dvcr_do(up->c, &r, err);
	if (rc == 0 && r.status != 201)
		rc = dvcr_fail(&r, err);
out:
	if (rc != 0)
		dvcr_upload_cancel(up, NULL); /* leave no session behind */
	else
		free(up);
	return rc;
}

int dvcr_upload_finish(struct dvcr_upload *up, const char *digest, struct vim_err *err)
{
	return finish(up, digest, NULL, NULL, 0, err);
}

int dvcr_upload_finish_stream(struct dvcr_upload *up, const char *digest, dvcr_read_fn read,
                              void *ud, int64_t length, struct vim_err *err)
{
	if (!read) {
		dvcr_upload_cancel(up, NULL);
		return vim_err_set(err, VIM_EINVAL, "PUT blobs/uploads: no reader");
	}
	return finish(up, digest, read, ud, length, err);
}

int dvcr_upload_cancel(struct dvcr_upload *up, struct vim_err *err)
{
	int rc = 0;
	struct dvcr_req r = {0};

	if (!up)
		goto out;
	r.method = "DELETE";
	r.url = up->location;
	r.repo = up->repo;
	r.what = "blobs/uploads (cancel)";
	r.push = 1;
	rc = dvcr_do(up->c, &r, err);
	/* 404: the session already expired — nothing left to cancel */
	if (rc == 0 && r.status != 204 && r.status != 202 && r.status != 200 && r.status != 404)
		rc = dvcr_fail(&r, err);
	free(up);
out:
	return rc;
}

int dvcr_blob_mount(struct dvcr_client *c, const char *repo, const char *digest,
                    const char *from_repo, int *mounted, struct dvcr_upload **session_out,
                    struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX * 2];
	struct dvcr_upload *up = NULL;
	struct dvcr_req r = {
	    .method = "POST", .url = url, .repo = repo, .what = "blobs/uploads (mount)", .push = 1};
	char scope[DVCR_SCOPE_MAX * 2];

	*mounted = 0;
	if (session_out)
		*session_out = NULL;
	rc = dvcr_check_name(repo, digest, err);
	if (rc == 0)
		rc = dvcr_check_name(from_repo, NULL, err);
	if (rc != 0)
		goto out;
	snprintf(url, sizeof(url), "/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest,
	         from_repo);
	/* a token must also allow pulling from the source repository */
	snprintf(scope, sizeof(scope), "repository:%s:pull,push repository:%s:pull", repo,
	         from_repo);
	if (strlen(scope) < DVCR_SCOPE_MAX)
		r.scope = scope;
	rc = dvcr_do(c, &r, err);
	if (rc != 0)
		goto out;
	if (r.status == 201) {
		*mounted = 1;
	} else if (r.status == 202) {
		rc = new_session(c, repo, &r, &up, err);
		if (rc != 0)
			goto out;
		if (session_out)
			*session_out = up;
		else
			dvcr_upload_cancel(up, NULL);
		up = NULL;
	} else {
		rc = dvcr_fail(&r, err);
	}
out:
	return rc;
}
