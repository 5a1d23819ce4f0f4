/*
 * api/list_watch — LIST and WATCH for images, events and namespaces.
 *
 * A plain LIST streams: a producer thread runs the store's list and writes
 * each object straight into the response pipe (items first, then the
 * list's metadata, which is only known at the end — JSON member order is
 * free), so memory stays flat whatever the object count.  A Table (what
 * `kubectl get` asks for, in pages of 500) is built in memory: a page is
 * small.  A WATCH is a producer that turns store events into lines of
 * {"type","object"} (each object a one-row Table when kubectl asks so).
 */
#include "api/server_internal.h"
#include "api/schema.h"
#include "core/log.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCH_POLL_MS 1000
#define WATCH_DEFAULT_TIMEOUT_S 1800

/* Everything a producer needs, owned by the producer (copied strings). */
struct job {
	struct api_server *srv;
	struct store *store;
	char resource[64];
	const struct model_kind_info *kind; /* NULL for events */
	char *ns, *label, *field, *cont, *include;
	/* resourceVersion and resourceVersionMatch as given (NULL = unset):
	 * a list's consistency (store_list_opts) */
	char *rv_text, *rv_match;
	int64_t limit;
	int64_t rv; /* watch: from here; 0 = send the current state first */
	bool table, bookmarks;
	/* watch: the current objects first (rv 0, or sendInitialEvents=true),
	 * and then, for a watch-list, the bookmark that ends them */
	bool initial_state, initial_end;
	int64_t timeout_s;
	struct store_watch *watch;  /* opened before streaming starts; NULL = gone */
	char gone[VIM_ERR_MSG_MAX]; /* why the watch could not start (410) */
	/* LIST streaming state */
	int fd;
	bool first, failed;
};

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	store_watch_free(j->watch);
	free(j->ns);
	free(j->label);
	free(j->field);
	free(j->cont);
	free(j->include);
	free(j->rv_text);
	free(j->rv_match);
	free(j);
}

/* p: the query as api_list_params parsed and checked it. */
static struct job *job_new(struct api_req *r, const struct api_list_params *p)
{
	struct job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->srv = r->srv;
	j->store = r->store;
	snprintf(j->resource, sizeof(j->resource), "%s", r->kind ? r->kind->plural : r->resource);
	j->kind = r->kind;
	j->ns = dup_or_null(r->ns);
	j->label = dup_or_null(api_query(r, "labelSelector"));
	j->field = dup_or_null(api_query(r, "fieldSelector"));
	j->cont = dup_or_null(api_query(r, "continue"));
	j->include = dup_or_null(api_query(r, "includeObject"));
	j->rv_text = dup_or_null(p->rv_text);
	j->rv_match = dup_or_null(p->rv_match);
	if ((p->rv_text && !j->rv_text) || (p->rv_match && !j->rv_match)) {
		job_free(j);
		return NULL;
	}
	j->limit = p->limit;
	j->rv = p->rv;
	j->table = api_wants_table(r);
	api_query_bool(r, "allowWatchBookmarks", &j->bookmarks); /* checked before */
	api_query_bool(r, "sendInitialEvents", &j->initial_end);
	j->initial_state = j->initial_end || (j->rv == 0 && !api_query(r, "sendInitialEvents"));
	j->timeout_s = p->timeout_s;
	if (j->timeout_s <= 0)
		j->timeout_s = WATCH_DEFAULT_TIMEOUT_S;
	return j;
}

static void list_opts(const struct job *j, struct store_list_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ns = j->ns;
	o->label_selector = j->label;
	o->field_selector = j->field;
	o->limit = j->limit;
	o->continue_token = j->cont;
	o->resource_version = j->rv_text;
	o->resource_version_match = j->rv_match;
}

static json_t *table_of(const struct job *j, const json_t *items, const char *rv, const char *cont)
{
	if (j->kind)
		return api_schema_table(j->kind, items, j->include, rv, cont);
	if (strcmp(j->resource, "namespaces") == 0)
		return api_schema_table_namespaces(items, j->include, rv);
	return api_schema_table_events(items, j->include, rv, cont);
}

static const char *list_kind(const struct job *j)
{
	if (!j->kind)
		return strcmp(j->resource, "namespaces") == 0 ? "NamespaceList" : "EventList";
	return j->kind->list_kind;
}

/* ---- LIST -------------------------------------------------------------------- */

/* A LIST's failure as kube-apiserver answers it: a bad selector or token
 * is 400, an expired continue token 410 Expired, the rest from the error
 * table (a store failure is 500). */
static void list_reply_error(struct api_req *r, int rc, const char *msg)
{
	if (rc == VIM_EINVAL)
		api_reply_status(r, 400, "BadRequest", msg);
	else if (rc == VIM_EGONE)
		api_reply_status(r, 410, "Expired", msg);
	else
		api_reply_error(r, rc, msg);
}

static bool write_head(struct job *j)
{
	char head[256];
	int n = snprintf(head, sizeof(head), "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"items\":[",
	                 j->kind ? j->kind->api_version : "v1", list_kind(j));

	return api_write_all(j->fd, head, (size_t)n);
}

/* Nothing is written before the first object: a store error before it
 * is still answered with a Status (api_reply_stream holds the reply). */
static int stream_item(void *arg, const char *json, size_t len)
{
	struct job *j = arg;

	if (j->failed)
		return 1;
	if ((j->first && !write_head(j)) || (!j->first && !api_write_all(j->fd, ",", 1)) ||
	    !api_write_all(j->fd, json, len)) {
		j->failed = true;
		return 1;
	}
	j->first = false;
	return 0;
}

static int list_producer(void *arg, int fd, struct vim_err *err)
{
	struct job *j = arg;
	struct store_list_opts o;
	struct store_list_meta m = {0};
	char tail[1024];
	int n, rc;

	if (fd < 0) {
		job_free(j);
		return 0;
	}
	j->fd = fd;
	j->first = true;
	list_opts(j, &o);
	rc = store_list(j->store, j->resource, &o, stream_item, j, &m, err);
	if (rc < 0 || j->failed) /* j->failed: the client went away, nobody to tell */
		goto out;
	n = snprintf(tail, sizeof(tail), "],\"metadata\":{\"resourceVersion\":\"%lld\"",
	             (long long)m.resource_version);
	if (m.continue_token[0])
		n += snprintf(tail + n, sizeof(tail) - (size_t)n,
		              ",\"continue\":\"%s\",\"remainingItemCount\":%lld", m.continue_token,
		              (long long)m.remaining);
	n += snprintf(tail + n, sizeof(tail) - (size_t)n, "}}\n");
	if (j->first && !write_head(j))
		goto out;
	api_write_all(fd, tail, (size_t)n);
out:
	job_free(j);
	return rc < 0 ? rc : 0;
}

void api_list(struct api_req *r)
{
	struct job *j;
	struct store_list_opts o;
	struct store_list_meta m;
	struct vim_err err = {0};
	json_t *items = NULL;
	struct api_list_params p;
	char rv[32];
	int rc;

	if (!api_list_params(r, false, &p))
		return;
	if (!(j = job_new(r, &p))) {
		api_reply_error(r, VIM_ENOMEM, "out of memory");
		return;
	}
	list_opts(j, &o);
	if (j->table) {
		rc = store_list_json(r->store, j->resource, &o, &items, &m, &err);
		if (rc < 0) {
			list_reply_error(r, rc, err.msg);
		} else {
			snprintf(rv, sizeof(rv), "%lld", (long long)m.resource_version);
			api_reply_json(r, 200, table_of(j, items, rv, m.continue_token));
		}
		json_decref(items);
		job_free(j);
		return;
	}
	/* Held until the first object: bad selectors, an expired token or a
	 * store failure before it get their Status; one after it cuts the
	 * reply (api_reply_stream). */
	rc = api_reply_stream(r, 200, "application/json", list_producer, j, true, &err);
	if (rc < 0)
		list_reply_error(r, rc, err.msg);
}

/* ---- WATCH ---------------------------------------------------------------------- */

static bool reader_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = 0};
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLERR | POLLHUP));
}

/* A BOOKMARK's object: the watched kind (a Table for a Table watch), as
 * client-go's decoder needs it, with the store's metadata (the
 * resourceVersion, and the initial-events-end annotation). */
static json_t *bookmark_of(const struct job *j, const json_t *obj)
{
	const char *kind = strcmp(j->resource, "namespaces") == 0 ? "Namespace" : "Event";
	const char *api_version = "v1";

	if (j->table) {
		kind = "Table";
		api_version = "meta.k8s.io/v1";
	} else if (j->kind) {
		kind = j->kind->name;
		api_version = j->kind->api_version;
	}
	return json_pack("{s:s,s:s,s:O}", "kind", kind, "apiVersion", api_version, "metadata",
	                 json_object_get(obj, "metadata"));
}

static bool write_event(struct job *j, int fd, const char *type, json_t *obj)
{
	json_t *line, *o = obj;
	char *text;
	bool ok;

	if (strcmp(type, "BOOKMARK") == 0) {
		o = bookmark_of(j, obj);
	} else if (j->table && strcmp(type, "ERROR") != 0) {
		json_t *items = json_pack("[O]", obj);
		o = table_of(j, items, NULL, NULL);
		json_decref(items);
	} else {
		json_incref(o);
	}
	line = json_pack("{s:s,s:o}", "type", type, "object", o);
	text = line ? json_dumps(line, JSON_COMPACT) : NULL;
	json_decref(line);
	ok = text && api_write_all(fd, text, strlen(text)) && api_write_all(fd, "\n", 1);
	free(text);
	return ok;
}

/* A watch event as write_event sends it, from the store's text of its
 * object: a plain watch sends that text as it is (serialising a parsed
 * copy again cost more than the rest of the stream), a Table watch
 * parses it. */
static bool write_event_text(struct job *j, int fd, const struct store_event *ev)
{
	const char *type = store_event_type_name(ev->type);
	size_t cap, n;
	char *line;
	json_t *obj;
	bool ok;

	if (!ev->text)
		return write_event(j, fd, type, ev->object);
	if (j->table) {
		obj = json_loadb(ev->text, ev->text_len, 0, NULL);
		ok = obj && write_event(j, fd, type, obj);
		json_decref(obj);
		return ok;
	}
	cap = ev->text_len + 64;
	if (!(line = malloc(cap)))
		return false;
	n = (size_t)snprintf(line, cap, "{\"type\":\"%s\",\"object\":", type);
	memcpy(line + n, ev->text, ev->text_len);
	n += ev->text_len;
	memcpy(line + n, "}\n", 2);
	ok = api_write_all(fd, line, n + 2);
	free(line);
	return ok;
}

static int initial_added(void *arg, const char *json, size_t len)
{
	struct job *j = arg;
	/* the stored text as a watch event's (write_event_text) */
	struct store_event ev = {.type = STORE_ADDED, .text = (char *)json, .text_len = len};
	bool ok = write_event_text(j, j->fd, &ev);

	if (!ok)
		j->failed = true; /* the client is gone (or no memory): stop */
	return ok ? 0 : 1;
}

/* A watch that cannot go on ends as kube's does: one ERROR event whose
 * object is the Status (410 Expired for a resourceVersion older than the
 * history, else the error's own code, 500 for a store failure), then a
 * clean end of the stream. */
static void write_error(struct job *j, int fd, int code, const char *msg)
{
	json_t *st =
	    code == VIM_EGONE ? api_status_body(410, "Expired", msg) : api_error_status(code, msg);

	if (code != VIM_EGONE)
		vim_log(VIM_LOG_WARN, "watch %s: %s", j->resource, msg);
	if (st)
		write_event(j, fd, "ERROR", st);
	json_decref(st);
}

/* The watch-list's end of the initial events: a bookmark at the list's
 * resourceVersion, annotated as kube marks it. */
static bool write_initial_end(struct job *j, int fd, int64_t rv)
{
	char text[32];
	json_t *bm;
	bool ok;

	snprintf(text, sizeof(text), "%lld", (long long)rv);
	bm = json_pack("{s:{s:s,s:{s:s}}}", "metadata", "resourceVersion", text, "annotations",
	               "k8s.io/initial-events-end", "true");
	ok = bm && write_event(j, fd, "BOOKMARK", bm);
	json_decref(bm);
	return ok;
}

static int watch_producer(void *arg, int fd, struct vim_err *perr)
{
	struct job *j = arg;
	struct store_event ev;
	struct vim_err err = {0};
	int64_t waited = 0;
	int rc;

	(void)perr; /* an error is told in the stream, which then ends cleanly */
	if (fd < 0) {
		job_free(j);
		return 0;
	}
	j->fd = fd;
	if (!j->watch) {
		write_error(j, fd, VIM_EGONE, j->gone);
		goto out;
	}
	if (j->initial_state) {
		/* "Get state and start at most recent": the current objects
		 * as ADDED, then the changes after that list. */
		struct store_list_opts o;
		struct store_list_meta m;
		list_opts(j, &o);
		o.limit = 0;
		o.continue_token = NULL;
		rc = store_list(j->store, j->resource, &o, initial_added, j, &m, &err);
		if (rc < 0) {
			write_error(j, fd, rc, err.msg);
			goto out;
		}
		if (j->failed || (j->initial_end && !write_initial_end(j, fd, m.resource_version)))
			goto out;
	}
	while (!api_server_stopping(j->srv) && waited < j->timeout_s * 1000) {
		rc = store_watch_next(j->watch, WATCH_POLL_MS, &ev, &err);
		if (rc == 1) {
			bool ok = write_event_text(j, fd, &ev);
			json_decref(ev.object);
			free(ev.text);
			if (!ok)
				break;
			continue;
		}
		if (rc == VIM_ECANCELED) /* the store is closing: end, as kube does */
			break;
		if (rc < 0) {
			write_error(j, fd, rc, err.msg);
			break;
		}
		if (reader_gone(fd))
			break;
		waited += WATCH_POLL_MS;
	}
out:
	job_free(j);
	return 0;
}

void api_watch(struct api_req *r)
{
	struct job *j;
	struct store_watch_opts wo = {0};
	struct api_list_params p;
	struct vim_err err = {0};
	int rc;

	if (!api_list_params(r, true, &p))
		return;
	if (!(j = job_new(r, &p))) {
		api_reply_error(r, VIM_ENOMEM, "out of memory");
		return;
	}
	wo.ns = j->ns;
	wo.label_selector = j->label;
	wo.field_selector = j->field;
	wo.bookmarks = j->bookmarks;
	wo.text = true; /* sent as the store has it (write_event_text) */
	/* From "now" when the current state is sent first: the watch opens
	 * before the list, so nothing between them is missed (a change seen
	 * in both arrives twice, as MODIFIED after ADDED, which is harmless). */
	wo.resource_version = j->initial_state ? 0 : j->rv;
	rc = store_watch(r->store, j->resource, &wo, &j->watch, &err);
	if (rc == VIM_EGONE) {
		/* Kubernetes answers 200 with one ERROR event carrying a 410. */
		snprintf(j->gone, sizeof(j->gone), "%s", err.msg);
		api_reply_stream(r, 200, "application/json", watch_producer, j, false, NULL);
		return;
	}
	if (rc < 0) {
		list_reply_error(r, rc, err.msg);
		job_free(j);
		return;
	}
	api_reply_stream(r, 200, "application/json", watch_producer, j, false, NULL);
}

void api_get_collection(struct api_req *r)
{
	bool watch = false;

	api_query_bool(r, "watch", &watch);
	if (watch)
		api_watch(r);
	else
		api_list(r);
}
