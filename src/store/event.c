/*
 * store/event — core/v1 Events about images, kept in the same store and
 * de-duplicated as Kubernetes' recorder does: the same object, type,
 * reason and message make one Event whose count and lastTimestamp grow.
 * The Event's name is derived from exactly that key, so finding the
 * existing one is a primary-key read, not a scan.
 */
#include "store/internal.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <string.h>

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	h ^= 0xff; /* field separator, so ("ab","c") != ("a","bc") */
	h *= 1099511628211ULL;
	return h;
}

int store_event_record(struct store *s, const struct store_event_rec *e, struct vim_err *err)
{
	const json_t *involved = e->involved;
	const char *type = e->type, *reason = e->reason, *message = e->message;
	int64_t now = e->now;
	const char *name = store_meta_str(involved, "name"),
	           *ns = store_meta_str(involved, "namespace");
	const char *uid = store_meta_str(involved, "uid");
	char evname[512], ts[VIM_TIME_TEXT_MAX];
	json_t *ev = NULL, *out = NULL;
	uint64_t h = 14695981039346656037ULL;
	bool exists = false;
	int rc = 0, attempt;

	if (!name || !type || !reason)
		return vim_err_set(err, VIM_EINVAL,
		                   "event: the object, type and reason are required");
	if (!ns || !*ns)
		ns = "default"; /* cluster-scoped objects' events live in default */
	h = fnv1a(fnv1a(fnv1a(fnv1a(h, uid), type), reason), message);
	snprintf(evname, sizeof(evname), "%.200s.%016llx", name, (unsigned long long)h);
	vim_time_format(now, ts, sizeof(ts));

	/* Most events are new: create first, and only when it exists read it
	 * and bump it, with optimistic concurrency, so two workers recording
	 * the same event at once retry instead of losing a count. */
	for (attempt = 0; attempt < 6; attempt++) {
		if (!exists) {
			ev = json_pack(
			    "{s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s,s:s?,s:s?,s:s?},"
			    "s:s,s:s?,s:s,s:i,s:s,s:s,s:{s:s},s:s,s:s}",
			    "apiVersion", "v1", "kind", "Event", "metadata", "name", evname,
			    "namespace", ns, "involvedObject", "kind",
			    json_string_value(json_object_get(involved, "kind")), "apiVersion",
			    json_string_value(json_object_get(involved, "apiVersion")), "name",
			    name, "namespace", store_meta_str(involved, "namespace"), "uid", uid,
			    "resourceVersion", store_meta_str(involved, "resourceVersion"),
			    "reason", reason, "message", message, "type", type, "count", 1,
			    "firstTimestamp", ts, "lastTimestamp", ts, "source", "component",
			    "vimaged", "reportingComponent", "vimaged", "reportingInstance",
			    "vimaged");
			if (!ev)
				return vim_err_set(err, VIM_ENOMEM, "event: out of memory");
			rc = store_create(s, "events", ev, &out, err);
			exists = rc == VIM_EEXIST;
		} else if ((rc = store_get(s, "events", ns, evname, &ev, err)) == 0) {
			json_int_t count = json_integer_value(json_object_get(ev, "count"));
			json_object_set_new(ev, "count", json_integer(count > 0 ? count + 1 : 2));
			json_object_set_new(ev, "lastTimestamp", json_string(ts));
			rc = store_update(s, "events", ev, &out, err);
		} else if (rc == VIM_ENOTFOUND) {
			exists = false; /* expired in between: create it again */
		}
		json_decref(ev);
		json_decref(out);
		ev = out = NULL;
		if (rc != VIM_ECONFLICT && rc != VIM_EEXIST && rc != VIM_ENOTFOUND)
			break;
	}
	return rc;
}

struct expire {
	int64_t cutoff;
	int64_t oldest_kept; /* the oldest lastTimestamp that stays */
	json_t *names;       /* [ns, name] pairs to delete after the list */
	size_t unreadable;   /* Events with no readable lastTimestamp */
};

static int collect_old(void *arg, const char *json, size_t len)
{
	struct expire *x = arg;
	json_t *ev = json_loadb(json, len, 0, NULL);
	int64_t last = 0;
	int rc = 0;

	if (ev &&
	    vim_time_parse(json_string_value(json_object_get(ev, "lastTimestamp")), &last) == 0) {
		if (last < x->cutoff &&
		    json_array_append_new(x->names,
		                          json_pack("[ss]", store_meta_str(ev, "namespace"),
		                                    store_meta_str(ev, "name"))) != 0)
			rc = VIM_ENOMEM; /* a forgotten one would never expire */
		else if (last >= x->cutoff && last < x->oldest_kept)
			x->oldest_kept = last;
	} else {
		x->unreadable++; /* kept, and said so below: never silently */
	}
	json_decref(ev);
	return rc;
}

int store_event_expire(struct store *s, int64_t now, int64_t ttl_s, int64_t *next_due,
                       struct vim_err *err)
{
	struct expire x = {.cutoff = now - ttl_s, .oldest_kept = now, .names = json_array()};
	struct store_list_opts o = {0};
	struct store_list_meta meta;
	json_t *pair, *gone;
	size_t i;
	int rc, removed = 0;
	bool deleted;

	*next_due = now;
	if (!x.names)
		return vim_err_set(err, VIM_ENOMEM, "event expiry: out of memory");
	rc = store_list(s, "events", &o, collect_old, &x, &meta, err);
	if (x.unreadable)
		vim_log(VIM_LOG_WARN, "events: %zu Events have no readable lastTimestamp; kept",
		        x.unreadable);
	json_array_foreach(x.names, i, pair)
	{
		int drc;
		if (rc < 0)
			break;
		gone = NULL;
		drc = store_delete(
		    s,
		    &(struct store_delete_opts){.resource = "events",
		                                .ns = json_string_value(json_array_get(pair, 0)),
		                                .name = json_string_value(json_array_get(pair, 1))},
		    &gone, &deleted, err);
		json_decref(gone);
		if (drc == 0)
			removed++;
		else if (drc != VIM_ENOTFOUND) /* gone meanwhile is fine; a store error is not */
			rc = drc;
	}
	if (rc >= 0 && (size_t)removed == json_array_size(x.names))
		*next_due = x.oldest_kept + ttl_s;
	json_decref(x.names);
	return rc < 0 ? rc : removed;
}
