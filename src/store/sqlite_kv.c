/*
 * store/sqlite_kv — one key's read and one key's compare-and-swap write on
 * the SQLite file.  Writes are serialised by one mutex; the revision is
 * meta.rv, kept in the same transaction as the row, so order survives
 * restarts.  The compare is the write statement's own condition, inside
 * its transaction, under the mutex: nothing can commit between it and the
 * write.  The fence of a fenced write is one more read of its key's rv
 * in the same transaction.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps a statement that returns no rows (the transaction's own are
 * prepared once: sqlite3_exec would compile them on every write). */
static int sq_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_key(sqlite3_stmt *st, const struct store_kv_key *k)
{
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, k->resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, k->ns ? k->ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, k->name, -1, SQLITE_STATIC);
}

int sq_kv_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
              struct vim_err *err)
{
	struct sq_kv *s = (struct sq_kv *)kv;
	sqlite3_stmt *st = s->get;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	bind_key(st, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		/* a NOT NULL column: no text is out of memory */
		if (!text || !(out->value = malloc(len + 1))) {
			rc = text ? vim_err_set(err, VIM_ENOMEM, "store: %s: get: out of memory",
			                        s->path)
			          : sq_fail(s, sqlite3_errcode(s->db), err, "get");
			goto out;
		}
		memcpy(out->value, text, len);
		out->value[len] = '\0';
		out->len = len;
		out->mod_rev = sqlite3_column_int64(st, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = vim_err_set(err, VIM_ENOTFOUND, "store: %s: %s %s/%s not found", s->path,
		                 key->resource, key->ns ? key->ns : "", key->name);
	} else {
		rc = sq_fail(s, rc, err, "get");
	}
out:
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* A write whose compare failed: nothing is written. */
static int compare_failed(struct sq_kv *s, const struct store_kv_write *w, struct vim_err *err)
{
	const struct store_kv_key *k = &w->key;

	if (w->expect_rev == 0)
		return vim_err_set(err, VIM_ECONFLICT, "store: %s: %s %s/%s exists", s->path,
		                   k->resource, k->ns ? k->ns : "", k->name);
	return vim_err_set(err, VIM_ECONFLICT, "store: %s: %s %s/%s is not at revision %lld",
	                   s->path, k->resource, k->ns ? k->ns : "", k->name,
	                   (long long)w->expect_rev);
}

/* The fence (store_kv_write.fence): the fence key's rv, read inside the
 * write's transaction, under the lock, must be fence_rev.  0, or
 * VIM_EFENCED naming the key, or another failure of the read. */
static int fence_check(struct sq_kv *s, const struct store_kv_write *w, struct vim_err *err)
{
	const struct store_kv_key *f = &w->fence;
	char who[4200], key[400];
	int64_t seen = 0;
	int rc;

	if (w->fence_rev > 0) {
		bind_key(s->rev, f);
		rc = sqlite3_step(s->rev);
		if (rc == SQLITE_ROW)
			seen = sqlite3_column_int64(s->rev, 0);
		sqlite3_reset(s->rev);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sq_fail(s, rc, err, "read the fence");
		if (seen == w->fence_rev)
			return 0;
	}
	snprintf(who, sizeof(who), "store: %s", s->path);
	snprintf(key, sizeof(key), "%s/%s", f->resource, f->name);
	return store_fence_refused(who, key, w->fence_rev, seen, err);
}

/* The compare is the statement's own condition (an INSERT that a taken
 * key fails, an UPDATE or DELETE of the row at expect_rev): one lookup of
 * the key, inside the transaction, under the lock. */
int sq_kv_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
                struct vim_err *err)
{
	struct sq_kv *s = (struct sq_kv *)kv;
	const struct store_kv_key *k = &w->key;
	const char *text = NULL;
	int64_t next;
	size_t len = 0;
	sqlite3_stmt *st;
	int rc;

	*rev = 0;
	pthread_mutex_lock(&s->mu);
	next = s->rv + 1;
	if (w->op == STORE_KV_PUT && (rc = w->encode(w->arg, next, &text, &len)) < 0) {
		vim_err_set(err, rc, "store: %s: %s %s/%s: cannot encode the value (%s)", s->path,
		            k->resource, k->ns ? k->ns : "", k->name, vim_code_name(rc));
		goto out;
	}
	if ((rc = sq_run(s->begin)) != SQLITE_OK) {
		rc = sq_fail(s, rc, err, "begin");
		goto out;
	}
	/* the fence first: a write that would fail both compares is fenced */
	if (w->fence.name && (rc = fence_check(s, w, err)) < 0)
		goto rollback;
	st = w->op == STORE_KV_DELETE ? s->del : w->expect_rev == 0 ? s->ins : s->upd;
	bind_key(st, k);
	if (w->op == STORE_KV_DELETE) {
		sqlite3_bind_int64(st, 4, w->expect_rev);
	} else {
		sqlite3_bind_int64(st, 4, next);
		sqlite3_bind_text(st, 5, text, (int)len, SQLITE_STATIC);
		if (w->expect_rev)
			sqlite3_bind_int64(st, 6, w->expect_rev);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if ((rc == SQLITE_CONSTRAINT &&
	     sqlite3_extended_errcode(s->db) == SQLITE_CONSTRAINT_UNIQUE) ||
	    (rc == SQLITE_DONE && sqlite3_changes(s->db) != 1)) {
		rc = compare_failed(s, w, err);
		goto rollback;
	}
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s->setrv);
		sqlite3_bind_int64(s->setrv, 1, next);
		rc = sqlite3_step(s->setrv);
		/* no row updated: the counter is gone and would restart at 0 */
		if (rc == SQLITE_DONE && sqlite3_changes(s->db) != 1)
			rc = SQLITE_CORRUPT;
		sqlite3_reset(s->setrv);
	}
	if (rc != SQLITE_DONE || (rc = sq_run(s->commit)) != SQLITE_OK) {
		rc = sq_fail(s, rc, err, "write");
		goto rollback;
	}
	s->rv = next;
	*rev = next;
	/* still under the lock: the layer publishes in revision order */
	if (w->committed)
		w->committed(w->arg, next);
	goto out;
rollback:
	sq_run(s->rollback);
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int sq_kv_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err)
{
	struct sq_kv *s = (struct sq_kv *)kv;

	(void)err;
	pthread_mutex_lock(&s->mu);
	*rev = s->rv;
	pthread_mutex_unlock(&s->mu);
	return 0;
}
