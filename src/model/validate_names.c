/*
 * model/validate_names — the small lexical checks validation is built of:
 * Kubernetes names, hex checksums, URLs, base64, image references, and the
 * causes list itself.  Messages follow Kubernetes' field.Error wording
 * ("Invalid value: ...", "Required value", "Unsupported value: ...").
 */
#include "model/validate_internal.h"

#include "core/k8sname.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void model_causes_add(struct model_causes *c, const char *field, const char *reason,
                      const char *fmt, ...)
{
	struct model_cause *k;
	va_list ap;

	if (!c || c->len >= MODEL_CAUSES_MAX)
		return;
	k = &c->items[c->len++];
	snprintf(k->field, sizeof(k->field), "%s", field);
	snprintf(k->reason, sizeof(k->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(k->message, sizeof(k->message), fmt, ap);
	va_end(ap);
	/* a cut rune would make the Status body invalid JSON text */
	k8sname_utf8_trim(k->message);
}

void val_quote(char *out, size_t outlen, const char *s)
{
	k8sname_quote(out, outlen, s ? s : "", s ? strlen(s) : 0);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool val_dns1123_label(const char *s, size_t max)
{
	return strlen(s) <= max && k8sname_dns1123_label(s, strlen(s), NULL);
}

bool val_dns1123_subdomain(const char *s)
{
	return k8sname_dns1123_subdomain(s, strlen(s), NULL);
}

bool val_hex(const char *s, size_t len)
{
	size_t i;

	if (strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (!isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* upstream's pattern:
 * ^http[s]?://(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*\(\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+$
 * ([$-_] is the range '$'..'_', which covers most punctuation and capitals). */
bool val_http_url(const char *s)
{
	const char *p;

	if (strncmp(s, "http://", 7) == 0)
		p = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		p = s + 8;
	else
		return false;
	if (!*p)
		return false;
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '%') {
			if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]))
				return false;
			p += 2;
			continue;
		}
		if (isalnum(c) || (c >= '$' && c <= '_') || strchr("@.&+!*(),", c))
			continue;
		return false;
	}
	return true;
}

bool val_base64(const char *s)
{
	size_t n = 0, pad = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\r')
			continue;
		if (c == '=') {
			pad++;
		} else if (pad || !(isalnum(c) || c == '+' || c == '/')) {
			return false;
		}
		n++;
	}
	return n > 0 && n % 4 == 0 && pad <= 2;
}

static bool image_component(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++)
		if (!is_lower_alnum(p[i]) && !strchr("_.-", p[i]))
			return false;
	return true;
}

/* host[:port]/path[:tag][@alg:hex] — upstream's containerImage pattern,
 * hand-written: the first component is a domain when it has a '.' or a
 * ':' or is "localhost"; path components are [a-z0-9_.-]+; a tag is
 * [\w][\w.-]{0,127}; a digest is alg:hex with at least 32 hex digits. */
bool val_image_ref(const char *s)
{
	char buf[1024];
	char *at, *colon, *slash, *p, *comp;
	size_t i;

	if (strlen(s) == 0 || strlen(s) >= sizeof(buf))
		return false;
	memcpy(buf, s, strlen(s) + 1);
	if ((at = strchr(buf, '@'))) {
		char *dc = strchr(at + 1, ':');
		*at = '\0';
		if (!dc || dc == at + 1 || strlen(dc + 1) < 32)
			return false;
		for (p = dc + 1; *p; p++)
			if (!isxdigit((unsigned char)*p))
				return false;
		for (p = at + 1; p < dc; p++)
			if (!isalnum((unsigned char)*p) && !strchr("+.-_", *p))
				return false;
	}
	slash = strrchr(buf, '/');
	colon = strrchr(buf, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		p = colon + 1;
		if (!*p || strlen(p) > 128 || !(isalnum((unsigned char)*p) || *p == '_'))
			return false;
		for (; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_.-", *p))
				return false;
	}
	p = buf;
	slash = strchr(p, '/');
	if (slash) {
		size_t n = (size_t)(slash - p);
		bool domain = memchr(p, '.', n) || memchr(p, ':', n) ||
		              (n == 9 && strncmp(p, "localhost", 9) == 0);
		if (domain) {
			for (i = 0; i < n; i++)
				if (!isalnum((unsigned char)p[i]) && !strchr("_.-:", p[i]))
					return false;
			p = slash + 1;
		}
	}
	while ((comp = p)) {
		slash = strchr(comp, '/');
		if (!image_component(comp, slash ? (size_t)(slash - comp) : strlen(comp)))
			return false;
		p = slash ? slash + 1 : NULL;
	}
	return true;
}
