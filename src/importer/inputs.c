/*
 * importer/inputs — what the source rows' prepare hooks share: copying the
 * spec's checksums into a job (all of them or none: a sum silently dropped
 * would let a wrong image pass) and decoding a caBundle.
 */
#include "importer/internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

void imp_checksum_clear(struct model_checksum *c)
{
	free(c->md5);
	free(c->sha1);
	free(c->sha256);
	free(c->sha512);
	free(c->streebog256);
	free(c->streebog512);
	memset(c, 0, sizeof(*c));
}

int imp_checksum_copy(struct model_checksum *dst, const struct model_checksum *src,
                      char *(*dup)(const char *), struct vim_err *err)
{
	const char *const from[] = {src->md5,    src->sha1,        src->sha256,
	                            src->sha512, src->streebog256, src->streebog512};
	char **const to[] = {&dst->md5,    &dst->sha1,        &dst->sha256,
	                     &dst->sha512, &dst->streebog256, &dst->streebog512};

	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < sizeof(from) / sizeof(from[0]); i++) {
		if (!from[i])
			continue;
		if (!(*to[i] = dup(from[i]))) {
			imp_checksum_clear(dst);
			return vim_err_set(err, VIM_ENOMEM, "out of memory copying the checksums");
		}
	}
	return 0;
}

int imp_ca_bundle_decode(struct job *j, const char *b64, bool *terminal, struct vim_err *err)
{
	size_t n = b64 ? strlen(b64) : 0;
	int len;

	if (!n)
		return 0;
	if (!(j->ca_pem = calloc(1, n + 1)))
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	len = EVP_DecodeBlock((unsigned char *)j->ca_pem, (const unsigned char *)b64, (int)n);
	if (len <= 0) {
		*terminal = true;
		return vim_err_set(err, VIM_EINVAL, "caBundle is not base64");
	}
	return 0;
}
