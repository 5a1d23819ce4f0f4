/*
 * store/etcd_kv — the kv calls over etcd's gateway: get and range are
 * /v3/kv/range, a write is one /v3/kv/txn whose compare is the key's
 * mod_revision (or, for a create, create_revision 0: absent), so the
 * conflict is decided by etcd and never by a read-then-write.
 *
 * Bodies are written by hand: keys and values go in as base64, which
 * needs no JSON escaping, and a 2.5 KiB value is not copied through a
 * jansson tree on the way out.  Answers are parsed with jansson.
 */
#include "store/etcd_internal.h"
#include "store/internal.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

static struct etcd_kv *etcd_of(struct store_kv *kv)
{
	return (struct etcd_kv *)kv;
}

/* Appends `"field":"<base64 of p>"`. */
static int put_b64_field(struct etcd_buf *b, const char *field, const void *p, size_t n)
{
	char head[64];
	int hn = snprintf(head, sizeof(head), "\"%s\":\"", field);
	int rc = etcd_buf_put(b, head, (size_t)hn, SIZE_MAX);

	if (rc == 0)
		rc = etcd_b64_put(b, p, n);
	if (rc == 0)
		rc = etcd_buf_put(b, "\"", 1, SIZE_MAX);
	return rc;
}

static int put_str(struct etcd_buf *b, const char *s)
{
	return etcd_buf_put(b, s, strlen(s), SIZE_MAX);
}

/* Appends head, v in decimal, then tail (head and tail literals). */
static int put_num(struct etcd_buf *b, const char *head, long long v, const char *tail)
{
	char t[32];
	int n = snprintf(t, sizeof(t), "%lld", v);
	int rc = put_str(b, head);

	if (rc == 0)
		rc = etcd_buf_put(b, t, (size_t)n, SIZE_MAX);
	if (rc == 0)
		rc = put_str(b, tail);
	return rc;
}

static int key_fail(const struct store_kv_key *k, struct vim_err *err)
{
	return vim_err_set(err, VIM_EINVAL, "etcd: key %s/%s/%s: longer than %d bytes", k->resource,
	                   k->ns ? k->ns : "", k->name, ETCD_KEY_MAX);
}

static int call(struct etcd_kv *e, const char *path, const struct etcd_buf *body, bool idempotent,
                const char *what, json_t **out, struct vim_err *err)
{
	struct etcd_call c = {.path = path,
	                      .body = body->p,
	                      .len = body->len,
	                      .what = what,
	                      .idempotent = idempotent,
	                      .only_ep = -1};

	return etcd_request(e, &c, out, err);
}

int etcd_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
             struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	struct etcd_buf body = {0}, val = {0};
	char k[ETCD_KEY_MAX], what[ETCD_KEY_MAX + 8];
	int kl = etcd_key_of(e, key, k, sizeof(k));
	const json_t *item;
	const char *v;
	json_t *j = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (kl < 0)
		return key_fail(key, err);
	snprintf(what, sizeof(what), "get %s", k);
	rc = put_str(&body, "{");
	if (rc == 0)
		rc = put_b64_field(&body, "key", k, (size_t)kl);
	if (rc == 0)
		rc = put_str(&body, "}");
	if (rc < 0) {
		rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
		goto out;
	}
	rc = call(e, "/v3/kv/range", &body, true, what, &j, err);
	if (rc < 0)
		goto out;
	item = json_array_get(json_object_get(j, "kvs"), 0);
	if (!item) {
		char q[160];

		store_qualified(q, sizeof(q), key->resource);
		rc = vim_err_set(err, VIM_ENOTFOUND, "%s \"%s\" not found", q, key->name);
		goto out;
	}
	v = json_string_value(json_object_get(item, "value"));
	rc = etcd_unb64(&val, v ? v : "", v ? strlen(v) : 0);
	if (rc < 0) {
		rc = vim_err_set(err, VIM_EIO, "etcd %s: %s: the value is not base64", e->ep[0],
		                 what);
		goto out;
	}
	out->value = val.p;
	out->len = val.len;
	out->mod_rev = etcd_json_i64(item, "mod_revision");
	val.p = NULL;
out:
	json_decref(j);
	etcd_buf_free(&body);
	etcd_buf_free(&val);
	return rc;
}

/* The key a range's next page starts at: k + "\0", the first key after
 * it in etcd's byte order. */
static int page_body(struct etcd_buf *b, const char *start, size_t slen, bool after,
                     const char *end, size_t elen, int64_t rev)
{
	char k[ETCD_KEY_MAX + 1];
	int rc;

	memcpy(k, start, slen);
	k[slen] = '\0';
	b->len = 0;
	rc = put_str(b, "{");
	if (rc == 0)
		rc = put_b64_field(b, "key", k, slen + (after ? 1 : 0));
	if (rc == 0)
		rc = put_str(b, ",");
	if (rc == 0)
		rc = put_b64_field(b, "range_end", end, elen);
	if (rc == 0)
		rc = put_num(b, ",\"limit\":\"", ETCD_PAGE, "\"");
	if (rc == 0 && rev > 0)
		rc = put_num(b, ",\"revision\":\"", (long long)rev, "\"");
	if (rc == 0)
		rc = put_str(b, "}");
	return rc;
}

/* The message of a range etcd refused for its revision. */
static int rev_fail(int rc, const char *dir, int64_t rev, struct vim_err *err)
{
	if (rc == VIM_EGONE)
		return vim_err_set(err, rc, "etcd: range %s at revision %lld: compacted", dir,
		                   (long long)rev);
	if (rc == VIM_EINVAL)
		return vim_err_set(err, rc,
		                   "etcd: range %s: revision %lld is newer than etcd's current one",
		                   dir, (long long)rev);
	return rc;
}

int etcd_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn, void *arg,
               struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	char dir[ETCD_KEY_MAX], end[ETCD_KEY_MAX], start[ETCD_KEY_MAX], what[ETCD_KEY_MAX + 16];
	char kbuf[ETCD_KEY_MAX];
	struct etcd_buf body = {0}, key = {0}, val = {0};
	bool has_ns = r->ns && *r->ns, after = r->after_name != NULL;
	int dl = etcd_key_dir(e, r->resource, r->ns, dir, sizeof(dir));
	int64_t rev = r->rev;
	size_t slen;
	json_t *j = NULL;
	int rc = 0;

	meta->rev = 0;
	meta->remaining = 0;
	if (dl < 0)
		return vim_err_set(err, VIM_EINVAL, "etcd: range %s: key longer than %d bytes",
		                   r->resource, ETCD_KEY_MAX);
	/* the end of a prefix: its last byte + 1 ('/' + 1 = '0') */
	memcpy(end, dir, (size_t)dl);
	end[dl - 1]++;
	snprintf(what, sizeof(what), "range %s", dir);
	if (after) {
		const char *ans = r->after_ns ? r->after_ns : "";
		int n = snprintf(start, sizeof(start), "%s%s%s%s", dir, has_ns || !*ans ? "" : ans,
		                 has_ns || !*ans ? "" : "/", r->after_name);

		if (n < 0 || (size_t)n >= sizeof(start) - 1)
			return vim_err_set(err, VIM_EINVAL, "etcd: %s: after key too long", what);
		slen = (size_t)n;
	} else {
		memcpy(start, dir, (size_t)dl);
		slen = (size_t)dl;
	}
	for (bool first = true;; first = false) {
		const json_t *kvs, *item;
		int64_t count;
		size_t i;

		rc = page_body(&body, start, slen, after, end, (size_t)dl, rev);
		if (rc < 0) {
			rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
			goto out;
		}
		json_decref(j);
		j = NULL;
		rc = call(e, "/v3/kv/range", &body, true, what, &j, err);
		if (rc < 0) {
			rc = rev_fail(rc, dir, rev, err);
			goto out;
		}
		if (first) {
			/* every page after this one reads at this revision */
			rev = rev > 0 ? rev : etcd_json_header_rev(j);
			meta->rev = rev;
		}
		kvs = json_object_get(j, "kvs");
		count = etcd_json_i64(j, "count");
		json_array_foreach(kvs, i, item)
		{
			const char *ks = json_string_value(json_object_get(item, "key"));
			const char *vs = json_string_value(json_object_get(item, "value"));
			struct store_kv_item it = {0};
			char *rest, *slash;

			if (!ks || etcd_unb64(&key, ks, strlen(ks)) < 0 ||
			    etcd_unb64(&val, vs ? vs : "", vs ? strlen(vs) : 0) < 0) {
				rc = vim_err_set(err, VIM_EIO,
				                 "etcd: %s: a key or value not base64", what);
				goto out;
			}
			if (key.len >= sizeof(start) - 1 || key.len <= (size_t)dl) {
				vim_log(VIM_LOG_DEBUG, "etcd: %s: skipped a key of %zu bytes", what,
				        key.len);
				continue;
			}
			memcpy(start, key.p, key.len);
			slen = key.len;
			after = true;
			memcpy(kbuf, key.p + dl, key.len - (size_t)dl);
			kbuf[key.len - (size_t)dl] = '\0';
			rest = kbuf;
			slash = strchr(rest, '/');
			if (has_ns) {
				it.ns = r->ns;
				it.name = rest;
			} else if (slash) {
				*slash = '\0';
				it.ns = rest;
				it.name = slash + 1;
			} else {
				it.ns = "";
				it.name = rest;
			}
			if (strchr(it.name, '/') || !*it.name) {
				vim_log(VIM_LOG_DEBUG, "etcd: %s: skipped %.*s: not one of ours",
				        what, (int)key.len, key.p);
				continue;
			}
			it.value = val.p;
			it.len = val.len;
			it.mod_rev = etcd_json_i64(item, "mod_revision");
			rc = fn(arg, &it);
			if (rc != 0) {
				/* count: the keys from this page's first to the end */
				if (rc > 0)
					meta->remaining = r->count_rest ? count - (int64_t)i : -1;
				rc = rc > 0 ? 0 : rc;
				goto out;
			}
		}
		if (!json_is_true(json_object_get(j, "more")) || json_array_size(kvs) == 0)
			break;
	}
out:
	json_decref(j);
	etcd_buf_free(&body);
	etcd_buf_free(&key);
	etcd_buf_free(&val);
	return rc;
}

int etcd_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
               struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	struct etcd_buf body = {0};
	char k[ETCD_KEY_MAX], what[ETCD_KEY_MAX + 16];
	int kl = etcd_key_of(e, &w->key, k, sizeof(k));
	const char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int rc;

	*rev = 0;
	if (kl < 0)
		return key_fail(&w->key, err);
	snprintf(what, sizeof(what), "%s %s", w->op == STORE_KV_PUT ? "put" : "delete", k);
	if (w->op == STORE_KV_PUT) {
		rc = w->encode(w->arg, 0, &text, &len);
		if (rc < 0)
			return rc;
	}
	/* the compare: mod_revision == expect, or create_revision == 0 (absent) */
	rc = put_str(&body, w->expect_rev ? "{\"compare\":[{\"target\":\"MOD\","
	                                  : "{\"compare\":[{\"target\":\"CREATE\",");
	if (rc == 0)
		rc = put_b64_field(&body, "key", k, (size_t)kl);
	if (rc == 0)
		rc = w->expect_rev
		         ? put_num(&body, ",\"mod_revision\":\"", (long long)w->expect_rev, "\"}],")
		         : put_str(&body, ",\"create_revision\":\"0\"}],");
	if (rc == 0)
		rc = put_str(&body, w->op == STORE_KV_PUT
		                        ? "\"success\":[{\"request_put\":{"
		                        : "\"success\":[{\"request_delete_range\":{");
	if (rc == 0)
		rc = put_b64_field(&body, "key", k, (size_t)kl);
	if (rc == 0 && w->op == STORE_KV_PUT)
		rc = put_str(&body, ",");
	if (rc == 0 && w->op == STORE_KV_PUT)
		rc = put_b64_field(&body, "value", text, len);
	if (rc == 0 && w->op == STORE_KV_PUT && w->lease)
		rc = put_num(&body, ",\"lease\":\"", (long long)w->lease, "\"");
	if (rc == 0)
		rc = put_str(&body, "}}]}");
	if (rc < 0) {
		rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
		goto out;
	}
	rc = call(e, "/v3/kv/txn", &body, false, what, &j, err);
	if (rc < 0)
		goto out;
	if (!json_is_true(json_object_get(j, "succeeded"))) {
		rc = w->expect_rev
		         ? vim_err_set(err, VIM_ECONFLICT,
		                       "etcd: %s: the key's revision is not %lld "
		                       "(changed or deleted since)",
		                       what, (long long)w->expect_rev)
		         : vim_err_set(err, VIM_ECONFLICT, "etcd: %s: the key exists", what);
		goto out;
	}
	*rev = etcd_json_header_rev(j);
out:
	json_decref(j);
	etcd_buf_free(&body);
	return rc;
}

int etcd_probe(struct etcd_kv *e, int ep, int64_t timeout_ms, const atomic_bool *cancel,
               int64_t *rev, struct vim_err *err)
{
	struct etcd_buf body = {0};
	char what[300];
	json_t *j = NULL;
	int rc;

	*rev = 0;
	snprintf(what, sizeof(what), "revision (range %s)", e->prefix);
	/* a count of one key: no data, one linearizable read for the header */
	rc = put_str(&body, "{");
	if (rc == 0)
		rc = put_b64_field(&body, "key", e->prefix, e->plen);
	if (rc == 0)
		rc = put_str(&body, ",\"count_only\":true}");
	if (rc < 0) {
		rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
		goto out;
	}
	{
		struct etcd_call c = {.path = "/v3/kv/range",
		                      .body = body.p,
		                      .len = body.len,
		                      .what = what,
		                      .idempotent = true,
		                      .only_ep = ep,
		                      .timeout_ms = timeout_ms,
		                      .cancel = cancel};

		rc = etcd_request(e, &c, &j, err);
	}
	if (rc < 0)
		goto out;
	*rev = etcd_json_header_rev(j);
	if (*rev <= 0)
		rc = vim_err_set(err, VIM_EIO, "etcd: %s: an answer without header.revision", what);
out:
	json_decref(j);
	etcd_buf_free(&body);
	return rc;
}

int etcd_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err)
{
	return etcd_probe(etcd_of(kv), -1, 0, NULL, rev, err);
}

int etcd_lease_grant(struct store_kv *kv, int64_t ttl_s, int64_t *id, struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	struct etcd_buf body = {0};
	char what[64];
	json_t *j = NULL;
	int rc;

	*id = 0;
	snprintf(what, sizeof(what), "lease grant of %lld s", (long long)ttl_s);
	if (ttl_s <= 0)
		return vim_err_set(err, VIM_EINVAL, "etcd: %s: the TTL must be > 0", what);
	rc = put_num(&body, "{\"TTL\":\"", (long long)ttl_s, "\"}");
	if (rc < 0) {
		rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
		goto out;
	}
	/* not idempotent: a grant sent twice leaves a lease nobody uses */
	rc = call(e, "/v3/lease/grant", &body, false, what, &j, err);
	if (rc < 0)
		goto out;
	*id = etcd_json_i64(j, "ID");
	if (*id == 0)
		rc = vim_err_set(err, VIM_EIO, "etcd: %s: an answer without ID", what);
out:
	json_decref(j);
	etcd_buf_free(&body);
	return rc;
}
