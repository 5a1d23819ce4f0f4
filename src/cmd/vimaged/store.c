/*
 * vimaged/store — the store main opens (--store sqlite|etcd) and the runs
 * that use the store and exit (--store-export, --store-import).
 */
#include "vimaged.h"
#include "core/log.h"
#include "store/export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vimaged_store_open(struct store **out, const struct options *o, char *where, size_t cap,
                       struct vim_err *err)
{
	int64_t ttl_s = (o->event_ttl_ms + 999) / 1000; /* "0.5" is not 0 (kept) */
	char path[4096];

	*out = NULL;
	if (strcmp(o->store, "etcd") == 0) {
		struct store_etcd_opts eo = {.endpoints = o->etcd_endpoints,
		                             .prefix = o->etcd_prefix,
		                             .cafile = o->etcd_cafile,
		                             .certfile = o->etcd_certfile,
		                             .keyfile = o->etcd_keyfile,
		                             .timeout_ms = o->etcd_timeout_ms,
		                             .event_ttl_s = ttl_s};
		snprintf(where, cap, "etcd %s, prefix %s", o->etcd_endpoints, o->etcd_prefix);
		return store_etcd_open(out, &eo, err);
	}
	struct store_sqlite_opts so = {.event_ttl_s = ttl_s};
	snprintf(path, sizeof(path), "%s/vimage.db", o->data_dir);
	snprintf(where, cap, "sqlite %s", path);
	return store_sqlite_open_opts(out, path, &so, err);
}

/* ---- export / import -------------------------------------------------------------- */

int vimaged_store_transfer(struct store *s, const struct options *o, struct vim_err *err)
{
	/* the report goes where the data does not */
	FILE *report = (o->store_export && strcmp(o->store_export, "-") == 0) ? stderr : stdout;
	struct store_import_result res;
	size_t n = 0;
	int rc;

	if (o->store_export) {
		if ((rc = store_export_file(s, o->store_export, &n, err)) < 0)
			return rc;
		fprintf(report, "exported %zu objects to %s\n", n, o->store_export);
		return 0;
	}
	if ((rc = store_import_file(s, o->store_import, &res, err)) < 0)
		return rc;
	fprintf(report, "imported %zu objects (%zu namespaces kept) from %s\n", res.objects,
	        res.kept, o->store_import);
	return 0;
}
