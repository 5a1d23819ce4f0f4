/*
 * store/selector_grammar — labels.Parse: a lexer over the bytes (operators
 * = == != ! ( ) , > <, keywords in/notin, identifiers up to the next
 * operator or blank) and a recursive-descent parser; keys must be
 * qualified names and values label values, and anything else is an error
 * with kube's wording.  fields.ParseSelector: terms split on unescaped ',',
 * the first "!=", "==" or "=" splits a term, values unescape \\ \, \=, and
 * the field must be one the resource knows.
 */
#include "store/selector_grammar.h"

#include "core/k8sname.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field keys each resource supports. */
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
static const char *const common_fields[] = {"metadata.name", "metadata.namespace", NULL};
/* kube's namespace field selectors (`kubectl get ns --field-selector status.phase=...`) */
static const char *const namespace_fields[] = {"metadata.name", "status.phase", NULL};

static bool is_event(const char *resource)
{
	return strcmp(resource, "events") == 0;
}

static const char *const *fields_of(const char *resource)
{
	if (is_event(resource))
		return event_fields;
	const struct model_kind_info *k = store_kind_of(resource);

	if (k)
		return k->field_selectors;
	if (strcmp(resource, "namespaces") == 0)
		return namespace_fields;
	return common_fields;
}

/* ---- the parse, into temporaries ------------------------------------------------ */

enum tok {
	T_ERR,
	T_END,
	T_CLOSE,
	T_COMMA,
	T_NOT,
	T_DEQ,
	T_EQ,
	T_GT,
	T_ID,
	T_IN,
	T_LT,
	T_NE,
	T_NOTIN,
	T_OPEN
};

struct sel_token {
	enum tok t;
	uint32_t off, len; /* the literal, in the source text */
};

static bool special(char c)
{
	return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '>' || c == '<';
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum tok single(char c)
{
	switch (c) {
	case '=':
		return T_EQ;
	case '!':
		return T_NOT;
	case '(':
		return T_OPEN;
	case ')':
		return T_CLOSE;
	case ',':
		return T_COMMA;
	case '>':
		return T_GT;
	default:
		return T_LT;
	}
}

/* Tokenises the whole selector first, as labels.Parser.scan does. */
static int lex(struct sel_parse *p, size_t n)
{
	const char *s = p->src;
	size_t i = 0, start;

	/* every token takes at least one byte, plus the end */
	if (!(p->toks = malloc((n + 1) * sizeof(*p->toks))))
		return vim_err_set(p->err, VIM_ENOMEM, "selector: out of memory");
	for (;;) {
		struct sel_token *t = &p->toks[p->ntok++];
		while (i < n && blank(s[i]))
			i++;
		start = i;
		t->off = (uint32_t)i;
		if (i == n) {
			t->t = T_END, t->len = 0;
			return 0;
		}
		if (special(s[i])) {
			t->t = single(s[i++]);
			if (i < n && s[i] == '=' && (t->t == T_NOT || t->t == T_EQ)) {
				t->t = t->t == T_NOT ? T_NE : T_DEQ;
				i++;
			}
		} else {
			while (i < n && !special(s[i]) && !blank(s[i]))
				i++;
			t->t = T_ID;
			if (i - start == 2 && memcmp(s + start, "in", 2) == 0)
				t->t = T_IN;
			else if (i - start == 5 && memcmp(s + start, "notin", 5) == 0)
				t->t = T_NOTIN;
		}
		t->len = (uint32_t)(i - start);
	}
}

/* In a values context "in" and "notin" are identifiers. */
static enum tok as_value(enum tok t)
{
	return t == T_IN || t == T_NOTIN ? T_ID : t;
}

static const struct sel_token *peek(const struct sel_parse *p)
{
	return &p->toks[p->pos];
}

static const struct sel_token *next(struct sel_parse *p)
{
	const struct sel_token *t = &p->toks[p->pos];

	if (t->t != T_END)
		p->pos++;
	return t;
}

/* The literal of a token, as valid UTF-8 for the message. */
static const char *lit(const struct sel_parse *p, const struct sel_token *t, char *buf, size_t len)
{
	k8sname_utf8_copy(buf, len, p->src + t->off, t->len);
	return buf;
}

#define REQ "unable to parse requirement: "

/* "<ctx>found '<literal>'<expected>", labels.Parser's wording. */
static int fail(struct sel_parse *p, const char *ctx, const struct sel_token *t,
                const char *expected)
{
	char l[128];

	vim_err_set(p->err, VIM_EINVAL, "%sfound '%s'%s", ctx, lit(p, t, l, sizeof(l)), expected);
	k8sname_utf8_trim(p->err ? p->err->msg : l);
	return VIM_EINVAL;
}

static int grow(void **arr, size_t *cap, size_t need, size_t elem, struct vim_err *err)
{
	void *n;
	size_t c = *cap ? *cap : 8;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	if (!(n = realloc(*arr, c * elem)))
		return vim_err_set(err, VIM_ENOMEM, "selector: out of memory");
	*arr = n;
	*cap = c;
	return 0;
}

static int add_req(struct sel_parse *p, struct sel_tmp_req **out)
{
	int rc;

	if (p->nreq >= STORE_SELECTOR_MAX_TERMS)
		return vim_err_set(p->err, VIM_EINVAL,
		                   "%s: Too many: %zu: must have at most %d requirements", p->what,
		                   p->nreq + 1, STORE_SELECTOR_MAX_TERMS);
	if ((rc = grow((void **)&p->reqs, &p->capreq, p->nreq + 1, sizeof(*p->reqs), p->err)) < 0)
		return rc;
	*out = memset(&p->reqs[p->nreq++], 0, sizeof(**out));
	return 0;
}

static int add_val(struct sel_parse *p, uint32_t off, uint32_t len, bool unescape)
{
	int rc;

	if ((rc = grow((void **)&p->vals, &p->capval, p->nval + 1, sizeof(*p->vals), p->err)) < 0)
		return rc;
	p->vals[p->nval++] =
	    (struct sel_span){(uint32_t)p->base + off, len, unescape, p->src + off};
	return 0;
}

/* Appends one field.Error text to an aggregate (kube prints one error as
 * it is, several as "[a, b]", duplicates once). */
struct agg {
	char text[VIM_ERR_MSG_MAX];
	size_t n, count;
};

static void agg_add(struct agg *a, const char *path, const char *bad, size_t badlen,
                    const char *why)
{
	char q[160], one[VIM_ERR_MSG_MAX];

	k8sname_quote(q, sizeof(q), bad, badlen);
	snprintf(one, sizeof(one), "%s: Invalid value: %s: %s", path, q, why);
	if (a->count && strstr(a->text, one))
		return;
	if (a->n < sizeof(a->text))
		a->n += (size_t)snprintf(a->text + a->n, sizeof(a->text) - a->n, "%s%s",
		                         a->count ? ", " : "", one);
	a->count++;
}

static int agg_fail(struct sel_parse *p, const struct agg *a)
{
	vim_err_set(p->err, VIM_EINVAL, "unable to parse requirement: %s%s%s",
	            a->count > 1 ? "[" : "", a->text, a->count > 1 ? "]" : "");
	if (p->err)
		k8sname_utf8_trim(p->err->msg);
	return VIM_EINVAL;
}

static int cmp_span(const void *a, const void *b)
{
	const struct sel_span *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->at, y->at, n);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Go's strconv.ParseInt(s, 10, 64). */
bool sel_parse_int(const char *s, size_t n, int64_t *out)
{
	char buf[24];
	char *end;
	long long v;
	size_t i = (n && (s[0] == '+' || s[0] == '-')) ? 1 : 0;

	if (n == i || n >= sizeof(buf))
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno == ERANGE)
		return false;
	*out = v;
	return true;
}

/* NewRequirement's checks on the values: the one or more values an
 * operator needs, integers for gt/lt, every value a label value. */
static int check_values(struct sel_parse *p, struct sel_tmp_req *r, const char *joined)
{
	const char *key = p->src + (r->key.off - p->base);
	struct k8sname_msgs why;
	struct agg a = {.n = 0, .count = 0};
	char path[160], kq[72], w[K8SNAME_MSGS_MAX * K8SNAME_MSG_MAX];
	size_t i;

	a.text[0] = '\0';
	k8sname_utf8_copy(kq, sizeof(kq), key, r->key.len);
	if (r->op == SEL_IN || r->op == SEL_NOTIN)
		qsort(p->vals + r->first, r->n, sizeof(*p->vals), cmp_span);
	if (r->op == SEL_GT || r->op == SEL_LT) {
		const struct sel_span *v = &p->vals[r->first];
		if (!sel_parse_int(joined + v->off, v->len, &r->num))
			agg_add(&a, "values[0]", joined + v->off, v->len,
			        "for 'Gt', 'Lt' operators, the value must be an integer");
	}
	for (i = 0; i < r->n; i++) {
		const struct sel_span *v = &p->vals[r->first + i];
		if (k8sname_label_value(joined + v->off, v->len, &why))
			continue;
		k8sname_join(w, sizeof(w), &why, "; ");
		snprintf(path, sizeof(path), "values[%zu][%s]", i, kq);
		agg_add(&a, path, joined + v->off, v->len, w);
	}
	return a.count ? agg_fail(p, &a) : 0;
}

/* <requirement> ::= [!] KEY [ <set-based-restriction> | <exact-match-restriction> ] */
static int parse_requirement(struct sel_parse *p, const char *joined)
{
	const struct sel_token *t = next(p);
	struct k8sname_msgs why;
	struct sel_tmp_req *r;
	bool not = false;
	int rc;

	if (t->t == T_NOT) {
		not = true;
		t = next(p);
	}
	if (as_value(t->t) != T_ID)
		return fail(p, REQ, t, ", expected: identifier");
	if (!k8sname_qualified(p->src + t->off, t->len, &why)) {
		struct agg a = {.n = 0, .count = 0};
		char w[K8SNAME_MSGS_MAX * K8SNAME_MSG_MAX];
		k8sname_join(w, sizeof(w), &why, "; ");
		agg_add(&a, "<nil>", p->src + t->off, t->len, w);
		return agg_fail(p, &a);
	}
	if ((rc = add_req(p, &r)) < 0)
		return rc;
	r->key = (struct sel_span){(uint32_t)p->base + t->off, t->len, false, p->src + t->off};
	r->first = p->nval;
	if (not || peek(p)->t == T_END || peek(p)->t == T_COMMA) {
		/* "!key" stays DoesNotExist whatever follows; the caller
		 * refuses a stray token after it */
		r->op = not ? SEL_NOT_EXISTS : SEL_EXISTS;
		return 0;
	}
	t = next(p);
	switch (t->t) {
	case T_IN:
		r->op = SEL_IN;
		break;
	case T_NOTIN:
		r->op = SEL_NOTIN;
		break;
	case T_EQ:
	case T_DEQ:
		r->op = SEL_EQ;
		break;
	case T_NE:
		r->op = SEL_NE;
		break;
	case T_GT:
		r->op = SEL_GT;
		break;
	case T_LT:
		r->op = SEL_LT;
		break;
	default:
		return fail(p, REQ, t, ", expected: in, notin, =, ==, !=, gt, lt");
	}
	if (r->op == SEL_IN || r->op == SEL_NOTIN) {
		t = next(p);
		if (t->t != T_OPEN)
			return fail(p, REQ, t, " expected: '('");
		t = peek(p);
		if (t->t == T_CLOSE) { /* "()" is the set of one empty value */
			next(p);
			if ((rc = add_val(p, 0, 0, false)) < 0)
				return rc;
		} else if (as_value(t->t) == T_ID || t->t == T_COMMA) {
			/* a (possibly empty) list of (possibly empty) values */
			bool want_value = true;
			for (;;) {
				t = next(p);
				if (as_value(t->t) == T_ID && want_value) {
					if ((rc = add_val(p, t->off, t->len, false)) < 0)
						return rc;
					want_value = false;
					if (peek(p)->t != T_COMMA && peek(p)->t != T_CLOSE)
						return fail(p, REQ, peek(p),
						            ", expected: ',' or ')'");
				} else if (t->t == T_COMMA) {
					if (want_value && (rc = add_val(p, 0, 0, false)) < 0)
						return rc;
					want_value = true;
				} else if (t->t == T_CLOSE) {
					if (want_value && (rc = add_val(p, 0, 0, false)) < 0)
						return rc;
					break;
				} else {
					return fail(p, REQ, t, ", expected: ',', or identifier");
				}
			}
		} else {
			return fail(p, REQ, t, ", expected: ',', ')' or identifier");
		}
	} else {
		t = peek(p);
		if (t->t == T_END || t->t == T_COMMA) {
			rc = add_val(p, 0, 0, false); /* "a=" selects a = "" */
		} else if (as_value(t->t) == T_ID) {
			next(p);
			rc = add_val(p, t->off, t->len, false);
		} else {
			return fail(p, REQ, t, ", expected: identifier");
		}
		if (rc < 0)
			return rc;
	}
	r->n = p->nval - r->first;
	return check_values(p, r, joined);
}

/* <selector-syntax> ::= <requirement> | <requirement> "," <selector-syntax> */
int sel_parse_labels(struct sel_parse *p, const char *joined)
{
	const struct sel_token *t;
	int rc;

	if ((rc = lex(p, strlen(p->src))) < 0)
		return rc;
	for (;;) {
		t = peek(p);
		if (t->t == T_END)
			return 0;
		if (as_value(t->t) != T_ID && t->t != T_NOT)
			return fail(p, "", t, ", expected: !, identifier, or 'end of string'");
		if ((rc = parse_requirement(p, joined)) < 0)
			return rc;
		t = next(p);
		if (t->t == T_END)
			return 0;
		if (t->t != T_COMMA)
			return fail(p, "", t, ", expected: ',' or 'end of string'");
		t = peek(p);
		if (as_value(t->t) != T_ID && t->t != T_NOT)
			return fail(p, "", t, ", expected: identifier after ','");
	}
}

/* The escaped value s[0..n) unescaped into out (never longer); false on a
 * bad escape or an unescaped ',' or '=' (fields.UnescapeValue). */
int sel_unescape(struct vim_err *err, const char *s, size_t n, char *out, size_t *outlen)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '\\') {
			if (i + 1 == n)
				return vim_err_set(
				    err, VIM_EINVAL,
				    "invalid field selector: invalid escape sequence: \\");
			if (s[i + 1] != '\\' && s[i + 1] != ',' && s[i + 1] != '=') {
				char l[8];
				unsigned char c0;
				/* the one rune after the backslash (U+FFFD if invalid) */
				k8sname_utf8_copy(l, sizeof(l), s + i + 1,
				                  n - i - 1 < 4 ? n - i - 1 : 4);
				c0 = (unsigned char)l[0];
				l[c0 < 0x80 ? 1 : c0 < 0xe0 ? 2 : c0 < 0xf0 ? 3 : 4] = '\0';
				return vim_err_set(
				    err, VIM_EINVAL,
				    "invalid field selector: invalid escape sequence: \\%s", l);
			}
			if (out)
				out[o] = s[i + 1];
			o++, i++;
		} else if (s[i] == ',' || s[i] == '=') {
			return vim_err_set(
			    err, VIM_EINVAL,
			    "invalid field selector: unescaped character in value: %d", s[i]);
		} else {
			if (out)
				out[o] = s[i];
			o++;
		}
	}
	if (outlen)
		*outlen = o;
	return 0;
}

/* The first "!=", "==" or "=" in term (fields.splitTerm): its offset, or
 * len when there is none. */
static size_t split_term(const char *term, size_t len, size_t *oplen)
{
	static const char *const ops[] = {"!=", "==", "="};
	size_t j, k;

	for (j = 0; j < len; j++)
		for (k = 0; k < 3; k++) {
			*oplen = strlen(ops[k]);
			if (j + *oplen <= len && memcmp(term + j, ops[k], *oplen) == 0)
				return j;
		}
	return len;
}

/* The field label check kube's conversion does once the selector parsed. */
static int known_field(struct sel_parse *p, const char *resource, const char *key, size_t n)
{
	const char *const *allowed = fields_of(resource);
	char q[200], list[400];
	size_t k, used = 0;

	for (k = 0; allowed[k]; k++)
		if (strlen(allowed[k]) == n && memcmp(allowed[k], key, n) == 0)
			return 0;
	if (is_event(resource) || allowed == namespace_fields) { /* core kinds' wording */
		k8sname_utf8_copy(q, sizeof(q), key, n);
		vim_err_set(p->err, VIM_EINVAL, "field label not supported: %s", q);
	} else {
		/* kube lists the custom resource's selectable fields */
		list[0] = '\0';
		for (k = 0; allowed[k] && used < sizeof(list); k++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s\"%s\"",
			                         k ? ", " : "", allowed[k]);
		k8sname_quote(q, sizeof(q), key, n);
		vim_err_set(p->err, VIM_EINVAL, "%s is not a known field selector: only %s", q,
		            list);
	}
	return VIM_EINVAL;
}

int sel_parse_fields(struct sel_parse *p, const char *resource, const char *joined)
{
	const char *s = p->src;
	size_t n = strlen(s), start = 0, first = p->nreq, i;
	bool slash = false;
	int rc;

	for (i = 0; i <= n; i++) {
		const char *term = s + start, *v;
		size_t len, oplen = 0, lhs;
		struct sel_tmp_req *r;
		char l[200], q[200];

		if (i < n && (slash || s[i] != ',')) {
			slash = !slash && s[i] == '\\';
			continue;
		}
		len = i - start;
		start = i + 1;
		if (len == 0)
			continue; /* empty terms are skipped */
		if ((lhs = split_term(term, len, &oplen)) == len) {
			k8sname_utf8_copy(l, sizeof(l), s, n);
			k8sname_utf8_copy(q, sizeof(q), term, len);
			vim_err_set(p->err, VIM_EINVAL,
			            "invalid selector: '%s'; can't understand '%s'", l, q);
			if (p->err)
				k8sname_utf8_trim(p->err->msg);
			return VIM_EINVAL;
		}
		v = term + lhs + oplen;
		if ((rc = sel_unescape(p->err, v, len - lhs - oplen, NULL, NULL)) < 0)
			return rc;
		if ((rc = add_req(p, &r)) < 0)
			return rc;
		r->field = true;
		r->key = (struct sel_span){(uint32_t)(p->base + (size_t)(term - s)), (uint32_t)lhs,
		                           false, term};
		r->op = term[lhs] == '!' ? SEL_NE : SEL_EQ;
		r->first = p->nval;
		r->n = 1;
		if ((rc = add_val(p, (uint32_t)(v - s), (uint32_t)(len - lhs - oplen),
		                  memchr(v, '\\', len - lhs - oplen) != NULL)) < 0)
			return rc;
	}
	for (i = first; i < p->nreq; i++)
		if ((rc = known_field(p, resource, joined + p->reqs[i].key.off,
		                      p->reqs[i].key.len)) < 0)
			return rc;
	return 0;
}
