/*
 * model/validate_meta — what kube-apiserver checks in an object's
 * metadata (apimachinery's ValidateObjectMetaAccessor and
 * ValidateObjectMetaAccessorUpdate) and upstream's name webhook:
 * name and generateName, namespace, labels, annotations and their total
 * size, finalizers; and the name generation of rest.BeforeCreate.
 *
 * Every string here ends up in a registry path, a URL, a store key or a
 * log line, so a value kube refuses is refused here too, with kube's
 * message naming the field and the value (%q-quoted).
 */
#include "model/validate_internal.h"

#include "core/k8sname.h"
#include "core/sysutil.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define INV "FieldValueInvalid"
#define REQ "FieldValueRequired"
#define TOOLONG "FieldValueTooLong"
#define FORB "FieldValueForbidden"

/* SimpleNameGenerator: the prefix cut to 63 - 5 bytes, 5 random runes. */
#define GEN_PREFIX_MAX 58
#define GEN_RANDOM_LEN 5
static const char gen_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

/* TotalAnnotationSizeLimitB: sum of len(key) + len(value). */
#define ANNOTATIONS_MAX (256 * 1024)

/* One cause per reason, as kube makes one field.Error of each. */
static void invalid_each(struct model_causes *c, const char *field, const char *value,
                         const struct k8sname_msgs *why)
{
	char q[VAL_QUOTE_MAX];
	size_t i;

	val_quote(q, sizeof(q), value);
	for (i = 0; i < why->len; i++)
		model_causes_add(c, field, INV, "Invalid value: %s: %s", q, why->items[i]);
}

static unsigned nibble(char h)
{
	return h <= '9' ? (unsigned)(h - '0') : (unsigned)(h - 'a' + 10);
}

int model_meta_generate_name(struct model_image *img, bool *generated)
{
	const char *gen = img->meta.generate_name;
	char name[GEN_PREFIX_MAX + GEN_RANDOM_LEN + 1], hex[2 * 32 + 1];
	unsigned v;
	size_t n, i, got = 0;

	*generated = false;
	if ((img->meta.name && *img->meta.name) || !gen || !*gen)
		return 0;
	n = strlen(gen) > GEN_PREFIX_MAX ? GEN_PREFIX_MAX : strlen(gen);
	memcpy(name, gen, n);
	/* rejection sampling keeps the 27 runes equally likely, as
	 * rand.Intn does; 32 bytes almost never run out */
	while (got < GEN_RANDOM_LEN) {
		if (vim_random_hex(hex, 32, NULL) < 0)
			return VIM_EIO;
		for (i = 0; i < 32 && got < GEN_RANDOM_LEN; i++) {
			v = (unsigned)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
			if (v < 27 * 9)
				name[n + got++] = gen_alphabet[v % 27];
		}
	}
	name[n + GEN_RANDOM_LEN] = '\0';
	if (model_set_str(&img->meta.name, name) < 0)
		return VIM_ENOMEM;
	*generated = true;
	return 0;
}

/* The name rules: a DNS-1123 subdomain (the CRD's ValidateObjectMeta),
 * then upstream's webhook, which forbids '.'; the webhook only sees
 * names the apiserver accepted. */
static void check_name(const struct model_image *img, const char *name, struct model_causes *c)
{
	struct k8sname_msgs why;
	char q[VAL_QUOTE_MAX];

	if (!k8sname_dns1123_subdomain(name, strlen(name), &why)) {
		invalid_each(c, "metadata.name", name, &why);
	} else if (strchr(name, '.')) {
		/* upstream's webhook, verbatim (%q of the name) */
		val_quote(q, sizeof(q), name);
		model_causes_add(c, "metadata.name", INV,
		                 "the %s name %s is invalid: '.' is forbidden, allowed name "
		                 "symbols are [0-9a-zA-Z-]",
		                 model_kind_info(img->kind)->name, q);
	}
}

static void names(const struct model_image *img, struct model_causes *c)
{
	const char *name = img->meta.name, *gen = img->meta.generate_name;
	const char *ns = img->meta.namespace;
	struct k8sname_msgs why;

	if (gen && *gen && !k8sname_dns1123_subdomain_prefix(gen, strlen(gen), &why))
		invalid_each(c, "metadata.generateName", gen, &why);
	if (name && *name) {
		check_name(img, name, c);
	} else if (gen && *gen) {
		/* not generated yet (the API generates before validating):
		 * judge the name it will get — any 5 runes of the alphabet
		 * give the same verdict */
		char trial[GEN_PREFIX_MAX + GEN_RANDOM_LEN + 1];
		size_t n = strlen(gen) > GEN_PREFIX_MAX ? GEN_PREFIX_MAX : strlen(gen);
		memcpy(trial, gen, n);
		memcpy(trial + n, "bcdfg", GEN_RANDOM_LEN + 1);
		check_name(img, trial, c);
	} else {
		model_causes_add(c, "metadata.name", REQ,
		                 "Required value: name or generateName is required");
	}
	if (!model_kind_info(img->kind)->namespaced)
		return;
	if (!ns || !*ns)
		model_causes_add(c, "metadata.namespace", REQ, "Required value");
	else if (!k8sname_dns1123_label(ns, strlen(ns), &why))
		invalid_each(c, "metadata.namespace", ns, &why);
}

static void labels(const struct model_strmap *m, struct model_causes *c)
{
	struct k8sname_msgs why;
	size_t i;

	for (i = 0; i < m->len; i++) {
		const char *k = m->items[i].key, *v = m->items[i].value ? m->items[i].value : "";
		if (!k8sname_qualified(k, strlen(k), &why))
			invalid_each(c, "metadata.labels", k, &why);
		if (!k8sname_label_value(v, strlen(v), &why))
			invalid_each(c, "metadata.labels", v, &why);
	}
}

static void annotations(const struct model_strmap *m, struct model_causes *c)
{
	struct k8sname_msgs why;
	size_t i, total = 0, j;

	for (i = 0; i < m->len; i++) {
		const char *k = m->items[i].key, *v = m->items[i].value;
		size_t n = strlen(k);
		char *lower = malloc(n + 1);
		total += n + (v ? strlen(v) : 0);
		if (!lower) {
			model_causes_add(c, "metadata.annotations", INV,
			                 "Internal error: out of memory");
			return;
		}
		/* QualifiedName, except that case does not matter */
		for (j = 0; j <= n; j++)
			lower[j] = (char)tolower((unsigned char)k[j]);
		if (!k8sname_qualified(lower, n, &why))
			invalid_each(c, "metadata.annotations", k, &why);
		free(lower);
	}
	if (total > ANNOTATIONS_MAX)
		model_causes_add(c, "metadata.annotations", TOOLONG,
		                 "Too long: must have at most %d bytes", ANNOTATIONS_MAX);
}

static bool has(const struct model_strlist *l, const char *s)
{
	size_t i;

	for (i = 0; i < l->len; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

static void finalizers(const struct model_strlist *l, struct model_causes *c)
{
	struct k8sname_msgs why;
	size_t i;

	for (i = 0; i < l->len; i++)
		if (!k8sname_qualified(l->items[i], strlen(l->items[i]), &why))
			invalid_each(c, "metadata.finalizers", l->items[i], &why);
	if (has(l, "orphan") && has(l, "foregroundDeletion"))
		model_causes_add(c, "metadata.finalizers", INV,
		                 "Invalid value: [\"orphan\",\"foregroundDeletion\"]: finalizer "
		                 "orphan and foregroundDeletion cannot be both set");
}

void val_meta_common(const struct model_meta *m, struct model_causes *c)
{
	labels(&m->labels, c);
	annotations(&m->annotations, c);
	finalizers(&m->finalizers, c);
}

void val_meta_create(const struct model_image *img, struct model_causes *c)
{
	names(img, c);
	val_meta_common(&img->meta, c);
}

void val_meta_update(const struct model_image *old, const struct model_image *new,
                     struct model_causes *c)
{
	char list[MODEL_CAUSE_MSG_MAX / 2], q[VAL_QUOTE_MAX];
	size_t i, n = 0;

	val_meta_common(&new->meta, c);
	if (old->meta.deletion_timestamp == 0)
		return;
	/* ValidateNoNewFinalizers, with Go's %#v of the []string */
	for (i = 0; i < new->meta.finalizers.len; i++) {
		const char *f = new->meta.finalizers.items[i];
		if (has(&old->meta.finalizers, f) || n >= sizeof(list))
			continue;
		val_quote(q, sizeof(q), f);
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", q);
	}
	if (n)
		model_causes_add(c, "metadata.finalizers", FORB,
		                 "Forbidden: no new finalizers can be added if the object is being "
		                 "deleted, found new finalizers []string{%s}",
		                 list);
}

void model_meta_warnings(const struct model_image *img, struct model_warnings *w)
{
	static const char *const standard[] = {"kubernetes", "orphan", "foregroundDeletion"};
	const struct model_strlist *l = &img->meta.finalizers;
	char q[VAL_QUOTE_MAX];
	size_t i, k;

	w->len = 0;
	for (i = 0; i < l->len && w->len < MODEL_WARNINGS_MAX; i++) {
		const char *f = l->items[i];
		bool std = false;
		for (k = 0; k < sizeof(standard) / sizeof(standard[0]); k++)
			std = std || strcmp(f, standard[k]) == 0;
		if (std || strchr(f, '/'))
			continue;
		val_quote(q, sizeof(q), f);
		snprintf(
		    w->items[w->len++], sizeof(w->items[0]),
		    "metadata.finalizers: %s: prefer a domain-qualified finalizer name including "
		    "a path (/) to avoid accidental conflicts with other finalizer writers",
		    q);
	}
}
