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

int api_json_patch(json_t **doc, const json_t *ops, struct vim_err *err)
{
	const json_t *op;
	size_t n;

	if (!json_is_array(ops))
		return vim_err_set(err, VIM_EINVAL, "a JSON patch must be an array of operations");
	json_array_foreach(ops, n, op)
	{
		const char *kind = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		const char *from = json_string_value(json_object_get(op, "from"));
		json_t *value = json_object_get(op, "value"), *moved = NULL, *cur;
		int rc = -1;

		if (!kind || !path)
			return vim_err_set(err, VIM_EINVAL,
			                   "patch operation %zu: op and path are "
			                   "required",
			                   n);
		if (strcmp(kind, "add") == 0 && value)
			rc = do_add(doc, path, json_deep_copy(value), false);
		else if (strcmp(kind, "replace") == 0 && value)
			rc = do_add(doc, path, json_deep_copy(value), true);
		else if (strcmp(kind, "remove") == 0)
			rc = do_remove(*doc, path, NULL);
		else if (strcmp(kind, "test") == 0 && value)
			rc = (cur = get_path(*doc, path)) && json_equal(cur, value) ? 0 : -1;
		else if ((strcmp(kind, "move") == 0 || strcmp(kind, "copy") == 0) && from) {
			if (strcmp(kind, "move") == 0)
				rc = do_remove(*doc, from, &moved);
			else if ((cur = get_path(*doc, from)))
				rc = 0, moved = json_deep_copy(cur);
			if (rc == 0)
				rc = do_add(doc, path, moved, false);
		}
		if (rc != 0)
			return vim_err_set(err, VIM_EINVAL,
			                   "the JSON patch operation %zu (%s %s) cannot be applied",
			                   n, kind, path);
	}
	return 0;
}
