/*
 * vimagectl/upload — `vimagectl upload vi/NAME FILE [-n NS]`: waits for the
 * image to publish its upload URL, streams the file there (a progress bar
 * on a terminal, a line per 10% otherwise) computing its sha256 on the
 * way, then waits for the verdict.
 */
#include "vimagectl.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_URL_S 60
#define WAIT_READY_S 600

struct feed {
	FILE *f;
	EVP_MD_CTX *sha;
	curl_off_t total;
	bool tty;
	int last_decile;
	double t0, last_draw;
};

static void human(double b, char *out, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static size_t on_read(char *buf, size_t size, size_t n, void *ud)
{
	struct feed *fd = ud;
	size_t got = fread(buf, 1, size * n, fd->f);

	if (got)
		EVP_DigestUpdate(fd->sha, buf, got);
	else if (ferror(fd->f))
		return CURL_READFUNC_ABORT;
	return got;
}

static size_t discard(char *data, size_t size, size_t n, void *ud)
{
	(void)data;
	(void)ud;
	return size * n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct feed *fd = ud;
	double t = now_s(), el = t - fd->t0, rate = el > 0 ? (double)un / el : 0;
	double pct = fd->total ? 100.0 * (double)un / (double)fd->total : 100;
	char done[32], all[32], speed[32];
	int decile = (int)(pct / 10);

	(void)dt;
	(void)dn;
	(void)ut;
	human((double)un, done, sizeof(done));
	human((double)fd->total, all, sizeof(all));
	human(rate, speed, sizeof(speed));
	if (fd->tty) {
		char bar[31];
		int fill = (int)(pct * 30 / 100), i;
		long eta = rate > 0 ? (long)((double)(fd->total - un) / rate) : 0;
		if (t - fd->last_draw < 0.1 && un < fd->total)
			return 0;
		fd->last_draw = t;
		for (i = 0; i < 30; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[30] = '\0';
		fprintf(stderr, "\r[%s] %5.1f%%  %s / %s  %s/s  ETA %ld:%02ld ", bar, pct, done,
		        all, speed, eta / 60, eta % 60);
	} else if (decile > fd->last_decile) {
		fd->last_decile = decile;
		fprintf(stderr, "upload: %3.0f%%  %s of %s  %s/s\n", pct, done, all, speed);
	}
	return 0;
}

/* Polls the object until pred says stop; *obj is the last state. */
static int wait_for(const struct conn *c, const char *path, int limit_s, bool (*pred)(json_t *obj),
                    json_t **obj, struct vim_err *err)
{
	double until = now_s() + limit_s;
	int rc;

	for (;;) {
		if ((rc = conn_get_json(c, path, obj, err)) < 0)
			return rc;
		if (pred(*obj))
			return 0;
		if (now_s() > until)
			return vim_err_set(err, VIM_ETIMEDOUT, "gave up after %d s", limit_s);
		json_decref(*obj);
		*obj = NULL;
		usleep(300 * 1000);
	}
}

const char *phase_of(json_t *obj)
{
	const char *p = json_string_value(json_object_get(json_object_get(obj, "status"), "phase"));
	return p ? p : "";
}

static const char *ready_message(json_t *obj)
{
	json_t *conds = json_object_get(json_object_get(obj, "status"), "conditions"), *e;
	size_t i;

	json_array_foreach(conds, i, e)
	{
		const char *t = json_string_value(json_object_get(e, "type"));
		if (t && strcmp(t, "Ready") == 0)
			return json_string_value(json_object_get(e, "message"));
	}
	return NULL;
}

static bool url_or_settled(json_t *obj)
{
	const char *p = phase_of(obj);
	json_t *u = json_object_get(json_object_get(obj, "status"), "imageUploadURLs");
	return (strcmp(p, "WaitForUserUpload") == 0 &&
	        json_string_value(json_object_get(u, "external"))) ||
	       strcmp(p, "Ready") == 0 || strcmp(p, "Failed") == 0;
}

static bool settled(json_t *obj)
{
	const char *p = phase_of(obj);
	return strcmp(p, "Ready") == 0 || strcmp(p, "Failed") == 0;
}

static int put_file(const char *url, const char *file, char sum[65], struct vim_err *err)
{
	struct feed fd = {.tty = isatty(2) != 0};
	unsigned char md[32];
	unsigned int mdl = 0, i;
	char cerr[CURL_ERROR_SIZE] = "";
	struct stat st;
	long code = 0;
	CURLcode cc;
	CURL *h;

	if (!(fd.f = fopen(file, "rb")) || fstat(fileno(fd.f), &st) != 0) {
		int e = errno;
		if (fd.f)
			fclose(fd.f);
		return vim_err_set(err, VIM_EINVAL, "%s: %s", file, strerror(e));
	}
	if (!(h = curl_easy_init()) || !(fd.sha = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(fd.sha, EVP_sha256(), NULL)) {
		fclose(fd.f);
		curl_easy_cleanup(h);
		EVP_MD_CTX_free(fd.sha);
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	}
	fd.total = (curl_off_t)st.st_size;
	fd.t0 = now_s();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, fd.total);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &fd);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &fd);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard); /* vimaged's {"status":"ok"} */
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (fd.tty)
		fputc('\n', stderr);
	EVP_DigestFinal_ex(fd.sha, md, &mdl);
	for (i = 0; i < mdl && i < 32; i++)
		snprintf(sum + 2 * i, 3, "%02x", md[i]);
	EVP_MD_CTX_free(fd.sha);
	fclose(fd.f);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK)
		return vim_err_set(err, VIM_EUPSTREAM, "upload to %s: %s", url,
		                   cerr[0] ? cerr : curl_easy_strerror(cc));
	if (code != 200)
		return vim_err_set(err, VIM_EUPSTREAM, "upload to %s: vimaged answered %ld", url,
		                   code);
	return 0;
}

int upload_image(const struct conn *c, const char *ref, const char *path, const char *file,
                 struct vim_err *err)
{
	char sum[65] = "";
	json_t *obj = NULL;
	int rc;

	if ((rc = wait_for(c, path, WAIT_URL_S, url_or_settled, &obj, err)) < 0)
		return rc;
	if (strcmp(phase_of(obj), "WaitForUserUpload") != 0) {
		rc = vim_err_set(err, VIM_EINVAL, "it is %s, not waiting for an upload",
		                 phase_of(obj));
		goto out;
	}
	rc = put_file(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(obj, "status"), "imageUploadURLs"), "external")),
	    file, sum, err);
	json_decref(obj);
	obj = NULL;
	if (rc < 0)
		return rc;
	printf("sha256 %s  %s\n", sum, file);
	fflush(stdout);
	if ((rc = wait_for(c, path, WAIT_READY_S, settled, &obj, err)) < 0)
		goto out;
	if (strcmp(phase_of(obj), "Ready") != 0) {
		rc = vim_err_set(err, VIM_EUPSTREAM, "Failed: %s",
		                 ready_message(obj) ? ready_message(obj) : "");
		goto out;
	}
	{
		json_t *st = json_object_get(obj, "status"), *sz = json_object_get(st, "size");
		printf("%s Ready: %s, %s virtual, %s stored\n", ref,
		       json_string_value(json_object_get(st, "format")),
		       json_string_value(json_object_get(sz, "unpacked")),
		       json_string_value(json_object_get(sz, "stored")));
	}
out:
	json_decref(obj);
	return rc;
}

int cmd_upload(const struct conn *c, int argc, char **argv)
{
	const char *ns = "default", *ref = NULL, *file = NULL;
	struct vim_err err = {0};
	char path[512];
	bool cluster, extra = false;
	int i;

	for (i = 0; i < argc; i++) {
		if ((strcmp(argv[i], "-n") == 0 || strcmp(argv[i], "--namespace") == 0) &&
		    i + 1 < argc)
			ns = argv[++i];
		else if (!ref)
			ref = argv[i];
		else if (!file)
			file = argv[i];
		else
			extra = true;
	}
	if (!ref || !file || extra) {
		fprintf(stderr, "usage: vimagectl upload vi/NAME|cvi/NAME FILE [-n NAMESPACE]\n");
		return CTL_EXIT_USAGE;
	}
	if (object_path(ref, ns, path, sizeof(path), &cluster, &err) < 0) {
		fprintf(stderr, "vimagectl: %s\n", err.msg);
		return CTL_EXIT_USAGE;
	}
	if (access(file, R_OK) != 0) {
		fprintf(stderr, "vimagectl: %s: %s\n", file, strerror(errno));
		return CTL_EXIT_FAILED;
	}
	if (upload_image(c, ref, path, file, &err) < 0) {
		fprintf(stderr, "vimagectl: upload %s: %s\n", ref, err.msg);
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}
