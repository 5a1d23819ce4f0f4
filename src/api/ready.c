/*
 * api/ready — what /readyz answers.  Ready means the whole service is:
 * a script that waits for /readyz and then runs kubectl must find the
 * kubeconfig, the TLS endpoint and the controllers there.  So the process
 * names its parts as checks, each set ready by whoever brings it up, and
 * /readyz lists them the way kube-apiserver does (`[+]name ok`,
 * `[-]name failed: ...`, then `readyz check passed` / `failed`).
 * /healthz and /livez stay liveness: they do not look here.
 */
#include "api/api.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READY_MAX 16
#define READY_NAME_MAX 48
#define READY_WHY_MAX 160

struct ready_check {
	char name[READY_NAME_MAX];
	bool ok;
	char why[READY_WHY_MAX];
};

struct api_ready {
	pthread_mutex_t mu;
	size_t n;
	struct ready_check c[READY_MAX];
};

int api_ready_new(struct api_ready **out, const char *const *names, size_t n, struct vim_err *err)
{
	struct api_ready *r;
	size_t i;

	*out = NULL;
	if (n > READY_MAX)
		return vim_err_set(err, VIM_EINVAL, "readyz: %zu checks, at most %d", n, READY_MAX);
	for (i = 0; i < n; i++)
		if (!names[i][0] || strlen(names[i]) >= READY_NAME_MAX || strchr(names[i], ','))
			return vim_err_set(err, VIM_EINVAL, "readyz: bad check name \"%s\"",
			                   names[i]);
	if (!(r = calloc(1, sizeof(*r))))
		return vim_err_set(err, VIM_ENOMEM, "readyz: out of memory");
	pthread_mutex_init(&r->mu, NULL);
	r->n = n;
	for (i = 0; i < n; i++) {
		snprintf(r->c[i].name, sizeof(r->c[i].name), "%s", names[i]);
		snprintf(r->c[i].why, sizeof(r->c[i].why), "not started yet");
	}
	*out = r;
	return 0;
}

void api_ready_free(struct api_ready *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int api_ready_set(struct api_ready *r, const char *name, bool ok, const char *why)
{
	size_t i;
	int rc = VIM_ENOTFOUND;

	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->c[i].name, name) != 0)
			continue;
		r->c[i].ok = ok;
		snprintf(r->c[i].why, sizeof(r->c[i].why), "%s", why ? why : "not ready");
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

/* Is name one of the comma-separated list? */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, name, n) == 0)
			return true;
		p += len;
		if (*p == ',')
			p++;
	}
	return false;
}

/* The excluded names that match no check: kube warns about them. */
static void warn_unknown(const struct api_ready *r, const char *exclude, struct vim_text *out)
{
	const char *p = exclude;
	bool any = false;
	size_t i;

	while (p && *p) {
		size_t len = strcspn(p, ","), hit = 0;
		for (i = 0; i < r->n; i++)
			if (strlen(r->c[i].name) == len && strncmp(r->c[i].name, p, len) == 0)
				hit = 1;
		if (!hit && len) {
			vim_text_printf(out, "%s\"%.*s\"",
			                any ? ", "
			                    : "warn: some health checks cannot be excluded: "
			                      "no matches for ",
			                (int)len, p);
			any = true;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (any)
		vim_text_printf(out, "\n");
}

unsigned int api_ready_render(struct api_ready *r, const char *check, bool verbose,
                              const char *exclude, struct vim_text *out)
{
	bool failed = false;
	unsigned int code;
	size_t i;

	if (!r) { /* nothing to wait for: serving is ready */
		vim_text_printf(out, "ok");
		return 200;
	}
	pthread_mutex_lock(&r->mu);
	if (check) {
		for (i = 0; i < r->n && strcmp(r->c[i].name, check) != 0; i++)
			;
		if (i == r->n) {
			vim_text_printf(out, "404 page not found\n");
			code = 404;
		} else if (r->c[i].ok) {
			vim_text_printf(out, "ok");
			code = 200;
		} else {
			vim_text_printf(out, "internal server error: %s\n", r->c[i].why);
			code = 503;
		}
		goto out;
	}
	for (i = 0; i < r->n; i++)
		if (!r->c[i].ok && !listed(exclude, r->c[i].name))
			failed = true;
	if (!failed && !verbose) {
		vim_text_printf(out, "ok");
		code = 200;
		goto out;
	}
	for (i = 0; i < r->n; i++) {
		const struct ready_check *c = &r->c[i];
		if (listed(exclude, c->name))
			vim_text_printf(out, "[+]%s excluded: ok\n", c->name);
		else if (c->ok)
			vim_text_printf(out, "[+]%s ok\n", c->name);
		else
			vim_text_printf(out, "[-]%s failed: %s\n", c->name, c->why);
	}
	warn_unknown(r, exclude, out);
	vim_text_printf(out, "readyz check %s\n", failed ? "failed" : "passed");
	code = failed ? 503 : 200;
out:
	pthread_mutex_unlock(&r->mu);
	return code;
}
