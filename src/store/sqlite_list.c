/*
 * store/sqlite_list — LIST streamed row by row from a read-only connection
 * of its own (a WAL snapshot: consistent, and writers never wait for it),
 * in (namespace, name) order, with selectors, limit and continue tokens.
 *
 * A continue token is Kubernetes' own shape: unpadded base64url of
 * {"v":"meta.k8s.io/v1","rv":N,"start":"<ns>/<name>\u0000"} (no "<ns>/"
 * for cluster-scoped objects), N being the first page's resourceVersion;
 * the next page starts right after that key.  The key is carried whole:
 * a cut one would start the next page at the same object again, and a
 * client paging one object at a time would never end.  Pages after the
 * first read the data as it is then (not a snapshot at the first page's
 * RV, which SQLite cannot keep across requests); the reported
 * resourceVersion stays the first page's, as Kubernetes reports it.
 *
 * Every step is checked: a read that fails (a corrupt page, an I/O error)
 * fails the list with VIM_EIO, never ends it early as if the data ended.
 */
#include "store/sqlite_internal.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_VERSION "meta.k8s.io/v1"

struct cursor {
	int64_t rv;
	char *ns;   /* "" = from the start; owned */
	char *name; /* owned */
};

static void cursor_clear(struct cursor *c)
{
	free(c->ns);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of in[0..n) into out (NUL-terminated); false when it
 * does not fit in outlen. */
static bool b64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	if ((n + 2) / 3 * 4 + 1 > outlen)
		return false;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return true;
}

static int b64url_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

/* Decodes unpadded (or padded) base64url; *out is malloc'd, *len its
 * length.  false on any character outside the alphabet. */
static bool b64url_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in), i, o = 0;
	unsigned char *buf;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1 || !(buf = malloc(n * 3 / 4 + 1)))
		return false;
	for (i = 0; i < n; i++) {
		int v = b64url_value(in[i]);
		if (v < 0) {
			free(buf);
			return false;
		}
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	*out = buf;
	*len = o;
	return true;
}

/* The token of a page that ended at (ns, name), for a list at rv. */
static int token_encode(const char *resource, int64_t rv, const char *ns, const char *name,
                        char *out, size_t outlen, struct vim_err *err)
{
	size_t nlen = strlen(ns), klen = strlen(name), slen;
	char *start = malloc(nlen + klen + 3), *text = NULL;
	json_t *tok = NULL;
	int rc = 0;

	if (!start)
		return vim_err_set(err, VIM_ENOMEM, "store: list %s: out of memory", resource);
	/* "<ns>/<name>\0": the key right after the last one, as etcd's */
	slen = (size_t)snprintf(start, nlen + klen + 3, "%s%s%s", ns, nlen ? "/" : "", name) + 1;
	if (!(tok = json_pack("{s:s,s:I,s:s%}", "v", TOKEN_VERSION, "rv", (json_int_t)rv, "start",
	                      start, slen)) ||
	    !(text = json_dumps(tok, JSON_COMPACT))) {
		rc = vim_err_set(err, VIM_ENOMEM, "store: list %s: out of memory", resource);
		goto out;
	}
	if (!b64url_encode((const unsigned char *)text, strlen(text), out, outlen))
		/* only a key longer than any valid one (63 + 253) gets here */
		rc = vim_err_set(err, VIM_EINTERNAL,
		                 "store: list %s: the key %s/%s is too long for a continue token",
		                 resource, ns, name);
out:
	free(text);
	json_decref(tok);
	free(start);
	return rc;
}

static int token_invalid(struct vim_err *err, const char *why)
{
	return vim_err_set(err, VIM_EINVAL, "continue key is not valid: %s", why);
}

/* Parses a token made by token_encode; VIM_EINVAL (Kubernetes' words)
 * for anything else: a garbage token must not restart the list. */
static int token_decode(const char *tok, struct cursor *c, struct vim_err *err)
{
	unsigned char *raw = NULL;
	size_t len = 0, slen;
	json_t *j = NULL, *start;
	const char *s, *slash;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (!b64url_decode(tok, &raw, &len)) {
		rc = token_invalid(err, "illegal base64 data");
		goto out;
	}
	if (!(j = json_loadb((const char *)raw, len, JSON_ALLOW_NUL, NULL)) || !json_is_object(j)) {
		rc = token_invalid(err, "not a continue token");
		goto out;
	}
	if (!json_is_string(json_object_get(j, "v")) ||
	    strcmp(json_string_value(json_object_get(j, "v")), TOKEN_VERSION) != 0) {
		rc = token_invalid(err, "server does not recognize this encoded version");
		goto out;
	}
	if (!json_is_integer(json_object_get(j, "rv")) ||
	    json_integer_value(json_object_get(j, "rv")) <= 0) {
		rc = token_invalid(err, "incorrect encoded start resourceVersion (version "
		                        "meta.k8s.io/v1)");
		goto out;
	}
	c->rv = (int64_t)json_integer_value(json_object_get(j, "rv"));
	start = json_object_get(j, "start");
	s = json_string_value(start);
	slen = json_string_length(start);
	/* the key, then the NUL that makes it "right after" the key */
	if (!s || slen < 2 || s[slen - 1] != '\0' || memchr(s, '\0', slen - 1)) {
		rc = token_invalid(err, "no start key");
		goto out;
	}
	slash = strchr(s, '/');
	c->ns = slash ? strndup(s, (size_t)(slash - s)) : strdup("");
	c->name = strdup(slash ? slash + 1 : s);
	if (!c->ns || !c->name)
		rc = vim_err_set(err, VIM_ENOMEM, "store: continue: out of memory");
	else if (!*c->name || strchr(c->name, '/'))
		rc = token_invalid(err, "no start key");
out:
	if (rc < 0)
		cursor_clear(c);
	json_decref(j);
	free(raw);
	return rc;
}

/* Replaces *dst by a copy of src (a column's text lives only until the
 * next step). */
static int keep(char **dst, const char *src)
{
	char *copy = strdup(src);

	if (!copy)
		return VIM_ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

int sq_list(struct store *base, const char *resource, const struct store_list_opts *o,
            store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	struct sq_store *s = (struct sq_store *)base;
	struct store_selector *sel = NULL;
	struct cursor cur = {0};
	char *last_ns = NULL, *last_name = NULL, what[96];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *rvst = NULL;
	bool ns_filter = o && o->ns && *o->ns, more = false;
	int64_t limit = o ? o->limit : 0, count = 0, rv = 0;
	int rc, step;

	snprintf(what, sizeof(what), "list %s", resource);
	/* The token first: it may point into *meta (the previous page's). */
	if (o && o->continue_token && *o->continue_token &&
	    (rc = token_decode(o->continue_token, &cur, err)) < 0)
		return rc;
	memset(meta, 0, sizeof(*meta));
	meta->remaining = -1;
	if ((rc = store_selector_parse(&sel, resource, o ? o->label_selector : NULL,
	                               o ? o->field_selector : NULL, err)) < 0)
		goto out;
	step = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (step != SQLITE_OK) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/* One read transaction: the RV and the rows come from one snapshot. */
	if ((step = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK ||
	    (step = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='rv'", -1, &rvst, NULL)) !=
	        SQLITE_OK ||
	    (step = sqlite3_step(rvst)) != SQLITE_ROW) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	rv = sqlite3_column_int64(rvst, 0);
	if (cur.rv > rv) {
		rc = vim_err_set(err, VIM_EINVAL,
		                 "continue key is not valid: resourceVersion %lld is newer than "
		                 "the store's (%lld)",
		                 (long long)cur.rv, (long long)rv);
		goto out;
	}
	step =
	    sqlite3_prepare_v2(db,
	                       ns_filter ? "SELECT ns, name, json FROM objects WHERE resource=?1 "
	                                   "AND ns=?2 AND (ns, name) > (?3, ?4) ORDER BY ns, name"
	                                 : "SELECT ns, name, json FROM objects WHERE resource=?1 "
	                                   "AND (ns, name) > (?3, ?4) ORDER BY ns, name",
	                       -1, &st, NULL);
	if (step != SQLITE_OK) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	if (ns_filter)
		sqlite3_bind_text(st, 2, o->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cur.ns ? cur.ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cur.name ? cur.name : "", -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		const char *rns = (const char *)sqlite3_column_text(st, 0);
		const char *rname = (const char *)sqlite3_column_text(st, 1);
		const char *text = (const char *)sqlite3_column_text(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		if (!rns || !rname || !text) { /* NOT NULL columns: out of memory */
			rc = sq_db_fail(s->path, db, sqlite3_errcode(db), what, err);
			goto out;
		}
		if (sel) {
			json_t *obj = json_loadb(text, len, 0, NULL);
			bool match = obj && store_selector_match(sel, obj);
			json_decref(obj);
			if (!obj) {
				rc = vim_err_set(err, VIM_EIO,
				                 "store: %s: %s %s/%s: stored JSON is corrupt",
				                 s->path, resource, rns, rname);
				vim_log(VIM_LOG_ERROR, "%s",
				        err ? err->msg : "store: corrupt object");
				goto out;
			}
			if (!match)
				continue;
		}
		if (limit > 0 && count == limit) {
			more = true;
			if (!sel)
				meta->remaining = 1; /* this row; the rest counted below */
			break;
		}
		if (limit > 0 && (keep(&last_ns, rns) < 0 || keep(&last_name, rname) < 0)) {
			rc = vim_err_set(err, VIM_ENOMEM, "store: %s: out of memory", what);
			goto out;
		}
		count++;
		if ((rc = fn(arg, text, len)) != 0) {
			if (rc < 0) /* the reader's own failure: it has no err to fill */
				vim_err_set(err, rc, "store: %s: the reader failed (%s)", what,
				            vim_code_name(rc));
			goto out;
		}
	}
	if (more) {
		if ((rc = token_encode(resource, cur.rv ? cur.rv : rv, last_ns, last_name,
		                       meta->continue_token, sizeof(meta->continue_token), err)) <
		    0)
			goto out;
		if (!sel)
			while ((step = sqlite3_step(st)) == SQLITE_ROW)
				meta->remaining++;
	} else {
		meta->remaining = 0;
	}
	/* A read that failed is not the end of the data. */
	if (step != SQLITE_DONE && !(more && sel)) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	meta->resource_version = cur.rv ? cur.rv : rv;
out:
	if (rc < 0)
		memset(meta, 0, sizeof(*meta)); /* no token for a failed page */
	sqlite3_finalize(st);
	sqlite3_finalize(rvst);
	if (db) {
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	store_selector_free(sel);
	cursor_clear(&cur);
	free(last_ns);
	free(last_name);
	return rc;
}
