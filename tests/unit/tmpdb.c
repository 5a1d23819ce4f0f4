/* tests/unit/tmpdb — see tmpdb.h. */
#include "tmpdb.h"

#include "etcd_fixture.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

char tmpdb_dir[64], tmpdb_path[128];

int tmpdb_setup(const char *tag)
{
	snprintf(tmpdb_dir, sizeof(tmpdb_dir), "/tmp/vimage-%s.XXXXXX", tag);
	if (!mkdtemp(tmpdb_dir))
		return -1;
	snprintf(tmpdb_path, sizeof(tmpdb_path), "%s/vimage.db", tmpdb_dir);
	return 0;
}

int tmpdb_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdb_dir);
	return system(cmd);
}

/* ---- the backends ------------------------------------------------------------ */

static int sqlite_open(struct store **out, const struct store_sqlite_opts *o, struct vim_err *err)
{
	struct store_sqlite_opts none = {0};

	return store_sqlite_open_opts(out, tmpdb_path, o ? o : &none, err);
}

static void sqlite_forget(void)
{
	unlink(tmpdb_path);
}

/* etcd: the process's one etcd (etcd_fx_shared), a key prefix of its own
 * per test directory and per forget: a fresh store is a new prefix, as a
 * fresh SQLite file is a new file. */
static unsigned etcd_generation;

static int etcd_open(struct store **out, const struct store_sqlite_opts *o, struct vim_err *err)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_etcd_opts eo = {.timeout_ms = 5000};
	char prefix[192];
	const char *dir = strrchr(tmpdb_dir, '/');

	if (!fx)
		return vim_err_set(err, VIM_EIO, "etcd: the test fixture could not start etcd");
	snprintf(prefix, sizeof(prefix), "/t%s-%u", dir ? dir + 1 : tmpdb_dir, etcd_generation);
	for (char *p = prefix + 1; *p; p++)
		if (*p == '.')
			*p = '_';
	eo.endpoints = etcd_fx_endpoints(fx);
	eo.prefix = prefix;
	if (o) {
		eo.history = o->history;
		eo.history_bytes = o->history_bytes;
		eo.event_ttl_s = o->event_ttl_s;
	}
	return store_etcd_open(out, &eo, err);
}

static void etcd_forget(void)
{
	etcd_generation++;
}

static const struct tmpdb_backend backends[] = {
    {.name = "sqlite", .open = sqlite_open, .forget = sqlite_forget},
    {.name = "etcd", .open = etcd_open, .forget = etcd_forget},
};

const struct tmpdb_backend *tmpdb_backend(void)
{
	const char *name = getenv("VIM_TEST_STORE");
	size_t i;

	if (!name || !*name)
		name = "sqlite";
	for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (strcmp(backends[i].name, name) == 0)
			return &backends[i];
	fail_msg("VIM_TEST_STORE=%s: no such backend in tests/unit/tmpdb.c", name);
	return NULL;
}

bool tmpdb_is(const char *name)
{
	return strcmp(tmpdb_backend()->name, name) == 0;
}

struct store *tmpdb_open_store_opts(const struct store_sqlite_opts *o)
{
	const struct tmpdb_backend *b = tmpdb_backend();
	struct store *s = NULL;
	struct vim_err err;

	if (b->open(&s, o, &err) != 0)
		fail_msg("open the %s store of %s: %s", b->name, tmpdb_dir, err.msg);
	return s;
}

struct store *tmpdb_open_store(void)
{
	return tmpdb_open_store_opts(NULL);
}

struct store *tmpdb_open_fresh_store(void)
{
	tmpdb_backend()->forget();
	return tmpdb_open_store();
}

static int count_none(void *arg, const char *json, size_t len)
{
	(void)arg;
	(void)json;
	(void)len;
	return 0;
}

int64_t tmpdb_store_rv(struct store *s)
{
	/* a namespace no test uses: an empty list, its revision all we want */
	struct store_list_opts o = {.ns = "tmpdb-rv-probe"};
	struct store_list_meta m;
	struct vim_err err;

	if (store_list(s, "virtualimages", &o, count_none, NULL, &m, &err) != 0)
		fail_msg("list the %s store of %s for its revision: %s", tmpdb_backend()->name,
		         tmpdb_dir, err.msg);
	return m.resource_version;
}
