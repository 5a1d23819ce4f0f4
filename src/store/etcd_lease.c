/*
 * store/etcd_lease — etcd's leases through the JSON gateway: grant,
 * keepalive and revoke, each one POST and its answer.
 *
 * /v3/lease/keepalive is a bidirectional stream in gRPC.  Through the
 * gateway (etcd 3.4, checked against Debian's etcd-server) one POST of
 * one request is the whole client stream: etcd answers one chunk,
 * {"result":{"header":..,"ID":..,"TTL":..}}, and ends the response at
 * once (the connection stays open for reuse), so a renewal is one round
 * trip and never waits for the timeout.  A lease etcd does not know
 * (expired, revoked) is not an error there: the result has no TTL.
 *
 * /v3/lease/revoke (3.4 also routes /v3/kv/lease/revoke, the older path;
 * both answer alike) deletes the lease's keys at once; an unknown lease
 * is HTTP 404, gRPC NotFound, "etcdserver: requested lease not found".
 */
#include "store/etcd_internal.h"

#include <stdio.h>
#include <string.h>

static int lease_call(struct etcd_kv *e, const char *path, const char *body, bool idempotent,
                      const char *what, json_t **out, struct vim_err *err)
{
	struct etcd_call c = {.path = path,
	                      .body = body,
	                      .len = strlen(body),
	                      .what = what,
	                      .idempotent = idempotent,
	                      .only_ep = -1};

	return etcd_request(e, &c, out, err);
}

/* etcd's "requested lease not found" (gRPC NotFound) as VIM_ENOTFOUND;
 * any other failure as it came. */
static int lease_fail(int rc, const struct vim_err *got, const char *what, struct vim_err *err)
{
	if (strstr(got->msg, "lease not found"))
		return vim_err_set(err, VIM_ENOTFOUND,
		                   "etcd: %s: no such lease (expired or revoked)", what);
	if (err)
		*err = *got;
	return rc;
}

int etcd_lease_grant(struct store_kv *kv, int64_t ttl_s, int64_t *id, struct vim_err *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	char what[64], body[64];
	json_t *j = NULL;
	int rc;

	*id = 0;
	snprintf(what, sizeof(what), "lease grant of %lld s", (long long)ttl_s);
	if (ttl_s <= 0)
		return vim_err_set(err, VIM_EINVAL, "etcd: %s: the TTL must be > 0", what);
	snprintf(body, sizeof(body), "{\"TTL\":\"%lld\"}", (long long)ttl_s);
	/* not idempotent: a grant sent twice leaves a lease nobody uses */
	rc = lease_call(e, "/v3/lease/grant", body, false, what, &j, err);
	if (rc < 0)
		goto out;
	*id = etcd_json_i64(j, "ID");
	if (*id == 0)
		rc = vim_err_set(err, VIM_EIO, "etcd: %s: an answer without ID", what);
out:
	json_decref(j);
	return rc;
}

int etcd_lease_keepalive(struct store_kv *kv, int64_t id, int64_t *ttl_s, struct vim_err *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	char what[64], body[64];
	struct vim_err got = {0};
	const json_t *res;
	json_t *j = NULL;
	int rc;

	*ttl_s = 0;
	snprintf(what, sizeof(what), "lease keepalive of %lld", (long long)id);
	snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
	/* idempotent: a renewal sent twice renews twice, which is harmless */
	rc = lease_call(e, "/v3/lease/keepalive", body, true, what, &j, &got);
	if (rc < 0) {
		rc = lease_fail(rc, &got, what, err);
		goto out;
	}
	res = json_object_get(j, "result");
	if (!json_is_object(res)) {
		rc = vim_err_set(err, VIM_EIO, "etcd: %s: an answer without result", what);
		goto out;
	}
	/* etcd's answer for a lease it does not have: TTL 0, left out */
	*ttl_s = etcd_json_i64(res, "TTL");
	if (*ttl_s <= 0) {
		*ttl_s = 0;
		rc = vim_err_set(err, VIM_ENOTFOUND, "etcd: %s: no such lease (expired or revoked)",
		                 what);
	}
out:
	json_decref(j);
	return rc;
}

int etcd_lease_revoke(struct store_kv *kv, int64_t id, struct vim_err *err)
{
	struct etcd_kv *e = (struct etcd_kv *)kv;
	char what[64], body[64];
	struct vim_err got = {0};
	json_t *j = NULL;
	int rc;

	snprintf(what, sizeof(what), "lease revoke of %lld", (long long)id);
	snprintf(body, sizeof(body), "{\"ID\":\"%lld\"}", (long long)id);
	/* idempotent in effect: a revoke sent again finds no lease, and
	 * the first one's keys are gone either way */
	rc = lease_call(e, "/v3/lease/revoke", body, true, what, &j, &got);
	if (rc < 0)
		rc = lease_fail(rc, &got, what, err);
	json_decref(j);
	return rc;
}
