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

#include <limits.h>
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
	int64_t outage_from_s;     /* what the canary memory says of an open outage */
};

/* The presence monitor's canary memory: dvcr/canary = {"registry": URL,
 * "outageFrom": unix s (0: none open)}, written by the probe's thread. */
static const struct store_kv_key canary_key = {"dvcr", "", "canary"};

int vimaged_ha_canary_recall(void *arg, bool *placed, int64_t *outage_from_s, struct vim_err *err)
{
	struct vimaged_ha *h = arg;
	struct store_kv_got got = {0};
	json_t *j, *reg;
	int rc;

	*placed = false;
	*outage_from_s = 0;
	rc = h->kv->ops->get(h->kv, &canary_key, &got, err);
	if (rc == VIM_ENOTFOUND)
		return 0;
	if (rc < 0)
		return rc;
	j = json_loadb(got.value, got.len, 0, NULL);
	reg = json_object_get(j, "registry");
	*placed = json_is_string(reg) && strcmp(json_string_value(reg), h->dvcr_url) == 0;
	if (*placed && json_is_integer(json_object_get(j, "outageFrom")))
		*outage_from_s = json_integer_value(json_object_get(j, "outageFrom"));
	h->outage_from_s = *outage_from_s;
	json_decref(j);
	free(got.value);
	return 0;
}

/* Writes the memory as h knows it (placed: this registry). */
static void canary_write(struct vimaged_ha *h)
{
	struct vim_err err = {0};
	json_t *j = json_pack("{sssI}", "registry", h->dvcr_url, "outageFrom",
	                      (json_int_t)h->outage_from_s);
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	if (!text)
		vim_err_set(&err, VIM_ENOMEM, "out of memory");
	if (!text || store_kv_put(h->kv, &canary_key, text, 0, NULL, &err) < 0)
		/* the next leader then pushes the canary again (or misses the
		 * open outage's wave): an outage that began before it led would
		 * go unseen */
		vim_log(VIM_LOG_WARN, "dvcr storage probe: cannot remember the canary in etcd: %s",
		        err.msg);
	free(text);
	json_decref(j);
}

void vimaged_ha_canary_remember(void *arg)
{
	canary_write(arg);
}

void vimaged_ha_canary_outage(void *arg, int64_t outage_from_s)
{
	struct vimaged_ha *h = arg;

	h->outage_from_s = outage_from_s;
	canary_write(h);
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
	char id[HA_ID_MAX], host[HOST_NAME_MAX + 1] = "localhost";
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
		snprintf(id, sizeof(id), "%.*s:%.8s", HOST_NAME_MAX, host, port ? port + 1 : "0");
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
	pthread_rwlock_wrlock(&w->live_rw);
	w->ha = h;
	pthread_rwlock_unlock(&w->live_rw);
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

struct vimaged_ha *vimaged_ha_detach(struct wiring *w)
{
	struct vimaged_ha *h;

	pthread_rwlock_wrlock(&w->live_rw);
	h = w->ha;
	w->ha = NULL;
	pthread_rwlock_unlock(&w->live_rw);
	return h;
}

bool vimaged_ha_token_known(void *arg, const char *kind, const char *token)
{
	struct wiring *w = arg;
	bool known;

	pthread_rwlock_rdlock(&w->live_rw);
	known = w->ha && ha_token_known(w->ha->ha, kind, token);
	pthread_rwlock_unlock(&w->live_rw);
	return known;
}

int vimaged_ha_leader_url(struct wiring *w, char *out, size_t cap, struct vim_err *err)
{
	struct ha_replica r;
	int rc;

	pthread_rwlock_rdlock(&w->live_rw);
	if (!w->ha)
		rc = vim_err_set(err, VIM_ENOTFOUND, "no other replica");
	else if ((rc = ha_leader(w->ha->ha, &r, err)) == VIM_ENOTFOUND)
		rc = vim_err_set(err, VIM_EUNAVAILABLE, "no replica leads right now");
	else if (rc == 0 && r.self)
		rc = vim_err_set(err, VIM_EEXIST, "this replica leads");
	pthread_rwlock_unlock(&w->live_rw);
	if (rc == 0)
		snprintf(out, cap, "%s", r.api_url);
	return rc;
}

static int replica_line(void *arg, const struct ha_replica *r)
{
	struct vim_text *t = arg;
	char labels[HA_ID_MAX + 2 * HA_URL_MAX + 64];

	/* its own API, not --external-url: behind one balancer every replica
	 * has the same external URL, and the list must tell them apart */
	snprintf(labels, sizeof(labels), "id=\"%s\",url=\"%s\",role=\"%s\"", r->id, r->api_url,
	         r->leader_since ? "leader" : "follower");
	vim_metric_u64(t, "vimage_replica_start_time_seconds", labels, (uint64_t)r->started);
	return 0;
}

static void ha_metrics(struct vimaged_ha *h, struct vim_text *t)
{
	struct ha_stats st;
	struct ha_replica lead;
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
	if (ha_replicas(h->ha, replica_line, t, &err) < 0)
		vim_log(VIM_LOG_WARN, "metrics: the replicas: %s", err.msg);
}

void vimaged_ha_metrics(struct wiring *w, struct vim_text *t)
{
	pthread_rwlock_rdlock(&w->live_rw);
	ha_metrics(w->ha, t);
	pthread_rwlock_unlock(&w->live_rw);
}
