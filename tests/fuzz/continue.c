/*
 * fuzz target `continue`: ?continue= as a paged LIST hands it to the
 * store.  The token decoder is static in store/sqlite_list.c, so the
 * target goes through store_list on a real SQLite store (a temp directory,
 * made on the first input, three VirtualImages in two namespaces), with a
 * page limit and with and without a namespace, as the API calls it.
 * The input is tried as the token and, base64-encoded, as the token's
 * content ("rv\nns\nname" once decoded), which random bytes would seldom
 * reach through base64.
 * Properties: a token is accepted or refused as invalid (never another
 * error), and following the tokens the store returns ends.
 */
#include "fuzz.h"

#include "store/store.h"

#include <openssl/evp.h>
#include <unistd.h>

static struct store *st;
static char dir[256], path[300];

static void cleanup(void)
{
	store_close(st);
	st = NULL;
	if (path[0]) {
		char side[320];
		unlink(path);
		snprintf(side, sizeof(side), "%s-wal", path);
		unlink(side);
		snprintf(side, sizeof(side), "%s-shm", path);
		unlink(side);
		rmdir(dir);
	}
}

static void add(const char *ns, const char *name)
{
	struct vim_err err = {0};
	json_t *obj = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
	                        "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
	                        "metadata", "name", name, "namespace", ns, "labels", "app", name,
	                        "spec", "dataSource", "type", "Upload"),
	       *out = NULL;

	FUZZ_CHECK(obj && store_create(st, "virtualimages", obj, &out, &err) == 0);
	json_decref(out);
	json_decref(obj);
}

static void setup_store(void)
{
	const char *tmp = getenv("TMPDIR");
	struct vim_err err = {0};

	snprintf(dir, sizeof(dir), "%s/vimage-fuzz-continue.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/vimage.db", dir);
	if (store_sqlite_open(&st, path, 0, &err) < 0) {
		fprintf(stderr, "continue: %s\n", err.msg);
		FUZZ_CHECK(!"the store opens");
	}
	atexit(cleanup);
	add("default", "a");
	add("default", "b");
	add("prod", "c");
}

static int count(void *arg, const char *json, size_t len)
{
	(void)json;
	(void)len;
	++*(int *)arg;
	return 0;
}

static void pages(const char *token, const char *ns, int64_t limit)
{
	struct store_list_opts o = {.ns = ns, .limit = limit, .continue_token = token};
	struct store_list_meta meta;
	struct vim_err err = {0};
	char next[sizeof(meta.continue_token)];
	int rc, n = 0, i;

	rc = store_list(st, "virtualimages", &o, count, &n, &meta, &err);
	FUZZ_CHECK(rc == 0 || rc == VIM_EINVAL);
	if (rc < 0) {
		FUZZ_CHECK(strstr(err.msg, "continue") != NULL);
		return;
	}
	/* the store's own tokens: at most one page per object, then the end */
	for (i = 0; i < 4 && meta.continue_token[0]; i++) {
		memcpy(next, meta.continue_token, sizeof(next));
		o.continue_token = next;
		rc = store_list(st, "virtualimages", &o, count, &n, &meta, &err);
		FUZZ_CHECK(rc == 0);
	}
	FUZZ_CHECK(meta.continue_token[0] == '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok;

	if (size > 8192) /* MHD's default URL bound */
		return 0;
	if (!st)
		setup_store();
	if (!(tok = fuzz_cstr(data, size)))
		return 0;
	pages(tok, NULL, 1);
	pages(tok, "default", 2);
	free(tok);
	if (size <= 1024 && (tok = malloc(size * 4 / 3 + 8))) {
		EVP_EncodeBlock((unsigned char *)tok, data, (int)size);
		pages(tok, NULL, 1);
		pages(tok, "default", 2);
		free(tok);
	}
	return 0;
}
