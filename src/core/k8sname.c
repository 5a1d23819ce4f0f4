/*
 * core/k8sname — apimachinery's IsDNS1123Label, IsDNS1123Subdomain,
 * IsQualifiedName, IsValidLabelValue and Go's strconv.Quote, by hand:
 * the regular expressions are short enough to check byte by byte.
 */
#include "core/k8sname.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define LABEL_MSG                                                                                  \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "   \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "   \
	"regex used for validation is '" LABEL_FMT "')"
#define SUBDOMAIN_MSG                                                                              \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "  \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "      \
	"regex used for validation is '" LABEL_FMT "(\\." LABEL_FMT ")*')"
#define KEY_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define KEY_MSG                                                                                    \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "   \
	"an "                                                                                      \
	"alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "     \
	"validation is '" KEY_FMT "')"
#define VALUE_MSG                                                                                  \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "   \
	"or "                                                                                      \
	"'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "         \
	"'my_value',  or '12345', regex used for validation is '(" KEY_FMT ")?')"

static void add(struct k8sname_msgs *why, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct k8sname_msgs *why, const char *fmt, ...)
{
	va_list ap;

	if (!why || why->len >= K8SNAME_MSGS_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(why->items[why->len++], K8SNAME_MSG_MAX, fmt, ap);
	va_end(ap);
}

static void reset(struct k8sname_msgs *why)
{
	if (why)
		why->len = 0;
}

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ */
static bool label_re(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	for (i = 1; i + 1 < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* label(\.label)* — no length bound per label in the regex. */
static bool subdomain_re(const char *s, size_t n)
{
	size_t start = 0, i;

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!label_re(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ */
static bool key_re(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (i = 1; i + 1 < n; i++)
		if (!alnum(s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

bool k8sname_dns1123_label(const char *s, size_t n, struct k8sname_msgs *why)
{
	bool ok = true;

	reset(why);
	if (n > K8SNAME_LABEL_MAX) {
		add(why, "must be no more than %d bytes", K8SNAME_LABEL_MAX);
		ok = false;
	}
	if (!label_re(s, n)) {
		/* a valid subdomain that is no label can only be one with dots */
		if (subdomain_re(s, n))
			add(why, "must not contain dots");
		else
			add(why, "%s", LABEL_MSG);
		ok = false;
	}
	return ok;
}

/* Appends the subdomain reasons with a prefix ("prefix part "). */
static bool subdomain(const char *s, size_t n, struct k8sname_msgs *why, const char *pfx)
{
	bool ok = true;

	if (n > K8SNAME_SUBDOMAIN_MAX) {
		add(why, "%smust be no more than %d bytes", pfx, K8SNAME_SUBDOMAIN_MAX);
		ok = false;
	}
	if (!subdomain_re(s, n)) {
		add(why, "%s%s", pfx, SUBDOMAIN_MSG);
		ok = false;
	}
	return ok;
}

bool k8sname_dns1123_subdomain(const char *s, size_t n, struct k8sname_msgs *why)
{
	reset(why);
	return subdomain(s, n, why, "");
}

/* subdomain_re of s[0..n-2) + "a" (kube's maskTrailingDash) without a
 * copy: the "a" ends the last label, so only the labels before it and the
 * start of the last one can fail. */
static bool masked_subdomain_re(const char *s, size_t n)
{
	size_t m = n - 2, last = m, i;

	while (last > 0 && s[last - 1] != '.')
		last--;
	if (last > 0 && !subdomain_re(s, last - 1))
		return false;
	if (m > last && !lower_alnum(s[last]))
		return false;
	for (i = last; i < m; i++)
		if (!lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

bool k8sname_dns1123_subdomain_prefix(const char *s, size_t n, struct k8sname_msgs *why)
{
	bool ok = true;

	if (!(n > 1 && s[n - 1] == '-'))
		return k8sname_dns1123_subdomain(s, n, why);
	/* kube's maskTrailingDash: name[:len-2] + "a" (it drops two bytes) */
	reset(why);
	if (n - 1 > K8SNAME_SUBDOMAIN_MAX) {
		add(why, "must be no more than %d bytes", K8SNAME_SUBDOMAIN_MAX);
		ok = false;
	}
	if (!masked_subdomain_re(s, n)) {
		add(why, "%s", SUBDOMAIN_MSG);
		ok = false;
	}
	return ok;
}

bool k8sname_qualified(const char *s, size_t n, struct k8sname_msgs *why)
{
	const char *slash = memchr(s, '/', n), *name = s;
	size_t name_len = n;
	bool ok = true;

	reset(why);
	if (slash && memchr(slash + 1, '/', n - (size_t)(slash + 1 - s))) {
		add(why,
		    "a valid label key %s with an optional DNS subdomain prefix and '/' (e.g. "
		    "'example.com/MyName')",
		    KEY_MSG);
		return false;
	}
	if (slash) {
		size_t plen = (size_t)(slash - s);
		if (plen == 0) {
			add(why, "prefix part must be non-empty");
			ok = false;
		} else if (!subdomain(s, plen, why, "prefix part ")) {
			ok = false;
		}
		name = slash + 1;
		name_len = n - plen - 1;
	}
	if (name_len == 0) {
		add(why, "name part must be non-empty");
		ok = false;
	} else if (name_len > K8SNAME_LABEL_MAX) {
		add(why, "name part must be no more than %d bytes", K8SNAME_LABEL_MAX);
		ok = false;
	}
	if (!key_re(name, name_len)) {
		add(why, "name part %s", KEY_MSG);
		ok = false;
	}
	return ok;
}

bool k8sname_label_value(const char *s, size_t n, struct k8sname_msgs *why)
{
	bool ok = true;

	reset(why);
	if (n > K8SNAME_LABEL_MAX) {
		add(why, "must be no more than %d bytes", K8SNAME_LABEL_MAX);
		ok = false;
	}
	if (n > 0 && !key_re(s, n)) {
		add(why, "%s", VALUE_MSG);
		ok = false;
	}
	return ok;
}

void k8sname_join(char *out, size_t outlen, const struct k8sname_msgs *m, const char *sep)
{
	size_t i, n = 0;

	if (!outlen)
		return;
	out[0] = '\0';
	for (i = 0; i < m->len && n < outlen; i++)
		n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? sep : "", m->items[i]);
}

/* ---- Go's strconv.Quote ---------------------------------------------------------- */

/* Decodes one UTF-8 rune as Go does: overlong forms, surrogates and values
 * past U+10FFFF are invalid and consume one byte.  Returns the width, or 0
 * for an invalid byte. */
static size_t utf8_rune(const unsigned char *s, size_t n, uint32_t *r)
{
	uint32_t c = s[0], min;
	size_t w, i;

	if (c < 0x80) {
		*r = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		w = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		w = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		w = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < w)
		return 0;
	for (i = 1; i < w; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*r = c;
	return w;
}

/* strconv.IsPrint for the runes outside ASCII, approximated: Go prints
 * letters, marks, numbers, punctuation and symbols; this refuses the
 * categories users actually meet (C1 controls, spaces other than ' ',
 * format characters, separators, private use, noncharacters). */
static bool rune_printable(uint32_t r)
{
	if (r < 0xa0 || r == 0xad)
		return false;
	if (r == 0xa0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200f) ||
	    (r >= 0x2028 && r <= 0x202f) || (r >= 0x205f && r <= 0x206f) || r == 0x3000 ||
	    r == 0x180e || r == 0x061c)
		return false;
	if (r == 0xfeff || (r >= 0xfff9 && r <= 0xfffb) || (r >= 0xe000 && r <= 0xf8ff) ||
	    (r >= 0xfdd0 && r <= 0xfdef) || (r & 0xfffe) == 0xfffe || r >= 0xf0000)
		return false;
	return true;
}

/* The %q form of the rune at s[0..n) into unit (>= 11 bytes); its length,
 * with the bytes it consumed in *w. */
static size_t quote_unit(const unsigned char *s, size_t n, char *unit, size_t *w)
{
	static const char esc[] = "abtnvfr"; /* \a = 7 ... \r = 13 */
	uint32_t r;

	*w = utf8_rune(s, n, &r);
	if (*w == 0) {
		*w = 1;
		return (size_t)snprintf(unit, 11, "\\x%02x", s[0]);
	}
	if (r == '"' || r == '\\')
		return (size_t)snprintf(unit, 11, "\\%c", (char)r);
	if (r >= 0x20 && r < 0x7f) {
		unit[0] = (char)r;
		return 1;
	}
	if (r >= 7 && r <= 13)
		return (size_t)snprintf(unit, 11, "\\%c", esc[r - 7]);
	if (r < 0x80)
		return (size_t)snprintf(unit, 11, "\\x%02x", r);
	if (rune_printable(r)) {
		memcpy(unit, s, *w);
		return *w;
	}
	if (r < 0x10000)
		return (size_t)snprintf(unit, 11, "\\u%04x", r);
	return (size_t)snprintf(unit, 11, "\\U%08x", r);
}

size_t k8sname_quote(char *out, size_t outlen, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char unit[16];
	size_t o = 0, i, w, u, total = 2;

	if (outlen < 3) {
		if (outlen)
			out[0] = '\0';
		return 0;
	}
	for (i = 0; i < n && total < outlen; i += w)
		total += quote_unit(p + i, n - i, unit, &w);
	out[o++] = '"';
	for (i = 0; i < n; i += w) {
		u = quote_unit(p + i, n - i, unit, &w);
		/* when it does not all fit, keep room for `..."` and the NUL */
		if (total >= outlen && o + u + 5 > outlen) {
			if (o + 5 <= outlen) {
				memcpy(out + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(out + o, unit, u);
		o += u;
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

void k8sname_utf8_copy(char *out, size_t outlen, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, i = 0, w;
	uint32_t r;

	if (!outlen)
		return;
	while (i < n) {
		w = utf8_rune(p + i, n - i, &r);
		if (w == 0) {
			if (o + 3 >= outlen)
				break;
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3, i++;
			continue;
		}
		if (o + w >= outlen)
			break;
		memcpy(out + o, p + i, w);
		o += w, i += w;
	}
	out[o] = '\0';
}

void k8sname_utf8_trim(char *s)
{
	size_t n = strlen(s), start = n, back = 0;
	uint32_t r;

	/* find the start of the last rune: at most 3 continuation bytes back */
	while (start > 0 && back < 4 && ((unsigned char)s[start - 1] & 0xc0) == 0x80)
		start--, back++;
	if (start > 0 && (unsigned char)s[start - 1] >= 0xc0) {
		start--;
		if (utf8_rune((const unsigned char *)s + start, n - start, &r) != n - start)
			s[start] = '\0';
	}
}
