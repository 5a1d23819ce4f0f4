/* core/redact: no credential of a URL survives into a printed message —
 * userinfo, query values, URLs inside free text, cut messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/redact.h"

static void check(const char *in, const char *want)
{
	char out[512];

	vim_redact(out, sizeof(out), in);
	if (strcmp(out, want) != 0) {
		print_error("redact(\"%s\")\n  = \"%s\"\n want \"%s\"\n", in, out, want);
		fail();
	}
}

static void test_redact_hides_userinfo_whole(void **state)
{
	(void)state;
	check("http://user:secretpw@127.0.0.1:8080/missing", "http://***@127.0.0.1:8080/missing");
	check("https://TOKEN@github.com/x.img", "https://***@github.com/x.img");
	check("http://u:p@ss@host/x", "http://***@host/x"); /* '@' in the password */
	check("http://user:secretpw@host", "http://***@host");
	check("http://host:8080/a@b", "http://host:8080/a@b"); /* '@' in the path */
	check("http://[::1]:80/x", "http://[::1]:80/x");
	check("http://host/x", "http://host/x");
}

static void test_redact_hides_every_query_value(void **state)
{
	(void)state;
	check("https://b.s3.amazonaws.com/d.img?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=abc#f",
	      "https://b.s3.amazonaws.com/d.img?X-Amz-Credential=***&X-Amz-Signature=***#f");
	check("http://h/x?sig=abc;sv=2020", "http://h/x?sig=***;sv=***");
	check("http://h/x?token", "http://h/x?***");
	check("http://h/x?a=&b", "http://h/x?a=&***");
	check("http://h/x?", "http://h/x?");
}

static void test_redact_finds_urls_inside_messages(void **state)
{
	(void)state;
	check("GET http://user:secretpw@127.0.0.1:1/missing: the server answered 404",
	      "GET http://***@127.0.0.1:1/missing: the server answered 404");
	check("Failed to connect to http://a:b@h/ and \"https://c:d@e?k=v\" too",
	      "Failed to connect to http://***@h/ and \"https://***@e?k=***\" too");
	check("GET http://h/x?sig=abc: the server answered 404",
	      "GET http://h/x?sig=***: the server answered 404");
	check("(see http://u:p@h/x?a=b).", "(see http://***@h/x?a=***).");
	check("no url here: a://", "no url here: a://");
	check(":// alone", ":// alone");
	check("", "");
}

/* A message cut inside the userinfo (before the '@') still hides it. */
static void test_redact_hides_a_cut_userinfo(void **state)
{
	char out[32];
	(void)state;

	check("GET http://user:secre", "GET http://***");
	check("http://host:80", "http://host:80");
	vim_redact(out, sizeof(out), "GET http://user:secretpw@host/a/very/long/path");
	assert_null(strstr(out, "secret"));
	assert_true(strlen(out) < sizeof(out));
}

static void test_redact_inplace(void **state)
{
	char s[64] = "x http://u:p@h/?a=b y";
	char big[4096];
	(void)state;

	vim_redact_inplace(s, sizeof(s));
	assert_string_equal(s, "x http://***@h/?a=*** y");
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big + 100, "http://u:secretpw@h/", 20);
	vim_redact_inplace(big, sizeof(big));
	assert_null(strstr(big, "secretpw"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_redact_hides_userinfo_whole),
	    cmocka_unit_test(test_redact_hides_every_query_value),
	    cmocka_unit_test(test_redact_finds_urls_inside_messages),
	    cmocka_unit_test(test_redact_hides_a_cut_userinfo),
	    cmocka_unit_test(test_redact_inplace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
