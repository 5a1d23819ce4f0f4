/*
 * ha/ha_internal — what ha.c (the thread: lease, record, campaign),
 * ha_record.c (the JSON values, a put whatever is there, the replica
 * list) and ha_token.c share.  Not a contract: only src/ha/ includes it.
 */
#ifndef VIM_HA_INTERNAL_H
#define VIM_HA_INTERNAL_H

#include "ha/ha.h"
#include "core/digest.h"

#include <pthread.h>

#define HA_RES_REPLICAS "replicas"
#define HA_RES_LEADER "leader"
#define HA_RES_TOKENS "tokens"
#define HA_LEADER_NAME "controllers"

#define HA_KIND_MAX 32

struct ha_token {
	char kind[HA_KIND_MAX];
	unsigned char sum[VIM_SHA256_LEN];
};

struct ha {
	/* set by ha_start, read-only after */
	struct store_kv *kv;
	char id[HA_ID_MAX], api_url[HA_URL_MAX], external_url[HA_URL_MAX];
	int64_t ttl_ms, poll_ms;
	int64_t started; /* unix seconds */
	void (*changed)(void *arg, bool leading);
	void *arg;
	struct store_fence fence; /* rev and until_ms written by the thread only */

	pthread_mutex_t mu; /* guards what follows, up to the thread's own */
	pthread_cond_t cv;  /* CLOCK_MONOTONIC: ha_stop wakes the thread */
	bool stop;
	bool leading;
	int64_t since;    /* unix seconds, while leading */
	bool have_leader; /* leader holds the last leader key seen */
	struct ha_replica leader;
	char last_leader_id[HA_ID_MAX]; /* for transitions: "" before the first */
	uint64_t transitions, lease_losses;

	/* the thread's own: no lock */
	pthread_t thread;
	bool thread_started;
	int64_t lease;         /* 0 = none (lost): grant another */
	bool recorded;         /* replicas/<id> is written under lease */
	int64_t renewed_ms;    /* send time of the last successful grant/keepalive */
	int64_t next_renew_ms; /* when to send the next keepalive */
	bool renew_failing;    /* the last keepalive got no answer */
	bool loss_counted;     /* lease_losses has this lease's loss already */
	bool unreachable;      /* what was logged last: etcd failed us */

	pthread_mutex_t tmu; /* the token cache */
	struct ha_token *tokens;
	size_t ntokens;
	int64_t tokens_read_ms; /* vim_mono_ms of the last (re-)read; 0 = never */
};

/* One compare-and-swap write of value (PUT; NULL value = DELETE). */
int ha_write(struct ha *h, const struct store_kv_key *key, const char *value, int64_t expect_rev,
             int64_t lease, int64_t *rev, struct vim_err *err);

/* This replica's record (since 0) or leader value (since > 0), malloc'd
 * compact JSON, NULL when out of memory. */
char *ha_record_json(const struct ha *h, int64_t since);
/* A record or a leader value into *out (self is left false); VIM_EIO
 * when it is not one. */
int ha_record_parse(const char *value, size_t len, struct ha_replica *out);

void ha_tokens_free(struct ha *h);

#endif
