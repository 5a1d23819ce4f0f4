/*
 * A damaged database, for real: a file of 137 images written by the
 * store, one B-tree page in the middle overwritten with garbage (what a
 * bad sector or a stray dd does).  Opening it is refused with a message
 * that says how to recover; damage that appears after the open fails a
 * LIST instead of shortening it; and the controllers' cache, relisting
 * over it, reports nothing as vanished.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "controller/cache.h"
#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"
#define OBJECTS 137

static int setup(void **state)
{
	(void)state;
	return tmpdb_setup("corrupt");
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

static void put(struct store *s, const char *resource, const char *ns, const char *name)
{
	char note[1024];
	json_t *o, *out = NULL;
	struct vim_err err;

	memset(note, 'n', sizeof(note) - 1);
	note[sizeof(note) - 1] = '\0';
	o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	              "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	              "name", name, "namespace", ns, "annotations", "note", note, "spec",
	              "dataSource", "type", "Upload");
	if (store_create(s, resource, o, &out, &err) != 0)
		fail_msg("create %s: %s", name, err.msg);
	json_decref(out);
	json_decref(o);
}

/* 137 images of ~1.2 KiB each (about 45 leaf pages), written and closed
 * by the store itself, so the file is all in the main database. */
static void make_db(void)
{
	struct store *s = NULL;
	struct vim_err err;
	char name[32];
	int i;

	if (store_sqlite_open(&s, tmpdb_path, 0, &err) != 0)
		fail_msg("open: %s", err.msg);
	for (i = 0; i < OBJECTS; i++) {
		snprintf(name, sizeof(name), "img-%03d", i);
		put(s, VI, "ns", name);
	}
	store_close(s);
}

/* Overwrites the middle leaf page of the objects table with garbage. */
static void corrupt_middle_page(void)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t page_size = 0, pageno = 0, leaves = 0;
	unsigned char junk[65536];
	size_t i;
	int fd;

	assert_int_equal(sqlite3_open_v2(tmpdb_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	page_size = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT count(*) FROM dbstat WHERE name='objects' "
	                                    "AND pagetype='leaf'",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	leaves = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	assert_true(leaves > 10);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT pageno FROM dbstat WHERE name='objects' AND "
	                                    "pagetype='leaf' ORDER BY pageno LIMIT 1 OFFSET ?",
	                                    -1, &st, NULL),
	                 SQLITE_OK);
	sqlite3_bind_int64(st, 1, leaves / 2);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	pageno = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);

	assert_true(page_size > 0 && (size_t)page_size <= sizeof(junk));
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 131 + 7);
	fd = open(tmpdb_path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, (size_t)page_size, (off_t)((pageno - 1) * page_size)),
	                 page_size);
	close(fd);
}

static void test_open_refuses_a_corrupted_file_and_says_how_to_recover(void **state)
{
	struct store *s = NULL;
	struct vim_err err = {0};
	(void)state;

	make_db();
	corrupt_middle_page();
	assert_int_equal(store_sqlite_open(&s, tmpdb_path, 0, &err), VIM_EIO);
	assert_null(s);
	assert_non_null(strstr(err.msg, tmpdb_path));
	assert_non_null(strstr(err.msg, "is corrupted (quick_check: "));
	assert_non_null(strstr(err.msg, "restore it from a backup"));
	assert_non_null(strstr(err.msg, "move it away to start empty"));
	assert_non_null(strstr(err.msg, ".recover"));
}

/* A file that is not a database at all gets the same answer. */
static void test_open_refuses_a_file_that_is_not_a_database(void **state)
{
	struct store *s = NULL;
	struct vim_err err = {0};
	FILE *f;
	int i;
	(void)state;

	f = fopen(tmpdb_path, "w");
	assert_non_null(f);
	for (i = 0; i < 4096; i++)
		fputc('x', f);
	fclose(f);
	assert_int_equal(store_sqlite_open(&s, tmpdb_path, 0, &err), VIM_EIO);
	assert_non_null(strstr(err.msg, "is corrupted"));
}

static int count_item(void *arg, const char *json, size_t len)
{
	(void)json, (void)len;
	(*(int *)arg)++;
	return 0;
}

/* Damage quick_check could not see at open (it came later): the list
 * fails with the file, the operation and SQLite's reason, and never
 * ends as if the data ended; paged lists too. */
static void test_a_list_over_a_corrupt_page_fails_instead_of_shortening(void **state)
{
	struct store *s = NULL;
	struct store_list_opts all = {0}, paged = {.limit = 10};
	struct store_list_meta m;
	struct vim_err err = {0};
	json_t *items = NULL;
	int n = 0, rc = 0, total = 0;
	(void)state;

	make_db();
	if (store_sqlite_open(&s, tmpdb_path, 0, &err) != 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(store_list(s, VI, &all, count_item, &n, &m, &err), 0);
	assert_int_equal(n, OBJECTS);
	corrupt_middle_page();

	n = 0;
	assert_int_equal(store_list(s, VI, &all, count_item, &n, &m, &err), VIM_EIO);
	assert_true(n < OBJECTS);
	assert_non_null(strstr(err.msg, tmpdb_path));
	assert_non_null(strstr(err.msg, "list virtualimages"));
	assert_non_null(strstr(err.msg, "malformed"));
	assert_int_equal(m.continue_token[0], '\0');

	assert_int_equal(store_list_json(s, VI, &all, &items, &m, &err), VIM_EIO);
	assert_null(items);
	assert_non_null(strstr(err.msg, "malformed")); /* the store's reason, kept */

	do {
		rc = store_list_json(s, VI, &paged, &items, &m, &err);
		if (rc == 0) {
			total += (int)json_array_size(items);
			json_decref(items);
		}
		paged.continue_token = m.continue_token;
	} while (rc == 0 && m.continue_token[0]);
	assert_int_equal(rc, VIM_EIO);
	assert_true(total < OBJECTS);
	store_close(s);
}

/* ---- the controllers' cache ------------------------------------------------ */

struct seen {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool hold, held;
	int added, deleted;
};

static void on_change(void *arg, const char *key, enum store_event_type t)
{
	struct seen *s = arg;
	(void)key;

	pthread_mutex_lock(&s->mu);
	if (t == STORE_ADDED)
		s->added++;
	if (t == STORE_DELETED)
		s->deleted++;
	if (t == STORE_MODIFIED && s->hold) { /* keep the feed here: it falls behind */
		s->held = true;
		pthread_cond_broadcast(&s->cond);
		while (s->hold)
			pthread_cond_wait(&s->cond, &s->mu);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Reads what fd (stderr's copy) has collected so far into buf. */
static void slurp(const char *file, char *buf, size_t len)
{
	FILE *f = fopen(file, "r");
	size_t n = f ? fread(buf, 1, len - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
}

/* The cache falls behind the watch (410), relists, and the list hits the
 * damage: it must keep what it knew, report nothing DELETED, and say it
 * is not synced (retrying), never take the short list for the truth. */
static void test_cache_never_acts_on_a_list_that_failed(void **state)
{
	struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct store *s = NULL;
	struct ctl_cache *c = NULL;
	struct vim_err err = {0};
	json_t *got, *out = NULL;
	char logfile[160], name[32], *log = malloc(1 << 16);
	int saved, fd, i;
	bool said = false;
	(void)state;

	assert_non_null(log);
	make_db();
	if (store_sqlite_open(&s, tmpdb_path, 4, &err) != 0) /* a history of 4 changes */
		fail_msg("open: %s", err.msg);
	assert_int_equal(ctl_cache_start(&c, s, VI, on_change, &seen, &err), 0);
	assert_int_equal(seen.added, OBJECTS);
	corrupt_middle_page();

	snprintf(logfile, sizeof(logfile), "%s/stderr", tmpdb_dir);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(logfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDERR_FILENO);
	close(fd);

	/* hold the feed in a MODIFIED of the last image (far from the
	 * damaged page), then push its place out of the 4-change history */
	seen.hold = true;
	assert_int_equal(store_get(s, VI, "ns", "img-136", &got, &err), 0);
	json_object_set_new(json_object_get(got, "metadata"), "labels",
	                    json_pack("{s:s}", "touched", "yes"));
	assert_int_equal(store_update(s, VI, got, &out, &err), 0);
	json_decref(out);
	json_decref(got);
	pthread_mutex_lock(&seen.mu);
	while (!seen.held)
		pthread_cond_wait(&seen.cond, &seen.mu);
	pthread_mutex_unlock(&seen.mu);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "ev-%d", i);
		put(s, "events", "ns", name);
	}
	pthread_mutex_lock(&seen.mu);
	seen.hold = false;
	pthread_cond_broadcast(&seen.cond);
	pthread_mutex_unlock(&seen.mu);

	for (i = 0; i < 500 && !said; i++) { /* bounded: 5 s */
		usleep(10000);
		slurp(logfile, log, 1 << 16);
		said = strstr(log, "(not synced; listing again in") != NULL;
	}
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	fprintf(stderr, "%s", log); /* what the feed said, for the record */

	pthread_mutex_lock(&seen.mu);
	i = seen.deleted;
	pthread_mutex_unlock(&seen.mu);
	assert_int_equal(i, 0); /* a short list taken for the truth deletes */
	assert_true(said);
	assert_non_null(strstr(log, "malformed"));
	assert_int_equal(ctl_cache_len(c), OBJECTS);
	ctl_cache_stop(c); /* wakes the backoff: does not wait it out */
	store_close(s);
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_open_refuses_a_corrupted_file_and_says_how_to_recover, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_refuses_a_file_that_is_not_a_database, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(
	        test_a_list_over_a_corrupt_page_fails_instead_of_shortening, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_never_acts_on_a_list_that_failed, setup,
	                                    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
