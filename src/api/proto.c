/*
 * api/proto — reads the protobuf bodies kubectl posts for built-in kinds
 * (client-go sends them as application/vnd.kubernetes.protobuf): the
 * "k8s\0" envelope, runtime.Unknown, and of the object only what this
 * server keeps — an auth review's spec.resourceAttributes /
 * nonResourceAttributes, a Namespace's metadata (name, generateName,
 * labels, annotations, finalizers).  Bounded by the body: every length is
 * checked against what is left, nesting is fixed (no recursion on input).
 */
#include "api/proto.h"

#include <string.h>

struct pb {
	const unsigned char *p, *end;
};

static bool varint(struct pb *b, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64 && b->p < b->end; shift += 7) {
		unsigned char c = *b->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*out = v;
			return true;
		}
	}
	return false;
}

/* The next field: its number, and for a length-delimited one its bytes
 * (other wire types are skipped, *sub left empty).  false at the end or
 * on malformed input. */
static bool field(struct pb *b, uint32_t *num, struct pb *sub, bool *ok)
{
	uint64_t key, len;

	*ok = true;
	sub->p = sub->end = NULL;
	if (b->p >= b->end)
		return false;
	if (!varint(b, &key))
		goto bad;
	*num = (uint32_t)(key >> 3);
	switch (key & 7) {
	case 0:
		return varint(b, &len) || (*ok = false);
	case 1:
		if (b->end - b->p < 8)
			goto bad;
		b->p += 8;
		return true;
	case 5:
		if (b->end - b->p < 4)
			goto bad;
		b->p += 4;
		return true;
	case 2:
		if (!varint(b, &len) || len > (uint64_t)(b->end - b->p))
			goto bad;
		sub->p = b->p;
		sub->end = b->p + len;
		b->p += len;
		return true;
	default:
		goto bad;
	}
bad:
	*ok = false;
	return false;
}

/* A message of string fields into an object: names[i] for field i+1
 * (NULL = ignore the field). */
static bool strings_of(struct pb m, const char *const *names, size_t n, json_t **out)
{
	struct pb sub;
	uint32_t num;
	bool ok;

	*out = json_object();
	while (field(&m, &num, &sub, &ok))
		if (num >= 1 && num <= n && names[num - 1] && sub.p)
			json_object_set_new(
			    *out, names[num - 1],
			    json_stringn((const char *)sub.p, (size_t)(sub.end - sub.p)));
	return ok;
}

/* The object's own bytes: "k8s\0" + runtime.Unknown, whose field 2 is raw. */
static int unwrap(const void *body, size_t len, struct pb *raw)
{
	struct pb b = {(const unsigned char *)body, (const unsigned char *)body + len}, sub;
	uint32_t num;
	bool ok;

	raw->p = raw->end = NULL;
	if (len < 4 || memcmp(body, "k8s\0", 4) != 0)
		return -1;
	b.p += 4;
	while (field(&b, &num, &sub, &ok))
		if (num == 2 && sub.p)
			*raw = sub;
	return ok && raw->p ? 0 : -1;
}

/* map<string,string> entry (1 = key, 2 = value) into obj. */
static bool map_entry(struct pb e, json_t *obj)
{
	struct pb sub, k = {0}, v = {0};
	uint32_t num;
	bool ok;

	while (field(&e, &num, &sub, &ok)) {
		if (num == 1 && sub.p)
			k = sub;
		else if (num == 2 && sub.p)
			v = sub;
	}
	if (!ok || !k.p)
		return false;
	/* invalid UTF-8 in either is refused, as jansson keeps only valid text */
	return json_object_setn_new(
	           obj, (const char *)k.p, (size_t)(k.end - k.p),
	           json_stringn(v.p ? (const char *)v.p : "", (size_t)(v.end - v.p))) == 0;
}

static json_t *str_of(struct pb s)
{
	return json_stringn((const char *)s.p, (size_t)(s.end - s.p));
}

/* ObjectMeta: 1 name, 2 generateName, 11 labels, 12 annotations,
 * 14 finalizers; the rest is the server's. */
static bool object_meta(struct pb m, json_t *md)
{
	json_t *labels = json_object(), *ann = json_object(), *fin = json_array();
	struct pb sub;
	uint32_t num;
	bool ok = true;

	while (ok && field(&m, &num, &sub, &ok)) {
		if (!sub.p)
			continue;
		if (num == 1)
			json_object_set_new(md, "name", str_of(sub));
		else if (num == 2)
			json_object_set_new(md, "generateName", str_of(sub));
		else if (num == 11)
			ok = map_entry(sub, labels);
		else if (num == 12)
			ok = map_entry(sub, ann);
		else if (num == 14)
			json_array_append_new(fin, str_of(sub));
	}
	if (json_object_size(labels))
		json_object_set(md, "labels", labels);
	if (json_object_size(ann))
		json_object_set(md, "annotations", ann);
	if (json_array_size(fin))
		json_object_set(md, "finalizers", fin);
	json_decref(labels);
	json_decref(ann);
	json_decref(fin);
	return ok;
}

int api_proto_namespace(const void *body, size_t len, json_t **out)
{
	struct pb raw, sub;
	uint32_t num;
	bool ok;
	json_t *md = json_object();

	*out = NULL;
	if (unwrap(body, len, &raw) < 0) {
		json_decref(md);
		return -1;
	}
	/* Namespace: 1 = metadata (spec and status are the server's) */
	while (field(&raw, &num, &sub, &ok))
		if (num == 1 && sub.p && !object_meta(sub, md))
			ok = false;
	if (!ok) {
		json_decref(md);
		return -1;
	}
	*out = json_pack("{s:s,s:s,s:o}", "apiVersion", "v1", "kind", "Namespace", "metadata", md);
	return 0;
}

int api_proto_review_spec(const void *body, size_t len, json_t **spec)
{
	static const char *const res_names[] = {"namespace", "verb",        "group", "version",
	                                        "resource",  "subresource", "name"};
	static const char *const nonres_names[] = {"path", "verb"};
	struct pb raw = {0}, sp = {0}, sub;
	uint32_t num;
	bool ok;
	json_t *v = NULL;

	*spec = NULL;
	if (unwrap(body, len, &raw) < 0)
		return -1;
	/* the review: 2 = spec */
	while (field(&raw, &num, &sub, &ok))
		if (num == 2 && sub.p)
			sp = sub;
	if (!ok)
		return -1;
	*spec = json_object();
	/* the spec: 1 = resourceAttributes, 2 = nonResourceAttributes */
	while (sp.p && field(&sp, &num, &sub, &ok)) {
		if (!sub.p)
			continue;
		if (num != 1 && num != 2)
			continue;
		ok = num == 1 ? strings_of(sub, res_names, 7, &v)
		              : strings_of(sub, nonres_names, 2, &v);
		json_object_set_new(*spec,
		                    num == 1 ? "resourceAttributes" : "nonResourceAttributes", v);
		if (!ok)
			break;
	}
	if (!ok) {
		json_decref(*spec);
		*spec = NULL;
		return -1;
	}
	return 0;
}
