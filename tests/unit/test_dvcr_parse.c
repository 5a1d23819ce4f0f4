/* dvcr: the pure parsers — WWW-Authenticate challenges and image references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dvcr/dvcr.h"
#include "dvcr/internal.h"

#include <limits.h>

static void test_challenge_bearer_quoted_commas(void **state)
{
	struct dvcr_challenge ch;
	struct vim_err e;
	(void)state;

	assert_int_equal(
	    dvcr_challenge_parse("Bearer realm=\"https://auth.example/token\","
	                         "service=\"dvcr\",scope=\"repository:vi/a/b:pull,push\"",
	                         &ch, &e),
	    0);
	assert_int_equal(ch.scheme, DVCR_SCHEME_BEARER);
	assert_string_equal(ch.realm, "https://auth.example/token");
	assert_string_equal(ch.service, "dvcr");
	assert_string_equal(ch.scope, "repository:vi/a/b:pull,push");
}

static void test_challenge_spacing_case_escapes_unquoted(void **state)
{
	struct dvcr_challenge ch;
	struct vim_err e;
	(void)state;

	assert_int_equal(dvcr_challenge_parse("  bearer  Realm = \"http://x/t\\\"q\" , "
	                                      "service=reg ,, error=\"insufficient_scope\"",
	                                      &ch, &e),
	                 0);
	assert_string_equal(ch.realm, "http://x/t\"q");
	assert_string_equal(ch.service, "reg");
	assert_string_equal(ch.scope, "");
}

static void test_challenge_basic(void **state)
{
	struct dvcr_challenge ch;
	struct vim_err e;
	(void)state;

	assert_int_equal(dvcr_challenge_parse("Basic realm=\"dvcr\"", &ch, &e), 0);
	assert_int_equal(ch.scheme, DVCR_SCHEME_BASIC);
	assert_string_equal(ch.realm, "dvcr");
	assert_int_equal(dvcr_challenge_parse("Basic", &ch, &e), 0);
	assert_int_equal(ch.scheme, DVCR_SCHEME_BASIC);
}

static void test_challenge_malformed(void **state)
{
	struct dvcr_challenge ch;
	struct vim_err e;
	char big[5000];
	(void)state;

	assert_int_equal(dvcr_challenge_parse("Negotiate abc", &ch, &e), VIM_EUNSUPPORTED);
	assert_int_equal(dvcr_challenge_parse("Bearerx realm=a", &ch, &e), VIM_EUNSUPPORTED);
	assert_int_equal(dvcr_challenge_parse("Bearer realm=\"unterminated", &ch, &e), VIM_EINVAL);
	assert_int_equal(dvcr_challenge_parse("Bearer service=x", &ch, &e), VIM_EINVAL);
	assert_int_equal(dvcr_challenge_parse("Bearer realm", &ch, &e), VIM_EINVAL);
	assert_int_equal(dvcr_challenge_parse("Bearer realm=\"a\" junk", &ch, &e), VIM_EINVAL);
	assert_int_equal(dvcr_challenge_parse("", &ch, &e), VIM_EUNSUPPORTED);
	assert_int_equal(dvcr_challenge_parse(NULL, &ch, &e), VIM_EINVAL);
	memcpy(big, "Bearer realm=\"", 14);
	memset(big + 14, 'a', sizeof(big) - 16);
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(dvcr_challenge_parse(big, &ch, &e), VIM_ETOOLARGE);
}

static void test_ref_tag(void **state)
{
	struct dvcr_ref r;
	struct vim_err e;
	(void)state;

	assert_int_equal(dvcr_ref_parse("dvcr.d8-virtualization.svc:5000/vi/ns/name:uid-1", &r, &e),
	                 0);
	assert_string_equal(r.host, "dvcr.d8-virtualization.svc:5000");
	assert_string_equal(r.repo, "vi/ns/name");
	assert_string_equal(r.tag, "uid-1");
	assert_string_equal(r.digest, "");
	assert_int_equal(dvcr_ref_parse("127.0.0.1:5000/cvi/x:t", &r, &e), 0);
	assert_string_equal(r.host, "127.0.0.1:5000");
	assert_string_equal(r.repo, "cvi/x");
	assert_int_equal(dvcr_ref_parse("localhost/a:b", &r, &e), 0);
	assert_string_equal(r.host, "localhost");
}

static void test_ref_digest(void **state)
{
	struct dvcr_ref r;
	struct vim_err e;
	const char *d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char text[256];
	(void)state;

	snprintf(text, sizeof(text), "h.io/vi/a/b@%s", d);
	assert_int_equal(dvcr_ref_parse(text, &r, &e), 0);
	assert_string_equal(r.repo, "vi/a/b");
	assert_string_equal(r.tag, "");
	assert_string_equal(r.digest, d);
	snprintf(text, sizeof(text), "h.io/vi/a/b:t@%s", d);
	assert_int_equal(dvcr_ref_parse(text, &r, &e), 0);
	assert_string_equal(r.tag, "t");
	assert_string_equal(r.digest, d);
}

static void test_ref_rejects(void **state)
{
	struct dvcr_ref r;
	struct vim_err e;
	char big[600];
	(void)state;

	assert_int_equal(dvcr_ref_parse("", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("ubuntu:22.04", &r, &e), VIM_EINVAL);     /* no host */
	assert_int_equal(dvcr_ref_parse("library/ubuntu:1", &r, &e), VIM_EINVAL); /* no host */
	assert_int_equal(dvcr_ref_parse("h.io/vi/a", &r, &e), VIM_EINVAL);        /* no tag */
	assert_int_equal(dvcr_ref_parse("h.io/vi/a:", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("h.io/Vi/a:t", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("h.io/vi//a:t", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("h.io/vi/a:t/x", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("h.io/vi/a@sha256:abc", &r, &e), VIM_EINVAL);
	assert_int_equal(dvcr_ref_parse("h.io/vi/a:t t", &r, &e), VIM_EINVAL);
	memcpy(big, "h.io/", 5);
	memset(big + 5, 'a', sizeof(big) - 8);
	memcpy(big + sizeof(big) - 3, ":t", 3);
	assert_int_equal(dvcr_ref_parse(big, &r, &e), VIM_EINVAL);
	assert_string_equal(r.host, "");
}

/* A token server's expires_in is clamped to [60 s, 1 day] before any
 * arithmetic: LLONG_MAX made (ttl - 5) * 1000 overflow (undefined; the
 * token then counted as long expired or never expiring). */
static void test_token_expiry_clamps_the_servers_expires_in(void **state)
{
	const int64_t now = 1000000;
	(void)state;

	assert_int_equal(dvcr_token_expiry_ms(now, 1, 300), now + 295 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 0, 0), now + 55 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, 0), now + 55 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, -5), now + 55 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, LLONG_MIN), now + 55 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, 59), now + 55 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, 86400), now + 86395 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, 86401), now + 86395 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, LLONG_MAX), now + 86395 * 1000);
	assert_int_equal(dvcr_token_expiry_ms(now, 1, LLONG_MAX / 1000 + 6), now + 86395 * 1000);
}

/* A manifest DELETE takes a digest only, by the one digest grammar: an
 * uppercase or non-hex "sha256:" + 64 characters was sent to the registry
 * (which answers 400 DIGEST_INVALID) instead of being refused here.  The
 * client points at a closed port: a request would fail VIM_EUPSTREAM. */
static void test_manifest_delete_refuses_a_malformed_digest_before_any_request(void **state)
{
	struct dvcr_config cfg = {.base_url = "http://127.0.0.1:1", .connect_timeout_ms = 500};
	struct dvcr_client *c = NULL;
	struct vim_err e = {0};
	(void)state;

	assert_int_equal(dvcr_client_new(&c, &cfg, &e), 0);
	assert_int_equal(
	    dvcr_manifest_delete(
	        c, "vi/ns/a",
	        "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", &e),
	    VIM_EINVAL);
	assert_non_null(strstr(e.msg, "a digest is required"));
	assert_int_equal(dvcr_manifest_delete(c, "vi/ns/a", "latest", &e), VIM_EINVAL);
	dvcr_client_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_challenge_bearer_quoted_commas),
	    cmocka_unit_test(test_challenge_spacing_case_escapes_unquoted),
	    cmocka_unit_test(test_challenge_basic),
	    cmocka_unit_test(test_challenge_malformed),
	    cmocka_unit_test(test_ref_tag),
	    cmocka_unit_test(test_ref_digest),
	    cmocka_unit_test(test_ref_rejects),
	    cmocka_unit_test(test_token_expiry_clamps_the_servers_expires_in),
	    cmocka_unit_test(test_manifest_delete_refuses_a_malformed_digest_before_any_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
