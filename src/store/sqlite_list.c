/*
 * store/sqlite_list — LIST streamed row by row from a read-only connection
 * of its own (a WAL snapshot: consistent, and writers never wait for it),
 * in (namespace, name) order, with selectors, limit and continue tokens.
 *
 * A continue token is the list's resourceVersion and the last key, base64:
 * the next page starts right after that key.  Pages after the first read
 * the data as it is then (not a snapshot at the first page's RV, which
 * SQLite cannot keep across requests); the reported resourceVersion stays
 * the first page's, as Kubernetes reports it.
 */
#include "store/sqlite_internal.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define KEY_PART_MAX 256

struct cursor {
	int64_t rv;
	char ns[KEY_PART_MAX];
	char name[KEY_PART_MAX];
};

static void token_encode(const struct cursor *c, char *out, size_t outlen)
{
	char raw[2 * KEY_PART_MAX + 40];
	unsigned char enc[sizeof(raw) * 4 / 3 + 8];
	int n = snprintf(raw, sizeof(raw), "%lld\n%s\n%s", (long long)c->rv, c->ns, c->name);

	size_t elen = (size_t)EVP_EncodeBlock(enc, (const unsigned char *)raw, n);

	/* Keys are DNS names (<= 253 + 63): the token always fits. */
	if (elen >= outlen)
		elen = outlen - 1;
	memcpy(out, enc, elen);
	out[elen] = '\0';
}

static int token_decode(const char *tok, struct cursor *c, struct vim_err *err)
{
	unsigned char raw[2 * KEY_PART_MAX + 48];
	size_t n = strlen(tok);
	char *nl1, *nl2;
	int len;

	memset(c, 0, sizeof(*c));
	if (n == 0 || n % 4 != 0 || n * 3 / 4 >= sizeof(raw))
		goto bad;
	len = EVP_DecodeBlock(raw, (const unsigned char *)tok, (int)n);
	if (len < 0)
		goto bad;
	raw[len] = '\0';
	nl1 = strchr((char *)raw, '\n');
	nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
	if (!nl2)
		goto bad;
	*nl1 = *nl2 = '\0';
	c->rv = strtoll((char *)raw, NULL, 10);
	if ((size_t)(nl2 - nl1 - 1) >= KEY_PART_MAX || strlen(nl2 + 1) >= KEY_PART_MAX)
		goto bad;
	memcpy(c->ns, nl1 + 1, (size_t)(nl2 - nl1));
	memcpy(c->name, nl2 + 1, strlen(nl2 + 1) + 1);
	return 0;
bad:
	return vim_err_set(err, VIM_EINVAL, "continue: the continue token is not valid");
}

int sq_list(struct store *base, const char *resource, const struct store_list_opts *o,
            store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	struct sq_store *s = (struct sq_store *)base;
	struct store_selector *sel = NULL;
	struct cursor cur = {0}, last = {0};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL, *rvst = NULL;
	bool ns_filter = o && o->ns && *o->ns, more = false;
	int64_t limit = o ? o->limit : 0, count = 0, rv = 0;
	int rc;

	/* The token first: it may point into *meta (the previous page's). */
	if (o && o->continue_token && *o->continue_token &&
	    (rc = token_decode(o->continue_token, &cur, err)) < 0)
		return rc;
	memset(meta, 0, sizeof(*meta));
	meta->remaining = -1;
	if ((rc = store_selector_parse(&sel, resource, o ? o->label_selector : NULL,
	                               o ? o->field_selector : NULL, err)) < 0)
		return rc;
	rc = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = vim_err_set(err, VIM_EIO, "store: list %s: cannot open %s", resource, s->path);
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/* One read transaction: the RV and the rows come from one snapshot. */
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='rv'", -1, &rvst, NULL) !=
	        SQLITE_OK ||
	    sqlite3_step(rvst) != SQLITE_ROW) {
		rc = vim_err_set(err, VIM_EIO, "store: list %s: %s", resource, sqlite3_errmsg(db));
		goto out;
	}
	rv = sqlite3_column_int64(rvst, 0);
	rc = sqlite3_prepare_v2(db,
	                        ns_filter ? "SELECT ns, name, json FROM objects WHERE resource=?1 "
	                                    "AND ns=?2 AND (ns, name) > (?3, ?4) ORDER BY ns, name"
	                                  : "SELECT ns, name, json FROM objects WHERE resource=?1 "
	                                    "AND (ns, name) > (?3, ?4) ORDER BY ns, name",
	                        -1, &st, NULL);
	if (rc != SQLITE_OK) {
		rc = vim_err_set(err, VIM_EIO, "store: list %s: %s", resource, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	if (ns_filter)
		sqlite3_bind_text(st, 2, o->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cur.ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, cur.name, -1, SQLITE_STATIC);
	rc = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 2);
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		if (sel) {
			json_t *obj = json_loadb(text, len, 0, NULL);
			bool match = obj && store_selector_match(sel, obj);
			json_decref(obj);
			if (!match)
				continue;
		}
		if (limit > 0 && count == limit) {
			more = true;
			if (!sel)
				meta->remaining = 1; /* this row; the rest counted below */
			break;
		}
		snprintf(last.ns, sizeof(last.ns), "%s", (const char *)sqlite3_column_text(st, 0));
		snprintf(last.name, sizeof(last.name), "%s",
		         (const char *)sqlite3_column_text(st, 1));
		count++;
		if ((rc = fn(arg, text, len)) != 0)
			goto out;
	}
	if (more) {
		last.rv = cur.rv ? cur.rv : rv;
		token_encode(&last, meta->continue_token, sizeof(meta->continue_token));
		if (!sel)
			while (sqlite3_step(st) == SQLITE_ROW)
				meta->remaining++;
	} else {
		meta->remaining = 0;
	}
	meta->resource_version = cur.rv ? cur.rv : rv;
out:
	sqlite3_finalize(st);
	sqlite3_finalize(rvst);
	if (db) {
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	store_selector_free(sel);
	return rc;
}
