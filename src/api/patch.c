/*
 * api/patch — RFC 7386 merge patch and RFC 6902 JSON patch over jansson
 * values: what `kubectl apply`, `kubectl label` and `kubectl patch
 * --type=json` send.
 */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

json_t *api_merge_patch(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *v;

	if (!json_is_object(patch)) {
		json_decref(target);
		return json_deep_copy(patch);
	}
	if (!json_is_object(target)) {
		json_decref(target);
		target = json_object();
	}
	json_object_foreach((json_t *)patch, key, v)
	{
		if (json_is_null(v)) {
			json_object_del(target, key);
		} else {
			json_t *cur = json_object_get(target, key);
			json_object_set_new(target, key, api_merge_patch(json_incref(cur), v));
		}
	}
	return target;
}

/* Decodes one JSON pointer token (~1 -> /, ~0 -> ~) into out. */
static int token(const char *p, size_t n, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (o + 1 >= cap)
			return -1;
		if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1')) {
			out[o++] = p[i + 1] == '0' ? '~' : '/';
			i++;
		} else {
			out[o++] = p[i];
		}
	}
	out[o] = '\0';
	return 0;
}

/* Resolves all but the last token: *parent and the last token in last. */
static int resolve(json_t *doc, const char *path, json_t **parent, char *last, size_t cap)
{
	const char *p = path, *slash;
	char tok[512];
	json_t *cur = doc;

	if (*p != '/')
		return -1;
	for (;;) {
		p++;
		slash = strchr(p, '/');
		if (!slash)
			break;
		if (token(p, (size_t)(slash - p), tok, sizeof(tok)) < 0)
			return -1;
		if (json_is_object(cur))
			cur = json_object_get(cur, tok);
		else if (json_is_array(cur))
			cur = json_array_get(cur, strtoul(tok, NULL, 10));
		else
			return -1;
		if (!cur)
			return -1;
		p = slash;
	}
	*parent = cur;
	return token(p, strlen(p), last, cap);
}

static bool array_index(const json_t *arr, const char *tok, bool allow_end, size_t *idx)
{
	char *end;
	unsigned long v;

	if (allow_end && strcmp(tok, "-") == 0) {
		*idx = json_array_size(arr);
		return true;
	}
	if (!*tok || (tok[0] == '0' && tok[1]))
		return false;
	v = strtoul(tok, &end, 10);
	if (*end || v > json_array_size(arr) - (allow_end ? 0 : 1) ||
	    (!allow_end && json_array_size(arr) == 0))
		return false;
	*idx = v;
	return true;
}

static json_t *get_path(json_t *doc, const char *path)
{
	json_t *parent;
	char last[512];
	size_t i;

	if (*path == '\0')
		return doc;
	if (resolve(doc, path, &parent, last, sizeof(last)) < 0)
		return NULL;
	if (json_is_object(parent))
		return json_object_get(parent, last);
	if (json_is_array(parent) && array_index(parent, last, false, &i))
		return json_array_get(parent, i);
	return NULL;
}

static int do_remove(json_t *doc, const char *path, json_t **removed)
{
	json_t *parent;
	char last[512];
	size_t i;

	if (resolve(doc, path, &parent, last, sizeof(last)) < 0)
		return -1;
	if (json_is_object(parent) && json_object_get(parent, last)) {
		if (removed)
			*removed = json_incref(json_object_get(parent, last));
		return json_object_del(parent, last);
	}
	if (json_is_array(parent) && array_index(parent, last, false, &i)) {
		if (removed)
			*removed = json_incref(json_array_get(parent, i));
		return json_array_remove(parent, i);
	}
	return -1;
}

/* add (or replace when replace is true) value (stolen) at path. */
static int do_add(json_t **doc, const char *path, json_t *value, bool replace)
{
	json_t *parent;
	char last[512];
	size_t i;

	if (*path == '\0') {
		json_decref(*doc);
		*doc = value;
		return 0;
	}
	if (resolve(*doc, path, &parent, last, sizeof(last)) < 0)
		goto fail;
	if (json_is_object(parent)) {
		if (replace && !json_object_get(parent, last))
			goto fail;
		return json_object_set_new(parent, last, value);
	}
	if (json_is_array(parent)) {
		if (replace) {
			if (!array_index(parent, last, false, &i))
				goto fail;
			return json_array_set_new(parent, i, value);
		}
		if (!array_index(parent, last, true, &i))
			goto fail;
		return json_array_insert_new(parent, i, value);
	}
fail:
	json_decref(value);
	return -1;
}

/* Compact-encoded size of v, roughly (escapes and number digits are
 * estimated), and its depth.  Stops as soon as the size passes cap or the
 * depth passes API_JSON_MAX_DEPTH, so the walk costs at most about cap
 * and never recurses deeper than the limit.  Returns false when a bound
 * was passed. */
static bool measure(const json_t *v, size_t depth, size_t cap, size_t *size, size_t *max_depth)
{
	const char *key;
	const json_t *m;
	size_t i;

	if (depth > *max_depth)
		*max_depth = depth;
	if (depth > API_JSON_MAX_DEPTH)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		*size += 2;
		json_object_foreach((json_t *)v, key, m)
		{
			*size += strlen(key) + 4;
			if (*size > cap || !measure(m, depth + 1, cap, size, max_depth))
				return false;
		}
		break;
	case JSON_ARRAY:
		*size += 2;
		json_array_foreach(v, i, m)
		{
			*size += 1;
			if (*size > cap || !measure(m, depth + 1, cap, size, max_depth))
				return false;
		}
		break;
	case JSON_STRING:
		*size += json_string_length(v) + 2;
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		*size += 20;
		break;
	default:
		*size += 5;
		break;
	}
	return *size <= cap;
}

int api_json_measure(const json_t *v, size_t cap, size_t *size, size_t *depth)
{
	size_t s = 0, d = 0;
	bool ok = v ? measure(v, 1, cap, &s, &d) : true;

	if (size)
		*size = s;
	if (depth)
		*depth = d;
	return ok ? 0 : VIM_ETOOLARGE;
}

/* How many members a JSON pointer names ("" = 0, "/a/b" = 2). */
static size_t pointer_depth(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

int api_json_patch(json_t **doc, const json_t *ops, size_t max_copy, struct vim_err *err)
{
	const json_t *op;
	size_t n, copied = 0, depth = 0;

	if (!json_is_array(ops))
		return vim_err_set(err, VIM_EINVAL, "a JSON patch must be an array of operations");
	if (json_array_size(ops) > API_JSON_PATCH_MAX_OPS)
		return vim_err_set(err, VIM_ETOOLARGE,
		                   "The allowed maximum operations in a JSON patch is %d, got %zu",
		                   API_JSON_PATCH_MAX_OPS, json_array_size(ops));
	/* depth is an upper bound of the document's depth, kept as each op
	 * lands: jansson frees, copies and compares recursively, so a patch
	 * that nests the document deeper than the parser would accept (moves
	 * under ever longer paths) is refused before it exists. */
	if (api_json_measure(*doc, (size_t)-1, NULL, &depth) < 0)
		return vim_err_set(err, VIM_EINVAL, "the object is nested more than %d levels deep",
		                   API_JSON_MAX_DEPTH);
	json_array_foreach(ops, n, op)
	{
		const char *kind = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		const char *from = json_string_value(json_object_get(op, "from"));
		json_t *value = json_object_get(op, "value"), *moved = NULL, *cur;
		size_t vsize = 0, vdepth = 0, grown = depth;
		int rc = -1;

		if (!kind || !path)
			return vim_err_set(err, VIM_EINVAL,
			                   "patch operation %zu: op and path are "
			                   "required",
			                   n);
		if (value && (strcmp(kind, "add") == 0 || strcmp(kind, "replace") == 0)) {
			/* the value is part of the request body: bounded by it */
			api_json_measure(value, (size_t)-1, NULL, &vdepth);
			grown = pointer_depth(path) + vdepth;
		} else if (from && (strcmp(kind, "move") == 0 || strcmp(kind, "copy") == 0)) {
			size_t fd = pointer_depth(from);
			grown = pointer_depth(path) + (depth > fd ? depth - fd : 0);
		}
		if (grown > depth)
			depth = grown;
		if (depth > API_JSON_MAX_DEPTH)
			return vim_err_set(
			    err, VIM_EINVAL,
			    "the JSON patch operation %zu (%.16s %.100s) would nest the object "
			    "more than %d levels deep",
			    n, kind, path, API_JSON_MAX_DEPTH);
		if (strcmp(kind, "add") == 0 && value)
			rc = do_add(doc, path, json_deep_copy(value), false);
		else if (strcmp(kind, "replace") == 0 && value)
			rc = do_add(doc, path, json_deep_copy(value), true);
		else if (strcmp(kind, "remove") == 0)
			rc = do_remove(*doc, path, NULL);
		else if (strcmp(kind, "test") == 0 && value)
			rc = (cur = get_path(*doc, path)) && json_equal(cur, value) ? 0 : -1;
		else if ((strcmp(kind, "move") == 0 || strcmp(kind, "copy") == 0) && from) {
			if (strcmp(kind, "move") == 0) {
				rc = do_remove(*doc, from, &moved);
			} else if ((cur = get_path(*doc, from))) {
				/* Only copy makes the document grow faster than
				 * the request: measure before copying, as kube's
				 * AccumulatedCopySizeLimit does, so a chain of
				 * root copies never materialises. */
				if (api_json_measure(cur, max_copy - copied, &vsize, NULL) < 0 ||
				    copied + vsize > max_copy)
					return vim_err_set(
					    err, VIM_EINVAL,
					    "Unable to complete the copy, the accumulated size "
					    "increase of copy is %zu, exceeding the limit %zu",
					    copied + vsize, max_copy);
				copied += vsize;
				rc = 0, moved = json_deep_copy(cur);
			}
			if (rc == 0)
				rc = do_add(doc, path, moved, false);
		}
		if (rc != 0)
			return vim_err_set(
			    err, VIM_EINVAL,
			    "the JSON patch operation %zu (%.16s %.200s) cannot be applied", n,
			    kind, path);
	}
	return 0;
}
