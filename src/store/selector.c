/*
 * store/selector — Kubernetes label selectors ("a=b,c!=d,e,!f,g in (x,y),
 * h notin (z),n>3") and field selectors ("metadata.name=x,reason!=y")
 * parsed once (selector_grammar.c, kube's grammar and messages: a bad
 * selector is an error, never one that matches more) and matched against
 * whole objects.
 *
 * Memory: a parsed selector is one allocation sized to its content — the
 * header, the requirements, the value pointers and one copy of the text
 * that every key and value points into.  Both the text and the number of
 * requirements are capped, since every watch keeps its selector.
 */
#include "store/selector_grammar.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Caps: kube bounds a selector only by the URL (Go's http server allows a
 * 1 MiB header block); a watch keeps its selector for hours, so here a
 * selector's text is capped below the API's own URL limit and so is the
 * number of requirements it holds. */
#define STORE_SELECTOR_MAX_LEN 16384

struct sel_req {
	const char *key;           /* into the text copy */
	const char *const *values; /* into the value table */
	uint32_t n_values;
	uint8_t op;  /* enum sel_op */
	bool field;  /* a field selector (dotted path), else a label key */
	int64_t num; /* SEL_GT / SEL_LT */
};

struct store_selector {
	size_t len;
	struct sel_req *reqs;
	/* reqs[len], the value pointers and the text follow in this block */
};

static const char empty[] = "";

/* ---- the one allocation ----------------------------------------------------------- */

static int build(struct store_selector **out, const struct sel_parse *p, const char *joined,
                 size_t joined_len, struct vim_err *err)
{
	size_t head = sizeof(struct store_selector), reqs = p->nreq * sizeof(struct sel_req);
	size_t vals = p->nval * sizeof(const char *), i;
	struct store_selector *sel;
	const char **vp;
	char *text;

	sel = malloc(head + reqs + vals + joined_len + 1);
	if (!sel)
		return vim_err_set(err, VIM_ENOMEM, "selector: out of memory");
	sel->len = p->nreq;
	sel->reqs = (struct sel_req *)(void *)((char *)sel + head);
	vp = (const char **)(void *)((char *)sel + head + reqs);
	text = (char *)sel + head + reqs + vals;
	memcpy(text, joined, joined_len + 1);
	/* Point into the copy, then cut it: every key and value is followed
	 * by an operator, a delimiter, a blank or the end, none of which is
	 * needed any more, so a NUL may take its place. */
	for (i = 0; i < p->nval; i++) {
		const struct sel_span *v = &p->vals[i];
		vp[i] = v->len ? text + v->off : empty;
	}
	for (i = 0; i < p->nreq; i++) {
		const struct sel_tmp_req *t = &p->reqs[i];
		struct sel_req *r = &sel->reqs[i];
		r->key = text + t->key.off;
		r->values = vp + t->first;
		r->n_values = (uint32_t)t->n;
		r->op = (uint8_t)t->op;
		r->field = t->field;
		r->num = t->num;
	}
	for (i = 0; i < p->nreq; i++)
		text[p->reqs[i].key.off + p->reqs[i].key.len] = '\0';
	for (i = 0; i < p->nval; i++) {
		const struct sel_span *v = &p->vals[i];
		size_t n = v->len;
		if (!v->len)
			continue;
		if (v->unescape)
			sel_unescape(NULL, joined + v->off, v->len, text + v->off, &n);
		text[v->off + n] = '\0';
	}
	*out = sel;
	return 0;
}

int store_selector_parse(struct store_selector **out, const char *resource,
                         const char *label_selector, const char *field_selector,
                         struct vim_err *err)
{
	size_t ll = label_selector ? strlen(label_selector) : 0;
	size_t fl = field_selector ? strlen(field_selector) : 0;
	struct sel_parse p = {.err = err};
	char *joined = NULL;
	int rc = 0;

	*out = NULL;
	if (ll > STORE_SELECTOR_MAX_LEN || fl > STORE_SELECTOR_MAX_LEN)
		return vim_err_set(err, VIM_EINVAL, "%s: Too long: must have at most %d bytes",
		                   ll > STORE_SELECTOR_MAX_LEN ? "labelSelector" : "fieldSelector",
		                   STORE_SELECTOR_MAX_LEN);
	if (!(joined = malloc(ll + 1 + fl + 1)))
		return vim_err_set(err, VIM_ENOMEM, "selector: out of memory");
	memcpy(joined, ll ? label_selector : "", ll + 1);
	memcpy(joined + ll + 1, fl ? field_selector : "", fl + 1);
	if (ll) {
		p.src = joined;
		p.what = "labelSelector";
		p.base = 0;
		rc = sel_parse_labels(&p, joined);
	}
	if (rc == 0 && fl) {
		p.src = joined + ll + 1;
		p.what = "fieldSelector";
		p.base = ll + 1;
		rc = sel_parse_fields(&p, resource, joined);
	}
	/* an empty selector (or only blanks and empty field terms) selects
	 * everything, as in kube */
	if (rc == 0 && p.nreq)
		rc = build(out, &p, joined, ll + 1 + fl, err);
	free(p.toks);
	free(p.reqs);
	free(p.vals);
	free(joined);
	return rc;
}

/* ---- matching ----------------------------------------------------------------------- */

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
	int64_t n;

	for (i = 0; sel && i < sel->len; i++) {
		const struct sel_req *r = &sel->reqs[i];
		const char *v = r->field ? path_value(obj, r->key)
		                         : json_string_value(json_object_get(labels, r->key));
		if (r->field && !v)
			v = ""; /* an absent field selects as the empty string */
		switch ((enum sel_op)r->op) {
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
		case SEL_GT:
		case SEL_LT:
			if (!v || !sel_parse_int(v, strlen(v), &n))
				return false;
			if (r->op == SEL_GT ? !(n > r->num) : !(n < r->num))
				return false;
			break;
		}
	}
	return true;
}

void store_selector_free(struct store_selector *sel)
{
	free(sel); /* one block */
}
