/*
 * vimaged's forwarding to the leader (src/cmd/vimaged/forward.c), against a
 * real HTTP server on 127.0.0.1 in this process standing in for the leader
 * (libmicrohttpd, as vimaged's API): an upload arrives whole and
 * byte-identical in bounded memory, also chunked; the data calls block
 * while the leader takes nothing; the leader's refusals come back as its
 * API's codes with its own message, at begin when it refuses the headers;
 * an unreachable leader is VIM_EUNAVAILABLE; an abandoned upload aborts the
 * leader's request; registry notifications arrive with their token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/vimaged/vimaged.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#define MiB (1024 * 1024)
#define TOKEN "5f0e3b8a9c1d2e4f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7"

/* ---- the stand-in leader ------------------------------------------------------- */

struct leader {
	struct MHD_Daemon *d;
	char url[64];
	/* how it answers (set before a request) */
	unsigned int early_status; /* != 0: refuses the headers with it */
	unsigned int late_status;  /* != 0: refuses once the body is in */
	const char *answer;        /* the refusal's body */
	int stall_ms;              /* sleeps this long in the first piece of body */
	/* what it saw of the last request, under mu */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool completed;
	enum MHD_RequestTerminationCode toe;
	uint64_t bytes;
	char sha[65], method[8], path[160], auth[160], length[32], chunked[32];
	char body[4096];
	size_t body_len;
};

static struct leader L;

struct lreq {
	EVP_MD_CTX *md;
	uint64_t bytes;
	bool stalled, answered;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int status, const char *body)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ok;

	MHD_add_response_header(r, "Content-Type", "application/json");
	ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ok;
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	snprintf(out, cap, "%s", v ? v : "");
}

static void hex(const unsigned char *md, char out[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static enum MHD_Result on_req(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *data,
                              size_t *size, void **con_cls)
{
	struct lreq *r = *con_cls;
	unsigned char md[32];
	(void)cls;
	(void)version;

	if (!r) {
		r = calloc(1, sizeof(*r));
		r->md = EVP_MD_CTX_new();
		EVP_DigestInit_ex(r->md, EVP_sha256(), NULL);
		*con_cls = r;
		pthread_mutex_lock(&L.mu);
		L.completed = false;
		L.body_len = 0;
		L.sha[0] = '\0';
		snprintf(L.method, sizeof(L.method), "%s", method);
		snprintf(L.path, sizeof(L.path), "%s", url);
		copy_header(c, "Authorization", L.auth, sizeof(L.auth));
		copy_header(c, "Content-Length", L.length, sizeof(L.length));
		copy_header(c, "Transfer-Encoding", L.chunked, sizeof(L.chunked));
		pthread_mutex_unlock(&L.mu);
		if (L.early_status) {
			r->answered = true;
			return reply(c, L.early_status, L.answer);
		}
		return MHD_YES;
	}
	if (*size) {
		if (L.stall_ms && !r->stalled) {
			r->stalled = true;
			usleep((useconds_t)L.stall_ms * 1000);
		}
		EVP_DigestUpdate(r->md, data, *size);
		pthread_mutex_lock(&L.mu);
		if (L.body_len + *size < sizeof(L.body)) {
			memcpy(L.body + L.body_len, data, *size);
			L.body_len += *size;
		}
		pthread_mutex_unlock(&L.mu);
		r->bytes += *size;
		*size = 0;
		return MHD_YES;
	}
	if (r->answered)
		return MHD_YES;
	r->answered = true;
	EVP_DigestFinal_ex(r->md, md, NULL);
	pthread_mutex_lock(&L.mu);
	hex(md, L.sha);
	pthread_mutex_unlock(&L.mu);
	if (L.late_status)
		return reply(c, L.late_status, L.answer);
	return reply(c, 201, "{\"status\":\"ok\"}");
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct lreq *r = *con_cls;
	(void)cls;
	(void)c;

	if (!r)
		return;
	pthread_mutex_lock(&L.mu);
	L.completed = true;
	L.toe = toe;
	L.bytes = r->bytes;
	pthread_cond_broadcast(&L.cv);
	pthread_mutex_unlock(&L.mu);
	EVP_MD_CTX_free(r->md);
	free(r);
	*con_cls = NULL;
}

static int leader_start(void **state)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
	const union MHD_DaemonInfo *info;
	(void)state;

	memset(&L, 0, sizeof(L));
	pthread_mutex_init(&L.mu, NULL);
	pthread_cond_init(&L.cv, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	L.d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	                           MHD_USE_POLL,
	                       0, NULL, NULL, on_req, NULL, MHD_OPTION_SOCK_ADDR, &a,
	                       MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!L.d)
		return -1;
	info = MHD_get_daemon_info(L.d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(L.url, sizeof(L.url), "http://127.0.0.1:%u", (unsigned)info->port);
	return 0;
}

static int leader_stop(void **state)
{
	(void)state;
	MHD_stop_daemon(L.d);
	pthread_mutex_destroy(&L.mu);
	pthread_cond_destroy(&L.cv);
	return 0;
}

/* Waits (at most 10 s) for the leader to be done with its request. */
static void leader_wait(void)
{
	int64_t until = vim_mono_ms() + 10000;

	pthread_mutex_lock(&L.mu);
	while (!L.completed && vim_mono_ms() < until) {
		pthread_mutex_unlock(&L.mu);
		usleep(10000);
		pthread_mutex_lock(&L.mu);
	}
	pthread_mutex_unlock(&L.mu);
	assert_true(L.completed);
}

/* ---- the client's side ----------------------------------------------------------- */

/* The body's byte at offset i: every position differs from its
 * neighbours, so a lost, doubled or reordered piece changes the sum. */
static void fill(unsigned char *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t x = (off + i) * 0x9E3779B97F4A7C15ull;
		buf[i] = (unsigned char)(x >> 56);
	}
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

struct feed {
	struct fwd_upload *u;
	uint64_t total, stop_at; /* stop_at < total: feed that much only */
	char sha[65];
	long rss_peak;
	atomic_ullong fed;
	int rc;
	struct vim_err err;
};

/* Feeds the body in pieces of changing size (so the ring wraps at every
 * offset), summing it as it goes. */
static void *feed(void *arg)
{
	struct feed *f = arg;
	static unsigned char buf[70000];
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char sum[32];
	uint64_t off = 0, next_probe = 0;
	size_t n;
	long r;

	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	f->rc = 0;
	while (off < f->stop_at) {
		n = 1 + (size_t)((off * 7919) % 65536);
		if (n > f->stop_at - off)
			n = (size_t)(f->stop_at - off);
		fill(buf, off, n);
		EVP_DigestUpdate(md, buf, n);
		if ((f->rc = fwd_upload_data(f->u, buf, n, &f->err)) < 0)
			break;
		off += n;
		atomic_store(&f->fed, off);
		if (off >= next_probe) {
			if ((r = rss_kib()) > f->rss_peak)
				f->rss_peak = r;
			next_probe = off + MiB;
		}
	}
	EVP_DigestFinal_ex(md, sum, NULL);
	EVP_MD_CTX_free(md);
	hex(sum, f->sha);
	return NULL;
}

/* ---- uploads ------------------------------------------------------------------------ */

static void test_a_64_mib_upload_arrives_byte_identical_in_bounded_memory(void **state)
{
	struct feed f = {.total = 64 * MiB, .stop_at = 64 * MiB};
	struct vim_err err = {0};
	long before;
	(void)state;

	before = rss_kib();
	f.rss_peak = before;
	assert_int_equal(fwd_upload_begin(&f.u, L.url, TOKEN, (int64_t)f.total, NULL, &err), 0);
	feed(&f);
	assert_int_equal(f.rc, 0);
	assert_int_equal(fwd_upload_end(f.u, true, &err), 0);
	leader_wait();
	assert_string_equal(L.method, "PUT");
	assert_string_equal(L.path, "/upload/" TOKEN);
	assert_string_equal(L.length, "67108864");
	assert_int_equal(L.toe, MHD_REQUEST_TERMINATED_COMPLETED_OK);
	assert_int_equal(L.bytes, f.total);
	assert_string_equal(L.sha, f.sha);
	/* the client's pieces, the ring and the leader's own buffers: never
	 * the body (64 MiB) */
	if (f.rss_peak - before >= 16 * 1024)
		fail_msg("RSS grew by %ld KiB", f.rss_peak - before);
}

static void test_an_upload_of_unknown_length_goes_chunked_to_the_same_path(void **state)
{
	struct feed f = {.total = 3 * MiB + 7, .stop_at = 3 * MiB + 7};
	struct vim_err err = {0};
	char url[80];
	(void)state;

	/* (a leader's URL written with a slash at its end is the same URL) */
	snprintf(url, sizeof(url), "%s/", L.url);
	assert_int_equal(fwd_upload_begin(&f.u, url, TOKEN, -1, NULL, &err), 0);
	feed(&f);
	assert_int_equal(f.rc, 0);
	assert_int_equal(fwd_upload_end(f.u, true, &err), 0);
	leader_wait();
	assert_string_equal(L.path, "/upload/" TOKEN);
	assert_string_equal(L.chunked, "chunked");
	assert_string_equal(L.length, "");
	assert_int_equal(L.bytes, f.total);
	assert_string_equal(L.sha, f.sha);
}

/* While the leader takes nothing, the data calls block: what they accepted
 * is bounded by the buffers between, not the body. */
static void test_a_stalled_leader_holds_back_the_data_calls(void **state)
{
	struct feed f = {.total = 64 * MiB, .stop_at = 64 * MiB};
	struct vim_err err = {0};
	pthread_t th;
	uint64_t fed;
	(void)state;

	L.stall_ms = 1500;
	assert_int_equal(fwd_upload_begin(&f.u, L.url, TOKEN, (int64_t)f.total, NULL, &err), 0);
	assert_int_equal(pthread_create(&th, NULL, feed, &f), 0);
	usleep(800 * 1000);
	fed = atomic_load(&f.fed);
	if (fed >= 16 * MiB)
		fail_msg("%llu bytes accepted while the leader took nothing",
		         (unsigned long long)fed);
	pthread_join(th, NULL);
	assert_int_equal(f.rc, 0);
	assert_int_equal(fwd_upload_end(f.u, true, &err), 0);
	leader_wait();
	assert_int_equal(L.bytes, f.total);
	assert_string_equal(L.sha, f.sha);
}

/* The leader's refusal of the headers comes back from begin, as its code
 * and its message (the user's body is never sent). */
static void test_the_leaders_refusal_at_begin_is_its_code_and_message(void **state)
{
	static const struct {
		unsigned int status;
		const char *answer;
		int code;
		const char *msg;
	} rows[] = {
	    {404,
	     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
	     "\"message\":\"no image waits for an upload at this URL\",\"reason\":\"NotFound\","
	     "\"code\":404}",
	     VIM_ENOTFOUND, "no image waits for an upload at this URL"},
	    {409, "{\"message\":\"an upload to this image is already running\"}", VIM_EEXIST,
	     "an upload to this image is already running"},
	    {411, "{\"message\":\"the upload must say its size\"}", VIM_EINVAL,
	     "the upload must say its size"},
	    {400, "{\"error\":\"bad token\"}", VIM_EINVAL, "bad token"},
	    {422, "{\"message\":\"invalid\"}", VIM_EINVAL, "invalid"},
	    {413, "{\"message\":\"too large\"}", VIM_ETOOLARGE, "too large"},
	    {503, "{\"message\":\"the store is unavailable\"}", VIM_EUNAVAILABLE,
	     "the store is unavailable"},
	    {500, "{\"message\":\"boom\"}", VIM_EUPSTREAM, "boom"},
	    {502, "bad gateway\nmore", VIM_EUPSTREAM, "the leader answered 502: bad gateway"},
	};
	struct fwd_upload *u;
	struct vim_err err;
	(void)state;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		L.early_status = rows[i].status;
		L.answer = rows[i].answer;
		memset(&err, 0, sizeof(err));
		u = (struct fwd_upload *)&err; /* must be reset */
		assert_int_equal(fwd_upload_begin(&u, L.url, TOKEN, 10 * MiB, NULL, &err),
		                 rows[i].code);
		assert_null(u);
		assert_string_equal(err.msg, rows[i].msg);
		leader_wait();
		assert_int_equal(L.bytes, 0);
	}
}

/* Refused once the body is in (the image went away meanwhile): end says so. */
static void test_the_leaders_refusal_after_the_body_comes_from_end(void **state)
{
	struct feed f = {.total = 2 * MiB, .stop_at = 2 * MiB};
	struct vim_err err = {0};
	(void)state;

	L.late_status = 400;
	L.answer = "{\"kind\":\"Status\",\"message\":\"the image was deleted or changed\","
	           "\"code\":400}";
	assert_int_equal(fwd_upload_begin(&f.u, L.url, TOKEN, (int64_t)f.total, NULL, &err), 0);
	feed(&f);
	assert_int_equal(f.rc, 0);
	assert_int_equal(fwd_upload_end(f.u, true, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "the image was deleted or changed");
}

static void closed_port_url(char *url, size_t cap)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
	close(s); /* bound, never listening, now closed: nothing answers there */
	snprintf(url, cap, "http://127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
}

static void test_an_unreachable_leader_is_unavailable(void **state)
{
	struct fwd_upload *u = NULL;
	struct vim_err err = {0};
	char url[64], want[128];
	(void)state;

	closed_port_url(url, sizeof(url));
	assert_int_equal(fwd_upload_begin(&u, url, TOKEN, MiB, NULL, &err), VIM_EUNAVAILABLE);
	assert_null(u);
	snprintf(want, sizeof(want), "the leader %s cannot be reached: ", url);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("\"%s\"", err.msg);
	assert_null(strstr(err.msg, TOKEN));
}

/* The client went away: the leader's request ends short, at once. */
static void test_an_abandoned_upload_aborts_the_leaders_request(void **state)
{
	struct feed f = {.total = 64 * MiB, .stop_at = 4 * MiB};
	struct vim_err err = {0};
	int64_t t0;
	(void)state;

	assert_int_equal(fwd_upload_begin(&f.u, L.url, TOKEN, (int64_t)f.total, NULL, &err), 0);
	feed(&f);
	assert_int_equal(f.rc, 0);
	t0 = vim_mono_ms();
	assert_int_equal(fwd_upload_end(f.u, false, NULL), 0);
	assert_true(vim_mono_ms() - t0 < 3000);
	leader_wait();
	assert_int_not_equal(L.toe, MHD_REQUEST_TERMINATED_COMPLETED_OK);
	assert_true(L.bytes <= 4 * MiB);
	assert_true(L.bytes > 0);
}

/* ---- registry notifications -------------------------------------------------------- */

static void test_events_reach_the_leader_with_their_token(void **state)
{
	static const char body[] = "{\"events\":[{\"action\":\"delete\",\"target\":"
	                           "{\"repository\":\"vi/default/a\"}}]}";
	struct vim_err err = {0};
	char url[64], want[128];
	(void)state;

	assert_int_equal(fwd_events(L.url, "notify-0123", NULL, body, strlen(body), &err), 0);
	leader_wait();
	assert_string_equal(L.method, "POST");
	assert_string_equal(L.path, "/dvcr/events");
	assert_string_equal(L.auth, "Bearer notify-0123");
	assert_int_equal(L.body_len, strlen(body));
	assert_memory_equal(L.body, body, strlen(body));

	/* the leader's refusal, as its API words it */
	L.late_status = 400;
	L.answer = "{\"kind\":\"Status\",\"message\":\"vimaged is not watching a DVCR (yet)\"}";
	assert_int_equal(fwd_events(L.url, "notify-0123", NULL, body, strlen(body), &err),
	                 VIM_EINVAL);
	assert_string_equal(err.msg, "vimaged is not watching a DVCR (yet)");

	/* this replica's token, refused: not the registry's fault */
	L.late_status = 401;
	L.answer = "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}";
	assert_int_equal(fwd_events(L.url, "stale", NULL, body, strlen(body), &err), VIM_EUPSTREAM);
	snprintf(want, sizeof(want), "the leader %s refused this replica's token", L.url);
	assert_string_equal(err.msg, want);
	closed_port_url(url, sizeof(url));
	assert_int_equal(fwd_events(url, "notify-0123", NULL, body, strlen(body), &err),
	                 VIM_EUNAVAILABLE);
	assert_non_null(strstr(err.msg, "cannot be reached"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_a_64_mib_upload_arrives_byte_identical_in_bounded_memory, leader_start,
	        leader_stop),
	    cmocka_unit_test_setup_teardown(
	        test_an_upload_of_unknown_length_goes_chunked_to_the_same_path, leader_start,
	        leader_stop),
	    cmocka_unit_test_setup_teardown(test_a_stalled_leader_holds_back_the_data_calls,
	                                    leader_start, leader_stop),
	    cmocka_unit_test_setup_teardown(
	        test_the_leaders_refusal_at_begin_is_its_code_and_message, leader_start,
	        leader_stop),
	    cmocka_unit_test_setup_teardown(test_the_leaders_refusal_after_the_body_comes_from_end,
	                                    leader_start, leader_stop),
	    cmocka_unit_test(test_an_unreachable_leader_is_unavailable),
	    cmocka_unit_test_setup_teardown(test_an_abandoned_upload_aborts_the_leaders_request,
	                                    leader_start, leader_stop),
	    cmocka_unit_test_setup_teardown(test_events_reach_the_leader_with_their_token,
	                                    leader_start, leader_stop),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
