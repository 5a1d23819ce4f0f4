/* model/kind — the static tables: kinds and phases. */
#include "model/model.h"

#include <string.h>

static const struct model_kind_info kinds[] = {
    {MODEL_KIND_VI, "VirtualImage", "virtualimages", "virtualimage", "vi", "virtualization", true,
     "vi", "virtualization.deckhouse.io/vi-cleanup", "VirtualImageLost",
     "VirtualImageLostRecovered"},
    {MODEL_KIND_CVI, "ClusterVirtualImage", "clustervirtualimages", "clustervirtualimage", "cvi",
     "virtualization-cluster", false, "cvi", "virtualization.deckhouse.io/cvi-cleanup",
     "ClusterVirtualImageLost", "ClusterVirtualImageLostRecovered"},
};

const struct model_kind_info *model_kind_info(enum model_kind kind)
{
	return &kinds[kind == MODEL_KIND_CVI ? 1 : 0];
}

const struct model_kind_info *model_kind_lookup(const char *any)
{
	if (!any)
		return NULL;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const struct model_kind_info *k = &kinds[i];
		if (!strcmp(any, k->name) || !strcmp(any, k->plural) || !strcmp(any, k->singular) ||
		    !strcmp(any, k->short_name))
			return k;
	}
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
