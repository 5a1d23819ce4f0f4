/*
 * fuzz target `selector`: ?labelSelector= and ?fieldSelector= as a LIST or
 * a WATCH hands them to store_selector_parse, then the match every listed
 * row and every watch event goes through.  The input is tried as a label
 * selector, as a field selector, and, when it holds a newline, as
 * "label\nfield" together; against the image resources and against events
 * (their field keys differ).  Query values reach the store as C strings,
 * so the input is cut at its first NUL.
 */
#include "fuzz.h"

#include "store/internal.h"

static const char vi_json[] =
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"ubuntu\",\"namespace\":\"default\",\"labels\":{\"app\":\"web\","
    "\"tier\":\"db\",\"example.com/role\":\"x\",\"empty\":\"\"}},"
    "\"status\":{\"phase\":\"Ready\"}}";
static const char event_json[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"ubuntu.1\","
    "\"namespace\":\"default\"},\"involvedObject\":{\"kind\":\"VirtualImage\",\"name\":"
    "\"ubuntu\",\"namespace\":\"default\",\"uid\":\"u-1\"},\"reason\":\"Ready\",\"type\":"
    "\"Normal\",\"source\":{\"component\":\"vimaged\"}}";

static void one(const char *resource, const char *label, const char *field, const json_t *a,
                const json_t *b)
{
	struct store_selector *sel = NULL;
	struct vim_err err = {0};

	if (store_selector_parse(&sel, resource, label, field, &err) < 0) {
		FUZZ_CHECK(sel == NULL && err.msg[0] != '\0');
		return;
	}
	(void)store_selector_match(sel, a);
	(void)store_selector_match(sel, b);
	store_selector_free(sel);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const resources[] = {"virtualimages", "events"};
	json_t *vi = json_loads(vi_json, 0, NULL), *ev = json_loads(event_json, 0, NULL);
	char *s = NULL, *nl;
	size_t i;

	FUZZ_CHECK(vi && ev);
	if (size > 8192) /* MHD's default URL bound: longer never arrives */
		goto out;
	if (!(s = fuzz_cstr(data, size)))
		goto out;
	for (i = 0; i < sizeof(resources) / sizeof(resources[0]); i++) {
		one(resources[i], s, NULL, vi, ev);
		one(resources[i], NULL, s, vi, ev);
	}
	if ((nl = strchr(s, '\n'))) {
		*nl = '\0';
		for (i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
			one(resources[i], s, nl + 1, vi, ev);
	}
out:
	free(s);
	json_decref(vi);
	json_decref(ev);
	return 0;
}
