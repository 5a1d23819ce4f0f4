/*
 * store/event — core/v1 Events about images, kept in the same store and
 * de-duplicated as Kubernetes' recorder does: the same object, type,
 * reason and message make one Event whose count and lastTimestamp grow.
 * The Event's name is derived from exactly that key, so finding the
 * existing one is a primary-key read, not a scan.  Events older than the
 * store's TTL are deleted by a thread of the store's own (kube-apiserver
 * gives Events a lease of --event-ttl), so no caller has to drive it.
 */
#include "store/internal.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- expiry on the store's own thread ------------------------------------------ */

/* The longest single sleep: the thread compares wall-clock time (what
 * lastTimestamp is) at least this often, so a clock step is noticed. */
#define EXPIRY_WAIT_MAX_MS 60000
#define EXPIRY_EVERY_MS 60000

struct store_event_expiry {
	struct store *s; /* borrowed: the store this belongs to outlives it */
	int64_t ttl_s, every_ms;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	bool stop;         /* guarded by mu */
};

static void wait_ms(struct store_event_expiry *x, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&x->cv, &x->mu, &ts);
}

/* One pass at start (what expired while vimaged was down), then one when
 * the oldest Event kept is due, but never two within every_ms: each pass
 * lists every Event, and Events recorded a second apart must not cost a
 * list a second. */
static void *expiry_main(void *arg)
{
	struct store_event_expiry *x = arg;
	int64_t due = 0, last_ms = 0;
	bool ran = false;

	pthread_mutex_lock(&x->mu);
	while (!x->stop) {
		int64_t now = vim_time_now(), mono = vim_mono_ms(), ms;
		struct vim_err err = {0};
		int n;

		/* "> due": an Event goes once strictly older than the TTL */
		if (now > due && (!ran || mono - last_ms >= x->every_ms)) {
			pthread_mutex_unlock(&x->mu);
			n = store_event_expire(x->s, now, x->ttl_s, &due, &err);
			if (n > 0)
				vim_log(VIM_LOG_INFO, "events: %d expired (older than %lld s)", n,
				        (long long)x->ttl_s);
			else if (n < 0)
				vim_log(VIM_LOG_WARN, "events: expiry failed: %s", err.msg);
			ran = true;
			last_ms = vim_mono_ms();
			pthread_mutex_lock(&x->mu);
			continue;
		}
		ms = now <= due ? (due - now + 1) * 1000 : x->every_ms - (mono - last_ms);
		wait_ms(x, ms < 1 ? 1 : ms > EXPIRY_WAIT_MAX_MS ? EXPIRY_WAIT_MAX_MS : ms);
	}
	pthread_mutex_unlock(&x->mu);
	return NULL;
}

int store_event_expiry_start(struct store_event_expiry **out, struct store *s, int64_t ttl_s,
                             int64_t every_ms, struct vim_err *err)
{
	struct store_event_expiry *x = calloc(1, sizeof(*x));
	pthread_condattr_t ca;

	*out = NULL;
	if (!x)
		return vim_err_set(err, VIM_ENOMEM, "event expiry: out of memory");
	x->s = s;
	x->ttl_s = ttl_s;
	x->every_ms = every_ms > 0 ? every_ms : EXPIRY_EVERY_MS;
	pthread_mutex_init(&x->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&x->thread, NULL, expiry_main, x) != 0) {
		pthread_cond_destroy(&x->cv);
		pthread_mutex_destroy(&x->mu);
		free(x);
		return vim_err_set(err, VIM_EINTERNAL, "event expiry: cannot start its thread");
	}
	*out = x;
	return 0;
}

void store_event_expiry_stop(struct store_event_expiry *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->thread, NULL); /* a pass under way finishes first */
	pthread_cond_destroy(&x->cv);
	pthread_mutex_destroy(&x->mu);
	free(x);
}
