/*
 * importer/unpack — gzip (zlib, concatenated members) and xz (liblzma)
 * decoded as the bytes arrive, through one fixed buffer, with a bound on
 * the output and on the expansion ratio so a bomb fails early.
 */
#include "importer/sniff.h"

#include <lzma.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define OUT_CHUNK (64 * 1024)
#define DEFAULT_MAX_OUT (1ULL << 40)
#define BOMB_RATIO 1000
#define BOMB_GRACE (1u << 20)

struct imp_unpack {
	enum imp_packing p;
	z_stream z;
	lzma_stream x;
	bool ended; /* the compressed stream reached its end marker */
	uint64_t in_total, out_total, max_out;
	unsigned char out[OUT_CHUNK];
};

enum imp_packing imp_packing_of(const void *first, size_t len)
{
	const unsigned char *p = first;

	if (len >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return IMP_GZIP;
	if (len >= 6 && memcmp(p,
	                       "\xfd"
	                       "7zXZ\0",
	                       6) == 0)
		return IMP_XZ;
	return IMP_PLAIN;
}

int imp_unpack_new(struct imp_unpack **out, enum imp_packing p, uint64_t max_out,
                   struct vim_err *err)
{
	struct imp_unpack *u = calloc(1, sizeof(*u));
	lzma_stream init = LZMA_STREAM_INIT;

	*out = NULL;
	if (!u)
		return vim_err_set(err, VIM_ENOMEM, "unpack: out of memory");
	u->p = p;
	u->max_out = max_out ? max_out : DEFAULT_MAX_OUT;
	u->x = init;
	if (p == IMP_GZIP && inflateInit2(&u->z, 15 + 32) != Z_OK) {
		free(u);
		return vim_err_set(err, VIM_ENOMEM, "gzip: cannot start the decoder");
	}
	if (p == IMP_XZ && lzma_stream_decoder(&u->x, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
		free(u);
		return vim_err_set(err, VIM_ENOMEM, "xz: cannot start the decoder");
	}
	*out = u;
	return 0;
}

static int emit(struct imp_unpack *u, size_t n, imp_out_fn fn, void *arg, struct vim_err *err)
{
	const char *what = u->p == IMP_GZIP ? "gzip" : "xz";

	if (n == 0)
		return 0;
	u->out_total += n;
	if (u->out_total > u->max_out)
		return vim_err_set(err, VIM_EINVAL, "%s: the data expands beyond %llu bytes", what,
		                   (unsigned long long)u->max_out);
	if (u->out_total > BOMB_GRACE && u->out_total / BOMB_RATIO > u->in_total)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "%s: the data expands beyond %d:1 (%llu bytes from %llu): refused "
		    "as a decompression bomb",
		    what, BOMB_RATIO, (unsigned long long)u->out_total,
		    (unsigned long long)u->in_total);
	return fn(arg, u->out, n);
}

static int feed_gzip(struct imp_unpack *u, const void *in, size_t len, imp_out_fn fn, void *arg,
                     struct vim_err *err)
{
	int zr, rc;

	u->z.next_in = (Bytef *)in;
	u->z.avail_in = (uInt)len;
	while (u->z.avail_in > 0) {
		if (u->ended) {
			/* another member follows (gzip allows concatenation) */
			if (inflateReset(&u->z) != Z_OK)
				return vim_err_set(err, VIM_EINVAL, "gzip: cannot continue");
			u->ended = false;
		}
		u->z.next_out = u->out;
		u->z.avail_out = OUT_CHUNK;
		zr = inflate(&u->z, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR)
			return vim_err_set(err, VIM_EINVAL, "gzip: corrupt data: %s",
			                   u->z.msg ? u->z.msg : "inflate failed");
		if ((rc = emit(u, OUT_CHUNK - u->z.avail_out, fn, arg, err)) != 0)
			return rc;
		if (zr == Z_STREAM_END)
			u->ended = true;
		else if (zr == Z_BUF_ERROR && u->z.avail_out != 0)
			break;
	}
	return 0;
}

static int feed_xz(struct imp_unpack *u, const void *in, size_t len, lzma_action act, imp_out_fn fn,
                   void *arg, struct vim_err *err)
{
	lzma_ret r;
	int rc;

	u->x.next_in = in;
	u->x.avail_in = len;
	do {
		u->x.next_out = u->out;
		u->x.avail_out = OUT_CHUNK;
		r = lzma_code(&u->x, act);
		if (r != LZMA_OK && r != LZMA_STREAM_END && r != LZMA_BUF_ERROR)
			return vim_err_set(err, VIM_EINVAL, "xz: corrupt data (lzma error %d)",
			                   (int)r);
		if ((rc = emit(u, OUT_CHUNK - u->x.avail_out, fn, arg, err)) != 0)
			return rc;
		if (r == LZMA_STREAM_END) {
			u->ended = true;
			break;
		}
		if (r == LZMA_BUF_ERROR)
			break;
	} while (u->x.avail_in > 0 || u->x.avail_out == 0);
	return 0;
}

static int ignore(void *arg, const void *data, size_t len)
{
	(void)arg, (void)data, (void)len;
	return 0;
}

int imp_unpack_feed(struct imp_unpack *u, const void *in, size_t len, imp_out_fn fn, void *arg,
                    struct vim_err *err)
{
	u->in_total += len;
	if (u->p == IMP_GZIP)
		return feed_gzip(u, in, len, fn, arg, err);
	if (u->p == IMP_XZ)
		return feed_xz(u, in, len, LZMA_RUN, fn, arg, err);
	u->out_total += len;
	return len ? fn(arg, in, len) : 0;
}

int imp_unpack_finish(struct imp_unpack *u, struct vim_err *err)
{
	int rc;

	if (u->p == IMP_XZ && !u->ended) {
		/* LZMA_CONCATENATED needs LZMA_FINISH to report the end */
		if ((rc = feed_xz(u, NULL, 0, LZMA_FINISH, ignore, NULL, err)) < 0)
			return rc;
	}
	if (u->p != IMP_PLAIN && !u->ended)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "%s: the compressed data ends early (truncated after %llu bytes)",
		    u->p == IMP_GZIP ? "gzip" : "xz", (unsigned long long)u->in_total);
	return 0;
}

uint64_t imp_unpack_total(const struct imp_unpack *u)
{
	return u->out_total;
}

void imp_unpack_free(struct imp_unpack *u)
{
	if (!u)
		return;
	if (u->p == IMP_GZIP)
		inflateEnd(&u->z);
	if (u->p == IMP_XZ)
		lzma_end(&u->x);
	free(u);
}
