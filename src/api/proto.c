/*
 * api/auth_proto — reads the protobuf bodies kubectl posts for its auth
 * reviews (client-go sends built-in kinds as application/vnd.kubernetes.
 * protobuf): the "k8s\0" envelope, runtime.Unknown, and of the review only
 * spec.resourceAttributes / spec.nonResourceAttributes (strings), which is
 * all an answer echoes.  Bounded by the body: every length is checked
 * against what is left, nesting is fixed (no recursion on input).
 */
#include "api/auth_proto.h"

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

int api_auth_proto_spec(const void *body, size_t len, json_t **spec)
{
	static const char *const res_names[] = {"namespace", "verb",        "group", "version",
	                                        "resource",  "subresource", "name"};
	static const char *const nonres_names[] = {"path", "verb"};
	struct pb b = {(const unsigned char *)body, (const unsigned char *)body + len}, raw = {0},
	          sp = {0}, sub;
	uint32_t num;
	bool ok;
	json_t *v = NULL;

	*spec = NULL;
	if (len < 4 || memcmp(body, "k8s\0", 4) != 0)
		return -1;
	b.p += 4;
	/* runtime.Unknown: 2 = raw (the review's own bytes) */
	while (field(&b, &num, &sub, &ok))
		if (num == 2 && sub.p)
			raw = sub;
	if (!ok || !raw.p)
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
