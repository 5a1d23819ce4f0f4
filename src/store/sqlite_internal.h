/* store/sqlite_internal — the SQLite kv backend's state, shared by its files. */
#ifndef VIM_STORE_SQLITE_INTERNAL_H
#define VIM_STORE_SQLITE_INTERNAL_H

#include "store/internal.h"
#include "store/kv.h"

#include <pthread.h>
#include <sqlite3.h>

struct sq_kv {
	struct store_kv base; /* first: a struct store_kv * is a struct sq_kv * */
	char *path;
	sqlite3 *db; /* the writer connection; guarded by mu */
	pthread_mutex_t mu;
	/* rev: a key's rv alone (a fenced write's compare of the fence key) */
	sqlite3_stmt *get, *rev, *ins, *upd, *del, *setrv, *begin, *commit, *rollback;
	int64_t rv;           /* last assigned revision (meta.rv); guarded by mu */
	struct sq_ckpt *ckpt; /* the checkpoint thread; NULL = SQLite's own */
};

int sq_fail(struct sq_kv *s, int rc, struct vim_err *err, const char *what);
/* VIM_EIO naming the file (path), the operation (what) and SQLite's
 * reason for rc on connection db (NULL: none), logged as an error: a
 * corrupt page or an I/O error must be seen, not served as less data. */
int sq_db_fail(const char *path, sqlite3 *db, int rc, const char *what, struct vim_err *err);
/* Moves WAL checkpoints out of the writers' commits onto a thread of
 * their own; stop before closing the writer connection. */
int sq_ckpt_start(struct sq_kv *s, struct vim_err *err);
void sq_ckpt_stop(struct sq_kv *s); /* nothing started is fine */

/* The kv operations of sqlite_kv.c and sqlite_list.c (store/kv.h). */
int sq_kv_get(struct store_kv *kv, const struct store_kv_key *key, struct store_kv_got *out,
              struct vim_err *err);
int sq_kv_write(struct store_kv *kv, const struct store_kv_write *w, int64_t *rev,
                struct vim_err *err);
int sq_kv_current_rev(struct store_kv *kv, int64_t *rev, struct vim_err *err);
int sq_kv_range(struct store_kv *kv, const struct store_kv_range *r, store_kv_item_fn fn, void *arg,
                struct store_kv_range_meta *meta, struct vim_err *err);

#endif
