/*
 * ha/ha_record — the JSON of a replica's record and of the leader key,
 * writes that replace whatever is there, and the replica list.
 */
#include "ha/ha_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int ha_write(struct ha *h, const struct store_kv_key *key, const char *value, int64_t expect_rev,
             int64_t lease, int64_t *rev, struct vim_err *err)
{
	struct store_kv_write w = {.key = *key,
	                           .op = value ? STORE_KV_PUT : STORE_KV_DELETE,
	                           .expect_rev = expect_rev,
	                           .lease = value ? lease : 0,
	                           .encode = value ? store_kv_encode_text : NULL,
	                           .arg = (void *)value};
	int64_t r = 0;
	int rc = h->kv->ops->write(h->kv, &w, &r, err);

	if (rev)
		*rev = rc == 0 ? r : 0;
	return rc;
}

char *ha_record_json(const struct ha *h, int64_t since)
{
	json_t *o = json_pack("{s:s, s:s, s:s}", "id", h->id, "apiURL", h->api_url, "externalURL",
	                      h->external_url);
	char *s = NULL;

	if (!o)
		return NULL;
	if (json_object_set_new(o, since ? "since" : "started",
	                        json_integer(since ? since : h->started)) == 0)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void ha_copy_str(char *dst, size_t cap, json_t *o, const char *name)
{
	const char *s = json_string_value(json_object_get(o, name));
	size_t n = s ? strlen(s) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(dst, s, n);
	dst[n] = '\0';
}

int ha_record_parse(const char *value, size_t len, struct ha_replica *out)
{
	json_t *o = json_loadb(value, len, 0, NULL);
	int rc = VIM_EIO;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "id")))
		goto out;
	ha_copy_str(out->id, sizeof(out->id), o, "id");
	ha_copy_str(out->api_url, sizeof(out->api_url), o, "apiURL");
	ha_copy_str(out->external_url, sizeof(out->external_url), o, "externalURL");
	if (!out->external_url[0])
		memcpy(out->external_url, out->api_url, sizeof(out->external_url));
	out->started = json_integer_value(json_object_get(o, "started"));
	out->leader_since = json_integer_value(json_object_get(o, "since"));
	rc = out->id[0] ? 0 : VIM_EIO;
out:
	json_decref(o);
	return rc;
}

/* ---- the replica list -------------------------------------------------------------- */

struct ha_list {
	struct ha *h;
	struct ha_replica leader; /* id "" = none */
	ha_replica_fn fn;
	void *arg;
};

static int ha_list_item(void *arg, const struct store_kv_item *it)
{
	struct ha_list *l = arg;
	struct ha_replica r;

	if (ha_record_parse(it->value, it->len, &r) < 0)
		return 0; /* someone else's key: not a replica */
	r.self = strcmp(r.id, l->h->id) == 0;
	if (l->leader.id[0] && strcmp(r.id, l->leader.id) == 0)
		r.leader_since = l->leader.leader_since;
	return l->fn(l->arg, &r);
}

int ha_replicas(struct ha *h, ha_replica_fn fn, void *arg, struct vim_err *err)
{
	struct ha_list l = {.h = h, .fn = fn, .arg = arg};
	struct store_kv_range r = {.resource = HA_RES_REPLICAS, .ns = ""};
	struct store_kv_range_meta meta;
	int rc;

	if (ha_leader(h, &l.leader, NULL) < 0)
		l.leader.id[0] = '\0';
	rc = h->kv->ops->range(h->kv, &r, ha_list_item, &l, &meta, err);
	if (rc < 0)
		vim_err_wrap(err, "ha %s: the replica list", h->id);
	return rc;
}
