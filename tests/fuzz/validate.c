/*
 * fuzz target `validate`: a create as do_create runs it — the body as JSON
 * (else YAML), decoded, defaulted, validated; and an update of a fixed
 * Ready VirtualImage into the decoded object (model_validate_update).
 * Property: a refusal names at least one cause, within the bound.
 */
#include "fuzz.h"

#include "model/model.h"

static const char stored_vi[] =
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"ubuntu\",\"namespace\":\"default\",\"uid\":"
    "\"6f1c2d0e-1111-4222-8333-444455556666\",\"resourceVersion\":\"7\",\"generation\":1,"
    "\"labels\":{\"app\":\"web\"},\"finalizers\":[\"virtualization.deckhouse.io/vi-cleanup\"]},"
    "\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{\"type\":\"HTTP\",\"http\":"
    "{\"url\":\"https://example.com/ubuntu.img\"}}},"
    "\"status\":{\"phase\":\"Ready\",\"format\":\"qcow2\",\"observedGeneration\":1}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_image *img = NULL, *old = NULL;
	struct model_causes causes;
	struct vim_err err = {0};
	json_t *body = NULL, *oldj = NULL;
	int rc;

	if (size > FUZZ_BODY_MAX)
		return 0;
	body = json_loadb((const char *)data, size, 0, NULL);
	if (!body && model_yaml_to_json(&body, (const char *)data, size, &err) < 0)
		goto out;
	if (!json_is_object(body) || model_image_from_json(&img, body, NULL, &err) < 0)
		goto out;
	model_apply_defaults(img);
	memset(&causes, 0, sizeof(causes));
	rc = model_validate_create(img, &causes);
	FUZZ_CHECK(causes.len <= MODEL_CAUSES_MAX);
	FUZZ_CHECK(rc == 0 || causes.len > 0);
	if (img->kind != MODEL_KIND_VI)
		goto out; /* decode() refuses a kind that is not the route's */
	oldj = json_loads(stored_vi, 0, NULL);
	FUZZ_CHECK(oldj && model_image_from_json(&old, oldj, NULL, &err) == 0);
	memset(&causes, 0, sizeof(causes));
	rc = model_validate_update(old, img, &causes);
	FUZZ_CHECK(causes.len <= MODEL_CAUSES_MAX);
	FUZZ_CHECK(rc == 0 || causes.len > 0);
out:
	json_decref(oldj);
	json_decref(body);
	model_image_free(old);
	model_image_free(img);
	return 0;
}
