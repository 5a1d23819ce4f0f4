/*
 * model/fieldset — field sets as structured-merge-diff keeps them, for
 * model/managed_fields (internal to the model module).
 *
 * A set is a tree of jansson objects whose keys are path elements
 * ("f:<field>", "k:<json keys>", "v:<json value>", "i:<index>") and whose
 * "." member (MODEL_FS_SELF) says the node itself is in the set: FieldsV1
 * except that a leaf is {".":{}}, so an emptied node is never taken for
 * a member.  Every json_t* returned is a new reference unless it says
 * "borrowed".  The schema facts (which lists are sets or maps by key) are
 * fieldset.c's table.
 */
#ifndef VIM_MODEL_FIELDSET_H
#define VIM_MODEL_FIELDSET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define MODEL_FS_SELF "."

/* The child node named elem, made when missing (borrowed). */
json_t *model_fs_child(json_t *node, const char *elem);
void model_fs_mark(json_t *node);              /* puts the node itself in the set */
bool model_fs_member(const json_t *node);      /* NULL is not */
json_t *model_fs_from_fields(const json_t *f); /* FieldsV1 -> tree */
json_t *model_fs_to_fields(const json_t *n);   /* tree -> FieldsV1 */
void model_fs_union(json_t *dst, const json_t *src);
json_t *model_fs_sub(const json_t *a, const json_t *b); /* a - b; b may be NULL */
json_t *model_fs_inter(const json_t *a, const json_t *b);

/* The member of v a path element names (borrowed), or NULL. */
json_t *model_fs_descend(const json_t *v, const char *elem);
/* Removes every member of set from v. */
void model_fs_remove(json_t *v, const json_t *set);
/* Appends elem as kube prints a path (".spec", "[type=\"Ready\"]",
 * "[=\"x\"]") to the string in buf. */
void model_fs_print_elem(char *buf, size_t cap, const char *elem);
/* Merges ap (applied, borrowed) into live (stolen, may be NULL) at field
 * path p ("" for the object): objects by field, map lists by key, set
 * lists by value, anything else replaced. */
json_t *model_fs_merge(json_t *live, const json_t *ap, const char *p);

#endif
