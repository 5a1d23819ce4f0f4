/* api/auth_proto: the spec of a protobuf SelfSubjectAccessReview (what
 * kubectl auth can-i posts) is read into JSON with JSON's member names;
 * a cut or lying length anywhere is refused, never read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api/proto.h"

/* A length-delimited field (lengths < 128 here) appended at *n. */
static void put(unsigned char *buf, size_t *n, unsigned num, const void *data, size_t len)
{
	buf[(*n)++] = (unsigned char)(num << 3 | 2);
	buf[(*n)++] = (unsigned char)len;
	memcpy(buf + *n, data, len);
	*n += len;
}

/* "k8s\0" + Unknown{typeMeta, raw: SSAR{spec{resourceAttributes{...}}}} */
static size_t review(unsigned char *out)
{
	unsigned char attrs[128], spec[160], ssar[200], tm[80];
	size_t na = 0, ns = 0, nr = 0, nt = 0, n = 4;

	put(attrs, &na, 1, "default", 7);
	put(attrs, &na, 2, "create", 6);
	put(attrs, &na, 3, "virtualization.deckhouse.io", 27);
	put(attrs, &na, 5, "virtualimages", 13);
	put(spec, &ns, 1, attrs, na);
	put(ssar, &nr, 1, "", 0); /* empty metadata */
	put(ssar, &nr, 2, spec, ns);
	put(tm, &nt, 1, "authorization.k8s.io/v1", 23);
	put(tm, &nt, 2, "SelfSubjectAccessReview", 23);
	memcpy(out, "k8s\0", 4);
	put(out, &n, 1, tm, nt);
	put(out, &n, 2, ssar, nr);
	return n;
}

static void test_auth_proto_reads_resource_attributes(void **state)
{
	unsigned char body[512];
	size_t n = review(body);
	json_t *spec = NULL, *ra;
	(void)state;

	assert_int_equal(api_proto_review_spec(body, n, &spec), 0);
	ra = json_object_get(spec, "resourceAttributes");
	assert_string_equal(json_string_value(json_object_get(ra, "namespace")), "default");
	assert_string_equal(json_string_value(json_object_get(ra, "verb")), "create");
	assert_string_equal(json_string_value(json_object_get(ra, "group")),
	                    "virtualization.deckhouse.io");
	assert_string_equal(json_string_value(json_object_get(ra, "resource")), "virtualimages");
	assert_null(json_object_get(spec, "nonResourceAttributes"));
	json_decref(spec);
}

static void test_auth_proto_refuses_every_cut_and_bad_magic(void **state)
{
	unsigned char body[512];
	size_t n = review(body), cut;
	json_t *spec = NULL;
	(void)state;

	/* every strict prefix that ends inside a field fails (the outer
	 * Unknown's raw field is last, so any cut lands inside one) */
	for (cut = 0; cut < n; cut++) {
		assert_int_equal(api_proto_review_spec(body, cut, &spec), -1);
		assert_null(spec);
	}
	body[0] = 'x';
	assert_int_equal(api_proto_review_spec(body, n, &spec), -1);
}

static void test_auth_proto_refuses_a_length_past_the_end(void **state)
{
	unsigned char body[] = {'k', '8', 's', 0, 2 << 3 | 2, 100, 1, 2, 3};
	json_t *spec = NULL;
	(void)state;

	assert_int_equal(api_proto_review_spec(body, sizeof(body), &spec), -1);
	assert_null(spec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_auth_proto_reads_resource_attributes),
	    cmocka_unit_test(test_auth_proto_refuses_every_cut_and_bad_magic),
	    cmocka_unit_test(test_auth_proto_refuses_a_length_past_the_end),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
