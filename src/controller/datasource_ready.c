/* controller/datasource_ready — is the image's source usable?  Sets the
 * DatasourceReady condition from the import's answer (import.c: a source
 * image for an ObjectRef, the job engine's row check for the others). */
#include "controller/chain.h"

int ctl_handle_datasource_ready(struct ctl_ctx *ctx, struct model_image *img, struct ctl_step *step,
                                struct vim_err *err)
{
	char reason[CTL_REASON_MAX] = "", message[CTL_MESSAGE_MAX] = "";
	struct vim_err derr = {0};
	int64_t now = ctx->clock.now(ctx->clock.self);
	int rc = 1, set;

	(void)step;
	if (img->meta.deletion_timestamp != 0)
		return CTL_CONTINUE;
	/* HTTP and Upload sources are always usable */
	rc = ctl_import_source_check(ctx, img, reason, message, &derr);
	if (rc == 1)
		set = model_condition_set(&img->status, MODEL_COND_DATASOURCE_READY, "True",
		                          "DatasourceReady", "", img->meta.generation, now);
	else if (rc == 0)
		set = model_condition_set(&img->status, MODEL_COND_DATASOURCE_READY, "False",
		                          reason[0] ? reason : "DatasourceNotReady", message,
		                          img->meta.generation, now);
	else
		set = model_condition_set(&img->status, MODEL_COND_DATASOURCE_READY, "Unknown",
		                          MODEL_REASON_UNKNOWN, "", img->meta.generation, now);
	if (set < 0)
		return vim_err_set(err, VIM_ENOMEM, "%s: out of memory", img->meta.name);
	if (rc < 0)
		return vim_err_set(err, rc, "checking the data source: %s", derr.msg);
	return CTL_CONTINUE;
}
