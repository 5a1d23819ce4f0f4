/*
 * store/sqlite_ckpt — WAL checkpoints on their own thread.  SQLite's
 * automatic checkpoint runs inside the COMMIT that crosses the threshold:
 * under the store's write lock, it copies ~1,000 pages into the database
 * and fsyncs it while every other writer waits.  Here the writer only
 * notes the WAL's size (its wal hook) and a thread with its own connection
 * runs a PASSIVE checkpoint, which never blocks writers.
 */
#include "store/sqlite_internal.h"
#include "core/log.h"

#include <stdlib.h>

/* The same threshold as SQLite's own automatic checkpoint. */
#define CKPT_PAGES 1000
#define CKPT_INLINE_PAGES (8 * CKPT_PAGES)

struct sq_ckpt {
	sqlite3 *db; /* this thread's own connection */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool due, stop; /* guarded by mu */
};

/* The writer's wal hook: runs after each commit, under the write lock.
 * Under a long burst of writes the thread's checkpoints may never reach
 * the WAL's end (only then can the WAL restart from its beginning); past
 * CKPT_INLINE_PAGES the writer checkpoints itself, as SQLite would. */
static int on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct sq_ckpt *c = arg;

	if (pages >= CKPT_INLINE_PAGES) {
		/* as SQLite's own hook: a failed checkpoint does not fail the
		 * commit, which is already durable in the WAL */
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&c->mu);
		if (!c->due) {
			c->due = true;
			pthread_cond_signal(&c->cond);
		}
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

static void *ckpt_main(void *arg)
{
	struct sq_ckpt *c = arg;
	int rc, log_pages, done_pages;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->due && !c->stop)
			pthread_cond_wait(&c->cond, &c->mu);
		if (c->stop)
			break;
		c->due = false;
		pthread_mutex_unlock(&c->mu);
		rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_pages,
		                               &done_pages);
		if (rc != SQLITE_OK && rc != SQLITE_BUSY)
			vim_log(VIM_LOG_WARN, "store: checkpoint: %s (sqlite %d)",
			        sqlite3_errmsg(c->db), rc);
		pthread_mutex_lock(&c->mu);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int sq_ckpt_start(struct sq_kv *s, struct vim_err *err)
{
	struct sq_ckpt *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	rc = sqlite3_open_v2(s->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = vim_err_set(err, VIM_EIO, "store: %s: checkpoint connection: %s", s->path,
		                 c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sqlite3_close(c->db);
		free(c);
		return rc;
	}
	sqlite3_busy_timeout(c->db, 5000);
	/* A connection knows the file is in WAL mode only once it has read
	 * it; until then a checkpoint is a no-op. */
	if ((rc = sqlite3_exec(c->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
	                       NULL, NULL)) != SQLITE_OK) {
		rc = vim_err_set(err, VIM_EIO, "store: %s: checkpoint connection: %s", s->path,
		                 sqlite3_errmsg(c->db));
		sqlite3_close(c->db);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cond, NULL);
	if (pthread_create(&c->thread, NULL, ckpt_main, c) != 0) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->mu);
		sqlite3_close(c->db);
		free(c);
		return vim_err_set(err, VIM_EINTERNAL, "store: cannot start the checkpoint thread");
	}
	/* Replaces the automatic checkpoint (itself a wal hook). */
	sqlite3_wal_hook(s->db, on_wal, c);
	s->ckpt = c;
	return 0;
}

void sq_ckpt_stop(struct sq_kv *s)
{
	struct sq_ckpt *c = s->ckpt;

	if (!c)
		return;
	sqlite3_wal_hook(s->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	sqlite3_close(c->db);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mu);
	free(c);
	s->ckpt = NULL;
}
