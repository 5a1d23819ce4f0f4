/*
 * importer/digest — every checksum an image may carry, computed in one pass
 * over the bytes as they stream: md5, sha1, sha256, sha512 (OpenSSL) and
 * GOST R 34.11-2012 Streebog 256/512 (libgcrypt).
 */
#ifndef VIM_IMPORTER_DIGEST_H
#define VIM_IMPORTER_DIGEST_H

#include "model/model.h"

#include <stddef.h>

enum imp_alg {
	IMP_MD5 = 0,
	IMP_SHA1,
	IMP_SHA256,
	IMP_SHA512,
	IMP_STREEBOG256,
	IMP_STREEBOG512,
	IMP_ALG__COUNT
};
#define IMP_ALG_BIT(a) (1u << (a))
#define IMP_HEX_MAX 129

struct imp_digest; /* opaque; owned by the caller */

/* The algorithms a checksum object names (0 when none). */
unsigned imp_digest_mask_for(const struct model_checksum *want);

/* *out is freed with imp_digest_free. */
int imp_digest_new(struct imp_digest **out, unsigned mask, struct vim_err *err);
void imp_digest_update(struct imp_digest *d, const void *data, size_t len);
/* Finishes every algorithm (once); hex is lowercase.  Later updates are
 * ignored.  Returns "" for an algorithm not in the mask. */
const char *imp_digest_hex(struct imp_digest *d, enum imp_alg a);
/* Every checksum given in want must match (case-insensitively); else
 * VIM_EINVAL with "<alg> sum mismatch: <expected> != <actual>". */
int imp_digest_verify(struct imp_digest *d, const struct model_checksum *want, struct vim_err *err);
void imp_digest_free(struct imp_digest *d);

const char *imp_alg_name(enum imp_alg a); /* "md5", ..., "streebog512" */

#endif
