/*
 * ImagePresence: lifecycle.md's acceptance cases 1-12, for VirtualImage and
 * ClusterVirtualImage (case 2 is VI-only).  Each case asserts the phase, the
 * Ready condition (status, reason, message, lastTransitionTime), the
 * requeue, the events, the checker's calls, and that every other status
 * field stays byte-identical.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakes.h"

#define NOW 1000000
#define URL_VI "dvcr.example.com/vi/test/img:abc123"
#define URL_CVI "dvcr.example.com/cvi/img:abc123"
#define KEEP_ERR -1000 /* "no error expected" marker */

enum cond_kind { COND_NONE = 0, COND_TRUE, COND_FALSE_LOST, COND_ZERO_TIME };

struct pcase {
	const char *name;
	enum model_kind kind;
	enum model_phase phase;
	const char *storage; /* VI: NULL = absent (ContainerRegistry) */
	bool empty_url;
	enum cond_kind ready; /* the Ready condition before */
	int64_t ready_age_s;  /* its lastTransitionTime = NOW - age */
	int checker;          /* answer; negative = error "connection refused" */
	/* expected */
	bool checker_called;
	enum model_phase want_phase;
	bool changed; /* phase and Ready condition changed */
	const char *want_status, *want_reason, *want_message;
	int64_t want_ltt;
	int64_t want_requeue_ms;
	const char *want_event_type, *want_event_reason, *want_event_message;
	bool want_error;
};

static struct model_image *make_image(const struct pcase *c)
{
	struct model_image *img = model_image_new(c->kind);
	struct model_status *st = &img->status;

	assert_non_null(img);
	model_set_str(&img->meta.name, "img");
	if (c->kind == MODEL_KIND_VI)
		model_set_str(&img->meta.namespace, "test");
	model_set_str(&img->meta.uid, "abc123");
	img->meta.generation = 1;
	if (c->kind == MODEL_KIND_VI)
		model_set_str(&img->spec.storage, c->storage ? c->storage : "ContainerRegistry");
	model_set_str(&img->spec.data_source.type, "HTTP");
	st->phase = c->phase;
	st->observed_generation = 1;
	model_set_str(&st->progress, "100%");
	model_set_str(&st->size_stored, "199.8Mi");
	model_set_str(&st->size_stored_bytes, "209505484");
	model_set_str(&st->size_unpacked, "2Gi");
	model_set_str(&st->size_unpacked_bytes, "2147483648");
	model_set_str(&st->format, "qcow2");
	st->cdrom = false;
	model_set_str(&st->source_uid, "src-uid-1");
	model_set_str(&st->target_registry_url, c->empty_url               ? ""
	                                        : c->kind == MODEL_KIND_VI ? URL_VI
	                                                                   : URL_CVI);
	/* A second condition the handler must never touch. */
	model_condition_set(st, MODEL_COND_DATASOURCE_READY, "True", "DatasourceReady", "", 1,
	                    NOW - 5000);
	switch (c->ready) {
	case COND_TRUE:
		model_condition_set(st, MODEL_COND_READY, "True", "Ready", "", 1,
		                    NOW - c->ready_age_s);
		break;
	case COND_FALSE_LOST:
		model_condition_set(st, MODEL_COND_READY, "False", "ImageLost",
		                    MODEL_MSG_IMAGE_LOST, 1, NOW - c->ready_age_s);
		break;
	case COND_ZERO_TIME:
		model_condition_set(st, MODEL_COND_READY, "False", "ImageLost",
		                    MODEL_MSG_IMAGE_LOST, 1, 0);
		break;
	case COND_NONE:
		break;
	}
	return img;
}

/* The status as JSON text without phase and the Ready condition: what the
 * handler must leave byte-identical. */
static char *rest_of_status(const struct model_image *img)
{
	json_t *st = model_status_to_json(&img->status, img->kind), *conds, *c;
	size_t i;
	char *text;

	json_object_del(st, "phase");
	conds = json_object_get(st, "conditions");
	json_array_foreach(conds, i, c)
	{
		if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0) {
			json_array_remove(conds, i);
			break;
		}
	}
	text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return text;
}

static char *whole_status(const struct model_image *img)
{
	json_t *st = model_status_to_json(&img->status, img->kind);
	char *text = json_dumps(st, JSON_COMPACT);
	json_decref(st);
	return text;
}

static void run_case(void **state)
{
	const struct pcase *c = *state;
	struct model_image *img = make_image(c);
	const struct model_condition *before = model_condition_get(&img->status, "Ready");
	struct model_condition ready_before = before ? *before : (struct model_condition){0};
	char *rest_before = rest_of_status(img), *all_before = whole_status(img), *rest_after,
	     *all_after;
	struct ctl_ctx ctx;
	struct ctl_step step = {0};
	struct fakes f;
	struct vim_err err = {0};
	const struct model_condition *r;
	int rc;

	fakes_init(&f, &ctx);
	f.now = NOW;
	f.check_answer = c->checker;
	snprintf(f.check_err_msg, sizeof(f.check_err_msg),
	         "dial tcp 10.0.0.1:5000: connection refused");

	rc = ctl_handle_image_presence(&ctx, img, &step, &err);

	/* error or not */
	if (c->want_error) {
		assert_true(rc < 0);
		assert_non_null(strstr(err.msg, "connection refused"));
		assert_non_null(strstr(err.msg, "failed to check image existence in DVCR"));
	} else {
		assert_int_equal(rc, CTL_CONTINUE);
	}
	/* the checker */
	assert_int_equal(f.check_calls, c->checker_called ? 1 : 0);
	if (c->checker_called)
		assert_string_equal(f.check_url, c->kind == MODEL_KIND_VI ? URL_VI : URL_CVI);
	/* phase and requeue */
	assert_int_equal(img->status.phase, c->want_phase);
	assert_int_equal(step.requeue_after_ms, c->want_requeue_ms);
	/* the Ready condition */
	r = model_condition_get(&img->status, "Ready");
	if (c->changed) {
		assert_non_null(r);
		assert_string_equal(r->status, c->want_status);
		assert_string_equal(r->reason, c->want_reason);
		assert_string_equal(r->message, c->want_message);
		assert_int_equal(r->last_transition_time, c->want_ltt);
		assert_int_equal(r->observed_generation, 1);
	} else if (before) {
		assert_non_null(r);
		assert_string_equal(r->status, ready_before.status);
		assert_string_equal(r->reason, ready_before.reason);
		assert_int_equal(r->last_transition_time, ready_before.last_transition_time);
	} else {
		assert_null(r);
	}
	/* events */
	if (c->want_event_reason) {
		assert_int_equal(f.n_events, 1);
		assert_string_equal(f.events[0].type, c->want_event_type);
		assert_string_equal(f.events[0].reason, c->want_event_reason);
		assert_string_equal(f.events[0].message, c->want_event_message);
	} else {
		assert_int_equal(f.n_events, 0);
	}
	/* everything else byte-identical; with no change, all of it */
	rest_after = rest_of_status(img);
	assert_string_equal(rest_after, rest_before);
	all_after = whole_status(img);
	if (!c->changed)
		assert_string_equal(all_after, all_before);
	free(rest_before);
	free(rest_after);
	free(all_before);
	free(all_after);
	fakes_free(&f);
	model_image_free(img);
}

#define LOST_MSG MODEL_MSG_IMAGE_LOST
#define REC_MSG MODEL_MSG_RECOVERED

/* The twelve cases for one kind; lost/recovered event names per kind. */
#define CASES(K, KN, LOSTEV, RECEV)                                                                \
	{"case 1 " KN ": Pending is skipped, checker not called",                                  \
	 K,                                                                                        \
	 MODEL_PHASE_PENDING,                                                                      \
	 NULL,                                                                                     \
	 false,                                                                                    \
	 COND_NONE,                                                                                \
	 0,                                                                                        \
	 CTL_IMAGE_ABSENT,                                                                         \
	 false,                                                                                    \
	 MODEL_PHASE_PENDING,                                                                      \
	 false,                                                                                    \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 0,                                                                                        \
	 0,                                                                                        \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 NULL,                                                                                     \
	 false},                                                                                   \
	    {"case 3 " KN ": Ready with an empty registryURL is skipped",                          \
	     K,                                                                                    \
	     MODEL_PHASE_READY,                                                                    \
	     NULL,                                                                                 \
	     true,                                                                                 \
	     COND_TRUE,                                                                            \
	     100,                                                                                  \
	     CTL_IMAGE_ABSENT,                                                                     \
	     false,                                                                                \
	     MODEL_PHASE_READY,                                                                    \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     0,                                                                                    \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	    {"case 4 " KN ": Ready + absent -> ImageLost, requeue 15s, Warning event",             \
	     K,                                                                                    \
	     MODEL_PHASE_READY,                                                                    \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_TRUE,                                                                            \
	     100,                                                                                  \
	     CTL_IMAGE_ABSENT,                                                                     \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     true,                                                                                 \
	     "False",                                                                              \
	     "ImageLost",                                                                          \
	     LOST_MSG,                                                                             \
	     NOW,                                                                                  \
	     15000,                                                                                \
	     "Warning",                                                                            \
	     LOSTEV,                                                                               \
	     LOST_MSG,                                                                             \
	     false},                                                                               \
	    {"case 5 " KN ": ImageLost just now + present -> Ready, recovered event",              \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_FALSE_LOST,                                                                      \
	     0,                                                                                    \
	     CTL_IMAGE_PRESENT,                                                                    \
	     true,                                                                                 \
	     MODEL_PHASE_READY,                                                                    \
	     true,                                                                                 \
	     "True",                                                                               \
	     "Ready",                                                                              \
	     "",                                                                                   \
	     NOW,                                                                                  \
	     0,                                                                                    \
	     "Normal",                                                                             \
	     RECEV,                                                                                \
	     REC_MSG,                                                                              \
	     false},                                                                               \
	    {"case 6 " KN ": ImageLost + absent stays lost, requeue 15s",                          \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_FALSE_LOST,                                                                      \
	     3,                                                                                    \
	     CTL_IMAGE_ABSENT,                                                                     \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     15000,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	    {"case 7 " KN ": Ready + present stays Ready, no requeue, no event",                   \
	     K,                                                                                    \
	     MODEL_PHASE_READY,                                                                    \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_TRUE,                                                                            \
	     500,                                                                                  \
	     CTL_IMAGE_PRESENT,                                                                    \
	     true,                                                                                 \
	     MODEL_PHASE_READY,                                                                    \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     0,                                                                                    \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	    {"case 8 " KN ": Ready + registry error -> error, stays Ready",                        \
	     K,                                                                                    \
	     MODEL_PHASE_READY,                                                                    \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_TRUE,                                                                            \
	     100,                                                                                  \
	     VIM_EUPSTREAM,                                                                        \
	     true,                                                                                 \
	     MODEL_PHASE_READY,                                                                    \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     0,                                                                                    \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     true},                                                                                \
	    {"case 9 " KN ": lost 2 min ago + absent -> requeue 2 min",                            \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_FALSE_LOST,                                                                      \
	     120,                                                                                  \
	     CTL_IMAGE_ABSENT,                                                                     \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     120000,                                                                               \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	    {"case 10 " KN ": lost 1 h ago + absent -> requeue 5 min",                             \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_FALSE_LOST,                                                                      \
	     3600,                                                                                 \
	     CTL_IMAGE_ABSENT,                                                                     \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     300000,                                                                               \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	    {"case 11 " KN ": ImageLost + registry error -> error, stays lost, no event",          \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_FALSE_LOST,                                                                      \
	     30,                                                                                   \
	     VIM_EUPSTREAM,                                                                        \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     0,                                                                                    \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     true},                                                                                \
	    {"case 12 " KN ": ImageLost, Ready condition missing + absent -> requeue 15s",         \
	     K,                                                                                    \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     NULL,                                                                                 \
	     false,                                                                                \
	     COND_NONE,                                                                            \
	     0,                                                                                    \
	     CTL_IMAGE_ABSENT,                                                                     \
	     true,                                                                                 \
	     MODEL_PHASE_IMAGE_LOST,                                                               \
	     false,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     0,                                                                                    \
	     15000,                                                                                \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     NULL,                                                                                 \
	     false},                                                                               \
	{                                                                                          \
		"case 12 " KN ": ImageLost, Ready time zero + absent -> requeue 15s", K,           \
		    MODEL_PHASE_IMAGE_LOST, NULL, false, COND_ZERO_TIME, 0, CTL_IMAGE_ABSENT,      \
		    true, MODEL_PHASE_IMAGE_LOST, false, NULL, NULL, NULL, 0, 15000, NULL, NULL,   \
		    NULL, false                                                                    \
	}

static const struct pcase cases[] = {
    CASES(MODEL_KIND_VI, "VI", "VirtualImageLost", "VirtualImageLostRecovered"),
    {"case 2 VI: Ready with PersistentVolumeClaim storage is skipped",
     MODEL_KIND_VI,
     MODEL_PHASE_READY,
     "PersistentVolumeClaim",
     false,
     COND_TRUE,
     100,
     CTL_IMAGE_ABSENT,
     false,
     MODEL_PHASE_READY,
     false,
     NULL,
     NULL,
     NULL,
     0,
     0,
     NULL,
     NULL,
     NULL,
     false},
    CASES(MODEL_KIND_CVI, "CVI", "ClusterVirtualImageLost", "ClusterVirtualImageLostRecovered"),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

int main(void)
{
	struct CMUnitTest tests[NCASES];
	size_t i;

	for (i = 0; i < NCASES; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	return _cmocka_run_group_tests("presence", tests, NCASES, NULL, NULL);
}
