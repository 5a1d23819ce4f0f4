/*
 * store/sqlite_list — a range of one resource's keys streamed row by row
 * from a read-only connection of its own (a WAL snapshot: consistent, and
 * writers never wait for it), in (namespace, name) order, after a key.
 * The revision and the rows come from one read transaction.  SQLite keeps
 * no old revisions: a range at a past one reads the current data and says
 * so in meta->rev.
 *
 * Every step is checked: a read that fails (a corrupt page, an I/O error)
 * fails the range with VIM_EIO, never ends it early as if the data ended.
 */
#include "store/sqlite_internal.h"

#include <stdio.h>
#include <string.h>

int sq_kv_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn, void *arg,
                struct store_kv_range_meta *meta, struct vim_err *err)
{
	struct sq_kv *s = (struct sq_kv *)kv;
	bool ns_filter = r->ns && *r->ns, stopped = false;
	sqlite3_stmt *st = NULL, *rvst = NULL;
	sqlite3 *db = NULL;
	char what[96];
	int rc = 0, step;

	meta->rev = 0;
	meta->remaining = 0;
	snprintf(what, sizeof(what), "list %s", r->resource);
	step = sqlite3_open_v2(s->path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (step != SQLITE_OK) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	/* One read transaction: the revision and the rows from one snapshot. */
	if ((step = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK ||
	    (step = sqlite3_prepare_v2(db, "SELECT v FROM meta WHERE k='rv'", -1, &rvst, NULL)) !=
	        SQLITE_OK ||
	    (step = sqlite3_step(rvst)) != SQLITE_ROW) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	meta->rev = sqlite3_column_int64(rvst, 0);
	step = sqlite3_prepare_v2(db,
	                          ns_filter
	                              ? "SELECT ns, name, rv, json FROM objects WHERE resource=?1 "
	                                "AND ns=?2 AND (ns, name) > (?3, ?4) ORDER BY ns, name"
	                              : "SELECT ns, name, rv, json FROM objects WHERE resource=?1 "
	                                "AND (ns, name) > (?3, ?4) ORDER BY ns, name",
	                          -1, &st, NULL);
	if (step != SQLITE_OK) {
		rc = sq_db_fail(s->path, db, step, what, err);
		goto out;
	}
	sqlite3_bind_text(st, 1, r->resource, -1, SQLITE_STATIC);
	if (ns_filter)
		sqlite3_bind_text(st, 2, r->ns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->after_name && r->after_ns ? r->after_ns : "", -1,
	                  SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->after_name ? r->after_name : "", -1, SQLITE_STATIC);
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_kv_item it = {
		    .ns = (const char *)sqlite3_column_text(st, 0),
		    .name = (const char *)sqlite3_column_text(st, 1),
		    .mod_rev = sqlite3_column_int64(st, 2),
		    .value = (const char *)sqlite3_column_text(st, 3),
		    .len = (size_t)sqlite3_column_bytes(st, 3),
		};
		if (!it.ns || !it.name || !it.value) { /* NOT NULL columns: out of memory */
			rc = sq_db_fail(s->path, db, sqlite3_errcode(db), what, err);
			goto out;
		}
		if ((rc = fn(arg, &it)) < 0)
			goto out;
		if (rc > 0) {
			stopped = true;
			rc = 0;
			break;
		}
	}
	if (stopped) {
		meta->remaining = -1;
		if (r->count_rest) {
			meta->remaining = 1; /* the key fn stopped at; the rest below */
			while ((step = sqlite3_step(st)) == SQLITE_ROW)
				meta->remaining++;
		}
	}
	/* A read that failed is not the end of the data. */
	if (step != SQLITE_DONE && !(stopped && !r->count_rest))
		rc = sq_db_fail(s->path, db, step, what, err);
out:
	sqlite3_finalize(st);
	sqlite3_finalize(rvst);
	if (db) {
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_close(db);
	}
	return rc;
}
