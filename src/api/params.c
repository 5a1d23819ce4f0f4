/*
 * api/params — what a request says besides its path: query parameters and
 * the body's syntax, checked before anything is read or written, with
 * kube-apiserver's answers.  A value that does not parse is 400 naming the
 * parameter (kube's query decoding); a value that parses but is not one
 * the options allow is 422 Invalid on the options kind (kube's
 * ValidateCreateOptions / ValidateListOptions); a body that does not parse
 * says where (line, column) and why.
 */
#include "api/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- replies ----------------------------------------------------------------- */

void api_reply_options_invalid(struct api_req *r, const char *options_kind,
                               const struct model_causes *causes)
{
	/* PatchOptions.meta.k8s.io "" is invalid: ... (no name: omitempty) */
	api_reply_invalid_kind(r, "meta.k8s.io", options_kind, "", causes);
}

static void reply_bad_param(struct api_req *r, const char *key, const char *value, const char *why)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: Invalid value: \"%.200s\": %s", key, value, why);
	api_reply_status(r, 400, "BadRequest", msg);
}

/* ---- typed query parameters ----------------------------------------------------- */

/* A boolean query parameter as kube-apiserver's query decoding reads it
 * (apimachinery's Convert_Slice_string_To_bool): absent is false, "0" and
 * "false" in any case are false, anything else -- "True" from the Python
 * client, "yes", "" -- is true.  Never an error: kube refuses no value. */
bool api_query_bool(struct api_req *r, const char *key, bool *out)
{
	const char *v = api_query(r, key);

	*out = v && strcmp(v, "0") != 0 && strcasecmp(v, "false") != 0;
	return true;
}

/* A decimal count as Go's strconv reads it, which is what kube's query
 * decoding uses: digits from the first character to the last (with
 * sign, ParseInt's optional '+'), nothing else -- no blank, no suffix,
 * no second sign -- and within int64 (what the store holds).  strtoll
 * alone takes leading blanks and a '-', and stops quietly at a stranger. */
bool api_parse_count(const char *v, bool sign, int64_t *out)
{
	const char *d = v;
	char *end;
	long long n;

	if (!v)
		return false;
	if (sign && *d == '+')
		d++;
	if (*d < '0' || *d > '9')
		return false;
	errno = 0;
	n = strtoll(d, &end, 10);
	if (*end || errno == ERANGE || n < 0)
		return false;
	*out = n;
	return true;
}

/* A non-negative int64 query parameter (limit, timeoutSeconds: ParseInt);
 * absent or empty = 0. */
static bool query_count(struct api_req *r, const char *key, int64_t *out)
{
	const char *v = api_query(r, key);

	*out = 0;
	if (!v || !*v)
		return true;
	if (api_parse_count(v, true, out))
		return true;
	reply_bad_param(r, key, v, "must be a non-negative integer");
	return false;
}

/* resourceVersion, when given, is a decimal count (kube's versioner,
 * ParseUint: no sign, no blank, refuses anything else, on a GET as on a
 * LIST); one above int64 is a revision no store can reach, refused the
 * same way rather than read as the largest one. */
static bool check_rv(struct api_req *r, const char *rv, int64_t *out)
{
	char msg[512];

	*out = 0;
	if (!rv || !*rv || api_parse_count(rv, false, out))
		return true;
	snprintf(msg, sizeof(msg),
	         "invalid resource version: resourceVersion: Invalid value: "
	         "\"%.200s\": must be a non-negative integer",
	         rv);
	api_reply_status(r, 400, "BadRequest", msg);
	return false;
}

bool api_check_get_options(struct api_req *r)
{
	int64_t rv;

	return check_rv(r, api_query(r, "resourceVersion"), &rv);
}

/* Kube's validateWatchOptions: resourceVersionMatch only as the
 * NotOlderThan of a watch-list (sendInitialEvents, which client-go's
 * watch-list also asks bookmarks with: the end of the initial events is
 * one). */
static bool check_watch_list(struct api_req *r, const char *match, const char *cont)
{
	struct model_causes causes = {.len = 0};
	const char *sie = api_query(r, "sendInitialEvents");
	bool initial = false, bookmarks = false;

	api_query_bool(r, "sendInitialEvents", &initial);
	api_query_bool(r, "allowWatchBookmarks", &bookmarks);
	if (sie && (!match || strcmp(match, "NotOlderThan") != 0))
		model_causes_add(&causes, "resourceVersionMatch", "FieldValueForbidden",
		                 "Forbidden: sendInitialEvents requires setting "
		                 "resourceVersionMatch to NotOlderThan");
	if (initial && !bookmarks)
		model_causes_add(&causes, "allowWatchBookmarks", "FieldValueForbidden",
		                 "Forbidden: sendInitialEvents requires setting "
		                 "allowWatchBookmarks to true");
	if (match && *match) {
		if (!sie)
			model_causes_add(&causes, "resourceVersionMatch", "FieldValueForbidden",
			                 "Forbidden: resourceVersionMatch is forbidden for watch "
			                 "unless sendInitialEvents is provided");
		if (strcmp(match, "NotOlderThan") != 0)
			model_causes_add(&causes, "resourceVersionMatch", "FieldValueNotSupported",
			                 "Unsupported value: \"%.200s\": supported values: "
			                 "\"NotOlderThan\"",
			                 match);
		if (cont && *cont)
			model_causes_add(
			    &causes, "resourceVersionMatch", "FieldValueForbidden",
			    "Forbidden: resourceVersionMatch is forbidden when continue "
			    "is provided");
	}
	if (causes.len == 0)
		return true;
	api_reply_options_invalid(r, "ListOptions", &causes);
	return false;
}

bool api_list_params(struct api_req *r, bool watch, struct api_list_params *p)
{
	const char *rv = api_query(r, "resourceVersion");
	const char *match = api_query(r, "resourceVersionMatch");
	const char *cont = api_query(r, "continue");
	struct model_causes causes = {.len = 0};
	bool b;

	memset(p, 0, sizeof(*p));
	p->rv_text = rv && *rv ? rv : NULL;
	p->rv_match = match && *match ? match : NULL;
	if (!api_query_bool(r, "watch", &b) || !api_query_bool(r, "allowWatchBookmarks", &b) ||
	    !query_count(r, "limit", &p->limit) || !query_count(r, "timeoutSeconds", &p->timeout_s))
		return false;
	if (!check_rv(r, rv, &p->rv))
		return false;
	if (watch)
		return check_watch_list(r, match, cont);
	if (match && *match) {
		if (!rv || !*rv)
			model_causes_add(&causes, "resourceVersionMatch", "FieldValueForbidden",
			                 "Forbidden: resourceVersionMatch is forbidden unless "
			                 "resourceVersion is provided");
		if (cont && *cont)
			model_causes_add(
			    &causes, "resourceVersionMatch", "FieldValueForbidden",
			    "Forbidden: resourceVersionMatch is forbidden when continue "
			    "is provided");
		if (strcmp(match, "Exact") != 0 && strcmp(match, "NotOlderThan") != 0)
			model_causes_add(&causes, "resourceVersionMatch", "FieldValueNotSupported",
			                 "Unsupported value: \"%.200s\": supported values: "
			                 "\"Exact\", \"NotOlderThan\", \"\"",
			                 match);
		else if (strcmp(match, "Exact") == 0 && rv && strcmp(rv, "0") == 0)
			model_causes_add(
			    &causes, "resourceVersionMatch", "FieldValueForbidden",
			    "Forbidden: resourceVersionMatch \"exact\" is forbidden for "
			    "resourceVersion \"0\"");
	}
	if (api_query(r, "sendInitialEvents"))
		model_causes_add(&causes, "sendInitialEvents", "FieldValueForbidden",
		                 "Forbidden: sendInitialEvents is forbidden for list");
	if (causes.len) {
		api_reply_options_invalid(r, "ListOptions", &causes);
		return false;
	}
	if (cont && *cont && rv && *rv && strcmp(rv, "0") != 0) {
		api_reply_status(r, 400, "BadRequest",
		                 "specifying resource version is not allowed when using continue");
		return false;
	}
	return true;
}

bool api_check_list_options(struct api_req *r, bool watch)
{
	struct api_list_params p;

	return api_list_params(r, watch, &p);
}

/* Every value of a repeated dryRun, in order, quoted like Go's %#v. */
struct dry_run {
	char values[400];
	size_t len;
	bool bad;
};

static enum MHD_Result dry_run_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	struct dry_run *d = cls;
	const char *v = value ? value : "";

	(void)kind;
	if (strcmp(key, "dryRun") != 0)
		return MHD_YES;
	if (strcmp(v, "All") != 0)
		d->bad = true;
	if (d->len < sizeof(d->values))
		d->len += (size_t)snprintf(d->values + d->len, sizeof(d->values) - d->len,
		                           "%s\"%.100s\"", d->len ? ", " : "", v);
	return MHD_YES;
}

bool api_check_write_options(struct api_req *r, const char *options_kind, bool field_validation)
{
	struct model_causes causes = {.len = 0};
	struct dry_run d = {.len = 0, .bad = false};
	const char *fv = field_validation ? api_query(r, "fieldValidation") : NULL;

	if (r->conn)
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, dry_run_value, &d);
	if (d.bad)
		model_causes_add(&causes, "dryRun", "FieldValueNotSupported",
		                 "Unsupported value: []string{%s}: supported values: \"All\"",
		                 d.values);
	if (fv && *fv && strcmp(fv, "Ignore") != 0 && strcmp(fv, "Warn") != 0 &&
	    strcmp(fv, "Strict") != 0)
		model_causes_add(
		    &causes, "fieldValidation", "FieldValueNotSupported",
		    "Unsupported value: \"%.200s\": supported values: \"\", \"Ignore\", "
		    "\"Strict\", \"Warn\"",
		    fv);
	if (causes.len == 0)
		return true;
	api_reply_options_invalid(r, options_kind, &causes);
	return false;
}

bool api_dry_run(const struct api_req *r, const json_t *delete_opts)
{
	/* every value was checked to be "All" (api_check_write_options,
	 * api_delete_options): naming one is asking for a dry run */
	return api_query(r, "dryRun") != NULL ||
	       json_array_size(json_object_get(delete_opts, "dryRun")) > 0;
}

/* ---- the body ------------------------------------------------------------------------- */

/* The member path ("spec.items[2].name") at byte pos of a JSON text
 * known to parse up to there: a scan of its structure, enough to name
 * the duplicate member jansson stopped at. */
#define PATH_DEPTH 32
#define PATH_KEY 96

struct path_frame {
	bool object;
	bool want_key;
	long index;
	char key[PATH_KEY];
};

void api_json_path_at(const char *buf, size_t pos, char *out, size_t cap)
{
	struct path_frame st[PATH_DEPTH];
	size_t i = 0, depth = 0, o = 0, k, d;

	memset(st, 0, sizeof(st));
	while (i < pos) {
		char c = buf[i++];
		struct path_frame *top = depth && depth <= PATH_DEPTH ? &st[depth - 1] : NULL;

		if (c == '"') {
			bool key = top && top->object && top->want_key;
			for (k = 0; i < pos && buf[i] != '"'; i++) {
				if (buf[i] == '\\' && i + 1 < pos)
					i++;
				if (key && k + 1 < PATH_KEY)
					top->key[k++] = buf[i];
			}
			if (key)
				top->key[k] = '\0';
			i++;
		} else if (c == '{' || c == '[') {
			if (++depth <= PATH_DEPTH) {
				memset(&st[depth - 1], 0, sizeof(st[0]));
				st[depth - 1].object = c == '{';
				st[depth - 1].want_key = c == '{';
			}
		} else if ((c == '}' || c == ']') && depth) {
			depth--;
		} else if (c == ':' && top) {
			top->want_key = false;
		} else if (c == ',' && top) {
			if (top->object)
				top->want_key = true;
			else
				top->index++;
		}
	}
	if (cap)
		out[0] = '\0';
	for (d = 0; d < depth && d < PATH_DEPTH && o + 1 < cap; d++) {
		if (st[d].object)
			o += (size_t)snprintf(out + o, cap - o, "%s%s", o ? "." : "", st[d].key);
		else
			o += (size_t)snprintf(out + o, cap - o, "[%ld]", st[d].index);
	}
}

static bool looks_like_json(const char *buf, size_t len)
{
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return i < len && (buf[i] == '{' || buf[i] == '[');
}

json_t *api_parse_body(struct api_req *r, const char *what)
{
	const char *fv = api_query(r, "fieldValidation");
	bool strict = fv && strcmp(fv, "Strict") == 0;
	struct vim_err yerr = {0};
	json_error_t jerr;
	char msg[1024], path[256];
	json_t *j;

	j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (j)
		return j;
	if (json_error_code(&jerr) == json_error_duplicate_key) {
		/* kube's strict decoding names the member by its path */
		api_json_path_at(r->body, (size_t)jerr.position, path, sizeof(path));
		if (strict) {
			snprintf(msg, sizeof(msg), "strict decoding error: duplicate field \"%s\"",
			         path);
			api_reply_status(r, 400, "BadRequest", msg);
			return NULL;
		}
		snprintf(r->duplicate, sizeof(r->duplicate), "%.127s", path);
		if ((j = json_loadb(r->body, r->body_len, 0, &jerr)))
			return j;
	}
	if (model_yaml_to_json(&j, r->body, r->body_len, &yerr) == 0)
		return j;
	/* Say what the client most likely meant to send: kubectl sends
	 * JSON, a hand-written manifest is YAML. */
	if (r->body_len == 0)
		snprintf(msg, sizeof(msg), "error decoding the %s: the body is empty", what);
	else if (looks_like_json(r->body, r->body_len))
		snprintf(msg, sizeof(msg), "error decoding the %s as JSON: line %d, column %d: %s",
		         what, jerr.line, jerr.column, jerr.text);
	else
		snprintf(msg, sizeof(msg), "error decoding the %s as YAML: %s", what, yerr.msg);
	api_reply_status(r, 400, "BadRequest", msg);
	return NULL;
}

/* DeleteOptions from the query and the body (none = NULL): a body that
 * does not parse, or whose members have the wrong types or values, is
 * refused before anything is deleted. */
bool api_delete_options(struct api_req *r, json_t **out)
{
	struct model_causes causes = {.len = 0};
	json_t *opts = NULL, *pre, *v;
	json_error_t jerr;
	char msg[512];
	size_t i;

	*out = NULL;
	if (!api_check_write_options(r, "DeleteOptions", false))
		return false;
	if (r->body_len == 0)
		return true;
	if (!(opts = json_loadb(r->body, r->body_len, 0, &jerr))) {
		snprintf(msg, sizeof(msg),
		         "error decoding the DeleteOptions body as JSON: line %d, column %d: %s",
		         jerr.line, jerr.column, jerr.text);
		api_reply_status(r, 400, "BadRequest", msg);
		return false;
	}
	pre = json_object_get(opts, "preconditions");
	if (!json_is_object(opts) || (pre && !json_is_null(pre) && !json_is_object(pre)) ||
	    ((v = json_object_get(pre, "uid")) && !json_is_string(v) && !json_is_null(v)) ||
	    ((v = json_object_get(pre, "resourceVersion")) && !json_is_string(v) &&
	     !json_is_null(v)) ||
	    ((v = json_object_get(opts, "dryRun")) && !json_is_array(v) && !json_is_null(v))) {
		api_reply_status(
		    r, 400, "BadRequest",
		    "error decoding the DeleteOptions body: it must be an object whose "
		    "preconditions.uid and preconditions.resourceVersion are strings "
		    "and dryRun a list");
		goto fail;
	}
	json_array_foreach(json_object_get(opts, "dryRun"), i, v)
	{
		if (!json_is_string(v) || strcmp(json_string_value(v), "All") != 0)
			model_causes_add(&causes, "dryRun", "FieldValueNotSupported",
			                 "Unsupported value: \"%.100s\": supported values: \"All\"",
			                 json_is_string(v) ? json_string_value(v)
			                                   : "(not a string)");
	}
	v = json_object_get(opts, "propagationPolicy");
	if (v && !json_is_null(v) &&
	    (!json_is_string(v) || (strcmp(json_string_value(v), "Orphan") != 0 &&
	                            strcmp(json_string_value(v), "Background") != 0 &&
	                            strcmp(json_string_value(v), "Foreground") != 0)))
		model_causes_add(&causes, "propagationPolicy", "FieldValueNotSupported",
		                 "Unsupported value: \"%.100s\": supported values: \"Foreground\", "
		                 "\"Background\", \"Orphan\", \"nil\"",
		                 json_is_string(v) ? json_string_value(v) : "(not a string)");
	if (causes.len) {
		api_reply_options_invalid(r, "DeleteOptions", &causes);
		goto fail;
	}
	*out = opts;
	return true;
fail:
	json_decref(opts);
	return false;
}
