/* dvcr/auth — WWW-Authenticate challenges, bearer tokens and their cache.
 * Registry auth (distribution's token spec): a 401 names a scheme; Basic
 * means "send the credentials on every request", Bearer means "get a token
 * from realm for this scope, send it, and reuse it until it expires". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "core/timeutil.h"
#include "dvcr/internal.h"

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Copies a token or quoted string starting at *pp into out; advances *pp. */
static int read_value(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		p++;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			if (n + 1 >= outlen)
				return VIM_ETOOLARGE;
			out[n++] = *p++;
		}
		if (*p != '"')
			return VIM_EINVAL; /* unterminated quote */
		p++;
	} else {
		while (*p && *p != ',' && *p != ' ' && *p != '\t') {
			if (n + 1 >= outlen)
				return VIM_ETOOLARGE;
			out[n++] = *p++;
		}
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/* A value that does not fit is refused, never cut: a cut realm is a
 * different URL. */
static int put_field(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n >= cap)
		return VIM_ETOOLARGE;
	memcpy(dst, v, n + 1);
	return 0;
}

int dvcr_challenge_parse(const char *value, struct dvcr_challenge *out, struct vim_err *err)
{
	int rc = 0;
	const char *p;
	char name[64], val[DVCR_URL_MAX];
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!value) {
		rc = vim_err_set(err, VIM_EINVAL, "WWW-Authenticate: empty");
		goto out;
	}
	p = skip_ws(value);
	if (strncasecmp(p, "Basic", 5) == 0 && (p[5] == '\0' || p[5] == ' ' || p[5] == '\t')) {
		out->scheme = DVCR_SCHEME_BASIC;
		p += 5;
	} else if (strncasecmp(p, "Bearer", 6) == 0 &&
	           (p[6] == '\0' || p[6] == ' ' || p[6] == '\t')) {
		out->scheme = DVCR_SCHEME_BEARER;
		p += 6;
	} else {
		rc = vim_err_set(err, VIM_EUNSUPPORTED, "WWW-Authenticate: unsupported scheme");
		goto out;
	}
	for (;;) {
		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (!*p)
			break;
		n = 0;
		while (*p && *p != '=' && *p != ' ' && *p != ',' && n + 1 < sizeof(name))
			name[n++] = *p++;
		name[n] = '\0';
		p = skip_ws(p);
		if (*p != '=' || n == 0) {
			rc = vim_err_set(err, VIM_EINVAL, "WWW-Authenticate: malformed parameter");
			goto out;
		}
		p = skip_ws(p + 1);
		rc = read_value(&p, val, sizeof(val));
		if (rc != 0) {
			rc = vim_err_set(err, rc, "WWW-Authenticate: bad value of %s", name);
			goto out;
		}
		if (strcasecmp(name, "realm") == 0)
			rc = put_field(out->realm, sizeof(out->realm), val);
		else if (strcasecmp(name, "service") == 0)
			rc = put_field(out->service, sizeof(out->service), val);
		else if (strcasecmp(name, "scope") == 0)
			rc = put_field(out->scope, sizeof(out->scope), val);
		if (rc != 0) {
			rc = vim_err_set(err, rc, "WWW-Authenticate: %s too long", name);
			goto out;
		}
		p = skip_ws(p);
		if (*p && *p != ',') {
			rc = vim_err_set(err, VIM_EINVAL, "WWW-Authenticate: junk after %s", name);
			goto out;
		}
	}
	if (out->scheme == DVCR_SCHEME_BEARER && !out->realm[0])
		rc = vim_err_set(err, VIM_EINVAL, "WWW-Authenticate: Bearer without realm");
out:
	return rc;
}

int dvcr_token_lookup(struct dvcr_client *c, const char *scope, char *out, size_t outlen)
{
	int i, rc = VIM_ENOTFOUND;
	int64_t now = vim_mono_ms();

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < DVCR_TOKENS_MAX; i++) {
		struct dvcr_token *t = &c->tokens[i];
		if (t->token && strcmp(t->scope, scope) == 0 && t->expires_ms > now &&
		    strlen(t->token) < outlen) {
			memcpy(out, t->token, strlen(t->token) + 1);
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return rc;
}

static void token_store(struct dvcr_client *c, const char *scope, char *token, int64_t expires)
{
	int i, slot = 0;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < DVCR_TOKENS_MAX; i++) {
		if (!c->tokens[i].token || strcmp(c->tokens[i].scope, scope) == 0) {
			slot = i;
			break;
		}
		if (c->tokens[i].expires_ms < c->tokens[slot].expires_ms)
			slot = i; /* full: evict the soonest to expire */
	}
	free(c->tokens[slot].token);
	c->tokens[slot].token = token;
	c->tokens[slot].expires_ms = expires;
	snprintf(c->tokens[slot].scope, sizeof(c->tokens[slot].scope), "%s", scope);
	pthread_mutex_unlock(&c->mu);
}

void dvcr_tokens_free(struct dvcr_client *c)
{
	int i;

	for (i = 0; i < DVCR_TOKENS_MAX; i++) {
		if (c->tokens[i].token) {
			memset(c->tokens[i].token, 0, strlen(c->tokens[i].token));
			free(c->tokens[i].token);
			c->tokens[i].token = NULL;
		}
	}
}

static size_t tok_write(char *data, size_t size, size_t n, void *ud)
{
	struct dvcr_req *r = ud;
	size_t len = size * n;

	if (len > r->cap - r->len) {
		r->overflow = 1;
		return 0;
	}
	memcpy((char *)r->buf + r->len, data, len);
	r->len += len;
	return len;
}

int64_t dvcr_token_expiry_ms(int64_t now_ms, int present, long long expires_in)
{
	int64_t ttl = expires_in;

	if (!present || expires_in < DVCR_TOKEN_TTL_MIN_S)
		ttl = DVCR_TOKEN_TTL_MIN_S;
	else if (expires_in > DVCR_TOKEN_TTL_MAX_S)
		ttl = DVCR_TOKEN_TTL_MAX_S;
	/* renew 5 s early so a request never carries a token about to lapse */
	return now_ms + (ttl - 5) * 1000;
}

/* GET realm?service=&scope= (with basic credentials when configured). */
static int fetch_token(struct dvcr_client *c, const struct dvcr_challenge *ch, const char *scope,
                       const struct dvcr_req *orig, struct vim_err *err)
{
	int rc = 0;
	CURL *h = dvcr_handle_get(c);
	CURLcode cc;
	char url[DVCR_URL_MAX * 2], *es = NULL, *esc = NULL, *body = NULL, *copy = NULL;
	struct dvcr_req r;
	long status = 0;
	json_t *root = NULL;
	const char *tok;
	int64_t expires;
	size_t used, plen;
	const char *p;

	memset(&r, 0, sizeof(r));
	body = malloc(DVCR_TOKEN_MAX * 2);
	if (!h || !body) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	r.buf = body;
	r.cap = DVCR_TOKEN_MAX * 2;
	es = curl_easy_escape(h, ch->service, 0);
	if (!es) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	used = (size_t)snprintf(url, sizeof(url), "%s%sservice=%s", ch->realm,
	                        strchr(ch->realm, '?') ? "&" : "?", es);
	/* several scopes ("a b", a mount) go as repeated scope= parameters */
	for (p = scope; used < sizeof(url) && *p; p += plen) {
		p += strspn(p, " ");
		plen = strcspn(p, " ");
		if (plen == 0)
			break;
		curl_free(esc);
		esc = curl_easy_escape(h, p, (int)plen);
		if (!esc) {
			rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
			goto out;
		}
		used += (size_t)snprintf(url + used, sizeof(url) - used, "&scope=%s", esc);
	}
	if (used >= sizeof(url)) {
		rc = vim_err_set(err, VIM_EAUTH, "%s: token URL too long", orig->method);
		goto out;
	}
	dvcr_apply_common(c, h, 0);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tok_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	if (c->user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->pass ? c->pass : "");
	}
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK || status != 200) {
		rc = vim_err_set(err, cc == CURLE_OK ? VIM_EAUTH : VIM_EUPSTREAM,
		                 "%s %s %s: token for %s: %s%ld", orig->method,
		                 orig->repo ? orig->repo : "", orig->what ? orig->what : "", scope,
		                 cc == CURLE_OK ? "realm answered " : curl_easy_strerror(cc),
		                 cc == CURLE_OK ? status : 0L);
		goto out;
	}
	root = json_loadb(body, r.len, 0, NULL);
	tok = json_string_value(json_object_get(root, "token"));
	if (!tok || !tok[0])
		tok = json_string_value(json_object_get(root, "access_token"));
	if (!tok || !tok[0] || strlen(tok) >= DVCR_TOKEN_MAX) {
		rc = vim_err_set(err, VIM_EAUTH, "%s %s: token server sent no usable token",
		                 orig->method, orig->repo ? orig->repo : "");
		goto out;
	}
	{
		json_t *ei = json_object_get(root, "expires_in");
		expires = dvcr_token_expiry_ms(vim_mono_ms(), json_is_integer(ei),
		                               json_integer_value(ei));
	}
	copy = strdup(tok);
	if (!copy) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	token_store(c, orig->scope || orig->repo ? scope : "", copy, expires);
	copy = NULL;
out:
	curl_free(es);
	curl_free(esc);
	json_decref(root);
	if (body) {
		memset(body, 0, DVCR_TOKEN_MAX * 2);
		free(body);
	}
	free(copy);
	dvcr_handle_put(c, h);
	return rc;
}

int dvcr_auth_on_401(struct dvcr_client *c, const struct dvcr_req *req, const char *scope,
                     struct vim_err *err)
{
	int rc = 0;
	struct dvcr_challenge *ch = malloc(sizeof(*ch));
	char key[DVCR_SCOPE_MAX];

	if (!ch) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto out;
	}
	rc = dvcr_challenge_parse(req->www_auth, ch, err);
	if (rc != 0)
		goto out;
	pthread_mutex_lock(&c->mu);
	c->scheme = ch->scheme;
	pthread_mutex_unlock(&c->mu);
	if (ch->scheme == DVCR_SCHEME_BASIC) {
		if (!c->user)
			rc = vim_err_set(err, VIM_EAUTH,
			                 "registry wants credentials, none configured");
		goto out;
	}
	/* bearer: the request's scope, or the one the registry asked for (ping, catalog) */
	snprintf(key, sizeof(key), "%s", scope[0] ? scope : ch->scope);
	rc = fetch_token(c, ch, key, req, err);
out:
	free(ch);
	return rc;
}
