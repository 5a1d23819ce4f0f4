/*
 * store/selector_grammar — the parse of a label selector (apimachinery's
 * labels.Parse) and of a field selector (fields.ParseSelector) into
 * temporaries that selector.c turns into one allocation.  Private to
 * selector*.c.
 */
#ifndef VIM_STORE_SELECTOR_GRAMMAR_H
#define VIM_STORE_SELECTOR_GRAMMAR_H

#include "store/internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A selector's requirements are capped: every watch keeps its selector. */
#define STORE_SELECTOR_MAX_TERMS 100

enum sel_op { SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN, SEL_EXISTS, SEL_NOT_EXISTS, SEL_GT, SEL_LT };

struct sel_token;

struct sel_span {
	uint32_t off, len; /* in the joined text; len 0 = "" */
	bool unescape;     /* a field value with '\' escapes, unescaped in place later */
	const char *at;    /* the same bytes, for sorting without a context */
};

struct sel_tmp_req {
	struct sel_span key;
	enum sel_op op;
	bool field;
	int64_t num;
	size_t first, n; /* its values in the span list */
};

struct sel_parse {
	const char *src;        /* the selector being parsed */
	const char *what;       /* "labelSelector" / "fieldSelector" */
	size_t base;            /* its offset in the joined text */
	struct sel_token *toks; /* selector_grammar.c's */
	size_t ntok, pos;
	struct sel_tmp_req *reqs;
	size_t nreq, capreq;
	struct sel_span *vals;
	size_t nval, capval;
	struct vim_err *err;
};

/* Each parses p->src (a NUL-terminated part of joined, at p->base) and
 * appends to p->reqs / p->vals; VIM_EINVAL with kube's message in p->err. */
int sel_parse_labels(struct sel_parse *p, const char *joined);
int sel_parse_fields(struct sel_parse *p, const char *resource, const char *joined);

/* fields.UnescapeValue of s[0..n) into out (may be NULL: check only);
 * the result is never longer. */
int sel_unescape(struct vim_err *err, const char *s, size_t n, char *out, size_t *outlen);
/* Go's strconv.ParseInt(s, 10, 64). */
bool sel_parse_int(const char *s, size_t n, int64_t *out);

#endif
