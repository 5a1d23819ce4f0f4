/*
 * model/managed_fields — field ownership as kube-apiserver's fieldmanager
 * (structured-merge-diff) keeps it in metadata.managedFields: FieldsV1
 * sets ("f:<name>", "k:<json keys>", "v:<json value>", "." for the node
 * itself), server-side apply (merge, conflicts, force, removal of fields
 * a manager stopped applying) and the Update entries of other writes.
 *
 * Pure JSON logic over jansson values: no I/O, no HTTP.  The schema facts
 * it needs (which lists are associative) are the table in
 * model/fieldset.c, the same facts schema_openapi.c publishes as
 * x-kubernetes-list-type / x-kubernetes-list-map-keys.
 */
#ifndef VIM_MODEL_MANAGED_FIELDS_H
#define VIM_MODEL_MANAGED_FIELDS_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define MODEL_MF_MAX_CONFLICTS 32
#define MODEL_MF_MANAGER_MAX 128 /* kube's limit on fieldManager */

/* What a write can touch: the main resource (no status) or /status. */
enum model_mf_scope { MODEL_MF_SCOPE_MAIN = 0, MODEL_MF_SCOPE_STATUS = 1 };

struct model_mf_conflicts {
	size_t len;                                /* how many were found */
	char manager[MODEL_MF_MAX_CONFLICTS][256]; /* printManager: "\"m\" using v" */
	char path[MODEL_MF_MAX_CONFLICTS][256];    /* ".spec.storage" */
};

/* One write, as the field manager sees it. */
struct model_mf_write {
	const char *manager;     /* fieldManager (never NULL) */
	const char *api_version; /* "virtualization.deckhouse.io/v1alpha2" */
	enum model_mf_scope scope;
	int64_t now; /* unix seconds */
	bool force;  /* apply only: take conflicting fields */
};

/* The field set of obj (borrowed) for scope, as FieldsV1 (a new
 * reference): what an apply of obj manages.  Server-written metadata,
 * apiVersion and kind are not part of it. */
json_t *model_mf_set_of(const json_t *obj, enum model_mf_scope scope);

/* Server-side apply of `applied` (borrowed) onto `live` (borrowed; NULL
 * when the object does not exist yet): *out is the merged object with
 * its managedFields (new reference).  VIM_ECONFLICT with *c filled when
 * other managers own fields the apply changes and w->force is false. */
int model_mf_apply(json_t **out, const json_t *live, const json_t *applied,
                   const struct model_mf_write *w, struct model_mf_conflicts *c,
                   struct vim_err *err);

/* A non-apply write (create, update, patch) of next (modified in place:
 * its metadata.managedFields) over live (borrowed; NULL on create): the
 * manager's Update entry gains what it changed, which other managers
 * lose; fields the write removed leave every set. */
int model_mf_update(json_t *next, const json_t *live, const struct model_mf_write *w,
                    struct vim_err *err);

/* The write of a sole owner (the controllers' status): the manager's
 * Update entry becomes exactly the set of next (modified in place) for
 * w->scope, which every other entry of entries (borrowed, the live
 * object's; NULL = none) loses.  next's entries may share members with
 * entries (by reference): neither is to be changed in place after. */
int model_mf_own(json_t *next, const json_t *entries, const struct model_mf_write *w);

/* kube's default manager name when the request names none: the
 * User-Agent up to its first '/' (into out; "unknown" without one). */
void model_mf_default_manager(const char *user_agent, char *out, size_t cap);

#endif
