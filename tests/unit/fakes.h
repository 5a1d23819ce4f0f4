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
	/* importer */
	int sync_calls, cleanup_calls, release_calls;
	int sync_rc, cleanup_rc;
	enum model_phase sync_sets_phase; /* NONE = leave the phase alone */
	/* datasource: 1 ready, 0 not (reason/message), <0 error */
	int ds_answer;
	const char *ds_reason, *ds_message;
	/* cleaner */
	int remove_calls, remove_rc;
};

/* Zeroes f (now = 1,000,000; datasource ready) and points every member of
 * ctx at it. */
void fakes_init(struct fakes *f, struct ctl_ctx *ctx);
void fakes_free(struct fakes *f);

#endif
