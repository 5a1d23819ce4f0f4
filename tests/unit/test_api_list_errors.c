/*
 * api/list_watch and api/params: what a LIST and a WATCH pass to the store
 * and how the store's failures reach the client, over real HTTP (libcurl
 * against api_server on 127.0.0.1).  The store is a real SQLite one behind
 * a wrapper of our own struct store_ops that records the list options it
 * is given and, when told to, fails a list as a remote backend would
 * (etcd down: VIM_EUNAVAILABLE; a resourceVersion not reached in time:
 * VIM_ETIMEDOUT "Too large resource version"; compacted: VIM_EGONE).
 * Then the query values and Content-Length headers that must not parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "api/api.h"
#include "store/store.h"
#include "tmpdb.h"

#define TOKEN "admin-token"
#define VIS "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages"

/* The wrapper: the real store, and what its list saw and must answer. */
static struct {
	struct store base;
	struct store *real;
	int lists;
	char rv[64], match[64]; /* "(null)" when unset */
	int fail_rc;            /* 0 = delegate */
	char fail_msg[256];
} fk;

static struct store *real(void)
{
	return fk.real;
}

static void seen(char *out, size_t cap, const char *v)
{
	snprintf(out, cap, "%s", v ? v : "(null)");
}

static int f_get(struct store *s, const char *r, const char *ns, const char *n, json_t **out,
                 struct vim_err *e)
{
	(void)s;
	return real()->ops->get(real(), r, ns, n, out, e);
}

static int f_list(struct store *s, const char *r, const struct store_list_opts *o, store_list_fn fn,
                  void *arg, struct store_list_meta *meta, struct vim_err *e)
{
	(void)s;
	fk.lists++;
	seen(fk.rv, sizeof(fk.rv), o->resource_version);
	seen(fk.match, sizeof(fk.match), o->resource_version_match);
	if (fk.fail_rc)
		return vim_err_set(e, fk.fail_rc, "%s", fk.fail_msg);
	return real()->ops->list(real(), r, o, fn, arg, meta, e);
}

static int f_create(struct store *s, const char *r, const json_t *obj,
                    const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	(void)s;
	return real()->ops->create(real(), r, obj, wo, out, e);
}

static int f_update(struct store *s, const char *r, const json_t *obj,
                    const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	(void)s;
	return real()->ops->update(real(), r, obj, wo, out, e);
}

static int f_update_status(struct store *s, const char *r, const json_t *obj,
                           const struct store_write_opts *wo, json_t **out, struct vim_err *e)
{
	(void)s;
	return real()->ops->update_status(real(), r, obj, wo, out, e);
}

static int f_remove(struct store *s, const struct store_delete_opts *o, json_t **out, bool *deleted,
                    struct vim_err *e)
{
	(void)s;
	return real()->ops->remove(real(), o, out, deleted, e);
}

static int f_watch(struct store *s, const char *r, const struct store_watch_opts *o,
                   struct store_watch **out, struct vim_err *e)
{
	(void)s;
	return real()->ops->watch(real(), r, o, out, e);
}

static int64_t f_current_rv(struct store *s)
{
	(void)s;
	return real()->ops->current_rv(real());
}

static void f_watch_stats(struct store *s, size_t *watchers, size_t *history)
{
	(void)s;
	real()->ops->watch_stats(real(), watchers, history);
}

static void f_close(struct store *s)
{
	(void)s;
}

static const struct store_ops fake_ops = {
    .name = "fake",
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

static struct api_server *srv;
static char base[64];

struct reply {
	long code;
	char body[16384];
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

static void get(const char *path, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer " TOKEN);
	char url[1024];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* The Status in text (a reply's body, or a watch ERROR event's object). */
static json_t *status_of(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "kind")), "Status");
	return j;
}

/* A BadRequest Status whose message holds want. */
static bool message_has(const char *body, const char *want)
{
	json_t *st = json_loads(body, 0, NULL);
	const char *m = json_string_value(json_object_get(st, "message"));
	const char *reason = json_string_value(json_object_get(st, "reason"));
	bool ok = m && reason && strcmp(reason, "BadRequest") == 0 && strstr(m, want);

	json_decref(st);
	return ok;
}

static void fail_lists(int rc, const char *msg)
{
	fk.fail_rc = rc;
	snprintf(fk.fail_msg, sizeof(fk.fail_msg), "%s", msg);
}

static void test_list_passes_its_consistency_to_the_store(void **state)
{
	struct reply r;
	(void)state;

	get(VIS, &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(fk.rv, "(null)"); /* unset: a consistent read */
	assert_string_equal(fk.match, "(null)");
	get(VIS "?resourceVersion=0", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(fk.rv, "0");
	assert_string_equal(fk.match, "(null)");
	get(VIS "?resourceVersion=1&resourceVersionMatch=NotOlderThan", &r);
	assert_int_equal(r.code, 200);
	assert_string_equal(fk.rv, "1");
	assert_string_equal(fk.match, "NotOlderThan");
	get(VIS "?resourceVersion=1&resourceVersionMatch=Exact&limit=2", &r);
	assert_string_equal(fk.rv, "1");
	assert_string_equal(fk.match, "Exact");
}

static void test_store_unavailable_is_503_naming_it(void **state)
{
	struct reply r;
	json_t *st;
	(void)state;

	fail_lists(VIM_EUNAVAILABLE, "etcd http://127.0.0.1:1: range: connection refused");
	get(VIS, &r);
	assert_int_equal(r.code, 503);
	st = status_of(r.body);
	assert_int_equal(json_integer_value(json_object_get(st, "code")), 503);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "ServiceUnavailable");
	assert_string_equal(json_string_value(json_object_get(st, "message")),
	                    "etcd http://127.0.0.1:1: range: connection refused");
	json_decref(st);
	fail_lists(0, "");
}

/* kube's NewTooLargeResourceVersionError, which client-go's reflector
 * reads by its cause to retry instead of relisting. */
static void test_too_large_resource_version_is_kubes_timeout(void **state)
{
	struct reply r;
	json_t *st, *d, *cause;
	(void)state;

	fail_lists(VIM_ETIMEDOUT, "Too large resource version: 999, current: 7");
	get(VIS "?resourceVersion=999", &r);
	assert_int_equal(r.code, 504);
	st = status_of(r.body);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "Timeout");
	assert_string_equal(json_string_value(json_object_get(st, "message")),
	                    "Timeout: Too large resource version: 999, current: 7");
	d = json_object_get(st, "details");
	assert_int_equal(json_integer_value(json_object_get(d, "retryAfterSeconds")), 1);
	cause = json_array_get(json_object_get(d, "causes"), 0);
	assert_string_equal(json_string_value(json_object_get(cause, "reason")),
	                    "ResourceVersionTooLarge");
	assert_string_equal(json_string_value(json_object_get(cause, "message")),
	                    "Too large resource version");
	json_decref(st);
	/* any other timeout (etcd slow) is a plain 504 */
	fail_lists(VIM_ETIMEDOUT, "etcd http://127.0.0.1:1: range: no answer in 5000 ms");
	get(VIS, &r);
	assert_int_equal(r.code, 504);
	st = status_of(r.body);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "Timeout");
	assert_null(json_object_get(st, "details"));
	json_decref(st);
	fail_lists(0, "");
}

static void test_compacted_list_is_410_expired(void **state)
{
	struct reply r;
	json_t *st;
	(void)state;

	fail_lists(VIM_EGONE, "too old resource version: 3 (40)");
	get(VIS "?resourceVersion=3&resourceVersionMatch=Exact", &r);
	assert_int_equal(r.code, 410);
	st = status_of(r.body);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "Expired");
	assert_string_equal(json_string_value(json_object_get(st, "message")),
	                    "too old resource version: 3 (40)");
	json_decref(st);
	fail_lists(0, "");
}

/* A watch that cannot send its initial state ends as kube's does: 200,
 * one ERROR event whose object is the Status, the end of the stream. */
static void test_watch_that_fails_ends_with_an_error_event(void **state)
{
	struct reply r;
	json_t *ev, *st;
	(void)state;

	fail_lists(VIM_EUNAVAILABLE, "etcd http://127.0.0.1:1: range: connection refused");
	get(VIS "?watch=1&timeoutSeconds=5", &r);
	assert_int_equal(r.code, 200);
	ev = json_loads(r.body, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(ev);
	assert_string_equal(json_string_value(json_object_get(ev, "type")), "ERROR");
	st = json_object_get(ev, "object");
	assert_int_equal(json_integer_value(json_object_get(st, "code")), 503);
	assert_string_equal(json_string_value(json_object_get(st, "reason")), "ServiceUnavailable");
	json_decref(ev);
	fail_lists(VIM_ETIMEDOUT, "Too large resource version: 50, current: 7");
	get(VIS "?watch=1&timeoutSeconds=5&sendInitialEvents=true&allowWatchBookmarks=true"
	        "&resourceVersionMatch=NotOlderThan&resourceVersion=50",
	    &r);
	assert_int_equal(r.code, 200);
	ev = json_loads(r.body, JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(ev);
	st = json_object_get(ev, "object");
	assert_int_equal(json_integer_value(json_object_get(st, "code")), 504);
	assert_non_null(json_object_get(json_object_get(st, "details"), "causes"));
	json_decref(ev);
	assert_string_equal(fk.rv, "50");
	fail_lists(0, "");
}

/* Values Go's strconv would not parse (what kube's query decoding uses):
 * each is 400 naming its parameter, not the number strtoll read out of
 * its start (" 5" was 5, "+7" a resourceVersion of 7, 2^64-1 the largest
 * int64). */
static void test_query_counts_parse_whole(void **state)
{
	static const struct {
		const char *query, *names;
	} bad[] = {
	    {"limit=%205", "limit: Invalid value: \" 5\""},
	    {"limit=5x", "limit: Invalid value: \"5x\""},
	    {"limit=-1", "limit: Invalid value: \"-1\""},
	    {"limit=99999999999999999999", "limit: Invalid value"},
	    {"timeoutSeconds=%0910", "timeoutSeconds: Invalid value: \"\t10\""},
	    {"timeoutSeconds=10s", "timeoutSeconds: Invalid value: \"10s\""},
	    {"resourceVersion=%2B7", "resourceVersion: Invalid value: \"+7\""},
	    {"resourceVersion=%207", "resourceVersion: Invalid value: \" 7\""},
	    {"resourceVersion=18446744073709551615",
	     "resourceVersion: Invalid value: \"18446744073709551615\""},
	};
	struct reply r;
	char path[256];
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s?%s", VIS, bad[i].query);
		get(path, &r);
		if (r.code != 400 || !message_has(r.body, bad[i].names))
			fail_msg("%s: %ld %s", bad[i].query, r.code, r.body);
		snprintf(path, sizeof(path), "%s?watch=1&%s", VIS, bad[i].query);
		get(path, &r);
		if (r.code != 400 || !message_has(r.body, bad[i].names))
			fail_msg("watch %s: %ld %s", bad[i].query, r.code, r.body);
	}
	/* what Go's ParseInt takes: a '+' on limit */
	get(VIS "?limit=%2B2&timeoutSeconds=1", &r);
	assert_int_equal(r.code, 200);
}

/* A raw request (libcurl will not send two Content-Lengths). */
static void raw(const char *req, char *out, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	struct timeval tv = {5, 0};
	ssize_t n;

	a.sin_port = htons((uint16_t)api_server_port(srv));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	while (got + 1 < cap && (n = recv(fd, out + got, cap - 1 - got, 0)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
}

/* Two Content-Lengths that differ leave the body's length unknowable
 * (RFC 9112 6.3): 400 naming the header, before anything is read. */
static void test_conflicting_content_lengths_are_refused(void **state)
{
	static const char body[] =
	    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
	    "\"metadata\":{\"name\":\"twice\"},\"spec\":{\"dataSource\":{\"type\":\"Upload\"}}}";
	char out[4096], req[1024];
	(void)state;

	raw("POST " VIS " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	    "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"
	    "Content-Length: 99999999\r\nConnection: close\r\n\r\n{}",
	    out, sizeof(out));
	if (strncmp(out, "HTTP/1.1 400", 12) != 0 || !strstr(out, "\"reason\":\"BadRequest\"") ||
	    !strstr(out, "Content-Length: the request names 2 different lengths"))
		fail_msg("%s", out);
	/* the same length twice is one length: the create goes through */
	snprintf(req, sizeof(req),
	         "POST " VIS " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN
	         "\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
	         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
	         strlen(body), strlen(body), body);
	raw(req, out, sizeof(out));
	if (strncmp(out, "HTTP/1.1 201", 12) != 0)
		fail_msg("%s", out);
}

struct stopper {
	struct api_server *s;
	atomic_bool done;
};

static void *stop_main(void *arg)
{
	struct stopper *st = arg;

	api_server_stop(st->s);
	atomic_store(&st->done, true);
	return NULL;
}

/* A watch whose client stops reading and then leaves, with more events
 * than the pipe, the socket buffers and the client's window hold: its
 * producer is blocked writing into the full pipe.  The reader's end must
 * close when MHD lets the response go, so the producer gets EPIPE and
 * ends; it was closed only with the last reference, which the blocked
 * producer held, and api_server_stop waited for it forever (vimaged's
 * SIGTERM hung after bench/api's watch left). */
static void test_an_abandoned_watch_does_not_hold_the_server(void **state)
{
	struct api_config cfg = {.token = TOKEN, .notify_token = "notify-token", .store = fk.real};
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct stopper st = {0};
	struct vim_err err = {0};
	char req[512], pad[2049], name[32];
	int fd, small = 4096, i;
	pthread_t th;
	(void)state;

	assert_int_equal(api_server_start(&st.s, &cfg, &err), 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	a.sin_port = htons((uint16_t)api_server_port(st.s));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	snprintf(req, sizeof(req),
	         "GET " VIS "?watch=1&resourceVersion=%lld HTTP/1.1\r\nHost: x\r\n"
	         "Authorization: Bearer " TOKEN "\r\n\r\n",
	         (long long)store_current_rv(fk.real));
	assert_int_equal(send(fd, req, strlen(req), 0), (ssize_t)strlen(req));
	usleep(200 * 1000); /* the watch is open */
	memset(pad, 'x', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = '\0';
	for (i = 0; i < 3000; i++) { /* ~7 MB of events nobody reads */
		json_t *o, *out = NULL;

		snprintf(name, sizeof(name), "abandoned-%d", i);
		o = json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}},s:{s:{s:s}}}", "apiVersion",
		              "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage",
		              "metadata", "name", name, "namespace", "default", "annotations",
		              "pad", pad, "spec", "dataSource", "type", "Upload");
		assert_non_null(o);
		assert_int_equal(store_create(fk.real, "virtualimages", o, &out, &err), 0);
		json_decref(o);
		json_decref(out);
	}
	usleep(300 * 1000); /* the producer has filled everything and blocks */
	close(fd);
	pthread_create(&th, NULL, stop_main, &st);
	for (i = 0; i < 150 && !atomic_load(&st.done); i++)
		usleep(100 * 1000);
	if (!atomic_load(&st.done))
		fail_msg("api_server_stop still waits 15 s after the watch's client left");
	pthread_join(th, NULL);
}

/* Each test starts with a store that answers (a failed one's fail_lists
 * must not carry over). */
static int reset(void **state)
{
	(void)state;
	fail_lists(0, "");
	return 0;
}

static int setup(void **state)
{
	struct api_config cfg = {.token = TOKEN, .notify_token = "notify-token"};
	struct vim_err err = {0};

	(void)state;
	if (tmpdb_setup("listerr") != 0 || store_sqlite_open(&fk.real, tmpdb_path, 0, &err) != 0 ||
	    store_namespaces_ensure(fk.real, &err) != 0)
		return -1;
	fk.base.ops = &fake_ops;
	cfg.store = &fk.base;
	if (api_server_start(&srv, &cfg, &err) != 0)
		return -1;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", api_server_port(srv));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	api_server_stop(srv);
	store_close(fk.real);
	return tmpdb_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_list_passes_its_consistency_to_the_store, reset),
	    cmocka_unit_test_setup(test_store_unavailable_is_503_naming_it, reset),
	    cmocka_unit_test_setup(test_too_large_resource_version_is_kubes_timeout, reset),
	    cmocka_unit_test_setup(test_compacted_list_is_410_expired, reset),
	    cmocka_unit_test_setup(test_watch_that_fails_ends_with_an_error_event, reset),
	    cmocka_unit_test_setup(test_query_counts_parse_whole, reset),
	    cmocka_unit_test_setup(test_conflicting_content_lengths_are_refused, reset),
	    cmocka_unit_test_setup(test_an_abandoned_watch_does_not_hold_the_server, reset),
	};
	int rc;

	signal(SIGPIPE, SIG_IGN); /* as vimaged: a reader gone is EPIPE */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
