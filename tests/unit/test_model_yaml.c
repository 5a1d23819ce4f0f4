/* model/yaml: YAML 1.1 typing as kubectl does it, limits, hostile input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

static json_t *parse_ok(const char *text)
{
	struct vim_err err = {0};
	json_t *j = NULL;
	if (model_yaml_to_json(&j, text, strlen(text), &err))
		fail_msg("yaml: %s", err.msg);
	assert_non_null(j);
	return j;
}

/* Expects EINVAL and a message containing want. */
static void parse_fails(const char *text, size_t len, const char *want)
{
	struct vim_err err = {0};
	json_t *j = (json_t *)1;
	assert_int_equal(model_yaml_to_json(&j, text, len, &err), VIM_EINVAL);
	assert_null(j);
	if (!strstr(err.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, want);
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	assert_non_null(s);
	return s;
}

static void assert_yaml_gives(const char *yaml, const char *json)
{
	json_t *j = parse_ok(yaml);
	char *s = dump(j);
	if (strcmp(s, json))
		fail_msg("%s -> %s, want %s", yaml, s, json);
	free(s);
	json_decref(j);
}

static void test_plain_scalars_are_typed_as_yaml_1_1(void **state)
{
	(void)state;
	assert_yaml_gives("[null, Null, NULL, ~, ]", "[null,null,null,null]");
	assert_yaml_gives("a:\nb: ~", "{\"a\":null,\"b\":null}");
	assert_yaml_gives("[true, True, TRUE, yes, Yes, on, ON, y, Y]",
	                  "[true,true,true,true,true,true,true,true,true]");
	assert_yaml_gives("[false, False, no, NO, off, Off, n, N]",
	                  "[false,false,false,false,false,false,false,false]");
	assert_yaml_gives("[1.5, -2.5e3, .5, 1., 1e3]", "[1.5,-2500.0,0.5,1.0,1000.0]");
	assert_yaml_gives("[yess, truely, 1.2.3, 2026-01-01T00:00:00Z, 0x, +, -, .]",
	                  "[\"yess\",\"truely\",\"1.2.3\",\"2026-01-01T00:00:00Z\",\"0x\",\"+\","
	                  "\"-\",\".\"]");
}

static void test_integer_forms_follow_go_yaml(void **state)
{
	(void)state;
	assert_yaml_gives("[0, 42, -7, +7, 1_000, 0x1F, 0X1f, -0x10, 0o17, 017, 0b101]",
	                  "[0,42,-7,7,1000,31,31,-16,15,15,5]");
	assert_yaml_gives("[9223372036854775807, -9223372036854775808]",
	                  "[9223372036854775807,-9223372036854775808]");
	/* beyond int64: a float, as the apiserver would read it; not a number: a string */
	assert_yaml_gives("[9223372036854775808, 99999999999999999999, 0xFFFFFFFFFFFFFFFFFF, 08]",
	                  "[9.2233720368547758e18,1e20,\"0xFFFFFFFFFFFFFFFFFF\",8.0]");
	assert_yaml_gives("1e999", "\"1e999\"");
}

static void test_quoted_and_block_scalars_are_strings(void **state)
{
	(void)state;
	assert_yaml_gives("- 'true'\n- \"1\"\n- ''\n- \"null\"\n- |\n  yes\n",
	                  "[\"true\",\"1\",\"\",\"null\",\"yes\\n\"]");
	assert_yaml_gives("a: >-\n  12\n", "{\"a\":\"12\"}");
}

static void test_explicit_tags_are_honoured(void **state)
{
	(void)state;
	assert_yaml_gives("[!!str 12, !!str true, !!int \"12\", !!float 1, !!bool 'yes', !!null '',"
	                  " ! 12]",
	                  "[\"12\",\"true\",12,1.0,true,null,\"12\"]");
	assert_yaml_gives("!!map {a: !!seq [1]}", "{\"a\":[1]}");
	parse_fails("!!int abc", 9, "YAML line 1:1: cannot decode \"abc\" as !!int");
	parse_fails("a: !!bool 1", 11, "1:4: cannot decode \"1\" as !!bool");
	parse_fails("a: !!binary aGk=", 16, "unsupported tag tag:yaml.org,2002:binary");
	parse_fails("a: !custom {}", 13, "unsupported tag !custom");
}

static void test_keys_are_strings_as_sigs_k8s_yaml_makes_them(void **state)
{
	(void)state;
	assert_yaml_gives("{1: a, yes: b, 'no': c, 0x10: d, 1.5: e}",
	                  "{\"1\":\"a\",\"true\":\"b\",\"no\":\"c\",\"16\":\"d\",\"1.5\":\"e\"}");
	parse_fails("~: a", 4, "1:1: a null mapping key is not supported");
}

static void test_non_finite_floats_are_refused(void **state)
{
	(void)state;
	parse_fails("a: .inf", 7, "1:4: .inf cannot be represented in JSON");
	parse_fails("a:\n  - -.Inf", 12, "2:5: -.Inf cannot be represented");
	parse_fails("a: .NaN", 7, "cannot be represented");
	parse_fails("a: !!float .nan", 15, "cannot be represented");
}

static void test_anchors_and_aliases_are_refused(void **state)
{
	(void)state;
	parse_fails("a: &x 1\nb: *x\n", 14, "1:4: anchors are not supported");
	parse_fails("a: &x {b: 1}", 12, "anchors are not supported");
	parse_fails("- &x [1]", 8, "anchors are not supported");
	parse_fails("- *x", 4, "1:3: aliases are not supported");
}

static void test_duplicate_and_non_scalar_keys_are_refused(void **state)
{
	(void)state;
	parse_fails("a: 1\nb: 2\na: 3\n", 15, "3:1: duplicate key \"a\"");
	parse_fails("{true: 1, yes: 2}", 17, "duplicate key \"true\"");
	parse_fails("? [a]\n: 1\n", 10, "1:3: a mapping key must be a scalar");
	parse_fails("? {a: 1}\n: 1\n", 13, "a mapping key must be a scalar");
}

static void test_more_than_one_document_is_refused(void **state)
{
	(void)state;
	parse_fails("a: 1\n---\nb: 2\n", 14, "2:1: more than one document");
	parse_fails("", 0, "no document");
	parse_fails("# only a comment\n", 17, "no document");
	json_t *j = parse_ok("---\na: 1\n...\n");
	assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
	json_decref(j);
}

static void test_nesting_is_limited_to_64_levels(void **state)
{
	(void)state;
	char buf[200];
	memset(buf, '[', 64);
	memset(buf + 64, ']', 64);
	buf[128] = '\0';
	json_t *j = parse_ok(buf);
	json_decref(j);
	memset(buf, '[', 65);
	memset(buf + 65, ']', 65);
	buf[130] = '\0';
	parse_fails(buf, 130, "1:65: nesting deeper than 64 levels");
}

static void test_input_over_4_mib_is_refused(void **state)
{
	(void)state;
	size_t n = (4u << 20) + 1;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	big[0] = 'a';
	big[1] = ':';
	parse_fails(big, n, "limit is 4194304 (4 MiB)");
	free(big);
}

static void test_syntax_errors_report_line_and_column(void **state)
{
	(void)state;
	parse_fails("a: [1, 2\nb: 3\n", 14, "YAML line ");
	parse_fails("a: 'x\n", 6, "found unexpected end of stream");
	parse_fails("a:\n\tb: 1\n", 9, "2:1:");
}

static const char manifest[] = "apiVersion: virtualization.deckhouse.io/v1alpha2\n"
                               "kind: VirtualImage\n"
                               "metadata:\n"
                               "  name: ubuntu\n"
                               "  namespace: default\n"
                               "  labels: {tier: \"1\"}\n"
                               "spec:\n"
                               "  storage: ContainerRegistry\n"
                               "  colour: blue\n"
                               "  dataSource:\n"
                               "    type: HTTP\n"
                               "    http:\n"
                               "      url: https://cloud-images.example.org/noble.qcow2\n"
                               "      checksum:\n"
                               "        sha256: 9f0c\n";

static void test_manifest_decodes_into_an_image(void **state)
{
	(void)state;
	struct model_image *img = NULL;
	struct model_unknown unk;
	struct vim_err err = {0};
	assert_int_equal(model_image_from_yaml(&img, manifest, sizeof(manifest) - 1, &unk, &err),
	                 0);
	assert_int_equal(img->kind, MODEL_KIND_VI);
	assert_string_equal(img->meta.namespace, "default");
	assert_string_equal(img->meta.labels.items[0].value, "1");
	assert_string_equal(img->spec.data_source.http->url,
	                    "https://cloud-images.example.org/noble.qcow2");
	assert_string_equal(img->spec.data_source.http->checksum.sha256, "9f0c");
	assert_int_equal(unk.total, 1);
	assert_string_equal(unk.paths[0], "spec.colour");
	model_image_free(img);

	/* a YAML bool where a string belongs is a typed error, as with kubectl */
	static const char bad[] = "apiVersion: virtualization.deckhouse.io/v1alpha2\n"
	                          "kind: VirtualImage\nmetadata:\n  labels: {on: yes}\n";
	img = (struct model_image *)1;
	assert_int_equal(model_image_from_yaml(&img, bad, sizeof(bad) - 1, NULL, &err), VIM_EINVAL);
	assert_null(img);
	assert_string_equal(err.msg, "metadata.labels[true]: Invalid value: \"boolean\": "
	                             "metadata.labels[true] in body must be of type string: "
	                             "\"boolean\"");
}

/* Every prefix of a manifest and a pile of random bytes: errors, never a
 * crash or a leak (valgrind / ASan make the second part of that visible). */
static void test_truncated_and_garbage_input_never_crashes(void **state)
{
	(void)state;
	static const char extra[] = "  x: [1, {a: 'b'}, \"c\\u00e9\", !!int 3, &a 1, *a]\n"
	                            "---\n- \xff\xfe\x00 ? : - |\n   x\n";
	char doc[sizeof(manifest) + sizeof(extra)];
	size_t n = sizeof(manifest) - 1 + sizeof(extra) - 1;
	memcpy(doc, manifest, sizeof(manifest) - 1);
	memcpy(doc + sizeof(manifest) - 1, extra, sizeof(extra) - 1);
	for (size_t len = 0; len <= n; len++) {
		struct vim_err err = {0};
		json_t *j = NULL;
		int rc = model_yaml_to_json(&j, doc, len, &err);
		assert_true(rc == 0 || rc == VIM_EINVAL);
		assert_true((rc == 0) == (j != NULL));
		json_decref(j);
	}
	unsigned seed = 12345;
	static const char alphabet[] = "ab:- \n\t[]{},'\"!&*?|>#%@`~.0x\\\x00\xc3\xa9\xff";
	for (int round = 0; round < 2000; round++) {
		char buf[96];
		size_t len = 1 + (size_t)(round % 95);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = (round & 1) ? (char)(seed >> 16)
			                     : alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
		}
		struct vim_err err = {0};
		json_t *j = NULL;
		struct model_image *img = NULL;
		int rc = model_yaml_to_json(&j, buf, len, &err);
		assert_true(rc == 0 || rc == VIM_EINVAL);
		json_decref(j);
		rc = model_image_from_yaml(&img, buf, len, NULL, &err);
		assert_true(rc == 0 || rc == VIM_EINVAL);
		model_image_free(img);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_scalars_are_typed_as_yaml_1_1),
	    cmocka_unit_test(test_integer_forms_follow_go_yaml),
	    cmocka_unit_test(test_quoted_and_block_scalars_are_strings),
	    cmocka_unit_test(test_explicit_tags_are_honoured),
	    cmocka_unit_test(test_keys_are_strings_as_sigs_k8s_yaml_makes_them),
	    cmocka_unit_test(test_non_finite_floats_are_refused),
	    cmocka_unit_test(test_anchors_and_aliases_are_refused),
	    cmocka_unit_test(test_duplicate_and_non_scalar_keys_are_refused),
	    cmocka_unit_test(test_more_than_one_document_is_refused),
	    cmocka_unit_test(test_nesting_is_limited_to_64_levels),
	    cmocka_unit_test(test_input_over_4_mib_is_refused),
	    cmocka_unit_test(test_syntax_errors_report_line_and_column),
	    cmocka_unit_test(test_manifest_decodes_into_an_image),
	    cmocka_unit_test(test_truncated_and_garbage_input_never_crashes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
