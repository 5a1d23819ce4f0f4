/*
 * tests/unit/tmpdb — a fresh directory for one test's SQLite database, as
 * cmocka group setup/teardown: tmpdb_dir and tmpdb_path (dir/vimage.db)
 * are valid between them.  One definition for every store test.
 */
#ifndef VIM_TESTS_TMPDB_H
#define VIM_TESTS_TMPDB_H

extern char tmpdb_dir[64], tmpdb_path[128];

/* mkdtemp("/tmp/vimage-<tag>.XXXXXX"); 0, or -1 (cmocka fails the test). */
int tmpdb_setup(const char *tag);
/* rm -rf of the directory; 0, or the command's status. */
int tmpdb_teardown(void);

struct store;
/* store_sqlite_open of tmpdb_path with default options; fails the test
 * (cmocka) when it cannot.  The caller closes it. */
struct store *tmpdb_open_store(void);

#endif
