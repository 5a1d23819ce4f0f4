/*
 * ha: leader election and replica records over a real etcd
 * (tests/unit/etcd_fixture): three replicas, each with a kv of its own as
 * three processes would have, on one key prefix; TTL 2 s, poll 100 ms,
 * and a kv timeout (300 ms) under ttl/3 so that a leader of a stalled
 * etcd gives up before its lease can expire.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "core/timeutil.h"
#include "ha/ha.h"
#include "store/store.h"
#include "etcd_fixture.h"

#define TTL_S 2
#define POLL_MS 100
#define KV_TIMEOUT_MS 300
#define N 3

struct rep {
	struct store_kv *kv;
	struct ha *ha;
	char id[32], url[64];
	_Atomic int changes;
	_Atomic bool leading;     /* as the last changed() said */
	_Atomic int64_t down_ms;  /* vim_mono_ms of the last changed(false) */
	_Atomic int64_t fence_cb; /* the fence's rev during the last changed() */
};

struct group {
	struct rep r[N];
	char prefix[128];
};

static void on_changed(void *arg, bool leading)
{
	struct rep *r = arg;

	r->fence_cb = ha_fence(r->ha)->rev;
	r->leading = leading;
	if (!leading)
		r->down_ms = vim_mono_ms();
	r->changes++;
}

static struct store_kv *open_kv(const char *prefix)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct store_kv_etcd_opts o = {.timeout_ms = KV_TIMEOUT_MS, .prefix = prefix};
	struct store_kv *kv = NULL;
	struct vim_err err = {0};

	assert_non_null(fx);
	o.endpoints = etcd_fx_endpoints(fx);
	if (store_kv_etcd_open(&kv, &o, &err) != 0)
		fail_msg("kv open: %s", err.msg);
	return kv;
}

static void rep_start(struct group *g, int i)
{
	struct rep *r = &g->r[i];
	struct ha_config c = {.id = r->id,
	                      .api_url = r->url,
	                      .external_url = i == 1 ? "https://vimage.example" : NULL,
	                      .ttl_s = TTL_S,
	                      .poll_ms = POLL_MS,
	                      .changed = on_changed,
	                      .arg = r};
	struct vim_err err = {0};

	snprintf(r->id, sizeof(r->id), "r%d:8080", i);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:80%02d", i);
	r->kv = open_kv(g->prefix);
	c.kv = r->kv;
	if (ha_start(&r->ha, &c, &err) != 0)
		fail_msg("ha_start %s: %s", r->id, err.msg);
}

/* *state holds the group: a case that fails an assertion leaves by
 * longjmp, and its teardown still stops the three. */
static struct group *group_start(void **state)
{
	struct group *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	*state = g;
	etcd_fx_prefix(g->prefix, sizeof(g->prefix), "ha");
	for (int i = 0; i < N; i++)
		rep_start(g, i);
	return g;
}

static void rep_stop(struct rep *r)
{
	ha_stop(r->ha);
	r->ha = NULL;
}

static int group_stop(void **state)
{
	struct group *g = *state;

	/* a failed pause case must not leave the shared etcd stopped */
	etcd_fx_resume(etcd_fx_shared(), 0);
	if (!g)
		return 0;
	*state = NULL;
	for (int i = 0; i < N; i++) {
		rep_stop(&g->r[i]);
		if (g->r[i].kv)
			g->r[i].kv->ops->close(g->r[i].kv);
	}
	free(g);
	return 0;
}

/* How many running replicas lead now; *who = the last of them. */
static int leaders(struct group *g, int *who)
{
	int n = 0;

	for (int i = 0; i < N; i++)
		if (g->r[i].ha && ha_leading(g->r[i].ha)) {
			n++;
			*who = i;
		}
	return n;
}

/* The one leader once exactly one leads (within ms), else -1. */
static int wait_one_leader(struct group *g, int64_t ms)
{
	int64_t end = vim_mono_ms() + ms;
	int who = -1;

	do {
		if (leaders(g, &who) == 1)
			return who;
		usleep(5 * 1000);
	} while (vim_mono_ms() < end);
	return -1;
}

/* Every running replica's ha_leader names who (within ms). */
static void wait_all_see(struct group *g, int who, int64_t ms)
{
	int64_t end = vim_mono_ms() + ms;

	for (int i = 0; i < N; i++) {
		struct ha_replica seen;

		while (g->r[i].ha && (ha_leader(g->r[i].ha, &seen, NULL) != 0 ||
		                      strcmp(seen.id, g->r[who].id) != 0))
			if (vim_mono_ms() > end)
				fail_msg("%s does not see %s lead", g->r[i].id, g->r[who].id);
			else
				usleep(5 * 1000);
	}
}

/* For ms, never more (or fewer) than one leader, always `who`. */
static void assert_one_leader_for(struct group *g, int who, int64_t ms)
{
	int64_t end = vim_mono_ms() + ms;

	while (vim_mono_ms() < end) {
		int w = -1;

		assert_int_equal(leaders(g, &w), 1);
		assert_int_equal(w, who);
		usleep(10 * 1000);
	}
}

static int64_t leader_key_rev(struct store_kv *kv)
{
	struct store_kv_key k = {"leader", "", "controllers"};
	struct store_kv_got got = {0};
	struct vim_err err = {0};
	int64_t rev;

	if (kv->ops->get(kv, &k, &got, &err) != 0)
		fail_msg("leader key: %s", err.msg);
	rev = got.mod_rev;
	free(got.value);
	return rev;
}

/* A controller's write of virtualimages/ns/name behind fence rev. */
static int fenced_put(struct store_kv *kv, const char *name, int64_t fence_rev)
{
	struct store_kv_write w = {.key = {"virtualimages", "ns", name},
	                           .op = STORE_KV_PUT,
	                           .fence = {"leader", "", "controllers"},
	                           .fence_rev = fence_rev,
	                           .encode = store_kv_encode_text,
	                           .arg = (void *)"{}"};
	struct vim_err err = {0};
	int64_t rev = 0;

	return kv->ops->write(kv, &w, &rev, &err);
}

/* ---- the cases ------------------------------------------------------------------- */

static void test_three_replicas_exactly_one_leads_within_a_second(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared(); /* started before the clock runs */
	int64_t t0 = vim_mono_ms();
	struct group *g = group_start(state);
	struct ha_replica seen;
	struct ha_stats st;
	struct vim_err err = {0};
	int who = wait_one_leader(g, 1000);

	assert_non_null(fx);
	assert_true(who >= 0);
	assert_true(vim_mono_ms() - t0 <= 1000);
	assert_one_leader_for(g, who, 600);
	/* the fence is the key's mod_rev, set before changed(true) ran */
	assert_true(ha_fence(g->r[who].ha)->rev > 0);
	assert_int_equal(ha_fence(g->r[who].ha)->rev, leader_key_rev(g->r[0].kv));
	assert_int_equal(g->r[who].changes, 1);
	assert_true(g->r[who].leading);
	assert_int_equal(g->r[who].fence_cb, ha_fence(g->r[who].ha)->rev);
	ha_get_stats(g->r[who].ha, &st);
	assert_true(st.leading);
	assert_true(st.since > 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(ha_leader(g->r[i].ha, &seen, &err), 0);
		assert_string_equal(seen.id, g->r[who].id);
		assert_string_equal(seen.api_url, g->r[who].url);
		assert_true(seen.leader_since > 0);
		assert_int_equal(seen.self, i == who);
		ha_get_stats(g->r[i].ha, &st);
		assert_int_equal(st.transitions, 1);
		assert_int_equal(st.lease_losses, 0);
		if (i != who) {
			assert_false(st.leading);
			assert_int_equal(st.since, 0);
			assert_int_equal(g->r[i].changes, 0);
			assert_int_equal(ha_fence(g->r[i].ha)->rev, 0);
		}
	}
}

struct listed {
	struct ha_replica r[8];
	int n;
};

static int collect(void *arg, const struct ha_replica *r)
{
	struct listed *l = arg;

	if (l->n < 8)
		l->r[l->n] = *r;
	l->n++;
	return 0;
}

static void test_replicas_lists_all_three_and_marks_the_leader(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), asker;
	struct listed l = {.n = 0};
	struct vim_err err = {0};

	assert_true(who >= 0);
	asker = (who + 1) % N;
	wait_all_see(g, who, 1000);
	assert_int_equal(ha_replicas(g->r[asker].ha, collect, &l, &err), 0);
	assert_int_equal(l.n, N);
	for (int i = 0; i < N; i++) {
		assert_string_equal(l.r[i].id, g->r[i].id); /* id order */
		assert_string_equal(l.r[i].api_url, g->r[i].url);
		assert_string_equal(l.r[i].external_url,
		                    i == 1 ? "https://vimage.example" : g->r[i].url);
		assert_true(l.r[i].started > 0);
		assert_int_equal(l.r[i].self, i == asker);
		assert_int_equal(l.r[i].leader_since > 0, i == who);
	}
}

static void test_resign_hands_over_within_a_second_and_fences_the_old_leader(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), next, other;
	int64_t old, t0;
	struct ha_replica seen;
	struct ha_stats st;
	struct vim_err err = {0};

	assert_true(who >= 0);
	other = (who + 1) % N;
	wait_all_see(g, who, 1000);
	old = ha_fence(g->r[who].ha)->rev;
	assert_int_equal(fenced_put(g->r[other].kv, "before", old), 0);
	t0 = vim_mono_ms();
	rep_stop(&g->r[who]);
	next = wait_one_leader(g, 1000);
	assert_true(next >= 0);
	assert_true(vim_mono_ms() - t0 <= 1000);
	assert_int_equal(g->r[who].changes, 1); /* ha_stop calls no changed() */
	assert_true(ha_fence(g->r[next].ha)->rev > old);
	assert_int_equal(ha_fence(g->r[next].ha)->rev, leader_key_rev(g->r[other].kv));
	/* the deposed leader's fence is refused by etcd itself */
	assert_int_equal(fenced_put(g->r[other].kv, "after", old), VIM_EFENCED);
	assert_int_equal(fenced_put(g->r[other].kv, "after", ha_fence(g->r[next].ha)->rev), 0);
	wait_all_see(g, next, 1000);
	for (int i = 0; i < N; i++) {
		if (i == who)
			continue;
		assert_int_equal(ha_leader(g->r[i].ha, &seen, &err), 0);
		assert_string_equal(seen.id, g->r[next].id);
		ha_get_stats(g->r[i].ha, &st);
		assert_int_equal(st.transitions, 2);
	}
}

static void test_a_stopped_follower_leaves_the_list_at_once(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), gone;
	struct listed l = {.n = 0};
	struct vim_err err = {0};

	assert_true(who >= 0);
	gone = (who + 2) % N;
	rep_stop(&g->r[gone]);
	assert_int_equal(ha_replicas(g->r[who].ha, collect, &l, &err), 0);
	assert_int_equal(l.n, N - 1);
	for (int i = 0; i < l.n; i++)
		assert_string_not_equal(l.r[i].id, g->r[gone].id);
	assert_int_equal(wait_one_leader(g, 10), who); /* a follower's going changes nothing */
}

static void test_a_leader_key_deleted_by_hand_deposes_its_leader(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), next;
	struct store_kv_write w = {.key = {"leader", "", "controllers"}, .op = STORE_KV_DELETE};
	struct vim_err err = {0};
	int64_t old, rev = 0, end;

	assert_true(who >= 0);
	old = ha_fence(g->r[who].ha)->rev;
	w.expect_rev = old;
	assert_int_equal(g->r[0].kv->ops->write(g->r[0].kv, &w, &rev, &err), 0);
	end = vim_mono_ms() + 1000;
	while (g->r[who].changes < 2 && vim_mono_ms() < end)
		usleep(5 * 1000);
	assert_int_equal(g->r[who].changes >= 2, true);
	next = wait_one_leader(g, 1000);
	assert_true(next >= 0);
	assert_true(ha_fence(g->r[next].ha)->rev > old);
	assert_int_equal(ha_fence(g->r[next].ha)->rev, leader_key_rev(g->r[0].kv));
}

static void test_a_leader_key_overwritten_by_hand_deposes_its_leader(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), w = -1;
	struct store_kv_write put = {
	    .key = {"leader", "", "controllers"},
	    .op = STORE_KV_PUT,
	    .encode = store_kv_encode_text,
	    .arg = (void *)"{\"id\":\"intruder:1\",\"apiURL\":\"http://x\",\"since\":1}"};
	struct store_kv_write del = {.key = {"leader", "", "controllers"}, .op = STORE_KV_DELETE};
	struct store_kv *kv;
	struct vim_err err = {0};
	int64_t rev = 0, end;

	assert_true(who >= 0);
	kv = g->r[(who + 1) % N].kv;
	put.expect_rev = ha_fence(g->r[who].ha)->rev;
	assert_int_equal(kv->ops->write(kv, &put, &rev, &err), 0);
	end = vim_mono_ms() + 1000;
	while (g->r[who].changes < 2 && vim_mono_ms() < end)
		usleep(5 * 1000);
	assert_int_equal(g->r[who].changes, 2);
	assert_int_equal(ha_fence(g->r[who].ha)->rev, 0);
	assert_int_equal(leaders(g, &w), 0); /* the key is not theirs to take */
	for (int i = 0; i < N; i++) {
		struct ha_replica seen;

		end = vim_mono_ms() + 1000;
		while ((ha_leader(g->r[i].ha, &seen, NULL) != 0 ||
		        strcmp(seen.id, "intruder:1") != 0) &&
		       vim_mono_ms() < end)
			usleep(5 * 1000);
		assert_string_equal(seen.id, "intruder:1");
	}
	del.expect_rev = rev;
	assert_int_equal(kv->ops->write(kv, &del, &rev, &err), 0);
	assert_true(wait_one_leader(g, 1000) >= 0);
}

/* The lease etcd keeps the leader key under, read behind ha's back. */
static long long leader_key_lease(struct group *g)
{
	char key[256], b64[400], body[512], said[1024];
	const char *p;

	snprintf(key, sizeof(key), "%s/leader/controllers", g->prefix);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)key, (int)strlen(key));
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", b64);
	assert_int_equal(etcd_fx_ask(etcd_fx_shared(), 0, "/v3/kv/range", body, said, sizeof(said)),
	                 0);
	p = strstr(said, "\"lease\":\"");
	return p ? strtoll(p + 9, NULL, 10) : 0;
}

static int count_replicas(struct ha *h)
{
	struct listed l = {.n = 0};
	struct vim_err err = {0};

	if (ha_replicas(h, collect, &l, &err) != 0)
		fail_msg("ha_replicas: %s", err.msg);
	return l.n;
}

static void test_a_lost_lease_deposes_and_is_granted_and_recorded_again(void **state)
{
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), other;
	char body[96];
	long long lease;
	struct ha_stats st;
	int64_t end;

	assert_true(who >= 0);
	other = (who + 1) % N;
	wait_all_see(g, who, 1000);
	lease = leader_key_lease(g);
	assert_true(lease != 0);
	/* etcd forgets the leader's lease: its key and record go with it */
	snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", lease);
	assert_int_equal(etcd_fx_post(etcd_fx_shared(), 0, "/v3/lease/revoke", body), 0);
	assert_int_equal(count_replicas(g->r[other].ha), N - 1);
	end = vim_mono_ms() + 1000;
	while (g->r[who].changes < 2 && vim_mono_ms() < end)
		usleep(5 * 1000);
	assert_true(g->r[who].changes >= 2);
	assert_true(wait_one_leader(g, 1000) >= 0);
	/* within a renewal period (ttl/3) it learns the lease is gone,
	 * grants another and records itself under it */
	end = vim_mono_ms() + TTL_S * 1000;
	do {
		ha_get_stats(g->r[who].ha, &st);
		if (st.lease_losses == 1 && count_replicas(g->r[other].ha) == N)
			break;
		usleep(20 * 1000);
	} while (vim_mono_ms() < end);
	assert_int_equal(st.lease_losses, 1);
	assert_int_equal(count_replicas(g->r[other].ha), N);
	assert_true(wait_one_leader(g, 1000) >= 0);
}

static void sha256_hex(const char *s, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_tokens_published_by_one_replica_are_known_to_all(void **state)
{
	struct group *g = group_start(state);
	char hex[65], name[128];
	struct store_kv_key k = {"tokens", "", name};
	struct store_kv_got got = {0};
	struct vim_err err = {0};

	assert_int_equal(ha_token_publish(g->r[0].ha, "api", "s3cret-one", &err), 0);
	/* only the hash is in etcd, under the kind, with who published it */
	sha256_hex("s3cret-one", hex);
	snprintf(name, sizeof(name), "api-%s", hex);
	assert_int_equal(g->r[0].kv->ops->get(g->r[0].kv, &k, &got, &err), 0);
	assert_string_equal(got.value, "{\"replica\":\"r0:8080\"}");
	free(got.value);
	assert_true(ha_token_known(g->r[0].ha, "api", "s3cret-one"));
	assert_true(ha_token_known(g->r[1].ha, "api", "s3cret-one")); /* a miss re-reads */
	assert_false(ha_token_known(g->r[1].ha, "notify", "s3cret-one"));
	assert_false(ha_token_known(g->r[1].ha, "api", "s3cret-on"));
	assert_false(ha_token_known(g->r[1].ha, "api", ""));
	/* a token published just now: r1 re-read less than a second ago */
	assert_int_equal(ha_token_publish(g->r[2].ha, "notify", "n0tify-two", &err), 0);
	assert_false(ha_token_known(g->r[1].ha, "notify", "n0tify-two"));
	usleep(1100 * 1000);
	assert_true(ha_token_known(g->r[1].ha, "notify", "n0tify-two"));
	assert_true(ha_token_known(g->r[1].ha, "api", "s3cret-one"));
	/* a token outlives the replica that published it (no lease) */
	rep_stop(&g->r[0]);
	assert_int_equal(g->r[1].kv->ops->get(g->r[1].kv, &k, &got, &err), 0);
	free(got.value);
}

static json_t *vi(const char *name)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	                 "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	                 "name", name, "namespace", "ns", "spec", "dataSource", "type", "Upload");
}

/* A create of virtualimages/ns/<name> through s: its code. */
static int create_vi(struct store *s, const char *name)
{
	json_t *o = vi(name), *out = NULL;
	struct vim_err err = {0};
	int rc = store_create(s, "virtualimages", o, &out, &err);

	json_decref(o);
	json_decref(out);
	return rc;
}

/* What the controllers of a replica write through (store_fenced_open over
 * ha_fence), on the same etcd prefix: the leader's writes land, a
 * follower's do not; after a hand-over the old leader's are refused. */
static void test_the_controllers_store_writes_only_while_its_replica_leads(void **state)
{
	struct group *g = group_start(state);
	struct store_etcd_opts o = {.endpoints = etcd_fx_endpoints(etcd_fx_shared()),
	                            .prefix = g->prefix,
	                            .timeout_ms = KV_TIMEOUT_MS};
	struct store *base = NULL, *lv = NULL, *fv = NULL, *nv = NULL;
	struct vim_err err = {0};
	int who = wait_one_leader(g, 1000), f, next;

	assert_true(who >= 0);
	f = (who + 1) % N;
	if (store_etcd_open(&base, &o, &err) != 0)
		fail_msg("store on etcd: %s", err.msg);
	assert_int_equal(store_fenced_open(&lv, base, ha_fence(g->r[who].ha), &err), 0);
	assert_int_equal(store_fenced_open(&fv, base, ha_fence(g->r[f].ha), &err), 0);
	assert_int_equal(create_vi(lv, "by-the-leader"), 0);
	assert_int_equal(create_vi(fv, "by-a-follower"), VIM_EFENCED);
	rep_stop(&g->r[who]); /* its fence is freed with it: lv goes first */
	store_close(lv);
	next = wait_one_leader(g, 1000);
	assert_true(next >= 0);
	assert_int_equal(store_fenced_open(&nv, base, ha_fence(g->r[next].ha), &err), 0);
	assert_int_equal(create_vi(nv, "by-the-next"), 0);
	if (next != f)
		assert_int_equal(create_vi(fv, "by-a-follower"), VIM_EFENCED);
	store_close(nv);
	store_close(fv);
	store_close(base);
}

/* The last case: it stops the shared etcd for a while. */
static void test_a_paused_etcd_makes_the_leader_step_down_before_its_lease_can_expire(void **state)
{
	struct etcd_fx *fx = etcd_fx_shared();
	struct group *g = group_start(state);
	int who = wait_one_leader(g, 1000), w = -1, next;
	int64_t renewed, end;
	struct ha_stats st;

	assert_true(who >= 0);
	usleep(200 * 1000);
	assert_int_equal(etcd_fx_pause(fx, 0), 0);
	usleep(50 * 1000); /* an answer already on its way has arrived */
	/* until_ms is the send time of the last renewal + 2/3 ttl */
	renewed = ha_fence(g->r[who].ha)->until_ms - TTL_S * 1000 * 2 / 3;
	end = vim_mono_ms() + TTL_S * 1000 + 1000;
	while (g->r[who].leading && vim_mono_ms() < end)
		usleep(5 * 1000);
	assert_false(g->r[who].leading);
	assert_false(ha_leading(g->r[who].ha));
	print_message("step-down %lld ms after the last renewal was sent (ttl %d ms)\n",
	              (long long)(g->r[who].down_ms - renewed), TTL_S * 1000);
	assert_true(g->r[who].down_ms - renewed < TTL_S * 1000);
	assert_int_equal(g->r[who].fence_cb, 0); /* closed before changed(false) */
	/* writes were refused locally from the deadline on, before the step-down */
	assert_true(ha_fence(g->r[who].ha)->until_ms <= g->r[who].down_ms);
	assert_int_equal(ha_fence(g->r[who].ha)->rev, 0);
	assert_int_equal(leaders(g, &w), 0);
	ha_get_stats(g->r[who].ha, &st);
	assert_int_equal(st.lease_losses, 1);
	/* long enough for every lease to expire: all three find theirs gone,
	 * grant new ones and record themselves again */
	while (vim_mono_ms() < renewed + TTL_S * 1000 + 600)
		usleep(10 * 1000);
	assert_int_equal(etcd_fx_resume(fx, 0), 0);
	next = wait_one_leader(g, 4000);
	assert_true(next >= 0);
	assert_one_leader_for(g, next, 500);
	assert_int_equal(ha_fence(g->r[next].ha)->rev, leader_key_rev(g->r[0].kv));
	ha_get_stats(g->r[who].ha, &st);
	assert_int_equal(st.lease_losses, 1); /* one outage: the deadline, then the lease */
	end = vim_mono_ms() + 1000;
	while (count_replicas(g->r[next].ha) != N && vim_mono_ms() < end)
		usleep(20 * 1000);
	assert_int_equal(count_replicas(g->r[next].ha), N);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_three_replicas_exactly_one_leads_within_a_second,
	                              group_stop),
	    cmocka_unit_test_teardown(test_replicas_lists_all_three_and_marks_the_leader,
	                              group_stop),
	    cmocka_unit_test_teardown(
	        test_resign_hands_over_within_a_second_and_fences_the_old_leader, group_stop),
	    cmocka_unit_test_teardown(test_a_stopped_follower_leaves_the_list_at_once, group_stop),
	    cmocka_unit_test_teardown(test_a_leader_key_deleted_by_hand_deposes_its_leader,
	                              group_stop),
	    cmocka_unit_test_teardown(test_a_leader_key_overwritten_by_hand_deposes_its_leader,
	                              group_stop),
	    cmocka_unit_test_teardown(test_a_lost_lease_deposes_and_is_granted_and_recorded_again,
	                              group_stop),
	    cmocka_unit_test_teardown(test_tokens_published_by_one_replica_are_known_to_all,
	                              group_stop),
	    cmocka_unit_test_teardown(
	        test_the_controllers_store_writes_only_while_its_replica_leads, group_stop),
	    cmocka_unit_test_teardown(
	        test_a_paused_etcd_makes_the_leader_step_down_before_its_lease_can_expire,
	        group_stop),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests_name("ha", tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
