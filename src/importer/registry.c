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

#define MANIFEST_MAX (1 << 20)
#define LAYERS_MAX 128
#define LAYER_SIZE_MAX ((json_int_t)1 << 56)

/* ---- the pull -------------------------------------------------------------------- */

struct layer_ref {
	char digest[DVCR_DIGEST_MAX];
	uint64_t size;
};

struct pull {
	struct job *j;
	struct dvcr_client *c;
	struct dvcr_ref ref;
	struct layer_ref layers[LAYERS_MAX];
	int nlayers;
	struct imp_layer *l;
	struct imp_pipeline *p;
	bool complete;
	int rc; /* the first failure inside the stream */
	struct vim_err err;
};

static bool is_index(json_t *m)
{
	const char *mt = json_string_value(json_object_get(m, "mediaType"));
	return json_is_array(json_object_get(m, "manifests")) ||
	       (mt && (strstr(mt, "manifest.list") || strstr(mt, "image.index")));
}

/* The linux/amd64 entry of an index (or its only entry). */
static const char *pick_platform(json_t *idx)
{
	json_t *arr = json_object_get(idx, "manifests"), *e;
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

static int get_manifest(struct pull *x, const char *ref, json_t **out, struct vim_err *err)
{
	char *buf = malloc(MANIFEST_MAX);
	json_error_t je;
	size_t len = 0;
	int rc;

	*out = NULL;
	if (!buf)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	rc = dvcr_manifest_get(x->c, x->ref.repo, ref, buf, MANIFEST_MAX, &len, NULL, err);
	if (rc == 0 && !(*out = json_loadb(buf, len, 0, &je)))
		rc = vim_err_set(err, VIM_EINVAL, "%s/%s:%s: the manifest is not JSON: %s",
		                 x->ref.host, x->ref.repo, ref, je.text);
	free(buf);
	return rc;
}

/* Fills x->layers from the image's manifest (through an index). */
static int resolve(struct pull *x, struct vim_err *err)
{
	const char *ref = x->ref.digest[0] ? x->ref.digest : x->ref.tag[0] ? x->ref.tag : "latest";
	json_t *m = NULL, *layers, *e, *sz;
	size_t i;
	int rc;

	if ((rc = get_manifest(x, ref, &m, err)) < 0)
		return rc;
	if (is_index(m)) {
		const char *d = pick_platform(m);
		char digest[DVCR_DIGEST_MAX];
		if (!d || strlen(d) >= sizeof(digest)) {
			json_decref(m);
			return vim_err_set(err, VIM_EINVAL,
			                   "%s/%s:%s: the index has no linux/amd64 image",
			                   x->ref.host, x->ref.repo, ref);
		}
		snprintf(digest, sizeof(digest), "%s", d);
		json_decref(m);
		if ((rc = get_manifest(x, digest, &m, err)) < 0)
			return rc;
	}
	layers = json_object_get(m, "layers");
	if (!json_is_array(layers) || json_array_size(layers) == 0 ||
	    json_array_size(layers) > LAYERS_MAX) {
		json_decref(m);
		return vim_err_set(
		    err, VIM_EINVAL,
		    "%s/%s:%s: the manifest has no layers vimage can read (schema 2 or "
		    "OCI, 1 to %d layers)",
		    x->ref.host, x->ref.repo, ref, LAYERS_MAX);
	}
	json_array_foreach(layers, i, e)
	{
		const char *d = json_string_value(json_object_get(e, "digest"));
		const char *mt = json_string_value(json_object_get(e, "mediaType"));
		if (!d || strlen(d) >= DVCR_DIGEST_MAX) {
			json_decref(m);
			return vim_err_set(err, VIM_EINVAL, "%s/%s:%s: layer %zu has no digest",
			                   x->ref.host, x->ref.repo, ref, i);
		}
		if (mt && strstr(mt, "zstd")) {
			json_decref(m);
			return vim_err_set(
			    err, VIM_EUNSUPPORTED,
			    "%s/%s:%s: zstd layers are not supported (gzip or plain tar)",
			    x->ref.host, x->ref.repo, ref);
		}
		/* the registry's number: a negative or huge size would wrap the
		 * progress total (128 layers of 2^56 cannot) */
		sz = json_object_get(e, "size");
		if (!json_is_integer(sz) || json_integer_value(sz) < 0 ||
		    json_integer_value(sz) > LAYER_SIZE_MAX) {
			json_decref(m);
			return vim_err_set(err, VIM_EINVAL, "%s/%s:%s: layer %zu has no valid size",
			                   x->ref.host, x->ref.repo, ref, i);
		}
		snprintf(x->layers[i].digest, DVCR_DIGEST_MAX, "%s", d);
		x->layers[i].size = (uint64_t)json_integer_value(sz);
		x->j->total += x->layers[i].size;
	}
	x->nlayers = (int)json_array_size(layers);
	json_decref(m);
	return 0;
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
static int read_layer(struct pull *x, const struct layer_ref *lr, struct vim_err *err)
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
	for (i = x->nlayers - 1; i >= 0 && !x->complete; i--)
		if ((rc = read_layer(x, &x->layers[i], &err)) < 0)
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
