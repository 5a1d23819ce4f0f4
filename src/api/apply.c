/*
 * api/apply — fieldManager, force, and kube's answers around server-side
 * apply (see apply.h).  The merge and the sets are model/managed_fields'
 * and model/fieldset's.
 */
#include "api/apply.h"

#include "model/managed_fields.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <string.h>

bool api_apply_is(const struct api_req *r)
{
	const char *ct = api_header(r, "Content-Type");

	return r->method && strcmp(r->method, "PATCH") == 0 && ct && strstr(ct, "apply-patch+yaml");
}

/* The request's manager: fieldManager, else the User-Agent's product. */
static void manager_of(const struct api_req *r, char *out, size_t cap)
{
	const char *m = api_query(r, "fieldManager");

	if (m && *m)
		snprintf(out, cap, "%s", m);
	else
		model_mf_default_manager(api_header(r, "User-Agent"), out, cap);
}

bool api_apply_check_options(struct api_req *r)
{
	struct model_causes causes = {.len = 0};
	const char *m = api_query(r, "fieldManager"), *force = api_query(r, "force");
	bool apply = api_apply_is(r);
	size_t i;

	if (apply && (!m || !*m))
		model_causes_add(&causes, "fieldManager", "FieldValueRequired",
		                 "Required value: is required for apply patch");
	if (m && strlen(m) > MODEL_MF_MANAGER_MAX)
		model_causes_add(&causes, "fieldManager", "FieldValueTooLong",
		                 "Too long: may not be more than %d bytes", MODEL_MF_MANAGER_MAX);
	for (i = 0; m && m[i]; i++) {
		if ((unsigned char)m[i] < 0x20 || m[i] == 0x7f) {
			model_causes_add(&causes, "fieldManager", "FieldValueInvalid",
			                 "Invalid value: \"%.128s\": must only contain printable "
			                 "characters",
			                 m);
			break;
		}
	}
	/* any force, even false, as kube (create and update have none) */
	if (force && !apply && strcmp(r->method, "PATCH") == 0)
		model_causes_add(&causes, "force", "FieldValueForbidden",
		                 "Forbidden: may not be specified for non-apply patch");
	if (causes.len == 0)
		return true;
	api_reply_options_invalid(r,
	                          strcmp(r->method, "PATCH") == 0  ? "PatchOptions"
	                          : strcmp(r->method, "POST") == 0 ? "CreateOptions"
	                                                           : "UpdateOptions",
	                          &causes);
	return false;
}

static void write_of(const struct api_req *r, struct model_mf_write *w, char *mgr, size_t cap,
                     bool status_only)
{
	manager_of(r, mgr, cap);
	w->manager = mgr;
	w->api_version = MODEL_API_VERSION;
	w->scope = status_only ? MODEL_MF_SCOPE_STATUS : MODEL_MF_SCOPE_MAIN;
	w->now = vim_time_now();
	w->force = false;
	api_query_bool((struct api_req *)r, "force", &w->force);
}

/* kube's ApplyConflict: 409, "Apply failed with N conflict(s): ...",
 * one FieldManagerConflict cause per field.  Several conflicts are
 * grouped by manager, in the order they were found. */
static void reply_conflicts(struct api_req *r, const struct model_mf_conflicts *c)
{
	size_t n = c->len < MODEL_MF_MAX_CONFLICTS ? c->len : MODEL_MF_MAX_CONFLICTS, i, j, len;
	json_t *causes = json_array(), *st;
	char msg[8192], cm[512];
	bool seen;

	if (c->len == 1) {
		snprintf(msg, sizeof(msg), "Apply failed with 1 conflict: conflict with %s: %s",
		         c->manager[0], c->path[0]);
	} else {
		len =
		    (size_t)snprintf(msg, sizeof(msg), "Apply failed with %zu conflicts: ", c->len);
		for (i = 0; i < n && len < sizeof(msg); i++) {
			for (seen = false, j = 0; j < i && !seen; j++)
				seen = strcmp(c->manager[i], c->manager[j]) == 0;
			if (seen)
				continue;
			len +=
			    (size_t)snprintf(msg + len, sizeof(msg) - len,
			                     "%sconflicts with %s:", i ? "\n" : "", c->manager[i]);
			for (j = i; j < n && len < sizeof(msg); j++)
				if (strcmp(c->manager[i], c->manager[j]) == 0)
					len += (size_t)snprintf(msg + len, sizeof(msg) - len,
					                        "\n- %s", c->path[j]);
		}
	}
	for (i = 0; i < n; i++) {
		snprintf(cm, sizeof(cm), "conflict with %s", c->manager[i]);
		json_array_append_new(causes,
		                      json_pack("{s:s,s:s,s:s}", "type", "FieldManagerConflict",
		                                "message", cm, "field", c->path[i]));
	}
	st =
	    json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:{s:s,s:s,s:s,s:o},s:i}", "kind", "Status",
	              "apiVersion", "v1", "metadata", "status", "Failure", "message", msg, "reason",
	              "Conflict", "details", "name", r->name ? r->name : "", "group", MODEL_GROUP,
	              "kind", r->kind ? r->kind->plural : "", "causes", causes, "code", 409);
	api_reply_json(r, 409, st);
}

bool api_apply_merge(struct api_req *r, const json_t *stored, const json_t *patch, bool status_only,
                     json_t **next)
{
	struct model_mf_conflicts *c = calloc(1, sizeof(*c));
	struct vim_err err = {0};
	struct model_mf_write w;
	char mgr[MODEL_MF_MANAGER_MAX + 1];
	int rc;

	*next = NULL;
	if (!c) {
		api_reply_error(r, VIM_ENOMEM, "out of memory");
		return false;
	}
	write_of(r, &w, mgr, sizeof(mgr), status_only);
	rc = model_mf_apply(next, stored, patch, &w, c, &err);
	if (rc == VIM_ECONFLICT)
		reply_conflicts(r, c);
	else if (rc < 0)
		api_reply_status(r, 400, "BadRequest", err.msg);
	free(c);
	return rc == 0;
}

void api_apply_record_update(struct api_req *r, json_t *next, const json_t *stored,
                             bool status_only)
{
	struct vim_err err = {0};
	struct model_mf_write w;
	char mgr[MODEL_MF_MANAGER_MAX + 1];

	write_of(r, &w, mgr, sizeof(mgr), status_only);
	w.force = false;
	(void)model_mf_update(next, stored, &w, &err);
}
