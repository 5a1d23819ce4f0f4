/* Drives the DVCR image writer and copier against a real registry.
 *   dvcr_image URL write FILE REPO TAG FORMAT VSIZE [DECLARED_SIZE]
 *   dvcr_image URL copy REPO_FROM TAG_FROM REPO_TO TAG_TO
 *   dvcr_image URL remove IMAGE_ADDRESS   (host:port/repo:tag, "" = none)
 *   dvcr_image URL host
 *   dvcr_image URL layer IMAGE_ADDRESS    (prints "ok <digest> <size>")
 * Prints "ok <manifest digest>" or "error: <message>". */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dvcr/image.h"

static int do_write(struct dvcr_client *c, char **a, int n, struct vim_err *err)
{
	static unsigned char buf[65521]; /* odd-sized writes */
	struct dvcr_image_labels l = {0};
	struct dvcr_image_writer *w = NULL;
	char digest[DVCR_DIGEST_MAX] = "";
	struct stat st;
	FILE *f;
	size_t got;
	uint64_t declared;
	int rc = 0;

	if (n < 5 || stat(a[0], &st) != 0 || !(f = fopen(a[0], "rb")))
		return vim_err_set(err, VIM_EINVAL,
		                   "usage: write FILE REPO TAG FORMAT VSIZE [SIZE]");
	declared = n > 5 ? strtoull(a[5], NULL, 10) : (uint64_t)st.st_size;
	if ((rc = dvcr_image_begin(&w, c, a[1], a[0], declared, err)) == 0) {
		while (rc == 0 && (got = fread(buf, 1, sizeof(buf), f)) > 0)
			rc = dvcr_image_write(w, buf, got, err);
		l.stored_size = (uint64_t)st.st_size;
		l.virtual_size = strtoull(a[4], NULL, 10);
		l.format = a[3];
		if (rc == 0)
			rc = dvcr_image_finish(w, a[2], &l, digest, err);
		else
			dvcr_image_abort(w);
	}
	fclose(f);
	if (rc == 0)
		printf("ok %s\n", digest);
	return rc;
}

int main(int argc, char **argv)
{
	struct dvcr_config cfg = {0};
	struct dvcr_client *c = NULL;
	struct vim_err err = {0};
	int rc;

	if (argc < 3)
		return 2;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	cfg.base_url = argv[1];
	rc = dvcr_client_new(&c, &cfg, &err);
	if (rc == 0 && strcmp(argv[2], "write") == 0)
		rc = do_write(c, argv + 3, argc - 3, &err);
	else if (rc == 0 && strcmp(argv[2], "copy") == 0 && argc == 7) {
		rc = dvcr_image_copy(c, argv[3], argv[4], argv[5], argv[6], &err);
		if (rc == 0)
			printf("ok\n");
	} else if (rc == 0 && strcmp(argv[2], "remove") == 0 && argc == 4) {
		rc = dvcr_image_remove_url(c, argv[3], &err);
		if (rc == 0)
			printf("ok\n");
	} else if (rc == 0 && strcmp(argv[2], "layer") == 0 && argc == 4) {
		struct dvcr_image_layer l;
		rc = dvcr_image_layer_url(c, argv[3], &l, &err);
		if (rc == 0)
			printf("ok %s %lld\n", l.digest, (long long)l.size);
	} else if (rc == 0 && strcmp(argv[2], "host") == 0) {
		char host[DVCR_HOST_MAX];
		rc = dvcr_client_host(c, host, sizeof(host), &err);
		if (rc == 0)
			printf("ok %s\n", host);
	} else if (rc == 0)
		rc = vim_err_set(&err, VIM_EINVAL, "unknown command");
	if (rc < 0)
		printf("error: %s\n", err.msg);
	dvcr_client_free(c);
	curl_global_cleanup();
	return rc < 0 ? 1 : 0;
}
