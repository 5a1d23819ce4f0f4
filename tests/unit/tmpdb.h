/*
 * tests/unit/tmpdb — a fresh directory for one test's store, as cmocka
 * group setup/teardown: tmpdb_dir and tmpdb_path (dir/vimage.db) are
 * valid between them.  One definition for every store test.
 *
 * The store tests run on the backend named by the environment variable
 * VIM_TEST_STORE ("sqlite" when unset), one row of a table in tmpdb.c:
 * the same tests prove the object rules on every backend.  A test of a
 * fact only one backend has (SQLite's file, its schema, its checkpoints)
 * says so and skips elsewhere (tmpdb_require).
 */
#ifndef VIM_TESTS_TMPDB_H
#define VIM_TESTS_TMPDB_H

#include <stdbool.h>
#include <stdint.h>

extern char tmpdb_dir[64], tmpdb_path[128];

/* mkdtemp("/tmp/vimage-<tag>.XXXXXX"); 0, or -1 (cmocka fails the test). */
int tmpdb_setup(const char *tag);
/* rm -rf of the directory; 0, or the command's status. */
int tmpdb_teardown(void);

struct store;
struct store_sqlite_opts;
struct vim_err;

/* One backend the store tests can run on.  open opens the store of the
 * current test directory (the same data on every call until
 * tmpdb_forget); forget makes the next open start empty. */
struct tmpdb_backend {
	const char *name;
	/* o: the history / history_bytes / event TTL options (NULL = defaults) */
	int (*open)(struct store **out, const struct store_sqlite_opts *o, struct vim_err *err);
	void (*forget)(void);
};

/* The row VIM_TEST_STORE names; fails the test (cmocka) for an unknown one. */
const struct tmpdb_backend *tmpdb_backend(void);
/* Whether the tests run on backend name ("sqlite"). */
bool tmpdb_is(const char *name);
/* Skips the calling test (cmocka's skip()) unless it runs on name: for a
 * fact of that backend only. */
#define tmpdb_require(name)                                                                        \
	do {                                                                                       \
		if (!tmpdb_is(name))                                                               \
			skip();                                                                    \
	} while (0)

/* The store of the test directory on the tests' backend with default
 * options, or with o; fails the test (cmocka) when it cannot.  The caller
 * closes it. */
struct store *tmpdb_open_store(void);
struct store *tmpdb_open_store_opts(const struct store_sqlite_opts *o);
/* tmpdb_open_store of an empty store (what was written before is gone). */
struct store *tmpdb_open_fresh_store(void);

/* The store's revision as a list without resourceVersion reads it (kube's
 * consistent read: it sees every write made before it).  store_current_rv
 * of a store with a watch cache (etcd) is the revision the cache has seen,
 * which may lag a write just made by the watch's delivery; a test that
 * asks "what is the store's revision now" asks this.  Fails the test
 * (cmocka) when the list fails. */
int64_t tmpdb_store_rv(struct store *s);

#endif
