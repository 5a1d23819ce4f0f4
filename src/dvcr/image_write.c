/*
 * dvcr/image_write — the streaming writer of a DVCR image, and the
 * no-data copy between repositories (cross-repository mount).
 */
#include "dvcr/image.h"
#include "core/digest.h"
#include "core/timeutil.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* One PATCH per chunk: big enough to keep requests few (256 per GiB), small
 * enough to keep memory flat. */
#define CHUNK (4u << 20)
#define OCTAL_MAX 077777777777ULL /* 11 octal digits: 8 GiB - 1 */
#define MANIFEST_MAX (64 * 1024)

/* ---- tar ----------------------------------------------------------------------- */

static void octal(unsigned char *field, size_t width, uint64_t v)
{
	/* width-1 digits, zero-padded, then NUL: as Go's archive/tar writes
	 * (callers keep v within width-1 octal digits) */
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%0*llo", (int)width - 1, (unsigned long long)v);

	if (n > 0 && (size_t)n < width) {
		memcpy(field, tmp, (size_t)n);
		field[n] = '\0';
	}
}

void dvcr_tar_header(unsigned char h[512], const char *name, unsigned mode, uint64_t size,
                     char typeflag)
{
	unsigned sum = 0;
	size_t i;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	octal(h + 100, 8, mode);
	octal(h + 108, 8, DVCR_DISK_UID);
	octal(h + 116, 8, DVCR_DISK_UID);
	octal(h + 124, 12, size > OCTAL_MAX ? 0 : size); /* the PAX record carries it */
	octal(h + 136, 12, 0);                           /* mtime: zero, as upstream */
	h[156] = (unsigned char)typeflag;
	memcpy(h + 257,
	       "ustar\0"
	       "00",
	       8);
	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 7, "%06o", sum);
	h[155] = ' ';
}

/* "%d key=value\n" where %d counts the whole record, itself included. */
static size_t pax_record(char *out, size_t cap, const char *key, const char *value)
{
	size_t body = strlen(key) + strlen(value) + 3, len = body + 1, digits;

	for (;;) {
		digits = (size_t)snprintf(NULL, 0, "%zu", len);
		if (body + digits == len)
			break;
		len = body + digits;
	}
	return (size_t)snprintf(out, cap, "%zu %s=%s\n", len, key, value);
}

size_t dvcr_tar_pax(unsigned char out[1024], const char *name, uint64_t size)
{
	char recs[512], num[32];
	size_t n = 0;

	memset(out, 0, 1024);
	if (size > OCTAL_MAX) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)size);
		n += pax_record(recs + n, sizeof(recs) - n, "size", num);
	}
	if (strlen(name) >= 100 && n < sizeof(recs))
		n += pax_record(recs + n, sizeof(recs) - n, "path", name);
	if (n == 0 || n >= sizeof(recs))
		return 0;
	dvcr_tar_header(out, "PaxHeaders/disk", 0644, n, 'x');
	memcpy(out + 512, recs, n);
	return 1024;
}

/* ---- the writer ------------------------------------------------------------------ */

/* The layer goes up in one streamed PATCH run by a thread of the writer's
 * own, fed through a fixed ring: the source's bytes keep arriving while
 * the registry takes the previous ones (one thread doing both in turn ran
 * at the harmonic mean of the two speeds). */
struct dvcr_image_writer {
	struct dvcr_client *c;
	char repo[DVCR_REPO_MAX];
	struct dvcr_upload *up;
	EVP_MD_CTX *sha;
	uint64_t want, got, layer_size, layer_total;
	/* the ring: guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned char *ring;
	size_t head, fill;
	bool eof, abort, up_done;
	int up_rc;
	struct vim_err up_err;
	pthread_t th;
	bool th_started;
};

/* dvcr_read_fn of the PATCH: blocks until bytes, the end or an abort. */
static long ring_read(void *ud, void *buf, size_t cap)
{
	struct dvcr_image_writer *w = ud;
	size_t n, first;

	pthread_mutex_lock(&w->mu);
	while (!w->fill && !w->eof && !w->abort)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->abort) {
		pthread_mutex_unlock(&w->mu);
		return -1;
	}
	n = w->fill < cap ? w->fill : cap;
	first = CHUNK - w->head < n ? CHUNK - w->head : n;
	memcpy(buf, w->ring + w->head, first);
	memcpy((unsigned char *)buf + first, w->ring, n - first);
	w->head = (w->head + n) % CHUNK;
	w->fill -= n;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return (long)n;
}

static void *uploader(void *arg)
{
	struct dvcr_image_writer *w = arg;
	struct vim_err e = {0};
	int rc = dvcr_upload_write_stream(w->up, ring_read, w, (int64_t)w->layer_total, &e);

	pthread_mutex_lock(&w->mu);
	w->up_rc = rc;
	w->up_err = e;
	w->up_done = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Appends layer bytes: hashed, then queued for the uploader. */
static int put(struct dvcr_image_writer *w, const void *data, size_t len, struct vim_err *err)
{
	const unsigned char *p = data;

	EVP_DigestUpdate(w->sha, data, len);
	w->layer_size += len;
	pthread_mutex_lock(&w->mu);
	while (len) {
		size_t tail, take, first;
		while (w->fill == CHUNK && !w->up_done)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->up_done) { /* it stopped early: it failed */
			int rc = w->up_rc < 0 ? w->up_rc : VIM_EUPSTREAM;
			if (w->up_rc < 0)
				*err = w->up_err;
			else
				vim_err_set(err, rc, "PATCH %s: the registry took the layer early",
				            w->repo);
			pthread_mutex_unlock(&w->mu);
			return rc;
		}
		tail = (w->head + w->fill) % CHUNK;
		take = len < CHUNK - w->fill ? len : CHUNK - w->fill;
		first = CHUNK - tail < take ? CHUNK - tail : take;
		memcpy(w->ring + tail, p, first);
		memcpy(w->ring, p + first, take - first);
		w->fill += take;
		p += take;
		len -= take;
		pthread_cond_broadcast(&w->cv);
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* Ends the stream and waits for the PATCH to complete. */
static int drain(struct dvcr_image_writer *w, struct vim_err *err)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	w->eof = true;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	w->th_started = false;
	if ((rc = w->up_rc) < 0)
		*err = w->up_err;
	return rc;
}

/* A base name fit for "disk/<name>": no path, no control characters. */
static void sanitize(char *out, size_t cap, const char *name)
{
	const char *base = name ? strrchr(name, '/') : NULL;
	size_t n = 0;

	base = base ? base + 1 : name;
	for (; base && *base && n + 1 < cap; base++)
		if ((unsigned char)*base > 0x20 && *base != 0x7f && *base != '\\')
			out[n++] = *base;
	if (n == 0 || (n <= 2 && out[0] == '.'))
		n = (size_t)snprintf(out, cap, "disk.img");
	out[n] = '\0';
}

int dvcr_image_begin(struct dvcr_image_writer **out, struct dvcr_client *c, const char *repo,
                     const char *file_name, uint64_t size, struct vim_err *err)
{
	struct dvcr_image_writer *w = calloc(1, sizeof(*w));
	unsigned char h[1024], dir[512];
	char base[200], path[210];
	size_t n;
	int rc;

	*out = NULL;
	if (!w || !(w->ring = malloc(CHUNK)) || !(w->sha = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL)) {
		dvcr_image_abort(w);
		return vim_err_set(err, VIM_ENOMEM, "dvcr %s: out of memory", repo);
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->c = c;
	w->want = size;
	snprintf(w->repo, sizeof(w->repo), "%s", repo);
	if ((rc = dvcr_upload_begin(c, repo, &w->up, err)) < 0) {
		dvcr_image_abort(w);
		return rc;
	}
	sanitize(base, sizeof(base), file_name);
	snprintf(path, sizeof(path), "disk/%s", base);
	n = dvcr_tar_pax(h, path, size);
	/* directory, PAX, file header, the file, its padding, the end marker */
	w->layer_total = 512 + n + 512 + size + (512 - size % 512) % 512 + 1024;
	if (pthread_create(&w->th, NULL, uploader, w) != 0) {
		dvcr_image_abort(w);
		return vim_err_set(err, VIM_EINTERNAL, "dvcr %s: cannot start the uploader", repo);
	}
	w->th_started = true;
	dvcr_tar_header(dir, "disk", 0755, 0, '5');
	if ((rc = put(w, dir, 512, err)) < 0)
		goto fail;
	if (n && (rc = put(w, h, n, err)) < 0) /* h holds the PAX headers */
		goto fail;
	dvcr_tar_header(h, path, 0644, size, '0');
	if ((rc = put(w, h, 512, err)) < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	dvcr_image_abort(w);
	return rc;
}

int dvcr_image_write(struct dvcr_image_writer *w, const void *data, size_t len, struct vim_err *err)
{
	if (w->got + len > w->want)
		return vim_err_set(err, VIM_EINVAL,
		                   "source image size mismatch: more than %llu bytes",
		                   (unsigned long long)w->want);
	w->got += len;
	return put(w, data, len, err);
}

void dvcr_image_abort(struct dvcr_image_writer *w)
{
	if (!w)
		return;
	if (w->th_started) {
		pthread_mutex_lock(&w->mu);
		w->abort = true;
		pthread_cond_broadcast(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->th, NULL);
	}
	dvcr_upload_cancel(w->up, NULL);
	EVP_MD_CTX_free(w->sha);
	if (w->ring) {
		pthread_mutex_destroy(&w->mu);
		pthread_cond_destroy(&w->cv);
	}
	free(w->ring);
	free(w);
}

static void hex_digest(EVP_MD_CTX *ctx, char out[DVCR_DIGEST_MAX])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_DigestFinal_ex(ctx, md, &n);
	vim_digest_format(out, md);
}

static int push_small_blob(struct dvcr_client *c, const char *repo, const char *data, size_t len,
                           char digest[DVCR_DIGEST_MAX], struct vim_err *err)
{
	struct dvcr_upload *up = NULL;
	unsigned char md[32];
	unsigned int n = 0;
	int rc;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	vim_digest_format(digest, md);
	if ((rc = dvcr_upload_begin(c, repo, &up, err)) < 0)
		return rc;
	if ((rc = dvcr_upload_write(up, data, len, err)) < 0) {
		dvcr_upload_cancel(up, NULL);
		return rc;
	}
	return dvcr_upload_finish(up, digest, err);
}

int dvcr_image_finish(struct dvcr_image_writer *w, const char *tag,
                      const struct dvcr_image_labels *l, char *digest_out, struct vim_err *err)
{
	static const unsigned char zeros[1024];
	char layer[DVCR_DIGEST_MAX], cfgd[DVCR_DIGEST_MAX], now[VIM_TIME_TEXT_MAX], vs[24], ss[24];
	char *cfg = NULL, *man = NULL;
	json_t *cj = NULL, *mj = NULL;
	size_t pad = (512 - w->want % 512) % 512;
	int rc;

	if (w->got != w->want) {
		rc = vim_err_set(err, VIM_EINVAL, "source image size mismatch: %llu != %llu",
		                 (unsigned long long)w->got, (unsigned long long)w->want);
		goto out;
	}
	/* padding to the record, then the two zero blocks of the end marker */
	if ((pad && (rc = put(w, zeros, pad, err)) < 0) || (rc = put(w, zeros, 1024, err)) < 0 ||
	    (rc = drain(w, err)) < 0)
		goto out;
	hex_digest(w->sha, layer);
	rc = dvcr_upload_finish(w->up, layer, err);
	w->up = NULL; /* finish frees the session, also on failure */
	if (rc < 0)
		goto out;
	vim_time_format(vim_time_now(), now, sizeof(now));
	snprintf(vs, sizeof(vs), "%llu", (unsigned long long)l->virtual_size);
	snprintf(ss, sizeof(ss), "%llu", (unsigned long long)l->stored_size);
	cj = json_pack(
	    "{s:s,s:s,s:s,s:[{s:s,s:s,s:s},{s:s}],s:s,s:{s:s,s:[s]},s:{s:{s:s,s:s,s:s,s:"
	    "s},s:s}}",
	    "architecture", "amd64", "author", "DVCR client", "created", now, "history", "author",
	    "DVCR client", "created", now, "comment", "streamed from the datasource", "created",
	    "0001-01-01T00:00:00Z", "os", "linux", "rootfs", "type", "layers", "diff_ids", layer,
	    "config", "Labels", "erofs-compatible-layers", "true", "source-image-virtual-size", vs,
	    "source-image-size", ss, "source-image-format", l->format, "WorkingDir", "/");
	if (!cj || !(cfg = json_dumps(cj, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr %s: out of memory", w->repo);
		goto out;
	}
	if ((rc = push_small_blob(w->c, w->repo, cfg, strlen(cfg), cfgd, err)) < 0)
		goto out;
	mj = json_pack("{s:i,s:s,s:{s:s,s:I,s:s},s:[{s:s,s:I,s:s}]}", "schemaVersion", 2,
	               "mediaType", DVCR_MT_DOCKER_V2, "config", "mediaType", DVCR_MT_DOCKER_CONFIG,
	               "size", (json_int_t)strlen(cfg), "digest", cfgd, "layers", "mediaType",
	               DVCR_MT_LAYER_TAR, "size", (json_int_t)w->layer_size, "digest", layer);
	if (!mj || !(man = json_dumps(mj, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr %s: out of memory", w->repo);
		goto out;
	}
	rc = dvcr_manifest_put(w->c, w->repo, tag, DVCR_MT_DOCKER_V2, man, strlen(man), digest_out,
	                       err);
out:
	json_decref(cj);
	json_decref(mj);
	free(cfg);
	free(man);
	dvcr_image_abort(w);
	return rc;
}

/* ---- copy by mount ------------------------------------------------------------------ */

static int mount_one(struct dvcr_client *c, const char *to, const char *from, const json_t *desc,
                     struct vim_err *err)
{
	const char *digest = json_string_value(json_object_get(desc, "digest"));
	int mounted = 0, rc;

	if (!digest)
		return vim_err_set(err, VIM_EUPSTREAM, "%s: a manifest entry has no digest", from);
	rc = dvcr_blob_mount(c, to, digest, from, &mounted, NULL, err);
	if (rc < 0)
		return rc;
	if (!mounted) /* the registry would need the data sent again: refuse */
		return vim_err_set(err, VIM_EUPSTREAM,
		                   "%s: the registry did not mount %s from %s (no copy was made)",
		                   to, digest, from);
	return 0;
}

int dvcr_image_copy(struct dvcr_client *c, const char *repo_from, const char *tag_from,
                    const char *repo_to, const char *tag_to, struct vim_err *err)
{
	struct dvcr_manifest_info mi;
	char *buf = malloc(MANIFEST_MAX);
	json_t *m = NULL, *layer;
	size_t len = 0, i;
	int rc;

	if (!buf)
		return vim_err_set(err, VIM_ENOMEM, "dvcr copy: out of memory");
	if ((rc = dvcr_manifest_get(c, repo_from, tag_from, buf, MANIFEST_MAX, &len, &mi, err)) < 0)
		goto out;
	if (!(m = json_loadb(buf, len, 0, NULL)) || !json_is_object(json_object_get(m, "config"))) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "%s:%s: not an image manifest", repo_from,
		                 tag_from);
		goto out;
	}
	if ((rc = mount_one(c, repo_to, repo_from, json_object_get(m, "config"), err)) < 0)
		goto out;
	json_array_foreach(json_object_get(m, "layers"), i, layer)
	{
		if ((rc = mount_one(c, repo_to, repo_from, layer, err)) < 0)
			goto out;
	}
	/* the same bytes, so the same manifest digest */
	rc = dvcr_manifest_put(c, repo_to, tag_to,
	                       mi.media_type[0] ? mi.media_type : DVCR_MT_DOCKER_V2, buf, len, NULL,
	                       err);
out:
	json_decref(m);
	free(buf);
	return rc;
}
