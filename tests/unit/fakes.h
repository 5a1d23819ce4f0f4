/*
 * Fakes of the handler interfaces (controller/chain.h) for unit tests:
 * each records what it was asked and answers what the test set.
 * (Only the handlers' outside world is faked; the handlers themselves and
 * the model run for real.)
 */
#ifndef VIM_TESTS_FAKES_H
#define VIM_TESTS_FAKES_H

#include "controller/chain.h"

#define FAKE_EVENTS_MAX 16

struct fake_event {
	char type[16];
	char reason[80];
	char message[256];
};

struct fakes {
	/* checker: answer is CTL_IMAGE_PRESENT/ABSENT or a negative code with
	 * err_msg as the message */
	int check_answer;
	char check_err_msg[128];
	int check_calls;
	char check_url[512];
	/* recorder */
	struct fake_event events[FAKE_EVENTS_MAX];
	int n_events;
	/* clock */
	int64_t now;
	/* writer */
	int status_writes, meta_writes;
	int write_status_rc, write_meta_rc;
	json_t *written_status; /* last status written (owned) */
	/* job engine (ctx->jobs): one job at most, the one of the image under
	 * test; the handler may be driven by setting job/has_job directly */
	bool has_job;
	struct imp_snapshot job;        /* what a poll answers */
	enum imp_job_state start_state; /* a started job's state (RUNNING) */
	int start_rc;                   /* <0: start fails with start_msg */
	bool start_terminal;
	const char *start_msg;
	int sync_calls; /* polls: one per import step that looks at its job */
	int start_calls, cleanup_calls /* cancels */, release_calls, close_calls, note_calls;
	int start_failures; /* failures the last start was given */
	char start_repo[256], start_tag[64], start_src_url[512];
	char start_upload_url[IMP_UPLOAD_URL_MAX]; /* in->upload_url, "" for NULL */
	struct imp_result start_src_result;
	int64_t mono_ms; /* the monotonic clock */
	/* datasource: the job engine's row check; 1 ready, 0 not
	 * (reason/message), <0 error */
	int ds_answer;
	const char *ds_reason, *ds_message;
	/* images (ctx->images): the only other image there is (borrowed; NULL
	 * = none), or images_rc < 0 */
	const struct model_image *other;
	int images_rc, images_calls;
	/* cleaner */
	int remove_calls, remove_rc;
};

/* Zeroes f (now = 1,000,000; mono_ms = 5,000,000; datasource ready; a
 * started job runs) and points every member of ctx at it. */
void fakes_init(struct fakes *f, struct ctl_ctx *ctx);
void fakes_free(struct fakes *f);

#endif
