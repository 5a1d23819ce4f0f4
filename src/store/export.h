/*
 * store/export — a catalog moved between stores (SQLite to etcd, one data
 * dir to another) as JSON lines, one object per line:
 *
 *   {"resource":"virtualimages","object":{...the object as stored...}}
 *
 * namespaces first, then clustervirtualimages, virtualimages and events,
 * so a reader that writes in file order never writes an object before its
 * Namespace.  The import goes through store_restore: uid,
 * creationTimestamp, generation, finalizers, deletionTimestamp and status
 * are kept; resourceVersions are the target's.
 *
 * The import is all or nothing where that can be known before writing:
 * every line is checked first (JSON, a known resource, a name, each key
 * once) and so is the target (a Namespace it has already is kept as it
 * is; any other key it has refuses the whole file, before anything is
 * written).  Only a write that fails after that (the target going away)
 * leaves a partial import, and its message says how much was written.
 */
#ifndef VIM_STORE_EXPORT_H
#define VIM_STORE_EXPORT_H

#include "store/store.h"

#include <stdio.h>

/* The resources an export holds, in the order it writes them. */
extern const char *const store_export_resources[];

/* Streams every object of s to f (one store_list per resource: memory
 * stays flat whatever the count); *count gets the lines written.  f is
 * borrowed; the caller flushes and closes it. */
int store_export(struct store *s, FILE *f, size_t *count, struct vim_err *err);

/* store_export into path ("-" = stdout): a regular file is written under
 * path.tmp, fsynced and renamed, so a failed export never leaves a file
 * that looks whole. */
int store_export_file(struct store *s, const char *path, size_t *count, struct vim_err *err);

struct store_import_result {
	size_t objects; /* written */
	size_t kept;    /* Namespaces the target had, left as they were */
};

/* Loads f (the lines of store_export) into s.  name is what messages call
 * the input ("FILE:LINE: ..."); f is borrowed and need not be seekable
 * (stdin is spooled to a temporary file for the second pass). */
int store_import(struct store *s, FILE *f, const char *name, struct store_import_result *res,
                 struct vim_err *err);

/* store_import of path ("-" = stdin). */
int store_import_file(struct store *s, const char *path, struct store_import_result *res,
                      struct vim_err *err);

#endif
