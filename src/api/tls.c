/*
 * api/tls — the self-signed certificate vimaged serves kubectl with.
 *
 * Why it exists: kubectl (client-go) sends credentials — the bearer token,
 * basic auth, client certificates — only over TLS; against an http://
 * server it sends none, so a token-protected plain-HTTP API cannot be used
 * from kubectl at all.  vimaged therefore also listens with TLS on
 * loopback, with a certificate it makes once under the data directory,
 * and the kubeconfig it writes trusts exactly that certificate.
 */
#include "api/api.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CERT_DAYS 3650

/* Written to a temp file and renamed: a crash leaves the old file or
 * none, never half a key that the next start would serve and fail on. */
static int write_pem(const char *path, int (*emit)(FILE *, void *), void *obj, struct vim_err *err)
{
	char tmp[4200];
	int fd;
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return vim_err_set(err, VIM_EINVAL, "%s: the path is too long", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return vim_err_set(err, VIM_EIO, "cannot write %s: %s", tmp, strerror(errno));
	}
	fchmod(fd, 0600); /* a leftover temp file keeps its mode through O_TRUNC */
	if (!emit(f, obj)) {
		fclose(f);
		unlink(tmp);
		return vim_err_set(err, VIM_EIO, "cannot write %s", tmp);
	}
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return vim_err_set(err, VIM_EIO, "cannot write %s: %s", path, strerror(errno));
	}
	return 0;
}

static int emit_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int emit_cert(FILE *f, void *c)
{
	return PEM_write_X509(f, c);
}

static int add_ext(X509 *cert, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ex)
		return 0;
	ok = X509_add_ext(cert, ex, -1);
	X509_EXTENSION_free(ex);
	return ok;
}

int api_tls_ensure(const char *dir, char *cert_path, size_t cert_len, char *key_path,
                   size_t key_len, struct vim_err *err)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	X509_NAME *name;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int rc = VIM_EIO;

	vim_err_clear(err);
	snprintf(cert_path, cert_len, "%s/tls.crt", dir);
	snprintf(key_path, key_len, "%s/tls.key", dir);
	if (access(cert_path, R_OK) == 0 && access(key_path, R_OK) == 0)
		return 0; /* made on an earlier start: the kubeconfig keeps working */

	key = EVP_EC_gen("P-256");
	cert = X509_new();
	if (!key || !cert || RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) ||
	    !X509_set_version(cert, 2) || !X509_gmtime_adj(X509_getm_notBefore(cert), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(cert), (long)CERT_DAYS * 24 * 3600) ||
	    !X509_set_pubkey(cert, key))
		goto out;
	name = X509_get_subject_name(cert);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"vimaged",
	                                -1, -1, 0) ||
	    !X509_set_issuer_name(cert, name) ||
	    !add_ext(cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost") ||
	    !add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") ||
	    !X509_sign(cert, key, EVP_sha256()))
		goto out;
	/* the key first: the certificate's presence says both are complete */
	if ((rc = write_pem(key_path, emit_key, key, err)) < 0 ||
	    (rc = write_pem(cert_path, emit_cert, cert, err)) < 0)
		goto out;
	rc = 0;
out:
	if (rc == VIM_EIO && err && !err->msg[0])
		vim_err_set(err, VIM_EIO, "cannot make a TLS certificate in %s", dir);
	BN_free(bn);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}
