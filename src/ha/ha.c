/*
 * ha — the thread of one replica: its lease (granted, kept alive every
 * ttl/3, granted again once lost), its record under that lease, and the
 * campaign for leader/controllers (see ha.h).  Each pass of the loop does
 * what is due: a renewal, a step-down at the renew deadline, a poll
 * (leader: is the key still mine?  follower: who leads, and create the
 * key when nobody does).
 *
 * The renew deadline is 2/3 of the TTL after the last successful renewal
 * was *sent*: etcd restarted the TTL no earlier than that, so until then
 * the lease cannot have expired.  A step-down is due at that moment, but
 * this thread may be inside a kv call that etcd does not answer; so the
 * fence carries the deadline too (until_ms), and every fenced write after
 * it is refused locally, whatever this thread is doing.  changed(false)
 * then comes at most one kv timeout late (the deadline is checked before
 * and after every call, and a leader whose renewal fails makes no other
 * call): with kv's timeout under ttl/3 it still comes before the lease
 * can expire.
 */
#include "ha/ha_internal.h"

#include "core/log.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HA_TTL_DEFAULT_S 10
#define HA_POLL_DEFAULT_MS 500

static int64_t ha_deadline_ms(const struct ha *h)
{
	return h->ttl_ms * 2 / 3;
}

/* ---- what the thread tells everyone else ------------------------------------------- */

static void ha_seen_leader(struct ha *h, const struct ha_replica *r)
{
	pthread_mutex_lock(&h->mu);
	h->have_leader = r != NULL;
	if (r) {
		h->leader = *r;
		h->leader.self = strcmp(r->id, h->id) == 0;
		if (strcmp(r->id, h->last_leader_id) != 0) {
			h->transitions++;
			memcpy(h->last_leader_id, r->id, sizeof(h->last_leader_id));
		}
	}
	pthread_mutex_unlock(&h->mu);
}

/* etcd failed one of the thread's calls: logged once until one succeeds. */
static void ha_note_fail(struct ha *h, const char *what, const struct vim_err *err)
{
	if (h->unreachable)
		return;
	h->unreachable = true;
	vim_log(VIM_LOG_WARN, "ha: replica=%s %s failed: %s (trying again every %lld ms)", h->id,
	        what, err->msg, (long long)h->poll_ms);
}

static void ha_note_ok(struct ha *h)
{
	if (!h->unreachable)
		return;
	h->unreachable = false;
	vim_log(VIM_LOG_INFO, "ha: replica=%s etcd answers again", h->id);
}

static bool ha_is_leading(struct ha *h)
{
	bool l;

	pthread_mutex_lock(&h->mu);
	l = h->leading;
	pthread_mutex_unlock(&h->mu);
	return l;
}

static void ha_lead(struct ha *h, int64_t rev, int64_t since)
{
	struct ha_replica me = {.started = h->started, .leader_since = since, .self = true};

	memcpy(me.id, h->id, sizeof(me.id));
	memcpy(me.api_url, h->api_url, sizeof(me.api_url));
	memcpy(me.external_url, h->external_url, sizeof(me.external_url));
	/* until first: a write that sees the new rev must see its deadline */
	h->fence.until_ms = h->renewed_ms + ha_deadline_ms(h);
	h->fence.rev = rev;
	pthread_mutex_lock(&h->mu);
	h->leading = true;
	h->since = since;
	pthread_mutex_unlock(&h->mu);
	ha_seen_leader(h, &me);
	vim_log(VIM_LOG_INFO, "ha: replica=%s leads fence=%lld", h->id, (long long)rev);
	if (h->changed)
		h->changed(h->arg, true);
}

static void ha_step_down(struct ha *h, const char *why)
{
	if (!ha_is_leading(h))
		return;
	h->fence.rev = 0;
	pthread_mutex_lock(&h->mu);
	h->leading = false;
	h->since = 0;
	pthread_mutex_unlock(&h->mu);
	vim_log(VIM_LOG_WARN, "ha: replica=%s stops leading: %s", h->id, why);
	if (h->changed)
		h->changed(h->arg, false);
}

/* ---- the lease and the record ------------------------------------------------------ */

static int ha_record(struct ha *h, struct vim_err *err)
{
	struct store_kv_key k = {HA_RES_REPLICAS, "", h->id};
	char *v = ha_record_json(h, 0);
	int rc;

	if (!v)
		return vim_err_set(err, VIM_ENOMEM, "ha %s: the record: out of memory", h->id);
	rc = store_kv_put(h->kv, &k, v, h->lease, NULL, err);
	free(v);
	h->recorded = rc == 0;
	return rc;
}

static int ha_grant(struct ha *h, struct vim_err *err)
{
	int64_t sent = vim_mono_ms(), id = 0;
	int rc = h->kv->ops->lease_grant(h->kv, h->ttl_ms / 1000, &id, err);

	if (rc < 0)
		return rc;
	h->lease = id;
	h->renewed_ms = sent;
	h->next_renew_ms = sent + h->ttl_ms / 3;
	h->recorded = false;
	h->loss_counted = false;
	return 0;
}

/* A lease that is gone: a new one and the record again (not a leader any
 * more: its key went with the old lease). */
static void ha_regain(struct ha *h)
{
	struct vim_err err = {0};

	if (!h->lease && ha_grant(h, &err) < 0) {
		ha_note_fail(h, "lease grant", &err);
		return;
	}
	if (!h->recorded && ha_record(h, &err) < 0) {
		h->next_renew_ms = vim_mono_ms(); /* is the new lease still there? */
		ha_note_fail(h, "record", &err);
		return;
	}
	ha_note_ok(h);
}

/* Once per lease and outage: a stall past the deadline that then finds
 * the lease gone is one loss, not two. */
static void ha_count_loss(struct ha *h)
{
	if (h->loss_counted)
		return;
	h->loss_counted = true;
	pthread_mutex_lock(&h->mu);
	h->lease_losses++;
	pthread_mutex_unlock(&h->mu);
}

static void ha_renew(struct ha *h)
{
	struct vim_err err = {0};
	int64_t sent = vim_mono_ms(), ttl = 0;
	int rc = h->kv->ops->lease_keepalive(h->kv, h->lease, &ttl, &err);

	if (rc == 0 && ttl <= 0)
		rc = vim_err_set(&err, VIM_ENOTFOUND, "ha %s: lease %lld has expired", h->id,
		                 (long long)h->lease);
	if (rc == 0) {
		h->renewed_ms = sent;
		h->next_renew_ms = sent + h->ttl_ms / 3;
		if (ha_is_leading(h))
			h->fence.until_ms = sent + ha_deadline_ms(h);
		h->renew_failing = false;
		h->loss_counted = false;
		ha_note_ok(h);
		return;
	}
	h->next_renew_ms = vim_mono_ms() + h->poll_ms;
	h->renew_failing = rc != VIM_ENOTFOUND;
	if (rc != VIM_ENOTFOUND) {
		ha_note_fail(h, "lease keepalive", &err);
		return;
	}
	ha_note_ok(h); /* etcd answered: the lease is what it lost */
	vim_log(VIM_LOG_WARN, "ha: replica=%s lost lease %lld: %s", h->id, (long long)h->lease,
	        err.msg);
	ha_count_loss(h);
	ha_step_down(h, "its lease is gone");
	h->lease = 0;
	h->recorded = false;
}

static void ha_check_deadline(struct ha *h)
{
	if (!ha_is_leading(h) || vim_mono_ms() - h->renewed_ms <= ha_deadline_ms(h))
		return;
	ha_count_loss(h);
	ha_step_down(h, "no renewal of its lease within the renew deadline");
}

/* ---- the campaign ------------------------------------------------------------------ */

static void ha_campaign(struct ha *h)
{
	struct store_kv_key k = {HA_RES_LEADER, "", HA_LEADER_NAME};
	int64_t since = vim_time_now(), rev = 0;
	struct vim_err err = {0};
	char *v;
	int rc;

	/* a lease that may be about to expire would hand the key over at once */
	if (!h->lease || vim_mono_ms() - h->renewed_ms >= ha_deadline_ms(h))
		return;
	v = ha_record_json(h, since);
	if (!v)
		return;
	rc = ha_write(h, &k, v, 0, h->lease, &rev, &err);
	free(v);
	if (rc == 0) {
		ha_note_ok(h);
		ha_lead(h, rev, since);
	} else if (rc == VIM_ECONFLICT) {
		ha_note_ok(h); /* someone was quicker: seen at the next poll */
	} else {
		/* perhaps the lease is gone: the next renewal will say */
		h->next_renew_ms = vim_mono_ms();
		ha_note_fail(h, "campaign", &err);
	}
}

static void ha_poll(struct ha *h)
{
	struct store_kv_key k = {HA_RES_LEADER, "", HA_LEADER_NAME};
	struct store_kv_got got = {0};
	struct ha_replica r;
	struct vim_err err = {0};
	bool leading = ha_is_leading(h);
	int rc = h->kv->ops->get(h->kv, &k, &got, &err);

	if (rc < 0 && rc != VIM_ENOTFOUND) {
		ha_note_fail(h, "leader key read", &err);
		return;
	}
	ha_note_ok(h);
	if (rc == VIM_ENOTFOUND) {
		ha_seen_leader(h, NULL);
		ha_step_down(h, "the leader key is gone");
		ha_campaign(h);
		return;
	}
	if (ha_record_parse(got.value, got.len, &r) < 0) {
		/* not ours to judge: whoever wrote it holds the key */
		memset(&r, 0, sizeof(r));
		snprintf(r.id, sizeof(r.id), "?");
	}
	if (leading && got.mod_rev == h->fence.rev) {
		free(got.value);
		return;
	}
	if (leading)
		ha_step_down(h, "the leader key was written by someone else");
	if (strcmp(r.id, h->id) == 0) {
		/* Ours, but not what we lead by: a campaign whose answer was lost,
		 * a stall we stepped down from while the lease lived, or our
		 * previous process.  Hand it back and campaign again. */
		rc = ha_write(h, &k, NULL, got.mod_rev, 0, NULL, &err);
		free(got.value);
		if (rc == 0 || rc == VIM_ECONFLICT) {
			ha_seen_leader(h, NULL);
			ha_campaign(h);
		} else {
			ha_note_fail(h, "stale leader key delete", &err);
		}
		return;
	}
	free(got.value);
	ha_seen_leader(h, &r);
}

/* ---- the thread -------------------------------------------------------------------- */

static int64_t ha_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Sleeps until wake_ms (vim_mono_ms) or ha_stop; true once stopped. */
static bool ha_wait(struct ha *h, int64_t wake_ms)
{
	struct timespec ts;
	int64_t left = wake_ms - vim_mono_ms();
	bool stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (left < 0)
		left = 0;
	ts.tv_sec += (time_t)(left / 1000);
	ts.tv_nsec += (long)(left % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->mu);
	while (!h->stop && pthread_cond_timedwait(&h->cv, &h->mu, &ts) != ETIMEDOUT)
		;
	stop = h->stop;
	pthread_mutex_unlock(&h->mu);
	return stop;
}

static void *ha_main(void *arg)
{
	struct ha *h = arg;
	int64_t next_poll = 0;

	for (;;) {
		int64_t wake;

		/* the deadline is checked around every call that may block */
		ha_check_deadline(h);
		if (h->lease && vim_mono_ms() >= h->next_renew_ms)
			ha_renew(h);
		ha_check_deadline(h);
		if (!h->lease || !h->recorded)
			ha_regain(h);
		ha_check_deadline(h);
		/* a leader whose renewal fails asks etcd nothing else: one call
		 * that hangs, not two, stands between its deadline and a
		 * step-down */
		if (vim_mono_ms() >= next_poll && !(h->renew_failing && ha_is_leading(h))) {
			ha_poll(h);
			next_poll = vim_mono_ms() + h->poll_ms;
			ha_check_deadline(h);
		}
		wake = next_poll;
		if (h->lease)
			wake = ha_min(wake, h->next_renew_ms);
		if (ha_is_leading(h))
			wake = ha_min(wake, h->renewed_ms + ha_deadline_ms(h) + 1);
		if (ha_wait(h, wake))
			break;
	}
	return NULL;
}

/* ---- the contract ------------------------------------------------------------------ */

static int ha_copy(char *dst, size_t cap, const char *src, const char *what, struct vim_err *err)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap)
		return vim_err_set(err, VIM_EINVAL, "ha: %s is longer than %zu bytes", what,
		                   cap - 1);
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

int ha_start(struct ha **out, const struct ha_config *c, struct vim_err *err)
{
	struct ha *h;
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (!c->kv || !c->kv->ops->lease_grant || !c->kv->ops->lease_keepalive ||
	    !c->kv->ops->lease_revoke)
		return vim_err_set(err, VIM_EUNSUPPORTED,
		                   "ha: the store backend %s has no leases (several replicas "
		                   "need etcd)",
		                   c->kv ? c->kv->ops->name : "(none)");
	if (!c->id || !*c->id || strchr(c->id, '/'))
		return vim_err_set(err, VIM_EINVAL, "ha: replica id '%s': empty or with a '/'",
		                   c->id ? c->id : "");
	if (c->ttl_s < 0 || c->poll_ms < 0)
		return vim_err_set(err, VIM_EINVAL, "ha %s: a negative ttl or poll interval",
		                   c->id);
	h = calloc(1, sizeof(*h));
	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "ha %s: out of memory", c->id);
	rc = ha_copy(h->id, sizeof(h->id), c->id, "the replica id", err);
	if (rc == 0)
		rc = ha_copy(h->api_url, sizeof(h->api_url), c->api_url, "apiURL", err);
	if (rc == 0)
		rc = ha_copy(h->external_url, sizeof(h->external_url),
		             c->external_url ? c->external_url : c->api_url, "externalURL", err);
	if (rc < 0) {
		free(h);
		return rc;
	}
	h->kv = c->kv;
	h->ttl_ms = (c->ttl_s ? c->ttl_s : HA_TTL_DEFAULT_S) * 1000;
	h->poll_ms = c->poll_ms ? c->poll_ms : HA_POLL_DEFAULT_MS;
	h->started = vim_time_now();
	h->changed = c->changed;
	h->arg = c->arg;
	h->fence.resource = HA_RES_LEADER;
	h->fence.name = HA_LEADER_NAME;
	pthread_mutex_init(&h->mu, NULL);
	pthread_mutex_init(&h->tmu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cv, &ca);
	pthread_condattr_destroy(&ca);

	rc = ha_grant(h, err);
	if (rc == 0)
		rc = ha_record(h, err);
	if (rc == 0) {
		vim_log(VIM_LOG_INFO, "ha: replica=%s lease=%lld ttl=%llds poll=%lldms", h->id,
		        (long long)h->lease, (long long)(h->ttl_ms / 1000), (long long)h->poll_ms);
		/* before the thread: its first changed() may already read it */
		*out = h;
		if (pthread_create(&h->thread, NULL, ha_main, h) != 0)
			rc = vim_err_set(err, VIM_ENOMEM, "ha %s: cannot start its thread", h->id);
		else
			h->thread_started = true;
	}
	if (rc < 0) {
		*out = NULL;
		vim_err_wrap(err, "ha %s: start: ", h->id);
		ha_stop(h);
		return rc;
	}
	return 0;
}

void ha_stop(struct ha *h)
{
	struct vim_err err = {0};

	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	/* the thread first: it would grant a new lease for the revoked one */
	if (h->thread_started)
		pthread_join(h->thread, NULL);
	h->fence.rev = 0;
	if (h->lease && h->kv->ops->lease_revoke(h->kv, h->lease, &err) < 0)
		vim_log(VIM_LOG_WARN,
		        "ha: replica=%s resign: %s (its keys go when the lease expires)", h->id,
		        err.msg);
	ha_tokens_free(h);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->tmu);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

bool ha_leading(struct ha *h)
{
	return ha_is_leading(h);
}

struct store_fence *ha_fence(struct ha *h)
{
	return &h->fence;
}

int ha_leader(struct ha *h, struct ha_replica *out, struct vim_err *err)
{
	int rc = 0;

	pthread_mutex_lock(&h->mu);
	if (h->have_leader)
		*out = h->leader;
	else
		rc = vim_err_set(err, VIM_ENOTFOUND, "ha %s: no replica leads", h->id);
	pthread_mutex_unlock(&h->mu);
	return rc;
}

void ha_get_stats(struct ha *h, struct ha_stats *out)
{
	pthread_mutex_lock(&h->mu);
	out->leading = h->leading;
	out->since = h->since;
	out->transitions = h->transitions;
	out->lease_losses = h->lease_losses;
	pthread_mutex_unlock(&h->mu);
}
