/*
 * model/json — the JSON codec of VirtualImage / ClusterVirtualImage.
 *
 * One table per JSON object drives both directions, so the member names, the
 * encoding order, the kind restrictions and the omitempty rules cannot drift
 * apart between decode and encode.  Decoding treats a JSON null like an
 * absent member (what the apiserver does for non-nullable CRD fields and what
 * Go does for ObjectMeta); array items and map values must not be null.
 *
 * Emptiness rules (what encode leaves out), chosen so that for any object
 * this server stores, encode(decode(j)) equals j:
 *  - spec strings: emitted when non-NULL, "" included (absent != "");
 *  - metadata/status strings: Go omitempty, emitted when non-empty;
 *  - condition type/status/reason/message: always (metav1.Condition), and
 *    lastTransitionTime always (null when 0);
 *  - integers and times: emitted when non-zero; maps and lists when non-empty;
 *  - nested objects held inline: emitted when something in them is; nested
 *    objects held by pointer (dataSource.http, ...): emitted when non-NULL, so
 *    `upload: {}` survives; the status object when anything in it is set.
 * Consequences: `checksum: {}` or `imagePullSecret: {}` do not survive a round
 * trip (the model has nowhere to keep their presence) — nothing depends on it.
 */
#include "model/model.h"

#include "core/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_BUF 256

enum ftype {
	FT_IGNORE, /* known, handled elsewhere (apiVersion, kind) */
	FT_STR,    /* char * */
	FT_INT,    /* int64_t */
	FT_TIME,   /* int64_t unix seconds <-> RFC 3339 */
	FT_BOOL,   /* bool */
	FT_PHASE,  /* enum model_phase */
	FT_STRMAP, /* struct model_strmap */
	FT_STRLIST,
	FT_CONDS,  /* struct model_status conditions/n_conditions */
	FT_INLINE, /* JSON object whose members live in the same C struct */
	FT_PTR,    /* JSON object held by a calloc'd struct pointer */
};

#define K_VI MODEL_KIND_BIT(MODEL_KIND_VI)
#define K_CVI MODEL_KIND_BIT(MODEL_KIND_CVI)
#define K_ALL (~0u) /* every kind: a new kind names itself only where it differs */

enum {
	FL_NONNULL = 1u, /* string emitted when non-NULL, even "" */
	FL_ALWAYS = 2u,  /* emitted even when empty ("", null time, false, {}) */
	FL_PRESENCE = 4u /* FT_INLINE: aux is the offset of a "present" bool */
};

struct table;

struct field {
	const char *name;
	enum ftype type;
	unsigned kinds;
	unsigned flags;
	size_t off;
	const struct table *sub; /* FT_INLINE, FT_PTR */
	size_t aux;              /* FT_PTR: struct size; FL_PRESENCE: bool offset */
};

struct table {
	const struct field *fields;
	size_t n;
	bool keep_extra; /* metadata: unknown members go to model_meta.extra */
};

#define TABLE(name, arr, extra)                                                                    \
	static const struct table name = {arr, sizeof(arr) / sizeof(arr[0]), extra}
#define STR(n, s, m, k, fl)                                                                        \
	{                                                                                          \
		n, FT_STR, k, fl, offsetof(s, m), NULL, 0                                          \
	}

static const struct field checksum_f[] = {
    STR("md5", struct model_checksum, md5, K_ALL, FL_NONNULL),
    STR("sha1", struct model_checksum, sha1, K_ALL, FL_NONNULL),
    STR("sha256", struct model_checksum, sha256, K_ALL, FL_NONNULL),
    STR("sha512", struct model_checksum, sha512, K_ALL, FL_NONNULL),
    STR("streebog256", struct model_checksum, streebog256, K_ALL, FL_NONNULL),
    STR("streebog512", struct model_checksum, streebog512, K_ALL, FL_NONNULL),
};
TABLE(checksum_t, checksum_f, false);

static const struct field http_f[] = {
    STR("url", struct model_ds_http, url, K_ALL, FL_NONNULL),
    STR("caBundle", struct model_ds_http, ca_bundle, K_ALL, FL_NONNULL),
    {"checksum", FT_INLINE, K_ALL, 0, offsetof(struct model_ds_http, checksum), &checksum_t, 0},
};
TABLE(http_t, http_f, false);

static const struct field pull_secret_f[] = {
    STR("name", struct model_ds_container_image, pull_secret_name, K_ALL, FL_NONNULL),
    STR("namespace", struct model_ds_container_image, pull_secret_namespace, K_CVI, FL_NONNULL),
};
TABLE(pull_secret_t, pull_secret_f, false);

static const struct field cimage_f[] = {
    STR("image", struct model_ds_container_image, image, K_ALL, FL_NONNULL),
    {"imagePullSecret", FT_INLINE, K_ALL, 0, 0, &pull_secret_t, 0},
    STR("caBundle", struct model_ds_container_image, ca_bundle, K_ALL, FL_NONNULL),
};
TABLE(cimage_t, cimage_f, false);

static const struct field objref_f[] = {
    STR("kind", struct model_ds_object_ref, kind, K_ALL, FL_NONNULL),
    STR("name", struct model_ds_object_ref, name, K_ALL, FL_NONNULL),
    STR("namespace", struct model_ds_object_ref, namespace, K_CVI, FL_NONNULL),
};
TABLE(objref_t, objref_f, false);

static const struct field upload_f[] = {
    {"checksum", FT_INLINE, K_ALL, 0, offsetof(struct model_ds_upload, checksum), &checksum_t, 0},
};
TABLE(upload_t, upload_f, false);

static const struct field ds_f[] = {
    STR("type", struct model_data_source, type, K_ALL, FL_NONNULL),
    {"http", FT_PTR, K_ALL, 0, offsetof(struct model_data_source, http), &http_t,
     sizeof(struct model_ds_http)},
    {"containerImage", FT_PTR, K_ALL, 0, offsetof(struct model_data_source, container_image),
     &cimage_t, sizeof(struct model_ds_container_image)},
    {"objectRef", FT_PTR, K_ALL, 0, offsetof(struct model_data_source, object_ref), &objref_t,
     sizeof(struct model_ds_object_ref)},
    {"upload", FT_PTR, K_ALL, 0, offsetof(struct model_data_source, upload), &upload_t,
     sizeof(struct model_ds_upload)},
};
TABLE(ds_t, ds_f, false);

static const struct field pvc_f[] = {
    STR("storageClassName", struct model_spec, storage_class_name, K_VI, FL_NONNULL),
};
TABLE(pvc_t, pvc_f, false);

static const struct field spec_f[] = {
    STR("storage", struct model_spec, storage, K_VI, FL_NONNULL),
    {"persistentVolumeClaim", FT_INLINE, K_VI, FL_PRESENCE, 0, &pvc_t,
     offsetof(struct model_spec, has_pvc)},
    {"dataSource", FT_INLINE, K_ALL, 0, offsetof(struct model_spec, data_source), &ds_t, 0},
};
TABLE(spec_t, spec_f, false);

/* metav1.Condition's member order. */
static const struct field cond_f[] = {
    STR("type", struct model_condition, type, K_ALL, FL_ALWAYS),
    STR("status", struct model_condition, status, K_ALL, FL_ALWAYS),
    {"observedGeneration", FT_INT, K_ALL, 0, offsetof(struct model_condition, observed_generation),
     NULL, 0},
    {"lastTransitionTime", FT_TIME, K_ALL, FL_ALWAYS,
     offsetof(struct model_condition, last_transition_time), NULL, 0},
    STR("reason", struct model_condition, reason, K_ALL, FL_ALWAYS),
    STR("message", struct model_condition, message, K_ALL, FL_ALWAYS),
};
TABLE(cond_t, cond_f, false);

static const struct field speed_f[] = {
    STR("avg", struct model_status, speed_avg, K_ALL, 0),
    STR("avgBytes", struct model_status, speed_avg_bytes, K_ALL, 0),
    STR("current", struct model_status, speed_current, K_ALL, 0),
    STR("currentBytes", struct model_status, speed_current_bytes, K_ALL, 0),
};
TABLE(speed_t, speed_f, false);

static const struct field size_f[] = {
    STR("stored", struct model_status, size_stored, K_ALL, 0),
    STR("storedBytes", struct model_status, size_stored_bytes, K_ALL, 0),
    STR("unpacked", struct model_status, size_unpacked, K_ALL, 0),
    STR("unpackedBytes", struct model_status, size_unpacked_bytes, K_ALL, 0),
};
TABLE(size_tbl, size_f, false);

static const struct field target_f[] = {
    STR("registryURL", struct model_status, target_registry_url, K_ALL, 0),
    STR("persistentVolumeClaimName", struct model_status, target_pvc_name, K_VI, 0),
};
TABLE(target_t, target_f, false);

static const struct field urls_f[] = {
    STR("external", struct model_status, upload_url_external, K_ALL, 0),
    STR("inCluster", struct model_status, upload_url_in_cluster, K_ALL, 0),
};
TABLE(urls_t, urls_f, false);

static const struct field status_f[] = {
    {"phase", FT_PHASE, K_ALL, 0, offsetof(struct model_status, phase), NULL, 0},
    {"conditions", FT_CONDS, K_ALL, 0, 0, &cond_t, 0},
    {"observedGeneration", FT_INT, K_ALL, 0, offsetof(struct model_status, observed_generation),
     NULL, 0},
    STR("progress", struct model_status, progress, K_ALL, 0),
    {"downloadSpeed", FT_INLINE, K_ALL, 0, 0, &speed_t, 0},
    {"size", FT_INLINE, K_ALL, 0, 0, &size_tbl, 0},
    STR("format", struct model_status, format, K_ALL, 0),
    {"cdrom", FT_BOOL, K_ALL, FL_ALWAYS, offsetof(struct model_status, cdrom), NULL, 0},
    {"target", FT_INLINE, K_ALL, 0, 0, &target_t, 0},
    {"imageUploadURLs", FT_INLINE, K_ALL, 0, 0, &urls_t, 0},
    STR("uploadCommand", struct model_status, upload_command, K_ALL, 0),
    STR("sourceUID", struct model_status, source_uid, K_ALL, 0),
    STR("storageClassName", struct model_status, storage_class_name, K_VI, 0),
    {"usedInNamespaces", FT_STRLIST, K_CVI, 0, offsetof(struct model_status, used_in_namespaces),
     NULL, 0},
};
TABLE(status_t, status_f, false);

static const struct field meta_f[] = {
    STR("name", struct model_meta, name, K_ALL, 0),
    STR("generateName", struct model_meta, generate_name, K_ALL, 0),
    STR("namespace", struct model_meta, namespace, K_ALL, 0),
    STR("uid", struct model_meta, uid, K_ALL, 0),
    STR("resourceVersion", struct model_meta, resource_version, K_ALL, 0),
    {"generation", FT_INT, K_ALL, 0, offsetof(struct model_meta, generation), NULL, 0},
    {"creationTimestamp", FT_TIME, K_ALL, 0, offsetof(struct model_meta, creation_timestamp), NULL,
     0},
    {"deletionTimestamp", FT_TIME, K_ALL, 0, offsetof(struct model_meta, deletion_timestamp), NULL,
     0},
    {"deletionGracePeriodSeconds", FT_INT, K_ALL, 0,
     offsetof(struct model_meta, deletion_grace_period_seconds), NULL, 0},
    {"labels", FT_STRMAP, K_ALL, 0, offsetof(struct model_meta, labels), NULL, 0},
    {"annotations", FT_STRMAP, K_ALL, 0, offsetof(struct model_meta, annotations), NULL, 0},
    {"finalizers", FT_STRLIST, K_ALL, 0, offsetof(struct model_meta, finalizers), NULL, 0},
};
TABLE(meta_t, meta_f, true);

/* metadata and spec are always emitted: every stored object has both. */
static const struct field top_f[] = {
    {"apiVersion", FT_IGNORE, K_ALL, 0, 0, NULL, 0},
    {"kind", FT_IGNORE, K_ALL, 0, 0, NULL, 0},
    {"metadata", FT_INLINE, K_ALL, FL_ALWAYS, offsetof(struct model_image, meta), &meta_t, 0},
    {"spec", FT_INLINE, K_ALL, FL_ALWAYS, offsetof(struct model_image, spec), &spec_t, 0},
    {"status", FT_INLINE, K_ALL, 0, offsetof(struct model_image, status), &status_t, 0},
};
TABLE(top_t, top_f, false);

#define AT(base, off, T) ((T *)(void *)((char *)(base) + (off)))
#define CAT(base, off, T) ((const T *)(const void *)((const char *)(base) + (off)))

/* ---- decode -------------------------------------------------------------- */

struct dec {
	enum model_kind kind;
	struct model_unknown *unknown;
	struct vim_err *err;
};

static const char *json_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	default:
		return "null";
	}
}

static int type_error(struct dec *d, const char *path, const json_t *v, const char *want)
{
	const char *got = json_type_name(v);
	return vim_err_set(d->err, VIM_EINVAL,
	                   "%s: Invalid value: \"%s\": %s in body must be of type %s: \"%s\"", path,
	                   got, path, want, got);
}

/* Go's %q for the common cases, so a value in a message cannot break it. */
static void quote(char *out, size_t outlen, const char *s)
{
	size_t o = 0;
	for (; *s && o + 8 < outlen; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* Paths are cut at PATH_BUF: they only ever feed messages. */
static void path_fmt(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_fmt(char *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, PATH_BUF, fmt, ap);
	va_end(ap);
}

static void join_path(char *out, const char *path, const char *key)
{
	if (path[0])
		path_fmt(out, "%s.%s", path, key);
	else
		path_fmt(out, "%s", key);
}

static void unknown_add(struct model_unknown *u, const char *path)
{
	if (!u)
		return;
	if (u->len < MODEL_UNKNOWN_MAX) {
		size_t n = strnlen(path, MODEL_FIELD_PATH_MAX - 1);
		memcpy(u->paths[u->len], path, n);
		u->paths[u->len][n] = '\0';
		u->len++;
	}
	u->total++;
}

/* Returns the text of a string value; "" must not hide a NUL byte. */
static int want_string(struct dec *d, const char *path, const json_t *v, const char **out)
{
	if (!json_is_string(v))
		return type_error(d, path, v, "string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return vim_err_set(d->err, VIM_EINVAL,
		                   "%s: Invalid value: must not contain a NUL character", path);
	*out = json_string_value(v);
	return 0;
}

/* Parses RFC 3339 text, refusing times whose canonical text would not parse
 * back (years before 1000 print short), so encode(decode(x)) stays decodable. */
static bool time_round_trips(const char *text, int64_t *t)
{
	char canon[VIM_TIME_TEXT_MAX];
	int64_t again;
	if (vim_time_parse(text, t))
		return false;
	vim_time_format(*t, canon, sizeof(canon));
	return !vim_time_parse(canon, &again) && again == *t;
}

static int set_owned(struct dec *d, char **dst, const char *text)
{
	if (model_set_str(dst, text))
		return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
	return 0;
}

static int decode_strmap(struct dec *d, struct model_strmap *m, const json_t *v, const char *path)
{
	if (!json_is_object(v))
		return type_error(d, path, v, "object");
	m->items = calloc(json_object_size(v) + 1, sizeof(*m->items));
	if (!m->items)
		return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)v, key, val)
	{
		char sub[PATH_BUF];
		const char *text;
		path_fmt(sub, "%s[%s]", path, key);
		int rc = want_string(d, sub, val, &text);
		if (rc)
			return rc;
		struct model_kv *kv = &m->items[m->len];
		kv->key = model_strdup(key);
		kv->value = model_strdup(text);
		m->len++; /* counted before the check so model_image_free frees both */
		if (!kv->key || !kv->value)
			return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
	}
	return 0;
}

static int decode_strlist(struct dec *d, struct model_strlist *l, const json_t *v, const char *path)
{
	if (!json_is_array(v))
		return type_error(d, path, v, "array");
	l->items = calloc(json_array_size(v) + 1, sizeof(*l->items));
	if (!l->items)
		return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
	size_t i;
	json_t *val;
	json_array_foreach(v, i, val)
	{
		char sub[PATH_BUF];
		const char *text;
		path_fmt(sub, "%s[%zu]", path, i);
		int rc = want_string(d, sub, val, &text);
		if (rc)
			return rc;
		l->items[l->len] = model_strdup(text);
		if (!l->items[l->len])
			return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
		l->len++;
	}
	return 0;
}

static int decode_obj(struct dec *d, const struct table *t, void *base, const json_t *obj,
                      const char *path, json_t **extra);

static int decode_conds(struct dec *d, struct model_status *st, const json_t *v, const char *path)
{
	if (!json_is_array(v))
		return type_error(d, path, v, "array");
	size_t n = json_array_size(v);
	st->conditions = calloc(n + 1, sizeof(*st->conditions));
	if (!st->conditions)
		return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
	st->n_conditions = n;
	for (size_t i = 0; i < n; i++) {
		char sub[PATH_BUF];
		const json_t *item = json_array_get(v, i);
		struct model_condition *c = &st->conditions[i];
		path_fmt(sub, "%s[%zu]", path, i);
		if (!json_is_object(item))
			return type_error(d, sub, item, "object");
		int rc = decode_obj(d, &cond_t, c, item, sub, NULL);
		if (rc)
			return rc;
		/* metav1.Condition's strings are never absent: handlers may rely on it */
		char **strs[] = {&c->type, &c->status, &c->reason, &c->message};
		for (size_t k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			if (!*strs[k] && set_owned(d, strs[k], ""))
				return VIM_ENOMEM;
	}
	return 0;
}

static int decode_field(struct dec *d, const struct field *f, void *base, const json_t *v,
                        const char *path)
{
	const char *text = NULL;
	int rc = 0;
	if (json_is_null(v) || f->type == FT_IGNORE)
		return 0;
	switch (f->type) {
	case FT_STR:
		rc = want_string(d, path, v, &text);
		if (!rc)
			rc = set_owned(d, AT(base, f->off, char *), text);
		break;
	case FT_INT:
		if (!json_is_integer(v))
			return type_error(d, path, v, "integer");
		*AT(base, f->off, int64_t) = (int64_t)json_integer_value(v);
		break;
	case FT_TIME:
		rc = want_string(d, path, v, &text);
		if (!rc && !time_round_trips(text, AT(base, f->off, int64_t))) {
			char q[128];
			quote(q, sizeof(q), text);
			rc = vim_err_set(d->err, VIM_EINVAL,
			                 "%s: Invalid value: \"%s\": must be an RFC 3339 time",
			                 path, q);
		}
		break;
	case FT_BOOL:
		if (!json_is_boolean(v))
			return type_error(d, path, v, "boolean");
		*AT(base, f->off, bool) = json_is_true(v);
		break;
	case FT_PHASE:
		rc = want_string(d, path, v, &text);
		if (!rc && model_phase_parse(text, AT(base, f->off, enum model_phase))) {
			char q[128];
			quote(q, sizeof(q), text);
			rc = vim_err_set(d->err, VIM_EINVAL, "%s: Unsupported value: \"%s\"", path,
			                 q);
		}
		break;
	case FT_STRMAP:
		rc = decode_strmap(d, AT(base, f->off, struct model_strmap), v, path);
		break;
	case FT_STRLIST:
		rc = decode_strlist(d, AT(base, f->off, struct model_strlist), v, path);
		break;
	case FT_CONDS:
		rc = decode_conds(d, base, v, path);
		break;
	case FT_INLINE:
		if (!json_is_object(v))
			return type_error(d, path, v, "object");
		if (f->flags & FL_PRESENCE)
			*AT(base, f->aux, bool) = true;
		rc = decode_obj(d, f->sub, AT(base, f->off, char), v, path,
		                f->sub->keep_extra ? &AT(base, f->off, struct model_meta)->extra
		                                   : NULL);
		break;
	case FT_PTR: {
		if (!json_is_object(v))
			return type_error(d, path, v, "object");
		void **slot = AT(base, f->off, void *);
		if (!*slot && !(*slot = calloc(1, f->aux)))
			return vim_err_set(d->err, VIM_ENOMEM, "out of memory");
		rc = decode_obj(d, f->sub, *slot, v, path, NULL);
		break;
	}
	case FT_IGNORE:
		break;
	}
	return rc;
}

static const struct field *find_field(const struct table *t, const char *key, enum model_kind k)
{
	for (size_t i = 0; i < t->n; i++)
		if ((t->fields[i].kinds & (1u << k)) && !strcmp(t->fields[i].name, key))
			return &t->fields[i];
	return NULL;
}

static int decode_obj(struct dec *d, const struct table *t, void *base, const json_t *obj,
                      const char *path, json_t **extra)
{
	const char *key;
	json_t *val;
	json_object_foreach((json_t *)obj, key, val)
	{
		char sub[PATH_BUF];
		const struct field *f = find_field(t, key, d->kind);
		int rc = 0;
		join_path(sub, path, key);
		if (f) {
			rc = decode_field(d, f, base, val, sub);
		} else if (extra) {
			json_t *copy = json_deep_copy(val);
			if ((!*extra && !(*extra = json_object())) || !copy ||
			    json_object_set_new(*extra, key, copy))
				rc = vim_err_set(d->err, VIM_ENOMEM, "out of memory");
		} else {
			unknown_add(d->unknown, sub);
		}
		if (rc)
			return rc;
	}
	return 0;
}

/* Resolves apiVersion + kind to the image kind. */
static int decode_kind(struct dec *d, const json_t *obj, enum model_kind *kind)
{
	const json_t *av = json_object_get(obj, "apiVersion");
	const json_t *k = json_object_get(obj, "kind");
	const char *text;
	char q[128];
	if (!av || json_is_null(av))
		return vim_err_set(d->err, VIM_EINVAL, "apiVersion: Required value");
	if (want_string(d, "apiVersion", av, &text))
		return VIM_EINVAL;
	if (strcmp(text, MODEL_API_VERSION)) {
		quote(q, sizeof(q), text);
		return vim_err_set(
		    d->err, VIM_EINVAL,
		    "apiVersion: Unsupported value: \"%s\": supported values: \"%s\"", q,
		    MODEL_API_VERSION);
	}
	if (!k || json_is_null(k))
		return vim_err_set(d->err, VIM_EINVAL, "kind: Required value");
	if (want_string(d, "kind", k, &text))
		return VIM_EINVAL;
	char names[256];
	size_t used = 0;
	names[0] = '\0';
	for (int i = 0; i < MODEL_KIND__COUNT; i++) {
		const char *name = model_kind_info((enum model_kind)i)->name;
		if (!strcmp(text, name)) {
			*kind = (enum model_kind)i;
			return 0;
		}
		if (used < sizeof(names))
			used += (size_t)snprintf(names + used, sizeof(names) - used, "%s\"%s\"",
			                         i ? ", " : "", name);
	}
	quote(q, sizeof(q), text);
	return vim_err_set(d->err, VIM_EINVAL,
	                   "kind: Unsupported value: \"%s\": supported values: %s", q, names);
}

int model_image_from_json(struct model_image **out, const json_t *obj,
                          struct model_unknown *unknown, struct vim_err *err)
{
	struct dec d = {MODEL_KIND_VI, unknown, err};
	struct model_image *img = NULL;
	int rc;
	*out = NULL;
	if (unknown)
		memset(unknown, 0, sizeof(*unknown));
	if (!obj || !json_is_object(obj)) {
		const char *got = obj ? json_type_name(obj) : "null";
		return vim_err_set(err, VIM_EINVAL,
		                   "object: Invalid value: \"%s\": object in body must be of type "
		                   "object: \"%s\"",
		                   got, got);
	}
	rc = decode_kind(&d, obj, &d.kind);
	if (rc)
		goto out;
	img = model_image_new(d.kind);
	if (!img) {
		rc = vim_err_set(err, VIM_ENOMEM, "out of memory");
		goto out;
	}
	rc = decode_obj(&d, &top_t, img, obj, "", NULL);
out:
	if (rc)
		model_image_free(img);
	else
		*out = img;
	return rc;
}

/* ---- encode -------------------------------------------------------------- */

/* json_object_set_new that reports a NULL value (an allocation failure). */
static int put(json_t *o, const char *key, json_t *v)
{
	if (!v)
		return -1;
	return json_object_set_new(o, key, v) ? -1 : 0;
}

static json_t *encode_obj(const struct table *t, const void *base, enum model_kind kind,
                          bool *content);

static json_t *encode_strmap(const struct model_strmap *m)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < m->len; i++) {
		if (put(o, m->items[i].key,
		        json_string(m->items[i].value ? m->items[i].value : ""))) {
			json_decref(o);
			o = NULL;
		}
	}
	return o;
}

static json_t *encode_strlist(const struct model_strlist *l)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < l->len; i++) {
		if (json_array_append_new(a, json_string(l->items[i] ? l->items[i] : ""))) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *encode_conds(const struct model_status *st, enum model_kind kind)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < st->n_conditions; i++) {
		bool content = false;
		if (json_array_append_new(
		        a, encode_obj(&cond_t, &st->conditions[i], kind, &content))) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

/* Adds f's member to out when the emptiness rules say so.  -1 = no memory. */
static int encode_field(json_t *out, const struct field *f, const void *base, enum model_kind kind,
                        bool *content)
{
	bool always = f->flags & FL_ALWAYS;
	switch (f->type) {
	case FT_STR: {
		const char *s = *CAT(base, f->off, char *const);
		bool emit = s && (s[0] || (f->flags & FL_NONNULL));
		if (!emit && !always)
			return 0;
		*content |= emit && (s[0] || !always);
		return put(out, f->name, json_string(s ? s : ""));
	}
	case FT_INT: {
		int64_t v = *CAT(base, f->off, int64_t);
		if (!v)
			return 0;
		*content = true;
		return put(out, f->name, json_integer((json_int_t)v));
	}
	case FT_TIME: {
		int64_t v = *CAT(base, f->off, int64_t);
		char text[VIM_TIME_TEXT_MAX];
		if (!v)
			return always ? put(out, f->name, json_null()) : 0;
		*content = true;
		vim_time_format(v, text, sizeof(text));
		return put(out, f->name, json_string(text));
	}
	case FT_BOOL: {
		bool v = *CAT(base, f->off, bool);
		*content |= v;
		return (v || always) ? put(out, f->name, json_boolean(v)) : 0;
	}
	case FT_PHASE: {
		enum model_phase p = *CAT(base, f->off, enum model_phase);
		if (p == MODEL_PHASE_NONE)
			return 0;
		*content = true;
		return put(out, f->name, json_string(model_phase_name(p)));
	}
	case FT_STRMAP: {
		const struct model_strmap *m = CAT(base, f->off, struct model_strmap);
		if (!m->len)
			return 0;
		*content = true;
		return put(out, f->name, encode_strmap(m));
	}
	case FT_STRLIST: {
		const struct model_strlist *l = CAT(base, f->off, struct model_strlist);
		if (!l->len)
			return 0;
		*content = true;
		return put(out, f->name, encode_strlist(l));
	}
	case FT_CONDS: {
		const struct model_status *st = base;
		if (!st->n_conditions)
			return 0;
		*content = true;
		return put(out, f->name, encode_conds(st, kind));
	}
	case FT_INLINE: {
		bool sub = false;
		json_t *o = encode_obj(f->sub, CAT(base, f->off, char), kind, &sub);
		if (!o)
			return -1;
		if (f->flags & FL_PRESENCE)
			sub |= *CAT(base, f->aux, bool);
		if (!sub && !always) {
			json_decref(o);
			return 0;
		}
		*content |= sub;
		return put(out, f->name, o);
	}
	case FT_PTR: {
		const void *p = *CAT(base, f->off, void *const);
		bool sub = false;
		if (!p)
			return 0;
		*content = true;
		return put(out, f->name, encode_obj(f->sub, p, kind, &sub));
	}
	case FT_IGNORE:
		break;
	}
	return 0;
}

static json_t *encode_obj(const struct table *t, const void *base, enum model_kind kind,
                          bool *content)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->fields[i];
		if (!(f->kinds & (1u << kind)))
			continue;
		if (encode_field(o, f, base, kind, content))
			goto fail;
	}
	if (t->keep_extra) {
		const json_t *extra = ((const struct model_meta *)base)->extra;
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)extra, key, val)
		{
			if (json_object_get(o, key)) /* a known member wins */
				continue;
			if (put(o, key, json_deep_copy(val)))
				goto fail;
			*content = true;
		}
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *model_image_to_json(const struct model_image *img)
{
	bool content = false;
	json_t *o = json_object();
	if (!o || put(o, "apiVersion", json_string(MODEL_API_VERSION)) ||
	    put(o, "kind", json_string(model_kind_info(img->kind)->name)))
		goto fail;
	for (size_t i = 0; i < top_t.n; i++)
		if (encode_field(o, &top_f[i], img, img->kind, &content))
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *model_image_ref_to_json(const struct model_image *img)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s?,s:s?,s:s?}}", "apiVersion", MODEL_API_VERSION,
	                 "kind", model_kind_info(img->kind)->name, "metadata", "name",
	                 img->meta.name ? img->meta.name : "", "namespace", img->meta.namespace,
	                 "uid", img->meta.uid, "resourceVersion", img->meta.resource_version);
}

json_t *model_status_to_json(const struct model_status *st, enum model_kind kind)
{
	bool content = false;
	return encode_obj(&status_t, st, kind, &content);
}

int model_image_clone(struct model_image **out, const struct model_image *src, struct vim_err *err)
{
	int rc;
	json_t *j = model_image_to_json(src);
	*out = NULL;
	if (!j)
		return vim_err_set(err, VIM_ENOMEM, "clone: out of memory");
	rc = model_image_from_json(out, j, NULL, err);
	json_decref(j);
	if (rc)
		vim_err_wrap(err, "clone: ");
	return rc;
}
