/*
 * Label and field selectors: Kubernetes' grammar (apimachinery
 * labels.Parse / fields.ParseSelector) with its error wording, what each
 * valid selector matches, the caps, and the memory a parsed selector keeps.
 * The cases come from the "Labels and Selectors" / "Field Selectors" pages
 * of kubernetes.io and from apimachinery's selector_test.go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <malloc.h>

#include "store/internal.h"

#define VI "virtualimages"

#define KEY_RE                                                                                     \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "   \
	"an "                                                                                      \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "     \
	"validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_RE                                                                                   \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "   \
	"or "                                                                                      \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "         \
	"'my_value',  or '12345', regex used for validation is "                                   \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define OPS "in, notin, =, ==, !=, gt, lt"

/* An object with these labels ("k=v,k2=v2", no escapes) and this name. */
static json_t *obj(const char *name, const char *labels)
{
	json_t *o =
	    json_pack("{s:{s:s,s:s,s:{}}}", "metadata", "name", name, "namespace", "ns", "labels");
	json_t *l = json_object_get(json_object_get(o, "metadata"), "labels");
	char buf[256], *p, *kv, *eq;

	snprintf(buf, sizeof(buf), "%s", labels);
	for (p = buf; (kv = strsep(&p, ","));) {
		if (!*kv)
			continue;
		eq = strchr(kv, '=');
		*eq = '\0';
		json_object_set_new(l, kv, json_string(eq + 1));
	}
	return o;
}

static bool matches(const char *resource, const char *label, const char *field, const char *name,
                    const char *labels)
{
	struct store_selector *sel = NULL;
	struct vim_err err = {0};
	json_t *o = obj(name, labels);
	bool m;

	if (store_selector_parse(&sel, resource, label, field, &err) != 0)
		fail_msg("%s / %s: %s", label ? label : "", field ? field : "", err.msg);
	m = store_selector_match(sel, o);
	store_selector_free(sel);
	json_decref(o);
	return m;
}

static void test_valid_label_selectors_match_as_kubernetes(void **s)
{
	static const struct {
		const char *sel, *labels;
		bool match;
	} cases[] = {
	    /* kubernetes.io "Labels and Selectors" */
	    {"environment = production", "environment=production", true},
	    {"environment = production", "environment=dev", false},
	    {"tier != frontend", "tier=backend", true},
	    {"tier != frontend", "", true}, /* no such label: != matches */
	    {"environment=production,tier!=frontend", "environment=production,tier=db", true},
	    {"environment in (production, qa)", "environment=qa", true},
	    {"tier notin (frontend, backend)", "tier=db", true},
	    {"tier notin (frontend, backend)", "", true},
	    {"partition", "partition=x", true},
	    {"!partition", "partition=x", false},
	    {"!partition", "other=x", true},
	    {"partition in (customerA, customerB),environment!=qa", "partition=customerA", true},
	    {"partition,environment notin (qa)", "partition=customerA,environment=qa", false},
	    {"partition,environment notin (qa)", "partition=customerA", true},
	    {"environment in (production),tier in (frontend)",
	     "environment=production,tier=frontend", true},
	    {"environment,environment notin (frontend)", "environment=dev", true},
	    /* selector_test.go TestSelectorMatches / TestSetSelectorParser */
	    {"", "x=y", true},
	    {"x=y,z=w", "x=y,z=w", true},
	    {"x!=y,z!=w", "x=z,z=a", true},
	    {"x!=y,z!=w", "x=z,z=w", false},
	    {"notin=in", "notin=in", true},
	    {"x>1", "x=2", true},
	    {"x>1", "x=0", false},
	    {"x<1", "x=0", true},
	    {"x<1", "x=2", false},
	    {"x>1", "x=abc", false},
	    {"x>1", "", false},
	    {"x=", "x=", true},
	    {"x= ", "x=a", false},
	    {"x=,z= ", "x=,z=", true},
	    {"\rx", "x=1", true},
	    {"this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash=1",
	     true},
	    {"0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", "0.1.2.domain/99=10.10.100.1",
	     false},
	    {"foo  in\t (abc)", "foo=abc", true},
	    {"x notin\n (abc)", "x=abd", true},
	    {"x in (abc,)", "x=", true},
	    {"x in ()", "x=", true},
	    {"x in (a,,a,,a,,a,,)", "x=a", true},
	    {"x notin (abc,,def),bar,z in (),w", "bar=1,w=2,z=", true},
	    {"x,y in (a)", "x=1,y=a", true},
	    {"x notin ( )", "x=a", true},
	    {"x notin (, a)", "x=a", false},
	    {"a ", "a=1", true},
	    {"a in (x,y,notin, z,in)", "a=in", true},
	    {"in in (in)", "in=in", true},
	    {"a==", "a=", true},
	    {"a==", "a=b", false},
	    {"app=web,tier in (a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r)", "app=web,tier=r", true},
	};
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (matches(VI, cases[i].sel, NULL, "n", cases[i].labels) != cases[i].match)
			fail_msg("\"%s\" on {%s}: want %s", cases[i].sel, cases[i].labels,
			         cases[i].match ? "match" : "no match");
}

static void expect_error(const char *resource, const char *label, const char *field,
                         const char *want)
{
	struct store_selector *sel = NULL;
	struct vim_err err = {0};
	int rc = store_selector_parse(&sel, resource, label, field, &err);

	if (rc != VIM_EINVAL)
		fail_msg("\"%s\" / \"%s\": rc %d, want VIM_EINVAL (a bad selector must not match "
		         "everything)",
		         label ? label : "", field ? field : "", rc);
	assert_null(sel);
	/* a message is cut at VIM_ERR_MSG_MAX, as every vim_err is */
	if (want && strncmp(err.msg, want, sizeof(err.msg) - 1) != 0)
		fail_msg("\"%s\" / \"%s\":\n got: %s\nwant: %s", label ? label : "",
		         field ? field : "", err.msg, want);
}

static void test_garbage_label_selectors_are_refused_with_kubes_message(void **s)
{
	static const struct {
		const char *sel, *msg;
	} cases[] = {
	    /* issue 13: each of these answered 200 and selected everything */
	    {"!app!", "found '!', expected: ',' or 'end of string'"},
	    {"!!!", "unable to parse requirement: found '!', expected: identifier"},
	    {"a b", "unable to parse requirement: found 'b', expected: " OPS},
	    {"(((((", "found '(', expected: !, identifier, or 'end of string'"},
	    {"a=b,,c", "found ',', expected: identifier after ','"},
	    {"\xff",
	     "unable to parse requirement: <nil>: Invalid value: \"\\xff\": name part " KEY_RE},
	    {"app=\xc3",
	     "unable to parse requirement: values[0][app]: Invalid value: \"\\xc3\": " VALUE_RE},
	    /* selector_test.go bad strings */
	    {"x=a||y=b",
	     "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": " VALUE_RE},
	    {"x==a==b", "found '==', expected: ',' or 'end of string'"},
	    {"!x=a", "found '=', expected: ',' or 'end of string'"},
	    {"x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
	            "operators, the value must be an integer"},
	    {"x,,y", "found ',', expected: identifier after ','"},
	    {",x,y", "found ',', expected: !, identifier, or 'end of string'"},
	    {"x nott in (y)", "unable to parse requirement: found 'nott', expected: " OPS},
	    {"a in (xyz),", "found '', expected: identifier after ','"},
	    {"a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"},
	    {"a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"},
	    {"a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"},
	    {"a (", "unable to parse requirement: found '(', expected: " OPS},
	    {"(", "found '(', expected: !, identifier, or 'end of string'"},
	    {"a in b", "unable to parse requirement: found 'b' expected: '('"},
	    {"a=(", "unable to parse requirement: found '(', expected: identifier"},
	    {"a in (b c", "unable to parse requirement: found 'c', expected: ',' or ')'"},
	    {"a>=1", "unable to parse requirement: found '=', expected: identifier"},
	    /* keys are qualified names, values label values */
	    {"a/b/c", "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a valid label "
	              "key " KEY_RE " with an optional DNS subdomain prefix and '/' (e.g. "
	              "'example.com/MyName')"},
	    {"/a", "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be "
	           "non-empty"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     "unable to parse requirement: <nil>: Invalid value: "
	     "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": name part must "
	     "be no more than 63 bytes"},
	    {"a in (-x,-y)",
	     "unable to parse requirement: [values[0][a]: Invalid value: \"-x\": " VALUE_RE
	     ", values[1][a]: Invalid value: \"-y\": " VALUE_RE "]"},
	    {"x>-1", "unable to parse requirement: values[0][x]: Invalid value: \"-1\": " VALUE_RE},
	};
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(VI, cases[i].sel, NULL, cases[i].msg);
}

static void test_field_selectors_follow_fields_parse_selector(void **s)
{
	(void)s;
	assert_true(matches(VI, NULL, "metadata.name=a", "a", ""));
	assert_true(matches(VI, NULL, "metadata.name==a", "a", ""));
	assert_false(matches(VI, NULL, "metadata.name!=a", "a", ""));
	assert_true(matches(VI, NULL, "metadata.name=a,,metadata.namespace=ns", "a", ""));
	assert_true(matches(VI, NULL, "metadata.name=a\\,b", "a,b", ""));
	assert_true(matches(VI, NULL, "metadata.name=a\\=b\\\\", "a=b\\", ""));
	assert_true(matches(VI, NULL, "status.phase=", "a", "")); /* absent = "" */
	assert_true(matches(VI, "x=1", "metadata.name=a", "a", "x=1"));
	assert_false(matches(VI, "x=1", "metadata.name=a", "b", "x=1"));

	expect_error(VI, NULL, "metadata.name",
	             "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
	expect_error(VI, NULL, "spec.nope=1",
	             "\"spec.nope\" is not a known field selector: only \"metadata.name\", "
	             "\"metadata.namespace\", \"status.phase\"");
	expect_error(VI, NULL, "metadata.name = a",
	             "\"metadata.name \" is not a known field selector: only \"metadata.name\", "
	             "\"metadata.namespace\", \"status.phase\"");
	/* a core kind: kube's namespace field label conversion words it so */
	expect_error("namespaces", NULL, "x=1", "field label not supported: x");
	expect_error("namespaces", NULL, "metadata.namespace=a",
	             "field label not supported: metadata.namespace");
	expect_error("events", NULL, "foo=1", "field label not supported: foo");
	expect_error(VI, NULL, "metadata.name=a\\b",
	             "invalid field selector: invalid escape sequence: \\b");
	expect_error(VI, NULL, "metadata.name=a\\",
	             "invalid field selector: invalid escape sequence: \\");
	expect_error(VI, NULL, "metadata.name=a=b",
	             "invalid field selector: unescaped character in value: 61");
	expect_error(
	    VI, NULL, "metadata.name\xff=a",
	    "\"metadata.name\\xff\" is not a known field selector: only \"metadata.name\", "
	    "\"metadata.namespace\", \"status.phase\"");
}

static void test_empty_selectors_select_everything(void **s)
{
	struct store_selector *sel = (void *)1;
	struct vim_err err = {0};
	(void)s;

	assert_int_equal(store_selector_parse(&sel, VI, "", "", &err), 0);
	assert_null(sel);
	assert_int_equal(store_selector_parse(&sel, VI, "  \t", ",,", &err), 0);
	assert_null(sel);
	assert_true(matches(VI, " ", ",", "a", ""));
}

static void test_selectors_are_capped(void **s)
{
	char *big = malloc(20000);
	size_t n = 0;
	int i;
	(void)s;

	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, 20000 - n, "%sk%d=v", i ? "," : "", i);
	assert_true(matches(VI, big, NULL, "a", "") == false);
	n += (size_t)snprintf(big + n, 20000 - n, ",k100=v");
	expect_error(VI, big, NULL,
	             "labelSelector: Too many: 101: must have at most 100 requirements");
	memset(big, 'a', 16385);
	big[16385] = '\0';
	expect_error(VI, big, NULL, "labelSelector: Too long: must have at most 16384 bytes");
	expect_error(VI, NULL, big, "fieldSelector: Too long: must have at most 16384 bytes");
	free(big);
}

/* Bytes the heap holds for one parsed selector (glibc's mallinfo2 over
 * many copies, so freed temporaries parked in malloc's caches average out). */
static size_t held_by(const char *label)
{
	enum { N = 64 };
	struct store_selector *sel[N];
	struct vim_err err = {0};
	size_t before, after, i;

	before = (mallinfo2().uordblks + mallinfo2().hblkhd);
	for (i = 0; i < N; i++)
		assert_int_equal(store_selector_parse(&sel[i], VI, label, NULL, &err), 0);
	after = (mallinfo2().uordblks + mallinfo2().hblkhd);
	for (i = 0; i < N; i++)
		store_selector_free(sel[i]);
	return (after - before) / N;
}

static void test_selector_memory_is_sized_to_its_text(void **s)
{
	char *text = malloc(16384);
	size_t n = 0, bytes;
	int i;
	(void)s;

	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(text + n, 16384 - n, "%sapp.example.com/k%d in (v%d,w%d)",
		                      i ? "," : "", i, i, i);
	bytes = held_by(text);
	print_message("100 terms, %zu bytes of text: %zu bytes held (%.1fx)\n", n, bytes,
	              (double)bytes / (double)n);
	/* the text once, 32 bytes a requirement, 8 a value, a header and
	 * malloc's own */
	assert_true(bytes <= n + 100 * 32 + 200 * 8 + 256);
	bytes = held_by("app=web");
	print_message("\"app=web\": %zu bytes held\n", bytes);
	assert_true(bytes <= 96);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_label_selectors_match_as_kubernetes),
	    cmocka_unit_test(test_garbage_label_selectors_are_refused_with_kubes_message),
	    cmocka_unit_test(test_field_selectors_follow_fields_parse_selector),
	    cmocka_unit_test(test_empty_selectors_select_everything),
	    cmocka_unit_test(test_selectors_are_capped),
	    cmocka_unit_test(test_selector_memory_is_sized_to_its_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
