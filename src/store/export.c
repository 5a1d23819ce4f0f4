/*
 * store/export — every object as a JSON line, and back (export.h).  The
 * export streams each resource's list straight into the file; the import
 * reads its input twice: once to check every line and the target, once to
 * write, so a file that cannot be imported whole is refused before the
 * target changes.
 */
#include "store/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

/* One line's key and where it was, to find a key named twice. */
struct seen_key {
	char *key; /* "resource\x1fns\x1fname" */
	size_t line;
};

struct kind_row {
	const char *resource;
	bool namespaced;
};

/* The export's order: a Namespace before what lives in it. */
static const struct kind_row kinds[] = {
    {"namespaces", false},
    {"clustervirtualimages", false},
    {"virtualimages", true},
    {"events", true},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const char *const store_export_resources[] = {"namespaces", "clustervirtualimages", "virtualimages",
                                              "events", NULL};

/* A line longer than this is not one store_export wrote (an object is at
 * most the API's body limit, a few MiB): refused rather than parsed. */
#define LINE_MAX_BYTES (64u << 20)

/* ---- export ------------------------------------------------------------------------ */

struct export_sink {
	FILE *f;
	const char *resource;
	size_t n;
};

static int export_one(void *arg, const char *json, size_t len)
{
	struct export_sink *x = arg;

	if (fprintf(x->f, "{\"resource\":\"%s\",\"object\":", x->resource) < 0 ||
	    fwrite(json, 1, len, x->f) != len || fputs("}\n", x->f) == EOF)
		return 1;
	x->n++;
	return 0;
}

int store_export(struct store *s, FILE *f, size_t *count, struct vim_err *err)
{
	struct export_sink x = {.f = f, .n = 0};
	struct store_list_opts o = {0};
	struct store_list_meta m;
	size_t i;
	int rc = 0;

	*count = 0;
	for (i = 0; i < NKINDS; i++) {
		x.resource = kinds[i].resource;
		rc = store_list(s, x.resource, &o, export_one, &x, &m, err);
		if (rc > 0) {
			rc = vim_err_set(err, VIM_EIO, "export: writing %s: %s", x.resource,
			                 strerror(errno));
			break;
		}
		if (rc < 0) {
			vim_err_wrap(err, "export: listing %s: ", x.resource);
			break;
		}
	}
	*count = x.n;
	return rc;
}

/* fsync of the directory holding path: the rename is on disk too. */
static void sync_dir_of(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash == path ? 1 : slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
		fsync(fd);
		close(fd);
	}
}

int store_export_file(struct store *s, const char *path, size_t *count, struct vim_err *err)
{
	char tmp[4200];
	FILE *f;
	int rc;

	*count = 0;
	if (strcmp(path, "-") == 0) {
		rc = store_export(s, stdout, count, err);
		/* a pipe cannot be fsynced (EINVAL): what is written is the reader's */
		if (rc == 0 && (fflush(stdout) != 0 ||
		                (fsync(STDOUT_FILENO) != 0 && errno != EINVAL && errno != ENOTSUP)))
			rc = vim_err_set(err, VIM_EIO, "export: writing stdout: %s",
			                 strerror(errno));
		return rc;
	}
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return vim_err_set(err, VIM_EINVAL, "export: %s: the path is too long", path);
	if (!(f = fopen(tmp, "w")))
		return vim_err_set(err, VIM_EIO, "export: cannot create %s: %s", tmp,
		                   strerror(errno));
	rc = store_export(s, f, count, err);
	if (rc == 0 && (fflush(f) != 0 || fsync(fileno(f)) != 0))
		rc = vim_err_set(err, VIM_EIO, "export: writing %s: %s", tmp, strerror(errno));
	if (fclose(f) != 0 && rc == 0)
		rc = vim_err_set(err, VIM_EIO, "export: writing %s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = vim_err_set(err, VIM_EIO, "export: renaming %s to %s: %s", tmp, path,
		                 strerror(errno));
	if (rc < 0)
		unlink(tmp);
	else
		sync_dir_of(path);
	return rc;
}

/* ---- import: one line ------------------------------------------------------------- */

/* What a line says, borrowed from its parse. */
struct line_obj {
	const struct kind_row *kind;
	json_t *object;
	const char *ns, *name;
};

static bool blank(const char *text, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
			return false;
	return true;
}

/* Parses one line into *doc (a new reference) and *lo (borrowed from it). */
static int parse_line(const char *text, size_t len, const char *name, size_t lineno, json_t **doc,
                      struct line_obj *lo, struct vim_err *err)
{
	json_error_t jerr;
	const char *res;
	json_t *md;
	size_t i;

	*doc = NULL;
	memset(lo, 0, sizeof(*lo));
	if (len > LINE_MAX_BYTES)
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: the line is over %u bytes", name,
		                   lineno, LINE_MAX_BYTES);
	if (!(*doc = json_loadb(text, len, 0, &jerr)))
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: not JSON: column %d: %s", name, lineno,
		                   jerr.column, jerr.text);
	res = json_string_value(json_object_get(*doc, "resource"));
	lo->object = json_object_get(*doc, "object");
	if (!res)
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: \"resource\" is missing", name,
		                   lineno);
	for (i = 0; i < NKINDS; i++)
		if (strcmp(res, kinds[i].resource) == 0)
			lo->kind = &kinds[i];
	if (!lo->kind)
		return vim_err_set(err, VIM_EINVAL,
		                   "%s:%zu: unknown resource \"%.64s\" (namespaces, "
		                   "clustervirtualimages, virtualimages, events)",
		                   name, lineno, res);
	md = json_object_get(lo->object, "metadata");
	if (!json_is_object(lo->object) || !json_is_object(md))
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: \"object\" with metadata is missing",
		                   name, lineno);
	lo->name = json_string_value(json_object_get(md, "name"));
	lo->ns = json_string_value(json_object_get(md, "namespace"));
	if (lo->ns && !*lo->ns)
		lo->ns = NULL;
	if (!lo->name || !*lo->name || strchr(lo->name, '/'))
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: %s: metadata.name is missing or bad",
		                   name, lineno, res);
	if (lo->kind->namespaced != (lo->ns != NULL) || (lo->ns && strchr(lo->ns, '/')))
		return vim_err_set(err, VIM_EINVAL, "%s:%zu: %s %s: metadata.namespace %s", name,
		                   lineno, res, lo->name,
		                   lo->kind->namespaced ? "is missing or bad"
		                                        : "is set on a cluster-scoped object");
	return 0;
}

/* "virtualimages default/ubuntu", "clustervirtualimages ubuntu" */
static void key_text(const struct line_obj *lo, char *out, size_t cap)
{
	snprintf(out, cap, "%s %s%s%s", lo->kind->resource, lo->ns ? lo->ns : "", lo->ns ? "/" : "",
	         lo->name);
}

/* key_text of a seen_key's "resource\x1fns\x1fname". */
static void seen_text(const char *key, char *out, size_t cap)
{
	const char *ns = strchr(key, '\x1f'), *name = ns ? strchr(ns + 1, '\x1f') : NULL;

	if (!name) {
		snprintf(out, cap, "%s", key);
		return;
	}
	snprintf(out, cap, "%.*s %.*s%s%s", (int)(ns - key), key, (int)(name - ns - 1), ns + 1,
	         name > ns + 1 ? "/" : "", name + 1);
}

/* ---- import: the two passes ------------------------------------------------------- */

struct check {
	struct seen_key *keys;
	size_t nkeys, capkeys;
	size_t *kept; /* the lines of Namespaces the target has, ascending */
	size_t nkept, capkept;
};

static void check_free(struct check *c)
{
	size_t i;

	for (i = 0; i < c->nkeys; i++)
		free(c->keys[i].key);
	free(c->keys);
	free(c->kept);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 256;
	if (!(p = realloc(*arr, ncap * size)))
		return VIM_ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	const struct seen_key *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : (x->line < y->line ? -1 : x->line > y->line);
}

/* Is the line's key free in the target (or a Namespace it has, kept)? */
static int check_target(struct store *s, const struct line_obj *lo, const char *name, size_t lineno,
                        struct check *c, struct vim_err *err)
{
	char key[400];
	json_t *got = NULL;
	int rc = store_get(s, lo->kind->resource, lo->ns, lo->name, &got, err);

	json_decref(got);
	if (rc == VIM_ENOTFOUND) {
		vim_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return vim_err_wrap(err, "%s:%zu: ", name, lineno);
	key_text(lo, key, sizeof(key));
	if (strcmp(lo->kind->resource, "namespaces") != 0)
		return vim_err_set(err, VIM_EEXIST,
		                   "%s:%zu: %s already exists in the store: nothing was imported",
		                   name, lineno, key);
	if (grow((void **)&c->kept, &c->capkept, c->nkept, sizeof(size_t)) < 0)
		return vim_err_set(err, VIM_ENOMEM, "import: out of memory");
	c->kept[c->nkept++] = lineno;
	return 0;
}

static int remember_key(struct check *c, const struct line_obj *lo, size_t lineno,
                        struct vim_err *err)
{
	size_t len =
	    strlen(lo->kind->resource) + (lo->ns ? strlen(lo->ns) : 0) + strlen(lo->name) + 3;
	char *k;

	if (grow((void **)&c->keys, &c->capkeys, c->nkeys, sizeof(*c->keys)) < 0 ||
	    !(k = malloc(len)))
		return vim_err_set(err, VIM_ENOMEM, "import: out of memory");
	snprintf(k, len, "%s\x1f%s\x1f%s", lo->kind->resource, lo->ns ? lo->ns : "", lo->name);
	c->keys[c->nkeys].key = k;
	c->keys[c->nkeys++].line = lineno;
	return 0;
}

/* The first pass: every line, and spool (when not NULL) gets a copy. */
static int check_all(struct store *s, FILE *f, FILE *spool, const char *name, struct check *c,
                     struct vim_err *err)
{
	char *text = NULL, key[400];
	size_t cap = 0, lineno = 0, i;
	ssize_t len;
	json_t *doc = NULL;
	struct line_obj lo;
	int rc = 0;

	while ((len = getline(&text, &cap, f)) >= 0) {
		lineno++;
		if (spool && fwrite(text, 1, (size_t)len, spool) != (size_t)len) {
			rc = vim_err_set(err, VIM_EIO, "import: spooling %s: %s", name,
			                 strerror(errno));
			goto out;
		}
		if (blank(text, (size_t)len))
			continue;
		if ((rc = parse_line(text, (size_t)len, name, lineno, &doc, &lo, err)) < 0 ||
		    (rc = remember_key(c, &lo, lineno, err)) < 0 ||
		    (rc = check_target(s, &lo, name, lineno, c, err)) < 0)
			goto out;
		json_decref(doc);
		doc = NULL;
	}
	if (ferror(f)) {
		rc = vim_err_set(err, VIM_EIO, "%s: read error after line %zu: %s", name, lineno,
		                 strerror(errno));
		goto out;
	}
	qsort(c->keys, c->nkeys, sizeof(*c->keys), key_cmp);
	for (i = 1; i < c->nkeys; i++)
		if (strcmp(c->keys[i - 1].key, c->keys[i].key) == 0) {
			seen_text(c->keys[i].key, key, sizeof(key));
			rc = vim_err_set(err, VIM_EINVAL,
			                 "%s:%zu: %s is also on line %zu: nothing was imported",
			                 name, c->keys[i].line, key, c->keys[i - 1].line);
			goto out;
		}
out:
	json_decref(doc);
	free(text);
	return rc;
}

/* The second pass: every line that is not a kept Namespace, restored. */
static int write_all(struct store *s, FILE *f, const char *name, const struct check *c,
                     struct store_import_result *res, struct vim_err *err)
{
	char *text = NULL, key[400];
	size_t cap = 0, lineno = 0, k = 0;
	ssize_t len;
	json_t *doc = NULL, *out = NULL;
	struct line_obj lo;
	int rc = 0;

	while ((len = getline(&text, &cap, f)) >= 0) {
		lineno++;
		if (blank(text, (size_t)len))
			continue;
		if (k < c->nkept && c->kept[k] == lineno) {
			k++;
			continue;
		}
		if ((rc = parse_line(text, (size_t)len, name, lineno, &doc, &lo, err)) < 0)
			goto out;
		rc = store_restore(s, lo.kind->resource, lo.object, &out, err);
		json_decref(out);
		out = NULL;
		if (rc < 0) {
			key_text(&lo, key, sizeof(key));
			vim_err_wrap(err, "%s:%zu: %s: ", name, lineno, key);
			goto out;
		}
		res->objects++;
		json_decref(doc);
		doc = NULL;
	}
	if (ferror(f))
		rc = vim_err_set(err, VIM_EIO, "%s: read error after line %zu: %s", name, lineno,
		                 strerror(errno));
out:
	if (rc < 0 && res->objects) {
		/* what was written stays: say so, the user must not think the
		 * target is as it was */
		char msg[VIM_ERR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		vim_err_set(err, rc, "%.400s (%zu objects were imported before it)", msg,
		            res->objects);
	}
	json_decref(doc);
	free(text);
	return rc;
}

int store_import(struct store *s, FILE *f, const char *name, struct store_import_result *res,
                 struct vim_err *err)
{
	struct check c = {0};
	FILE *spool = NULL, *second = f;
	off_t start = ftello(f);
	int rc;

	memset(res, 0, sizeof(*res));
	/* a pipe cannot be read twice: its first pass is kept aside */
	if (start < 0 || fseeko(f, start, SEEK_SET) != 0) {
		if (!(spool = tmpfile())) {
			rc = vim_err_set(err, VIM_EIO, "import: a temporary file for %s: %s", name,
			                 strerror(errno));
			goto out;
		}
		second = spool;
		start = 0;
	}
	if ((rc = check_all(s, f, spool, name, &c, err)) < 0)
		goto out;
	res->kept = c.nkept;
	if ((spool && fflush(spool) != 0) || fseeko(second, start, SEEK_SET) != 0) {
		rc = vim_err_set(err, VIM_EIO, "import: rereading %s: %s", name, strerror(errno));
		goto out;
	}
	rc = write_all(s, second, name, &c, res, err);
out:
	if (spool)
		fclose(spool);
	check_free(&c);
	return rc;
}

int store_import_file(struct store *s, const char *path, struct store_import_result *res,
                      struct vim_err *err)
{
	FILE *f;
	int rc;

	memset(res, 0, sizeof(*res));
	if (strcmp(path, "-") == 0)
		return store_import(s, stdin, "-", res, err);
	if (!(f = fopen(path, "r")))
		return vim_err_set(err, VIM_EINVAL, "import: cannot open %s: %s", path,
		                   strerror(errno));
	rc = store_import(s, f, path, res, err);
	fclose(f);
	return rc;
}
