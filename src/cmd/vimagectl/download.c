/*
 * vimagectl/download — `vimagectl download vi/NAME -o FILE|-`: the image's
 * DVCR layer streams from vimaged (no registry credentials needed), its
 * sha256 is checked against the layer digest, and disk/<file> is taken out
 * of the tar on the way.  A file that does not verify is removed.
 */
#include "vimagectl.h"
#include "core/digest.h"
#include "importer/layer.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct dl {
	const char *out_path; /* "-" = stdout */
	char part[4200];
	FILE *out;
	EVP_MD_CTX *sha;
	struct imp_layer *layer;
	bool done; /* the disk file is complete */
	char disk[256];
	uint64_t disk_size, written;
	char digest[96];
	struct vim_err err;
	int rc;
};

static int disk_begin(void *ud, const char *name, uint64_t size, struct vim_err *err)
{
	struct dl *d = ud;

	snprintf(d->disk, sizeof(d->disk), "%s", name);
	d->disk_size = size;
	if (strcmp(d->out_path, "-") == 0) {
		d->out = stdout;
		return 0;
	}
	snprintf(d->part, sizeof(d->part), "%s.part", d->out_path);
	if (!(d->out = fopen(d->part, "wb")))
		return vim_err_set(err, VIM_EIO, "%s: %s", d->part, strerror(errno));
	return 0;
}

static int disk_data(void *ud, const void *data, size_t len, struct vim_err *err)
{
	struct dl *d = ud;

	if (fwrite(data, 1, len, d->out) != len)
		return vim_err_set(err, VIM_EIO, "%s: %s", d->part[0] ? d->part : "stdout",
		                   strerror(errno));
	d->written += len;
	return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = size * n;
	int rc;

	EVP_DigestUpdate(d->sha, data, len); /* every byte: the digest is the layer's */
	if (!d->done && d->rc == 0) {
		rc = imp_layer_feed(d->layer, data, len, &d->err);
		if (rc == 1)
			d->done = true;
		else if (rc < 0)
			d->rc = rc;
	}
	return d->rc < 0 ? 0 : len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
	struct dl *d = ud;
	size_t len = size * n;

	if (len > 23 && strncasecmp(data, "Docker-Content-Digest:", 22) == 0) {
		const char *v = data + 22;
		while (*v == ' ')
			v++;
		snprintf(d->digest, sizeof(d->digest), "%.*s", (int)strcspn(v, "\r\n"), v);
	}
	return len;
}

static int fetch(const struct conn *c, const char *path, struct dl *d, struct vim_err *err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	char url[1200], cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode cc;

	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	hdrs = conn_prepare(c, h, path, url, sizeof(url));
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, d);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (d->rc < 0) {
		*err = d->err;
		return d->rc;
	}
	if (cc != CURLE_OK) {
		if (code == 404)
			return vim_err_set(err, VIM_ENOTFOUND, "not found");
		if (code == 409)
			return vim_err_set(err, VIM_ECONFLICT, "it is not Ready");
		return vim_err_set(err, VIM_EUPSTREAM, "GET %s: %s", url,
		                   cerr[0] ? cerr : curl_easy_strerror(cc));
	}
	return 0;
}

int cmd_download(const struct conn *c, int argc, char **argv)
{
	const char *ns = "default", *ref = NULL;
	struct dl d = {.out_path = NULL};
	struct vim_err err = {0};
	char path[600], api[512], got[96];
	unsigned char md[32];
	unsigned int mdl = 0, i;
	bool cluster, bad = false;
	int rc;

	for (i = 0; i < (unsigned)argc; i++) {
		if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--namespace")) &&
		    i + 1 < (unsigned)argc)
			ns = argv[++i];
		else if (!strcmp(argv[i], "-o") && i + 1 < (unsigned)argc)
			d.out_path = argv[++i];
		else if (!ref)
			ref = argv[i];
		else
			bad = true;
	}
	if (!ref || !d.out_path || bad) {
		fprintf(stderr,
		        "usage: vimagectl download vi/NAME|cvi/NAME -o FILE|- [-n NAMESPACE]\n");
		return CTL_EXIT_USAGE;
	}
	if (object_path(ref, ns, api, sizeof(api), &cluster, &err) < 0) {
		fprintf(stderr, "vimagectl: %s\n", err.msg);
		return CTL_EXIT_USAGE;
	}
	if (cluster)
		snprintf(path, sizeof(path), "/download/cvi/%s", strchr(ref, '/') + 1);
	else
		snprintf(path, sizeof(path), "/download/vi/%s/%s", ns, strchr(ref, '/') + 1);
	if (!(d.sha = EVP_MD_CTX_new()) || !EVP_DigestInit_ex(d.sha, EVP_sha256(), NULL) ||
	    imp_layer_new(&d.layer, disk_begin, disk_data, &d, &err) < 0) {
		fprintf(stderr, "vimagectl: out of memory\n");
		EVP_MD_CTX_free(d.sha);
		return CTL_EXIT_FAILED;
	}
	rc = fetch(c, path, &d, &err);
	EVP_DigestFinal_ex(d.sha, md, &mdl);
	vim_digest_format(got, md);
	if (rc == 0 && !d.done)
		rc = vim_err_set(&err, VIM_EUPSTREAM, "the layer ended before its disk/ file did");
	if (rc == 0 && strcmp(got, d.digest) != 0)
		rc = vim_err_set(&err, VIM_EUPSTREAM, "layer digest mismatch: got %s, DVCR says %s",
		                 got, d.digest[0] ? d.digest : "(none)");
	if (d.out && d.out != stdout && fclose(d.out) != 0 && rc == 0)
		rc = vim_err_set(&err, VIM_EIO, "%s: %s", d.part, strerror(errno));
	if (d.out == stdout)
		fflush(stdout);
	if (rc == 0 && d.part[0] && rename(d.part, d.out_path) != 0)
		rc = vim_err_set(&err, VIM_EIO, "%s: %s", d.out_path, strerror(errno));
	if (rc < 0 && d.part[0])
		unlink(d.part);
	imp_layer_free(d.layer);
	EVP_MD_CTX_free(d.sha);
	if (rc < 0) {
		fprintf(stderr, "vimagectl: download %s: %s\n", ref, err.msg);
		return CTL_EXIT_FAILED;
	}
	fprintf(stderr, "%s: disk/%s, %llu bytes -> %s; layer %s verified\n", ref, d.disk,
	        (unsigned long long)d.written, strcmp(d.out_path, "-") ? d.out_path : "stdout",
	        got);
	return CTL_EXIT_OK;
}
