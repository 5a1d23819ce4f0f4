/*
 * store/wcache_internal — the watch cache's table of one resource: its
 * objects by key ("<ns>/<name>") in a hash map, and in the etcd backend's
 * order (the bytes of the key) for lists.  Not thread-safe: the cache
 * (wcache.c) calls it under its lock.
 *
 * An object is held as one immutable, reference-counted text: a list
 * takes references under the lock and streams them after releasing it,
 * so a slow client never holds a writer up, and a change that replaces
 * an object while a list streams leaves the list its own version.
 */
#ifndef VIM_STORE_WCACHE_INTERNAL_H
#define VIM_STORE_WCACHE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* One version of one object: its compact JSON with
 * metadata.resourceVersion (len bytes), kept in text[] as it is
 * (NUL-terminated) or deflated (size bytes; wcache_text.c). */
struct wc_obj {
	atomic_int refs;
	uint32_t len, size;
	bool packed;
	char text[];
};

/* A copy of text (len bytes) with one reference; NULL when out of memory. */
struct wc_obj *wc_obj_new(const char *text, size_t len);
/* One of size deflated bytes whose text is len bytes. */
struct wc_obj *wc_obj_new_packed(const char *bytes, size_t size, size_t len);
void wc_obj_ref(struct wc_obj *o);
void wc_obj_unref(struct wc_obj *o); /* NULL is fine */

/* A deflate and an inflate stream and a buffer, for one thread at a time
 * (the feeder, a first read, a list). */
struct wc_codec {
	z_stream def, inf;
	bool def_ok, inf_ok;
	char *buf; /* the last text wc_obj_text gave */
	size_t cap;
};
void wc_codec_init(struct wc_codec *z); /* its streams are made at first use */
void wc_codec_free(struct wc_codec *z);
/* The object to keep for text: deflated when that is smaller (and text
 * long enough to be worth it), else a plain copy; NULL out of memory. */
struct wc_obj *wc_obj_pack(struct wc_codec *z, const char *text, size_t len);
/* o's text, *len bytes and a NUL: o's own or z's buffer (valid until z's
 * next use); NULL when out of memory. */
const char *wc_obj_text(struct wc_codec *z, const struct wc_obj *o, size_t *len);

struct wc_slot; /* a key and its current object */

struct wc_table {
	char resource[64];
	/* open addressing, linear probing, a power of two; the live slots */
	struct wc_slot **tab;
	size_t tcap, live;
	/* every slot, live or deleted (obj NULL, freed at the next sort); the
	 * first `sorted` in key order, the rest appended since */
	struct wc_slot **order;
	size_t n, ocap, sorted, dead;
	size_t bytes; /* the live objects' kept bytes and keys */
};

/* An empty table of resource (copied); the struct is the caller's. */
int wc_table_init(struct wc_table *t, const char *resource);
void wc_table_clear(struct wc_table *t); /* frees what it holds; init-able again */

/* Sets key (ns, name)'s object to o (its reference taken).  *old gets
 * the object it replaces (a reference the caller drops) or NULL for a
 * new key.  VIM_ENOMEM (o then dropped) or VIM_EINVAL for a key longer
 * than any valid one. */
int wc_table_put(struct wc_table *t, const char *ns, const char *name, struct wc_obj *o,
                 struct wc_obj **old);
/* Removes the key; *old its object (the caller's reference) or NULL. */
void wc_table_del(struct wc_table *t, const char *ns, const char *name, struct wc_obj **old);

/* References to the objects of namespace ns (NULL/"" = all) in key
 * order, in *out (malloc'd; the caller drops each and frees it). */
int wc_table_snapshot(struct wc_table *t, const char *ns, struct wc_obj ***out, size_t *n);

/* For tests of a compaction while the backend's watch is away: stops the
 * cache's backend watch, and starts it again from the revision after the
 * last one the cache has seen (a Gone from the backend then reads
 * everything again, as a GONE event does). */
struct store_reads;
struct vim_err;
void wcache_watch_pause(struct store_reads *r);
int wcache_watch_resume(struct store_reads *r, struct vim_err *err);

#endif
