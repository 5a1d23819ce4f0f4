/* dvcr/ops — ping, manifests, blob reads, and removing an image. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dvcr/internal.h"
#include "core/digest.h"

/* Every manifest type, always: a missing OCI type turns an existing OCI
 * manifest into a 404 on distribution 2.8 (dvcr.md), i.e. a false
 * ImageLost. */
static const char manifest_accept[] =
    DVCR_MT_DOCKER_V2 ", " DVCR_MT_DOCKER_LIST ", " DVCR_MT_OCI_MANIFEST ", " DVCR_MT_OCI_INDEX;

/* Repository names and references go into URLs unescaped, so only the
 * characters the distribution grammar allows pass. */
int dvcr_check_name(const char *repo, const char *ref, struct vim_err *err)
{
	const char *p;

	if (!repo || !repo[0] || strlen(repo) >= DVCR_REPO_MAX)
		return vim_err_set(err, VIM_EINVAL, "dvcr: bad repository name");
	for (p = repo; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-' || *p == '/'))
			return vim_err_set(err, VIM_EINVAL, "dvcr: bad repository name %.100s",
			                   repo);
	if (!ref)
		return 0;
	if (!ref[0] || strlen(ref) >= DVCR_DIGEST_MAX + DVCR_TAG_MAX)
		return vim_err_set(err, VIM_EINVAL, "dvcr: bad reference in %s", repo);
	for (p = ref; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-' || *p == ':'))
			return vim_err_set(err, VIM_EINVAL, "dvcr: bad reference %.100s in %s", ref,
			                   repo);
	return 0;
}

int dvcr_ping(struct dvcr_client *c, struct vim_err *err)
{
	int rc;
	struct dvcr_req r = {.method = "GET", .url = "/v2/", .what = "/v2/"};

	rc = dvcr_do(c, &r, err);
	if (rc == 0 && (r.status < 200 || r.status > 299))
		rc = dvcr_fail(&r, err);
	return rc;
}

static void fill_info(const struct dvcr_req *r, struct dvcr_manifest_info *info)
{
	if (!info)
		return;
	snprintf(info->digest, sizeof(info->digest), "%s", r->digest);
	snprintf(info->media_type, sizeof(info->media_type), "%s", r->media_type);
	info->size = r->content_length;
}

static int manifest_read(struct dvcr_client *c, const char *method, const char *repo,
                         const char *ref, void *buf, size_t cap, size_t *len,
                         struct dvcr_manifest_info *info, struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX], what[DVCR_TAG_MAX + DVCR_DIGEST_MAX + 16];
	struct dvcr_req r = {.method = method, .url = url, .repo = repo, .what = what};

	rc = dvcr_check_name(repo, ref, err);
	if (rc != 0)
		goto out;
	snprintf(url, sizeof(url), "/v2/%s/manifests/%s", repo, ref);
	snprintf(what, sizeof(what), "manifests/%s", ref);
	r.accept = manifest_accept;
	r.buf = buf;
	r.cap = cap;
	rc = dvcr_do(c, &r, err);
	if (rc == 0 && r.status != 200)
		rc = dvcr_fail(&r, err);
	if (rc == 0 && buf && r.content_length >= 0 && (uint64_t)r.content_length != r.len)
		rc = vim_err_set(err, VIM_EUPSTREAM, "GET %s %s: short body (%zu of %lld)", repo,
		                 what, r.len, (long long)r.content_length);
	if (rc != 0)
		goto out;
	fill_info(&r, info);
	if (len)
		*len = r.len;
out:
	return rc;
}

int dvcr_manifest_head(struct dvcr_client *c, const char *repo, const char *ref,
                       struct dvcr_manifest_info *info, struct vim_err *err)
{
	return manifest_read(c, "HEAD", repo, ref, NULL, 0, NULL, info, err);
}

int dvcr_manifest_get(struct dvcr_client *c, const char *repo, const char *ref, void *buf,
                      size_t cap, size_t *len, struct dvcr_manifest_info *info, struct vim_err *err)
{
	if (!buf || !len)
		return vim_err_set(err, VIM_EINVAL, "GET %s manifests: no buffer", repo);
	return manifest_read(c, "GET", repo, ref, buf, cap, len, info, err);
}

int dvcr_manifest_get_json(struct dvcr_client *c, const char *repo, const char *ref, size_t cap,
                           json_t **out, struct dvcr_manifest_info *info, struct vim_err *err)
{
	char *buf = malloc(cap);
	json_error_t je;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!buf)
		return vim_err_set(err, VIM_ENOMEM, "%s:%s: no memory for the manifest", repo, ref);
	rc = dvcr_manifest_get(c, repo, ref, buf, cap, &len, info, err);
	if (rc == 0)
		*out = json_loadb(buf, len, 0, &je); /* not inside json_is_object: a macro */
	if (rc == 0 && !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		rc = vim_err_set(err, VIM_EUPSTREAM, "%s:%s: the manifest is not JSON: %s", repo,
		                 ref, je.text);
	}
	free(buf);
	return rc;
}

int dvcr_manifest_put(struct dvcr_client *c, const char *repo, const char *ref,
                      const char *media_type, const void *body, size_t len, char *digest_out,
                      struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX], what[DVCR_TAG_MAX + DVCR_DIGEST_MAX + 16];
	struct dvcr_req r = {.method = "PUT", .url = url, .repo = repo, .what = what, .push = 1};

	rc = dvcr_check_name(repo, ref, err);
	if (rc != 0)
		goto out;
	if (!media_type || !body || len == 0) {
		rc = vim_err_set(err, VIM_EINVAL, "PUT %s manifests/%s: empty manifest", repo, ref);
		goto out;
	}
	snprintf(url, sizeof(url), "/v2/%s/manifests/%s", repo, ref);
	snprintf(what, sizeof(what), "manifests/%s", ref);
	r.content_type = media_type;
	r.body = body;
	r.body_len = len;
	r.has_body = 1;
	rc = dvcr_do(c, &r, err);
	if (rc == 0 && r.status != 201)
		rc = dvcr_fail(&r, err);
	if (rc == 0 && digest_out)
		snprintf(digest_out, DVCR_DIGEST_MAX, "%s", r.digest);
out:
	return rc;
}

int dvcr_manifest_delete(struct dvcr_client *c, const char *repo, const char *digest,
                         struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX], what[DVCR_DIGEST_MAX + 16];
	struct dvcr_req r = {.method = "DELETE", .url = url, .repo = repo, .what = what, .push = 1};

	rc = dvcr_check_name(repo, digest, err);
	if (rc != 0)
		goto out;
	if (vim_digest_parse(digest, NULL, NULL) < 0) {
		/* the registry answers 400 DIGEST_INVALID for tags (dvcr.md) */
		rc = vim_err_set(err, VIM_EINVAL, "DELETE %s manifests/%s: a digest is required",
		                 repo, digest);
		goto out;
	}
	snprintf(url, sizeof(url), "/v2/%s/manifests/%s", repo, digest);
	snprintf(what, sizeof(what), "manifests/%s", digest);
	rc = dvcr_do(c, &r, err);
	if (rc == 0 && r.status != 202)
		rc = dvcr_fail(&r, err);
out:
	return rc;
}

int dvcr_image_remove_url(struct dvcr_client *c, const char *registry_url, struct vim_err *err)
{
	struct dvcr_manifest_info mi;
	struct dvcr_ref ref;
	const char *digest;
	int rc;

	if (!registry_url || !registry_url[0])
		return 0; /* never written: nothing in DVCR */
	if ((rc = dvcr_ref_parse(registry_url, &ref, err)) < 0)
		return rc;
	/* by digest, as the registry demands: HEAD learns the tag's */
	rc = dvcr_manifest_head(c, ref.repo, ref.tag[0] ? ref.tag : ref.digest, &mi, err);
	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	digest = mi.digest[0] ? mi.digest : ref.digest;
	rc = dvcr_manifest_delete(c, ref.repo, digest, err);
	return rc == VIM_ENOTFOUND ? 0 : rc; /* gone meanwhile: as asked */
}

/* A DVCR image's manifest is a few hundred bytes; anything this big is
 * not one. */
#define IMAGE_MANIFEST_MAX (64 * 1024)

int dvcr_image_layer_url(struct dvcr_client *c, const char *registry_url,
                         struct dvcr_image_layer *out, struct vim_err *err)
{
	struct dvcr_ref ref;
	const char *digest;
	json_t *m = NULL, *l, *size;
	int rc;

	if (!registry_url || !registry_url[0])
		return vim_err_set(err, VIM_EINVAL, "dvcr: the image address is empty");
	if ((rc = dvcr_ref_parse(registry_url, &ref, err)) < 0)
		return rc;
	if ((rc = dvcr_manifest_get_json(c, ref.repo, ref.tag[0] ? ref.tag : ref.digest,
	                                 IMAGE_MANIFEST_MAX, &m, NULL, err)) < 0)
		return rc;
	l = json_array_get(json_object_get(m, "layers"), 0);
	digest = json_string_value(json_object_get(l, "digest"));
	size = json_object_get(l, "size");
	if (!digest || strlen(digest) >= sizeof(out->digest) || !json_is_integer(size) ||
	    json_integer_value(size) < 0) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "%s: the manifest names no layer",
		                 registry_url);
		goto out;
	}
	snprintf(out->repo, sizeof(out->repo), "%s", ref.repo);
	snprintf(out->digest, sizeof(out->digest), "%s", digest);
	out->size = (int64_t)json_integer_value(size);
out:
	json_decref(m);
	return rc;
}

int dvcr_client_host(const struct dvcr_client *c, char *out, size_t len, struct vim_err *err)
{
	const char *p = strstr(c->base, "://") + 3; /* dvcr_client_new checked the scheme */
	size_t n = strcspn(p, "/");

	if (n == 0 || n >= len)
		return vim_err_set(err, VIM_EINVAL, "dvcr: %s: the host is empty or too long",
		                   c->base);
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int dvcr_blob_head(struct dvcr_client *c, const char *repo, const char *digest, int64_t *size,
                   struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX], what[DVCR_DIGEST_MAX + 16];
	struct dvcr_req r = {.method = "HEAD", .url = url, .repo = repo, .what = what};

	rc = dvcr_check_name(repo, digest, err);
	if (rc != 0)
		goto out;
	snprintf(url, sizeof(url), "/v2/%s/blobs/%s", repo, digest);
	snprintf(what, sizeof(what), "blobs/%s", digest);
	rc = dvcr_do(c, &r, err);
	if (rc == 0 && r.status != 200)
		rc = dvcr_fail(&r, err);
	if (rc == 0 && size)
		*size = r.content_length;
out:
	return rc;
}

static int blob_get(struct dvcr_client *c, const char *repo, const char *digest, int64_t offset,
                    size_t len, struct dvcr_req *r, struct vim_err *err)
{
	int rc;
	char url[DVCR_URL_MAX], what[DVCR_DIGEST_MAX + 16], range[64];

	rc = dvcr_check_name(repo, digest, err);
	if (rc != 0)
		goto out;
	if (offset < 0) {
		rc = vim_err_set(err, VIM_EINVAL, "GET %s blobs/%s: negative offset", repo, digest);
		goto out;
	}
	snprintf(url, sizeof(url), "/v2/%s/blobs/%s", repo, digest);
	snprintf(what, sizeof(what), "blobs/%s", digest);
	r->method = "GET";
	r->url = url;
	r->repo = repo;
	r->what = what;
	r->follow = 1; /* other storage drivers redirect blob reads */
	if (len > 0)
		snprintf(range, sizeof(range), "%lld-%lld", (long long)offset,
		         (long long)offset + (long long)len - 1);
	else
		snprintf(range, sizeof(range), "%lld-", (long long)offset);
	if (offset > 0 || len > 0)
		r->range = range;
	rc = dvcr_do(c, r, err);
	if (rc == 0 && r->status != 200 && r->status != 206)
		rc = dvcr_fail(r, err);
	if (rc == 0 && offset > 0 && r->status != 206)
		rc = vim_err_set(err, VIM_EUPSTREAM, "GET %s %s: registry ignored the range", repo,
		                 what);
out:
	r->url = r->what = NULL; /* they pointed at this frame */
	return rc;
}

int dvcr_blob_get_range(struct dvcr_client *c, const char *repo, const char *digest, int64_t offset,
                        void *buf, size_t len, size_t *got, struct vim_err *err)
{
	int rc;
	struct dvcr_req r = {0};

	*got = 0;
	if (!buf || len == 0)
		return vim_err_set(err, VIM_EINVAL, "GET %s blobs: empty range", repo);
	r.buf = buf;
	r.cap = len;
	r.stop_when_full = 1; /* a registry ignoring Range at offset 0 is fine too */
	rc = blob_get(c, repo, digest, offset, len, &r, err);
	if (rc != 0)
		goto out;
	if (r.len == 0) {
		/* 2xx headers then no bytes: what a cached descriptor over lost
		 * storage looks like (dvcr.md) — the data is absent */
		rc = vim_err_set(err, VIM_ENOTFOUND, "GET %s blobs/%s: %ld but no data", repo,
		                 digest, r.status);
		goto out;
	}
	*got = r.len;
out:
	return rc;
}

int dvcr_blob_get_stream(struct dvcr_client *c, const char *repo, const char *digest,
                         int64_t offset, dvcr_write_fn write, void *ud, struct vim_err *err)
{
	struct dvcr_req r = {0};

	if (!write)
		return vim_err_set(err, VIM_EINVAL, "GET %s blobs: no writer", repo);
	r.write = write;
	r.write_ud = ud;
	r.stream = 1;
	return blob_get(c, repo, digest, offset, 0, &r, err);
}
