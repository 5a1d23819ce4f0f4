/*
 * store/sqlite — the embedded backend as a kv backend (store/kv.h): one
 * SQLite file in WAL mode, one revision counter (meta.rv) kept in the same
 * transaction as every write, so order survives restarts.  Writes are
 * serialised by one mutex (sqlite_kv.c); ranges read through their own
 * connection and never block writers (WAL, sqlite_list.c).  The object
 * rules sit above it, in store/object.c: store_sqlite_open is the two
 * together.
 */
#include "store/sqlite_internal.h"
#include "store/object.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

/* Schema 2: a rowid table with a unique index on the key.  Schema 1 (no
 * user_version) kept rows in a WITHOUT ROWID table, whose B-tree keeps at
 * most ~1 KiB of a row in its page: every ~2.5 KiB image spilled into
 * overflow pages, and each write appended twice the WAL it needed. */
#define SQ_SCHEMA 2

static const char pragmas[] = "PRAGMA journal_mode=WAL;"
                              "PRAGMA synchronous=NORMAL;";

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS objects(id INTEGER PRIMARY KEY, resource TEXT NOT NULL,"
    " ns TEXT NOT NULL, name TEXT NOT NULL, rv INTEGER NOT NULL, json TEXT NOT NULL);"
    "CREATE UNIQUE INDEX IF NOT EXISTS objects_key ON objects(resource, ns, name);"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta(k, v) VALUES('rv', 0);";

/* Schema 1's rows, copied in the same transaction that makes schema 2. */
static const char from_v1[] = "ALTER TABLE objects RENAME TO objects_v1;"
                              "DROP INDEX IF EXISTS objects_key;";
static const char copy_v1[] =
    "INSERT INTO objects(resource, ns, name, rv, json)"
    " SELECT resource, ns, name, rv, json FROM objects_v1 ORDER BY resource, ns, name;"
    "DROP TABLE objects_v1;";

int sq_db_fail(const char *path, sqlite3 *db, int rc, const char *what, struct vim_err *err)
{
	const char *why =
	    db && sqlite3_errcode(db) != SQLITE_OK ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	struct vim_err local;

	if (!err)
		err = &local;
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) /* a row missing or one too many */
		why = "the database holds something this store never wrote";
	vim_err_set(err, VIM_EIO, "store: %s: %s: %s (sqlite %d)", path, what, why, rc);
	vim_log(VIM_LOG_ERROR, "%s", err->msg);
	return VIM_EIO;
}

int sq_fail(struct sq_kv *s, int rc, struct vim_err *err, const char *what)
{
	return sq_db_fail(s->path, s->db, rc, what, err);
}

static int prepare(struct sq_kv *s, sqlite3_stmt **st, const char *sql, struct vim_err *err)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : sq_fail(s, rc, err, "prepare");
}

static int int_query(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* The message that refuses a damaged file: where it is, what SQLite saw,
 * and the ways out (the server must not guess which one is right). */
static int corrupted(struct sq_kv *s, const char *why, struct vim_err *err)
{
	return vim_err_set(err, VIM_EIO,
	                   "%.200s is corrupted (quick_check: %.120s); restore it from a backup, "
	                   "or move it away to start empty; `sqlite3 %.200s .recover` may save "
	                   "objects",
	                   s->path, why, s->path);
}

static bool is_damage(int rc)
{
	rc &= 0xff; /* extended codes: SQLITE_IOERR_READ, SQLITE_CORRUPT_INDEX, ... */
	return rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB || rc == SQLITE_IOERR;
}

/* Brings the file to schema SQ_SCHEMA in one transaction (a crash leaves
 * the old schema whole); refuses a newer one, which this build would
 * misread. */
static int make_schema(struct sq_kv *s, struct vim_err *err)
{
	int64_t version = 0, v1 = 0, moved = 0;
	char set_version[40];
	int rc;

	snprintf(set_version, sizeof(set_version), "PRAGMA user_version=%d", SQ_SCHEMA);

	if ((rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = int_query(s->db, "PRAGMA user_version", &version)) != SQLITE_OK ||
	    (rc = int_query(s->db,
	                    "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
	                    "name='objects' AND sql LIKE '%WITHOUT ROWID%'",
	                    &v1)) != SQLITE_OK)
		goto fail;
	if (version > SQ_SCHEMA) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return vim_err_set(err, VIM_EINVAL,
		                   "store: %s has schema %lld, newer than this vimaged's (%d)",
		                   s->path, (long long)version, SQ_SCHEMA);
	}
	if (v1 && (rc = sqlite3_exec(s->db, from_v1, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_exec(s->db, schema, NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if (v1 && ((rc = sqlite3_exec(s->db, copy_v1, NULL, NULL, NULL)) != SQLITE_OK ||
	           (rc = int_query(s->db, "SELECT count(*) FROM objects", &moved)) != SQLITE_OK))
		goto fail;
	if ((rc = sqlite3_exec(s->db, set_version, NULL, NULL, NULL)) != SQLITE_OK ||
	    (rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK)
		goto fail;
	if (v1)
		vim_log(VIM_LOG_INFO, "store: %s: %lld objects moved to schema %d", s->path,
		        (long long)moved, SQ_SCHEMA);
	return 0;
fail:
	rc = is_damage(rc) ? corrupted(s, sqlite3_errmsg(s->db), err)
	                   : vim_err_set(err, VIM_EIO, "store: %s: schema: %s", s->path,
	                                 sqlite3_errmsg(s->db));
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* SQLite's report on one line: "*** in database main ***\nPage 41: ..."
 * becomes "Page 41: ..." (the refusal is one readable log line). */
static void one_line(char *out, size_t len, const char *text)
{
	static const char banner[] = "*** in database main ***";
	size_t o = 0;
	bool space = false;

	if (strncmp(text, banner, sizeof(banner) - 1) == 0)
		text += sizeof(banner) - 1;
	for (; *text && o + 1 < len; text++) {
		if ((unsigned char)*text < 0x20 || *text == ' ') {
			space = o > 0;
			continue;
		}
		if (space && o + 2 < len)
			out[o++] = ' ';
		space = false;
		out[o++] = *text;
	}
	out[o] = '\0';
}

/* PRAGMA quick_check before anything else reads or writes the file: a
 * damaged page would otherwise surface later as lists that end early or
 * objects that cannot be read (O(size) with no index cross-check; the
 * full integrity_check would cost several times more at every start). */
static int check_file(struct sq_kv *s, struct vim_err *err)
{
	sqlite3_stmt *st = NULL;
	char why[160] = "";
	int rc = sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (text && strcmp(text, "ok") == 0) {
			rc = SQLITE_OK;
		} else {
			one_line(why, sizeof(why), text ? text : "no answer");
			rc = SQLITE_CORRUPT;
		}
	}
	if (rc == SQLITE_OK) {
		sqlite3_finalize(st);
		return 0;
	}
	if (why[0] || is_damage(rc)) { /* a report, or a check that broke on the damage */
		if (!why[0])
			one_line(why, sizeof(why), sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return corrupted(s, why, err);
	}
	rc = sq_fail(s, rc, err, "quick_check"); /* busy, out of memory: not damage */
	sqlite3_finalize(st);
	return rc;
}

static void sq_kv_close(struct store_kv *kv)
{
	struct sq_kv *s = (struct sq_kv *)kv;

	if (!s)
		return;
	sq_ckpt_stop(s);
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->rev);
	sqlite3_finalize(s->ins);
	sqlite3_finalize(s->upd);
	sqlite3_finalize(s->del);
	sqlite3_finalize(s->setrv);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->rollback);
	sqlite3_close(s->db);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}

/* Every write goes through this process's one writer connection, and the
 * value is made once the revision is known (it carries it): the layer
 * feeds its hub from `committed` and streams lists as stored. */
static const struct store_kv_ops sq_kv_ops = {
    .name = "sqlite",
    .local = true,
    .value_has_rev = true,
    .get = sq_kv_get,
    .range = sq_kv_range,
    .write = sq_kv_write,
    .current_rev = sq_kv_current_rev,
    .close = sq_kv_close,
};

int store_kv_sqlite_open(struct store_kv **out, const char *path, struct vim_err *err)
{
	struct sq_kv *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	struct vim_err cerr;
	int rc;

	*out = NULL;
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	}
	s->base.ops = &sq_kv_ops;
	pthread_mutex_init(&s->mu, NULL);
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = vim_err_set(err, VIM_EIO, "store: cannot open %s: %s", path,
		                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if ((rc = check_file(s, err)) < 0)
		goto fail;
	if ((rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL)) != SQLITE_OK) {
		rc = is_damage(rc)
		         ? corrupted(s, sqlite3_errmsg(s->db), err)
		         : vim_err_set(err, VIM_EIO, "store: %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if ((rc = make_schema(s, err)) < 0)
		goto fail;
	if ((rc = prepare(s, &s->get,
	                  "SELECT json, rv FROM objects WHERE resource=? AND ns=? AND name=?",
	                  err)) < 0 ||
	    (rc = prepare(s, &s->rev, "SELECT rv FROM objects WHERE resource=? AND ns=? AND name=?",
	                  err)) < 0 ||
	    (rc = prepare(
	         s, &s->ins,
	         "INSERT INTO objects(resource, ns, name, rv, json) VALUES(?1, ?2, ?3, ?4, ?5)",
	         err)) < 0 ||
	    (rc = prepare(s, &s->upd,
	                  "UPDATE objects SET rv=?4, json=?5"
	                  " WHERE resource=?1 AND ns=?2 AND name=?3 AND rv=?6",
	                  err)) < 0 ||
	    (rc = prepare(s, &s->del,
	                  "DELETE FROM objects WHERE resource=?1 AND ns=?2 AND name=?3 AND rv=?4",
	                  err)) < 0 ||
	    (rc = prepare(s, &s->setrv, "UPDATE meta SET v=? WHERE k='rv'", err)) < 0 ||
	    (rc = prepare(s, &s->begin, "BEGIN IMMEDIATE", err)) < 0 ||
	    (rc = prepare(s, &s->commit, "COMMIT", err)) < 0 ||
	    (rc = prepare(s, &s->rollback, "ROLLBACK", err)) < 0 ||
	    (rc = prepare(s, &st, "SELECT v FROM meta WHERE k='rv'", err)) < 0)
		goto fail;
	/* Without it every new revision would repeat an old one. */
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_fail(s, rc, err, "read the resourceVersion");
		sqlite3_finalize(st);
		goto fail;
	}
	s->rv = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (sq_ckpt_start(s, &cerr) < 0) /* slower, not wrong: say so and go on */
		vim_log(VIM_LOG_WARN, "%s; checkpoints stay in the commits", cerr.msg);
	*out = &s->base;
	return 0;
fail:
	sq_kv_close(&s->base);
	return rc;
}

int store_sqlite_open(struct store **out, const char *path, int64_t history, struct vim_err *err)
{
	struct store_sqlite_opts o = {.history = history};

	return store_sqlite_open_opts(out, path, &o, err);
}

int store_sqlite_open_opts(struct store **out, const char *path, const struct store_sqlite_opts *o,
                           struct vim_err *err)
{
	struct store_object_opts oo = {0};
	struct store_kv *kv = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_kv_sqlite_open(&kv, path, err)) < 0)
		return rc;
	if (o) {
		oo.history = o->history;
		oo.history_bytes = o->history_bytes;
		oo.event_ttl_s = o->event_ttl_s;
		oo.event_expire_every_ms = o->event_expire_every_ms;
	}
	/* local: the layer serves lists from range and watches from its hub */
	return store_object_open(out, kv, &oo, err);
}
