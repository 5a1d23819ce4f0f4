/*
 * controller/namespace — the sweep behind a Terminating namespace (see the
 * header).  A poll, not a watch: a namespace's deletion waits on its
 * images' own (DVCR cleanup), which takes seconds anyway, and the list of
 * namespaces is short; SWEEP_MS bounds how late `kubectl delete ns` returns.
 */
#include "controller/namespace.h"
#include "core/cond.h"
#include "core/log.h"
#include "model/model.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_MS 500

struct ctl_namespaces {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool stop, started;
};

static const char *meta_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(json_object_get(obj, "metadata"), key));
}

/* Deletes every object of resource in ns not yet being deleted; *left gets
 * how many there were (deleted or still held by finalizers). */
static int delete_all(struct store *s, const char *resource, const char *ns, size_t *left,
                      struct vim_err *err)
{
	struct store_list_opts o = {.ns = ns};
	struct store_list_meta m;
	json_t *items = NULL, *it, *out;
	bool deleted;
	size_t i;
	int rc;

	*left = 0;
	if ((rc = store_list_json(s, resource, &o, &items, &m, err)) < 0)
		return rc;
	json_array_foreach(items, i, it)
	{
		if (meta_str(it, "deletionTimestamp"))
			continue;
		out = NULL;
		rc = store_delete(
		    s,
		    &(struct store_delete_opts){.resource = resource,
		                                .ns = ns,
		                                .name = meta_str(it, "name"),
		                                .precondition_uid = meta_str(it, "uid")},
		    &out, &deleted, err);
		json_decref(out);
		if (rc < 0 && rc != VIM_ENOTFOUND && rc != VIM_ECONFLICT)
			break;
		rc = 0;
	}
	*left = json_array_size(items);
	json_decref(items);
	return rc;
}

/* One step of one Terminating namespace: 1 when it was removed. */
static int sweep_one(struct store *s, const json_t *ns, struct vim_err *err)
{
	const char *name = meta_str(ns, "name");
	json_t *next = NULL, *out = NULL;
	size_t images = 0, events = 0;
	int rc;

	/* every namespaced kind's objects first */
	for (int i = 0; i < MODEL_KIND__COUNT; i++) {
		const struct model_kind_info *k = model_kind_info((enum model_kind)i);
		if (!k->namespaced)
			continue;
		if ((rc = delete_all(s, k->plural, name, &images, err)) < 0 || images > 0)
			return rc;
	}
	/* The images' deletion records events: they go once no image is left. */
	if ((rc = delete_all(s, "events", name, &events, err)) < 0 || events > 0)
		return rc;
	/* Empty: kube's namespace controller finalizes it, and the store
	 * removes a deleted namespace with no finalizer left.  The stored
	 * resourceVersion guards against content created since the lists. */
	next = json_deep_copy(ns);
	json_object_set_new(json_object_get(next, "spec"), "finalizers", json_array());
	rc = store_update(s, "namespaces", next, &out, err);
	json_decref(next);
	json_decref(out);
	if (rc == VIM_ECONFLICT || rc == VIM_ENOTFOUND)
		return 0;
	if (rc == 0)
		vim_log(VIM_LOG_INFO, "namespace %s: its content is gone; deleted", name);
	return rc < 0 ? rc : 1;
}

int ctl_namespaces_sweep(struct store *store, struct vim_err *err)
{
	struct store_list_opts o = {0};
	struct store_list_meta m;
	json_t *items = NULL, *it;
	size_t i;
	int rc, removed = 0;

	if ((rc = store_list_json(store, "namespaces", &o, &items, &m, err)) < 0)
		return rc;
	json_array_foreach(items, i, it)
	{
		if (!meta_str(it, "deletionTimestamp"))
			continue;
		if ((rc = sweep_one(store, it, err)) < 0) {
			vim_log(VIM_LOG_WARN, "namespace %s: %s", meta_str(it, "name"),
			        err ? err->msg : "cannot remove its content");
			continue; /* the others still go; this one next pass */
		}
		removed += rc;
	}
	json_decref(items);
	return removed;
}

static void *sweeper(void *arg)
{
	struct ctl_namespaces *n = arg;
	struct vim_err err = {0};
	int64_t until;

	pthread_mutex_lock(&n->mu);
	while (!n->stop) {
		pthread_mutex_unlock(&n->mu);
		ctl_namespaces_sweep(n->store, &err);
		pthread_mutex_lock(&n->mu);
		until = vim_deadline_ms(SWEEP_MS);
		while (!n->stop && vim_cond_wait_until(&n->cond, &n->mu, until) != VIM_ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&n->mu);
	return NULL;
}

int ctl_namespaces_start(struct ctl_namespaces **out, struct store *store, struct vim_err *err)
{
	struct ctl_namespaces *n = calloc(1, sizeof(*n));

	*out = NULL;
	if (!n)
		return vim_err_set(err, VIM_ENOMEM, "controller: namespaces: out of memory");
	n->store = store;
	pthread_mutex_init(&n->mu, NULL);
	vim_cond_init(&n->cond);
	if (pthread_create(&n->thread, NULL, sweeper, n) != 0) {
		ctl_namespaces_stop(n);
		return vim_err_set(err, VIM_EINTERNAL,
		                   "controller: cannot start the namespace "
		                   "sweeper");
	}
	n->started = true;
	*out = n;
	return 0;
}

void ctl_namespaces_stop(struct ctl_namespaces *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->mu);
	n->stop = true;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->mu);
	if (n->started)
		pthread_join(n->thread, NULL);
	pthread_cond_destroy(&n->cond);
	pthread_mutex_destroy(&n->mu);
	free(n);
}
