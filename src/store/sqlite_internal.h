/* store/sqlite_internal — the SQLite backend's state, shared by its files. */
#ifndef VIM_STORE_SQLITE_INTERNAL_H
#define VIM_STORE_SQLITE_INTERNAL_H

#include "store/internal.h"

#include <pthread.h>
#include <sqlite3.h>

struct sq_store {
	struct store base; /* first: a struct store * is a struct sq_store * */
	char *path;
	sqlite3 *db; /* the writer connection; guarded by mu */
	pthread_mutex_t mu;
	sqlite3_stmt *get, *put, *del, *setrv, *begin, *commit, *rollback;
	int64_t rv; /* last assigned resourceVersion; guarded by mu */
	struct store_hub *hub;
	struct sq_ckpt *ckpt;              /* the checkpoint thread; NULL = SQLite's own */
	struct store_event_expiry *expiry; /* NULL: Events are kept */
};

int sq_fail(struct sq_store *s, int rc, struct vim_err *err, const char *what);
/* VIM_EIO naming the file (path), the operation (what) and SQLite's
 * reason for rc on connection db (NULL: none), logged as an error: a
 * corrupt page or an I/O error must be seen, not served as less data. */
int sq_db_fail(const char *path, sqlite3 *db, int rc, const char *what, struct vim_err *err);
int sq_load(struct sq_store *s, const char *resource, const char *ns, const char *name,
            json_t **out, struct vim_err *err);
void sq_unlock_and_wake(struct sq_store *s);
/* Moves WAL checkpoints out of the writers' commits onto a thread of
 * their own; stop before closing the writer connection. */
int sq_ckpt_start(struct sq_store *s, struct vim_err *err);
void sq_ckpt_stop(struct sq_store *s); /* nothing started is fine */
/* prev: store_hub_selectable of the stored object (stolen), required for
 * STORE_MODIFIED, NULL otherwise. */
int sq_commit(struct sq_store *s, const char *resource, json_t *obj, json_t *prev,
              enum store_event_type type, struct vim_err *err);
/* sq_commit, or under wo->dry_run what it would leave in obj without
 * committing: obj's resourceVersion becomes stored_rv (the one the object
 * has now; NULL for a create: none). */
/* The stored resourceVersion of one object, without reading its JSON;
 * VIM_ENOTFOUND when absent or unreadable (the caller then loads it and
 * finds out which).  Callers hold s->mu. */
int sq_load_rv(struct sq_store *s, const char *resource, const char *ns, const char *name,
               int64_t *rv);
int sq_write(struct sq_store *s, const char *resource, json_t *obj, json_t *prev,
             enum store_event_type type, const char *stored_rv, const struct store_write_opts *wo,
             struct vim_err *err);

int sq_update(struct store *base, const char *resource, const json_t *obj,
              const struct store_write_opts *wo, json_t **out, struct vim_err *err);
int sq_update_status(struct store *base, const char *resource, const json_t *obj,
                     const struct store_write_opts *wo, json_t **out, struct vim_err *err);
int sq_remove(struct store *base, const struct store_delete_opts *o, json_t **out, bool *deleted,
              struct vim_err *err);
int sq_list(struct store *base, const char *resource, const struct store_list_opts *o,
            store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err);

#endif
