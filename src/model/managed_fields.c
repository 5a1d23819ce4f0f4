/*
 * model/managed_fields — FieldsV1 sets, server-side apply and Update entries
 * (see managed_fields.h).  A set is kept as a tree of jansson objects
 * whose keys are path elements ("f:spec", "k:{\"type\":\"Ready\"}",
 * "v:\"x\"") and whose "." member says the node itself is in the set: the
 * FieldsV1 wire form, except that a leaf is {".":{}} rather than {} so an
 * emptied node is never mistaken for a member.
 */
#include "model/managed_fields.h"

#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SELF "."

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

static json_t *child(json_t *node, const char *elem)
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
	c = child(node, e);
	free(e);
	return c;
}

static void mark(json_t *node)
{
	json_object_set_new(node, SELF, json_object());
}

static bool member(const json_t *node)
{
	return node && json_object_get(node, SELF) != NULL;
}

/* FieldsV1 (borrowed) to a tree (new reference). */
static json_t *set_from_fields(const json_t *f)
{
	json_t *n = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)f, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			mark(n);
		} else if (json_is_object(v)) {
			json_t *c = json_object_size(v) ? set_from_fields(v) : json_object();

			if (!json_object_size(v))
				mark(c);
			json_object_set_new(n, k, c);
		}
	}
	return n;
}

/* A tree to FieldsV1 (new reference): members without children are {}. */
static json_t *set_to_fields(const json_t *n)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)n, k, v)
	{
		json_t *c;

		if (strcmp(k, SELF) == 0)
			continue;
		c = set_to_fields(v);
		if (member(v) && json_object_size(c))
			mark(c);
		if (member(v) || json_object_size(c))
			json_object_set_new(o, k, c);
		else
			json_decref(c);
	}
	return o;
}

static void set_union(json_t *dst, const json_t *src)
{
	json_t *v;
	const char *k;

	json_object_foreach((json_t *)src, k, v)
	{
		if (strcmp(k, SELF) == 0)
			mark(dst);
		else
			set_union(child(dst, k), v);
	}
}

/* a - b (b may be NULL), a new tree with no empty nodes. */
static json_t *set_sub(const json_t *a, const json_t *b)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)a, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (!member(b))
				mark(o);
		} else {
			json_t *c = set_sub(v, b ? json_object_get(b, k) : NULL);

			if (json_object_size(c))
				json_object_set_new(o, k, c);
			else
				json_decref(c);
		}
	}
	return o;
}

static json_t *set_inter(const json_t *a, const json_t *b)
{
	json_t *o = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)a, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (member(b))
				mark(o);
		} else if (b && json_object_get(b, k)) {
			json_t *c = set_inter(v, json_object_get(b, k));

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
static json_t *descend(const json_t *v, const char *elem)
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
static void remove_set(json_t *v, const json_t *set)
{
	const char *k;
	json_t *s;

	json_object_foreach((json_t *)set, k, s)
	{
		if (strcmp(k, SELF) == 0)
			continue;
		if (member(s))
			remove_elem(v, k);
		else if (descend(v, k))
			remove_set(descend(v, k), s);
	}
}

/* Appends elem as kube prints a path (".spec.storage",
 * "[type=\"Ready\"]", "[=\"x\"]") to buf. */
static void print_elem(char *buf, size_t cap, const char *elem)
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
		mark(c);
		return;
	}
	json_array_foreach(val, i, item)
	{
		if (rule->type == LIST_SET) {
			s = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
			if (s)
				mark(child_of(c, "v:", s));
			free(s);
		} else if (json_is_object(item) && json_object_get(item, rule->key)) {
			keys = json_pack("{sO}", rule->key, json_object_get(item, rule->key));
			s = json_dumps(keys, JSON_COMPACT);
			json_decref(keys);
			if (s) {
				json_t *g = child_of(c, "k:", s);

				mark(g);
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

/* ---- entries ---------------------------------------------------------------------- */

static const char *entry_str(const json_t *e, const char *key)
{
	const char *s = json_string_value(json_object_get(e, key));
	return s ? s : "";
}

static bool entry_is(const json_t *e, const char *manager, const char *op,
                     enum model_mf_scope scope)
{
	return strcmp(entry_str(e, "manager"), manager) == 0 &&
	       strcmp(entry_str(e, "operation"), op) == 0 &&
	       strcmp(entry_str(e, "subresource"),
	              scope == MODEL_MF_SCOPE_STATUS ? "status" : "") == 0;
}

static json_t *entry_new(const struct model_mf_write *w, const char *op, const json_t *set)
{
	char t[VIM_TIME_TEXT_MAX];
	json_t *e;

	vim_time_format(w->now, t, sizeof(t));
	e = json_pack("{ss ss ss ss ss so}", "manager", w->manager, "operation", op, "apiVersion",
	              w->api_version, "time", t, "fieldsType", "FieldsV1", "fieldsV1",
	              set_to_fields(set));
	if (e && w->scope == MODEL_MF_SCOPE_STATUS)
		json_object_set_new(e, "subresource", json_string("status"));
	return e;
}

static json_t *entries_of(const json_t *obj)
{
	json_t *mf = json_object_get(json_object_get(obj, "metadata"), "managedFields");
	return json_is_array(mf) ? mf : NULL;
}

/* The entry's set (new tree); an entry of another fieldsType owns nothing. */
static json_t *entry_set(const json_t *e)
{
	return set_from_fields(json_object_get(e, "fieldsV1"));
}

/* Replaces e's fields by set (a tree, borrowed). */
static void entry_set_fields(json_t *e, const json_t *set)
{
	json_object_set_new(e, "fieldsV1", set_to_fields(set));
}

/* kube's order of entries (fieldmanager's sortEncodedManagedFields):
 * operation (Apply before Update), time, manager, apiVersion,
 * subresource.  Times are all "YYYY-MM-DDTHH:MM:SSZ", so they compare as
 * text. */
static int entry_order(const void *pa, const void *pb)
{
	const json_t *a = *(const json_t *const *)pa, *b = *(const json_t *const *)pb;
	static const char *const keys[] = {"operation", "time", "manager", "apiVersion",
	                                   "subresource"};
	size_t i;
	int d;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if ((d = strcmp(entry_str(a, keys[i]), entry_str(b, keys[i]))) != 0)
			return d;
	return 0;
}

static void sort_entries(json_t *entries)
{
	size_t n = json_array_size(entries), i;
	json_t **v = n ? malloc(n * sizeof(*v)) : NULL;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(entries, i));
	qsort(v, n, sizeof(*v), entry_order);
	json_array_clear(entries);
	for (i = 0; i < n; i++)
		json_array_append_new(entries, v[i]);
	free(v);
}

/* Stores the entries (stolen) in obj's metadata, in kube's order.  Entries that own
 * nothing go, as in kube.  When the write changes nothing but the
 * entries' times, the live entries are kept so the write is a no-op. */
static void store_entries(json_t *obj, json_t *entries, const json_t *live)
{
	json_t *md = json_object_get(obj, "metadata"), *e, *le, *old = entries_of(live);
	bool same = false;
	size_t i, j;

	for (i = json_array_size(entries); i-- > 0;)
		if (!json_object_size(json_object_get(json_array_get(entries, i), "fieldsV1")))
			json_array_remove(entries, i);
	json_object_del(md, "managedFields");
	if (old) {
		json_t *a = json_deep_copy(obj), *b = json_deep_copy(live);

		json_object_del(json_object_get(a, "metadata"), "resourceVersion");
		json_object_del(json_object_get(b, "metadata"), "resourceVersion");
		json_object_del(json_object_get(b, "metadata"), "managedFields");
		same = json_equal(a, b);
		json_decref(a);
		json_decref(b);
	}
	json_array_foreach(entries, i, e)
	{
		json_array_foreach(old, j, le)
		{
			if (same &&
			    strcmp(entry_str(e, "manager"), entry_str(le, "manager")) == 0 &&
			    strcmp(entry_str(e, "operation"), entry_str(le, "operation")) == 0 &&
			    strcmp(entry_str(e, "subresource"), entry_str(le, "subresource")) ==
			        0 &&
			    json_equal(json_object_get(e, "fieldsV1"),
			               json_object_get(le, "fieldsV1")))
				json_object_set_new(e, "time",
				                    json_deep_copy(json_object_get(le, "time")));
		}
	}
	sort_entries(entries);
	if (json_array_size(entries) && md)
		json_object_set_new(md, "managedFields", entries);
	else
		json_decref(entries);
}

/* ---- apply ---------------------------------------------------------------------- */

static json_t *merge(json_t *live, const json_t *ap, const char *p);

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
			json_array_set_new(base, j, merge(json_incref(cur), item, p));
		else if (!found)
			json_array_append_new(base, json_deep_copy(item));
	}
	return base;
}

/* Merges applied into live (stolen, may be NULL): a new reference. */
static json_t *merge(json_t *live, const json_t *ap, const char *p)
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
			json_object_set_new(base, k,
			                    merge(json_incref(json_object_get(base, k)), v, cp));
		}
		return base;
	}
	if (json_is_array(ap) && (rule = list_rule(p)))
		return merge_list(live, ap, p, rule);
	json_decref(live);
	return json_deep_copy(ap);
}

static void print_manager(char *out, size_t cap, const json_t *e)
{
	int n = snprintf(out, cap, "\"%s\"", entry_str(e, "manager"));

	if (n > 0 && (size_t)n < cap && *entry_str(e, "subresource"))
		n += snprintf(out + n, cap - (size_t)n, " with subresource \"%s\"",
		              entry_str(e, "subresource"));
	if (n > 0 && (size_t)n < cap && strcmp(entry_str(e, "operation"), "Update") == 0)
		snprintf(out + n, cap - (size_t)n, " using %s", entry_str(e, "apiVersion"));
}

/* Walks s (what another manager owns of the applied set) with the live
 * and merged values: a leaf whose value the apply changes is a conflict,
 * added to taken and to c. */
static void find_conflicts(const json_t *s, const json_t *lv, const json_t *mv, char *path,
                           size_t cap, const json_t *e, json_t *taken, struct model_mf_conflicts *c)
{
	size_t plen = strlen(path);
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)s, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (!lv || json_is_object(mv) || json_equal(lv, mv))
				continue;
			mark(taken);
			if (c->len < MODEL_MF_MAX_CONFLICTS) {
				print_manager(c->manager[c->len], sizeof(c->manager[0]), e);
				snprintf(c->path[c->len], sizeof(c->path[0]), "%s", path);
			}
			c->len++;
			continue;
		}
		print_elem(path, cap, k);
		find_conflicts(v, descend(lv, k), descend(mv, k), path, cap, e, child(taken, k), c);
		path[plen] = '\0';
	}
}

int model_mf_apply(json_t **out, const json_t *live, const json_t *applied,
                   const struct model_mf_write *w, struct model_mf_conflicts *c,
                   struct vim_err *err)
{
	json_t *ap = json_deep_copy(applied), *merged = NULL, *entries = NULL, *nset = NULL;
	json_t *prev = NULL, *others = json_object(), *e, *es, *taken, *rm = NULL, *rest;
	char path[1024];
	size_t i;
	int rc = 0;

	*out = NULL;
	memset(c, 0, sizeof(*c));
	if (!json_is_object(ap)) {
		rc = vim_err_set(err, VIM_EINVAL, "the applied configuration must be an object");
		goto out;
	}
	/* as kube: an applied configuration states fields, not owners */
	if (json_object_get(json_object_get(ap, "metadata"), "managedFields") &&
	    !json_is_null(json_object_get(json_object_get(ap, "metadata"), "managedFields"))) {
		rc = vim_err_set(err, VIM_EINVAL, "metadata.managedFields must be nil");
		goto out;
	}
	json_object_del(json_object_get(ap, "metadata"), "managedFields");
	if (w->scope == MODEL_MF_SCOPE_MAIN) {
		json_object_del(ap, "status");
	} else {
		/* /status applies only the status */
		json_t *st = json_incref(json_object_get(ap, "status"));

		json_object_clear(ap);
		if (st)
			json_object_set_new(ap, "status", st);
	}
	nset = model_mf_set_of(ap, w->scope);
	merged = merge(live ? json_deep_copy(live) : NULL, ap, "");
	entries = json_array();
	json_array_foreach(entries_of(live), i, e)
	{
		if (entry_is(e, w->manager, "Apply", w->scope)) {
			prev = entry_set(e);
			continue;
		}
		json_array_append_new(entries, json_deep_copy(e));
	}
	/* conflicts with every other manager */
	json_array_foreach(entries, i, e)
	{
		size_t before = c->len;

		if (strcmp(entry_str(e, "manager"), w->manager) == 0)
			continue;
		es = entry_set(e);
		rest = set_inter(es, nset);
		taken = json_object();
		path[0] = '\0';
		find_conflicts(rest, live, merged, path, sizeof(path), e, taken, c);
		if (w->force && c->len > before) {
			json_t *left = set_sub(es, taken);

			entry_set_fields(e, left);
			json_decref(left);
		}
		json_decref(rest);
		json_decref(taken);
		json_decref(es);
	}
	if (c->len && !w->force) {
		rc = VIM_ECONFLICT;
		goto out;
	}
	c->len = 0;
	/* what this manager applied before and no longer does, and nobody
	 * else owns, goes */
	json_array_foreach(entries, i, e)
	{
		es = entry_set(e);
		set_union(others, es);
		json_decref(es);
	}
	if (prev) {
		json_t *dropped = set_sub(prev, nset);

		rm = set_sub(dropped, others);
		json_decref(dropped);
		remove_set(merged, rm);
	}
	json_array_append_new(entries, entry_new(w, "Apply", nset));
	store_entries(merged, entries, live);
	entries = NULL;
	*out = merged;
	merged = NULL;
out:
	json_decref(ap);
	json_decref(merged);
	json_decref(entries);
	json_decref(nset);
	json_decref(prev);
	json_decref(others);
	json_decref(rm);
	return rc;
}

/* ---- update ----------------------------------------------------------------------- */

/* The members of ns (the new object's set) that the write added or
 * changed: out gains them. */
static void changed(json_t *out, const json_t *ns, const json_t *os, const json_t *nv,
                    const json_t *ov)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)ns, k, v)
	{
		if (strcmp(k, SELF) == 0) {
			if (!member(os) || (!json_is_object(nv) && !json_equal(nv, ov)))
				mark(out);
			continue;
		}
		{
			json_t *c = json_object();

			changed(c, v, os ? json_object_get(os, k) : NULL, descend(nv, k),
			        descend(ov, k));
			if (json_object_size(c))
				json_object_set_new(out, k, c);
			else
				json_decref(c);
		}
	}
}

int model_mf_update(json_t *next, const json_t *live, const struct model_mf_write *w,
                    struct vim_err *err)
{
	json_t *nset, *oset, *ch = json_object(), *removed, *entries, *e, *es, *left;
	const json_t *base = entries_of(next) ? next : live;
	bool mine = false;
	size_t i;

	if (!json_is_object(json_object_get(next, "metadata")))
		return vim_err_set(err, VIM_EINVAL, "metadata must be an object");
	nset = model_mf_set_of(next, w->scope);
	oset = live ? model_mf_set_of(live, w->scope) : json_object();
	changed(ch, nset, live ? oset : NULL, next, live);
	removed = set_sub(oset, nset);
	entries = json_array();
	json_array_foreach(entries_of(base), i, e)
	{
		json_t *copy = json_deep_copy(e);

		es = entry_set(e);
		if (entry_is(e, w->manager, "Update", w->scope)) {
			mine = true;
			set_union(es, ch);
			if (json_object_size(ch)) {
				char t[VIM_TIME_TEXT_MAX];

				vim_time_format(w->now, t, sizeof(t));
				json_object_set_new(copy, "time", json_string(t));
				json_object_set_new(copy, "apiVersion",
				                    json_string(w->api_version));
			}
			left = set_sub(es, removed);
		} else {
			json_t *kept = set_sub(es, removed);

			left = set_sub(kept, ch);
			json_decref(kept);
		}
		entry_set_fields(copy, left);
		json_array_append_new(entries, copy);
		json_decref(left);
		json_decref(es);
	}
	if (!mine && json_object_size(ch))
		json_array_append_new(entries, entry_new(w, "Update", ch));
	store_entries(next, entries, live);
	json_decref(nset);
	json_decref(oset);
	json_decref(ch);
	json_decref(removed);
	return 0;
}

int model_mf_own(json_t *next, const json_t *entries, const struct model_mf_write *w)
{
	json_t *set = model_mf_set_of(next, w->scope), *out = json_array(), *e, *es, *left;
	char t[VIM_TIME_TEXT_MAX];
	bool mine = false;
	size_t i;

	vim_time_format(w->now, t, sizeof(t));
	json_array_foreach(json_is_array(entries) ? entries : NULL, i, e)
	{
		json_t *copy = json_deep_copy(e);

		if (entry_is(e, w->manager, "Update", w->scope)) {
			mine = true;
			left = json_incref(set);
			json_object_set_new(copy, "time", json_string(t));
			json_object_set_new(copy, "apiVersion", json_string(w->api_version));
		} else {
			es = entry_set(e);
			left = set_sub(es, set);
			json_decref(es);
		}
		entry_set_fields(copy, left);
		json_array_append_new(out, copy);
		json_decref(left);
	}
	if (!mine)
		json_array_append_new(out, entry_new(w, "Update", set));
	store_entries(next, out, NULL);
	json_decref(set);
	return 0;
}

void model_mf_default_manager(const char *user_agent, char *out, size_t cap)
{
	size_t n = 0;

	if (!user_agent || !*user_agent || *user_agent == '/')
		user_agent = "unknown";
	while (user_agent[n] && user_agent[n] != '/' && n + 1 < cap && n < MODEL_MF_MANAGER_MAX)
		n++;
	memcpy(out, user_agent, n);
	out[n] = '\0';
}
