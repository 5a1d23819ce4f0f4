/*
 * model/yaml — one YAML manifest to JSON, typed as kubectl types it
 * (sigs.k8s.io/yaml on go-yaml v2, i.e. YAML 1.1 resolution of plain
 * scalars), with the limits a server facing the network needs.
 *
 * Choices where JSON cannot say what YAML can:
 *  - a plain integer outside int64 becomes a JSON real (what the apiserver
 *    makes of such a number anyway); one that is not even a valid float
 *    stays a string, as go-yaml does;
 *  - .inf / .nan are refused: JSON has no such numbers (kubectl fails too);
 *  - map keys are strings; a plain key that resolves to a bool or integer
 *    becomes its canonical text ("true", "10"), a null key is refused.
 * The tree is built while libyaml streams events, so the size, depth and
 * alias limits bound the work before anything large is allocated.
 */
#include "model/model.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YAML_MAX_INPUT (4u << 20)
#define YAML_MAX_DEPTH 64
#define TAG_PREFIX "tag:yaml.org,2002:"

enum rkind { R_STR, R_NULL, R_BOOL, R_INT, R_FLOAT, R_NONFINITE };

struct resolved {
	enum rkind kind;
	bool b;
	int64_t i;
	double f;
};

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* Go's strconv.ParseInt/ParseUint(s, 0, 64) on text without underscores:
 * optional sign, 0x/0o/0b prefix or a leading 0 for octal.  Returns false on
 * a syntax error; *overflow when the magnitude exceeds uint64. */
static bool parse_go_int(const char *s, bool *neg, bool *sign, uint64_t *mag, bool *overflow)
{
	unsigned base = 10;
	*neg = *s == '-';
	*sign = *s == '-' || *s == '+';
	*overflow = false;
	*mag = 0;
	if (*sign)
		s++;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
		base = 8;
		s += 2;
	} else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
		base = 2;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		base = 8;
		s++;
	}
	if (!*s)
		return false;
	for (; *s; s++) {
		unsigned dv;
		if (isdigit((unsigned char)*s))
			dv = (unsigned)(*s - '0');
		else if (isxdigit((unsigned char)*s))
			dv = (unsigned)(tolower((unsigned char)*s) - 'a' + 10);
		else
			return false;
		if (dv >= base)
			return false;
		if (*mag > (UINT64_MAX - dv) / base)
			*overflow = true;
		else
			*mag = *mag * base + dv;
	}
	return true;
}

/* go-yaml's yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ */
static bool float_syntax(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	} else {
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
		if (*s == '.')
			for (s++; isdigit((unsigned char)*s);)
				s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (!isdigit((unsigned char)*s))
			return false;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

static bool finite_float(const char *s, double *out)
{
	*out = strtod(s, NULL);
	return isfinite(*out);
}

/* YAML 1.1 resolution of a plain scalar, as go-yaml v2's resolve(). */
static void resolve_plain(const char *s, size_t len, struct resolved *r)
{
	static const char *const yes[] = {"y",    "Y",    "yes", "Yes", "YES", "true",
	                                  "True", "TRUE", "on",  "On",  "ON",  NULL};
	static const char *const no[] = {"n",     "N",     "no",  "No",  "NO",  "false",
	                                 "False", "FALSE", "off", "Off", "OFF", NULL};
	static const char *const nul[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const special[] = {".nan",  ".NaN",  ".NAN",  ".inf",  ".Inf",
	                                      ".INF",  "+.inf", "+.Inf", "+.INF", "-.inf",
	                                      "-.Inf", "-.INF", NULL};
	char plain[128];
	size_t n = 0;
	bool neg, sign, overflow;
	uint64_t mag;
	memset(r, 0, sizeof(*r));
	if (strlen(s) != len)
		return; /* a NUL byte: only a string can hold it */
	if (in_list(s, nul)) {
		r->kind = R_NULL;
	} else if (in_list(s, yes) || in_list(s, no)) {
		r->kind = R_BOOL;
		r->b = in_list(s, yes);
	} else if (in_list(s, special)) {
		r->kind = R_NONFINITE;
	} else if (s[0] == '.') {
		if (float_syntax(s) && finite_float(s, &r->f))
			r->kind = R_FLOAT;
	} else if (strchr("+-0123456789", s[0]) && len < sizeof(plain)) {
		for (const char *p = s; *p; p++)
			if (*p != '_')
				plain[n++] = *p;
		plain[n] = '\0';
		if (parse_go_int(plain, &neg, &sign, &mag, &overflow) && !overflow &&
		    mag <= (uint64_t)INT64_MAX + neg) {
			r->kind = R_INT;
			r->i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
		} else if (parse_go_int(plain, &neg, &sign, &mag, &overflow) && !overflow &&
		           !sign) {
			r->kind = R_FLOAT; /* go-yaml's uint64; JSON readers see a float */
			r->f = (double)mag;
		} else if (float_syntax(plain) && finite_float(plain, &r->f)) {
			r->kind = R_FLOAT;
		}
	}
}

struct frame {
	json_t *node; /* borrowed: owned by its parent or by the root */
	char *key;    /* pending mapping key, owned */
};

struct builder {
	struct frame stack[YAML_MAX_DEPTH];
	int depth;
	json_t *root;
	struct vim_err *err;
};

static int fail_at(struct vim_err *err, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail_at(struct vim_err *err, yaml_mark_t m, const char *fmt, ...)
{
	char what[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return vim_err_set(err, VIM_EINVAL, "YAML line %zu:%zu: %s", m.line + 1, m.column + 1,
	                   what);
}

static const char *short_tag(const char *tag)
{
	static const char prefix[] = TAG_PREFIX;
	return strncmp(tag, prefix, sizeof(prefix) - 1) ? tag : tag + sizeof(prefix) - 1;
}

static json_t *resolved_json(const struct resolved *r, const char *text, size_t len)
{
	switch (r->kind) {
	case R_NULL:
		return json_null();
	case R_BOOL:
		return json_boolean(r->b);
	case R_INT:
		return json_integer((json_int_t)r->i);
	case R_FLOAT:
		return json_real(r->f);
	default:
		return json_stringn(text, len);
	}
}

/* A scalar event to JSON, honouring explicit core-schema tags. */
static int scalar_value(const yaml_event_t *ev, json_t **out, struct vim_err *err)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	struct resolved r = {R_STR, false, 0, 0};
	char shown[64];
	*out = NULL;
	snprintf(shown, sizeof(shown), "%.*s", len > 40 ? 40 : (int)len, text);
	if (tag && strcmp(tag, "!") && strcmp(tag, TAG_PREFIX "str")) {
		const char *want = short_tag(tag);
		resolve_plain(text, len, &r);
		if (strcmp(want, "int") && strcmp(want, "float") && strcmp(want, "bool") &&
		    strcmp(want, "null"))
			return fail_at(err, ev->start_mark, "unsupported tag %s", tag);
		if (!strcmp(want, "float") && r.kind == R_INT) {
			r.kind = R_FLOAT;
			r.f = (double)r.i;
		}
		bool ok =
		    (!strcmp(want, "int") && r.kind == R_INT) ||
		    (!strcmp(want, "float") && (r.kind == R_FLOAT || r.kind == R_NONFINITE)) ||
		    (!strcmp(want, "bool") && r.kind == R_BOOL) ||
		    (!strcmp(want, "null") && r.kind == R_NULL);
		if (!ok)
			return fail_at(err, ev->start_mark, "cannot decode \"%s\" as !!%s", shown,
			               want);
	} else if (!tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		resolve_plain(text, len, &r);
	}
	if (r.kind == R_NONFINITE)
		return fail_at(err, ev->start_mark, "%s cannot be represented in JSON", shown);
	*out = resolved_json(&r, text, len);
	return *out ? 0 : vim_err_set(err, VIM_ENOMEM, "YAML: out of memory");
}

/* The text of a mapping key, canonical as sigs.k8s.io/yaml makes it. */
static int key_text(const yaml_event_t *ev, char **out, struct vim_err *err)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	struct resolved r = {R_STR, false, 0, 0};
	char buf[32];
	*out = NULL;
	if (strlen(text) != len)
		return fail_at(err, ev->start_mark, "%s", "a key must not contain a NUL character");
	if (!ev->data.scalar.tag && ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
		resolve_plain(text, len, &r);
	if (r.kind == R_NULL)
		return fail_at(err, ev->start_mark, "%s", "a null mapping key is not supported");
	if (r.kind == R_BOOL) {
		text = r.b ? "true" : "false";
	} else if (r.kind == R_INT) {
		snprintf(buf, sizeof(buf), "%" PRId64, r.i);
		text = buf;
	}
	*out = model_strdup(text);
	return *out ? 0 : vim_err_set(err, VIM_ENOMEM, "YAML: out of memory");
}

/* Attaches value (stolen) where the parser is: root, array item or the
 * pending key of a mapping. */
static int attach(struct builder *b, json_t *value)
{
	int rc = 0;
	if (b->depth == 0) {
		b->root = value;
		return 0;
	}
	struct frame *top = &b->stack[b->depth - 1];
	if (json_is_array(top->node)) {
		rc = json_array_append_new(top->node, value);
	} else {
		rc = json_object_set_new(top->node, top->key, value);
		free(top->key);
		top->key = NULL;
	}
	return rc ? vim_err_set(b->err, VIM_ENOMEM, "YAML: out of memory") : 0;
}

static bool expecting_key(const struct builder *b)
{
	return b->depth > 0 && json_is_object(b->stack[b->depth - 1].node) &&
	       !b->stack[b->depth - 1].key;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev)
{
	json_t *value;
	int rc;
	if (expecting_key(b)) {
		struct frame *top = &b->stack[b->depth - 1];
		rc = key_text(ev, &top->key, b->err);
		if (!rc && json_object_get(top->node, top->key))
			rc = fail_at(b->err, ev->start_mark, "duplicate key \"%s\"", top->key);
		return rc;
	}
	rc = scalar_value(ev, &value, b->err);
	return rc ? rc : attach(b, value);
}

static int on_start(struct builder *b, const yaml_event_t *ev, bool mapping)
{
	const char *tag =
	    (const char *)(mapping ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
	const char *want = mapping ? TAG_PREFIX "map" : TAG_PREFIX "seq";
	if (expecting_key(b))
		return fail_at(b->err, ev->start_mark, "%s", "a mapping key must be a scalar");
	if (tag && strcmp(tag, "!") && strcmp(tag, want))
		return fail_at(b->err, ev->start_mark, "unsupported tag %s", tag);
	if (b->depth >= YAML_MAX_DEPTH)
		return fail_at(b->err, ev->start_mark, "nesting deeper than %d levels",
		               YAML_MAX_DEPTH);
	json_t *node = mapping ? json_object() : json_array();
	if (!node)
		return vim_err_set(b->err, VIM_ENOMEM, "YAML: out of memory");
	int rc = attach(b, node);
	if (rc)
		return rc;
	b->stack[b->depth].node = node;
	b->stack[b->depth].key = NULL;
	b->depth++;
	return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev, int *docs)
{
	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return fail_at(b->err, ev->start_mark, "%s",
			               "more than one document; send one manifest per request");
		return 0;
	case YAML_ALIAS_EVENT:
		return fail_at(b->err, ev->start_mark, "%s", "aliases are not supported");
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.anchor)
			return fail_at(b->err, ev->start_mark, "%s", "anchors are not supported");
		return on_scalar(b, ev);
	case YAML_SEQUENCE_START_EVENT:
		if (ev->data.sequence_start.anchor)
			return fail_at(b->err, ev->start_mark, "%s", "anchors are not supported");
		return on_start(b, ev, false);
	case YAML_MAPPING_START_EVENT:
		if (ev->data.mapping_start.anchor)
			return fail_at(b->err, ev->start_mark, "%s", "anchors are not supported");
		return on_start(b, ev, true);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		b->depth--;
		return 0;
	default:
		return 0;
	}
}

int model_yaml_to_json(json_t **out, const char *buf, size_t len, struct vim_err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct builder b = {.depth = 0, .root = NULL, .err = err};
	int rc = 0, docs = 0;
	bool done = false;
	*out = NULL;
	if (len > YAML_MAX_INPUT)
		return vim_err_set(err, VIM_EINVAL,
		                   "YAML input is %zu bytes; the limit is %u (4 MiB)", len,
		                   YAML_MAX_INPUT);
	if (!yaml_parser_initialize(&parser))
		return vim_err_set(err, VIM_ENOMEM, "YAML: out of memory");
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	while (!rc && !done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			if (parser.error == YAML_MEMORY_ERROR)
				rc = vim_err_set(err, VIM_ENOMEM, "YAML: out of memory");
			else
				rc = vim_err_set(err, VIM_EINVAL, "YAML line %zu:%zu: %s%s%s",
				                 parser.problem_mark.line + 1,
				                 parser.problem_mark.column + 1,
				                 parser.problem ? parser.problem : "syntax error",
				                 parser.context ? " " : "",
				                 parser.context ? parser.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev, &docs);
		yaml_event_delete(&ev);
	}
	if (!rc && !b.root)
		rc = vim_err_set(err, VIM_EINVAL, "YAML input holds no document");
	for (int i = 0; i < YAML_MAX_DEPTH; i++)
		free(b.stack[i].key);
	if (rc)
		json_decref(b.root);
	else
		*out = b.root;
	yaml_parser_delete(&parser);
	return rc;
}

int model_image_from_yaml(struct model_image **out, const char *buf, size_t len,
                          struct model_unknown *unknown, struct vim_err *err)
{
	json_t *j = NULL;
	*out = NULL;
	int rc = model_yaml_to_json(&j, buf, len, err);
	if (!rc)
		rc = model_image_from_json(out, j, unknown, err);
	json_decref(j);
	return rc;
}
