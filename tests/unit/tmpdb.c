/* tests/unit/tmpdb — see tmpdb.h. */
#include "tmpdb.h"

#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

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

struct store *tmpdb_open_store(void)
{
	struct store *s = NULL;
	struct vim_err err;

	if (store_sqlite_open(&s, tmpdb_path, 0, &err) != 0)
		fail_msg("open %s: %s", tmpdb_path, err.msg);
	return s;
}
