/*
 * dvcr/check — the presence check ImageLost rests on: the manifest and
 * every blob it names must answer, proved by bytes, not by headers.
 */
#include "dvcr/dvcr.h"
#include "dvcr/internal.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A DVCR manifest is a few hundred bytes; an index of many platforms a few
 * KiB.  Anything bigger is not an image this service wrote or can read. */
#define CHECK_MANIFEST_MAX (256 * 1024)

/* What one check carries down: the client, the repository, the memo. */
struct walk {
	struct dvcr_client *c;
	const char *repo;
	struct dvcr_memo *memo; /* NULL = prove every blob */
};

static int check_manifest(const struct walk *w, const char *ref, int depth, struct vim_err *err);

/* 1 when the blob has bytes (or answers HEAD: a zero-size blob, or any
 * blob of a registry whose HEAD is trusted), 0 when the registry says it is
 * gone, negative when it could not tell. */
static int check_blob(const struct walk *w, const json_t *desc, struct vim_err *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	json_int_t size = json_integer_value(json_object_get(desc, "size"));
	unsigned char byte;
	size_t got = 0;
	int rc;

	if (!digest)
		return vim_err_set(err, VIM_EUPSTREAM, "%s: a manifest entry has no digest",
		                   w->repo);
	if (w->memo && dvcr_memo_has(w->memo, digest))
		return 1;
	if (size == 0 || w->c->head_trusted)
		rc = dvcr_blob_head(w->c, w->repo, digest, NULL, err);
	else
		rc = dvcr_blob_get_range(w->c, w->repo, digest, 0, &byte, 1, &got, err);
	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	if (w->memo)
		dvcr_memo_add(w->memo, digest);
	return 1;
}

static bool is_index(const json_t *m)
{
	const char *mt = json_string_value(json_object_get(m, "mediaType"));

	if (mt && (strcmp(mt, DVCR_MT_OCI_INDEX) == 0 || strcmp(mt, DVCR_MT_DOCKER_LIST) == 0))
		return true;
	return json_is_array(json_object_get(m, "manifests"));
}

/* Walks the parsed manifest: an index's children (one level deep, as
 * registries allow no deeper nesting in practice), else config + layers. */
static int check_parsed(const struct walk *w, const json_t *m, int depth, struct vim_err *err)
{
	const json_t *list, *d;
	size_t i;
	int rc;

	if (is_index(m)) {
		if (depth > 0)
			return vim_err_set(err, VIM_EUPSTREAM, "%s: an index inside an index",
			                   w->repo);
		list = json_object_get(m, "manifests");
		json_array_foreach(list, i, d)
		{
			const char *digest = json_string_value(json_object_get(d, "digest"));
			if (!digest)
				return vim_err_set(err, VIM_EUPSTREAM,
				                   "%s: an index entry has no digest", w->repo);
			rc = check_manifest(w, digest, depth + 1, err);
			if (rc <= 0)
				return rc;
		}
		return 1;
	}
	d = json_object_get(m, "config");
	if (!json_is_object(d))
		return vim_err_set(err, VIM_EUPSTREAM, "%s: the manifest has no config", w->repo);
	rc = check_blob(w, d, err);
	if (rc <= 0)
		return rc;
	list = json_object_get(m, "layers");
	json_array_foreach(list, i, d)
	{
		rc = check_blob(w, d, err);
		if (rc <= 0)
			return rc;
	}
	return 1;
}

static int check_manifest(const struct walk *w, const char *ref, int depth, struct vim_err *err)
{
	json_t *m = NULL;
	int rc = dvcr_manifest_get_json(w->c, w->repo, ref, CHECK_MANIFEST_MAX, &m, NULL, err);

	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc == 0)
		rc = check_parsed(w, m, depth, err);
	json_decref(m);
	return rc;
}

int dvcr_image_check(struct dvcr_client *c, const char *repo, const char *ref, struct vim_err *err)
{
	struct walk w = {c, repo, NULL};

	if (!c || !repo || !*repo || !ref || !*ref)
		return vim_err_set(err, VIM_EINVAL, "dvcr check: repository and tag are required");
	return check_manifest(&w, ref, 0, err);
}

int dvcr_image_check_url_memo(struct dvcr_client *c, const char *registry_url,
                              struct dvcr_memo *memo, struct vim_err *err)
{
	struct dvcr_ref ref;
	struct walk w = {c, ref.repo, memo};
	int rc;

	if (!registry_url || !*registry_url)
		return vim_err_set(err, VIM_EINVAL, "dvcr check: the image address is empty");
	rc = dvcr_ref_parse(registry_url, &ref, err);
	if (rc < 0)
		return rc;
	return check_manifest(&w, ref.digest[0] ? ref.digest : ref.tag, 0, err);
}

int dvcr_image_check_url(struct dvcr_client *c, const char *registry_url, struct vim_err *err)
{
	return dvcr_image_check_url_memo(c, registry_url, NULL, err);
}
