/*
 * model/validate_update — how an image may change: metadata always; the
 * spec before the image is provisioned; the data source (and storage
 * class) never once it is Ready, ImageLost or PVCLost; nothing while it is
 * being deleted.  Upstream's webhook messages, verbatim.
 */
#include "model/validate_internal.h"

#include <string.h>

#define FORB "FieldValueForbidden"

/* Compares one member of both specs through the codec, so every field the
 * model knows counts and none is forgotten here. */
static bool spec_member_equal(const struct model_image *a, const struct model_image *b,
                              const char *member)
{
	json_t *ja = model_image_to_json(a), *jb = model_image_to_json(b);
	json_t *sa = json_object_get(ja, "spec"), *sb = json_object_get(jb, "spec");
	bool same;

	if (member) {
		sa = json_object_get(sa, member);
		sb = json_object_get(sb, member);
	}
	same = (!sa && !sb) || (sa && sb && json_equal(sa, sb));
	json_decref(ja);
	json_decref(jb);
	return same;
}

static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool provisioned(const struct model_image *img)
{
	const struct model_condition *r = model_condition_get(&img->status, MODEL_COND_READY);
	enum model_phase p = img->status.phase;

	return (r && same_str(r->status, "True")) || p == MODEL_PHASE_READY ||
	       p == MODEL_PHASE_IMAGE_LOST || p == MODEL_PHASE_PVC_LOST;
}

int model_validate_update(const struct model_image *old, const struct model_image *new,
                          struct model_causes *causes)
{
	const char *kind = model_kind_info(new->kind)->name;
	int unsupported = 0;

	causes->len = 0;
	/* metadata is validated on every update (kube's validateCommonFields) */
	val_meta_update(old, new, causes);
	if (spec_member_equal(old, new, NULL))
		return causes->len ? VIM_EINVAL : 0; /* metadata-only changes */
	if (old->meta.deletion_timestamp != 0) {
		model_causes_add(causes, "spec", FORB,
		                 "Forbidden: spec cannot be changed if the %s is the process of "
		                 "termination",
		                 kind);
		return VIM_EINVAL;
	}
	if (provisioned(old)) {
		/* Upstream protects a CVI only while Ready; an ImageLost CVI is
		 * protected here too, since its data may still come back. */
		if (new->kind == MODEL_KIND_CVI) {
			model_causes_add(causes, "spec", FORB,
			                 "Forbidden: ClusterVirtualImage is in a Ready state: "
			                 "configuration changes are not available");
			return VIM_EINVAL;
		}
		if (!spec_member_equal(old, new, "dataSource"))
			model_causes_add(causes, "spec.dataSource", FORB,
			                 "Forbidden: data source cannot be changed if the "
			                 "VirtualImage has already been provisioned");
		if (!same_str(old->spec.storage_class_name, new->spec.storage_class_name))
			model_causes_add(causes, "spec.persistentVolumeClaim.storageClassName",
			                 FORB,
			                 "Forbidden: storage class cannot be changed if the "
			                 "VirtualImage has already been provisioned");
		if (causes->len)
			return VIM_EINVAL;
	}
	val_spec(new, causes, &unsupported);
	if (causes->len == 0)
		return 0;
	return (size_t)unsupported == causes->len ? VIM_EUNSUPPORTED : VIM_EINVAL;
}
