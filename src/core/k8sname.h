/*
 * core/k8sname — Kubernetes' lexical rules for the strings users choose:
 * RFC 1123 labels and subdomains (names, namespaces), qualified names
 * (label and annotation keys, finalizers), label values, and Go's %q
 * quoting of a value in a message.  The messages are apimachinery's
 * (pkg/api/validate/content), so a client sees what kube-apiserver says.
 *
 * Every check takes (s, n): the bytes need not be NUL-terminated, so the
 * selector parser can check tokens inside its one copy of the text.
 * Nothing here allocates.
 */
#ifndef VIM_CORE_K8SNAME_H
#define VIM_CORE_K8SNAME_H

#include <stdbool.h>
#include <stddef.h>

/* The reasons a value is refused, one per apimachinery error string
 * (kube makes one field error of each). */
#define K8SNAME_MSGS_MAX 4
#define K8SNAME_MSG_MAX 400
struct k8sname_msgs {
	size_t len;
	char items[K8SNAME_MSGS_MAX][K8SNAME_MSG_MAX];
};

#define K8SNAME_LABEL_MAX 63      /* DNS1123LabelMaxLength, label values */
#define K8SNAME_SUBDOMAIN_MAX 253 /* DNS1123SubdomainMaxLength */

/* Each returns true when the value is valid; otherwise false with the
 * reasons in *why (may be NULL), which is reset first. */
bool k8sname_dns1123_label(const char *s, size_t n, struct k8sname_msgs *why);
bool k8sname_dns1123_subdomain(const char *s, size_t n, struct k8sname_msgs *why);
/* IsQualifiedName / IsLabelKey: [prefix/]name, prefix a DNS subdomain,
 * name <= 63 of [A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]. */
bool k8sname_qualified(const char *s, size_t n, struct k8sname_msgs *why);
/* IsValidLabelValue: empty, or a qualified name part of <= 63 bytes. */
bool k8sname_label_value(const char *s, size_t n, struct k8sname_msgs *why);

/* Name validation in prefix mode (generateName): kube's maskTrailingDash
 * replaces the last two bytes of a value ending in '-' by "a" before the
 * check, so "img-" passes.  Same contract as the checks above. */
bool k8sname_dns1123_subdomain_prefix(const char *s, size_t n, struct k8sname_msgs *why);

/* Writes s[0..n) quoted as Go's %q does: valid printable UTF-8 as it is,
 * '"' and '\\' escaped, control characters as \n, \t, \x01, invalid bytes
 * as \xff, other non-printable runes as \u00a0.  Always NUL-terminates
 * (outlen >= 3); a value that does not fit ends in "..." inside the
 * quotes.  Returns the length written. */
size_t k8sname_quote(char *out, size_t outlen, const char *s, size_t n);

/* Copies s[0..n) into out as valid UTF-8, each invalid byte replaced by
 * U+FFFD as Go's encoding/json does (jansson refuses invalid UTF-8), cut
 * on a rune boundary to fit.  Always NUL-terminates (outlen >= 1). */
void k8sname_utf8_copy(char *out, size_t outlen, const char *s, size_t n);
/* Drops a rune cut short at the end of s (after a bounded snprintf). */
void k8sname_utf8_trim(char *s);

/* Joins the reasons with sep ("; " as labels.Parse does). */
void k8sname_join(char *out, size_t outlen, const struct k8sname_msgs *m, const char *sep);

#endif
