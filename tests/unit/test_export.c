/*
 * store/export: a catalog moved from one SQLite store to another as JSON
 * lines comes back whole (every object equal but for its resourceVersion:
 * uid, creationTimestamp, generation, finalizers, deletionTimestamp and
 * status kept); an import that would overwrite a key refuses before it
 * writes anything (a Namespace the target has is kept); a bad line is
 * named by its number; a pipe (stdin) is read as a file is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/export.h"
#include "store/store.h"
#include "tmpdb.h"

#define VI "virtualimages"
#define CVI "clustervirtualimages"

static char target_dir[96], target_path[160], file[160];

static struct store *open_at(const char *path)
{
	struct store *s = NULL;
	struct vim_err err;

	if (store_sqlite_open(&s, path, 0, &err) != 0)
		fail_msg("open %s: %s", path, err.msg);
	return s;
}

static json_t *image(const char *kind, const char *ns, const char *name)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:{s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	              "virtualization.deckhouse.io/v1alpha2", "kind", kind, "metadata", "name",
	              name, "labels", "tier", "gold", "spec", "dataSource", "type", "Upload");
	if (ns)
		json_object_set_new(json_object_get(o, "metadata"), "namespace", json_string(ns));
	return o;
}

static json_t *created(struct store *s, const char *resource, json_t *obj)
{
	json_t *out = NULL;
	struct vim_err err;

	if (store_create(s, resource, obj, &out, &err) != 0)
		fail_msg("create: %s", err.msg);
	json_decref(obj);
	return out;
}

static void set_phase(struct store *s, const char *resource, json_t *obj, const char *phase)
{
	json_t *out = NULL;
	struct vim_err err;

	json_object_set_new(obj, "status", json_pack("{s:s,s:i}", "phase", phase, "progress", 42));
	if (store_update_status(s, resource, obj, &out, &err) != 0)
		fail_msg("status: %s", err.msg);
	json_decref(out);
}

static void namespace(struct store *s, const char *name)
{
	json_t *ns = json_pack("{s:{s:s}}", "metadata", "name", name);

	store_namespace_defaults(ns);
	json_decref(created(s, "namespaces", ns));
}

/* A catalog with something of everything the export must keep. */
static void fill(struct store *s)
{
	static const char *const phases[] = {"Pending", "Provisioning", "WaitForUserUpload",
	                                     "Ready",   "Failed",       "ImageLost"};
	struct store_event_rec ev = {.type = "Warning",
	                             .reason = "ImageLost",
	                             .message = "the image is gone from DVCR",
	                             .now = 1700000000};
	struct store_delete_opts del = {.resource = VI, .ns = "prod", .name = "held"};
	struct vim_err err;
	json_t *o, *out = NULL;
	char name[32];
	bool deleted = true;
	size_t i;

	assert_int_equal(store_namespaces_ensure(s, &err), 0); /* default */
	namespace(s, "prod");
	for (i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
		snprintf(name, sizeof(name), "vi-%zu", i);
		o = created(s, VI, image("VirtualImage", i % 2 ? "prod" : "default", name));
		set_phase(s, VI, o, phases[i]);
		if (i == 3) {
			ev.involved = o;
			assert_int_equal(store_event_record(s, &ev, &err), 0);
		}
		json_decref(o);
	}
	o = created(s, CVI, image("ClusterVirtualImage", NULL, "base"));
	set_phase(s, CVI, o, "Ready");
	json_decref(o);
	/* deleted, held by its finalizer: deletionTimestamp must survive */
	o = image("VirtualImage", "prod", "held");
	json_object_set_new(json_object_get(o, "metadata"), "finalizers",
	                    json_pack("[s]", "virtualization.deckhouse.io/cleanup"));
	json_decref(created(s, VI, o));
	assert_int_equal(store_delete(s, &del, &out, &deleted, &err), 0);
	assert_false(deleted);
	json_decref(out);
}

/* Every object of resource, resourceVersion dropped (the one thing an
 * import changes), as one array in the store's order. */
static json_t *snapshot(struct store *s, const char *resource)
{
	struct store_list_opts o = {0};
	struct store_list_meta m;
	struct vim_err err;
	json_t *items = NULL, *it;
	size_t i;

	if (store_list_json(s, resource, &o, &items, &m, &err) != 0)
		fail_msg("list %s: %s", resource, err.msg);
	json_array_foreach(items, i, it)
	{
		json_object_del(json_object_get(it, "metadata"), "resourceVersion");
	}
	return items;
}

static size_t count(struct store *s, const char *resource)
{
	json_t *items = snapshot(s, resource);
	size_t n = json_array_size(items);

	json_decref(items);
	return n;
}

static void write_file(const char *text)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_round_trip_keeps_every_object_but_its_resource_version(void **state)
{
	struct store *src = tmpdb_open_store(), *dst;
	struct store_import_result res;
	struct vim_err err;
	size_t n = 0, i, total = 0;
	char tmp[200];
	(void)state;

	fill(src);
	assert_int_equal(store_export_file(src, file, &n, &err), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp", file);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed into place */
	dst = open_at(target_path);
	assert_int_equal(store_import_file(dst, file, &res, &err), 0);
	assert_int_equal(res.objects, n);
	assert_int_equal(res.kept, 0);
	for (i = 0; store_export_resources[i]; i++) {
		json_t *a = snapshot(src, store_export_resources[i]);
		json_t *b = snapshot(dst, store_export_resources[i]);
		if (!json_equal(a, b)) {
			char *x = json_dumps(a, JSON_COMPACT), *y = json_dumps(b, JSON_COMPACT);
			fail_msg("%s differ:\n%s\n%s", store_export_resources[i], x, y);
		}
		total += json_array_size(a);
		json_decref(a);
		json_decref(b);
	}
	/* 2 namespaces, 7 images, 1 CVI, 1 event */
	assert_int_equal(total, 11);
	assert_int_equal(n, total);
	/* the target's own resourceVersions: a new counter, not the source's */
	assert_true(store_current_rv(dst) <= (int64_t)n);
	store_close(src);
	store_close(dst);
}

static void test_a_taken_key_refuses_the_whole_import(void **state)
{
	struct store *src = tmpdb_open_store(), *dst = open_at(target_path);
	struct store_import_result res;
	struct vim_err err;
	json_t *before;
	char other[160];
	size_t n;
	(void)state;

	fill(src);
	assert_int_equal(store_export_file(src, file, &n, &err), 0);
	/* the target has "default" (kept) and one image the file also has */
	assert_int_equal(store_namespaces_ensure(dst, &err), 0);
	json_decref(created(dst, VI, image("VirtualImage", "prod", "vi-3")));
	before = snapshot(dst, VI);
	assert_int_equal(store_import_file(dst, file, &res, &err), VIM_EEXIST);
	assert_non_null(strstr(err.msg, "virtualimages prod/vi-3 already exists in the store: "
	                                "nothing was imported"));
	assert_int_equal(strncmp(err.msg, file, strlen(file)), 0);
	assert_int_equal(res.objects, 0);
	/* nothing written: the image as it was, no namespace, no event */
	json_t *after = snapshot(dst, VI);
	assert_true(json_equal(before, after));
	json_decref(before);
	json_decref(after);
	assert_int_equal(count(dst, "namespaces"), 1);
	assert_int_equal(count(dst, CVI), 0);
	assert_int_equal(count(dst, "events"), 0);
	store_close(dst);

	/* only the Namespace taken: it is kept, the rest comes in */
	snprintf(other, sizeof(other), "%s/other.db", tmpdb_dir);
	dst = open_at(other);
	assert_int_equal(store_namespaces_ensure(dst, &err), 0);
	assert_int_equal(store_import_file(dst, file, &res, &err), 0);
	assert_int_equal(res.kept, 1);
	assert_int_equal(res.objects, n - 1);
	assert_int_equal(count(dst, VI), 7);
	store_close(src);
	store_close(dst);
}

static void test_a_bad_line_is_named_by_its_number(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"\n{\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
	     "not json\n",
	     ":3: not JSON"},
	    {"{\"resource\":\"pods\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n",
	     ":1: unknown resource \"pods\""},
	    {"{\"object\":{}}\n", ":1: \"resource\" is missing"},
	    {"{\"resource\":\"virtualimages\",\"object\":{\"metadata\":{\"namespace\":\"d\"}}}\n",
	     ":1: virtualimages: metadata.name is missing or bad"},
	    {"{\"resource\":\"virtualimages\",\"object\":{\"metadata\":{\"name\":\"x\"}}}\n",
	     ":1: virtualimages x: metadata.namespace is missing or bad"},
	    {"{\"resource\":\"clustervirtualimages\",\"object\":{\"metadata\":{\"name\":\"x\","
	     "\"namespace\":\"d\"}}}\n",
	     ":1: clustervirtualimages x: metadata.namespace is set on a cluster-scoped object"},
	    {"{\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n"
	     "{\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"b\"}}}\n"
	     "{\"resource\":\"namespaces\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n",
	     ":3: namespaces a is also on line 1: nothing was imported"},
	};
	struct store *dst = open_at(target_path);
	struct store_import_result res;
	struct vim_err err;
	char want[300];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(bad[i].text);
		snprintf(want, sizeof(want), "%s%s", file, bad[i].msg);
		int rc = store_import_file(dst, file, &res, &err);
		if (rc >= 0 || strncmp(err.msg, want, strlen(want)) != 0)
			fail_msg("case %zu: rc %d: %s", i, rc, err.msg);
		assert_int_equal(count(dst, "namespaces"), 0);
	}
	store_close(dst);
}

/* stdin cannot be read twice: the import keeps its first pass aside. */
static void test_a_pipe_is_imported_as_a_file_is(void **state)
{
	struct store *src = tmpdb_open_store(), *dst = open_at(target_path);
	struct store_import_result res;
	struct vim_err err;
	char *text = NULL;
	size_t n, len = 0;
	FILE *in, *mem = open_memstream(&text, &len);
	int fds[2];
	(void)state;

	fill(src);
	assert_int_equal(store_export(src, mem, &n, &err), 0);
	fclose(mem);
	assert_true(len < 60000); /* fits the pipe: written before it is read */
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], text, len), (ssize_t)len);
	close(fds[1]);
	in = fdopen(fds[0], "r");
	assert_int_equal(store_import(dst, in, "-", &res, &err), 0);
	fclose(in);
	assert_int_equal(res.objects, n);
	assert_int_equal(count(dst, VI), 7);
	free(text);
	store_close(src);
	store_close(dst);
}

static int setup(void **state)
{
	(void)state;
	if (tmpdb_setup("export") != 0)
		return -1;
	snprintf(target_dir, sizeof(target_dir), "%s/target", tmpdb_dir);
	snprintf(target_path, sizeof(target_path), "%s/vimage.db", target_dir);
	snprintf(file, sizeof(file), "%s/catalog.jsonl", tmpdb_dir);
	return mkdir(target_dir, 0700);
}

static int teardown(void **state)
{
	(void)state;
	return tmpdb_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_round_trip_keeps_every_object_but_its_resource_version, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_a_taken_key_refuses_the_whole_import, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_bad_line_is_named_by_its_number, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_pipe_is_imported_as_a_file_is, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
