/*
 * fuzz target `json`: a request body as the API decodes it (json_loadb,
 * then model_image_from_json), and the canonical re-encode every write
 * stores.  Property: what the model encodes it decodes again, to the same
 * encoding (a stored object must stay readable: write_next decodes it).
 */
#include "fuzz.h"

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_image *img = NULL, *again = NULL;
	struct model_unknown unknown;
	struct vim_err err = {0};
	json_t *obj = NULL, *enc = NULL, *enc2 = NULL;
	char *text = NULL;

	if (size > FUZZ_BODY_MAX)
		return 0;
	obj = json_loadb((const char *)data, size, 0, NULL);
	if (!obj || model_image_from_json(&img, obj, &unknown, &err) < 0)
		goto out;
	FUZZ_CHECK(unknown.len <= MODEL_UNKNOWN_MAX && unknown.len <= unknown.total);
	enc = model_image_to_json(img);
	FUZZ_CHECK(enc != NULL);
	text = json_dumps(enc, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	json_decref(enc);
	/* through text, as the store keeps it */
	enc = json_loads(text, 0, NULL);
	FUZZ_CHECK(enc != NULL);
	if (model_image_from_json(&again, enc, NULL, &err) < 0) {
		fprintf(stderr, "re-decode failed: %s\n%s\n", err.msg, text);
		FUZZ_CHECK(!"the canonical encoding decodes");
	}
	enc2 = model_image_to_json(again);
	FUZZ_CHECK(enc2 != NULL);
	if (!json_equal(enc, enc2)) {
		char *t2 = json_dumps(enc2, JSON_COMPACT);
		fprintf(stderr, "first:  %s\nsecond: %s\n", text, t2 ? t2 : "?");
		free(t2);
		FUZZ_CHECK(!"the canonical encoding is stable");
	}
out:
	free(text);
	json_decref(enc2);
	json_decref(enc);
	json_decref(obj);
	model_image_free(again);
	model_image_free(img);
	return 0;
}
