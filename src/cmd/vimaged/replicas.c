/*
 * vimaged/replicas — several vimaged on one etcd (--store etcd): the
 * election (ha/ha.h) on a kv connection of its own, the controllers
 * started and stopped to follow it, the tokens every replica accepts, the
 * presence monitor's canary memory, and what /metrics says of it all.
 *
 * Why a connection of its own: the lease must be renewed on time however
 * busy the store's handles are with a 100,000-object list, and its
 * requests must time out within a third of the lease, not --etcd-timeout.
 */
#include "vimaged.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "ha/ha.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct vimaged_ha {
	struct store_kv *kv;
	struct ha *ha;
	char dvcr_url[HA_URL_MAX]; /* the canary memory's value names the registry */
	int64_t retry_at_ms;       /* a failed wiring_lead is tried again then */
	bool warned_alone;
};

/* The presence monitor's canary memory: dvcr/canary = {"registry": URL}. */
static const struct store_kv_key canary_key = {"dvcr", "", "canary"};

int vimaged_ha_canary_recall(void *arg, bool *placed, struct vim_err *err)
{
	struct vimaged_ha *h = arg;
	struct store_kv_got got = {0};
	json_t *j;
	int rc;

	*placed = false;
	rc = h->kv->ops->get(h->kv, &canary_key, &got, err);
	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	j = json_loadb(got.value, got.len, 0, NULL);
	*placed = j && json_is_string(json_object_get(j, "registry")) &&
	          strcmp(json_string_value(json_object_get(j, "registry")), h->dvcr_url) == 0;
	json_decref(j);
	free(got.value);
	return 0;
}

struct canary_text {
	char *text;
};

static int canary_encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct canary_text *c = arg;

	(void)rev;
	*text = c->text;
	*len = strlen(c->text);
	return 0;
}

void vimaged_ha_canary_remember(void *arg)
{
	struct vimaged_ha *h = arg;
	struct store_kv_got got = {0};
	struct vim_err err = {0};
	struct canary_text c = {0};
	json_t *j = json_pack("{ss}", "registry", h->dvcr_url);
	struct store_kv_write w = {.key = canary_key, .op = STORE_KV_PUT, .encode = canary_encode};
	int64_t rev;
	int rc;

	if (!j || !(c.text = json_dumps(j, JSON_COMPACT)))
		goto out;
	rc = h->kv->ops->get(h->kv, &canary_key, &got, &err);
	if (rc == 0 && got.len == strlen(c.text) && memcmp(got.value, c.text, got.len) == 0)
		goto out; /* remembered already */
	if (rc < 0 && rc != VIM_ENOTFOUND)
		goto fail;
	w.expect_rev = rc == 0 ? got.mod_rev : 0;
	w.arg = &c;
	if (h->kv->ops->write(h->kv, &w, &rev, &err) == 0)
		goto out;
fail:
	/* the next leader then pushes the canary again: an outage that began
	 * before it led would go unseen, so say it */
	vim_log(VIM_LOG_WARN, "dvcr storage probe: cannot remember the canary in etcd: %s",
	        err.msg);
out:
	free(got.value);
	free(c.text);
	json_decref(j);
}

int vimaged_ha_start(struct wiring *w, const struct options *o, const char *api_url,
                     const char *token, const char *notify_token, struct vim_err *err)
{
	int64_t ttl_s = (o->lease_ttl_ms + 999) / 1000;
	/* a renewal that hangs must fail while the lease still holds */
	int64_t timeout_ms =
	    o->lease_ttl_ms / 3 < o->etcd_timeout_ms ? o->lease_ttl_ms / 3 : o->etcd_timeout_ms;
	struct store_kv_etcd_opts eo = {.endpoints = o->etcd_endpoints,
	                                .prefix = o->etcd_prefix,
	                                .cafile = o->etcd_cafile,
	                                .certfile = o->etcd_certfile,
	                                .keyfile = o->etcd_keyfile,
	                                .timeout_ms = timeout_ms};
	struct ha_config hc = {.api_url = api_url, .external_url = o->external_url, .ttl_s = ttl_s};
	struct vimaged_ha *h = calloc(1, sizeof(*h));
	char id[HA_ID_MAX], host[200] = "localhost";
	const char *port;
	int rc;

	if (!h)
		return vim_err_set(err, VIM_ENOMEM, "replicas: out of memory");
	snprintf(h->dvcr_url, sizeof(h->dvcr_url), "%s", w->dvcr_url ? w->dvcr_url : "");
	if (o->replica_id) {
		snprintf(id, sizeof(id), "%s", o->replica_id);
	} else {
		/* host:port is unique among processes that listen */
		gethostname(host, sizeof(host) - 1);
		port = strrchr(api_url, ':');
		snprintf(id, sizeof(id), "%s:%s", host, port ? port + 1 : "0");
	}
	hc.id = id;
	if ((rc = store_kv_etcd_open(&h->kv, &eo, err)) < 0)
		goto fail;
	hc.kv = h->kv;
	if ((rc = ha_start(&h->ha, &hc, err)) < 0)
		goto fail;
	if ((rc = ha_token_publish(h->ha, "api", token, err)) < 0 ||
	    (rc = ha_token_publish(h->ha, "notify", notify_token, err)) < 0)
		goto fail;
	if ((rc = store_fenced_open(&w->ctl_store, w->store, ha_fence(h->ha), err)) < 0)
		goto fail;
	w->ha = h;
	vim_log(VIM_LOG_INFO, "ha: replica %s, lease %lld s, campaigning", id, (long long)ttl_s);
	return 0;
fail:
	vimaged_ha_stop(h);
	return rc;
}

void vimaged_ha_step(struct wiring *w)
{
	struct vimaged_ha *h = w->ha;
	struct vim_err err = {0};
	bool leading;

	if (!h)
		return;
	leading = ha_leading(h->ha);
	if (leading && !w->manager) {
		if (vim_mono_ms() < h->retry_at_ms)
			return;
		vim_log(VIM_LOG_INFO, "ha: leading: starting the controllers");
		if (wiring_lead(w, &err) < 0) {
			h->retry_at_ms = vim_mono_ms() + 2000;
			vim_log(VIM_LOG_ERROR,
			        "ha: the controllers did not start (again in 2 s): %s", err.msg);
		}
	} else if (!leading && w->manager) {
		/* the fence is closed already: nothing they write would land */
		vim_log(VIM_LOG_WARN, "ha: stepped down: stopping the controllers");
		wiring_unlead(w);
	}
}

void vimaged_ha_stop(struct vimaged_ha *h)
{
	if (!h)
		return;
	ha_stop(h->ha);
	if (h->kv)
		h->kv->ops->close(h->kv);
	free(h);
}

bool vimaged_ha_token_known(void *arg, const char *kind, const char *token)
{
	struct wiring *w = arg;

	return w->ha && ha_token_known(w->ha->ha, kind, token);
}

int vimaged_ha_leader_url(struct vimaged_ha *h, char *out, size_t cap, struct vim_err *err)
{
	struct ha_replica r;
	int rc;

	if (!h)
		return vim_err_set(err, VIM_ENOTFOUND, "no other replica");
	if ((rc = ha_leader(h->ha, &r, err)) < 0)
		return rc;
	if (r.self)
		return vim_err_set(err, VIM_EEXIST, "this replica leads");
	snprintf(out, cap, "%s", r.api_url);
	return 0;
}

struct replica_lines {
	struct vim_text *t;
};

static int replica_line(void *arg, const struct ha_replica *r)
{
	struct replica_lines *l = arg;
	char labels[HA_ID_MAX + 2 * HA_URL_MAX + 64];

	snprintf(labels, sizeof(labels), "id=\"%s\",url=\"%s\",role=\"%s\"", r->id,
	         r->external_url[0] ? r->external_url : r->api_url,
	         r->leader_since ? "leader" : "follower");
	vim_metric_u64(l->t, "vimage_replica_start_time_seconds", labels, (uint64_t)r->started);
	return 0;
}

void vimaged_ha_metrics(struct vimaged_ha *h, struct vim_text *t)
{
	struct ha_stats st;
	struct ha_replica lead;
	struct replica_lines l = {t};
	struct vim_err err = {0};

	if (!h)
		return;
	ha_get_stats(h->ha, &st);
	vim_metric_head(t, "vimage_leader", "gauge",
	                "1 on the replica that leads (runs the controllers).");
	vim_metric_u64(t, "vimage_leader", "", st.leading);
	vim_metric_head(t, "vimage_leader_transitions_total", "counter",
	                "Changes of the leading replica this replica has seen.");
	vim_metric_u64(t, "vimage_leader_transitions_total", "", st.transitions);
	vim_metric_head(t, "vimage_lease_losses_total", "counter",
	                "Times this replica's lease expired or could not be renewed in time.");
	vim_metric_u64(t, "vimage_lease_losses_total", "", st.lease_losses);
	if (ha_leader(h->ha, &lead, &err) == 0) {
		vim_metric_head(t, "vimage_leader_since_seconds", "gauge",
		                "Unix time the leading replica leads since.");
		vim_metric_u64(t, "vimage_leader_since_seconds", "", (uint64_t)lead.leader_since);
	}
	vim_metric_head(t, "vimage_replica_start_time_seconds", "gauge",
	                "Each replica this one sees (its lease is alive): its start time, id, "
	                "URL and role.");
	if (ha_replicas(h->ha, replica_line, &l, &err) < 0)
		vim_log(VIM_LOG_WARN, "metrics: the replicas: %s", err.msg);
}
