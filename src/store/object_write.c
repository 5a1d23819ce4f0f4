/*
 * store/object_write — update, update-status and delete with Kubernetes'
 * rules: server-managed metadata kept, generation bumped only by a spec
 * change, status only through its subresource, finalizers holding a
 * deleted object until the last one goes, no new resourceVersion for an
 * update that changes nothing.  Each ends in one compare-and-swap on the
 * key's mod_rev (obj_put), as kube's GuaranteedUpdate: a compare lost to
 * another writer reads again and re-applies, unless the caller's own
 * resourceVersion is what failed (409).
 */
#include "store/object_internal.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

/* a == b, where a stored object that lacks the member (b NULL) matches
 * nothing rather than crashing the writer. */
static bool same_str(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool has_rv(const char *rv)
{
	return rv && *rv;
}

/* Members of metadata only the server writes. */
static const char *const managed[] = {
    "uid", "creationTimestamp", "generation", "deletionTimestamp", "deletionGracePeriodSeconds",
    NULL};

static int conflict(const char *resource, const char *name, struct vim_err *err)
{
	char q[160];

	store_qualified(q, sizeof(q), resource);
	return vim_err_set(err, VIM_ECONFLICT,
	                   "Operation cannot be fulfilled on %s \"%s\": the object has been "
	                   "modified; please apply your changes to the latest version and try "
	                   "again",
	                   q, name);
}

/* ---- update ------------------------------------------------------------------------ */

/* Loads the stored object named by in and checks in's resourceVersion
 * (absent = unconditional). */
static int load_for_write(struct obj_store *s, const char *resource, const json_t *in,
                          json_t **stored, int64_t *mod_rev, struct vim_err *err)
{
	const char *name = store_meta_str(in, "name"), *rv = store_meta_str(in, "resourceVersion");
	int rc;

	if (!name || !*name)
		return vim_err_set(err, VIM_EINVAL, "%s: metadata.name: Required value", resource);
	if ((rc = obj_load(s, resource, store_meta_str(in, "namespace"), name, stored, mod_rev,
	                   err)) < 0)
		return rc;
	if (has_rv(rv) && !same_str(rv, store_meta_str(*stored, "resourceVersion"))) {
		json_decref(*stored);
		*stored = NULL;
		return conflict(resource, name, err);
	}
	return 0;
}

/* Both objects are the caller's own: b's resourceVersion is set to a's
 * for the comparison and put back, with no copy of either. */
static bool same_ignoring_rv(const json_t *a, json_t *b)
{
	json_t *ma = json_object_get(a, "metadata"), *mb = json_object_get(b, "metadata");
	json_t *ra = json_object_get(ma, "resourceVersion");
	json_t *rb = json_incref(json_object_get(mb, "resourceVersion"));
	bool same;

	if (ra)
		json_object_set(mb, "resourceVersion", ra);
	else
		json_object_del(mb, "resourceVersion");
	same = json_equal(a, b);
	if (rb)
		json_object_set_new(mb, "resourceVersion", rb);
	else
		json_object_del(mb, "resourceVersion");
	return same;
}

/* What holds a deleted object: its finalizers, and a Namespace's
 * spec.finalizers too (as kube's namespace storage: "kubernetes" stays
 * until the namespace controller has removed the namespace's content). */
static size_t finalizer_count(const char *resource, const json_t *obj)
{
	size_t n = json_array_size(json_object_get(json_object_get(obj, "metadata"), "finalizers"));

	if (strcmp(resource, "namespaces") == 0)
		n += json_array_size(json_object_get(json_object_get(obj, "spec"), "finalizers"));
	return n;
}

/* Writes next (stolen) in place of stored (at mod_rev), or deletes it
 * when it is being deleted and has no finalizer left; no-ops return
 * stored unchanged. */
static int finish(struct obj_store *s, const char *resource, json_t *stored, int64_t mod_rev,
                  json_t *next, const struct store_write_opts *wo, json_t **out,
                  struct vim_err *err)
{
	enum store_event_type type = STORE_MODIFIED;
	int rc;

	if (same_ignoring_rv(stored, next)) {
		json_decref(next);
		*out = json_incref(stored);
		return 0;
	}
	if (store_meta_str(next, "deletionTimestamp") && finalizer_count(resource, next) == 0)
		type = STORE_DELETED;
	if ((rc = obj_write(s, resource, next,
	                    type == STORE_MODIFIED ? store_hub_selectable(stored) : NULL, type,
	                    mod_rev, store_meta_str(stored, "resourceVersion"), wo, err)) < 0) {
		json_decref(next);
		return rc;
	}
	*out = next;
	return 0;
}

/* After a compare lost to another writer (*lost): read again and
 * re-apply, unless the caller's own resourceVersion is what lost (it is
 * stale now: 409), or the tries are spent. */
static bool cas_retry(bool lost, const char *in_rv, int tries)
{
	return lost && !has_rv(in_rv) && tries + 1 < OBJ_CAS_TRIES;
}

/* A lost compare that is not retried: 404 when the object is gone (what
 * the read a retry would make says, as kube's GuaranteedUpdate answers),
 * else the 409 lost_cas set. */
static int lost_final(struct obj_store *s, int rc, bool lost, const char *resource, const char *ns,
                      const char *name, struct vim_err *err)
{
	struct vim_err rerr;
	json_t *now = NULL;
	int64_t rev;
	int read;

	if (!lost || rc != VIM_ECONFLICT)
		return rc;
	read = obj_load(s, resource, ns, name, &now, &rev, &rerr);
	json_decref(now);
	if (read == VIM_ENOTFOUND) {
		if (err)
			*err = rerr;
		return read;
	}
	return rc;
}

/* A write's compare that failed: the 409 it stays if not retried. */
static int lost_cas(int rc, bool *lost, const char *resource, const char *name, struct vim_err *err)
{
	if (rc != VIM_ECONFLICT)
		return rc;
	*lost = true;
	return conflict(resource, name, err);
}

/* One try of update: next from in over the stored object. */
static int update_once(struct obj_store *s, const char *resource, const json_t *in,
                       const struct store_write_opts *wo, json_t **out, bool *lost,
                       struct vim_err *err)
{
	json_t *stored = NULL, *next = NULL, *md, *smd, *v;
	int64_t gen, mod_rev = 0;
	size_t i;
	int rc;

	if ((rc = load_for_write(s, resource, in, &stored, &mod_rev, err)) < 0)
		goto out;
	next = json_deep_copy(in);
	md = json_object_get(next, "metadata");
	smd = json_object_get(stored, "metadata");
	if (!json_is_object(md)) {
		rc = vim_err_set(err, VIM_EINVAL, "%s: metadata must be an object", resource);
		goto out;
	}
	for (i = 0; managed[i]; i++) {
		if ((v = json_object_get(smd, managed[i])))
			json_object_set(md, managed[i], v);
		else
			json_object_del(md, managed[i]);
	}
	/* The main resource ignores status: the stored one stays. */
	if ((v = json_object_get(stored, "status")))
		json_object_set(next, "status", v);
	else
		json_object_del(next, "status");
	gen = json_integer_value(json_object_get(smd, "generation"));
	if (gen > 0 && !json_equal(json_object_get(stored, "spec"), json_object_get(next, "spec")))
		json_object_set_new(md, "generation", json_integer(gen + 1));
	rc = lost_cas(finish(s, resource, stored, mod_rev, next, wo, out, err), lost, resource,
	              store_meta_str(in, "name"), err);
	next = NULL;
out:
	json_decref(next);
	json_decref(stored);
	return rc;
}

/* One attempt of a write of in: *lost when its compare lost. */
typedef int (*write_once_fn)(struct obj_store *s, const char *resource, const json_t *in,
                             const struct store_write_opts *wo, json_t **out, bool *lost,
                             struct vim_err *err);

/* kube's GuaranteedUpdate around one kind of attempt: again while the
 * compare is lost to another writer and the caller named no
 * resourceVersion of its own (cas_retry), then the lost compare's answer
 * (lost_final: 404 when the object went, else 409). */
static int guaranteed(struct obj_store *s, write_once_fn once, const char *resource,
                      const json_t *in, const struct store_write_opts *wo, json_t **out,
                      struct vim_err *err)
{
	const char *in_rv = store_meta_str(in, "resourceVersion");
	bool lost;
	int rc, tries;

	*out = NULL;
	for (tries = 0;; tries++) {
		lost = false;
		rc = once(s, resource, in, wo, out, &lost, err);
		if (!cas_retry(lost, in_rv, tries))
			break;
	}
	return lost_final(s, rc, lost, resource, store_meta_str(in, "namespace"),
	                  store_meta_str(in, "name"), err);
}

int obj_update(struct store *base, const char *resource, const json_t *in,
               const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	return guaranteed((struct obj_store *)base, update_once, resource, in, wo, out, err);
}

/* ---- update_status ---------------------------------------------------------------- */

/* The write's starting point from wo->basis (see store_write_opts): a
 * copy of its top level and metadata, the members the write replaces,
 * sharing the rest; NULL when there is none or it is not the object at
 * in's resourceVersion.  No read: the compare on that revision decides
 * whether the stored object is still it. */
static json_t *from_basis(const json_t *in, const struct store_write_opts *wo, int64_t *rev)
{
	const json_t *b = wo ? wo->basis : NULL;
	const char *rv = store_meta_str(in, "resourceVersion"), *name = store_meta_str(in, "name");
	const char *ns = store_meta_str(in, "namespace"), *bns;
	json_t *top, *md;
	char *end;
	long long n;

	if (!b || !has_rv(rv) || !name || !same_str(rv, store_meta_str(b, "resourceVersion")) ||
	    !same_str(name, store_meta_str(b, "name")))
		return NULL;
	bns = store_meta_str(b, "namespace");
	if (strcmp(ns ? ns : "", bns ? bns : "") != 0)
		return NULL;
	n = strtoll(rv, &end, 10);
	if (*end || n <= 0)
		return NULL; /* not a revision of ours: the read path answers */
	top = json_copy((json_t *)b);
	md = json_copy(json_object_get(b, "metadata"));
	if (!top || !md || json_object_set_new(top, "metadata", md) < 0) {
		json_decref(top);
		return NULL; /* out of memory: the load will tell */
	}
	*rev = n;
	return top;
}

static int update_status_once(struct obj_store *s, const char *resource, const json_t *in,
                              const struct store_write_opts *wo, json_t **out, bool *lost,
                              struct vim_err *err)
{
	json_t *stored = NULL, *st = json_object_get(in, "status"), *copy, *mf, *prev;
	int64_t mod_rev = 0;
	int rc = 0;

	if (!(stored = from_basis(in, wo, &mod_rev)) &&
	    (rc = load_for_write(s, resource, in, &stored, &mod_rev, err)) < 0)
		goto out;
	/* Only the status can differ, so only it is compared and copied;
	 * stored's top level and metadata are this call's own to change. */
	if (json_equal(st, json_object_get(stored, "status")) ||
	    (!st && !json_object_get(stored, "status"))) {
		*out = json_incref(stored);
		goto out;
	}
	/* before stored becomes the new state: a phase selector must see it
	 * leave (status.phase=Ready gets DELETED when an image goes ImageLost) */
	prev = store_hub_selectable(stored);
	if (st &&
	    (!(copy = json_deep_copy(st)) || json_object_set_new(stored, "status", copy) < 0)) {
		json_decref(prev);
		rc = vim_err_set(err, VIM_ENOMEM, "store: out of memory");
		goto out;
	}
	if (!st)
		json_object_del(stored, "status");
	/* the status writer's field manager entry (server-side apply) */
	if ((mf = json_object_get(json_object_get(in, "metadata"), "managedFields")) &&
	    json_is_array(mf))
		json_object_set(json_object_get(stored, "metadata"), "managedFields", mf);
	if ((rc = lost_cas(obj_write(s, resource, stored, prev, STORE_MODIFIED, mod_rev,
	                             store_meta_str(stored, "resourceVersion"), wo, err),
	                   lost, resource, store_meta_str(in, "name"), err)) == 0)
		*out = json_incref(stored);
out:
	json_decref(stored);
	return rc;
}

int obj_update_status(struct store *base, const char *resource, const json_t *in,
                      const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	return guaranteed((struct obj_store *)base, update_status_once, resource, in, wo, out, err);
}

/* ---- delete ------------------------------------------------------------------------ */

static int remove_once(struct obj_store *s, const struct store_delete_opts *o, json_t **out,
                       bool *deleted, bool *lost, struct vim_err *err)
{
	const char *resource = o->resource, *name = o->name;
	const char *precondition_uid = o->precondition_uid, *precondition_rv = o->precondition_rv;
	const struct store_write_opts *wo = &o->write;
	json_t *stored = NULL, *next;
	char ts[VIM_TIME_TEXT_MAX], q[160];
	int64_t mod_rev = 0;
	int rc;

	if ((rc = obj_load(s, resource, o->ns, name, &stored, &mod_rev, err)) < 0)
		goto out;
	store_qualified(q, sizeof(q), resource);
	if (precondition_uid && *precondition_uid &&
	    !same_str(precondition_uid, store_meta_str(stored, "uid"))) {
		rc =
		    vim_err_set(err, VIM_ECONFLICT,
		                "Operation cannot be fulfilled on %s \"%s\": Precondition failed: "
		                "UID in precondition: %s, UID in object meta: %s",
		                q, name, precondition_uid,
		                store_meta_str(stored, "uid") ? store_meta_str(stored, "uid") : "");
		goto out;
	}
	if (has_rv(precondition_rv) &&
	    !same_str(precondition_rv, store_meta_str(stored, "resourceVersion"))) {
		rc = conflict(resource, name, err);
		goto out;
	}
	next = json_deep_copy(stored);
	if (finalizer_count(resource, stored) > 0) {
		if (store_meta_str(stored, "deletionTimestamp")) {
			*out = json_incref(stored); /* already being deleted */
			json_decref(next);
			goto out;
		}
		vim_time_format(vim_time_now(), ts, sizeof(ts));
		json_object_set_new(json_object_get(next, "metadata"), "deletionTimestamp",
		                    json_string(ts));
		json_object_set_new(json_object_get(next, "metadata"), "deletionGracePeriodSeconds",
		                    json_integer(0));
		if (strcmp(resource, "namespaces") == 0)
			json_object_set_new(next, "status",
			                    json_pack("{s:s}", "phase", "Terminating"));
		rc = obj_write(s, resource, next, store_hub_selectable(stored), STORE_MODIFIED,
		               mod_rev, store_meta_str(stored, "resourceVersion"), wo, err);
	} else {
		rc = obj_write(s, resource, next, NULL, STORE_DELETED, mod_rev,
		               store_meta_str(stored, "resourceVersion"), wo, err);
		*deleted = rc == 0;
	}
	if ((rc = lost_cas(rc, lost, resource, name, err)) == 0)
		*out = next;
	else
		json_decref(next);
out:
	json_decref(stored);
	return rc;
}

int obj_remove(struct store *base, const struct store_delete_opts *o, json_t **out, bool *deleted,
               struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	int rc, tries;

	bool lost;

	*out = NULL;
	for (tries = 0;; tries++) {
		*deleted = false;
		lost = false;
		rc = remove_once(s, o, out, deleted, &lost, err);
		if (!cas_retry(lost, o->precondition_rv, tries))
			break;
	}
	return lost_final(s, rc, lost, o->resource, o->ns, o->name, err);
}
