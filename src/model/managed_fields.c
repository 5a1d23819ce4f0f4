/*
 * model/managed_fields — managedFields entries, server-side apply and
 * Update entries (see managed_fields.h) over the sets of fieldset.c.
 */
#include "model/managed_fields.h"

#include "core/timeutil.h"
#include "model/fieldset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	              model_fs_to_fields(set));
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
	return model_fs_from_fields(json_object_get(e, "fieldsV1"));
}

/* Replaces e's fields by set (a tree, borrowed). */
static void entry_set_fields(json_t *e, const json_t *set)
{
	json_object_set_new(e, "fieldsV1", model_fs_to_fields(set));
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
		if (strcmp(k, MODEL_FS_SELF) == 0) {
			if (!lv || json_is_object(mv) || json_equal(lv, mv))
				continue;
			model_fs_mark(taken);
			if (c->len < MODEL_MF_MAX_CONFLICTS) {
				print_manager(c->manager[c->len], sizeof(c->manager[0]), e);
				snprintf(c->path[c->len], sizeof(c->path[0]), "%s", path);
			}
			c->len++;
			continue;
		}
		model_fs_print_elem(path, cap, k);
		find_conflicts(v, model_fs_descend(lv, k), model_fs_descend(mv, k), path, cap, e,
		               model_fs_child(taken, k), c);
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
	merged = model_fs_merge(live ? json_deep_copy(live) : NULL, ap, "");
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
		rest = model_fs_inter(es, nset);
		taken = json_object();
		path[0] = '\0';
		find_conflicts(rest, live, merged, path, sizeof(path), e, taken, c);
		if (w->force && c->len > before) {
			json_t *left = model_fs_sub(es, taken);

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
		model_fs_union(others, es);
		json_decref(es);
	}
	if (prev) {
		json_t *dropped = model_fs_sub(prev, nset);

		rm = model_fs_sub(dropped, others);
		json_decref(dropped);
		model_fs_remove(merged, rm);
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
		if (strcmp(k, MODEL_FS_SELF) == 0) {
			if (!model_fs_member(os) || (!json_is_object(nv) && !json_equal(nv, ov)))
				model_fs_mark(out);
			continue;
		}
		{
			json_t *c = json_object();

			changed(c, v, os ? json_object_get(os, k) : NULL, model_fs_descend(nv, k),
			        model_fs_descend(ov, k));
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
	json_t *nset, *oset, *ch, *removed, *entries, *e, *es, *left;
	const json_t *base = entries_of(next) ? next : live;
	bool mine = false;
	size_t i;

	/* checked before the change set exists: it leaked on this return */
	if (!json_is_object(json_object_get(next, "metadata")))
		return vim_err_set(err, VIM_EINVAL, "metadata must be an object");
	ch = json_object();
	nset = model_mf_set_of(next, w->scope);
	oset = live ? model_mf_set_of(live, w->scope) : json_object();
	changed(ch, nset, live ? oset : NULL, next, live);
	removed = model_fs_sub(oset, nset);
	entries = json_array();
	json_array_foreach(entries_of(base), i, e)
	{
		json_t *copy = json_deep_copy(e);

		es = entry_set(e);
		if (entry_is(e, w->manager, "Update", w->scope)) {
			mine = true;
			model_fs_union(es, ch);
			if (json_object_size(ch)) {
				char t[VIM_TIME_TEXT_MAX];

				vim_time_format(w->now, t, sizeof(t));
				json_object_set_new(copy, "time", json_string(t));
				json_object_set_new(copy, "apiVersion",
				                    json_string(w->api_version));
			}
			left = model_fs_sub(es, removed);
		} else {
			json_t *kept = model_fs_sub(es, removed);

			left = model_fs_sub(kept, ch);
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

/* Whether FieldsV1 f can own a member of the scope's set: a status set
 * is all under f:status, so an entry without it loses nothing to it. */
static bool may_own(const json_t *f, enum model_mf_scope scope)
{
	return scope != MODEL_MF_SCOPE_STATUS || json_object_get(f, "f:status");
}

/* The controllers write status on every reconcile that changes it, so
 * this is reckoned with as little new JSON as it can: the entries are
 * not changed in place anywhere (every writer builds new ones), so one
 * that cannot own any of the set is shared by reference with the live
 * object, and the manager's own entry is a shallow copy whose fieldsV1
 * is the previous one when the set of fields is the same (a status write
 * mostly changes values, not which fields there are).  The result is
 * what a copy of each entry minus the set would be (test_apply pins it). */
int model_mf_own(json_t *next, const json_t *entries, const struct model_mf_write *w)
{
	json_t *set = model_mf_set_of(next, w->scope), *out = json_array(), *e, *es, *left;
	json_t *fields = model_fs_to_fields(set), *f;
	char t[VIM_TIME_TEXT_MAX];
	bool mine = false;
	size_t i;

	vim_time_format(w->now, t, sizeof(t));
	json_array_foreach(json_is_array(entries) ? entries : NULL, i, e)
	{
		json_t *copy;

		f = json_object_get(e, "fieldsV1");
		if (entry_is(e, w->manager, "Update", w->scope)) {
			mine = true;
			copy = json_copy(e);
			json_object_set_new(copy, "time", json_string(t));
			json_object_set_new(copy, "apiVersion", json_string(w->api_version));
			json_object_set(copy, "fieldsV1", json_equal(f, fields) ? f : fields);
		} else if (!may_own(f, w->scope)) {
			copy = json_incref(e);
		} else {
			copy = json_copy(e);
			es = entry_set(e);
			left = model_fs_sub(es, set);
			entry_set_fields(copy, left);
			json_decref(left);
			json_decref(es);
		}
		json_array_append_new(out, copy);
	}
	if (!mine)
		json_array_append_new(out, entry_new(w, "Update", set));
	store_entries(next, out, NULL);
	json_decref(fields);
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
