/*
 * api/router: the one route table's auth column, over real HTTP (libcurl
 * against api_server on 127.0.0.1, a real SQLite store).  Every row of the
 * table is called without a token, with a wrong one, with the admin's and
 * with the registry's notification token, and must refuse (401) exactly
 * the callers its column does not admit; then the answers each row gave
 * before the table existed (codes and bodies the integration suites and
 * vimagectl rely on) are pinned one by one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "api/server_internal.h"
#include "store/store.h"
#include "tmpdb.h"

#define ADMIN "Bearer admin-token"
#define NOTIFY "Bearer notify-token"
#define WRONG "Bearer wrong-token"

static struct store *store;

static void fake_metrics(void *arg, struct vim_text *out)
{
	(void)arg;
	vim_text_printf(out, "vimage_test 1\n");
}

static int fake_events(void *arg, const char *body, size_t len, struct vim_err *err)
{
	(void)arg, (void)body, (void)len, (void)err;
	return 0;
}

static int fake_download(void *arg, const char *kind, const char *ns, const char *name, int *fd,
                         long long *size, char digest[96], struct vim_err *err)
{
	(void)arg, (void)kind, (void)ns, (void)fd, (void)size, (void)digest;
	return vim_err_set(err, VIM_ENOTFOUND, "no image %s", name);
}

static int fake_upload_begin(void *arg, const char *token, int64_t length, void **handle,
                             struct vim_err *err)
{
	(void)arg;
	if (strcmp(token, "busy") == 0)
		return vim_err_set(err, VIM_EEXIST, "an upload is already in progress");
	if (strcmp(token, "sized") == 0 && length < 0)
		return vim_err_set(err, VIM_EINVAL, "the upload needs a Content-Length");
	if (strcmp(token, "good") != 0 && strcmp(token, "sized") != 0)
		return vim_err_set(err, VIM_ENOTFOUND, "no upload is waiting for this URL");
	*handle = &store; /* any non-NULL handle */
	return 0;
}

static int fake_upload_data(void *handle, const void *data, size_t len, struct vim_err *err)
{
	(void)handle, (void)data, (void)len, (void)err;
	return 0;
}

static int fake_upload_end(void *handle, bool ok, struct vim_err *err)
{
	(void)handle, (void)ok, (void)err;
	return 0;
}

static const struct api_upload_ops fake_upload = {fake_upload_begin, fake_upload_data,
                                                  fake_upload_end};

/* A server with every optional row configured (metrics: with the token
 * unless anonymous; with_metrics false: none). */
static struct api_server *start(bool with_metrics, bool anonymous, char *base, size_t cap)
{
	struct api_config cfg = {.token = "admin-token",
	                         .notify_token = "notify-token",
	                         .store = store,
	                         .on_registry_events = fake_events,
	                         .download = fake_download,
	                         .upload = &fake_upload,
	                         .metrics = with_metrics ? fake_metrics : NULL,
	                         .metrics_anonymous = anonymous};
	struct api_server *s = NULL;
	struct vim_err err = {0};

	assert_int_equal(api_server_start(&s, &cfg, &err), 0);
	snprintf(base, cap, "http://127.0.0.1:%d", api_server_port(s));
	return s;
}

struct reply {
	long code;
	char body[8192];
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

/* method url (relative to base) with Authorization auth (a "Bearer ..."
 * credential, another whole header line, or NULL: none) and body (NULL:
 * none). */
static void call(const char *base, const char *method, const char *path, const char *auth,
                 const char *body, struct reply *r)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512], hdr[128];

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", base, path);
	if (auth && strncmp(auth, "Bearer ", 7) != 0) /* a whole header line */
		h = curl_slist_append(h, auth);
	else if (auth) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

/* What each column admits, written out independently of router.c. */
static bool admits(enum api_auth col, const char *auth)
{
	bool admin = auth && strcmp(auth, ADMIN) == 0, notify = auth && strcmp(auth, NOTIFY) == 0;

	switch (col) {
	case API_AUTH_NONE:
	case API_AUTH_URL:
		return true;
	case API_AUTH_ADMIN:
	case API_AUTH_METRICS: /* this server's metrics need the token */
		return admin;
	case API_AUTH_NOTIFY:
		return admin || notify;
	default:
		return false;
	}
}

/* A URL the row serves (a prefix row gets a sample rest). */
static void sample_path(const struct api_server_route *row, char *out, size_t cap)
{
	const char *rest = "";

	if (row->match == API_MATCH_PREFIX)
		rest = strcmp(row->path, "/download/") == 0 ? "vi/ns/x"
		       : strcmp(row->path, "/upload/") == 0 ? "nosuch"
		                                            : "apis";
	snprintf(out, cap, "%s%s", row->path, rest);
}

static void test_every_row_enforces_its_auth_column(void **state)
{
	static const char *const callers[] = {NULL, WRONG, ADMIN, NOTIFY};
	static const char *const must[] = {"/healthz",     "/livez",     "/readyz",  "/metrics",
	                                   "/dvcr/events", "/download/", "/upload/", "/"};
	char base[64], path[256];
	struct api_server *s = start(true, false, base, sizeof(base));
	const struct api_server_route *rows;
	size_t n, i, k;
	(void)state;

	rows = api_server_routes(&n);
	/* no row of the old second router went missing */
	for (k = 0; k < sizeof(must) / sizeof(must[0]); k++) {
		for (i = 0; i < n && strcmp(rows[i].path, must[k]) != 0; i++)
			;
		assert_true(i < n);
	}
	/* the catch-all row is last and is the API's, admin only */
	assert_string_equal(rows[n - 1].path, "/");
	assert_int_equal(rows[n - 1].auth, API_AUTH_ADMIN);
	for (i = 0; i < n; i++) {
		const char *method = rows[i].method                              ? rows[i].method
		                     : strcmp(rows[i].path, "/dvcr/events") == 0 ? "POST"
		                                                                 : "GET";
		sample_path(&rows[i], path, sizeof(path));
		for (k = 0; k < sizeof(callers) / sizeof(callers[0]); k++) {
			struct reply r;
			call(base, method, path, callers[k], NULL, &r);
			if (admits(rows[i].auth, callers[k]) != (r.code != 401))
				fail_msg("%s %s with %s: %ld", method, path,
				         callers[k] ? callers[k] : "no token", r.code);
			if (r.code == 401)
				assert_non_null(strstr(r.body, "\"reason\":\"Unauthorized\""));
		}
	}
	api_server_stop(s);
}

struct want {
	const char *method, *path, *auth, *body;
	long code;
	const char *has; /* in the answer's body */
};

static void check_all(const char *base, const struct want *w, size_t n)
{
	struct reply r;
	size_t i;

	for (i = 0; i < n; i++) {
		call(base, w[i].method, w[i].path, w[i].auth, w[i].body, &r);
		if (r.code != w[i].code || !strstr(r.body, w[i].has))
			fail_msg("%s %s (%s): %ld %s, want %ld with %s", w[i].method, w[i].path,
			         w[i].auth ? w[i].auth : "no token", r.code, r.body, w[i].code,
			         w[i].has);
	}
}

static void test_rows_answer_as_the_second_router_did(void **state)
{
	static const struct want w[] = {
	    {"GET", "/healthz", NULL, NULL, 200, "ok"},
	    {"POST", "/livez", NULL, NULL, 200, "ok"},
	    {"GET", "/readyz", NULL, NULL, 200, "ok"},
	    {"GET", "/metrics", NULL, NULL, 401, "Unauthorized"},
	    {"GET", "/metrics", NOTIFY, NULL, 401, "Unauthorized"},
	    {"GET", "/metrics", ADMIN, NULL, 200, "vimage_test 1\n"},
	    {"GET", "/metrics", ADMIN, NULL, 200, "vimage_http_connections "},
	    {"POST", "/dvcr/events", NOTIFY, "{}", 200, "ok"},
	    {"POST", "/dvcr/events", ADMIN, "{}", 200, "ok"},
	    {"GET", "/dvcr/events", NOTIFY, NULL, 405, "registry notifications are POSTed"},
	    {"POST", "/dvcr/events", NULL, "{}", 401, "Unauthorized"},
	    {"GET", "/download/vi/ns/x", ADMIN, NULL, 404, "no image x"},
	    {"GET", "/download/vi/ns/x", NOTIFY, NULL, 401, "Unauthorized"},
	    {"PUT", "/download/vi/ns/x", ADMIN, NULL, 405, "downloads are GET"},
	    {"GET", "/download/vi/x", ADMIN, NULL, 400, "expected /download/vi/"},
	    {"PUT", "/upload/nosuch", NULL, "abc", 404, "no upload is waiting"},
	    {"PUT", "/upload/good", NULL, "abc", 200, "\"bytes\":3"},
	    {"PUT", "/upload/busy", NULL, "abc", 409, "\"reason\":\"Conflict\""},
	    {"PUT", "/upload/sized", NULL, "abc", 200, "\"bytes\":3"},
	    {"PUT", "/upload/sized", "Transfer-Encoding: chunked", "abc", 411,
	     "\"reason\":\"BadRequest\""},
	    {"POST", "/upload/good", NULL, "abcd", 200, "\"bytes\":4"},
	    {"GET", "/upload/good", NULL, NULL, 401, "Unauthorized"},
	    {"GET", "/upload/good", ADMIN, NULL, 404, "NotFound"},
	    {"GET", "/apis", NULL, NULL, 401, "Unauthorized"},
	    {"GET", "/apis", NOTIFY, NULL, 401, "Unauthorized"},
	    {"GET", "/apis", ADMIN, NULL, 200, "APIGroupList"},
	    {"GET", "/nonesuch", ADMIN, NULL, 404, "the server could not find"},
	};
	char base[64];
	struct api_server *s = start(true, false, base, sizeof(base));
	(void)state;

	check_all(base, w, sizeof(w) / sizeof(w[0]));
	api_server_stop(s);
}

/* --metrics-anonymous opens /metrics only; without metrics the path is
 * one the API does not serve (401, then 404 with the token). */
static void test_metrics_column_follows_the_configuration(void **state)
{
	static const struct want anon[] = {
	    {"GET", "/metrics", NULL, NULL, 200, "vimage_test 1\n"},
	    {"GET", "/apis", NULL, NULL, 401, "Unauthorized"},
	};
	static const struct want none[] = {
	    {"GET", "/metrics", NULL, NULL, 401, "Unauthorized"},
	    {"GET", "/metrics", ADMIN, NULL, 404, "the server could not find"},
	};
	char base[64];
	struct api_server *s = start(true, true, base, sizeof(base));
	(void)state;

	check_all(base, anon, sizeof(anon) / sizeof(anon[0]));
	api_server_stop(s);
	s = start(false, true, base, sizeof(base));
	check_all(base, none, sizeof(none) / sizeof(none[0]));
	api_server_stop(s);
}

static int setup(void **state)
{
	struct vim_err err = {0};

	(void)state;
	if (tmpdb_setup("routes") != 0 || store_sqlite_open(&store, tmpdb_path, 0, &err) != 0)
		return -1;
	return store_namespaces_ensure(store, &err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	store_close(store);
	return tmpdb_teardown();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_row_enforces_its_auth_column),
	    cmocka_unit_test(test_rows_answer_as_the_second_router_did),
	    cmocka_unit_test(test_metrics_column_follows_the_configuration),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return rc;
}
