/*
 * store/etcd_kv — the kv calls over etcd's gateway: get and range are
 * /v3/kv/range, a write is one /v3/kv/txn whose compare is the key's
 * mod_revision (or, for a create, create_revision 0: absent), so the
 * conflict is decided by etcd and never by a read-then-write.  A fenced
 * write adds the fence key's mod_revision to the compare, and a failure
 * branch that reads the fence key back (keys only), so one round trip
 * tells a deposed leader (VIM_EFENCED) from a lost compare (409).
 *
 * Bodies are written by hand: keys and values go in as base64, which
 * needs no JSON escaping, and a 2.5 KiB value is not copied through a
 * jansson tree on the way out.  Small answers are parsed with jansson,
 * range pages scanned in place (see below).
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

/* A page's body: from the key in from, or, after a key, from the first
 * key after it in etcd's byte order (from + "\0": the buffer's NUL). */
static int page_body(struct etcd_buf *b, const struct etcd_buf *from, bool after, const char *end,
                     size_t elen, int64_t rev, int64_t limit)
{
	int rc;

	b->len = 0;
	rc = put_str(b, "{");
	if (rc == 0)
		rc = put_b64_field(b, "key", from->p, from->len + (after ? 1 : 0));
	if (rc == 0)
		rc = put_str(b, ",");
	if (rc == 0)
		rc = put_b64_field(b, "range_end", end, elen);
	if (rc == 0)
		rc = put_num(b, ",\"limit\":\"", (long long)limit, "\"");
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

/* ---- a range page, scanned in place ----------------------------------------------
 *
 * A page is ~1.7 MiB of JSON, nearly all of it base64 values: jansson
 * would copy every value into a tree (measured: ~55 ms a page, more than
 * etcd takes to send it).  This reads the few fields a page has where
 * they lie: header.revision, kvs[].key/value/mod_revision, more, count;
 * everything else is skipped as JSON.  Those fields are base64 or decimal
 * text, which the gateway never escapes; one that holds a '\' is refused
 * as damage rather than read wrong. */

struct page_kv {
	const char *key, *value, *mod; /* raw text inside the quotes */
	size_t klen, vlen, mlen;
};

struct page {
	int64_t rev, count;
	bool more;
	struct page_kv *kvs;
	size_t n, cap;
};

struct scan {
	const char *p, *end;
};

static void sc_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\n' || *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static bool sc_eat(struct scan *s, char c)
{
	sc_ws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A string: its raw bytes between the quotes; *esc when it holds a '\'. */
static int sc_str(struct scan *s, const char **out, size_t *len, bool *esc)
{
	const char *q;

	sc_ws(s);
	if (s->p >= s->end || *s->p != '"')
		return -1;
	q = ++s->p;
	for (;;) {
		const char *quote = memchr(q, '"', (size_t)(s->end - q));
		const char *b;

		if (!quote)
			return -1;
		/* escaped when an odd run of backslashes stands before it */
		for (b = quote; b > s->p && b[-1] == '\\'; b--)
			;
		if ((quote - b) % 2 == 0) {
			*out = s->p;
			*len = (size_t)(quote - s->p);
			*esc = memchr(s->p, '\\', *len) != NULL;
			s->p = quote + 1;
			return 0;
		}
		q = quote + 1;
	}
}

static int sc_skip(struct scan *s, int depth)
{
	const char *str;
	size_t len;
	bool esc;

	sc_ws(s);
	if (s->p >= s->end || depth > 32)
		return -1;
	switch (*s->p) {
	case '"':
		return sc_str(s, &str, &len, &esc);
	case '{':
	case '[': {
		char close = *s->p == '{' ? '}' : ']';
		bool obj = close == '}';

		s->p++;
		if (sc_eat(s, close))
			return 0;
		do {
			if (obj && (sc_str(s, &str, &len, &esc) < 0 || !sc_eat(s, ':')))
				return -1;
			if (sc_skip(s, depth + 1) < 0)
				return -1;
		} while (sc_eat(s, ','));
		return sc_eat(s, close) ? 0 : -1;
	}
	default: /* true, false, null, a number */
		len = 0;
		while (s->p + len < s->end && strchr("truefalsn0123456789+-.eE", s->p[len]) &&
		       s->p[len])
			len++;
		s->p += len;
		return len ? 0 : -1;
	}
}

/* A decimal string field ("123"): 0 or -1. */
static int sc_i64(struct scan *s, int64_t *v)
{
	const char *str;
	size_t len;
	bool esc;
	int64_t n = 0;

	if (sc_str(s, &str, &len, &esc) < 0 || esc || len == 0 || len > 18)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (str[i] < '0' || str[i] > '9')
			return -1;
		n = n * 10 + (str[i] - '0');
	}
	*v = n;
	return 0;
}

static bool sc_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* Calls fn(s, name) for each member of the object at s. */
static int sc_object(struct scan *s,
                     int (*fn)(struct scan *s, const char *name, size_t len, void *arg), void *arg)
{
	const char *name;
	size_t len;
	bool esc;

	if (!sc_eat(s, '{'))
		return -1;
	if (sc_eat(s, '}'))
		return 0;
	do {
		if (sc_str(s, &name, &len, &esc) < 0 || !sc_eat(s, ':') ||
		    fn(s, name, len, arg) < 0)
			return -1;
	} while (sc_eat(s, ','));
	return sc_eat(s, '}') ? 0 : -1;
}

static int kv_member(struct scan *s, const char *name, size_t len, void *arg)
{
	struct page_kv *kv = arg;
	const char **out = NULL;
	size_t *olen = NULL;
	bool esc;

	if (sc_is(name, len, "key"))
		out = &kv->key, olen = &kv->klen;
	else if (sc_is(name, len, "value"))
		out = &kv->value, olen = &kv->vlen;
	else if (sc_is(name, len, "mod_revision"))
		out = &kv->mod, olen = &kv->mlen;
	else
		return sc_skip(s, 2);
	return sc_str(s, out, olen, &esc) < 0 || esc ? -1 : 0;
}

static int header_member(struct scan *s, const char *name, size_t len, void *arg)
{
	return sc_is(name, len, "revision") ? sc_i64(s, arg) : sc_skip(s, 2);
}

static int page_member(struct scan *s, const char *name, size_t len, void *arg)
{
	struct page *pg = arg;

	if (sc_is(name, len, "header"))
		return sc_object(s, header_member, &pg->rev);
	if (sc_is(name, len, "count"))
		return sc_i64(s, &pg->count);
	if (sc_is(name, len, "more")) {
		sc_ws(s);
		pg->more = s->end - s->p >= 4 && memcmp(s->p, "true", 4) == 0;
		return sc_skip(s, 1);
	}
	if (!sc_is(name, len, "kvs"))
		return sc_skip(s, 1);
	if (!sc_eat(s, '['))
		return -1;
	if (sc_eat(s, ']'))
		return 0;
	do {
		if (pg->n == pg->cap) {
			size_t cap = pg->cap ? pg->cap * 2 : ETCD_PAGE;
			struct page_kv *grown = realloc(pg->kvs, cap * sizeof(*grown));

			if (!grown)
				return -1;
			pg->kvs = grown;
			pg->cap = cap;
		}
		memset(&pg->kvs[pg->n], 0, sizeof(pg->kvs[0]));
		if (sc_object(s, kv_member, &pg->kvs[pg->n]) < 0 || !pg->kvs[pg->n].key)
			return -1;
		pg->n++;
	} while (sc_eat(s, ','));
	return sc_eat(s, ']') ? 0 : -1;
}

/* Fills pg (its kvs pointing into text) from one answer of /v3/kv/range. */
static int page_scan(struct page *pg, const char *text, size_t len)
{
	struct scan s = {text, text + len};

	pg->rev = pg->count = 0;
	pg->more = false;
	pg->n = 0;
	if (sc_object(&s, page_member, pg) < 0)
		return -1;
	sc_ws(&s);
	return s.p == s.end ? 0 : -1;
}

static int64_t text_i64(const char *p, size_t n)
{
	int64_t v = 0;

	for (size_t i = 0; i < n && i < 18 && p[i] >= '0' && p[i] <= '9'; i++)
		v = v * 10 + (p[i] - '0');
	return v;
}

/* The next page's limit after pg (len bytes of answer). */
static int64_t next_limit(int64_t want, const struct page *pg, size_t len)
{
	size_t per = pg->n ? len / pg->n : 0, n;

	if (want > 0 || per == 0) /* a caller that stops early: a filter skipped some */
		return ETCD_PAGE;
	n = ETCD_PAGE_BYTES / (per + 1);
	return n < ETCD_PAGE ? ETCD_PAGE : n > ETCD_PAGE_MAX ? ETCD_PAGE_MAX : (int64_t)n;
}

int etcd_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn, void *arg,
               struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	char dir[ETCD_KEY_MAX], end[ETCD_KEY_MAX], start[ETCD_KEY_MAX], what[ETCD_KEY_MAX + 16];
	char kbuf[ETCD_KEY_MAX];
	struct etcd_buf body = {0}, key = {0}, val = {0}, from = {0}, raw = {0};
	struct page pg = {0};
	bool has_ns = r->ns && *r->ns, after = r->after_name != NULL;
	int dl = etcd_key_dir(e, r->resource, r->ns, dir, sizeof(dir));
	int64_t rev = r->rev;
	/* what the caller will take first, if it said; then ETCD_PAGE, or
	 * pages sized by bytes when it takes every key */
	int64_t limit = r->want > 0 && r->want < ETCD_PAGE_MAX ? r->want : ETCD_PAGE;
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
	if (etcd_buf_put(&from, start, slen, SIZE_MAX) < 0)
		return vim_err_set(err, VIM_ENOMEM, "etcd: %s: out of memory", what);
	for (bool first = true;; first = false) {
		struct etcd_call c = {.path = "/v3/kv/range",
		                      .what = what,
		                      .idempotent = true,
		                      .only_ep = -1,
		                      .raw = &raw};

		rc = page_body(&body, &from, after, end, (size_t)dl, rev, limit);
		if (rc < 0) {
			rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
			goto out;
		}
		c.body = body.p;
		c.len = body.len;
		rc = etcd_request(e, &c, &j, err);
		if (rc < 0) {
			rc = rev_fail(rc, dir, rev, err);
			goto out;
		}
		if (page_scan(&pg, raw.p ? raw.p : "", raw.len) < 0) {
			rc = vim_err_set(err, VIM_EIO,
			                 "etcd: %s: an answer that is not a range: %.80s", what,
			                 raw.p ? raw.p : "");
			goto out;
		}
		if (first) {
			/* every page after this one reads at this revision */
			rev = rev > 0 ? rev : pg.rev;
			meta->rev = rev;
		}
		for (size_t i = 0; i < pg.n; i++) {
			const struct page_kv *item = &pg.kvs[i];
			struct store_kv_item it = {0};
			char *rest, *slash;

			if (etcd_unb64(&key, item->key, item->klen) < 0 ||
			    etcd_unb64(&val, item->value ? item->value : "", item->vlen) < 0) {
				rc = vim_err_set(err, VIM_EIO,
				                 "etcd: %s: a key or value not base64", what);
				goto out;
			}
			/* the next page starts after this key, even one skipped */
			from.len = 0;
			if (etcd_buf_put(&from, key.p, key.len, SIZE_MAX) < 0) {
				rc = vim_err_set(err, VIM_ENOMEM, "etcd: %s: out of memory", what);
				goto out;
			}
			after = true;
			if (key.len >= sizeof(kbuf) || key.len <= (size_t)dl) {
				vim_log(VIM_LOG_DEBUG, "etcd: %s: skipped a key of %zu bytes", what,
				        key.len);
				continue;
			}
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
			it.mod_rev = text_i64(item->mod, item->mlen);
			rc = fn(arg, &it);
			if (rc != 0) {
				/* count: the keys from this page's first to the end */
				if (rc > 0)
					meta->remaining =
					    r->count_rest ? pg.count - (int64_t)i : -1;
				rc = rc > 0 ? 0 : rc;
				goto out;
			}
		}
		if (!pg.more || pg.n == 0)
			break;
		limit = next_limit(r->want, &pg, raw.len);
	}
out:
	json_decref(j);
	etcd_buf_free(&body);
	etcd_buf_free(&key);
	etcd_buf_free(&val);
	etcd_buf_free(&from);
	etcd_buf_free(&raw);
	free(pg.kvs);
	return rc;
}

/* The fence's compare, after the key's own: `,{"target":"MOD",...}`. */
static int put_fence_compare(struct etcd_buf *b, const char *fk, int fl, int64_t fence_rev)
{
	int rc = put_str(b, ",{\"target\":\"MOD\",");

	if (rc == 0)
		rc = put_b64_field(b, "key", fk, (size_t)fl);
	if (rc == 0)
		rc = put_num(b, ",\"mod_revision\":\"", (long long)fence_rev, "\"}");
	return rc;
}

/* The failure branch of a fenced write: a keys-only read of the fence
 * key, so the answer tells which compare failed in the same round trip. */
static int put_fence_failure(struct etcd_buf *b, const char *fk, int fl)
{
	int rc = put_str(b, ",\"failure\":[{\"request_range\":{");

	if (rc == 0)
		rc = put_b64_field(b, "key", fk, (size_t)fl);
	if (rc == 0)
		rc = put_str(b, ",\"keys_only\":true}}]");
	return rc;
}

/* The fence key's mod_revision as the failure branch read it (0: gone). */
static int64_t fence_seen(const json_t *j)
{
	const json_t *r =
	    json_object_get(json_array_get(json_object_get(j, "responses"), 0), "response_range");

	return etcd_json_i64(json_array_get(json_object_get(r, "kvs"), 0), "mod_revision");
}

static int fenced_fail(const char *what, const char *fk, int64_t want, int64_t seen,
                       struct vim_err *err)
{
	char who[ETCD_KEY_MAX + 32];

	snprintf(who, sizeof(who), "etcd: %s", what);
	return store_fence_refused(who, fk, want, seen, err);
}

int etcd_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
               struct vim_err *err)
{
	struct etcd_kv *e = etcd_of(kv);
	struct etcd_buf body = {0};
	char k[ETCD_KEY_MAX], fk[ETCD_KEY_MAX], what[ETCD_KEY_MAX + 16];
	int kl = etcd_key_of(e, &w->key, k, sizeof(k)), fl = 0;
	bool fenced = w->fence.name != NULL;
	const char *text = NULL;
	size_t len = 0;
	json_t *j = NULL;
	int64_t seen;
	int rc;

	*rev = 0;
	if (kl < 0)
		return key_fail(&w->key, err);
	if (fenced && (fl = etcd_key_of(e, &w->fence, fk, sizeof(fk))) < 0)
		return key_fail(&w->fence, err);
	snprintf(what, sizeof(what), "%s %s", w->op == STORE_KV_PUT ? "put" : "delete", k);
	if (fenced && w->fence_rev <= 0)
		return fenced_fail(what, fk, w->fence_rev, 0, err);
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
		         ? put_num(&body, ",\"mod_revision\":\"", (long long)w->expect_rev, "\"}")
		         : put_str(&body, ",\"create_revision\":\"0\"}");
	/* and the fence's, in the same transaction: etcd decides both */
	if (rc == 0 && fenced)
		rc = put_fence_compare(&body, fk, fl, w->fence_rev);
	if (rc == 0)
		rc = put_str(&body, w->op == STORE_KV_PUT
		                        ? "],\"success\":[{\"request_put\":{"
		                        : "],\"success\":[{\"request_delete_range\":{");
	if (rc == 0)
		rc = put_b64_field(&body, "key", k, (size_t)kl);
	if (rc == 0 && w->op == STORE_KV_PUT)
		rc = put_str(&body, ",");
	if (rc == 0 && w->op == STORE_KV_PUT)
		rc = put_b64_field(&body, "value", text, len);
	if (rc == 0 && w->op == STORE_KV_PUT && w->lease)
		rc = put_num(&body, ",\"lease\":\"", (long long)w->lease, "\"");
	if (rc == 0)
		rc = put_str(&body, "}}]");
	if (rc == 0 && fenced)
		rc = put_fence_failure(&body, fk, fl);
	if (rc == 0)
		rc = put_str(&body, "}");
	if (rc < 0) {
		rc = vim_err_set(err, rc, "etcd: %s: out of memory", what);
		goto out;
	}
	rc = call(e, "/v3/kv/txn", &body, false, what, &j, err);
	if (rc < 0)
		goto out;
	if (!json_is_true(json_object_get(j, "succeeded"))) {
		/* the fence first: a write that failed both is fenced */
		if (fenced && (seen = fence_seen(j)) != w->fence_rev)
			rc = fenced_fail(what, fk, w->fence_rev, seen, err);
		else
			rc = w->expect_rev ? vim_err_set(err, VIM_ECONFLICT,
			                                 "etcd: %s: the key's revision is not %lld "
			                                 "(changed or deleted since)",
			                                 what, (long long)w->expect_rev)
			                   : vim_err_set(err, VIM_ECONFLICT,
			                                 "etcd: %s: the key exists", what);
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
