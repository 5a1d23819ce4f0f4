/*
 * model/fieldset — field sets, their elements over JSON values, the set
 * of an object and the apply merge (see fieldset.h).
 */
#include "model/fieldset.h"
#include "model/managed_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF MODEL_FS_SELF

enum list_type { LIST_ATOMIC = 0, LIST_SET, LIST_MAP };

/* Lists that are not atomic, by their field path: the same facts the
 * OpenAPI schema publishes (x-kubernetes-list-type, -list-map-keys). */
static const struct list_rule {
	const char *path;
	enum list_type type;
	const char *key; /* LIST_MAP */
} list_rules[] = {
    {"metadata.finalizers", LIST_SET, NULL},
    {"metadata.ownerReferences", LIST_MAP, "uid"},
    {"status.conditions", LIST_MAP, "type"},
};

/* Server-written metadata: no manager owns it (fieldmanager's stripmeta). */
static const char *const stripped_meta[] = {"f:name",
                                            "f:namespace",
                                            "f:creationTimestamp",
                                            "f:selfLink",
                                            "f:uid",
                                            "f:generation",
                                            "f:managedFields",
                                            "f:resourceVersion",
                                            "f:clusterName",
                                            "f:deletionTimestamp",
                                            "f:deletionGracePeriodSeconds",
                                            NULL};

static const struct list_rule *list_rule(const char *path)
{
	size_t i;

	for (i = 0; i < sizeof(list_rules) / sizeof(list_rules[0]); i++)
		if (strcmp(list_rules[i].path, path) == 0)
			return &list_rules[i];
	return NULL;
}

/* ---- set trees ---------------------------------------------------------------- */

json_t *model_fs_child(json_t *node, const char *elem)
{
	json_t *c = json_object_get(node, elem);

	if (!c) {
		c = json_object();
		json_object_set_new(node, elem, c);
	}
	return c;
}

/* The child named prefix + text (a "k:"/"v:" element of any length). */
static json_t *child_of(json_t *node, const char *prefix, const char *text)
{
	size_t n = strlen(prefix) + strlen(text) + 1;
	char *e = malloc(n);
	json_t *c;

	if (!e)
		return json_object(); /* leaked into nothing: out of memory */
	snprintf(e, n, "%s%s", prefix, text);
	c = model_fs_child(node, e);
	free(e);
	return c;
}

void model_fs_mark(json_t *node)
{
	json_object_set_new(node, SELF, json_object());
}

bool model_fs_member(const json_t *node)
{
	return node && json_object_get(node, SELF) != NULL;
}

/* FieldsV1 (borrowed) to a tree (new reference). */
json_t *model_fs_from_fields(const json_t *f)
{
	json_t *n = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)f, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			model_fs_mark(n);
		} else if (json_is_object(v)) {
			json_t *c = json_object_size(v) ? model_fs_from_fields(v) : json_object();

			if (!json_object_size(v))
				model_fs_mark(c);
			json_object_set_new(n, k, c);
		}
	}
	return n;
}

/* A tree to FieldsV1 (new reference): members without children are {}. */
json_t *model_fs_to_fields(const json_t *n)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)n, k, v)
	{
		json_t *c;

		if (strcmp(k, SELF) == 0)
			continue;
		c = model_fs_to_fields(v);
		if (model_fs_member(v) && json_object_size(c))
			model_fs_mark(c);
		if (model_fs_member(v) || json_object_size(c))
			json_object_set_new(o, k, c);
		else
			json_decref(c);
	}
	return o;
}

void model_fs_union(json_t *dst, const json_t *src)
{
	json_t *v;
	const char *k;

	json_object_foreach((json_t *)src, k, v)
	{
		if (strcmp(k, SELF) == 0)
			model_fs_mark(dst);
		else
			model_fs_union(model_fs_child(dst, k), v);
	}
}

/* a - b (b may be NULL), a new tree with no empty nodes. */
json_t *model_fs_sub(const json_t *a, const json_t *b)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)a, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (!model_fs_member(b))
				model_fs_mark(o);
		} else {
			json_t *c = model_fs_sub(v, b ? json_object_get(b, k) : NULL);

			if (json_object_size(c))
				json_object_set_new(o, k, c);
			else
				json_decref(c);
		}
	}
	return o;
}

json_t *model_fs_inter(const json_t *a, const json_t *b)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)a, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (model_fs_member(b))
				model_fs_mark(o);
		} else if (b && json_object_get(b, k)) {
			json_t *c = model_fs_inter(v, json_object_get(b, k));

			if (json_object_size(c))
				json_object_set_new(o, k, c);
			else
				json_decref(c);
		}
	}
	return o;
}

/* ---- elements over values -------------------------------------------------------- */

/* Does item match the keys of a "k:" element (a JSON object)? */
static bool key_match(const json_t *item, const json_t *keys)
{
	const char *k;
	json_t *v;

	if (!json_is_object(item))
		return false;
	json_object_foreach((json_t *)keys, k, v)
	{
		if (!json_equal(json_object_get(item, k), v))
			return false;
	}
	return true;
}

/* The index in array v of the element elem names, or -1. */
static long elem_index(const json_t *v, const char *elem)
{
	json_t *want = NULL, *item;
	long found = -1;
	size_t i;

	if (!json_is_array(v) || strlen(elem) < 2)
		return -1;
	if (elem[0] == 'i' && elem[1] == ':') {
		long n = strtol(elem + 2, NULL, 10);
		return n >= 0 && (size_t)n < json_array_size(v) ? n : -1;
	}
	want = json_loads(elem + 2, JSON_DECODE_ANY, NULL);
	if (!want)
		return -1;
	json_array_foreach(v, i, item)
	{
		if ((elem[0] == 'k' && key_match(item, want)) ||
		    (elem[0] == 'v' && json_equal(item, want))) {
			found = (long)i;
			break;
		}
	}
	json_decref(want);
	return found;
}

/* The member of v (borrowed) a path element names, or NULL. */
json_t *model_fs_descend(const json_t *v, const char *elem)
{
	long i;

	if (!v)
		return NULL;
	if (strncmp(elem, "f:", 2) == 0)
		return json_is_object(v) ? json_object_get(v, elem + 2) : NULL;
	i = elem_index(v, elem);
	return i < 0 ? NULL : json_array_get(v, (size_t)i);
}

static void remove_elem(json_t *v, const char *elem)
{
	long i;

	if (strncmp(elem, "f:", 2) == 0) {
		if (json_is_object(v))
			json_object_del(v, elem + 2);
	} else if ((i = elem_index(v, elem)) >= 0) {
		json_array_remove(v, (size_t)i);
	}
}

/* Removes every member of set from v. */
void model_fs_remove(json_t *v, const json_t *set)
{
	const char *k;
	json_t *s;

	json_object_foreach((json_t *)set, k, s)
	{
		if (strcmp(k, SELF) == 0)
			continue;
		if (model_fs_member(s))
			remove_elem(v, k);
		else if (model_fs_descend(v, k))
			model_fs_remove(model_fs_descend(v, k), s);
	}
}

/* Appends elem as kube prints a path (".spec.storage",
 * "[type=\"Ready\"]", "[=\"x\"]") to buf. */
void model_fs_print_elem(char *buf, size_t cap, const char *elem)
{
	size_t n = strlen(buf);
	json_t *j, *v;
	const char *k;
	char *s;
	bool first = true;

	if (n >= cap)
		return;
	if (strncmp(elem, "f:", 2) == 0) {
		snprintf(buf + n, cap - n, ".%s", elem + 2);
	} else if (strncmp(elem, "i:", 2) == 0) {
		snprintf(buf + n, cap - n, "[%s]", elem + 2);
	} else if (strncmp(elem, "v:", 2) == 0) {
		snprintf(buf + n, cap - n, "[=%s]", elem + 2);
	} else if ((j = json_loads(elem + 2, JSON_DECODE_ANY, NULL))) {
		snprintf(buf + n, cap - n, "[");
		json_object_foreach(j, k, v)
		{
			s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			n = strlen(buf);
			snprintf(buf + n, cap - n, "%s%s=%s", first ? "" : ",", k, s ? s : "");
			free(s);
			first = false;
		}
		n = strlen(buf);
		snprintf(buf + n, cap - n, "]");
		json_decref(j);
	}
}

/* ---- the set of an object ----------------------------------------------------------- */

static void set_of_object(json_t *node, const json_t *obj, const char *spath);

static void set_of_value(json_t *c, const json_t *val, const char *p)
{
	const struct list_rule *rule;
	json_t *item, *keys;
	char *s;
	size_t i;

	if (json_is_object(val) && json_object_size(val)) {
		set_of_object(c, val, p);
		return;
	}
	rule = json_is_array(val) && json_array_size(val) ? list_rule(p) : NULL;
	if (!rule) {
		model_fs_mark(c);
		return;
	}
	json_array_foreach(val, i, item)
	{
		if (rule->type == LIST_SET) {
			s = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
			if (s)
				model_fs_mark(child_of(c, "v:", s));
			free(s);
		} else if (json_is_object(item) && json_object_get(item, rule->key)) {
			keys = json_pack("{sO}", rule->key, json_object_get(item, rule->key));
			s = json_dumps(keys, JSON_COMPACT);
			json_decref(keys);
			if (s) {
				json_t *g = child_of(c, "k:", s);

				model_fs_mark(g);
				set_of_object(g, item, p);
			}
			free(s);
		}
	}
}

static void set_of_object(json_t *node, const json_t *obj, const char *spath)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)obj, k, v)
	{
		char p[512];

		if (json_is_null(v))
			continue;
		/* p only names the field for the list rules: a longer one
		 * is no rule's and stays atomic */
		snprintf(p, sizeof(p), "%s%s%s", spath, *spath ? "." : "", k);
		set_of_value(child_of(node, "f:", k), v, p);
	}
}

json_t *model_mf_set_of(const json_t *obj, enum model_mf_scope scope)
{
	json_t *set = json_object(), *md, *st;
	size_t i;

	if (json_is_object(obj))
		set_of_object(set, obj, "");
	json_object_del(set, "f:apiVersion");
	json_object_del(set, "f:kind");
	if ((md = json_object_get(set, "f:metadata"))) {
		for (i = 0; stripped_meta[i]; i++)
			json_object_del(md, stripped_meta[i]);
		json_object_del(md, SELF);
		if (!json_object_size(md))
			json_object_del(set, "f:metadata");
	}
	if (scope == MODEL_MF_SCOPE_MAIN) {
		json_object_del(set, "f:status");
	} else {
		st = json_incref(json_object_get(set, "f:status"));
		json_object_clear(set);
		if (st)
			json_object_set_new(set, "f:status", st);
	}
	return set;
}

static json_t *merge_list(json_t *live, const json_t *ap, const char *p,
                          const struct list_rule *rule)
{
	json_t *base = json_is_array(live) ? live : json_array(), *item, *cur;
	size_t i, j;
	bool found;

	if (base != live)
		json_decref(live);
	json_array_foreach(ap, i, item)
	{
		found = false;
		json_array_foreach(base, j, cur)
		{
			if (rule->type == LIST_SET
			        ? json_equal(cur, item)
			        : json_is_object(cur) && json_is_object(item) &&
			              json_equal(json_object_get(cur, rule->key),
			                         json_object_get(item, rule->key))) {
				found = true;
				break;
			}
		}
		if (found && rule->type == LIST_MAP)
			json_array_set_new(base, j, model_fs_merge(json_incref(cur), item, p));
		else if (!found)
			json_array_append_new(base, json_deep_copy(item));
	}
	return base;
}

/* Merges applied into live (stolen, may be NULL): a new reference. */
json_t *model_fs_merge(json_t *live, const json_t *ap, const char *p)
{
	const struct list_rule *rule;
	const char *k;
	json_t *v, *base;

	if (json_is_object(ap)) {
		base = json_is_object(live) ? live : json_object();
		if (base != live)
			json_decref(live);
		json_object_foreach((json_t *)ap, k, v)
		{
			char cp[512];

			if (json_is_null(v))
				continue;
			snprintf(cp, sizeof(cp), "%s%s%s", p, *p ? "." : "", k);
			json_object_set_new(
			    base, k, model_fs_merge(json_incref(json_object_get(base, k)), v, cp));
		}
		return base;
	}
	if (json_is_array(ap) && (rule = list_rule(p)))
		return merge_list(live, ap, p, rule);
	json_decref(live);
	return json_deep_copy(ap);
}
