/* tests/unit/tmpdb — see tmpdb.h. */
#include "tmpdb.h"

#include <stdio.h>
#include <stdlib.h>

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
