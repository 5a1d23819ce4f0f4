/* core/redact — userinfo and query values out of every URL in a text. */
#include "core/redact.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MASK "***"

struct out {
	char *b;
	size_t cap, n;
};

static void put(struct out *o, const char *s, size_t len)
{
	size_t room = o->cap - 1 - o->n;

	if (len > room)
		len = room;
	memcpy(o->b + o->n, s, len);
	o->n += len;
}

static bool scheme_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '-' || c == '.';
}

/* Where a URL quoted in a message ends. */
static bool url_end(char c)
{
	return c == '\0' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' ||
	       c == '\'' || c == '<' || c == '>' || c == '`';
}

/* An authority "x:y" whose y is no port: the userinfo of a URL cut
 * before its '@' (a message cut short), which must not show either. */
static bool cut_userinfo(const char *a, const char *end)
{
	const char *colon = memchr(a, ':', (size_t)(end - a)), *p;

	if (!colon || a[0] == '[')
		return false;
	for (p = colon + 1; p < end; p++)
		if (*p < '0' || *p > '9')
			return true;
	return false;
}

/* One URL from u (just after "://") to its end: returns where it ends. */
static const char *put_url_rest(struct out *o, const char *u)
{
	const char *end = u, *auth_end, *at = NULL, *p;

	while (!url_end(*end))
		end++;
	/* "GET <url>: answered 404": trailing punctuation is the sentence's */
	while (end > u && strchr(".,:;)!", end[-1]))
		end--;
	auth_end = u + strcspn(u, "/?#");
	if (auth_end > end)
		auth_end = end;
	for (p = u; p < auth_end; p++)
		if (*p == '@')
			at = p; /* the last one: a password may hold '@' unescaped */
	if (at) {
		put(o, MASK, strlen(MASK));
		u = at;
	} else if (cut_userinfo(u, auth_end)) {
		put(o, MASK, strlen(MASK));
		u = auth_end;
	}
	p = u + strcspn(u, "?#");
	if (p > end)
		p = end;
	put(o, u, (size_t)(p - u));
	if (p < end && *p == '?') {
		/* each value of the query, up to the fragment */
		const char *q = p + 1, *qend = q + strcspn(q, "#");
		if (qend > end)
			qend = end;
		put(o, "?", 1);
		while (q < qend) {
			const char *sep = q + strcspn(q, "&;"), *eq;
			if (sep > qend)
				sep = qend;
			eq = memchr(q, '=', (size_t)(sep - q));
			if (eq) {
				put(o, q, (size_t)(eq - q) + 1);
				if (eq + 1 < sep)
					put(o, MASK, strlen(MASK));
			} else if (sep > q) {
				put(o, MASK, strlen(MASK)); /* a bare value: may be a token */
			}
			if (sep < qend)
				put(o, sep, 1);
			q = sep + 1;
		}
		p = qend;
	}
	put(o, p, (size_t)(end - p)); /* the fragment: never sent, kept */
	return end;
}

char *vim_redact(char *out, size_t cap, const char *text)
{
	struct out o = {out, cap, 0};
	const char *p = text, *sep;

	if (cap == 0)
		return out;
	while ((sep = strstr(p, "://")) != NULL) {
		const char *s = sep;
		while (s > p && scheme_char(s[-1]))
			s--;
		if (s == sep) { /* "://" with no scheme: not a URL */
			put(&o, p, (size_t)(sep - p) + 3);
			p = sep + 3;
			continue;
		}
		put(&o, p, (size_t)(sep - p) + 3);
		p = put_url_rest(&o, sep + 3);
	}
	put(&o, p, strlen(p));
	out[o.n] = '\0';
	return out;
}

void vim_redact_inplace(char *s, size_t cap)
{
	char stack[1024], *tmp = cap <= sizeof(stack) ? stack : malloc(cap);

	if (!tmp) {
		/* cannot prove it clean: say nothing rather than leak */
		if (cap > 0)
			s[0] = '\0';
		return;
	}
	vim_redact(tmp, cap, s);
	memcpy(s, tmp, strlen(tmp) + 1);
	if (tmp != stack)
		free(tmp);
}
