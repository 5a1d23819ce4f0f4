/*
 * fuzz target `patch`: a PATCH body as do_patch applies it to a copy of a
 * fixed stored VirtualImage — as a JSON patch (application/json-patch+json)
 * and as a merge patch (merge-patch+json, and apply-patch+yaml, which is a
 * merge too) — then the decode and update validation write_next runs on
 * the result.  The body is JSON, else YAML, as parse_body reads it.
 */
#include "fuzz.h"

#include "api/api.h"
#include "model/model.h"

static const char stored_vi[] =
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"ubuntu\",\"namespace\":\"default\",\"uid\":"
    "\"6f1c2d0e-1111-4222-8333-444455556666\",\"resourceVersion\":\"7\",\"generation\":1,"
    "\"creationTimestamp\":\"2026-01-02T03:04:05Z\",\"labels\":{\"app\":\"web\"},"
    "\"annotations\":{\"a/b\":\"c\"},\"finalizers\":[\"virtualization.deckhouse.io/vi-cleanup\"]},"
    "\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{\"type\":\"HTTP\",\"http\":"
    "{\"url\":\"https://example.com/ubuntu.img\"}}},"
    "\"status\":{\"phase\":\"Ready\",\"format\":\"qcow2\",\"observedGeneration\":1,"
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Ready\"}]}}";

/* What write_next does with the patched document. */
static void write_next(const json_t *stored, const json_t *next)
{
	struct model_image *old = NULL, *img = NULL;
	struct model_causes causes;
	struct vim_err err = {0};
	json_t *enc = NULL;

	if (!json_is_object(next) || model_image_from_json(&img, next, NULL, &err) < 0)
		goto out;
	FUZZ_CHECK(model_image_from_json(&old, stored, NULL, &err) == 0);
	model_apply_defaults(img);
	if (img->kind == old->kind)
		(void)model_validate_update(old, img, &causes);
	enc = model_image_to_json(img);
	FUZZ_CHECK(enc != NULL);
out:
	json_decref(enc);
	model_image_free(old);
	model_image_free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vim_err err = {0};
	json_t *stored = NULL, *patch = NULL, *next = NULL;

	if (size > FUZZ_BODY_MAX)
		return 0;
	patch = json_loadb((const char *)data, size, 0, NULL);
	if (!patch && model_yaml_to_json(&patch, (const char *)data, size, &err) < 0)
		goto out;
	stored = json_loads(stored_vi, 0, NULL);
	FUZZ_CHECK(stored != NULL);

	next = json_deep_copy(stored);
	if (api_json_patch(&next, patch, FUZZ_BODY_MAX, &err) == 0)
		write_next(stored, next);
	else
		FUZZ_CHECK(err.msg[0] != '\0');
	json_decref(next);

	next = api_merge_patch(json_deep_copy(stored), patch);
	write_next(stored, next);
out:
	json_decref(next);
	json_decref(patch);
	json_decref(stored);
	return 0;
}
