/*
 * ha/ha_token — the tokens every replica accepts: their sha256 under
 * tokens/<kind>-<hex>, and a cache of those hashes.  A presented token is
 * hashed first and compared as a hash (CRYPTO_memcmp against every entry,
 * no early exit), so the time a check takes does not depend on how much
 * of a token was right.
 */
#include "ha/ha_internal.h"

#include "core/digest.h"
#include "core/timeutil.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HA_TOKEN_REREAD_MS 1000
#define HA_HEX_LEN VIM_SHA256_HEX_LEN

static int ha_sha256(const char *token, unsigned char out[VIM_SHA256_LEN])
{
	unsigned int n = 0;

	return EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL) == 1 &&
	               n == VIM_SHA256_LEN
	           ? 0
	           : VIM_EINTERNAL;
}

static bool ha_kind_ok(const char *kind)
{
	size_t n = kind ? strlen(kind) : 0;

	return n > 0 && n < HA_KIND_MAX && !strchr(kind, '/');
}

/* "<kind>-<64 hex>" into t; false for any other name. */
static bool ha_token_parse(const char *name, struct ha_token *t)
{
	size_t n = strlen(name);

	if (n < HA_HEX_LEN + 2 || n - HA_HEX_LEN - 1 >= HA_KIND_MAX ||
	    name[n - HA_HEX_LEN - 1] != '-' || vim_sha256_unhex(name + n - HA_HEX_LEN, t->sum) < 0)
		return false;
	memcpy(t->kind, name, n - HA_HEX_LEN - 1);
	t->kind[n - HA_HEX_LEN - 1] = '\0';
	return true;
}

/* Adds t to the cache unless it is there; the caller holds tmu. */
static int ha_token_add_locked(struct ha *h, const struct ha_token *t)
{
	struct ha_token *n;

	for (size_t i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].kind, t->kind) == 0 &&
		    memcmp(h->tokens[i].sum, t->sum, VIM_SHA256_LEN) == 0)
			return 0;
	n = realloc(h->tokens, (h->ntokens + 1) * sizeof(*n));
	if (!n)
		return VIM_ENOMEM;
	h->tokens = n;
	h->tokens[h->ntokens++] = *t;
	return 0;
}

int ha_token_publish(struct ha *h, const char *kind, const char *token, struct vim_err *err)
{
	struct ha_token t;
	struct store_kv_key k = {HA_RES_TOKENS, "", NULL};
	char name[HA_KIND_MAX + HA_HEX_LEN + 2], hex[HA_HEX_LEN + 1], *value;
	json_t *o;
	int rc;

	memset(&t, 0, sizeof(t));

	if (!ha_kind_ok(kind) || !token || !*token)
		return vim_err_set(err, VIM_EINVAL,
		                   "ha %s: token of kind '%s': an empty kind or token", h->id,
		                   kind ? kind : "");
	rc = ha_sha256(token, t.sum);
	if (rc < 0)
		return vim_err_set(err, rc, "ha %s: sha256 of a %s token failed", h->id, kind);
	memcpy(t.kind, kind, strlen(kind) + 1);
	vim_sha256_hex(hex, t.sum);
	snprintf(name, sizeof(name), "%s-%s", kind, hex);
	k.name = name;
	o = json_pack("{s:s}", "replica", h->id);
	value = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!value)
		return vim_err_set(err, VIM_ENOMEM, "ha %s: a %s token: out of memory", h->id,
		                   kind);
	rc = store_kv_put(h->kv, &k, value, 0, NULL, err);
	free(value);
	if (rc < 0)
		return vim_err_wrap(err, "ha %s: publish a %s token: ", h->id, kind), rc;
	pthread_mutex_lock(&h->tmu);
	rc = ha_token_add_locked(h, &t);
	pthread_mutex_unlock(&h->tmu);
	return rc < 0 ? vim_err_set(err, rc, "ha %s: the token cache: out of memory", h->id) : 0;
}

struct ha_token_read {
	struct ha_token *v;
	size_t n, cap;
};

static int ha_token_item(void *arg, const struct store_kv_item *it)
{
	struct ha_token_read *r = arg;
	struct ha_token t;

	if (!ha_token_parse(it->name, &t))
		return 0;
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 8;
		struct ha_token *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return VIM_ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = t;
	return 0;
}

/* Every published hash, read now, replaces the cache (none read: the
 * cache stays as it was). */
static void ha_token_reread(struct ha *h)
{
	struct store_kv_range q = {.resource = HA_RES_TOKENS, .ns = ""};
	struct store_kv_range_meta meta;
	struct ha_token_read r = {0};
	struct vim_err err = {0};

	if (h->kv->ops->range(h->kv, &q, ha_token_item, &r, &meta, &err) < 0) {
		free(r.v);
		return;
	}
	pthread_mutex_lock(&h->tmu);
	free(h->tokens);
	h->tokens = r.v;
	h->ntokens = r.n;
	pthread_mutex_unlock(&h->tmu);
}

static bool ha_token_lookup(struct ha *h, const char *kind, const unsigned char sum[VIM_SHA256_LEN])
{
	int found = 0;

	pthread_mutex_lock(&h->tmu);
	for (size_t i = 0; i < h->ntokens; i++)
		found |= (strcmp(h->tokens[i].kind, kind) == 0) &
		         (CRYPTO_memcmp(h->tokens[i].sum, sum, VIM_SHA256_LEN) == 0);
	pthread_mutex_unlock(&h->tmu);
	return found != 0;
}

bool ha_token_known(struct ha *h, const char *kind, const char *token)
{
	unsigned char sum[VIM_SHA256_LEN];
	bool reread = false;
	int64_t now;

	if (!ha_kind_ok(kind) || !token || !*token || ha_sha256(token, sum) < 0)
		return false;
	if (ha_token_lookup(h, kind, sum))
		return true;
	/* one re-read a second, whoever misses: the slot is taken under the
	 * lock, the range runs outside it */
	now = vim_mono_ms();
	pthread_mutex_lock(&h->tmu);
	if (h->tokens_read_ms == 0 || now - h->tokens_read_ms >= HA_TOKEN_REREAD_MS) {
		h->tokens_read_ms = now;
		reread = true;
	}
	pthread_mutex_unlock(&h->tmu);
	if (!reread)
		return false;
	ha_token_reread(h);
	return ha_token_lookup(h, kind, sum);
}

void ha_tokens_free(struct ha *h)
{
	free(h->tokens);
	h->tokens = NULL;
	h->ntokens = 0;
}
