/*
 * store/wcache_table — one resource's objects in the watch cache: a hash
 * map for the feeder's puts and deletes, an array in key order for lists.
 *
 * The order is kept lazily: a new key is appended, a deleted one only
 * marked, and the next list sorts what was appended and merges it in (a
 * sort of the whole array only once, after the first read): creates cost
 * no shifting of 100,000 pointers each, and a list after a few changes
 * costs a few comparisons per change, not a full sort.
 */
#include "store/wcache_internal.h"
#include "core/err.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX (STORE_NAMESPACE_MAX + 1 + STORE_NAME_MAX)

struct wc_slot {
	struct wc_obj *obj; /* NULL once deleted */
	uint64_t hash;
	uint32_t klen;
	char key[]; /* "<ns>/<name>", NUL-terminated */
};

struct wc_obj *wc_obj_new(const char *text, size_t len)
{
	struct wc_obj *o = len <= UINT32_MAX ? malloc(sizeof(*o) + len + 1) : NULL;

	if (!o)
		return NULL;
	atomic_init(&o->refs, 1);
	o->len = o->size = (uint32_t)len;
	o->packed = false;
	memcpy(o->text, text, len);
	o->text[len] = '\0';
	return o;
}

struct wc_obj *wc_obj_new_packed(const char *bytes, size_t size, size_t len)
{
	struct wc_obj *o = malloc(sizeof(*o) + size);

	if (!o)
		return NULL;
	atomic_init(&o->refs, 1);
	o->len = (uint32_t)len;
	o->size = (uint32_t)size;
	o->packed = true;
	memcpy(o->text, bytes, size);
	return o;
}

void wc_obj_ref(struct wc_obj *o)
{
	atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);
}

void wc_obj_unref(struct wc_obj *o)
{
	/* acq_rel: the last one to drop it sees every other's reads done */
	if (o && atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) == 1)
		free(o);
}

/* FNV-1a: keys are short and the map only needs a spread. */
static uint64_t key_hash(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
	return h;
}

/* "<ns>/<name>" into buf; its length, or 0 when it is longer than any
 * valid key (the API never stores one; a foreign writer might). */
static size_t key_make(char buf[KEY_MAX + 1], const char *ns, const char *name)
{
	int n = snprintf(buf, KEY_MAX + 1, "%s/%s", ns ? ns : "", name);

	return n > 0 && n <= KEY_MAX ? (size_t)n : 0;
}

int wc_table_init(struct wc_table *t, const char *resource)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->resource, sizeof(t->resource), "%s", resource);
	t->tcap = 64;
	if (!(t->tab = calloc(t->tcap, sizeof(*t->tab))))
		return VIM_ENOMEM;
	return 0;
}

void wc_table_clear(struct wc_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		wc_obj_unref(t->order[i]->obj);
		free(t->order[i]);
	}
	free(t->order);
	free(t->tab);
	memset(t, 0, sizeof(*t));
}

/* The index of key's slot, or of the empty place where it would go. */
static size_t probe(const struct wc_table *t, const char *key, size_t klen, uint64_t h)
{
	size_t mask = t->tcap - 1, i = (size_t)h & mask;

	while (t->tab[i] && !(t->tab[i]->hash == h && t->tab[i]->klen == klen &&
	                      memcmp(t->tab[i]->key, key, klen) == 0))
		i = (i + 1) & mask;
	return i;
}

static int grow_map(struct wc_table *t)
{
	size_t cap = t->tcap * 2, i, j;
	struct wc_slot **tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return VIM_ENOMEM;
	for (i = 0; i < t->tcap; i++)
		if (t->tab[i]) {
			for (j = (size_t)t->tab[i]->hash & (cap - 1); tab[j];
			     j = (j + 1) & (cap - 1))
				;
			tab[j] = t->tab[i];
		}
	free(t->tab);
	t->tab = tab;
	t->tcap = cap;
	return 0;
}

static int grow_order(struct wc_table *t)
{
	size_t cap = t->ocap ? t->ocap * 2 : 64;
	struct wc_slot **o = realloc(t->order, cap * sizeof(*o));

	if (!o)
		return VIM_ENOMEM;
	t->order = o;
	t->ocap = cap;
	return 0;
}

int wc_table_put(struct wc_table *t, const char *ns, const char *name, struct wc_obj *o,
                 struct wc_obj **old)
{
	char key[KEY_MAX + 1];
	size_t klen = key_make(key, ns, name), i;
	uint64_t h = key_hash(key, klen);
	struct wc_slot *s;

	*old = NULL;
	if (!klen) {
		wc_obj_unref(o);
		return VIM_EINVAL;
	}
	i = probe(t, key, klen, h);
	if ((s = t->tab[i])) {
		*old = s->obj;
		t->bytes += o->size;
		t->bytes -= s->obj->size;
		s->obj = o;
		return 0;
	}
	if (((t->live + 1) * 4 > t->tcap * 3 && grow_map(t) < 0) ||
	    (t->n == t->ocap && grow_order(t) < 0) || !(s = malloc(sizeof(*s) + klen + 1))) {
		wc_obj_unref(o);
		return VIM_ENOMEM;
	}
	s->obj = o;
	s->hash = h;
	s->klen = (uint32_t)klen;
	memcpy(s->key, key, klen + 1);
	t->tab[probe(t, key, klen, h)] = s; /* probe again: the map may have grown */
	t->live++;
	t->order[t->n++] = s;
	t->bytes += o->size + klen;
	return 0;
}

void wc_table_del(struct wc_table *t, const char *ns, const char *name, struct wc_obj **old)
{
	char key[KEY_MAX + 1];
	size_t klen = key_make(key, ns, name), mask = t->tcap - 1, i, j;
	uint64_t h = key_hash(key, klen);
	struct wc_slot *s;

	*old = NULL;
	if (!klen || !(s = t->tab[i = probe(t, key, klen, h)]))
		return;
	/* Backward-shift deletion: every slot after it in its run that may
	 * sit at i moves there, so probes never meet a hole too early. */
	t->tab[i] = NULL;
	for (j = (i + 1) & mask; t->tab[j]; j = (j + 1) & mask) {
		size_t home = (size_t)t->tab[j]->hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->tab[i] = t->tab[j];
			t->tab[j] = NULL;
			i = j;
		}
	}
	t->live--;
	t->bytes -= s->obj->size + s->klen;
	*old = s->obj;
	s->obj = NULL; /* the slot stays in the order until the next sort */
	t->dead++;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct wc_slot *x = *(const struct wc_slot *const *)a;
	const struct wc_slot *y = *(const struct wc_slot *const *)b;
	size_t n = x->klen < y->klen ? x->klen : y->klen;
	int c = memcmp(x->key, y->key, n);

	return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

/* Brings the order up to date: deleted slots freed, the appended ones
 * sorted and merged in. */
static int order_update(struct wc_table *t)
{
	size_t i, k = 0, sorted = 0, a, b, tail;
	struct wc_slot **tmp;

	if (t->dead) {
		for (i = 0; i < t->n; i++) {
			if (!t->order[i]->obj) {
				free(t->order[i]);
				continue;
			}
			if (i < t->sorted)
				sorted++;
			t->order[k++] = t->order[i];
		}
		t->n = k;
		t->sorted = sorted;
		t->dead = 0;
	}
	if (t->sorted == t->n)
		return 0;
	tail = t->n - t->sorted;
	qsort(t->order + t->sorted, tail, sizeof(*t->order), slot_cmp);
	if (t->sorted > 0) {
		/* merge the sorted prefix with the sorted tail */
		if (!(tmp = malloc(t->n * sizeof(*tmp))))
			return VIM_ENOMEM;
		for (a = 0, b = t->sorted, k = 0; a < t->sorted || b < t->n;)
			tmp[k++] = b == t->n || (a < t->sorted &&
			                         slot_cmp(&t->order[a], &t->order[b]) <= 0)
			               ? t->order[a++]
			               : t->order[b++];
		memcpy(t->order, tmp, t->n * sizeof(*tmp));
		free(tmp);
	}
	t->sorted = t->n;
	return 0;
}

int wc_table_snapshot(struct wc_table *t, const char *ns, struct wc_obj ***out, size_t *n)
{
	char prefix[STORE_NAMESPACE_MAX + 2];
	size_t plen = 0, lo = 0, hi, i, k = 0;
	struct wc_obj **objs;
	int rc;

	*out = NULL;
	*n = 0;
	if ((rc = order_update(t)) < 0)
		return rc;
	hi = t->n;
	if (ns && *ns) {
		int len = snprintf(prefix, sizeof(prefix), "%s/", ns);
		if (len <= 0 || (size_t)len >= sizeof(prefix))
			return 0; /* no valid namespace is that long: nothing in it */
		plen = (size_t)len;
		/* the first key not before the prefix */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (memcmp(t->order[mid]->key, prefix,
			           plen < t->order[mid]->klen ? plen : t->order[mid]->klen + 1) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		hi = t->n;
	}
	if (!(objs = malloc((t->live ? t->live : 1) * sizeof(*objs))))
		return VIM_ENOMEM;
	for (i = lo; i < hi; i++) {
		struct wc_slot *s = t->order[i];
		if (plen && (s->klen < plen || memcmp(s->key, prefix, plen) != 0))
			break;
		wc_obj_ref(s->obj);
		objs[k++] = s->obj;
	}
	*out = objs;
	*n = k;
	return 0;
}
