/*
 * api/apply — the HTTP side of field management for VI/CVI writes:
 * PatchOptions fieldManager / force, the field manager of any write, the
 * server-side apply merge with kube's 409 on conflicts, and the Update
 * entries of create, update and patch (managed_fields.c does the sets).
 */
#ifndef VIM_API_APPLY_H
#define VIM_API_APPLY_H

#include "api/internal.h"

/* Is this PATCH an apply (application/apply-patch+yaml)? */
bool api_apply_is(const struct api_req *r);

/* fieldManager and force as kube checks them: required for apply, at
 * most 128 bytes, force only for apply.  False after a 422. */
bool api_apply_check_options(struct api_req *r);

/* Server-side apply of patch (borrowed) onto stored (borrowed; NULL when
 * the object does not exist): *next, or false after a reply (409 with
 * the conflicting fields, 400 for a body that is not an object). */
bool api_apply_merge(struct api_req *r, const json_t *stored, const json_t *patch, bool status_only,
                     json_t **next);

/* Records the Update entry of a non-apply write in next (modified)
 * over stored (NULL on create).  Never fails the write: an object
 * whose metadata is not an object is refused by validation later. */
void api_apply_record_update(struct api_req *r, json_t *next, const json_t *stored,
                             bool status_only);

#endif
