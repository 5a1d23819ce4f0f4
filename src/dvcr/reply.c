/* dvcr/reply — what a registry answer means: the code (absent vs could
 * not tell) and the message naming call, repository and the registry's
 * own errors[] code and message. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/redact.h"
#include "dvcr/internal.h"

/* "HEAD vi/ns/name manifests/tag" — the head of every message. */
void dvcr_label(const struct dvcr_req *r, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s%s%s", r->method, r->repo ? " " : "", r->repo ? r->repo : "",
	         r->what ? " " : "", r->what ? r->what : "");
}

/* "errors":[{"code":"MANIFEST_UNKNOWN","message":"..."}] → code + message. */
static void parse_errors(const struct dvcr_req *r, char *code, size_t codelen, char *msg,
                         size_t msglen)
{
	json_t *root, *e0;
	const char *s;

	code[0] = msg[0] = '\0';
	if (r->errlen == 0)
		return;
	root = json_loadb(r->errbody, r->errlen, 0, NULL);
	e0 = root ? json_array_get(json_object_get(root, "errors"), 0) : NULL;
	if (e0) {
		s = json_string_value(json_object_get(e0, "code"));
		snprintf(code, codelen, "%s", s ? s : "");
		s = json_string_value(json_object_get(e0, "message"));
		snprintf(msg, msglen, "%s", s ? s : "");
	} else {
		/* not JSON: show a printable head of the body */
		size_t i, n = r->errlen < msglen - 1 ? r->errlen : msglen - 1;
		for (i = 0; i < n; i++)
			msg[i] = isprint((unsigned char)r->errbody[i]) ? r->errbody[i] : ' ';
		msg[n] = '\0';
	}
	json_decref(root);
}

int dvcr_fail(const struct dvcr_req *r, struct vim_err *err)
{
	char code[64], msg[200], lb[DVCR_REPO_MAX + DVCR_URL_MAX];
	int vc;
	size_t cl;

	parse_errors(r, code, sizeof(code), msg, sizeof(msg));
	vim_redact_inplace(msg, sizeof(msg)); /* the registry's text may quote a signed URL */
	cl = strlen(code);
	if (r->status == 401 || r->status == 403)
		vc = VIM_EAUTH;
	else if (r->status == 404 || (r->status >= 400 && r->status < 500 && cl > 8 &&
	                              strcmp(code + cl - 8, "_UNKNOWN") == 0))
		vc = VIM_ENOTFOUND;
	else if (r->status == 413)
		vc = VIM_ETOOLARGE;
	else if (r->status == 400)
		vc = VIM_EINVAL;
	else
		vc = VIM_EUPSTREAM; /* 5xx, 429, surprises: could not tell */
	if (!code[0] && r->status == 401)
		snprintf(code, sizeof(code), "UNAUTHORIZED");
	dvcr_label(r, lb, sizeof(lb));
	return vim_err_set(err, vc, "%s: %ld%s%s%s%s", lb, r->status, code[0] ? " " : "", code,
	                   msg[0] ? ": " : "", msg);
}
