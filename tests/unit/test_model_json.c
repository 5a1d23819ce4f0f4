/* model/json: decode, encode, round trips, unknown fields and type errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/model.h"

/* Written in the encoder's member order so the dumps compare byte for byte. */
static const char *const full_vi =
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"ubuntu\",\"generateName\":\"ubuntu-\",\"namespace\":\"default\","
    "\"uid\":\"11111111-2222-3333-4444-555555555555\",\"resourceVersion\":\"42\","
    "\"generation\":3,\"creationTimestamp\":\"2026-11-24T06:40:00Z\","
    "\"deletionTimestamp\":\"2026-11-24T07:00:00Z\",\"deletionGracePeriodSeconds\":30,"
    "\"labels\":{\"z\":\"1\",\"a\":\"2\"},\"annotations\":{\"note\":\"x y\"},"
    "\"finalizers\":[\"virtualization.deckhouse.io/vi-cleanup\"],"
    "\"ownerReferences\":[{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"name\":\"o\","
    "\"uid\":\"u\",\"controller\":true}],"
    "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Update\","
    "\"time\":\"2026-11-24T06:40:00Z\",\"fieldsType\":\"FieldsV1\","
    "\"fieldsV1\":{\"f:spec\":{\".\":{},\"f:storage\":{}}}}]},"
    "\"spec\":{\"storage\":\"ContainerRegistry\","
    "\"persistentVolumeClaim\":{\"storageClassName\":\"fast\"},"
    "\"dataSource\":{\"type\":\"HTTP\",\"http\":{\"url\":\"https://example.org/a.qcow2\","
    "\"caBundle\":\"Y2E=\",\"checksum\":{\"md5\":\"m\",\"sha1\":\"s1\",\"sha256\":\"s2\","
    "\"sha512\":\"s5\",\"streebog256\":\"g2\",\"streebog512\":\"g5\"}},"
    "\"containerImage\":{\"image\":\"registry.example.org/img:1\","
    "\"imagePullSecret\":{\"name\":\"creds\"},\"caBundle\":\"Y2I=\"},"
    "\"objectRef\":{\"kind\":\"VirtualImage\",\"name\":\"src\"},"
    "\"upload\":{\"checksum\":{\"sha256\":\"u2\"}}}},"
    "\"status\":{\"phase\":\"Ready\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
    "\"observedGeneration\":3,\"lastTransitionTime\":\"2026-11-24T06:45:00Z\","
    "\"reason\":\"Ready\",\"message\":\"\"},{\"type\":\"DatasourceReady\","
    "\"status\":\"Unknown\",\"lastTransitionTime\":null,\"reason\":\"Unknown\","
    "\"message\":\"waiting\"}],\"observedGeneration\":3,\"progress\":\"100%\","
    "\"downloadSpeed\":{\"avg\":\"5Mi/s\",\"avgBytes\":\"5242880\",\"current\":\"1Mi/s\","
    "\"currentBytes\":\"1048576\"},\"size\":{\"stored\":\"199.8Mi\","
    "\"storedBytes\":\"209505484\",\"unpacked\":\"2Gi\",\"unpackedBytes\":\"2147483648\"},"
    "\"format\":\"qcow2\",\"cdrom\":false,\"target\":{\"registryURL\":"
    "\"dvcr.example/vi/default/ubuntu:uid\",\"persistentVolumeClaimName\":\"pvc-1\"},"
    "\"imageUploadURLs\":{\"external\":\"https://up.example/upload/t\","
    "\"inCluster\":\"http://svc/upload/t\"},\"uploadCommand\":\"curl x\","
    "\"sourceUID\":\"src-uid\",\"storageClassName\":\"fast\"}}";

static const char *const full_cvi =
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"ClusterVirtualImage\","
    "\"metadata\":{\"name\":\"debian\",\"uid\":\"cvi-uid\",\"resourceVersion\":\"7\","
    "\"generation\":1,\"creationTimestamp\":\"2026-01-02T03:04:05Z\","
    "\"labels\":{\"os\":\"debian\"},\"finalizers\":[\"a\",\"b\"],"
    "\"managedFields\":[{\"manager\":\"m\",\"fieldsV1\":{\"f:metadata\":{}}}]},"
    "\"spec\":{\"dataSource\":{\"type\":\"ObjectRef\",\"http\":{\"url\":\"\"},"
    "\"containerImage\":{\"image\":\"r.example/i@sha256:00\","
    "\"imagePullSecret\":{\"name\":\"s\",\"namespace\":\"ns1\"}},"
    "\"objectRef\":{\"kind\":\"VirtualImage\",\"name\":\"vi1\",\"namespace\":\"ns2\"},"
    "\"upload\":{}}},"
    "\"status\":{\"phase\":\"ImageLost\",\"conditions\":[{\"type\":\"Ready\","
    "\"status\":\"False\",\"observedGeneration\":1,"
    "\"lastTransitionTime\":\"2026-01-02T03:05:00Z\",\"reason\":\"ImageLost\","
    "\"message\":\"gone\"}],\"observedGeneration\":1,\"progress\":\"47.6%\","
    "\"size\":{\"stored\":\"2Ki\"},\"format\":\"iso\",\"cdrom\":true,"
    "\"target\":{\"registryURL\":\"dvcr/cvi/debian:cvi-uid\"},\"sourceUID\":\"x\","
    "\"usedInNamespaces\":[\"ns1\",\"ns2\"]}}";

static json_t *load(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
	if (!j)
		fail_msg("fixture: %s at %d", je.text, je.position);
	return j;
}

static char *dump(const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT);
	assert_non_null(s);
	return s;
}

static struct model_image *decode_ok(const char *text, struct model_unknown *unk)
{
	struct vim_err err = {0};
	struct model_image *img = NULL;
	json_t *j = load(text);
	int rc = model_image_from_json(&img, j, unk, &err);
	if (rc)
		fail_msg("decode: %s", err.msg);
	json_decref(j);
	return img;
}

/* Decodes text expecting failure; returns err.msg's copy. */
static void decode_fails(const char *text, const char *want_msg)
{
	struct vim_err err = {0};
	struct model_image *img = (struct model_image *)1;
	json_t *j = load(text);
	assert_int_equal(model_image_from_json(&img, j, NULL, &err), VIM_EINVAL);
	assert_null(img);
	assert_string_equal(err.msg, want_msg);
	json_decref(j);
}

static void assert_exact_round_trip(const char *text)
{
	json_t *in = load(text);
	struct model_image *img = decode_ok(text, NULL);
	json_t *out = model_image_to_json(img);
	assert_non_null(out);
	assert_true(json_equal(in, out));
	char *a = dump(in), *b = dump(out);
	assert_string_equal(a, b);
	/* decode(encode(x)) encodes identically */
	struct model_image *again = NULL;
	struct vim_err err = {0};
	assert_int_equal(model_image_from_json(&again, out, NULL, &err), 0);
	json_t *out2 = model_image_to_json(again);
	char *c = dump(out2);
	assert_string_equal(b, c);
	free(a);
	free(b);
	free(c);
	json_decref(in);
	json_decref(out);
	json_decref(out2);
	model_image_free(img);
	model_image_free(again);
}

static void test_full_vi_round_trips_byte_identically(void **state)
{
	(void)state;
	assert_exact_round_trip(full_vi);
}

static void test_full_cvi_round_trips_byte_identically(void **state)
{
	(void)state;
	assert_exact_round_trip(full_cvi);
}

static void test_full_vi_decodes_every_field(void **state)
{
	(void)state;
	struct model_image *img = decode_ok(full_vi, NULL);
	assert_int_equal(img->kind, MODEL_KIND_VI);
	assert_string_equal(img->meta.name, "ubuntu");
	assert_string_equal(img->meta.generate_name, "ubuntu-");
	assert_string_equal(img->meta.resource_version, "42");
	assert_int_equal(img->meta.generation, 3);
	assert_int_equal(img->meta.creation_timestamp, 1795502400);
	assert_int_equal(img->meta.deletion_timestamp, 1795503600);
	assert_int_equal(img->meta.deletion_grace_period_seconds, 30);
	assert_int_equal(img->meta.labels.len, 2);
	assert_string_equal(img->meta.labels.items[0].key, "z"); /* order kept */
	assert_string_equal(img->meta.annotations.items[0].value, "x y");
	assert_string_equal(img->meta.finalizers.items[0],
	                    "virtualization.deckhouse.io/vi-cleanup");
	assert_string_equal(img->spec.storage, "ContainerRegistry");
	assert_true(img->spec.has_pvc);
	assert_string_equal(img->spec.storage_class_name, "fast");
	const struct model_data_source *ds = &img->spec.data_source;
	assert_string_equal(ds->http->checksum.streebog512, "g5");
	assert_string_equal(ds->container_image->pull_secret_name, "creds");
	assert_null(ds->container_image->pull_secret_namespace);
	assert_string_equal(ds->object_ref->name, "src");
	assert_string_equal(ds->upload->checksum.sha256, "u2");
	assert_int_equal(img->status.phase, MODEL_PHASE_READY);
	assert_int_equal(img->status.n_conditions, 2);
	assert_int_equal(img->status.conditions[0].last_transition_time, 1795502700);
	assert_string_equal(img->status.conditions[0].message, "");
	assert_int_equal(img->status.conditions[1].last_transition_time, 0);
	assert_string_equal(img->status.size_stored, "199.8Mi");
	assert_string_equal(img->status.target_pvc_name, "pvc-1");
	assert_string_equal(img->status.storage_class_name, "fast");
	model_image_free(img);
}

static void test_unknown_metadata_fields_survive_round_trip(void **state)
{
	(void)state;
	json_t *in = load(full_vi);
	struct model_image *img = decode_ok(full_vi, NULL);
	json_t *out = model_image_to_json(img);
	const char *keys[] = {"managedFields", "ownerReferences"};
	for (size_t i = 0; i < 2; i++) {
		char *a = dump(json_object_get(json_object_get(in, "metadata"), keys[i]));
		char *b = dump(json_object_get(json_object_get(out, "metadata"), keys[i]));
		assert_string_equal(a, b);
		free(a);
		free(b);
	}
	/* kept apart from the known members, and re-emitted after them */
	assert_non_null(json_object_get(img->meta.extra, "managedFields"));
	assert_null(json_object_get(img->meta.extra, "name"));
	char *m = dump(json_object_get(out, "metadata"));
	assert_true(strstr(m, "\"finalizers\"") < strstr(m, "\"ownerReferences\""));
	free(m);
	json_decref(in);
	json_decref(out);
	model_image_free(img);
}

static void test_unknown_fields_outside_metadata_are_dropped_and_listed(void **state)
{
	(void)state;
	struct model_unknown unk;
	struct model_image *img = decode_ok(
	    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
	    "\"foo\":1,\"metadata\":{\"name\":\"a\"},\"spec\":{\"foo\":{},\"dataSource\":{"
	    "\"type\":\"HTTP\",\"http\":{\"url\":\"u\",\"bar\":true}}},"
	    "\"status\":{\"conditions\":[{\"type\":\"Ready\",\"x\":1}]}}",
	    &unk);
	assert_int_equal(unk.total, 4);
	assert_int_equal(unk.len, 4);
	assert_string_equal(unk.paths[0], "foo");
	assert_string_equal(unk.paths[1], "spec.foo");
	assert_string_equal(unk.paths[2], "spec.dataSource.http.bar");
	assert_string_equal(unk.paths[3], "status.conditions[0].x");
	json_t *out = model_image_to_json(img);
	char *s = dump(out);
	assert_null(strstr(s, "foo"));
	assert_null(strstr(s, "bar"));
	free(s);
	json_decref(out);
	model_image_free(img);
}

static void test_unknown_list_is_bounded_but_counts_all(void **state)
{
	(void)state;
	json_t *j = load("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	                 "\"kind\":\"VirtualImage\",\"spec\":{}}");
	json_t *spec = json_object_get(j, "spec");
	char key[64];
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%02d", i);
		json_object_set_new(spec, key, json_integer(i));
	}
	json_object_set_new(spec,
	                    "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-"
	                    "on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-on-and-"
	                    "on-and-on-and-on-and-on-and-on",
	                    json_true());
	struct model_unknown unk;
	struct model_image *img = NULL;
	struct vim_err err = {0};
	assert_int_equal(model_image_from_json(&img, j, &unk, &err), 0);
	assert_int_equal(unk.len, MODEL_UNKNOWN_MAX);
	assert_int_equal(unk.total, 21);
	assert_string_equal(unk.paths[15], "spec.k15");
	model_image_free(img);
	json_decref(j);
}

static void test_vi_only_members_are_unknown_on_cvi_and_vice_versa(void **state)
{
	(void)state;
	struct model_unknown unk;
	struct model_image *img =
	    decode_ok("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	              "\"kind\":\"ClusterVirtualImage\",\"spec\":{\"storage\":\"x\","
	              "\"persistentVolumeClaim\":{},\"dataSource\":{}},\"status\":{\"target\":{"
	              "\"persistentVolumeClaimName\":\"p\"},\"storageClassName\":\"s\"}}",
	              &unk);
	assert_int_equal(unk.total, 4);
	assert_string_equal(unk.paths[0], "spec.storage");
	assert_string_equal(unk.paths[1], "spec.persistentVolumeClaim");
	assert_string_equal(unk.paths[2], "status.target.persistentVolumeClaimName");
	assert_string_equal(unk.paths[3], "status.storageClassName");
	assert_null(img->spec.storage);
	assert_false(img->spec.has_pvc);
	model_image_free(img);

	img = decode_ok("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	                "\"kind\":\"VirtualImage\",\"spec\":{\"dataSource\":{\"containerImage\":{"
	                "\"imagePullSecret\":{\"namespace\":\"n\"}},\"objectRef\":{\"namespace\":"
	                "\"n\"}}},\"status\":{\"usedInNamespaces\":[\"a\"]}}",
	                &unk);
	assert_int_equal(unk.total, 3);
	assert_string_equal(unk.paths[0],
	                    "spec.dataSource.containerImage.imagePullSecret.namespace");
	assert_string_equal(unk.paths[1], "spec.dataSource.objectRef.namespace");
	assert_string_equal(unk.paths[2], "status.usedInNamespaces");
	model_image_free(img);
}

static void test_wrong_json_types_name_the_path_in_crd_wording(void **state)
{
	(void)state;
	const char *head = "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	                   "\"kind\":\"VirtualImage\",";
	static const struct {
		const char *body, *msg;
	} cases[] = {
	    {"\"spec\":{\"dataSource\":{\"http\":{\"url\":5}}}}",
	     "spec.dataSource.http.url: Invalid value: \"integer\": spec.dataSource.http.url in "
	     "body must be of type string: \"integer\""},
	    {"\"spec\":{\"dataSource\":[]}}",
	     "spec.dataSource: Invalid value: \"array\": spec.dataSource in body must be of type "
	     "object: \"array\""},
	    {"\"metadata\":{\"generation\":\"1\"}}",
	     "metadata.generation: Invalid value: \"string\": metadata.generation in body must be "
	     "of type integer: \"string\""},
	    {"\"metadata\":{\"generation\":1.5}}",
	     "metadata.generation: Invalid value: \"number\": metadata.generation in body must be "
	     "of type integer: \"number\""},
	    {"\"metadata\":{\"labels\":{\"app\":null}}}",
	     "metadata.labels[app]: Invalid value: \"null\": metadata.labels[app] in body must be "
	     "of type string: \"null\""},
	    {"\"metadata\":{\"finalizers\":[\"a\",true]}}",
	     "metadata.finalizers[1]: Invalid value: \"boolean\": metadata.finalizers[1] in body "
	     "must be of type string: \"boolean\""},
	    {"\"status\":{\"cdrom\":\"yes\"}}",
	     "status.cdrom: Invalid value: \"string\": status.cdrom in body must be of type "
	     "boolean: \"string\""},
	    {"\"status\":{\"conditions\":[{\"type\":{}}]}}",
	     "status.conditions[0].type: Invalid value: \"object\": status.conditions[0].type in "
	     "body must be of type string: \"object\""},
	    {"\"status\":{\"phase\":\"Exploded\"}}",
	     "status.phase: Unsupported value: \"Exploded\""},
	    {"\"metadata\":{\"creationTimestamp\":\"yesterday\"}}",
	     "metadata.creationTimestamp: Invalid value: \"yesterday\": must be an RFC 3339 time"},
	    {"\"metadata\":{\"deletionTimestamp\":\"0099-01-01T00:00:00Z\"}}",
	     "metadata.deletionTimestamp: Invalid value: \"0099-01-01T00:00:00Z\": must be an RFC "
	     "3339 time"},
	    {"\"spec\":{\"dataSource\":{\"type\":\"a\\u0000b\"}}}",
	     "spec.dataSource.type: Invalid value: must not contain a NUL character"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512];
		snprintf(text, sizeof(text), "%s%s", head, cases[i].body);
		decode_fails(text, cases[i].msg);
	}
}

static void test_wrong_api_version_or_kind_is_rejected_naming_the_field(void **state)
{
	(void)state;
	decode_fails("{\"apiVersion\":\"v1\",\"kind\":\"VirtualImage\"}",
	             "apiVersion: Unsupported value: \"v1\": supported values: "
	             "\"virtualization.deckhouse.io/v1alpha2\"");
	decode_fails("{\"kind\":\"VirtualImage\"}", "apiVersion: Required value");
	decode_fails("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"vi\"}",
	             "kind: Unsupported value: \"vi\": supported values: \"VirtualImage\", "
	             "\"ClusterVirtualImage\"");
	decode_fails("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\"}",
	             "kind: Required value");
	decode_fails("{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":7}",
	             "kind: Invalid value: \"integer\": kind in body must be of type string: "
	             "\"integer\"");
	decode_fails("[]", "object: Invalid value: \"array\": object in body must be of type "
	                   "object: \"array\"");
}

static void test_empty_upload_is_present_and_absent_members_stay_null(void **state)
{
	(void)state;
	const char *text = "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	                   "\"kind\":\"VirtualImage\",\"metadata\":{},\"spec\":{\"storage\":\"\","
	                   "\"dataSource\":{\"type\":\"Upload\",\"upload\":{}}}}";
	struct model_image *img = decode_ok(text, NULL);
	const struct model_data_source *ds = &img->spec.data_source;
	assert_non_null(ds->upload);
	assert_null(ds->upload->checksum.md5);
	assert_null(ds->http);
	assert_null(ds->container_image);
	assert_null(ds->object_ref);
	assert_string_equal(img->spec.storage, ""); /* "" is not absent in spec */
	assert_false(img->spec.has_pvc);
	json_t *out = model_image_to_json(img);
	char *s = dump(out);
	assert_string_equal(s, text);
	free(s);
	json_decref(out);
	model_image_free(img);
}

static void test_nulls_are_absent_and_zero_times_are_omitted(void **state)
{
	(void)state;
	struct model_image *img = decode_ok(
	    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
	    "\"metadata\":{\"name\":\"a\",\"creationTimestamp\":null,\"labels\":null},"
	    "\"spec\":{\"storage\":null,\"dataSource\":{\"http\":null}},\"status\":null}",
	    NULL);
	assert_int_equal(img->meta.creation_timestamp, 0);
	assert_null(img->spec.storage);
	assert_null(img->spec.data_source.http);
	json_t *out = model_image_to_json(img);
	char *s = dump(out);
	assert_string_equal(s,
	                    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
	                    "\"kind\":\"VirtualImage\",\"metadata\":{\"name\":\"a\"},\"spec\":{}}");
	free(s);
	json_decref(out);
	model_image_free(img);
}

static void test_conditions_encode_as_metav1_condition(void **state)
{
	(void)state;
	struct model_image *img = model_image_new(MODEL_KIND_VI);
	assert_non_null(img);
	img->status.conditions = calloc(1, sizeof(*img->status.conditions));
	img->status.n_conditions = 1;
	assert_int_equal(model_set_str(&img->status.conditions[0].type, "Ready"), 0);
	json_t *st = model_status_to_json(&img->status, MODEL_KIND_VI);
	char *s = dump(st);
	assert_string_equal(s, "{\"conditions\":[{\"type\":\"Ready\",\"status\":\"\","
	                       "\"lastTransitionTime\":null,\"reason\":\"\",\"message\":\"\"}],"
	                       "\"cdrom\":false}");
	free(s);
	json_decref(st);
	model_image_free(img);
}

static void test_status_is_omitted_when_empty_and_cdrom_always_in_it(void **state)
{
	(void)state;
	struct model_image *img = model_image_new(MODEL_KIND_CVI);
	json_t *out = model_image_to_json(img);
	assert_null(json_object_get(out, "status"));
	json_decref(out);
	assert_int_equal(model_set_str(&img->status.progress, ""), 0); /* omitempty */
	out = model_image_to_json(img);
	assert_null(json_object_get(out, "status"));
	json_decref(out);
	img->status.phase = MODEL_PHASE_PENDING;
	out = model_image_to_json(img);
	char *s = dump(json_object_get(out, "status"));
	assert_string_equal(s, "{\"phase\":\"Pending\",\"cdrom\":false}");
	free(s);
	json_decref(out);
	model_image_free(img);
}

static void test_clone_is_deep_and_encodes_identically(void **state)
{
	(void)state;
	struct model_image *img = decode_ok(full_vi, NULL), *copy = NULL;
	struct vim_err err = {0};
	assert_int_equal(model_image_clone(&copy, img, &err), 0);
	assert_ptr_not_equal(copy->meta.name, img->meta.name);
	assert_ptr_not_equal(copy->spec.data_source.http, img->spec.data_source.http);
	assert_ptr_not_equal(copy->meta.extra, img->meta.extra);
	json_t *a = model_image_to_json(img), *b = model_image_to_json(copy);
	char *sa = dump(a), *sb = dump(b);
	assert_string_equal(sa, sb);
	free(sa);
	free(sb);
	json_decref(a);
	json_decref(b);
	model_image_free(img);
	model_image_free(copy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_vi_round_trips_byte_identically),
	    cmocka_unit_test(test_full_cvi_round_trips_byte_identically),
	    cmocka_unit_test(test_full_vi_decodes_every_field),
	    cmocka_unit_test(test_unknown_metadata_fields_survive_round_trip),
	    cmocka_unit_test(test_unknown_fields_outside_metadata_are_dropped_and_listed),
	    cmocka_unit_test(test_unknown_list_is_bounded_but_counts_all),
	    cmocka_unit_test(test_vi_only_members_are_unknown_on_cvi_and_vice_versa),
	    cmocka_unit_test(test_wrong_json_types_name_the_path_in_crd_wording),
	    cmocka_unit_test(test_wrong_api_version_or_kind_is_rejected_naming_the_field),
	    cmocka_unit_test(test_empty_upload_is_present_and_absent_members_stay_null),
	    cmocka_unit_test(test_nulls_are_absent_and_zero_times_are_omitted),
	    cmocka_unit_test(test_conditions_encode_as_metav1_condition),
	    cmocka_unit_test(test_status_is_omitted_when_empty_and_cdrom_always_in_it),
	    cmocka_unit_test(test_clone_is_deep_and_encodes_identically),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
