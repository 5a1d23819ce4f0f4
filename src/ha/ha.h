/*
 * ha — several vimaged replicas on one etcd: who they are, and which one
 * leads.  etcd's concurrency.Election over store/kv.h, with kube's
 * leaderelection habits:
 *
 *  - each replica holds one lease of ttl_s seconds and keeps it alive
 *    every ttl_s/3 (one LeaseKeepAlive request and its answer);
 *  - it records itself under that lease at replicas/<id> (a JSON value:
 *    id, apiURL, externalURL, started), so a replica that dies leaves
 *    the list by itself when its lease expires;
 *  - the leader is whoever created leader/controllers (value: id, apiURL,
 *    since) under its own lease: a follower tries the create (expect "absent")
 *    every poll_ms, so it leads within poll_ms of the key going away;
 *  - the fence is the leader key's mod_rev: every controller write is a
 *    transaction that also compares it (store_fenced_open), so a deposed
 *    leader's writes are refused by etcd itself;
 *  - a leader that could not renew its lease steps down before the lease
 *    can expire (renew_deadline, as kube's RenewDeadline < LeaseDuration):
 *    the fence is closed locally at once (rev 0), then `changed` runs;
 *  - ha_stop resigns: it revokes the lease, so the leader key and the
 *    record go at once and another replica leads within poll_ms.
 *
 * Keys are store_kv keys outside every API resource: resource "replicas",
 * "leader" and "tokens", namespace "", so etcd holds them at
 * <prefix>/replicas/<id>, <prefix>/leader/controllers and
 * <prefix>/tokens/<kind>-<sha256 hex>.
 *
 * Ownership: cfg's strings are copied; kv is borrowed and must outlive
 * the ha.  Every function is thread-safe.
 */
#ifndef VIM_HA_H
#define VIM_HA_H

#include "core/err.h"
#include "store/kv.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct ha;

#define HA_ID_MAX 128
#define HA_URL_MAX 300

/* One replica's record (and the leader's, from the leader key). */
struct ha_replica {
	char id[HA_ID_MAX];
	char api_url[HA_URL_MAX];      /* where the other replicas reach its API */
	char external_url[HA_URL_MAX]; /* what clients use ("" = api_url) */
	int64_t started;               /* unix seconds */
	int64_t leader_since;          /* unix seconds it leads since; 0 = a follower */
	bool self;                     /* this process */
};

struct ha_config {
	struct store_kv *kv; /* borrowed; needs lease_grant/keepalive/revoke (etcd) */
	const char *id;      /* unique among the replicas ("host:port") */
	const char *api_url;
	const char *external_url; /* NULL = api_url */
	/* Lease TTL; 0 = 10.  A leader whose etcd stops answering calls
	 * changed(false) at most one kv request timeout after its renew
	 * deadline (2/3 ttl; its fence refuses writes from that deadline
	 * on): keep kv's timeout_ms under ttl/3 so that this comes before
	 * the lease can expire. */
	int64_t ttl_s;
	/* A follower's campaign interval and the leader's look at its own
	 * key; 0 = 500 ms. */
	int64_t poll_ms;
	/* Called on ha's thread after every change of this replica's role
	 * (leading true/false), the fence already set; NULL = none.  It
	 * must not block for long: the lease is renewed on the same thread. */
	void (*changed)(void *arg, bool leading);
	void *arg;
};

/* Grants the lease, records this replica and starts the thread that
 * campaigns and renews.  Returns before the first campaign's result:
 * ha_leading is false until then.  *out is set before the thread starts,
 * so `changed` may use it from its first call. */
int ha_start(struct ha **out, const struct ha_config *c, struct vim_err *err);
/* Resigns (revokes the lease: the leader key, if ours, and our record go
 * at once), stops the thread, frees.  `changed` is not called.  NULL is
 * fine. */
void ha_stop(struct ha *h);

bool ha_leading(struct ha *h);
/* The fence this replica's controllers write behind: rev is the leader
 * key's mod_rev while it leads, 0 otherwise.  Lives as long as h. */
struct store_fence *ha_fence(struct ha *h);

/* The leader as this replica last saw it (at most poll_ms old);
 * VIM_ENOTFOUND when no replica leads. */
int ha_leader(struct ha *h, struct ha_replica *out, struct vim_err *err);

/* Every replica's record, read from etcd now (one range), in id order;
 * the leader's (as ha_leader last saw it) carries leader_since.  fn as
 * store_kv_item_fn: 0 goes on, > 0 stops (ha_replicas returns 0), < 0
 * stops and is returned. */
typedef int (*ha_replica_fn)(void *arg, const struct ha_replica *r);
int ha_replicas(struct ha *h, ha_replica_fn fn, void *arg, struct vim_err *err);

struct ha_stats {
	bool leading;
	int64_t since;         /* unix seconds this replica leads since (0) */
	uint64_t transitions;  /* changes of leader this replica has seen */
	uint64_t lease_losses; /* times its lease expired or renewal failed */
};
void ha_get_stats(struct ha *h, struct ha_stats *out);

/* ---- shared tokens ----------------------------------------------------------------- */

/* Publishes sha256(token) as one a replica accepts for kind ("api",
 * "notify"): tokens/<kind>-<hex>, no lease (a replica's token outlives
 * its process, as its data dir does).  The token itself never leaves
 * this process. */
int ha_token_publish(struct ha *h, const char *kind, const char *token, struct vim_err *err);
/* Whether some replica published sha256(token) for kind.  Answered from
 * a cache; a miss re-reads the published hashes, at most once a second
 * (a stream of wrong tokens costs etcd one range a second).  Constant
 * time in the token's content. */
bool ha_token_known(struct ha *h, const char *kind, const char *token);

#endif
