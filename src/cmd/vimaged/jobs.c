/*
 * vimaged/jobs — the import job engine (importer/) behind the controller's
 * ctl_jobs interface: each member hands its call to the imp_job_*
 * function of the same name, so neither module includes the other.
 */
#include "vimaged.h"

static int j_start(void *self, const struct imp_job_input *in, int failures,
                   struct imp_snapshot *out, bool *terminal, struct vim_err *err)
{
	return imp_job_start(self, in, failures, out, terminal, err);
}

static int j_poll(void *self, const char *uid, struct imp_snapshot *out)
{
	return imp_job_poll(self, uid, out);
}

static void j_cancel(void *self, const char *uid)
{
	imp_job_cancel(self, uid);
}

static void j_release(void *self, const char *uid)
{
	imp_job_release(self, uid);
}

static void j_close_upload(void *self, const char *uid)
{
	imp_job_close_upload(self, uid);
}

static void j_note(void *self, const char *uid, int failures, int64_t retry_at_ms)
{
	imp_job_note(self, uid, failures, retry_at_ms);
}

static int j_check(void *self, const struct imp_job_input *in, char reason[CTL_REASON_MAX],
                   char message[CTL_MESSAGE_MAX], struct vim_err *err)
{
	return imp_source_check(self, in, reason, message, err);
}

struct ctl_jobs wiring_jobs(struct imp_manager *m, int64_t upload_timeout_s)
{
	struct ctl_jobs j = {
	    .start = j_start,
	    .poll = j_poll,
	    .cancel = j_cancel,
	    .release = j_release,
	    .close_upload = j_close_upload,
	    .note = j_note,
	    .check = j_check,
	    .self = m,
	    .dvcr_host = imp_manager_dvcr_host(m),
	    .upload_timeout_s = upload_timeout_s,
	};
	return j;
}
