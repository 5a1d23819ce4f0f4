/*
 * store/object_create — create and restore: the server's metadata (uid,
 * generateName, creationTimestamp, generation) and one compare-and-swap
 * on "no such key" (obj_put with expect 0), so a taken name is 409
 * AlreadyExists decided by the backend, not by a read before the write.
 */
#include "store/object_internal.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static bool has_spec(const char *resource)
{
	return strcmp(resource, "events") != 0 && strcmp(resource, "namespaces") != 0;
}

/* ---- create ------------------------------------------------------------------------ */

/* Kubernetes' SimpleNameGenerator: the prefix cut to 58 characters
 * (maxGeneratedNameLength = 63 - 5) and 5 random characters from an
 * alphabet without vowels (no words) or look-alikes. */
#define GEN_PREFIX_MAX 58
#define GEN_RANDOM 5
/* kube retries a generated name that already exists up to 7 times */
#define GEN_TRIES 8

static int generate_name(const char *prefix, char out[GEN_PREFIX_MAX + GEN_RANDOM + 1])
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	const unsigned n = sizeof(alphabet) - 1, fair = 256 - 256 % n; /* no modulo bias */
	size_t plen = strnlen(prefix, GEN_PREFIX_MAX), i = 0;
	unsigned char r[16];

	memcpy(out, prefix, plen);
	while (i < GEN_RANDOM) {
		ssize_t got = getrandom(r, sizeof(r), 0), k;
		if (got <= 0)
			return VIM_EIO;
		for (k = 0; k < got && i < GEN_RANDOM; k++)
			if (r[k] < fair)
				out[plen + i++] = alphabet[r[k] % n];
	}
	out[plen + GEN_RANDOM] = '\0';
	return 0;
}

/* The checks every new name passes. */
static int check_key(const char *resource, const json_t *obj, const char *q, struct vim_err *err)
{
	const char *name = store_meta_str(obj, "name");

	if (!name || !*name)
		return vim_err_set(err, VIM_EINVAL, "%s: metadata.name: Required value", resource);
	if (strlen(name) > STORE_NAME_MAX)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "%s: metadata.name: Invalid value: must be no more than %d characters", q,
		    STORE_NAME_MAX);
	return 0;
}

/* A dry run's stand-in for the compare on "no such key". */
static int dry_taken(struct obj_store *s, const char *resource, const json_t *obj,
                     struct vim_err *err)
{
	json_t *existing = NULL;
	int64_t rev;
	int rc = obj_load(s, resource, store_meta_str(obj, "namespace"),
	                  store_meta_str(obj, "name"), &existing, &rev, err);

	json_decref(existing);
	if (rc == 0)
		return VIM_ECONFLICT;
	return rc == VIM_ENOTFOUND ? 0 : rc;
}

int obj_create(struct store *base, const char *resource, const json_t *in,
               const struct store_write_opts *wo, json_t **out, struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	json_t *obj = json_deep_copy(in), *md;
	const char *name, *gen, *ns;
	char uid[37], ts[VIM_TIME_TEXT_MAX], q[160], genname[GEN_PREFIX_MAX + GEN_RANDOM + 1];
	bool generating, dry = wo && wo->dry_run;
	int rc = 0, tries;

	*out = NULL;
	md = json_object_get(obj, "metadata");
	if (!obj || !json_is_object(md)) {
		json_decref(obj);
		return vim_err_set(err, VIM_EINVAL, "%s: metadata is required", resource);
	}
	store_qualified(q, sizeof(q), resource);
	ns = store_meta_str(obj, "namespace");
	/* The longest keys Kubernetes allows; a continue token always holds
	 * them whole (a longer one could not page). */
	if (ns && strlen(ns) > STORE_NAMESPACE_MAX) {
		json_decref(obj);
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: metadata.namespace: Invalid value: must be no more than %d "
		                   "characters",
		                   q, STORE_NAMESPACE_MAX);
	}
	name = store_meta_str(obj, "name");
	gen = store_meta_str(obj, "generateName");
	/* A fallback: the API names an object before validating it, as
	 * Kubernetes does; the store only has to avoid a collision. */
	generating = (!name || !*name) && gen && *gen;
	for (tries = 0;; tries++) {
		if (generating) {
			if (generate_name(gen, genname) < 0) {
				rc = vim_err_set(err, VIM_EIO, "%s: generateName: no random bytes",
				                 q);
				goto out;
			}
			json_object_set_new(md, "name", json_string(genname));
			/* gen stays valid: generateName is another member */
		}
		if ((rc = check_key(resource, obj, q, err)) < 0)
			goto out;
		if (tries == 0) {
			store_uuid(uid);
			vim_time_format(vim_time_now(), ts, sizeof(ts));
			json_object_set_new(md, "uid", json_string(uid));
			json_object_set_new(md, "creationTimestamp", json_string(ts));
			json_object_del(md, "deletionTimestamp");
			json_object_del(md, "deletionGracePeriodSeconds");
			if (has_spec(resource))
				json_object_set_new(md, "generation", json_integer(1));
		}
		rc = dry ? dry_taken(s, resource, obj, err) : 0;
		if (rc == 0)
			rc = obj_write(s, resource, obj, NULL, STORE_ADDED, 0, NULL, wo, err);
		if (rc != VIM_ECONFLICT)
			break;
		if (!generating || tries + 1 == GEN_TRIES)
			break;
	}
	name = store_meta_str(obj, "name");
	if (rc == VIM_ECONFLICT && generating)
		rc = vim_err_set(err, VIM_EEXIST,
		                 "%s \"%s\" already exists, the server was not able to generate a "
		                 "unique name for the object",
		                 q, name);
	else if (rc == VIM_ECONFLICT)
		rc = vim_err_set(err, VIM_EEXIST, "%s \"%s\" already exists", q, name);
	if (rc == 0) {
		*out = obj;
		obj = NULL;
	}
out:
	json_decref(obj);
	return rc;
}

int obj_restore(struct store *base, const char *resource, const json_t *in, json_t **out,
                struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	json_t *obj = json_deep_copy(in), *md = json_object_get(obj, "metadata");
	const char *ns = store_meta_str(obj, "namespace");
	char q[160], uid[37], ts[VIM_TIME_TEXT_MAX];
	int rc;

	*out = NULL;
	store_qualified(q, sizeof(q), resource);
	if (!obj || !json_is_object(md)) {
		rc = vim_err_set(err, VIM_EINVAL, "%s: metadata is required", resource);
		goto out;
	}
	if (ns && strlen(ns) > STORE_NAMESPACE_MAX) {
		rc = vim_err_set(err, VIM_EINVAL,
		                 "%s: metadata.namespace: Invalid value: must be no more than %d "
		                 "characters",
		                 q, STORE_NAMESPACE_MAX);
		goto out;
	}
	if ((rc = check_key(resource, obj, q, err)) < 0)
		goto out;
	/* what the export kept stays; only an object that never had them
	 * (written by hand) gets the server's */
	if (!store_meta_str(obj, "uid")) {
		store_uuid(uid);
		json_object_set_new(md, "uid", json_string(uid));
	}
	if (!store_meta_str(obj, "creationTimestamp")) {
		vim_time_format(vim_time_now(), ts, sizeof(ts));
		json_object_set_new(md, "creationTimestamp", json_string(ts));
	}
	if (has_spec(resource) && !json_object_get(md, "generation"))
		json_object_set_new(md, "generation", json_integer(1));
	/* never fenced: a fenced view refuses restore (store/fenced.c) */
	rc = obj_put(s, resource, obj, NULL, STORE_ADDED, 0, NULL, err);
	if (rc == VIM_ECONFLICT)
		rc = vim_err_set(err, VIM_EEXIST, "%s \"%s\" already exists", q,
		                 store_meta_str(obj, "name"));
	if (rc == 0) {
		*out = obj;
		obj = NULL;
	}
out:
	json_decref(obj);
	return rc;
}
