/* importer/objectref — an image made from another Ready image: its blobs
 * are mounted into the new repository and the same manifest is put under
 * the new tag; no data is read or written again.  The controller finds the
 * source image (it owns the images); the job gets its DVCR address. */
#include "importer/internal.h"

#include <stdio.h>

static void *objectref_run(void *arg)
{
	struct job *j = arg;
	struct vim_err err = {0};
	int rc = dvcr_image_copy(j->m->cfg.dvcr, j->src_repo, j->src_tag, j->repo, j->uid, &err);

	imp_job_end(j, rc, rc == VIM_ENOTFOUND, rc == 0 ? &j->src_result : NULL, err.msg);
	return NULL;
}

static int objectref_prepare(struct job *j, const struct imp_job_input *in, bool *terminal,
                             struct vim_err *err)
{
	struct dvcr_ref ref;
	int rc;

	(void)terminal; /* the source image may be fixed: retried */
	if (in->src_error)
		return vim_err_set(err, VIM_EUPSTREAM, "%s", in->src_error);
	if (!in->src_registry_url)
		return vim_err_set(err, VIM_EUPSTREAM, "the source image has no registry URL");
	if ((rc = dvcr_ref_parse(in->src_registry_url, &ref, err)) < 0)
		return rc;
	snprintf(j->src_repo, sizeof(j->src_repo), "%s", ref.repo);
	snprintf(j->src_tag, sizeof(j->src_tag), "%s", ref.tag);
	j->src_result = in->src_result;
	return 0;
}

const struct imp_source imp_source_objectref = {MODEL_DS_OBJECT_REF, NULL, objectref_prepare,
                                                objectref_run};
