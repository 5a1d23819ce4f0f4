/*
 * vimaged/download — GET /download/...: an image's DVCR layer streamed to
 * the client through a pipe, so the user needs no registry credentials.
 * A thread per download pulls the blob into the pipe's write end; the API
 * server reads the other end into the response.  vimagectl checks the
 * layer's digest and takes disk/<file> out of the tar.
 */
#define _GNU_SOURCE /* pipe2 */
#include "vimaged.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pump {
	struct wiring *w;
	int fd;
	char repo[DVCR_REPO_MAX];
	char digest[DVCR_DIGEST_MAX];
};

static int to_fd(void *ud, const void *data, size_t len)
{
	struct pump *p = ud;
	const char *b = data;

	while (len) {
		ssize_t n = write(p->fd, b, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1; /* the client went away (EPIPE): stop */
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static void *pump_main(void *arg)
{
	struct pump *p = arg;
	struct wiring *w = p->w;
	struct vim_err err = {0};

	if (dvcr_blob_get_stream(w->dvcr, p->repo, p->digest, 0, to_fd, p, &err) < 0 &&
	    err.code != VIM_ECANCELED)
		vim_log(VIM_LOG_WARN, "download %s@%s: %s", p->repo, p->digest, err.msg);
	close(p->fd); /* the client sees the end (short, if the pull failed) */
	pthread_mutex_lock(&w->dl_mu);
	w->downloads--;
	pthread_cond_broadcast(&w->dl_cv);
	pthread_mutex_unlock(&w->dl_mu);
	free(p);
	return NULL;
}

int wiring_download(void *arg, const char *kind, const char *ns, const char *name, int *fd,
                    long long *size, char digest[96], struct vim_err *err)
{
	struct wiring *w = arg;
	bool cluster = strcmp(kind, "cvi") == 0;
	struct model_image *img = NULL;
	struct dvcr_image_layer layer;
	struct pump *p = NULL;
	json_t *obj = NULL;
	pthread_t th;
	int pfd[2] = {-1, -1}, rc;

	if (!atomic_load(&w->dvcr_up))
		return vim_err_set(err, VIM_ENOTFOUND,
		                   "downloads need DVCR (vimaged runs with --controllers off)");
	rc = store_get(w->store, cluster ? "clustervirtualimages" : "virtualimages", ns, name, &obj,
	               err);
	if (rc == 0)
		rc = model_image_from_json(&img, obj, NULL, err);
	json_decref(obj);
	if (rc < 0)
		return rc;
	if (img->status.phase != MODEL_PHASE_READY || !img->status.target_registry_url) {
		rc = vim_err_set(err, VIM_ECONFLICT,
		                 "%s/%s is %s: only a Ready image can be downloaded", kind, name,
		                 model_phase_name(img->status.phase));
		goto out;
	}
	if ((rc = dvcr_image_layer_url(w->dvcr, img->status.target_registry_url, &layer, err)) < 0)
		goto out;
	snprintf(digest, 96, "%s", layer.digest);
	*size = layer.size;
	if (!(p = calloc(1, sizeof(*p))) || pipe2(pfd, O_CLOEXEC) != 0) {
		rc = vim_err_set(err, VIM_EIO, "download: %s", strerror(errno));
		goto out;
	}
	p->w = w;
	p->fd = pfd[1];
	snprintf(p->repo, sizeof(p->repo), "%s", layer.repo);
	snprintf(p->digest, sizeof(p->digest), "%s", layer.digest);
	pthread_mutex_lock(&w->dl_mu);
	w->downloads++;
	pthread_mutex_unlock(&w->dl_mu);
	if (pthread_create(&th, NULL, pump_main, p) != 0) {
		pthread_mutex_lock(&w->dl_mu);
		w->downloads--;
		pthread_mutex_unlock(&w->dl_mu);
		rc = vim_err_set(err, VIM_EIO, "download: cannot start a thread");
		goto out;
	}
	pthread_detach(th);
	*fd = pfd[0];
	pfd[0] = -1;
	p = NULL; /* the thread's now */
	vim_log(VIM_LOG_INFO, "download %s/%s%s%s: layer %s (%lld bytes)", kind, ns ? ns : "",
	        ns ? "/" : "", name, digest, *size);
	rc = 0;
out:
	if (p) {
		if (pfd[1] >= 0)
			close(pfd[1]);
		free(p);
	}
	if (pfd[0] >= 0)
		close(pfd[0]);
	model_image_free(img);
	return rc;
}
