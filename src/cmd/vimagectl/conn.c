/* vimagectl/conn — the kubeconfig and plain JSON requests to vimaged. */
#include "vimagectl.h"
#include "core/timeutil.h"
#include "model/model.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *named(json_t *arr, const char *name, const char *member)
{
	json_t *e;
	size_t i;

	json_array_foreach(arr, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		if (n && name && strcmp(n, name) == 0)
			return json_object_get(e, member);
	}
	return NULL;
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < (1 << 22) &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		*len = (size_t)n;
	} else {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int conn_load(struct conn *c, const char *path, struct vim_err *err)
{
	json_t *doc = NULL, *ctx, *cluster, *user;
	const char *cur, *s, *ca, *caf, *tok;
	size_t len = 0;
	char *text;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (!(text = read_all(path, &len)))
		return vim_err_set(err, VIM_ENOTFOUND, "kubeconfig %s: cannot read it", path);
	rc = model_yaml_to_json(&doc, text, len, err);
	free(text);
	if (rc < 0)
		return rc;
	cur = json_string_value(json_object_get(doc, "current-context"));
	ctx = named(json_object_get(doc, "contexts"), cur, "context");
	cluster = named(json_object_get(doc, "clusters"),
	                json_string_value(json_object_get(ctx, "cluster")), "cluster");
	user = named(json_object_get(doc, "users"), json_string_value(json_object_get(ctx, "user")),
	             "user");
	if (!(s = json_string_value(json_object_get(cluster, "server")))) {
		rc = vim_err_set(err, VIM_EINVAL,
		                 "kubeconfig %s: the current context names no server", path);
		goto out;
	}
	snprintf(c->server, sizeof(c->server), "%s", s);
	if ((tok = json_string_value(json_object_get(user, "token"))))
		snprintf(c->token, sizeof(c->token), "%s", tok);
	c->insecure = json_is_true(json_object_get(cluster, "insecure-skip-tls-verify"));
	if ((ca = json_string_value(json_object_get(cluster, "certificate-authority-data")))) {
		size_t n = strlen(ca);
		int dl;
		if (!(c->ca_pem = calloc(1, n + 1)) ||
		    (dl = EVP_DecodeBlock((unsigned char *)c->ca_pem, (const unsigned char *)ca,
		                          (int)n)) <= 0) {
			rc = vim_err_set(err, VIM_EINVAL,
			                 "kubeconfig %s: certificate-authority-data is not base64",
			                 path);
			goto out;
		}
	} else if ((caf = json_string_value(json_object_get(cluster, "certificate-authority")))) {
		if (!(c->ca_pem = read_all(caf, &len)))
			rc = vim_err_set(err, VIM_EINVAL, "kubeconfig %s: cannot read %s", path,
			                 caf);
	}
out:
	json_decref(doc);
	return rc;
}

void conn_free(struct conn *c)
{
	free(c->ca_pem);
	c->ca_pem = NULL;
}

struct sink {
	char *buf;
	size_t len, cap;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t len = size * n;

	if (s->len + len + 1 > s->cap) {
		size_t ncap = (s->len + len + 1) * 2;
		char *nb = realloc(s->buf, ncap);
		if (!nb)
			return 0;
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

struct curl_slist *conn_prepare(const struct conn *c, CURL *h, const char *path, char *url,
                                size_t len)
{
	char auth[600];
	struct curl_slist *hdrs;

	snprintf(url, len, "%s%s", c->server, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->token);
	hdrs = curl_slist_append(NULL, auth);
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (c->ca_pem) {
		struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return hdrs;
}

static int conn_do(const struct conn *c, const char *method, const char *path, const char *body,
                   char **out, size_t *len, struct vim_err *err)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct sink s = {0};
	char url[1024], cerr[CURL_ERROR_SIZE] = "";
	long code = 0;
	CURLcode cc;

	*out = NULL;
	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	hdrs = conn_prepare(c, h, path, url, sizeof(url));
	if (body) {
		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	if (cc != CURLE_OK) {
		free(s.buf);
		return vim_err_set(err, VIM_EUPSTREAM, "%s %s: %s", method, url,
		                   cerr[0] ? cerr : curl_easy_strerror(cc));
	}
	if (code < 200 || code >= 300) {
		json_t *st = s.buf ? json_loads(s.buf, 0, NULL) : NULL;
		const char *msg = json_string_value(json_object_get(st, "message"));
		int rc = vim_err_set(err, code == 404 ? VIM_ENOTFOUND : VIM_EUPSTREAM, "%s (%ld)",
		                     msg ? msg : "vimaged refused the request", code);
		json_decref(st);
		free(s.buf);
		return rc;
	}
	*out = s.buf ? s.buf : strdup("");
	*len = s.len;
	return *out ? 0 : vim_err_set(err, VIM_ENOMEM, "out of memory");
}

int conn_get_text(const struct conn *c, const char *path, char **out, size_t *len,
                  struct vim_err *err)
{
	return conn_do(c, "GET", path, NULL, out, len, err);
}

int conn_send_json(const struct conn *c, const char *method, const char *path, json_t *body,
                   json_t **out, struct vim_err *err)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *ans = NULL;
	size_t len = 0;
	int rc;

	if (out)
		*out = NULL;
	if (body && !text)
		return vim_err_set(err, VIM_ENOMEM, "out of memory");
	rc = conn_do(c, method, path, text, &ans, &len, err);
	free(text);
	if (rc == 0 && out)
		*out = json_loadb(ans, len, 0, NULL);
	free(ans);
	return rc;
}

int conn_get_json(const struct conn *c, const char *path, json_t **out, struct vim_err *err)
{
	json_error_t je;
	size_t len;
	char *text;
	int rc;

	*out = NULL;
	if ((rc = conn_get_text(c, path, &text, &len, err)) < 0)
		return rc;
	*out = json_loadb(text, len, 0, &je);
	free(text);
	return *out ? 0 : vim_err_set(err, VIM_EUPSTREAM, "GET %s: not JSON: %s", path, je.text);
}

/* "expected vi/NAME or cvi/NAME": every kind's short name. */
static int object_path_usage(const char *ref, struct vim_err *err)
{
	char want[160];
	size_t used = 0;

	want[0] = '\0';
	for (int i = 0; i < MODEL_KIND__COUNT && used < sizeof(want); i++)
		used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s/NAME",
		                         i == 0                       ? ""
		                         : i == MODEL_KIND__COUNT - 1 ? " or "
		                                                      : ", ",
		                         model_kind_info((enum model_kind)i)->short_name);
	return vim_err_set(err, VIM_EINVAL, "%s: expected %s", ref, want);
}

int object_path(const char *ref, const char *ns, char *out, size_t len, bool *cluster,
                struct vim_err *err)
{
	const char *slash = strchr(ref, '/');
	size_t kl = slash ? (size_t)(slash - ref) : 0;
	const struct model_kind_info *k = NULL;

	if (!slash || !slash[1] || strchr(slash + 1, '/'))
		return object_path_usage(ref, err);
	/* the short name or the singular, as kubectl's "TYPE/NAME" */
	for (int i = 0; i < MODEL_KIND__COUNT && !k; i++) {
		const struct model_kind_info *c = model_kind_info((enum model_kind)i);
		if ((kl == strlen(c->short_name) && strncmp(ref, c->short_name, kl) == 0) ||
		    (kl == strlen(c->singular) && strncmp(ref, c->singular, kl) == 0))
			k = c;
	}
	if (!k)
		return object_path_usage(ref, err);
	*cluster = !k->namespaced;
	if (k->namespaced)
		snprintf(out, len, "/apis/%s/namespaces/%s/%s/%s", k->api_version, ns, k->plural,
		         slash + 1);
	else
		snprintf(out, len, "/apis/%s/%s/%s", k->api_version, k->plural, slash + 1);
	return 0;
}

double now_s(void)
{
	return (double)vim_mono_ms() / 1000.0;
}
