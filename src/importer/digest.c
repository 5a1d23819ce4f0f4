/* importer/digest — OpenSSL EVP for the SHA family and MD5, libgcrypt for
 * Streebog (OpenSSL 3 has no GOST hash without an extra provider). */
#include "importer/digest.h"

#include <gcrypt.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

struct imp_digest {
	unsigned mask;
	EVP_MD_CTX *evp[IMP_SHA512 + 1];
	gcry_md_hd_t gost[2];
	bool done;
	char hex[IMP_ALG__COUNT][IMP_HEX_MAX];
};

static const char *const names[IMP_ALG__COUNT] = {"md5",    "sha1",        "sha256",
                                                  "sha512", "streebog256", "streebog512"};

const char *imp_alg_name(enum imp_alg a)
{
	return (unsigned)a < IMP_ALG__COUNT ? names[a] : "";
}

static const char *given(const struct model_checksum *c, enum imp_alg a)
{
	const char *const v[IMP_ALG__COUNT] = {c->md5,    c->sha1,        c->sha256,
	                                       c->sha512, c->streebog256, c->streebog512};
	return v[a];
}

unsigned imp_digest_mask_for(const struct model_checksum *want)
{
	unsigned m = 0;
	int a;

	for (a = 0; want && a < IMP_ALG__COUNT; a++)
		if (given(want, (enum imp_alg)a))
			m |= IMP_ALG_BIT(a);
	return m;
}

static pthread_once_t gcrypt_once = PTHREAD_ONCE_INIT;
static void gcrypt_init(void)
{
	gcry_check_version(NULL);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
}

int imp_digest_new(struct imp_digest **out, unsigned mask, struct vim_err *err)
{
	static const EVP_MD *(*const mds[])(void) = {EVP_md5, EVP_sha1, EVP_sha256, EVP_sha512};
	struct imp_digest *d = calloc(1, sizeof(*d));
	int a;

	*out = NULL;
	if (!d)
		return vim_err_set(err, VIM_ENOMEM, "digest: out of memory");
	d->mask = mask;
	for (a = IMP_MD5; a <= IMP_SHA512; a++) {
		if (!(mask & IMP_ALG_BIT(a)))
			continue;
		if (!(d->evp[a] = EVP_MD_CTX_new()) ||
		    !EVP_DigestInit_ex(d->evp[a], mds[a](), NULL))
			goto fail;
	}
	if (mask & (IMP_ALG_BIT(IMP_STREEBOG256) | IMP_ALG_BIT(IMP_STREEBOG512)))
		pthread_once(&gcrypt_once, gcrypt_init);
	if ((mask & IMP_ALG_BIT(IMP_STREEBOG256)) &&
	    gcry_md_open(&d->gost[0], GCRY_MD_STRIBOG256, 0) != 0)
		goto fail;
	if ((mask & IMP_ALG_BIT(IMP_STREEBOG512)) &&
	    gcry_md_open(&d->gost[1], GCRY_MD_STRIBOG512, 0) != 0)
		goto fail;
	*out = d;
	return 0;
fail:
	imp_digest_free(d);
	return vim_err_set(err, VIM_EINTERNAL, "digest: cannot initialise a hash");
}

void imp_digest_update(struct imp_digest *d, const void *data, size_t len)
{
	int a;

	if (d->done || len == 0)
		return;
	for (a = IMP_MD5; a <= IMP_SHA512; a++)
		if (d->evp[a])
			EVP_DigestUpdate(d->evp[a], data, len);
	for (a = 0; a < 2; a++)
		if (d->gost[a])
			gcry_md_write(d->gost[a], data, len);
}

static void to_hex(const unsigned char *md, size_t n, char *out)
{
	size_t i;
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void finish(struct imp_digest *d)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;
	int a;

	if (d->done)
		return;
	d->done = true;
	for (a = IMP_MD5; a <= IMP_SHA512; a++)
		if (d->evp[a] && EVP_DigestFinal_ex(d->evp[a], md, &n))
			to_hex(md, n, d->hex[a]);
	for (a = 0; a < 2; a++)
		if (d->gost[a])
			to_hex(gcry_md_read(d->gost[a], 0), a ? 64 : 32,
			       d->hex[IMP_STREEBOG256 + a]);
}

const char *imp_digest_hex(struct imp_digest *d, enum imp_alg a)
{
	finish(d);
	return (unsigned)a < IMP_ALG__COUNT ? d->hex[a] : "";
}

int imp_digest_verify(struct imp_digest *d, const struct model_checksum *want, struct vim_err *err)
{
	int a;

	finish(d);
	for (a = 0; want && a < IMP_ALG__COUNT; a++) {
		const char *w = given(want, (enum imp_alg)a);
		if (!w)
			continue;
		if (!d->hex[a][0])
			return vim_err_set(err, VIM_EINTERNAL, "%s was not computed", names[a]);
		if (strcasecmp(w, d->hex[a]) != 0)
			return vim_err_set(err, VIM_EINVAL, "%s sum mismatch: %s != %s", names[a],
			                   w, d->hex[a]);
	}
	return 0;
}

void imp_digest_free(struct imp_digest *d)
{
	int a;

	if (!d)
		return;
	for (a = IMP_MD5; a <= IMP_SHA512; a++)
		EVP_MD_CTX_free(d->evp[a]);
	for (a = 0; a < 2; a++)
		if (d->gost[a])
			gcry_md_close(d->gost[a]);
	free(d);
}
