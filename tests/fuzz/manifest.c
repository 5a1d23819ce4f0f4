/*
 * fuzz target `manifest`: the body a registry answers to GET
 * /v2/<repo>/manifests/<ref> when a ContainerImage is pulled
 * (importer/registry.c).  get_manifest reads at most IMP_MANIFEST_MAX bytes
 * and hands them to json_loadb; imp_manifest_read then picks the
 * linux/amd64 child of an index, or takes an image's layers.  Both ways
 * the pull reads it are tried: as the first manifest (an index allowed)
 * and as the child an index named (an index read as an image).
 * Properties: an index yields a child and no layers; an image yields 1 to
 * IMP_LAYERS_MAX layers, each digest non-empty and terminated inside its
 * buffer, and a total that is the sum of the sizes without wrapping; a
 * refusal says why.
 */
#include "fuzz.h"

#include "importer/internal.h"

static void read_as(const json_t *m, bool index_ok)
{
	struct imp_manifest *man = malloc(sizeof(*man));
	struct vim_err err = {0};
	uint64_t sum = 0;
	int i;

	FUZZ_CHECK(man);
	if (imp_manifest_read(m, index_ok, "registry.example/repo:tag", man, &err) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0');
		goto out;
	}
	FUZZ_CHECK(memchr(man->child, 0, sizeof(man->child)));
	if (man->child[0]) {
		FUZZ_CHECK(index_ok && man->nlayers == 0 && man->total == 0);
		goto out;
	}
	FUZZ_CHECK(man->nlayers >= 1 && man->nlayers <= IMP_LAYERS_MAX);
	for (i = 0; i < man->nlayers; i++) {
		FUZZ_CHECK(man->layers[i].digest[0] &&
		           memchr(man->layers[i].digest, 0, sizeof(man->layers[i].digest)));
		FUZZ_CHECK(man->layers[i].size <= (uint64_t)1 << 56);
		sum += man->layers[i].size;
	}
	FUZZ_CHECK(sum == man->total);
out:
	free(man);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *m;

	if (size > IMP_MANIFEST_MAX) /* dvcr_manifest_get refuses a bigger body */
		return 0;
	if (!(m = json_loadb((const char *)data, size, 0, NULL)))
		return 0;
	read_as(m, true);
	read_as(m, false);
	json_decref(m);
	return 0;
}
