/*
 * fuzz target `yaml`: a request body that is not JSON, as parse_body hands
 * it to model_yaml_to_json (kubectl create -f x.yaml), then the decode the
 * write does.  Property: a success returns a JSON value that json_dumps
 * can write (the API replies with it).
 */
#include "fuzz.h"

#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct model_image *img = NULL;
	struct model_unknown unknown;
	struct vim_err err = {0};
	json_t *j = NULL;
	char *text = NULL;

	if (size > FUZZ_BODY_MAX)
		return 0;
	if (model_yaml_to_json(&j, (const char *)data, size, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0'); /* a refusal says why */
		goto out;
	}
	FUZZ_CHECK(j != NULL);
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	FUZZ_CHECK(text != NULL);
	if (json_is_object(j))
		(void)model_image_from_json(&img, j, &unknown, &err);
out:
	free(text);
	json_decref(j);
	model_image_free(img);
	return 0;
}
