/* dvcr client against a real docker-registry (started by dvcr_client.sh).
 * Env: DVCR_URL, DVCR_STORAGE (its filesystem root), DVCR_AUTH_URL,
 * DVCR_USER, DVCR_PASS.  argv[1]: "main" (default) or "stopped" (the
 * registry at DVCR_URL has been killed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "dvcr/dvcr.h"

#define REPO "vi/default/ubuntu"
#define TAG "uid-1"

static struct dvcr_client *cli;
static char layer[3000], cfgjson[512], manifest[2048], oci[2048];
static char layer_digest[DVCR_DIGEST_MAX], cfg_digest[DVCR_DIGEST_MAX];
static char man_digest[DVCR_DIGEST_MAX];

static void sha256(const void *p, size_t n, char *out)
{
	unsigned char md[32];
	unsigned int len = 0;
	int i;

	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
}

static const char *env(const char *k)
{
	const char *v = getenv(k);
	return v ? v : "";
}

static struct dvcr_client *mk(const char *url, const char *user, const char *pass, long tmo)
{
	struct dvcr_client *c = NULL;
	struct vim_err e;
	struct dvcr_config cfg = {.base_url = url, .username = user, .password = pass};

	cfg.timeout_ms = tmo;
	cfg.connect_timeout_ms = tmo;
	cfg.stall_secs = 2;
	assert_int_equal(dvcr_client_new(&c, &cfg, &e), 0);
	return c;
}

static struct dvcr_client *mk_head_trusted(void)
{
	struct dvcr_client *c = NULL;
	struct vim_err e;
	struct dvcr_config cfg = {.base_url = env("DVCR_URL"), .head_trusted = 1};

	assert_int_equal(dvcr_client_new(&c, &cfg, &e), 0);
	return c;
}

/* Requests the client has sent with this method, any status. */
static uint64_t sent(struct dvcr_client *c, const char *method)
{
	struct dvcr_stats st;
	uint64_t n = 0;
	int m, k;

	dvcr_client_stats(c, &st);
	for (m = 0; m < DVCR_STAT_METHODS; m++)
		if (strcmp(dvcr_stats_method(m), method) == 0)
			for (k = 0; k < 6; k++)
				n += st.requests[m][k];
	return n;
}

static int setup(void **state)
{
	(void)state;
	cli = mk(env("DVCR_URL"), NULL, NULL, 5000);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	dvcr_client_free(cli);
	cli = NULL;
	return 0;
}

static void test_ping(void **state)
{
	struct vim_err e;
	(void)state;
	assert_int_equal(dvcr_ping(cli, &e), 0);
}

struct src {
	const char *p;
	size_t n, pos;
};

static long rd(void *ud, void *buf, size_t cap)
{
	struct src *s = ud;
	size_t k = s->n - s->pos;
	if (k > cap)
		k = cap;
	if (k > 100) /* small pieces: exercise the streaming path */
		k = 100;
	memcpy(buf, s->p + s->pos, k);
	s->pos += k;
	return (long)k;
}

static void push_chunked(const char *repo, const char *data, size_t n, const char *digest)
{
	struct dvcr_upload *up = NULL;
	struct vim_err e;

	assert_int_equal(dvcr_upload_begin(cli, repo, &up, &e), 0);
	assert_int_equal(dvcr_upload_write(up, data, 1000, &e), 0);
	assert_int_equal(dvcr_upload_write(up, data + 1000, n - 1000, &e), 0);
	assert_int_equal(dvcr_upload_offset(up), (int64_t)n);
	assert_int_equal(dvcr_upload_finish(up, digest, &e), 0);
}

static void push_stream(const char *repo, const char *data, size_t n, const char *digest,
                        int64_t len)
{
	struct dvcr_upload *up = NULL;
	struct vim_err e;
	struct src s = {data, n, 0};

	assert_int_equal(dvcr_upload_begin(cli, repo, &up, &e), 0);
	if (dvcr_upload_finish_stream(up, digest, rd, &s, len, &e) != 0)
		fail_msg("%s", e.msg);
}

static void test_blob_push_head_range(void **state)
{
	struct vim_err e;
	int64_t size = 0;
	char buf[64];
	size_t got = 0, i;
	(void)state;

	for (i = 0; i < sizeof(layer); i++)
		layer[i] = (char)('a' + i % 26);
	sha256(layer, sizeof(layer), layer_digest);
	push_chunked(REPO, layer, sizeof(layer), layer_digest);
	snprintf(cfgjson, sizeof(cfgjson),
	         "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
	         "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
	         layer_digest);
	sha256(cfgjson, strlen(cfgjson), cfg_digest);
	push_stream(REPO, cfgjson, strlen(cfgjson), cfg_digest, (int64_t)strlen(cfgjson));

	assert_int_equal(dvcr_blob_head(cli, REPO, layer_digest, &size, &e), 0);
	assert_int_equal(size, sizeof(layer));
	assert_int_equal(dvcr_blob_head(cli, REPO, cfg_digest, &size, &e), 0);
	assert_int_equal(size, strlen(cfgjson));
	assert_int_equal(dvcr_blob_get_range(cli, REPO, layer_digest, 27, buf, 10, &got, &e), 0);
	assert_int_equal(got, 10);
	assert_memory_equal(buf, layer + 27, 10);
}

static void test_blob_stream_chunked_put(void **state)
{
	struct vim_err e;
	char data[777], d[DVCR_DIGEST_MAX];
	int64_t size = 0;
	(void)state;

	memset(data, 'z', sizeof(data));
	sha256(data, sizeof(data), d);
	push_stream(REPO, data, sizeof(data), d, -1); /* no length: chunked encoding */
	assert_int_equal(dvcr_blob_head(cli, REPO, d, &size, &e), 0);
	assert_int_equal(size, sizeof(data));
}

struct sink {
	char buf[4096];
	size_t n;
};

static int wr(void *ud, const void *p, size_t n)
{
	struct sink *s = ud;
	if (n > sizeof(s->buf) - s->n)
		return -1;
	memcpy(s->buf + s->n, p, n);
	s->n += n;
	return 0;
}

static void test_blob_get_stream_offset(void **state)
{
	struct vim_err e;
	struct sink s = {.n = 0};
	(void)state;

	assert_int_equal(dvcr_blob_get_stream(cli, REPO, layer_digest, 100, wr, &s, &e), 0);
	assert_int_equal(s.n, sizeof(layer) - 100);
	assert_memory_equal(s.buf, layer + 100, s.n);
}

static void test_manifest_put_head_get(void **state)
{
	struct vim_err e;
	struct dvcr_manifest_info mi;
	char d[DVCR_DIGEST_MAX], body[4096];
	size_t n = 0;
	(void)state;

	snprintf(
	    manifest, sizeof(manifest),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
	    "\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,\"digest\":\"%s\"},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar\","
	    "\"size\":%zu,\"digest\":\"%s\"}]}",
	    DVCR_MT_DOCKER_V2, strlen(cfgjson), cfg_digest, sizeof(layer), layer_digest);
	sha256(manifest, strlen(manifest), man_digest);
	assert_int_equal(
	    dvcr_manifest_put(cli, REPO, TAG, DVCR_MT_DOCKER_V2, manifest, strlen(manifest), d, &e),
	    0);
	assert_string_equal(d, man_digest);
	assert_int_equal(dvcr_manifest_head(cli, REPO, TAG, &mi, &e), 0);
	assert_string_equal(mi.digest, man_digest);
	assert_string_equal(mi.media_type, DVCR_MT_DOCKER_V2);
	assert_int_equal(mi.size, strlen(manifest));
	assert_int_equal(dvcr_manifest_get(cli, REPO, TAG, body, sizeof(body), &n, &mi, &e), 0);
	assert_int_equal(n, strlen(manifest));
	assert_memory_equal(body, manifest, n);
	/* a caller bound below the manifest size is refused, not overrun */
	assert_int_equal(dvcr_manifest_get(cli, REPO, TAG, body, 10, &n, &mi, &e), VIM_ETOOLARGE);
}

static void test_oci_manifest_head(void **state)
{
	struct vim_err e;
	struct dvcr_manifest_info mi;
	char d[DVCR_DIGEST_MAX], want[DVCR_DIGEST_MAX];
	(void)state;

	snprintf(oci, sizeof(oci),
	         "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
	         "\"application/vnd.oci.image.config.v1+json\",\"size\":%zu,\"digest\":\"%s\"},"
	         "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
	         "\"size\":%zu,\"digest\":\"%s\"}]}",
	         DVCR_MT_OCI_MANIFEST, strlen(cfgjson), cfg_digest, sizeof(layer), layer_digest);
	sha256(oci, strlen(oci), want);
	assert_int_equal(
	    dvcr_manifest_put(cli, REPO, "oci", DVCR_MT_OCI_MANIFEST, oci, strlen(oci), d, &e), 0);
	assert_int_equal(dvcr_manifest_head(cli, REPO, "oci", &mi, &e), 0);
	assert_string_equal(mi.digest, want);
	assert_string_equal(mi.media_type, DVCR_MT_OCI_MANIFEST);
}

static void test_manifest_unknown_message(void **state)
{
	struct vim_err e;
	char body[256];
	size_t n;
	(void)state;

	assert_int_equal(dvcr_manifest_get(cli, REPO, "nope", body, sizeof(body), &n, NULL, &e),
	                 VIM_ENOTFOUND);
	assert_non_null(strstr(e.msg, "GET " REPO " manifests/nope: 404 MANIFEST_UNKNOWN"));
	assert_int_equal(dvcr_manifest_head(cli, "vi/x/never", "t", NULL, &e), VIM_ENOTFOUND);
	assert_non_null(strstr(e.msg, "HEAD vi/x/never manifests/t: 404"));
}

static void test_mount(void **state)
{
	struct vim_err e;
	int mounted = -1;
	int64_t size = 0;
	struct dvcr_upload *up = (struct dvcr_upload *)1;
	char absent[DVCR_DIGEST_MAX];
	(void)state;

	assert_int_equal(dvcr_blob_head(cli, "vi/other/copy", layer_digest, NULL, &e),
	                 VIM_ENOTFOUND);
	assert_int_equal(
	    dvcr_blob_mount(cli, "vi/other/copy", layer_digest, REPO, &mounted, NULL, &e), 0);
	assert_int_equal(mounted, 1);
	assert_int_equal(dvcr_blob_head(cli, "vi/other/copy", layer_digest, &size, &e), 0);
	assert_int_equal(size, sizeof(layer));
	/* an unknown source blob: 202, an upload session we get to cancel */
	sha256("absent", 6, absent);
	assert_int_equal(dvcr_blob_mount(cli, "vi/other/copy", absent, REPO, &mounted, &up, &e), 0);
	assert_int_equal(mounted, 0);
	assert_non_null(up);
	assert_int_equal(dvcr_upload_cancel(up, &e), 0);
}

static int collect(void *ud, const char *name)
{
	char *acc = ud;
	size_t n = strlen(acc);
	snprintf(acc + n, 1024 - n, "%s,", name);
	return 0;
}

static void test_catalog_and_tags(void **state)
{
	struct vim_err e;
	char acc[1024] = "";
	(void)state;

	assert_int_equal(dvcr_tags_list(cli, REPO, collect, acc, &e), 0);
	assert_string_equal(acc, "oci," TAG ",");
	acc[0] = '\0';
	assert_int_equal(dvcr_catalog(cli, collect, acc, &e), 0);
	assert_non_null(strstr(acc, REPO ","));
	assert_non_null(strstr(acc, "vi/other/copy,"));
}

static void test_storage_moved_away_and_back(void **state)
{
	struct vim_err e;
	char away[1024];
	const char *st = env("DVCR_STORAGE");
	(void)state;

	snprintf(away, sizeof(away), "%s.away", st);
	assert_int_equal(dvcr_image_check(cli, REPO, TAG, &e), 1);
	assert_int_equal(rename(st, away), 0);
	assert_int_equal(dvcr_manifest_head(cli, REPO, TAG, NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_blob_head(cli, REPO, layer_digest, NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_image_check(cli, REPO, TAG, &e), 0);
	assert_non_null(strstr(e.msg, REPO));
	assert_int_equal(rename(away, st), 0);
	assert_int_equal(dvcr_manifest_head(cli, REPO, TAG, NULL, &e), 0);
	assert_int_equal(dvcr_blob_head(cli, REPO, layer_digest, NULL, &e), 0);
	assert_int_equal(dvcr_image_check_url(cli, "127.0.0.1:5000/" REPO ":" TAG, &e), 1);
}

static void test_blob_data_lost_out_of_band(void **state)
{
	struct vim_err e;
	char data[1500], d[DVCR_DIGEST_MAX], path[1024], m[2048], buf[16];
	size_t got;
	(void)state;

	memset(data, 'L', sizeof(data));
	sha256(data, sizeof(data), d);
	push_chunked("vi/default/lost", data, sizeof(data), d);
	snprintf(
	    m, sizeof(m),
	    "{\"schemaVersion\":2,\"mediaType\":\"%s\",\"config\":{\"mediaType\":"
	    "\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,\"digest\":\"%s\"},"
	    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar\","
	    "\"size\":%zu,\"digest\":\"%s\"}]}",
	    DVCR_MT_DOCKER_V2, strlen(cfgjson), cfg_digest, sizeof(data), d);
	assert_int_equal(
	    dvcr_blob_mount(cli, "vi/default/lost", cfg_digest, REPO, &(int){0}, NULL, &e), 0);
	assert_int_equal(dvcr_manifest_put(cli, "vi/default/lost", "t1", DVCR_MT_DOCKER_V2, m,
	                                   strlen(m), NULL, &e),
	                 0);
	snprintf(path, sizeof(path), "%s/docker/registry/v2/blobs/sha256/%.2s/%s/data",
	         env("DVCR_STORAGE"), d + 7, d + 7);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(dvcr_manifest_head(cli, "vi/default/lost", "t1", NULL, &e), 0);
	assert_int_equal(dvcr_blob_head(cli, "vi/default/lost", d, NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(
	    dvcr_blob_get_range(cli, "vi/default/lost", d, 0, buf, sizeof(buf), &got, &e),
	    VIM_ENOTFOUND);
	/* The manifest answers, the layer does not: the image is absent. */
	assert_int_equal(dvcr_image_check(cli, "vi/default/lost", "t1", &e), 0);
	assert_non_null(strstr(e.msg, d + 7));
	/* and so says a blob HEAD of this registry, which keeps no cache */
	struct dvcr_client *h = mk_head_trusted();
	assert_int_equal(dvcr_image_check(h, "vi/default/lost", "t1", &e), 0);
	assert_non_null(strstr(e.msg, d + 7));
	dvcr_client_free(h);
}

/* Blobs are proven by a 1-byte GET unless the registry's HEAD is trusted:
 * then the manifest is the only GET of a check. */
static void test_trusted_head_checks_blobs_without_get(void **state)
{
	struct dvcr_client *h = mk_head_trusted();
	uint64_t get0 = sent(cli, "GET"), head0 = sent(cli, "HEAD");
	struct vim_err e;
	(void)state;

	assert_int_equal(dvcr_image_check(cli, REPO, TAG, &e), 1);
	assert_true(sent(cli, "GET") - get0 >= 3); /* manifest, config, layer */
	assert_int_equal(sent(cli, "HEAD") - head0, 0);
	assert_int_equal(dvcr_image_check(h, REPO, TAG, &e), 1);
	assert_int_equal(sent(h, "GET"), 1);
	assert_true(sent(h, "HEAD") >= 2);
	dvcr_client_free(h);
}

static void test_manifest_delete(void **state)
{
	struct vim_err e;
	struct dvcr_manifest_info mi;
	(void)state;

	assert_int_equal(dvcr_manifest_delete(cli, REPO, "oci", &e), VIM_EINVAL);
	assert_int_equal(dvcr_manifest_head(cli, REPO, "oci", &mi, &e), 0);
	assert_int_equal(dvcr_manifest_delete(cli, REPO, mi.digest, &e), 0);
	assert_int_equal(dvcr_manifest_head(cli, REPO, "oci", &mi, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_manifest_head(cli, REPO, TAG, &mi, &e), 0); /* the other stays */
}

static void *head_loop(void *ud)
{
	long i, bad = 0;
	struct vim_err e;
	(void)ud;
	for (i = 0; i < 25; i++)
		if (dvcr_manifest_head(cli, REPO, TAG, NULL, &e) != 0)
			bad++;
	return (void *)bad;
}

static void test_threads_share_client(void **state)
{
	pthread_t t[4];
	void *bad;
	int i;
	(void)state;

	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, head_loop, NULL), 0);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], &bad);
		assert_int_equal((long)bad, 0);
	}
}

static void test_basic_auth(void **state)
{
	struct vim_err e;
	struct dvcr_client *ok = mk(env("DVCR_AUTH_URL"), env("DVCR_USER"), env("DVCR_PASS"), 5000);
	struct dvcr_client *bad = mk(env("DVCR_AUTH_URL"), env("DVCR_USER"), "wrong", 5000);
	struct dvcr_client *none = mk(env("DVCR_AUTH_URL"), NULL, NULL, 5000);
	struct dvcr_client *saved = cli;
	(void)state;

	assert_int_equal(dvcr_ping(ok, &e), 0);
	cli = ok;
	push_chunked("vi/default/auth", layer, sizeof(layer), layer_digest);
	cli = saved;
	assert_int_equal(dvcr_blob_head(ok, "vi/default/auth", layer_digest, NULL, &e), 0);
	assert_int_equal(dvcr_ping(bad, &e), VIM_EAUTH);
	assert_int_equal(dvcr_manifest_head(bad, "vi/default/auth", "x", NULL, &e), VIM_EAUTH);
	assert_non_null(strstr(e.msg, "HEAD vi/default/auth manifests/x: 401"));
	assert_null(strstr(e.msg, "wrong"));
	assert_int_equal(dvcr_blob_head(none, "vi/default/auth", layer_digest, NULL, &e),
	                 VIM_EAUTH);
	dvcr_client_free(ok);
	dvcr_client_free(bad);
	dvcr_client_free(none);
}

/* The fake token registry of dvcr_client.sh: challenge → token → retry. */
static void test_bearer_token_flow(void **state)
{
	struct vim_err e;
	struct dvcr_client *ok =
	    mk(env("DVCR_BEARER_URL"), env("DVCR_USER"), env("DVCR_PASS"), 5000);
	struct dvcr_client *bad = mk(env("DVCR_BEARER_URL"), env("DVCR_USER"), "wrong", 5000);
	(void)state;

	/* ping: no scope of our own, so the challenge's scope is used */
	assert_int_equal(dvcr_ping(ok, &e), 0);
	assert_int_equal(dvcr_manifest_head(ok, "vi/a/b", "x", NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_manifest_head(ok, "vi/a/b", "x", NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_ping(ok, &e), 0);
	assert_int_equal(dvcr_manifest_head(ok, "vi/five/x", "x", NULL, &e), VIM_EUPSTREAM);
	assert_non_null(strstr(e.msg, "HEAD vi/five/x manifests/x: 503"));
	/* 10 bytes then silence: the stall bound (2 s here) ends the stream */
	{
		struct sink s = {.n = 0};
		assert_int_equal(
		    dvcr_blob_get_stream(ok, "vi/stall/x", layer_digest, 0, wr, &s, &e),
		    VIM_ETIMEDOUT);
		assert_int_equal(s.n, 10);
	}
	assert_int_equal(dvcr_ping(bad, &e), VIM_EAUTH);
	assert_null(strstr(e.msg, "wrong"));
	assert_int_equal(dvcr_manifest_head(bad, "vi/a/b", "x", NULL, &e), VIM_EAUTH);
	assert_non_null(strstr(e.msg, "HEAD vi/a/b manifests/x: 401 UNAUTHORIZED"));
	dvcr_client_free(ok);
	dvcr_client_free(bad);
}

/* https with the CA bundle verifies; without it TLS fails as "could not
 * tell" (EUPSTREAM), never as absent. */
static void test_tls_ca_file(void **state)
{
	struct vim_err e;
	struct dvcr_client *c = NULL, *plain = mk(env("DVCR_TLS_URL"), NULL, NULL, 5000);
	struct dvcr_config cfg = {.base_url = env("DVCR_TLS_URL"), .ca_file = env("DVCR_TLS_CA")};
	(void)state;

	assert_int_equal(dvcr_client_new(&c, &cfg, &e), 0);
	assert_int_equal(dvcr_ping(c, &e), 0);
	assert_int_equal(dvcr_manifest_head(c, REPO, TAG, NULL, &e), VIM_ENOTFOUND);
	assert_int_equal(dvcr_manifest_head(plain, REPO, TAG, NULL, &e), VIM_EUPSTREAM);
	dvcr_client_free(c);
	dvcr_client_free(plain);
}

/* A listener that never answers: the overall bound turns it into ETIMEDOUT. */
static void test_stalled_server_times_out(void **state)
{
	struct vim_err e;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[64];
	struct dvcr_client *c;
	(void)state;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	c = mk(url, NULL, NULL, 700);
	assert_int_equal(dvcr_manifest_head(c, REPO, TAG, NULL, &e), VIM_ETIMEDOUT);
	dvcr_client_free(c);
	close(fd);
}

static void test_stopped_registry_is_upstream_not_absent(void **state)
{
	struct vim_err e;
	char buf[8];
	size_t got;
	(void)state;

	assert_int_equal(dvcr_ping(cli, &e), VIM_EUPSTREAM);
	assert_int_equal(dvcr_manifest_head(cli, REPO, TAG, NULL, &e), VIM_EUPSTREAM);
	assert_non_null(strstr(e.msg, "HEAD " REPO " manifests/" TAG ": "));
	assert_int_equal(dvcr_blob_head(cli, REPO, "sha256:00", NULL, &e), VIM_EUPSTREAM);
	assert_int_equal(dvcr_blob_get_range(cli, REPO, "sha256:00", 0, buf, 8, &got, &e),
	                 VIM_EUPSTREAM);
	/* A registry that cannot answer never makes an image absent. */
	assert_int_equal(dvcr_image_check(cli, REPO, TAG, &e), VIM_EUPSTREAM);
}

int main(int argc, char **argv)
{
	int rc;
	const struct CMUnitTest live[] = {
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_blob_push_head_range),
	    cmocka_unit_test(test_blob_stream_chunked_put),
	    cmocka_unit_test(test_blob_get_stream_offset),
	    cmocka_unit_test(test_manifest_put_head_get),
	    cmocka_unit_test(test_oci_manifest_head),
	    cmocka_unit_test(test_manifest_unknown_message),
	    cmocka_unit_test(test_mount),
	    cmocka_unit_test(test_catalog_and_tags),
	    cmocka_unit_test(test_storage_moved_away_and_back),
	    cmocka_unit_test(test_trusted_head_checks_blobs_without_get),
	    cmocka_unit_test(test_blob_data_lost_out_of_band),
	    cmocka_unit_test(test_manifest_delete),
	    cmocka_unit_test(test_threads_share_client),
	    cmocka_unit_test(test_basic_auth),
	    cmocka_unit_test(test_bearer_token_flow),
	    cmocka_unit_test(test_tls_ca_file),
	    cmocka_unit_test(test_stalled_server_times_out),
	};
	const struct CMUnitTest stopped[] = {
	    cmocka_unit_test(test_stopped_registry_is_upstream_not_absent),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (argc > 1 && strcmp(argv[1], "stopped") == 0)
		rc = cmocka_run_group_tests_name("dvcr_stopped", stopped, setup, teardown);
	else
		rc = cmocka_run_group_tests_name("dvcr_live", live, setup, teardown);
	curl_global_cleanup();
	return rc;
}
