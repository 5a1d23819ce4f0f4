/*
 * store/selector — Kubernetes label selectors ("a=b,c!=d,e,!f,g in (x,y),
 * h notin (z)") and field selectors ("metadata.name=x,involvedObject.uid!=y")
 * parsed once and matched against whole objects.
 */
#include "store/internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define SEL_VALUES_MAX 16

enum sel_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOT_EXISTS };

struct sel_req {
	bool field; /* a field selector (dotted path) or a label key */
	char key[256];
	enum sel_op op;
	char values[SEL_VALUES_MAX][64];
	size_t n_values;
};

struct store_selector {
	struct sel_req *reqs;
	size_t len;
};

/* Field keys each resource supports (Kubernetes answers anything else
 * with "field label not supported"). */
static const char *const common_fields[] = {"metadata.name", "metadata.namespace", NULL};
static const char *const event_fields[] = {"metadata.name",
                                           "metadata.namespace",
                                           "involvedObject.kind",
                                           "involvedObject.name",
                                           "involvedObject.namespace",
                                           "involvedObject.uid",
                                           "involvedObject.apiVersion",
                                           "involvedObject.resourceVersion",
                                           "involvedObject.fieldPath",
                                           "reason",
                                           "type",
                                           "source",
                                           "reportingComponent",
                                           NULL};
static const char *const image_fields[] = {"metadata.name", "metadata.namespace", "status.phase",
                                           NULL};

static const char *const *fields_of(const char *resource)
{
	if (strcmp(resource, "events") == 0)
		return event_fields;
	if (strcmp(resource, "virtualimages") == 0 || strcmp(resource, "clustervirtualimages") == 0)
		return image_fields;
	return common_fields;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int add_req(struct store_selector *sel, struct sel_req **out, struct vim_err *err)
{
	struct sel_req *r = realloc(sel->reqs, (sel->len + 1) * sizeof(*r));

	if (!r)
		return vim_err_set(err, VIM_ENOMEM, "selector: out of memory");
	sel->reqs = r;
	*out = memset(&r[sel->len++], 0, sizeof(*r));
	return 0;
}

static int copy_bounded(char *dst, size_t cap, const char *src, const char *what,
                        struct vim_err *err)
{
	if (strlen(src) >= cap)
		return vim_err_set(err, VIM_EINVAL, "selector: %s too long: %.40s...", what, src);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* Splits on commas outside parentheses. */
static char *next_term(char **p)
{
	char *s = *p, *q;
	int depth = 0;

	if (!s || !*s)
		return NULL;
	for (q = s; *q; q++) {
		if (*q == '(')
			depth++;
		else if (*q == ')')
			depth--;
		else if (*q == ',' && depth == 0)
			break;
	}
	if (*q) {
		*q = '\0';
		*p = q + 1;
	} else {
		*p = q;
	}
	return s;
}

static int parse_set(struct sel_req *r, char *list, const char *term, struct vim_err *err)
{
	char *p = trim(list), *v;
	size_t n = strlen(p);

	if (n < 2 || p[0] != '(' || p[n - 1] != ')')
		return vim_err_set(err, VIM_EINVAL,
		                   "unable to parse requirement: %s: expected a (value,...) set",
		                   term);
	p[n - 1] = '\0';
	p++;
	while ((v = strsep(&p, ","))) {
		v = trim(v);
		if (r->n_values >= SEL_VALUES_MAX)
			return vim_err_set(err, VIM_EINVAL, "selector: too many values in %s",
			                   term);
		if (copy_bounded(r->values[r->n_values++], sizeof(r->values[0]), v, "value", err) <
		    0)
			return VIM_EINVAL;
	}
	return 0;
}

static int parse_label_term(struct store_selector *sel, char *term, struct vim_err *err)
{
	struct sel_req *r;
	char *t = trim(term), *op, *sp;
	char original[512];
	int rc;

	snprintf(original, sizeof(original), "%s", t);
	if (!*t)
		return 0;
	if ((rc = add_req(sel, &r, err)) < 0)
		return rc;
	if ((sp = strstr(t, " notin ")) || (sp = strstr(t, " in "))) {
		bool notin = strncmp(sp, " notin ", 7) == 0;
		*sp = '\0';
		r->op = notin ? SEL_NOTIN : SEL_IN;
		if (copy_bounded(r->key, sizeof(r->key), trim(t), "key", err) < 0)
			return VIM_EINVAL;
		return parse_set(r, sp + (notin ? 7 : 4), original, err);
	}
	if ((op = strstr(t, "!="))) {
		r->op = SEL_NE;
		*op = '\0';
		op += 2;
	} else if ((op = strstr(t, "=="))) {
		r->op = SEL_EQ;
		*op = '\0';
		op += 2;
	} else if ((op = strchr(t, '='))) {
		r->op = SEL_EQ;
		*op++ = '\0';
	} else if (t[0] == '!') {
		r->op = SEL_NOT_EXISTS;
		return copy_bounded(r->key, sizeof(r->key), trim(t + 1), "key", err);
	} else {
		r->op = SEL_EXISTS;
		return copy_bounded(r->key, sizeof(r->key), t, "key", err);
	}
	if (!*trim(t))
		return vim_err_set(err, VIM_EINVAL, "unable to parse requirement: %s: no key",
		                   original);
	if (copy_bounded(r->key, sizeof(r->key), trim(t), "key", err) < 0 ||
	    copy_bounded(r->values[0], sizeof(r->values[0]), trim(op), "value", err) < 0)
		return VIM_EINVAL;
	r->n_values = 1;
	return 0;
}

static int parse_field_term(struct store_selector *sel, const char *resource, char *term,
                            struct vim_err *err)
{
	const char *const *allowed = fields_of(resource);
	struct sel_req *r;
	char *t = trim(term), *op;
	size_t i;
	int rc;

	if (!*t)
		return 0;
	if ((rc = add_req(sel, &r, err)) < 0)
		return rc;
	r->field = true;
	if ((op = strstr(t, "!="))) {
		r->op = SEL_NE;
		*op = '\0';
		op += 2;
	} else if ((op = strstr(t, "=="))) {
		r->op = SEL_EQ;
		*op = '\0';
		op += 2;
	} else if ((op = strchr(t, '='))) {
		r->op = SEL_EQ;
		*op++ = '\0';
	} else {
		return vim_err_set(err, VIM_EINVAL,
		                   "invalid field selector: %s: expected key=value", t);
	}
	t = trim(t);
	for (i = 0; allowed[i]; i++)
		if (strcmp(allowed[i], t) == 0)
			break;
	if (!allowed[i])
		return vim_err_set(err, VIM_EINVAL, "field label not supported: %s", t);
	if (copy_bounded(r->key, sizeof(r->key), t, "key", err) < 0 ||
	    copy_bounded(r->values[0], sizeof(r->values[0]), trim(op), "value", err) < 0)
		return VIM_EINVAL;
	r->n_values = 1;
	return 0;
}

int store_selector_parse(struct store_selector **out, const char *resource,
                         const char *label_selector, const char *field_selector,
                         struct vim_err *err)
{
	struct store_selector *sel;
	char *buf = NULL, *p, *term;
	int rc = 0;

	*out = NULL;
	if ((!label_selector || !*label_selector) && (!field_selector || !*field_selector))
		return 0;
	if (!(sel = calloc(1, sizeof(*sel))))
		return vim_err_set(err, VIM_ENOMEM, "selector: out of memory");
	if (label_selector && *label_selector) {
		p = buf = strdup(label_selector);
		while (rc == 0 && p && (term = next_term(&p)))
			rc = parse_label_term(sel, term, err);
		free(buf);
	}
	if (rc == 0 && field_selector && *field_selector) {
		p = buf = strdup(field_selector);
		while (rc == 0 && p && (term = next_term(&p)))
			rc = parse_field_term(sel, resource, term, err);
		free(buf);
	}
	if (rc < 0) {
		store_selector_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}

/* The value of a dotted path ("involvedObject.uid"), or NULL.  Non-string
 * scalars are not selectable (Kubernetes selects on strings). */
static const char *path_value(const json_t *obj, const char *path)
{
	char part[256];
	const char *p = path, *dot;
	const json_t *v = obj;

	while (v && (dot = strchr(p, '.'))) {
		size_t n = (size_t)(dot - p);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = '\0';
		v = json_object_get(v, part);
		p = dot + 1;
	}
	v = json_object_get(v, p);
	if (json_is_object(v) && strcmp(path, "source") == 0)
		v = json_object_get(v, "component");
	return json_string_value(v);
}

static bool in_values(const struct sel_req *r, const char *v)
{
	size_t i;

	for (i = 0; v && i < r->n_values; i++)
		if (strcmp(r->values[i], v) == 0)
			return true;
	return false;
}

bool store_selector_match(const struct store_selector *sel, const json_t *obj)
{
	const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
	size_t i;

	for (i = 0; sel && i < sel->len; i++) {
		const struct sel_req *r = &sel->reqs[i];
		const char *v = r->field ? path_value(obj, r->key)
		                         : json_string_value(json_object_get(labels, r->key));
		if (r->field && !v)
			v = ""; /* an absent field selects as the empty string */
		switch (r->op) {
		case SEL_EQ:
		case SEL_IN:
			if (!in_values(r, v))
				return false;
			break;
		case SEL_NE:
		case SEL_NOTIN:
			if (in_values(r, v))
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		case SEL_NOT_EXISTS:
			if (v)
				return false;
			break;
		}
	}
	return true;
}

void store_selector_free(struct store_selector *sel)
{
	if (!sel)
		return;
	free(sel->reqs);
	free(sel);
}
