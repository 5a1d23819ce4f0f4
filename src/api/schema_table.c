/*
 * api/schema_table — meta.k8s.io/v1 Table responses for `kubectl get`.
 * Each kind's printer columns are a static table (api.md, upstream's CRD
 * additionalPrinterColumns); cells are read from the object's JSON, so the
 * same code serves VI, CVI, events and namespaces.
 */
#include "api/schema.h"
#include "core/timeutil.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* How a cell is computed from the object. */
enum api_schema_cell {
	API_SCHEMA_CELL_VALUE,     /* the JSON at path, null when absent */
	API_SCHEMA_CELL_AGE,       /* human duration since the time at path */
	API_SCHEMA_CELL_LAST_SEEN, /* events: lastTimestamp, else eventTime, else creation */
	API_SCHEMA_CELL_OBJECT,    /* events: "<lower kind>/<name>" of involvedObject */
	API_SCHEMA_CELL_SOURCE,    /* events: "component, host" */
};

struct api_schema_column {
	const char *name;
	const char *type; /* string, boolean, integer, date */
	const char *format;
	const char *description;
	int priority; /* 1 = only with -o wide */
	const char *path;
	enum api_schema_cell cell;
	unsigned kinds; /* the kinds it is printed for (MODEL_KIND_BIT), or TABLE_ALL */
};

/* A column every kind (and every core table) prints. */
#define TABLE_ALL (~0u)
#define TABLE_VI MODEL_KIND_BIT(MODEL_KIND_VI)

#define API_SCHEMA_NAME_COL                                                                        \
	{                                                                                          \
		"Name", "string", "name", "Name must be unique within a namespace.", 0,            \
		    "metadata.name", API_SCHEMA_CELL_VALUE, TABLE_ALL                              \
	}
#define API_SCHEMA_AGE_COL                                                                         \
	{                                                                                          \
		"Age", "date", "", "Time since the object was created.", 0,                        \
		    "metadata.creationTimestamp", API_SCHEMA_CELL_AGE, TABLE_ALL                   \
	}

static const struct api_schema_column api_schema_image_cols[] = {
    API_SCHEMA_NAME_COL,
    {"Phase", "string", "", "The current phase of the image.", 0, "status.phase",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"CDROM", "boolean", "", "Whether the image is a CD-ROM (iso).", 0, "status.cdrom",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"Progress", "string", "", "Import progress.", 0, "status.progress", API_SCHEMA_CELL_VALUE,
     TABLE_ALL},
    {"StoredSize", "string", "", "Size of the image as stored in DVCR.", 1, "status.size.stored",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"UnpackedSize", "string", "", "Virtual size of the disk.", 1, "status.size.unpacked",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"Registry URL", "string", "", "The image in DVCR.", 1, "status.target.registryURL",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"TargetPVC", "string", "", "The PVC holding the image.", 1,
     "status.target.persistentVolumeClaimName", API_SCHEMA_CELL_VALUE, TABLE_VI},
    API_SCHEMA_AGE_COL,
};

/* The columns of the API server's core printer for events. */
static const struct api_schema_column api_schema_event_cols[] = {
    {"Last Seen", "string", "", "Time since the event was last seen.", 0, "",
     API_SCHEMA_CELL_LAST_SEEN, TABLE_ALL},
    {"Type", "string", "", "Normal or Warning.", 0, "type", API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"Reason", "string", "", "Why the event was generated.", 0, "reason", API_SCHEMA_CELL_VALUE,
     TABLE_ALL},
    {"Object", "string", "", "The object the event is about.", 0, "", API_SCHEMA_CELL_OBJECT,
     TABLE_ALL},
    {"Subobject", "string", "", "The part of the object, if any.", 1, "involvedObject.fieldPath",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"Source", "string", "", "The component reporting the event.", 1, "", API_SCHEMA_CELL_SOURCE,
     TABLE_ALL},
    {"Message", "string", "", "A human-readable description.", 0, "message", API_SCHEMA_CELL_VALUE,
     TABLE_ALL},
    {"First Seen", "string", "", "Time since the event was first seen.", 1, "firstTimestamp",
     API_SCHEMA_CELL_AGE, TABLE_ALL},
    {"Count", "integer", "", "How many times the event occurred.", 1, "count",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    {"Name", "string", "name", "Name of the event.", 1, "metadata.name", API_SCHEMA_CELL_VALUE,
     TABLE_ALL},
};

static const struct api_schema_column api_schema_ns_cols[] = {
    API_SCHEMA_NAME_COL,
    {"Status", "string", "", "The phase of the namespace.", 0, "status.phase",
     API_SCHEMA_CELL_VALUE, TABLE_ALL},
    API_SCHEMA_AGE_COL,
};

#define API_SCHEMA_N(a) (sizeof(a) / sizeof((a)[0]))

/* The value at a dotted path, borrowed; NULL when any step is absent. */
static json_t *api_schema_at(const json_t *obj, const char *path)
{
	char seg[64];
	json_t *cur = (json_t *)obj;

	while (cur && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		if (len >= sizeof(seg))
			return NULL;
		memcpy(seg, path, len);
		seg[len] = '\0';
		cur = json_object_get(cur, seg);
		path += len + (dot ? 1 : 0);
	}
	return cur;
}

/* kubectl's duration.HumanDuration: coarser the older it gets. */
static void api_schema_human_duration(int64_t s, char *out, size_t outlen)
{
	int64_t m = s / 60, h = s / 3600;

	if (s < -1)
		snprintf(out, outlen, "<invalid>");
	else if (s < 0)
		snprintf(out, outlen, "0s");
	else if (s < 120)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (m < 10)
		snprintf(out, outlen, s % 60 ? "%lldm%llds" : "%lldm", (long long)m,
		         (long long)(s % 60));
	else if (m < 180)
		snprintf(out, outlen, "%lldm", (long long)m);
	else if (h < 8)
		snprintf(out, outlen, m % 60 ? "%lldh%lldm" : "%lldh", (long long)h,
		         (long long)(m % 60));
	else if (h < 48)
		snprintf(out, outlen, "%lldh", (long long)h);
	else if (h < 24 * 8)
		snprintf(out, outlen, h % 24 ? "%lldd%lldh" : "%lldd", (long long)(h / 24),
		         (long long)(h % 24));
	else if (h < 24 * 365 * 2)
		snprintf(out, outlen, "%lldd", (long long)(h / 24));
	else if (h < 24 * 365 * 8)
		snprintf(out, outlen, (h / 24) % 365 ? "%lldy%lldd" : "%lldy",
		         (long long)(h / 24 / 365), (long long)((h / 24) % 365));
	else
		snprintf(out, outlen, "%lldy", (long long)(h / 24 / 365));
}

/* Age cell of an RFC 3339 time; "<unknown>" for none, as kubectl prints. */
static json_t *api_schema_age(const json_t *t)
{
	char buf[32];
	int64_t when;

	if (!json_is_string(t) || vim_time_parse(json_string_value(t), &when) != 0 || when == 0)
		return json_string("<unknown>");
	api_schema_human_duration(vim_time_now() - when, buf, sizeof(buf));
	return json_string(buf);
}

static json_t *api_schema_cell(const struct api_schema_column *c, const json_t *obj)
{
	switch (c->cell) {
	case API_SCHEMA_CELL_AGE:
		return api_schema_age(api_schema_at(obj, c->path));
	case API_SCHEMA_CELL_LAST_SEEN: {
		static const char *const order[] = {"lastTimestamp", "eventTime",
		                                    "metadata.creationTimestamp"};
		for (size_t i = 0; i < API_SCHEMA_N(order); i++) {
			json_t *t = api_schema_at(obj, order[i]);
			if (json_is_string(t) && *json_string_value(t))
				return api_schema_age(t);
		}
		return json_string("<unknown>");
	}
	case API_SCHEMA_CELL_OBJECT: {
		char buf[320];
		const char *kind = json_string_value(api_schema_at(obj, "involvedObject.kind"));
		const char *name = json_string_value(api_schema_at(obj, "involvedObject.name"));
		size_t n = 0;
		for (; kind && kind[n] && n < 64; n++)
			buf[n] = (char)tolower((unsigned char)kind[n]);
		snprintf(buf + n, sizeof(buf) - n, "/%s", name ? name : "");
		return json_string(buf);
	}
	case API_SCHEMA_CELL_SOURCE: {
		char buf[320];
		const char *comp = json_string_value(api_schema_at(obj, "source.component"));
		const char *host = json_string_value(api_schema_at(obj, "source.host"));
		if (!comp || !*comp)
			comp = json_string_value(api_schema_at(obj, "reportingComponent"));
		if (host && *host)
			snprintf(buf, sizeof(buf), "%s, %s", comp ? comp : "", host);
		else
			snprintf(buf, sizeof(buf), "%s", comp ? comp : "");
		return json_string(buf);
	}
	case API_SCHEMA_CELL_VALUE:
	default: {
		/* null lets kubectl print <none>, as for a CRD column whose
		 * JSONPath finds nothing. */
		json_t *v = api_schema_at(obj, c->path);
		return v ? json_incref(v) : json_null();
	}
	}
}

static json_t *api_schema_row_object(const json_t *obj, const char *include_object)
{
	if (include_object && !strcmp(include_object, "None"))
		return NULL;
	if (include_object && !strcmp(include_object, "Object"))
		return json_deep_copy(obj);
	/* Metadata (the default): what kubectl needs for names and -w. */
	json_t *meta = json_object_get(obj, "metadata");
	return json_pack("{s:s, s:s, s:O}", "apiVersion", "meta.k8s.io/v1", "kind",
	                 "PartialObjectMetadata", "metadata", meta ? meta : json_object());
}

static json_t *api_schema_build(const struct api_schema_column *cols, size_t ncols, unsigned kinds,
                                const json_t *items, const char *include_object,
                                const char *list_rv, const char *continue_token)
{
	json_t *defs = json_array();
	json_t *rows = json_array();
	json_t *meta = json_object();
	size_t i;
	json_t *obj;

	for (i = 0; i < ncols; i++) {
		const struct api_schema_column *c = &cols[i];
		if (!(c->kinds & kinds))
			continue;
		json_array_append_new(defs,
		                      json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name,
		                                "type", c->type, "format", c->format, "description",
		                                c->description, "priority", c->priority));
	}
	json_array_foreach(items, i, obj)
	{
		json_t *cells = json_array();
		for (size_t k = 0; k < ncols; k++)
			if (cols[k].kinds & kinds)
				json_array_append_new(cells, api_schema_cell(&cols[k], obj));
		json_t *row = json_pack("{s:o}", "cells", cells);
		json_t *ro = api_schema_row_object(obj, include_object);
		if (ro)
			json_object_set_new(row, "object", ro);
		json_array_append_new(rows, row);
	}
	if (list_rv && *list_rv)
		json_object_set_new(meta, "resourceVersion", json_string(list_rv));
	if (continue_token && *continue_token)
		json_object_set_new(meta, "continue", json_string(continue_token));
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "Table", "apiVersion",
	                 "meta.k8s.io/v1", "metadata", meta, "columnDefinitions", defs, "rows",
	                 rows);
}

json_t *api_schema_table(const struct model_kind_info *kind, const json_t *items,
                         const char *include_object, const char *list_rv,
                         const char *continue_token)
{
	/* NULL is taken as the first kind, as it always was */
	unsigned mask = MODEL_KIND_BIT(kind ? kind->kind : 0);
	return api_schema_build(api_schema_image_cols, API_SCHEMA_N(api_schema_image_cols), mask,
	                        items, include_object, list_rv, continue_token);
}

json_t *api_schema_table_events(const json_t *items, const char *include_object,
                                const char *list_rv, const char *continue_token)
{
	return api_schema_build(api_schema_event_cols, API_SCHEMA_N(api_schema_event_cols),
	                        TABLE_ALL, items, include_object, list_rv, continue_token);
}

json_t *api_schema_table_namespaces(const json_t *items, const char *include_object,
                                    const char *list_rv)
{
	return api_schema_build(api_schema_ns_cols, API_SCHEMA_N(api_schema_ns_cols), TABLE_ALL,
	                        items, include_object, list_rv, NULL);
}
