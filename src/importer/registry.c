/*
 * importer/registry — the ContainerImage source: the disk is the file
 * "disk/<name>" in the layers of an image in another registry (the layout
 * DVCR itself uses).  The manifest is resolved (an index narrowed to
 * linux/amd64), then the layers are read from the top down until one holds
 * the disk, whose bytes stream into the pipeline as they are unpacked.
 *
 * Credentials come from the pull secret (pull_secret.c).  Only https
 * registries, as upstream; caBundle (base64 PEM) adds trust.
 */
#include "importer/internal.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LAYER_SIZE_MAX ((json_int_t)1 << 56)

/* ---- the pull -------------------------------------------------------------------- */

struct pull {
	struct job *j;
	struct dvcr_client *c;
	struct dvcr_ref ref;
	struct imp_manifest man;
	struct imp_layer *l;
	struct imp_pipeline *p;
	bool complete;
	int rc; /* the first failure inside the stream */
	struct vim_err err;
};

static bool is_index(const json_t *m)
{
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	return json_is_array(json_object_get(m, "manifests")) ||
	       (mt && (strstr(mt, "manifest.list") || strstr(mt, "image.index")));
}

/* The linux/amd64 entry of an index (or its only entry). */
static const char *pick_platform(const json_t *idx)
{
	const json_t *arr = json_object_get(idx, "manifests"), *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		json_t *pl = json_object_get(e, "platform");
		const char *os = json_string_value(json_object_get(pl, "os"));
		const char *arch = json_string_value(json_object_get(pl, "architecture"));
		if (os && arch && strcmp(os, "linux") == 0 && strcmp(arch, "amd64") == 0)
			return json_string_value(json_object_get(e, "digest"));
	}
	if (json_array_size(arr) == 1)
		return json_string_value(json_object_get(json_array_get(arr, 0), "digest"));
	return NULL;
}

int imp_manifest_read(const json_t *m, bool index_ok, const char *what, struct imp_manifest *out,
                      struct vim_err *err)
{
	const json_t *layers, *e, *sz;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (index_ok && is_index(m)) {
		const char *d = pick_platform(m);
		if (!d)
			return vim_err_set(err, VIM_EINVAL,
			                   "%s: the index has no linux/amd64 image", what);
		/* an empty child would read as "not an index" (found by fuzzing) */
		if (!d[0] || strlen(d) >= sizeof(out->child))
			return vim_err_set(err, VIM_EINVAL,
			                   "%s: the index's linux/amd64 entry has no valid digest",
			                   what);
		snprintf(out->child, sizeof(out->child), "%s", d);
		return 0;
	}
	layers = json_object_get(m, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0 ||
	    json_array_size(layers) > IMP_LAYERS_MAX)
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: the manifest has no layers vimage can read (schema 2 or "
		                   "OCI, 1 to %d layers)",
		                   what, IMP_LAYERS_MAX);
	json_array_foreach(layers, i, e)
	{
		const char *d = json_string_value(json_object_get(e, "digest"));
		const char *mt = json_string_value(json_object_get(e, "mediaType"));
		if (!d || !d[0] || strlen(d) >= DVCR_DIGEST_MAX)
			return vim_err_set(err, VIM_EINVAL, "%s: layer %zu has no digest", what, i);
		if (mt && strstr(mt, "zstd"))
			return vim_err_set(err, VIM_EUNSUPPORTED,
			                   "%s: zstd layers are not supported (gzip or plain tar)",
			                   what);
		/* the registry's number: a negative or huge size would wrap the
		 * progress total (128 layers of 2^56 cannot) */
		sz = json_object_get(e, "size");
		if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
		    json_integer_value(sz) > LAYER_SIZE_MAX)
			return vim_err_set(err, VIM_EINVAL, "%s: layer %zu has no valid size", what,
			                   i);
		snprintf(out->layers[i].digest, DVCR_DIGEST_MAX, "%s", d);
		out->layers[i].size = (uint64_t)json_integer_value(sz);
		out->total += out->layers[i].size;
	}
	out->nlayers = (int)json_array_size(layers);
	return 0;
}

static int get_manifest(struct pull *x, const char *ref, json_t **out, struct vim_err *err)
{
	char *buf = malloc(IMP_MANIFEST_MAX);
	json_error_t je;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!buf)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	rc = dvcr_manifest_get(x->c, x->ref.repo, ref, buf, IMP_MANIFEST_MAX, &len, NULL, err);
	if (rc == 0 && !(*out = json_loadb(buf, len, 0, &je)))
		rc = vim_err_set(err, VIM_EINVAL, "%s/%s:%s: the manifest is not JSON: %s",
		                 x->ref.host, x->ref.repo, ref, je.text);
	free(buf);
	return rc;
}

/* Fills x->man from the image's manifest (through an index). */
static int resolve(struct pull *x, struct vim_err *err)
{
	const char *ref = x->ref.digest[0] ? x->ref.digest : x->ref.tag[0] ? x->ref.tag : "latest";
	char what[DVCR_HOST_MAX + DVCR_REPO_MAX + DVCR_TAG_MAX + 4];
	char digest[DVCR_DIGEST_MAX];
	json_t *m = NULL;
	int rc;

	snprintf(what, sizeof(what), "%s/%s:%s", x->ref.host, x->ref.repo, ref);
	if ((rc = get_manifest(x, ref, &m, err)) < 0)
		return rc;
	rc = imp_manifest_read(m, true, what, &x->man, err);
	json_decref(m);
	if (rc == 0 && x->man.child[0]) {
		/* an index inside the index is read as an image without layers */
		snprintf(digest, sizeof(digest), "%s", x->man.child);
		if ((rc = get_manifest(x, digest, &m, err)) < 0)
			return rc;
		rc = imp_manifest_read(m, false, what, &x->man, err);
		json_decref(m);
	}
	/* under m->mu, as every progress write: the controller's import_sync
	 * reads total while this thread fetches (found by make tsan) */
	if (rc == 0)
		imp_job_progress(x->j, x->j->done, x->j->total + x->man.total);
	return rc;
}

static int disk_begin(void *ud, const char *name, uint64_t size, struct vim_err *err)
{
	struct pull *x = ud;
	return imp_pipeline_begin(&x->p, x->j->m->cfg.dvcr, x->j->repo, name, size, NULL, err);
}

static int disk_data(void *ud, const void *data, size_t len, struct vim_err *err)
{
	struct pull *x = ud;
	return imp_pipeline_feed(x->p, data, len, err);
}

static int on_blob(void *ud, const void *data, size_t len)
{
	struct pull *x = ud;
	int rc;

	if (imp_job_canceled(x->j)) {
		x->rc = vim_err_set(&x->err, VIM_ECANCELED, "canceled");
		return 1;
	}
	imp_job_progress(x->j, x->j->done + len, x->j->total);
	rc = imp_layer_feed(x->l, data, len, &x->err);
	if (rc == 1)
		x->complete = true;
	else if (rc < 0)
		x->rc = rc;
	return rc != 0;
}

/* Reads one layer; x->complete when it held the whole disk. */
static int read_layer(struct pull *x, const struct imp_layer_ref *lr, struct vim_err *err)
{
	int rc;

	if ((rc = imp_layer_new(&x->l, disk_begin, disk_data, x, err)) < 0)
		return rc;
	x->rc = 0;
	rc = dvcr_blob_get_stream(x->c, x->ref.repo, lr->digest, 0, on_blob, x, err);
	if (x->rc < 0) {
		*err = x->err;
		rc = x->rc;
	} else if (x->complete) {
		rc = 0;
	} else if (rc == 0 && x->p) {
		rc = vim_err_set(err, VIM_EINVAL, "%s/%s: layer %s ends inside the disk file",
		                 x->ref.host, x->ref.repo, lr->digest);
	} else if (rc == 0 && (rc = imp_layer_finish(x->l, err)) < 0) {
		/* a cut tar is no "layer without a disk": the next one is not tried */
		vim_err_wrap(err, "%s/%s: layer %s: ", x->ref.host, x->ref.repo, lr->digest);
	}
	imp_layer_free(x->l);
	x->l = NULL;
	return rc;
}

static int make_client(struct pull *x, struct vim_err *err)
{
	struct job *j = x->j;
	struct dvcr_config dc = {0};
	char base[DVCR_HOST_MAX + 16];

	snprintf(base, sizeof(base), "https://%s", x->ref.host);
	dc.base_url = base;
	dc.username = j->pull_user;
	dc.password = j->pull_pass;
	dc.user_agent = "vimage-importer/1";
	dc.ca_pem = j->ca_pem;
	dc.min_rate_bps = j->m->cfg.min_rate_bps;
	dc.rate_window_ms = j->m->cfg.stall_window_ms;
	return dvcr_client_new(&x->c, &dc, err);
}

/* The dvcr client names the repository, not the registry: say which image. */
static void prefix_image(struct vim_err *err, const char *image)
{
	char msg[VIM_ERR_MSG_MAX];

	if (strncmp(err->msg, image, strcspn(image, "/")) == 0)
		return; /* names the host already */
	snprintf(msg, sizeof(msg), "pulling %.200s: %.300s", image, err->msg);
	memcpy(err->msg, msg, sizeof(msg));
}

static void *registry_run(void *arg)
{
	struct job *j = arg;
	struct pull *x = calloc(1, sizeof(*x));
	struct vim_err err = {0};
	struct imp_result res;
	bool terminal = false;
	int rc, i;

	if (!x) {
		imp_job_end(j, VIM_ENOMEM, false, NULL, "out of memory");
		return NULL;
	}
	x->j = j;
	if ((rc = dvcr_ref_parse(j->url, &x->ref, &err)) < 0 || (rc = make_client(x, &err)) < 0) {
		imp_job_end(j, rc, true, NULL, err.msg);
		goto out;
	}
	if ((rc = resolve(x, &err)) < 0) {
		prefix_image(&err, j->url);
		/* a missing image or a manifest vimage cannot read stays so; a
		 * refused login may be fixed in the secret, a 5xx may pass */
		imp_job_end(j, rc,
		            rc == VIM_ENOTFOUND || rc == VIM_EINVAL || rc == VIM_EUNSUPPORTED, NULL,
		            err.msg);
		goto out;
	}
	for (i = x->man.nlayers - 1; i >= 0 && !x->complete; i--)
		if ((rc = read_layer(x, &x->man.layers[i], &err)) < 0)
			break;
	if (rc < 0) {
		prefix_image(&err, j->url);
		imp_job_end(j, rc, rc == VIM_EINVAL, NULL, err.msg);
	} else if (!x->complete) {
		vim_err_set(&err, VIM_EINVAL, "%s/%s: no layer holds a disk/ file", x->ref.host,
		            x->ref.repo);
		imp_job_end(j, VIM_EINVAL, true, NULL, err.msg);
	} else {
		rc = imp_pipeline_finish(x->p, j->uid, &res, &terminal, &err);
		x->p = NULL;
		imp_job_end(j, rc, terminal, &res, err.msg);
	}
out:
	imp_pipeline_abort(x->p);
	dvcr_client_free(x->c);
	free(x);
	return NULL;
}

/* A named pull secret must exist, as upstream (ContainerRegistrySecretNotFound). */
static int registry_check(struct imp_manager *m, const struct imp_job_input *in,
                          char reason[IMP_REASON_MAX], char message[IMP_MESSAGE_MAX])
{
	char path[4400];
	struct vim_err e2 = {0};

	if (imp_secret_file(m, in, path, sizeof(path), &e2) < 0 ||
	    (path[0] && access(path, R_OK) != 0)) {
		snprintf(reason, IMP_REASON_MAX, "ContainerRegistrySecretNotFound");
		snprintf(message, IMP_MESSAGE_MAX, "Container registry secret not found");
		return 0;
	}
	return 1;
}

static int registry_prepare(struct job *j, const struct imp_job_input *in, bool *terminal,
                            struct vim_err *err)
{
	const struct model_ds_container_image *ci = in->ds->container_image;
	char path[4400];
	int rc;

	if (!ci || !ci->image) {
		*terminal = true;
		return vim_err_set(err, VIM_EINVAL,
		                   "spec.dataSource.containerImage.image is required");
	}
	if (!(j->url = model_strdup(ci->image)))
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	if ((rc = imp_ca_bundle_decode(j, ci->ca_bundle, terminal, err)) < 0 ||
	    (rc = imp_secret_file(j->m, in, path, sizeof(path), err)) < 0)
		return rc;
	if (path[0])
		rc = imp_secret_credentials(path, j->url, &j->pull_user, &j->pull_pass, err);
	return rc;
}

const struct imp_source imp_source_registry = {MODEL_DS_CONTAINER_IMAGE, registry_check,
                                               registry_prepare, registry_run};
