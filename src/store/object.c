/*
 * store/object — the Kubernetes object rules over a dumb backend
 * (store/kv.h), as the registry's generic store sits over
 * k8s.io/apiserver/pkg/storage: this file holds the store's table, its
 * reads of one object, the one CAS write every rule ends in, the watch
 * hub's feeding and the Events' lease.  The rules of each write are in
 * object_create.c and object_write.c, lists and continue tokens in
 * object_list.c.
 */
#include "store/object_internal.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* kube's leaseManager: the writes of one window share a lease, so a
 * burst of Events does not cost a grant each.  The window is 5 % of the
 * TTL, at most 60 s (leaseReuseDurationPercent, leaseReuseDurationSeconds),
 * and the lease is granted for the TTL plus the window: no Event outlives
 * its TTL by more than the window. */
#define OBJ_LEASE_REUSE_MAX_S 60
#define OBJ_LEASE_REUSE_PERCENT 5

static int64_t lease_reuse_s(int64_t ttl_s)
{
	int64_t r = ttl_s * OBJ_LEASE_REUSE_PERCENT / 100;

	return r < OBJ_LEASE_REUSE_MAX_S ? r : OBJ_LEASE_REUSE_MAX_S;
}

/* ---- helpers shared with the other store files ------------------------------- */

const char *store_meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

void store_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n > 0)
			got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
	         b[13], b[14], b[15]);
}

const struct model_kind_info *store_kind_of(const char *resource)
{
	const struct model_kind_info *k = model_kind_lookup(resource);

	/* the lookup also takes short names: only the plural is a resource */
	return k && strcmp(k->plural, resource) == 0 ? k : NULL;
}

void store_qualified(char *out, size_t len, const char *resource)
{
	const struct model_kind_info *k = store_kind_of(resource);

	snprintf(out, len, "%s", k ? k->qualified : resource);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

/* ---- one object ------------------------------------------------------------------ */

int obj_load(struct obj_store *s, const char *resource, const char *ns, const char *name,
             json_t **out, int64_t *mod_rev, struct vim_err *err)
{
	struct store_kv_key key = {.resource = resource, .ns = ns ? ns : "", .name = name};
	struct store_kv_got got = {0};
	char q[160];
	int rc;

	*out = NULL;
	*mod_rev = 0;
	if ((rc = s->kops->get(s->kv, &key, &got, err)) < 0) {
		if (rc == VIM_ENOTFOUND) {
			store_qualified(q, sizeof(q), resource);
			vim_err_set(err, VIM_ENOTFOUND, "%s \"%s\" not found", q, name);
		}
		return rc;
	}
	*out = json_loadb(got.value, got.len, 0, NULL);
	free(got.value);
	if (!json_is_object(json_object_get(*out, "metadata"))) {
		json_decref(*out);
		*out = NULL;
		vim_err_set(err, VIM_EIO, "store: %s: %s %s/%s: stored JSON is corrupt",
		            s->kops->name, resource, key.ns, name);
		vim_log(VIM_LOG_ERROR, "store: %s: %s %s/%s: stored JSON is corrupt", s->kops->name,
		        resource, key.ns, name);
		return VIM_EIO;
	}
	if (!s->kops->value_has_rev)
		store_set_rv(*out, got.mod_rev);
	*mod_rev = got.mod_rev;
	return 0;
}

static int obj_get(struct store *base, const char *resource, const char *ns, const char *name,
                   json_t **out, struct vim_err *err)
{
	int64_t rev;

	return obj_load((struct obj_store *)base, resource, ns, name, out, &rev, err);
}

/* ---- the one write ------------------------------------------------------------ */

/* What encode and committed need of one change. */
struct obj_change {
	struct obj_store *s;
	const char *resource;
	json_t *obj;  /* borrowed */
	json_t *prev; /* owned until the hub takes it */
	enum store_event_type type;
	char *text; /* owned until the hub takes it */
	size_t len;
	int64_t rv_set; /* the resourceVersion obj has been given (0: none) */
};

static int change_encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct obj_change *c = arg;

	/* a value made before the revision is known carries none, as
	 * kube-apiserver stores them: every read sets it from mod_rev */
	if (rev > 0) {
		store_set_rv(c->obj, rev);
		c->rv_set = rev;
	} else
		json_object_del(json_object_get(c->obj, "metadata"), "resourceVersion");
	free(c->text);
	if (!(c->text = json_dumps(c->obj, JSON_COMPACT))) {
		c->len = 0;
		return VIM_ENOMEM;
	}
	c->len = strlen(c->text);
	*text = c->text;
	*len = c->len;
	return 0;
}

/* Under the backend's write lock, in revision order: a local backend's
 * changes reach the hub exactly as they commit. */
static void change_committed(void *arg, int64_t rev)
{
	struct obj_change *c = arg;
	struct obj_store *s = c->s;

	if (c->type == STORE_DELETED) { /* the history holds the last state */
		store_set_rv(c->obj, rev);
		c->rv_set = rev;
		free(c->text);
		c->text = json_dumps(c->obj, JSON_COMPACT);
		c->len = c->text ? strlen(c->text) : 0;
	}
	pthread_mutex_lock(&s->mu);
	store_hub_publish_text(s->hub, c->resource, c->type, c->obj, c->text, c->len, c->prev, rev);
	s->rv = rev;
	pthread_mutex_unlock(&s->mu);
	c->text = NULL;
	c->prev = NULL;
}

/* The lease an Event's put goes with: the previous one while it still
 * outlives now + TTL (kube's "valid"), else a new one of TTL + window. */
static int event_lease(struct obj_store *s, int64_t *lease, struct vim_err *err)
{
	int64_t now = vim_mono_ms(), id = 0, reuse = lease_reuse_s(s->event_ttl_s);
	int rc = 0;

	pthread_mutex_lock(&s->lease_mu);
	if (!s->lease || now - s->lease_at_ms >= reuse * 1000) {
		if ((rc = s->kops->lease_grant(s->kv, s->event_ttl_s + reuse, &id, err)) == 0) {
			s->lease = id;
			s->lease_at_ms = now;
		}
	}
	*lease = rc == 0 ? s->lease : 0;
	pthread_mutex_unlock(&s->lease_mu);
	return rc;
}

/* The fence as the write's compare (w->fence, w->fence_rev), or
 * VIM_EFENCED when it is closed or may have lapsed (store_fence_check):
 * refused here, with no round trip. */
static int fence_arm(struct store_kv_write *w, struct store_fence *f, const char *what,
                     struct vim_err *err)
{
	int64_t rev = 0;
	int rc = store_fence_check(f, what, &rev, err);

	if (rc < 0)
		return rc;
	w->fence = (struct store_kv_key){.resource = f->resource, .ns = "", .name = f->name};
	w->fence_rev = rev;
	return 0;
}

int obj_put(struct obj_store *s, const char *resource, json_t *obj, json_t *prev,
            enum store_event_type type, int64_t expect_rev, struct store_fence *fence,
            struct vim_err *err)
{
	struct obj_change c = {
	    .s = s, .resource = resource, .obj = obj, .prev = prev, .type = type};
	const char *ns = store_meta_str(obj, "namespace");
	struct store_kv_write w = {
	    .key = {.resource = resource, .ns = ns ? ns : "", .name = store_meta_str(obj, "name")},
	    .op = type == STORE_DELETED ? STORE_KV_DELETE : STORE_KV_PUT,
	    .expect_rev = expect_rev,
	    .encode = change_encode,
	    .committed = s->kops->local ? change_committed : NULL,
	    .arg = &c,
	};
	int64_t rev = 0;
	int rc;

	if (type == STORE_MODIFIED && !prev) /* the selectors' view of the change */
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	if (fence) {
		char what[400];

		snprintf(what, sizeof(what), "%s %s/%s", resource, w.key.ns,
		         w.key.name ? w.key.name : "");
		if ((rc = fence_arm(&w, fence, what, err)) < 0)
			goto out;
	}
	if (w.op == STORE_KV_PUT && strcmp(resource, "events") == 0 && s->kops->lease_grant &&
	    s->event_ttl_s > 0 && (rc = event_lease(s, &w.lease, err)) < 0)
		goto out;
	if ((rc = s->kops->write(s->kv, &w, &rev, err)) < 0)
		goto out;
	if (c.rv_set != rev) /* a value written without it gets it as a read would */
		store_set_rv(obj, rev);
out:
	if (s->kops->local)
		store_hub_wake(s->hub); /* after the backend's lock: see store_hub_wake */
	free(c.text);
	json_decref(c.prev);
	return rc;
}

int obj_write(struct obj_store *s, const char *resource, json_t *obj, json_t *prev,
              enum store_event_type type, int64_t expect_rev, const char *stored_rv,
              const struct store_write_opts *wo, struct vim_err *err)
{
	json_t *md = json_object_get(obj, "metadata");

	if (!wo || !wo->dry_run)
		return obj_put(s, resource, obj, prev, type, expect_rev, wo ? wo->fence : NULL,
		               err);
	json_decref(prev);
	/* copied before the set: stored_rv may be obj's own member */
	if (stored_rv)
		json_object_set_new(md, "resourceVersion", json_string(stored_rv));
	else
		json_object_del(md, "resourceVersion");
	return 0;
}

/* ---- watches, revisions, health ---------------------------------------------- */

static int obj_watch(struct store *base, const char *resource, const struct store_watch_opts *o,
                     struct store_watch **out, struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	int rc;

	int64_t rev;

	if (s->reads)
		return s->reads->ops->watch(s->reads, resource, o, out, err);
	pthread_mutex_lock(&s->mu);
	if (o && o->resource_version > s->rv) {
		/* A revision a list has already read may not be published yet:
		 * the backend commits, and readers see it, before `committed`
		 * runs.  Its current_rev takes the write lock `committed` runs
		 * under, so once it answers that publish is done (and a
		 * registration at the older revision would replay it). */
		pthread_mutex_unlock(&s->mu);
		s->kops->current_rev(s->kv, &rev, NULL);
		pthread_mutex_lock(&s->mu);
	}
	rc = store_hub_watch(s->hub, resource, o, s->rv, out, err);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

static int64_t obj_current_rv(struct store *base)
{
	struct obj_store *s = (struct obj_store *)base;
	int64_t rv;

	if (s->reads)
		return s->reads->ops->current_rv(s->reads);
	pthread_mutex_lock(&s->mu);
	rv = s->rv;
	pthread_mutex_unlock(&s->mu);
	return rv;
}

static int obj_health(struct store *base, struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	int64_t rev;

	return s->kops->current_rev(s->kv, &rev, err);
}

static void obj_watch_stats(struct store *base, size_t *watchers, size_t *history)
{
	store_hub_stats(((struct obj_store *)base)->hub, watchers, history);
}

static void obj_close(struct store *base)
{
	struct obj_store *s = (struct obj_store *)base;

	store_event_expiry_stop(s->expiry); /* it writes through this store */
	if (s->reads)
		s->reads->ops->close(s->reads); /* before the hub and the kv it borrows */
	store_hub_free(s->hub);
	if (s->kv)
		s->kops->close(s->kv);
	pthread_mutex_destroy(&s->lease_mu);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static const struct store_ops obj_ops = {
    .name = "object",
    .get = obj_get,
    .list = obj_list,
    .create = obj_create,
    .update = obj_update,
    .update_status = obj_update_status,
    .remove = obj_remove,
    .watch = obj_watch,
    .current_rv = obj_current_rv,
    .restore = obj_restore,
    .health = obj_health,
    .watch_stats = obj_watch_stats,
    .close = obj_close,
};

int store_object_open(struct store **out, struct store_kv *kv, const struct store_object_opts *o,
                      struct vim_err *err)
{
	struct obj_store *s = calloc(1, sizeof(*s));
	const struct store_object_opts none = {0};
	int rc;

	*out = NULL;
	if (!o)
		o = &none;
	if (!s) {
		kv->ops->close(kv);
		return vim_err_set(err, VIM_ENOMEM, "store: out of memory");
	}
	/* the table named after the backend ("sqlite", "etcd") */
	s->ops = obj_ops;
	s->ops.name = kv->ops->name;
	s->base.ops = &s->ops;
	s->kv = kv;
	s->kops = kv->ops;
	s->event_ttl_s = o->event_ttl_s;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->lease_mu, NULL);
	if ((rc = s->kops->current_rev(kv, &s->rv, err)) < 0 ||
	    (rc = store_hub_new(&s->hub, o->history, err)) < 0)
		goto fail;
	store_hub_limit_bytes(s->hub, o->history_bytes);
	if (!s->kops->local) {
		if (!o->reads_open) {
			rc = vim_err_set(err, VIM_EINVAL,
			                 "store: %s: a remote backend needs a read side",
			                 s->kops->name);
			goto fail;
		}
		if ((rc = o->reads_open(&s->reads, kv, s->hub, err)) < 0)
			goto fail;
	}
	if (!s->kops->lease_grant && o->event_ttl_s > 0 &&
	    (rc = store_event_expiry_start(&s->expiry, &s->base, o->event_ttl_s,
	                                   o->event_expire_every_ms, err)) < 0)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	obj_close(&s->base);
	return rc;
}
