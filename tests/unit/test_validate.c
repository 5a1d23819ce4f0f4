/*
 * Validation: the CRD schema, upstream's CEL rules and webhook messages,
 * the update rules, and the DVCR address with upstream's name shortening.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/k8sname.h"
#include "model/model.h"

#define VI_HEAD                                                                                    \
	"{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","      \
	"\"metadata\":{\"name\":\"img\",\"namespace\":\"ns\"},"
#define CVI_HEAD                                                                                   \
	"{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","                                \
	"\"kind\":\"ClusterVirtualImage\",\"metadata\":{\"name\":\"img\"},"
#define HTTP_DS "\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":\"https://x.example/a.img\"}}"

static struct model_image *parse(const char *json)
{
	struct model_image *img = NULL;
	struct vim_err err = {0};
	json_t *j = json_loads(json, 0, NULL);

	assert_non_null(j);
	if (model_image_from_json(&img, j, NULL, &err) != 0)
		fail_msg("decode: %s", err.msg);
	json_decref(j);
	model_apply_defaults(img);
	return img;
}

/* Validates on create; expects rc and, when a field is given, a cause on
 * that field whose message contains want. */
static void expect_create(const char *json, int rc, const char *field, const char *want)
{
	struct model_image *img = parse(json);
	struct model_causes c;
	size_t i;
	bool found = false;

	assert_int_equal(model_validate_create(img, &c), rc);
	for (i = 0; field && i < c.len; i++)
		if (strcmp(c.items[i].field, field) == 0 && strstr(c.items[i].message, want))
			found = true;
	if (field && !found) {
		for (i = 0; i < c.len; i++)
			print_message("cause %s [%s] %s\n", c.items[i].field, c.items[i].reason,
			              c.items[i].message);
		fail_msg("no cause on %s containing \"%s\"", field, want);
	}
	if (rc == 0)
		assert_int_equal(c.len, 0);
	model_image_free(img);
}

static void test_valid_http_vi_and_cvi(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{" HTTP_DS "}}", 0, NULL, NULL);
	expect_create(CVI_HEAD "\"spec\":{" HTTP_DS "}}", 0, NULL, NULL);
}

static void test_storage_defaults_to_container_registry(void **s)
{
	struct model_image *img = parse(VI_HEAD "\"spec\":{" HTTP_DS "}}");
	(void)s;
	assert_string_equal(img->spec.storage, "ContainerRegistry");
	model_image_free(img);
}

static void test_http_requires_http_member(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"upload\":{}}}}",
	              VIM_EINVAL, "spec.dataSource",
	              "HTTP requires http and cannot have ContainerImage, ObjectRef or Upload.");
}

static void test_container_image_cannot_have_http(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
	                      "\"containerImage\":{\"image\":\"r.example/a:1\"},"
	                      "\"http\":{\"url\":\"https://x/a\"}}}}",
	              VIM_EINVAL, "spec.dataSource",
	              "ContainerImage requires containerImage and cannot have HTTP, ObjectRef or "
	              "Upload.");
}

static void test_object_ref_requires_object_ref(void **s)
{
	(void)s;
	expect_create(
	    CVI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\"}}}", VIM_EINVAL,
	    "spec.dataSource",
	    "ObjectRef requires objectRef and cannot have HTTP, ContainerImage or Upload.");
}

static void test_upload_cannot_have_others(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"Upload\","
	                      "\"http\":{\"url\":\"https://x/a\"}}}}",
	              VIM_EINVAL, "spec.dataSource",
	              "Upload cannot have HTTP, ContainerImage or ObjectRef.");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"Upload\"}}}", 0, NULL, NULL);
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"Upload\",\"upload\":{}}}}", 0,
	              NULL, NULL);
}

static void test_type_required_and_enum(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{}}}", VIM_EINVAL, "spec.dataSource.type",
	              "Required value");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"FTP\"}}}", VIM_EINVAL,
	              "spec.dataSource.type",
	              "Unsupported value: \"FTP\": supported values: \"ContainerImage\", \"HTTP\", "
	              "\"ObjectRef\", \"Upload\"");
}

static void test_http_url_scheme(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"
	                      "\"ftp://x.example/a\"}}}}",
	              VIM_EINVAL, "spec.dataSource.http.url",
	              "Invalid value: \"ftp://x.example/a\": must be an http:// or https:// URL");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"
	                      "\"https://x.example/a b\"}}}}",
	              VIM_EINVAL, "spec.dataSource.http.url", "must be an http");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{}}}}",
	              VIM_EINVAL, "spec.dataSource.http.url", "Required value");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"
	                      "\"http://10.0.0.1:8080/img.qcow2?x=1&y=%20\"}}}}",
	              0, NULL, NULL);
}

static void test_checksum_lengths(void **s)
{
	static const struct {
		const char *alg;
		int len;
	} algs[] = {{"md5", 32},     {"sha1", 40},        {"sha256", 64},
	            {"sha512", 128}, {"streebog256", 64}, {"streebog512", 128}};
	char json[1024], hex[140], field[96], want[64];
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		memset(hex, 'a', (size_t)algs[i].len);
		hex[algs[i].len] = '\0';
		snprintf(json, sizeof(json),
		         VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"
		                 "\"https://x/a\",\"checksum\":{\"%s\":\"%s\"}}}}}",
		         algs[i].alg, hex);
		expect_create(json, 0, NULL, NULL);
		hex[algs[i].len - 1] = '\0'; /* one short */
		snprintf(json, sizeof(json),
		         VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"
		                 "\"https://x/a\",\"checksum\":{\"%s\":\"%s\"}}}}}",
		         algs[i].alg, hex);
		snprintf(field, sizeof(field), "spec.dataSource.http.checksum.%s", algs[i].alg);
		snprintf(want, sizeof(want), "must be %d hexadecimal characters", algs[i].len);
		expect_create(json, VIM_EINVAL, field, want);
	}
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"Upload\",\"upload\":{"
	                      "\"checksum\":{\"md5\":\"zz\"}}}}}",
	              VIM_EINVAL, "spec.dataSource.upload.checksum.md5", "32 hexadecimal");
}

static void test_name_with_dot_gets_upstream_message(void **s)
{
	(void)s;
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"name\":\"a.b\",\"namespace\":\"ns\"},"
	              "\"spec\":{" HTTP_DS "}}",
	              VIM_EINVAL, "metadata.name",
	              "the VirtualImage name \"a.b\" is invalid: '.' is forbidden, allowed name "
	              "symbols are [0-9a-zA-Z-]");
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"ClusterVirtualImage\",\"metadata\":{\"name\":\"a.b\"},\"spec\":{" HTTP_DS
	              "}}",
	              VIM_EINVAL, "metadata.name",
	              "the ClusterVirtualImage name \"a.b\" is invalid: '.' is forbidden");
}

static void test_names_are_dns1123(void **s)
{
	(void)s;
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"name\":\"Ubuntu\",\"namespace\":\"ns\"},"
	              "\"spec\":{" HTTP_DS "}}",
	              VIM_EINVAL, "metadata.name", "a lowercase RFC 1123 subdomain");
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"name\":\"ok\",\"namespace\":\"Bad_ns\"},"
	              "\"spec\":{" HTTP_DS "}}",
	              VIM_EINVAL, "metadata.namespace", "a lowercase RFC 1123 label");
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"name\":\"ok\"},\"spec\":{" HTTP_DS "}}",
	              VIM_EINVAL, "metadata.namespace", "Required value");
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"namespace\":\"ns\"},\"spec\":{" HTTP_DS
	              "}}",
	              VIM_EINVAL, "metadata.name", "name or generateName is required");
	expect_create("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	              "\"VirtualImage\",\"metadata\":{\"generateName\":\"img-\",\"namespace\":"
	              "\"ns\"},\"spec\":{" HTTP_DS "}}",
	              0, NULL, NULL);
}

static void test_unsupported_storage_and_kinds(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"storage\":\"PersistentVolumeClaim\"," HTTP_DS "}}",
	              VIM_EUNSUPPORTED, "spec.storage", "not supported by this server");
	expect_create(VI_HEAD "\"spec\":{\"storage\":\"Kubernetes\"," HTTP_DS "}}",
	              VIM_EUNSUPPORTED, "spec.storage", "not supported by this server");
	expect_create(VI_HEAD "\"spec\":{\"storage\":\"Floppy\"," HTTP_DS "}}", VIM_EINVAL,
	              "spec.storage", "Unsupported value: \"Floppy\"");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	                      "\"kind\":\"VirtualDisk\",\"name\":\"d\"}}}}",
	              VIM_EUNSUPPORTED, "spec.dataSource.objectRef.kind",
	              "not supported by this server");
	/* unsupported + invalid together is invalid */
	expect_create(VI_HEAD "\"spec\":{\"storage\":\"Kubernetes\",\"dataSource\":{\"type\":"
	                      "\"HTTP\"}}}",
	              VIM_EINVAL, "spec.dataSource", "HTTP requires http");
}

static void test_storage_class_only_with_pvc(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"storage\":\"ContainerRegistry\","
	                      "\"persistentVolumeClaim\":{\"storageClassName\":\"fast\"}," HTTP_DS
	                      "}}",
	              VIM_EINVAL, "spec.persistentVolumeClaim.storageClassName",
	              "only with PersistentVolumeClaim storage");
}

static void test_object_ref_rules(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	                      "\"kind\":\"ClusterVirtualImage\",\"name\":\"base\"}}}}",
	              0, NULL, NULL);
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	                      "\"kind\":\"VirtualImage\",\"name\":\"\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef.name", "Required value");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	                      "\"kind\":\"Pod\",\"name\":\"x\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef.kind", "Unsupported value: \"Pod\"");
	expect_create(CVI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	                       "\"kind\":\"VirtualImage\",\"name\":\"x\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef",
	              "The namespace is required for VirtualDisk, VirtualImage and "
	              "VirtualDiskSnapshot");
	expect_create(CVI_HEAD
	              "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{"
	              "\"kind\":\"VirtualImage\",\"name\":\"x\",\"namespace\":"
	              "\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef",
	              "The namespace must be no longer than 63 characters.");
}

static void test_container_image_reference(void **s)
{
	static const char *good[] = {
	    "registry.example.com/ubuntu:24.04", "localhost/a/b", "127.0.0.1:5000/vi/ns/x:uid-1",
	    "r.example/a@sha256:"
	    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	    "ubuntu"};
	static const char *bad[] = {"Registry.example.com/UBUNTU", "r.example/a b",
	                            "r.example/a:", "r.example/a@sha256:12"};
	char json[1024];
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json),
		         VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
		                 "\"containerImage\":{\"image\":\"%s\"}}}}",
		         good[i]);
		expect_create(json, 0, NULL, NULL);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json),
		         VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
		                 "\"containerImage\":{\"image\":\"%s\"}}}}",
		         bad[i]);
		expect_create(json, VIM_EINVAL, "spec.dataSource.containerImage.image",
		              "must be an image reference");
	}
}

/* ---- updates ------------------------------------------------------------------- */

static int update(const char *old_json, enum model_phase phase, int64_t deleting,
                  const char *new_json, struct model_causes *c)
{
	struct model_image *o = parse(old_json), *n = parse(new_json);
	int rc;

	o->status.phase = phase;
	o->meta.deletion_timestamp = deleting;
	rc = model_validate_update(o, n, c);
	model_image_free(o);
	model_image_free(n);
	return rc;
}

#define VI_A VI_HEAD "\"spec\":{" HTTP_DS "}}"
#define VI_HEAD_NO_CLOSE                                                                           \
	"{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","      \
	"\"metadata\":{\"name\":\"img\",\"namespace\":\"ns\""
#define VI_B                                                                                       \
	VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":"                   \
	        "\"https://x.example/b.img\"}}}}"
#define VI_A_LABELED                                                                               \
	"{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","      \
	"\"metadata\":{\"name\":\"img\",\"namespace\":\"ns\",\"labels\":{\"a\":\"b\"}},"           \
	"\"spec\":{" HTTP_DS "}}"

static void test_update_metadata_always_allowed(void **s)
{
	struct model_causes c;
	(void)s;
	assert_int_equal(update(VI_A, MODEL_PHASE_READY, 0, VI_A_LABELED, &c), 0);
	assert_int_equal(update(VI_A, MODEL_PHASE_TERMINATING, 5, VI_A_LABELED, &c), 0);
}

static void test_update_spec_before_ready_allowed(void **s)
{
	struct model_causes c;
	(void)s;
	assert_int_equal(update(VI_A, MODEL_PHASE_PROVISIONING, 0, VI_B, &c), 0);
	assert_int_equal(update(VI_A, MODEL_PHASE_FAILED, 0, VI_B, &c), 0);
}

static void test_update_data_source_frozen_once_provisioned(void **s)
{
	enum model_phase phases[] = {MODEL_PHASE_READY, MODEL_PHASE_IMAGE_LOST,
	                             MODEL_PHASE_PVC_LOST};
	struct model_causes c;
	size_t i;
	(void)s;
	for (i = 0; i < 3; i++) {
		assert_int_equal(update(VI_A, phases[i], 0, VI_B, &c), VIM_EINVAL);
		assert_string_equal(c.items[0].field, "spec.dataSource");
		assert_non_null(strstr(c.items[0].message,
		                       "data source cannot be changed if the VirtualImage has "
		                       "already been provisioned"));
	}
}

static void test_update_spec_frozen_while_terminating(void **s)
{
	struct model_causes c;
	(void)s;
	assert_int_equal(update(VI_A, MODEL_PHASE_PROVISIONING, 5, VI_B, &c), VIM_EINVAL);
	assert_non_null(strstr(c.items[0].message,
	                       "spec cannot be changed if the VirtualImage is the process of "
	                       "termination"));
}

static void test_update_cvi_frozen_when_ready_or_lost(void **s)
{
	struct model_causes c;
	const char *a = CVI_HEAD "\"spec\":{" HTTP_DS "}}";
	const char *b = CVI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"Upload\"}}}";
	(void)s;
	assert_int_equal(update(a, MODEL_PHASE_READY, 0, b, &c), VIM_EINVAL);
	assert_non_null(strstr(c.items[0].message,
	                       "ClusterVirtualImage is in a Ready state: configuration changes are "
	                       "not available"));
	assert_int_equal(update(a, MODEL_PHASE_IMAGE_LOST, 0, b, &c), VIM_EINVAL);
	assert_int_equal(update(a, MODEL_PHASE_PENDING, 0, b, &c), 0);
}

static void test_update_runs_create_rules_on_the_new_spec(void **s)
{
	struct model_causes c;
	(void)s;
	assert_int_equal(update(VI_A, MODEL_PHASE_PENDING, 0,
	                        VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"HTTP\"}}}", &c),
	                 VIM_EINVAL);
	assert_string_equal(c.items[0].field, "spec.dataSource");
}

/* ---- metadata: generateName, labels, annotations, finalizers ------------------ */

#define SUBDOMAIN_RE                                                                               \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "  \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "      \
	"regex used for validation is "                                                            \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define NAME_PART_RE                                                                               \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "  \
	"end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "  \
	"used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

/* A VI with this metadata (JSON members after name/namespace). */
static char *vi_meta(const char *meta)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
	         "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
	         "\"VirtualImage\",\"metadata\":{\"namespace\":\"ns\"%s%s},\"spec\":{" HTTP_DS "}}",
	         *meta ? "," : "", meta);
	return buf;
}

static void test_generate_name_is_validated_in_prefix_mode(void **s)
{
	(void)s;
	/* issue 13: each of these made an object nobody could fetch or delete */
	expect_create(vi_meta("\"generateName\":\"BAD_\""), VIM_EINVAL, "metadata.generateName",
	              "Invalid value: \"BAD_\": " SUBDOMAIN_RE);
	expect_create(vi_meta("\"generateName\":\"BAD_\""), VIM_EINVAL, "metadata.name",
	              "Invalid value: \"BAD_bcdfg\": " SUBDOMAIN_RE);
	expect_create(vi_meta("\"generateName\":\"../../x\""), VIM_EINVAL, "metadata.generateName",
	              "Invalid value: \"../../x\": a lowercase RFC 1123 subdomain");
	expect_create(vi_meta("\"generateName\":\"X Y/\""), VIM_EINVAL, "metadata.generateName",
	              "Invalid value: \"X Y/\": a lowercase RFC 1123 subdomain");
	/* a trailing '-' is what a prefix ends with */
	expect_create(vi_meta("\"generateName\":\"img-\""), 0, NULL, NULL);
	expect_create(vi_meta("\"generateName\":\"-\""), VIM_EINVAL, "metadata.generateName",
	              "Invalid value: \"-\"");
	/* the webhook's '.' rule applies to the name it will get */
	expect_create(vi_meta("\"generateName\":\"a.b-\""), VIM_EINVAL, "metadata.name",
	              "'.' is forbidden");
}

static void test_generated_name_is_cut_to_58_plus_5(void **s)
{
	char gen[302], json[1024];
	struct model_image *img;
	struct model_causes c;
	bool generated = false;
	size_t i;
	(void)s;

	memset(gen, 'a', 300);
	gen[300] = '-';
	gen[301] = '\0';
	/* 301 bytes: over 253 even in prefix mode */
	snprintf(json, sizeof(json), "\"generateName\":\"%s\"", gen);
	expect_create(vi_meta(json), VIM_EINVAL, "metadata.generateName",
	              "must be no more than 253 bytes");

	img = parse(vi_meta("\"generateName\":\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
	                    "abcdefghijabcdefghij-\""));
	assert_int_equal(model_meta_generate_name(img, &generated), 0);
	assert_true(generated);
	assert_int_equal(strlen(img->meta.name), 63);
	assert_memory_equal(img->meta.name,
	                    "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefgh", 58);
	for (i = 58; i < 63; i++)
		assert_non_null(strchr("bcdfghjklmnpqrstvwxz2456789", img->meta.name[i]));
	assert_int_equal(model_validate_create(img, &c), 0);
	/* a name the user gave is kept */
	assert_int_equal(model_meta_generate_name(img, &generated), 0);
	assert_false(generated);
	model_image_free(img);
}

static void test_labels_are_qualified_names_and_label_values(void **s)
{
	(void)s;
	expect_create(vi_meta("\"name\":\"a\",\"labels\":{\"app.example.com/tier\":\"web\","
	                      "\"x\":\"\"}"),
	              0, NULL, NULL);
	expect_create(vi_meta("\"name\":\"a\",\"labels\":{\"x y\":\"v\"}"), VIM_EINVAL,
	              "metadata.labels", "Invalid value: \"x y\": " NAME_PART_RE);
	expect_create(vi_meta("\"name\":\"a\",\"labels\":{\"Example.com/a\":\"v\"}"), VIM_EINVAL,
	              "metadata.labels",
	              "Invalid value: \"Example.com/a\": prefix part a lowercase");
	expect_create(vi_meta("\"name\":\"a\",\"labels\":{\"a\":\"-v\"}"), VIM_EINVAL,
	              "metadata.labels",
	              "Invalid value: \"-v\": a valid label must be an empty string");
	expect_create(
	    vi_meta("\"name\":\"a\",\"labels\":{\"a\":"
	            "\"vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\"}"),
	    VIM_EINVAL, "metadata.labels", "must be no more than 63 bytes");
}

static void test_annotations_keys_and_total_size(void **s)
{
	struct model_image *img;
	struct model_causes c;
	char *big;
	(void)s;

	/* keys are qualified names, whatever their case */
	expect_create(vi_meta("\"name\":\"a\",\"annotations\":{\"Example.com/Key\":\"any value\"}"),
	              0, NULL, NULL);
	expect_create(vi_meta("\"name\":\"a\",\"annotations\":{\"a b\":\"v\"}"), VIM_EINVAL,
	              "metadata.annotations", "Invalid value: \"a b\": " NAME_PART_RE);

	img = parse(vi_meta("\"name\":\"a\""));
	big = malloc(900 * 1024 + 1);
	memset(big, 'x', 900 * 1024);
	big[900 * 1024] = '\0';
	img->meta.annotations.items = calloc(1, sizeof(struct model_kv));
	img->meta.annotations.len = 1;
	img->meta.annotations.items[0].key = strdup("k");
	img->meta.annotations.items[0].value = big;
	assert_int_equal(model_validate_create(img, &c), VIM_EINVAL);
	assert_int_equal(c.len, 1);
	assert_string_equal(c.items[0].field, "metadata.annotations");
	assert_string_equal(c.items[0].reason, "FieldValueTooLong");
	assert_string_equal(c.items[0].message, "Too long: must have at most 262144 bytes");
	/* the limit is the sum of keys and values: exactly 256 KiB passes */
	big[256 * 1024 - 1] = '\0';
	assert_int_equal(model_validate_create(img, &c), 0);
	big[256 * 1024 - 1] = 'x';
	big[256 * 1024] = '\0';
	assert_int_equal(model_validate_create(img, &c), VIM_EINVAL);
	model_image_free(img);
}

static void test_finalizers_are_qualified_names(void **s)
{
	(void)s;
	expect_create(vi_meta("\"name\":\"a\",\"finalizers\":[\"virtualization.deckhouse.io/"
	                      "vi-cleanup\",\"kubernetes\",\"foregroundDeletion\"]"),
	              0, NULL, NULL);
	expect_create(vi_meta("\"name\":\"a\",\"finalizers\":[\"bad finalizer\"]"), VIM_EINVAL,
	              "metadata.finalizers", "Invalid value: \"bad finalizer\": " NAME_PART_RE);
	expect_create(vi_meta("\"name\":\"a\",\"finalizers\":[\"x/y/z\"]"), VIM_EINVAL,
	              "metadata.finalizers", "Invalid value: \"x/y/z\": a valid label key");
	expect_create(vi_meta("\"name\":\"a\",\"finalizers\":[\"orphan\",\"foregroundDeletion\"]"),
	              VIM_EINVAL, "metadata.finalizers",
	              "finalizer orphan and foregroundDeletion cannot be both set");
}

static void test_referenced_names_are_dns_names_at_create(void **s)
{
	(void)s;
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
	                      "\"containerImage\":{\"image\":\"r.example/i:1\",\"imagePullSecret\":"
	                      "{\"name\":\"Bad_Secret\"}}}}}",
	              VIM_EINVAL, "spec.dataSource.containerImage.imagePullSecret.name",
	              "Invalid value: \"Bad_Secret\": " SUBDOMAIN_RE);
	expect_create(CVI_HEAD
	              "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
	              "\"containerImage\":{\"image\":\"r.example/i:1\",\"imagePullSecret\":"
	              "{\"name\":\"s\",\"namespace\":\"a.b\"}}}}}",
	              VIM_EINVAL, "spec.dataSource.containerImage.imagePullSecret.namespace",
	              "Invalid value: \"a.b\": must not contain dots");
	expect_create(CVI_HEAD
	              "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":"
	              "{\"kind\":\"VirtualImage\",\"name\":\"src\",\"namespace\":\"x_y\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef.namespace",
	              "Invalid value: \"x_y\": a lowercase RFC 1123 label");
	expect_create(VI_HEAD "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":"
	                      "{\"kind\":\"VirtualImage\",\"name\":\"../x\"}}}}",
	              VIM_EINVAL, "spec.dataSource.objectRef.name",
	              "Invalid value: \"../x\": " SUBDOMAIN_RE);
	expect_create(CVI_HEAD
	              "\"spec\":{\"dataSource\":{\"type\":\"ContainerImage\","
	              "\"containerImage\":{\"image\":\"r.example/i:1\",\"imagePullSecret\":"
	              "{\"name\":\"s\",\"namespace\":\"ns\"}}}}}",
	              0, NULL, NULL);
}

static void test_non_ascii_values_are_quoted_as_go_does(void **s)
{
	(void)s;
	/* valid UTF-8 as it is (not "??"), invalid bytes and controls escaped */
	expect_create(vi_meta("\"name\":\"образ\""), VIM_EINVAL, "metadata.name",
	              "Invalid value: \"образ\": a lowercase RFC 1123 subdomain");
	expect_create(vi_meta("\"name\":\"a\\tb\\u00a0\""), VIM_EINVAL, "metadata.name",
	              "Invalid value: \"a\\tb\\u00a0\":");
	expect_create(vi_meta("\"name\":\"a\",\"labels\":{\"k\":\"\\\"q\\\\\"}"), VIM_EINVAL,
	              "metadata.labels", "Invalid value: \"\\\"q\\\\\":");
}

static void test_name_rules_subdomain_before_the_webhook(void **s)
{
	(void)s;
	/* the apiserver refuses what is no subdomain before the webhook runs */
	expect_create(vi_meta("\"name\":\"A.b\""), VIM_EINVAL, "metadata.name",
	              "Invalid value: \"A.b\": " SUBDOMAIN_RE);
}

static void test_update_validates_metadata(void **s)
{
	struct model_causes c;
	(void)s;
	assert_int_equal(
	    update(VI_A, MODEL_PHASE_READY, 0,
	           VI_HEAD_NO_CLOSE ",\"labels\":{\"a\":\"b c\"}},\"spec\":{" HTTP_DS "}}", &c),
	    VIM_EINVAL);
	assert_string_equal(c.items[0].field, "metadata.labels");
	/* no new finalizers while the object is being deleted */
	assert_int_equal(update(VI_A, MODEL_PHASE_TERMINATING, 5,
	                        VI_HEAD_NO_CLOSE
	                        ",\"finalizers\":[\"example.com/f\"]},\"spec\":{" HTTP_DS "}}",
	                        &c),
	                 VIM_EINVAL);
	assert_string_equal(c.items[0].field, "metadata.finalizers");
	assert_string_equal(c.items[0].message,
	                    "Forbidden: no new finalizers can be added if the object is being "
	                    "deleted, found new finalizers []string{\"example.com/f\"}");
}

static void test_quote_is_gos_percent_q(void **s)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"abc", "\"abc\""},
	    {"a\"b\\", "\"a\\\"b\\\\\""},
	    {"\xff", "\"\\xff\""},
	    {"\x01\x7f", "\"\\x01\\x7f\""},
	    {"\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\""},
	    {"é😀образ", "\"é😀образ\""},
	    {"\xc2\xa0\xe2\x80\x8b\xef\xbb\xbf", "\"\\u00a0\\u200b\\ufeff\""},
	    {"\xc0\xaf", "\"\\xc0\\xaf\""},          /* overlong '/' */
	    {"\xed\xa0\x80", "\"\\xed\\xa0\\x80\""}, /* a surrogate */
	    {"\xf3\xb0\x80\x80", "\"\\U000f0000\""}, /* private use, plane 15 */
	};
	char out[64];
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		k8sname_quote(out, sizeof(out), cases[i].in, strlen(cases[i].in));
		assert_string_equal(out, cases[i].want);
	}
	/* cut with "..." inside the quotes, never inside a rune */
	k8sname_quote(out, 10, "abcdefghijkl", 12);
	assert_string_equal(out, "\"abcd...\"");
	k8sname_quote(out, 10, "ééééé", 10);
	assert_string_equal(out, "\"éé...\"");
	k8sname_quote(out, 6, "abcd", 4);
	assert_string_equal(out, "\"...\"");
	k8sname_quote(out, 6, "abc", 3); /* exactly fits */
	assert_string_equal(out, "\"abc\"");
	snprintf(out, sizeof(out), "%s", "ab\xc3");
	k8sname_utf8_trim(out);
	assert_string_equal(out, "ab");
	snprintf(out, sizeof(out), "%s", "a\xe2\x82");
	k8sname_utf8_trim(out);
	assert_string_equal(out, "a");
	snprintf(out, sizeof(out), "%s", "ab\xc3\xa9");
	k8sname_utf8_trim(out);
	assert_string_equal(out, "ab\xc3\xa9");
	k8sname_utf8_copy(out, sizeof(out),
	                  "a\xff"
	                  "b",
	                  3);
	assert_string_equal(out, "a\xef\xbf\xbd"
	                         "b");
}

static void test_unqualified_finalizers_get_a_warning(void **s)
{
	struct model_image *img = parse(vi_meta(
	    "\"name\":\"a\",\"finalizers\":[\"kubernetes\",\"orphan\",\"example.com/f\",\"foo\"]"));
	struct model_warnings w;
	struct model_causes c;
	(void)s;

	assert_int_equal(model_validate_create(img, &c), 0);
	model_meta_warnings(img, &w);
	assert_int_equal(w.len, 1);
	assert_string_equal(
	    w.items[0], "metadata.finalizers: \"foo\": prefer a domain-qualified finalizer name "
	                "including a path (/) to avoid accidental conflicts with other finalizer "
	                "writers");
	model_image_free(img);
}

static void test_generate_name_prefix_masks_as_kube(void **s)
{
	static const struct {
		const char *in;
		size_t n_reasons; /* 0 = valid */
	} cases[] = {
	    {"img-", 0}, {"a-", 0},  {"ab-", 0}, {"a.b-", 0}, {"a.-", 0},
	    {"A-", 0}, /* name[:len-2]+"a" */
	    {"-", 1},    {"-a-", 1}, {"Ab-", 1}, {"a_b-", 1}, {".a-", 1},
	};
	struct k8sname_msgs why;
	char big[303];
	size_t i;
	(void)s;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = k8sname_dns1123_subdomain_prefix(cases[i].in, strlen(cases[i].in), &why);
		if (ok != (cases[i].n_reasons == 0) || why.len != cases[i].n_reasons)
			fail_msg("%s: ok %d with %zu reasons", cases[i].in, ok, why.len);
	}
	/* past 253 bytes only the length is wrong, however long */
	memset(big, 'a', 300);
	memcpy(big + 300, "--", 3);
	assert_false(k8sname_dns1123_subdomain_prefix(big, 302, &why));
	assert_int_equal(why.len, 1);
	assert_string_equal(why.items[0], "must be no more than 253 bytes");
}

/* ---- DVCR address ---------------------------------------------------------------- */

static struct model_image *named(enum model_kind k, const char *ns, const char *name)
{
	struct model_image *img = model_image_new(k);
	model_set_str(&img->meta.name, name);
	model_set_str(&img->meta.namespace, ns);
	model_set_str(&img->meta.uid, "0b6b3f4e-uid");
	return img;
}

static void test_dvcr_reference_short_names_unchanged(void **s)
{
	struct model_image *vi = named(MODEL_KIND_VI, "default", "ubuntu-noble");
	struct model_image *cvi = named(MODEL_KIND_CVI, NULL, "ubuntu-noble");
	char out[600];
	(void)s;

	assert_int_equal(model_dvcr_reference(out, sizeof(out), "127.0.0.1:5000", vi, NULL), 0);
	assert_string_equal(out, "127.0.0.1:5000/vi/default/ubuntu-noble:0b6b3f4e-uid");
	assert_int_equal(model_dvcr_reference(out, sizeof(out), "127.0.0.1:5000", cvi, NULL), 0);
	assert_string_equal(out, "127.0.0.1:5000/cvi/ubuntu-noble:0b6b3f4e-uid");
	model_image_free(vi);
	model_image_free(cvi);
}

static void test_dvcr_repository_upstream_stable_values(void **s)
{
	char name[300], ns[80], out[600], want_tail[32];
	struct model_image *img;
	const char *r;
	(void)s;

	/* CVI "cvi-max-upload-" + 238 x -> ...-3dd4207548577095, name part 224 */
	snprintf(name, sizeof(name), "cvi-max-upload-%0238d", 0);
	memset(name + 15, 'x', 238);
	img = named(MODEL_KIND_CVI, NULL, name);
	assert_int_equal(model_dvcr_repository(out, sizeof(out), "", img, NULL), 0);
	r = out + strlen("cvi/");
	assert_int_equal(strlen(r), 224);
	snprintf(want_tail, sizeof(want_tail), "-3dd4207548577095");
	assert_string_equal(r + strlen(r) - 17, want_tail);
	model_image_free(img);

	/* VI ns "ns-max-" + 56 x, name "vi-max-upload-" + 239 x -> -71106fc097cdd39e, 161 */
	snprintf(ns, sizeof(ns), "ns-max-%056d", 0);
	memset(ns + 7, 'x', 56);
	snprintf(name, sizeof(name), "vi-max-upload-%0239d", 0);
	memset(name + 14, 'x', 239);
	img = named(MODEL_KIND_VI, ns, name);
	assert_int_equal(model_dvcr_repository(out, sizeof(out), NULL, img, NULL), 0);
	r = strrchr(out, '/') + 1;
	assert_int_equal(strlen(r), 161);
	assert_string_equal(r + strlen(r) - 17, "-71106fc097cdd39e");
	model_image_free(img);
}

static void test_dvcr_repository_boundary_255(void **s)
{
	/* host "h:1" (3) + "/" + "cvi/" = 8: a 247-char name fits exactly (255),
	 * 248 does not. */
	char name[260], out[600];
	struct model_image *img;
	(void)s;

	memset(name, 'm', 247);
	name[247] = '\0';
	img = named(MODEL_KIND_CVI, NULL, name);
	assert_int_equal(model_dvcr_repository(out, sizeof(out), "h:1", img, NULL), 0);
	assert_int_equal(strlen("h:1/") + strlen(out), 255);
	assert_string_equal(out + 4, name);
	model_image_free(img);

	memset(name, 'm', 248);
	name[248] = '\0';
	img = named(MODEL_KIND_CVI, NULL, name);
	assert_int_equal(model_dvcr_repository(out, sizeof(out), "h:1", img, NULL), 0);
	assert_true(strlen("h:1/") + strlen(out) <= 255);
	assert_int_equal(out[strlen(out) - 17], '-');
	model_image_free(img);
}

static void test_dvcr_shortened_names_differ_and_never_end_in_separator(void **s)
{
	char a[300], b[300], ra[600], rb[600];
	struct model_image *ia, *ib;
	(void)s;

	memset(a, 'a', 260);
	a[260] = '\0';
	memcpy(b, a, sizeof(a));
	b[259] = 'b';
	a[216] = '-'; /* the last kept character for this host: trimmed */
	ia = named(MODEL_KIND_CVI, NULL, a);
	ib = named(MODEL_KIND_CVI, NULL, b);
	assert_int_equal(model_dvcr_repository(ra, sizeof(ra), "dvcr.example.com", ia, NULL), 0);
	assert_int_equal(model_dvcr_repository(rb, sizeof(rb), "dvcr.example.com", ib, NULL), 0);
	assert_string_not_equal(ra, rb);
	assert_null(strstr(ra, "--"));
	model_image_free(ia);
	model_image_free(ib);
}

static void test_dvcr_reference_needs_uid_and_namespace(void **s)
{
	struct model_image *img = named(MODEL_KIND_VI, NULL, "x");
	struct vim_err err;
	char out[600];
	(void)s;

	assert_int_equal(model_dvcr_reference(out, sizeof(out), "h:1", img, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "namespace"));
	model_set_str(&img->meta.namespace, "ns");
	model_set_str(&img->meta.uid, NULL);
	assert_int_equal(model_dvcr_reference(out, sizeof(out), "h:1", img, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "uid"));
	model_image_free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid_http_vi_and_cvi),
	    cmocka_unit_test(test_storage_defaults_to_container_registry),
	    cmocka_unit_test(test_http_requires_http_member),
	    cmocka_unit_test(test_container_image_cannot_have_http),
	    cmocka_unit_test(test_object_ref_requires_object_ref),
	    cmocka_unit_test(test_upload_cannot_have_others),
	    cmocka_unit_test(test_type_required_and_enum),
	    cmocka_unit_test(test_http_url_scheme),
	    cmocka_unit_test(test_checksum_lengths),
	    cmocka_unit_test(test_name_with_dot_gets_upstream_message),
	    cmocka_unit_test(test_names_are_dns1123),
	    cmocka_unit_test(test_unsupported_storage_and_kinds),
	    cmocka_unit_test(test_storage_class_only_with_pvc),
	    cmocka_unit_test(test_object_ref_rules),
	    cmocka_unit_test(test_container_image_reference),
	    cmocka_unit_test(test_update_metadata_always_allowed),
	    cmocka_unit_test(test_update_spec_before_ready_allowed),
	    cmocka_unit_test(test_update_data_source_frozen_once_provisioned),
	    cmocka_unit_test(test_update_spec_frozen_while_terminating),
	    cmocka_unit_test(test_update_cvi_frozen_when_ready_or_lost),
	    cmocka_unit_test(test_update_runs_create_rules_on_the_new_spec),
	    cmocka_unit_test(test_generate_name_is_validated_in_prefix_mode),
	    cmocka_unit_test(test_generated_name_is_cut_to_58_plus_5),
	    cmocka_unit_test(test_labels_are_qualified_names_and_label_values),
	    cmocka_unit_test(test_annotations_keys_and_total_size),
	    cmocka_unit_test(test_finalizers_are_qualified_names),
	    cmocka_unit_test(test_referenced_names_are_dns_names_at_create),
	    cmocka_unit_test(test_non_ascii_values_are_quoted_as_go_does),
	    cmocka_unit_test(test_name_rules_subdomain_before_the_webhook),
	    cmocka_unit_test(test_update_validates_metadata),
	    cmocka_unit_test(test_quote_is_gos_percent_q),
	    cmocka_unit_test(test_unqualified_finalizers_get_a_warning),
	    cmocka_unit_test(test_generate_name_prefix_masks_as_kube),
	    cmocka_unit_test(test_dvcr_reference_short_names_unchanged),
	    cmocka_unit_test(test_dvcr_repository_upstream_stable_values),
	    cmocka_unit_test(test_dvcr_repository_boundary_255),
	    cmocka_unit_test(test_dvcr_shortened_names_differ_and_never_end_in_separator),
	    cmocka_unit_test(test_dvcr_reference_needs_uid_and_namespace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
