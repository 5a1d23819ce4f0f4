/* importer/objectref — an image made from another Ready image: its blobs
 * are mounted into the new repository and the same manifest is put under
 * the new tag; no data is read or written again. */
#include "importer/internal.h"

void *imp_objectref_run(void *arg)
{
	struct job *j = arg;
	struct vim_err err = {0};
	int rc = dvcr_image_copy(j->m->cfg.dvcr, j->src_repo, j->src_tag, j->repo, j->uid, &err);

	imp_job_end(j, rc, rc == VIM_ENOTFOUND, rc == 0 ? &j->src_result : NULL, err.msg);
	return NULL;
}
