/*
 * Store failures as the API tells them, over real HTTP (libcurl against
 * api_server on 127.0.0.1) and a real SQLite store whose list fails on
 * demand after N objects — what a corrupt page does, at a chosen place:
 * a LIST that fails mid-stream is cut (curl: partial transfer), never a
 * clean 200; one that fails before its first object is a whole Status;
 * VIM_EGONE is 410 Expired; a WATCH whose initial list fails ends with an
 * ERROR event; the namespace list is an error, not a short list; a
 * download that ends short of its announced size is cut.
 */
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "api/api.h"
#include "store/store.h"

#define VIS "/apis/virtualization.deckhouse.io/v1alpha2/virtualimages"
#define OBJECTS 5

/* The real store, with a list that stops after fail_after objects and
 * fails with fail_code (fail_after < 0: never).  Both are atomic: a test
 * sets them while the previous request's producer thread may still be
 * reading them, ordered only by the reply on the socket, which
 * ThreadSanitizer cannot see (make tsan reported it). */
struct flaky {
	struct store base;
	struct store *real;
	atomic_int fail_after;
	atomic_int fail_code;
};

struct counting {
	store_list_fn fn;
	void *arg;
	int n, limit;
	bool stopped;
};

static int count_one(void *arg, const char *json, size_t len)
{
	struct counting *c = arg;

	if (c->n == c->limit) {
		c->stopped = true;
		return 1;
	}
	c->n++;
	return c->fn(c->arg, json, len);
}

static struct store *real_of(struct store *s)
{
	return ((struct flaky *)s)->real;
}

static int f_list(struct store *s, const char *resource, const struct store_list_opts *o,
                  store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	struct flaky *f = (struct flaky *)s;
	struct counting c = {.fn = fn, .arg = arg, .limit = f->fail_after};
	int rc;

	if (f->fail_after < 0)
		return store_list(f->real, resource, o, fn, arg, meta, err);
	rc = store_list(f->real, resource, o, count_one, &c, meta, err);
	if (c.stopped)
		return vim_err_set(err, f->fail_code, "list %s: database disk image is malformed",
		                   resource);
	return rc;
}

static int f_get(struct store *s, const char *r, const char *ns, const char *n, json_t **out,
                 struct vim_err *e)
{
	return store_get(real_of(s), r, ns, n, out, e);
}

static int f_create(struct store *s, const char *r, const json_t *obj,
                    const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	return store_create_opts(real_of(s), r, obj, wo, out, e);
}

static int f_update(struct store *s, const char *r, const json_t *obj,
                    const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	return store_update_opts(real_of(s), r, obj, wo, out, e);
}

static int f_update_status(struct store *s, const char *r, const json_t *obj,
                           const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	return store_update_status_opts(real_of(s), r, obj, wo, out, e);
}

static int f_remove(struct store *s, const struct store_delete_opts *o, json_t **out, bool *deleted,
                    struct vim_err *e)
{
	return store_delete(real_of(s), o, out, deleted, e);
}

static int f_watch(struct store *s, const char *r, const struct store_watch_opts *o,
                   struct store_watch **out, struct vim_err *e)
{
	return store_watch(real_of(s), r, o, out, e);
}

static int64_t f_current_rv(struct store *s)
{
	return store_current_rv(real_of(s));
}

static void f_watch_stats(struct store *s, size_t *watchers, size_t *history)
{
	real_of(s)->ops->watch_stats(real_of(s), watchers, history);
}

static void f_close(struct store *s)
{
	(void)s;
}

static const struct store_ops flaky_ops = {
    .name = "flaky",
    .get = f_get,
    .list = f_list,
    .create = f_create,
    .update = f_update,
    .update_status = f_update_status,
    .remove = f_remove,
    .watch = f_watch,
    .current_rv = f_current_rv,
    .watch_stats = f_watch_stats,
    .close = f_close,
};

/* A download of 100 announced bytes that writes `download_bytes`. */
static int download_bytes;

static int fake_download(void *arg, const char *kind, const char *ns, const char *name, int *fd,
                         long long *size, char digest[96], struct vim_err *err)
{
	char buf[100];
	int p[2];

	(void)arg, (void)kind, (void)ns, (void)name;
	if (pipe(p) != 0)
		return vim_err_set(err, VIM_EIO, "pipe");
	memset(buf, 'x', sizeof(buf));
	/* fits in the pipe: written before the reader starts */
	assert_int_equal(write(p[1], buf, (size_t)download_bytes), download_bytes);
	close(p[1]);
	*fd = p[0];
	*size = sizeof(buf);
	snprintf(digest, 96, "sha256:0");
	return 0;
}

static struct flaky F;
static struct api_server *srv;
static char dir[64], base[64];

static int setup(void **state)
{
	struct api_config cfg = {0};
	struct vim_err err = {0};
	char path[128], name[16];
	int i;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vimage-apistream.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/vimage.db", dir);
	if (store_sqlite_open(&F.real, path, 0, &err) != 0)
		return -1;
	F.base.ops = &flaky_ops;
	F.fail_after = -1;
	for (i = 0; i < OBJECTS; i++) {
		json_t *o, *out = NULL;
		snprintf(name, sizeof(name), "img-%d", i);
		o = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
		              "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
		              "metadata", "name", name, "namespace", "ns", "spec", "dataSource",
		              "type", "Upload");
		if (store_create(F.real, "virtualimages", o, &out, &err) != 0)
			return -1;
		json_decref(o);
		json_decref(out);
	}
	/* default and "ns" (the images' namespace), as vimaged's start makes them */
	if (store_namespaces_ensure(F.real, &err) != 0)
		return -1;
	cfg.store = &F.base;
	cfg.token = "t";
	cfg.download = fake_download;
	if (api_server_start(&srv, &cfg, &err) != 0)
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", api_server_port(srv));
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	api_server_stop(srv);
	store_close(F.real);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd);
}

struct reply {
	long code;
	CURLcode rc;
	char body[65536];
	size_t len;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	struct reply *r = ud;
	size_t len = size * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, data, len < room ? len : room);
	r->len += len < room ? len : room;
	r->body[r->len] = '\0';
	return len;
}

static void get(const char *path, const char *accept, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer t");
	char url[512], acc[256];

	memset(r, 0, sizeof(*r));
	if (accept) {
		snprintf(acc, sizeof(acc), "Accept: %s", accept);
		h = curl_slist_append(h, acc);
	}
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	r->rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* The Status in a body: "<code> <reason>", or "not a Status". */
static void status_of(const char *body, char *out, size_t outlen)
{
	json_t *st = json_loads(body, 0, NULL);

	if (st && strcmp(json_string_value(json_object_get(st, "kind")) ?: "", "Status") == 0)
		snprintf(out, outlen, "%lld %s",
		         (long long)json_integer_value(json_object_get(st, "code")),
		         json_string_value(json_object_get(st, "reason")) ?: "");
	else
		snprintf(out, outlen, "not a Status");
	json_decref(st);
}

static void test_list_whole_is_a_clean_200(void **state)
{
	struct reply r;
	json_t *l;

	(void)state;
	F.fail_after = -1;
	get(VIS, NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 200);
	l = json_loads(r.body, 0, NULL);
	assert_non_null(l);
	assert_int_equal(json_array_size(json_object_get(l, "items")), OBJECTS);
	json_decref(l);
}

static void test_list_failing_after_objects_is_cut_not_a_clean_200(void **state)
{
	struct reply r;

	(void)state;
	F.fail_after = 2;
	F.fail_code = VIM_EIO;
	get(VIS, NULL, &r);
	F.fail_after = -1;
	/* the 200 was out: no last chunk, so curl knows the body is not whole */
	assert_int_equal(r.code, 200);
	assert_int_equal(r.rc, CURLE_PARTIAL_FILE);
	assert_null(json_loads(r.body, 0, NULL));
}

static void test_list_failing_before_its_first_object_is_a_500_status(void **state)
{
	struct reply r;
	char st[64];

	(void)state;
	F.fail_after = 0;
	F.fail_code = VIM_EIO;
	get(VIS, NULL, &r);
	F.fail_after = -1;
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 500);
	status_of(r.body, st, sizeof(st));
	assert_string_equal(st, "500 InternalError");
	assert_non_null(strstr(r.body, "database disk image is malformed"));
}

static void test_list_gone_is_410_expired_streamed_and_as_table(void **state)
{
	struct reply r;
	char st[64];

	(void)state;
	F.fail_after = 0;
	F.fail_code = VIM_EGONE;
	get(VIS "?limit=2", NULL, &r);
	assert_int_equal(r.code, 410);
	status_of(r.body, st, sizeof(st));
	assert_string_equal(st, "410 Expired");
	get(VIS "?limit=2", "application/json;as=Table;v=v1;g=meta.k8s.io", &r);
	F.fail_after = -1;
	assert_int_equal(r.code, 410);
	status_of(r.body, st, sizeof(st));
	assert_string_equal(st, "410 Expired");
}

static void test_watch_whose_initial_list_fails_ends_with_an_error_event(void **state)
{
	struct reply r;
	json_t *ev;
	char *last, st[64];

	(void)state;
	F.fail_after = 1;
	F.fail_code = VIM_EIO;
	get(VIS "?watch=true&timeoutSeconds=10", NULL, &r);
	F.fail_after = -1;
	/* one ADDED, then ERROR with the Status, then a clean end (kube) */
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.code, 200);
	assert_non_null(strstr(r.body, "{\"type\":\"ADDED\""));
	r.body[r.len - 1] = '\0'; /* the last newline */
	last = strrchr(r.body, '\n');
	assert_non_null(last);
	ev = json_loads(last + 1, 0, NULL);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "ERROR");
	{
		char *o = json_dumps(json_object_get(ev, "object"), 0);
		status_of(o, st, sizeof(st));
		free(o);
	}
	assert_string_equal(st, "500 InternalError");
	json_decref(ev);
}

static void test_namespaces_over_a_failing_list_are_an_error(void **state)
{
	struct reply r;
	char st[64];

	(void)state;
	F.fail_after = 0;
	F.fail_code = VIM_EIO;
	get("/api/v1/namespaces", NULL, &r);
	assert_int_equal(r.code, 500);
	status_of(r.body, st, sizeof(st));
	assert_string_equal(st, "500 InternalError");
	/* not "not found" for a namespace the failed list did not reach */
	F.fail_after = -1;
	/* a Namespace is an object of its own now: its GET reads it, not a
	 * list of the images that use it */
	get("/api/v1/namespaces/ns", NULL, &r);
	assert_int_equal(r.code, 200);
}

static void test_download_short_of_its_size_is_cut(void **state)
{
	struct reply r;

	(void)state;
	download_bytes = 100;
	get("/download/cvi/x", NULL, &r);
	assert_int_equal(r.rc, CURLE_OK);
	assert_int_equal(r.len, 100);
	download_bytes = 40;
	get("/download/cvi/x", NULL, &r);
	assert_int_equal(r.code, 200);
	assert_int_equal(r.rc, CURLE_PARTIAL_FILE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_whole_is_a_clean_200),
	    cmocka_unit_test(test_list_failing_after_objects_is_cut_not_a_clean_200),
	    cmocka_unit_test(test_list_failing_before_its_first_object_is_a_500_status),
	    cmocka_unit_test(test_list_gone_is_410_expired_streamed_and_as_table),
	    cmocka_unit_test(test_watch_whose_initial_list_fails_ends_with_an_error_event),
	    cmocka_unit_test(test_namespaces_over_a_failing_list_are_an_error),
	    cmocka_unit_test(test_download_short_of_its_size_is_cut),
	};
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, setup, teardown);
}
