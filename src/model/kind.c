/*
 * model/kind — the static tables: kinds and phases.
 *
 * Adding a kind is its enum value (model.h) and its row here: discovery,
 * OpenAPI, Tables, list/watch, field selectors, the store's names, the
 * namespace backfill and sweep, the controller's caches and queue keys,
 * /metrics and vimagectl read the row.  Only where its shape differs from
 * the image kinds does it name itself: the field rows of model/json.c and
 * api/schema_openapi.c and the printer columns of api/schema_table.c carry
 * kind bits (MODEL_KIND_BIT), with "all kinds" the default.
 * tests/unit/test_kind.c checks that every row is served.
 */
#include "model/model.h"

#include <string.h>

#define KIND_SCHEMA_PREFIX "io.deckhouse.virtualization." MODEL_VERSION "."

/* kube-apiserver serves these three for every custom resource; status.phase
 * is the CRDs' selectableFields. */
static const char *const image_field_selectors[] = {"metadata.name", "metadata.namespace",
                                                    "status.phase", NULL};

/* Indexed by enum model_kind.  Upstream's CRDs put VI alone in the
 * "virtualization" category (so `kubectl get virtualization` lists VIs) and
 * CVI in "virtualization-cluster". */
static const struct model_kind_info kinds[MODEL_KIND__COUNT] = {
    [MODEL_KIND_VI] =
        {
            .kind = MODEL_KIND_VI,
            .group = MODEL_GROUP,
            .version = MODEL_VERSION,
            .api_version = MODEL_API_VERSION,
            .name = "VirtualImage",
            .list_kind = "VirtualImageList",
            .plural = "virtualimages",
            .singular = "virtualimage",
            .short_name = "vi",
            .category = "virtualization",
            .namespaced = true,
            .has_status = true,
            .qualified = "virtualimages." MODEL_GROUP,
            .schema_name = KIND_SCHEMA_PREFIX "VirtualImage",
            .description = "A disk image in a namespace, imported from an HTTP server, a "
                           "container registry, another image or an upload, and kept in DVCR "
                           "for virtual machines. This resource cannot be modified once it has "
                           "been created.",
            .field_selectors = image_field_selectors,
            .repo_prefix = "vi",
            .cleanup_finalizer = "virtualization.deckhouse.io/vi-cleanup",
            .lost_event = "VirtualImageLost",
            .recovered_event = "VirtualImageLostRecovered",
        },
    [MODEL_KIND_CVI] =
        {
            .kind = MODEL_KIND_CVI,
            .group = MODEL_GROUP,
            .version = MODEL_VERSION,
            .api_version = MODEL_API_VERSION,
            .name = "ClusterVirtualImage",
            .list_kind = "ClusterVirtualImageList",
            .plural = "clustervirtualimages",
            .singular = "clustervirtualimage",
            .short_name = "cvi",
            .category = "virtualization-cluster",
            .namespaced = false,
            .has_status = true,
            .qualified = "clustervirtualimages." MODEL_GROUP,
            .schema_name = KIND_SCHEMA_PREFIX "ClusterVirtualImage",
            .description = "A cluster-wide disk image usable from every namespace, kept in "
                           "DVCR. This resource cannot be modified once it has been created.",
            .field_selectors = image_field_selectors,
            .repo_prefix = "cvi",
            .cleanup_finalizer = "virtualization.deckhouse.io/cvi-cleanup",
            .lost_event = "ClusterVirtualImageLost",
            .recovered_event = "ClusterVirtualImageLostRecovered",
        },
};

const struct model_kind_info *model_kind_info(enum model_kind kind)
{
	return &kinds[(unsigned)kind < MODEL_KIND__COUNT ? kind : 0];
}

const struct model_kind_info *model_kind_lookup(const char *any)
{
	if (!any)
		return NULL;
	for (size_t i = 0; i < MODEL_KIND__COUNT; i++) {
		const struct model_kind_info *k = &kinds[i];
		if (!strcmp(any, k->name) || !strcmp(any, k->plural) || !strcmp(any, k->singular) ||
		    !strcmp(any, k->short_name))
			return k;
	}
	return NULL;
}

const struct model_kind_info *model_kind_by_repo_prefix(const char *prefix, size_t len)
{
	for (size_t i = 0; prefix && i < MODEL_KIND__COUNT; i++)
		if (strlen(kinds[i].repo_prefix) == len &&
		    !strncmp(prefix, kinds[i].repo_prefix, len))
			return &kinds[i];
	return NULL;
}

static const char *const phase_names[MODEL_PHASE__COUNT] = {
    [MODEL_PHASE_NONE] = "",
    [MODEL_PHASE_PENDING] = "Pending",
    [MODEL_PHASE_PROVISIONING] = "Provisioning",
    [MODEL_PHASE_WAIT_FOR_USER_UPLOAD] = "WaitForUserUpload",
    [MODEL_PHASE_READY] = "Ready",
    [MODEL_PHASE_FAILED] = "Failed",
    [MODEL_PHASE_TERMINATING] = "Terminating",
    [MODEL_PHASE_IMAGE_LOST] = "ImageLost",
    [MODEL_PHASE_PVC_LOST] = "PVCLost",
};

const char *model_phase_name(enum model_phase p)
{
	if ((unsigned)p >= MODEL_PHASE__COUNT)
		return "";
	return phase_names[p];
}

int model_phase_parse(const char *text, enum model_phase *out)
{
	if (!text)
		text = "";
	for (int i = 0; i < MODEL_PHASE__COUNT; i++) {
		if (!strcmp(text, phase_names[i])) {
			*out = (enum model_phase)i;
			return 0;
		}
	}
	return VIM_EINVAL;
}
