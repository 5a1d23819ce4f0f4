/*
 * store/sqlite — the embedded backend: one SQLite file in WAL mode, one
 * global resourceVersion counter kept in the same transaction as every
 * write, so order survives restarts.  Writes are serialised by one mutex
 * (and publish to the watch hub under it, so watchers see RV order, but
 * wake the watchers only after releasing it); LISTs
 * read through their own connection and never block writers (WAL).
 */
#include "store/sqlite_internal.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

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

/* ---- helpers shared with the other store files ------------------------------- */

const char *store_meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

void store_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

const struct model_kind_info *store_kind_of(const char *resource)
{
	const struct model_kind_info *k = model_kind_lookup(resource);

	/* the lookup also takes short names: only the plural is a resource */
	return k && strcmp(k->plural, resource) == 0 ? k : NULL;
}

void store_qualified(char *out, size_t len, const char *resource)
{
	const struct model_kind_info *k = store_kind_of(resource);

	snprintf(out, len, "%s", k ? k->qualified : resource);
}

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

int sq_fail(struct sq_store *s, int rc, struct vim_err *err, const char *what)
{
	return sq_db_fail(s->path, s->db, rc, what, err);
}

/* ---- reading one row ------------------------------------------------------------ */

/* Loads (resource, ns, name) into *out (new reference); VIM_ENOTFOUND when
 * absent.  Callers hold s->mu. */
int sq_load(struct sq_store *s, const char *resource, const char *ns, const char *name,
            json_t **out, struct vim_err *err)
{
	sqlite3_stmt *st = s->get;
	char q[160];
	int rc;

	*out = NULL;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ns ? ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		if (!text) { /* a NOT NULL column: out of memory */
			rc = sq_fail(s, sqlite3_errcode(s->db), err, "get");
			sqlite3_reset(st);
			return rc;
		}
		*out = json_loadb(text, (size_t)sqlite3_column_bytes(st, 0), 0, NULL);
		sqlite3_reset(st);
		if (!*out) {
			vim_err_set(err, VIM_EIO, "store: %s: %s %s/%s: stored JSON is corrupt",
			            s->path, resource, ns ? ns : "", name);
			vim_log(VIM_LOG_ERROR, "store: %s: %s %s/%s: stored JSON is corrupt",
			        s->path, resource, ns ? ns : "", name);
			return VIM_EIO;
		}
		return 0;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return sq_fail(s, rc, err, "get");
	store_qualified(q, sizeof(q), resource);
	return vim_err_set(err, VIM_ENOTFOUND, "%s \"%s\" not found", q, name);
}

int sq_load_rv(struct sq_store *s, const char *resource, const char *ns, const char *name,
               int64_t *rv)
{
	sqlite3_stmt *st = s->get;
	int rc;

	*rv = 0;
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ns ? ns : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*rv = sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : VIM_ENOTFOUND;
}

static int sq_get(struct store *base, const char *resource, const char *ns, const char *name,
                  json_t **out, struct vim_err *err)
{
	struct sq_store *s = (struct sq_store *)base;
	int rc;

	pthread_mutex_lock(&s->mu);
	rc = sq_load(s, resource, ns, name, out, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* Steps a statement that returns no rows (the transaction's own are
 * prepared once: sqlite3_exec would compile them on every write). */
static int sq_run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Releases the write lock, then wakes the watchers of what was written. */
void sq_unlock_and_wake(struct sq_store *s)
{
	pthread_mutex_unlock(&s->mu);
	store_hub_wake(s->hub);
}

/* ---- writing ------------------------------------------------------------------------- */

/* Stores obj under a fresh RV (or deletes the row) in one transaction and
 * publishes the change with prev (stolen; see store_hub_publish).  obj
 * gets metadata.resourceVersion.  Callers hold s->mu. */
int sq_commit(struct sq_store *s, const char *resource, json_t *obj, json_t *prev,
              enum store_event_type type, struct vim_err *err)
{
	const char *ns = store_meta_str(obj, "namespace"), *name = store_meta_str(obj, "name");
	int64_t rv = s->rv + 1;
	char rvtext[32], *text = NULL;
	size_t bytes = 0;
	sqlite3_stmt *st;
	int rc;

	if (type == STORE_MODIFIED && !prev) /* the selectors' view of the change */
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	snprintf(rvtext, sizeof(rvtext), "%lld", (long long)rv);
	json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion",
	                    json_string(rvtext));
	if ((rc = sq_run(s->begin)) != SQLITE_OK) {
		json_decref(prev);
		return sq_fail(s, rc, err, "begin");
	}
	if (type == STORE_DELETED) {
		st = s->del;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ns ? ns : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	} else {
		if (!(text = json_dumps(obj, JSON_COMPACT))) {
			sq_run(s->rollback);
			json_decref(prev);
			return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
		}
		bytes = strlen(text);
		st = s->put;
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, resource, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, ns ? ns : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, rv);
		sqlite3_bind_text(st, 5, text, (int)bytes, SQLITE_STATIC);
	}
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(s->setrv);
		sqlite3_bind_int64(s->setrv, 1, rv);
		rc = sqlite3_step(s->setrv);
		/* no row updated: the counter is gone and would restart at 0 */
		if (rc == SQLITE_DONE && sqlite3_changes(s->db) != 1)
			rc = SQLITE_CORRUPT;
		sqlite3_reset(s->setrv);
	}
	if (rc != SQLITE_DONE || (rc = sq_run(s->commit)) != SQLITE_OK) {
		int frc = sq_fail(s, rc, err, "write");
		sq_run(s->rollback);
		json_decref(prev);
		free(text);
		return frc;
	}
	s->rv = rv;
	if (type == STORE_DELETED && (text = json_dumps(obj, JSON_COMPACT)))
		bytes = strlen(text); /* the history holds the last state */
	store_hub_publish_text(s->hub, resource, type, obj, text, bytes, prev, rv);
	return 0;
}

int sq_write(struct sq_store *s, const char *resource, json_t *obj, json_t *prev,
             enum store_event_type type, const char *stored_rv, const struct store_write_opts *wo,
             struct vim_err *err)
{
	json_t *md = json_object_get(obj, "metadata");

	if (!wo || !wo->dry_run)
		return sq_commit(s, resource, obj, prev, type, err);
	json_decref(prev);
	/* copied before the set: stored_rv may be obj's own member */
	if (stored_rv)
		json_object_set_new(md, "resourceVersion", json_string(stored_rv));
	else
		json_object_del(md, "resourceVersion");
	return 0;
}

static bool has_spec(const char *resource)
{
	return strcmp(resource, "events") != 0 && strcmp(resource, "namespaces") != 0;
}

/* Kubernetes' SimpleNameGenerator: the prefix cut to 58 characters
 * (maxGeneratedNameLength = 63 - 5) and 5 random characters from an
 * alphabet without vowels (no words) or look-alikes. */
#define GEN_PREFIX_MAX 58
#define GEN_RANDOM 5
/* kube retries a generated name that already exists up to 7 times */
#define GEN_TRIES 8

static int generate_name(const char *prefix, char out[GEN_PREFIX_MAX + GEN_RANDOM + 1])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	const unsigned n = sizeof(alphabet) - 1, fair = 256 - 256 % n; /* no modulo bias */
	size_t plen = strnlen(prefix, GEN_PREFIX_MAX), i = 0;
	unsigned char r[16];

	memcpy(out, prefix, plen);
	while (i < GEN_RANDOM) {
		ssize_t got = getrandom(r, sizeof(r), 0), k;
		if (got <= 0)
			return VIM_EIO;
		for (k = 0; k < got && i < GEN_RANDOM; k++)
			if (r[k] < fair)
				out[plen + i++] = alphabet[r[k] % n];
	}
	out[plen + GEN_RANDOM] = '\0';
	return 0;
}

static int sq_create(struct store *base, const char *resource, const json_t *in,
                     const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	struct sq_store *s = (struct sq_store *)base;
	json_t *obj = json_deep_copy(in), *md, *existing = NULL;
	const char *name, *gen, *ns;
	char uid[37], ts[VIM_TIME_TEXT_MAX], q[160], genname[GEN_PREFIX_MAX + GEN_RANDOM + 1];
	int rc = 0, tries;

	*out = NULL;
	md = json_object_get(obj, "metadata");
	if (!obj || !json_is_object(md)) {
		json_decref(obj);
		return vim_err_set(err, VIM_EINVAL, "%s: metadata is required", resource);
	}
	store_qualified(q, sizeof(q), resource);
	ns = store_meta_str(obj, "namespace");
	/* The longest keys Kubernetes allows; a continue token always holds
	 * them whole (a longer one could not page). */
	if (ns && strlen(ns) > STORE_NAMESPACE_MAX) {
		json_decref(obj);
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: metadata.namespace: Invalid value: must be no more than %d "
		                   "characters",
		                   q, STORE_NAMESPACE_MAX);
	}
	pthread_mutex_lock(&s->mu);
	name = store_meta_str(obj, "name");
	gen = store_meta_str(obj, "generateName");
	/* A fallback: the API names an object before validating it, as
	 * Kubernetes does; the store only has to avoid a collision. */
	for (tries = 0; (!name || !*name) && gen && *gen && tries < GEN_TRIES; tries++) {
		if ((rc = generate_name(gen, genname)) < 0) {
			rc = vim_err_set(err, VIM_EIO, "%s: generateName: no random bytes", q);
			goto out;
		}
		rc = sq_load(s, resource, ns, genname, &existing, err);
		json_decref(existing);
		existing = NULL;
		if (rc == VIM_ENOTFOUND) {
			json_object_set_new(md, "name", json_string(genname));
			name = store_meta_str(obj, "name");
		} else if (rc < 0) {
			goto out;
		}
	}
	if (tries == GEN_TRIES && (!name || !*name)) {
		rc = vim_err_set(err, VIM_EEXIST,
		                 "%s \"%s\" already exists, the server was not able to generate a "
		                 "unique name for the object",
		                 q, genname);
		goto out;
	}
	if (!name || !*name) {
		rc = vim_err_set(err, VIM_EINVAL, "%s: metadata.name: Required value", resource);
		goto out;
	}
	if (strlen(name) > STORE_NAME_MAX) {
		rc = vim_err_set(
		    err, VIM_EINVAL,
		    "%s: metadata.name: Invalid value: must be no more than %d characters", q,
		    STORE_NAME_MAX);
		goto out;
	}
	rc = sq_load(s, resource, ns, name, &existing, err);
	json_decref(existing);
	if (rc == 0) {
		rc = vim_err_set(err, VIM_EEXIST, "%s \"%s\" already exists", q, name);
		goto out;
	}
	if (rc != VIM_ENOTFOUND)
		goto out;
	store_uuid(uid);
	vim_time_format(vim_time_now(), ts, sizeof(ts));
	json_object_set_new(md, "uid", json_string(uid));
	json_object_set_new(md, "creationTimestamp", json_string(ts));
	json_object_del(md, "deletionTimestamp");
	json_object_del(md, "deletionGracePeriodSeconds");
	if (has_spec(resource))
		json_object_set_new(md, "generation", json_integer(1));
	if ((rc = sq_write(s, resource, obj, NULL, STORE_ADDED, NULL, wo, err)) == 0) {
		*out = obj;
		obj = NULL;
	}
out:
	sq_unlock_and_wake(s);
	json_decref(obj);
	return rc;
}

static int64_t sq_current_rv(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;
	int64_t rv;

	pthread_mutex_lock(&s->mu);
	rv = s->rv;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

static int sq_watch(struct store *base, const char *resource, const struct store_watch_opts *o,
                    struct store_watch **out, struct vim_err *err)
{
	struct sq_store *s = (struct sq_store *)base;
	int rc;

	/* Under the write lock: no change can slip between "current" and
	 * the watcher's registration. */
	pthread_mutex_lock(&s->mu);
	rc = store_hub_watch(s->hub, resource, o, s->rv, out, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static void sq_close(struct store *base)
{
	struct sq_store *s = (struct sq_store *)base;

	store_event_expiry_stop(s->expiry); /* it writes through this store */
	store_hub_free(s->hub);
	sq_ckpt_stop(s);
	sqlite3_finalize(s->get);
	sqlite3_finalize(s->put);
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

static void sq_watch_stats(struct store *base, size_t *watchers, size_t *history)
{
	store_hub_stats(((struct sq_store *)base)->hub, watchers, history);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .get = sq_get,
    .list = sq_list,
    .create = sq_create,
    .update = sq_update,
    .update_status = sq_update_status,
    .remove = sq_remove,
    .watch = sq_watch,
    .current_rv = sq_current_rv,
    .watch_stats = sq_watch_stats,
    .close = sq_close,
};

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

static int prepare(struct sq_store *s, sqlite3_stmt **st, const char *sql, struct vim_err *err)
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
static int corrupted(struct sq_store *s, const char *why, struct vim_err *err)
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
static int make_schema(struct sq_store *s, struct vim_err *err)
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
static int check_file(struct sq_store *s, struct vim_err *err)
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

int store_sqlite_open(struct store **out, const char *path, int64_t history, struct vim_err *err)
{
	struct store_sqlite_opts o = {.history = history};

	return store_sqlite_open_opts(out, path, &o, err);
}

int store_sqlite_open_opts(struct store **out, const char *path, const struct store_sqlite_opts *o,
                           struct vim_err *err)
{
	struct sq_store *s = calloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	struct vim_err cerr;
	int rc;

	*out = NULL;
	if (!s || !(s->path = strdup(path))) {
		free(s);
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	}
	s->base.ops = &sq_ops;
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
	    (rc = prepare(s, &s->put,
	                  "INSERT INTO objects(resource, ns, name, rv, json) VALUES(?, ?, ?, ?, ?)"
	                  " ON CONFLICT(resource, ns, name) DO UPDATE"
	                  " SET rv=excluded.rv, json=excluded.json",
	                  err)) < 0 ||
	    (rc = prepare(s, &s->del, "DELETE FROM objects WHERE resource=? AND ns=? AND name=?",
	                  err)) < 0 ||
	    (rc = prepare(s, &s->setrv, "UPDATE meta SET v=? WHERE k='rv'", err)) < 0 ||
	    (rc = prepare(s, &s->begin, "BEGIN IMMEDIATE", err)) < 0 ||
	    (rc = prepare(s, &s->commit, "COMMIT", err)) < 0 ||
	    (rc = prepare(s, &s->rollback, "ROLLBACK", err)) < 0 ||
	    (rc = prepare(s, &st, "SELECT v FROM meta WHERE k='rv'", err)) < 0)
		goto fail;
	/* Without it every new resourceVersion would repeat an old one. */
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		rc = sq_fail(s, rc, err, "read the resourceVersion");
		sqlite3_finalize(st);
		goto fail;
	}
	s->rv = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if ((rc = store_hub_new(&s->hub, o ? o->history : 0, err)) < 0)
		goto fail;
	store_hub_limit_bytes(s->hub, o ? o->history_bytes : 0);
	if (sq_ckpt_start(s, &cerr) < 0) /* slower, not wrong: say so and go on */
		vim_log(VIM_LOG_WARN, "%s; checkpoints stay in the commits", cerr.msg);
	if (o && o->event_ttl_s > 0 &&
	    (rc = store_event_expiry_start(&s->expiry, &s->base, o->event_ttl_s,
	                                   o->event_expire_every_ms, err)) < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	sq_close(&s->base);
	return rc;
}
