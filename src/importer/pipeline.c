/*
 * importer/pipeline — one pass over the source bytes: every checksum, the
 * format (through gz/xz unpacking, on the side: the file is stored as it
 * came, like upstream), and the DVCR writer.  Nothing is committed (no
 * manifest) until checksums and format are known to be good.
 */
#include "importer/digest.h"
#include "importer/internal.h"

#include <stdlib.h>
#include <string.h>

struct imp_pipeline {
	struct dvcr_image_writer *w;
	struct imp_digest *d;
	struct imp_sniff *s;
	struct imp_unpack *u;
	struct model_checksum want; /* borrowed strings: valid while the job lives */
	uint64_t size, fed;
	unsigned char head[8];
	size_t head_len;
};

static int to_sniff(void *arg, const void *data, size_t len)
{
	imp_sniff_feed(arg, data, len);
	return 0;
}

int imp_pipeline_begin(struct imp_pipeline **out, struct dvcr_client *c, const char *repo,
                       const char *file_name, uint64_t size, const struct model_checksum *want,
                       struct vim_err *err)
{
	struct imp_pipeline *p = calloc(1, sizeof(*p));
	int rc;

	*out = NULL;
	if (!p)
		return vim_err_set(err, VIM_ENOMEM, "import: out of memory");
	if (size == 0) {
		free(p);
		return vim_err_set(err, VIM_EINVAL, "the source image is empty (0 bytes)");
	}
	if (want)
		p->want = *want;
	p->size = size;
	if ((rc = imp_digest_new(&p->d, imp_digest_mask_for(want), err)) < 0 ||
	    (rc = imp_sniff_new(&p->s, err)) < 0 ||
	    (rc = dvcr_image_begin(&p->w, c, repo, file_name, size, err)) < 0) {
		imp_pipeline_abort(p);
		return rc;
	}
	*out = p;
	return 0;
}

int imp_pipeline_feed(struct imp_pipeline *p, const void *data, size_t len, struct vim_err *err)
{
	const unsigned char *b = data;
	int rc;

	if ((rc = dvcr_image_write(p->w, data, len, err)) < 0)
		return rc;
	imp_digest_update(p->d, data, len);
	p->fed += len;
	/* the packing is told by the first 6 bytes; keep them until then */
	if (!p->u) {
		size_t take = len < 6 - p->head_len ? len : 6 - p->head_len;
		memcpy(p->head + p->head_len, b, take);
		p->head_len += take;
		if (p->head_len < 6 && p->fed < p->size)
			return 0;
		if ((rc = imp_unpack_new(&p->u, imp_packing_of(p->head, p->head_len), 0, err)) < 0)
			return rc;
		/* replay what was held back, then the rest of this chunk */
		if ((rc = imp_unpack_feed(p->u, p->head, p->head_len, to_sniff, p->s, err)) < 0)
			return rc;
		b += take;
		len -= take;
	}
	return len ? imp_unpack_feed(p->u, b, len, to_sniff, p->s, err) : 0;
}

int imp_pipeline_finish(struct imp_pipeline *p, const char *tag, struct imp_result *res,
                        bool *terminal, struct vim_err *err)
{
	struct dvcr_image_labels labels;
	struct imp_format f;
	int rc;

	*terminal = false;
	memset(res, 0, sizeof(*res));
	if (p->fed != p->size) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "source image size mismatch: %llu != %llu",
		                 (unsigned long long)p->fed, (unsigned long long)p->size);
		goto fail;
	}
	if ((rc = imp_digest_verify(p->d, &p->want, err)) < 0 ||
	    (p->u && (rc = imp_unpack_finish(p->u, err)) < 0) ||
	    (rc = imp_sniff_finish(p->s, &f, err)) < 0) {
		*terminal = true; /* the same bytes would fail the same way */
		goto fail;
	}
	labels.stored_size = p->size;
	labels.virtual_size = f.virtual_size;
	labels.format = f.format;
	rc = dvcr_image_finish(p->w, tag, &labels, NULL, err);
	p->w = NULL;
	if (rc < 0)
		goto fail;
	res->stored_size = p->size;
	res->virtual_size = f.virtual_size;
	snprintf(res->format, sizeof(res->format), "%s", f.format);
	res->cdrom = f.cdrom;
	imp_pipeline_abort(p);
	return 0;
fail:
	imp_pipeline_abort(p);
	return rc;
}

void imp_pipeline_abort(struct imp_pipeline *p)
{
	if (!p)
		return;
	dvcr_image_abort(p->w);
	imp_digest_free(p->d);
	imp_sniff_free(p->s);
	imp_unpack_free(p->u);
	free(p);
}
