/* store/object_internal — the object layer's state, shared by its files. */
#ifndef VIM_STORE_OBJECT_INTERNAL_H
#define VIM_STORE_OBJECT_INTERNAL_H

#include "store/object.h"

#include <pthread.h>

/* How often a write whose compare lost to another writer reads again and
 * re-applies (each failure is another writer's success: progress). */
#define OBJ_CAS_TRIES 64

struct obj_store {
	struct store base;    /* first: a struct store * is a struct obj_store * */
	struct store_ops ops; /* base.ops: obj_ops named after the backend */
	struct store_kv *kv;
	const struct store_kv_ops *kops; /* kv->ops */
	struct store_hub *hub;
	struct store_reads *reads; /* NULL for a local backend */
	/* A local backend's publishes (`committed`, under its write lock) and
	 * store_watch's registration take it: no change can slip between the
	 * revision a watcher starts from and its registration. */
	pthread_mutex_t mu;
	int64_t rv;                        /* the last revision published; guarded by mu */
	struct store_event_expiry *expiry; /* NULL: Events are kept, or leased */
	int64_t event_ttl_s;
	/* the Events' shared lease (kube's leaseManager) */
	pthread_mutex_t lease_mu;
	int64_t lease, lease_at_ms; /* guarded by lease_mu */
};

/* Reads one object (a new reference) with metadata.resourceVersion =
 * its mod_rev (*mod_rev as well); VIM_ENOTFOUND in kube's words. */
int obj_load(struct obj_store *s, const char *resource, const char *ns, const char *name,
             json_t **out, int64_t *mod_rev, struct vim_err *err);

/* One CAS write of obj (borrowed; it gets metadata.resourceVersion) as a
 * change of type (STORE_DELETED: the key is deleted, obj is its last
 * state), compared on expect_rev (0: the key must not exist).  prev
 * (stolen) is store_hub_selectable of the stored object, required for
 * STORE_MODIFIED.  VIM_ECONFLICT, with nothing written, when the compare
 * fails; the caller decides whether to read again.  fence (borrowed; NULL
 * = none): the write also compares the leader key (struct store_fence);
 * a closed fence (rev 0) or one past its until_ms is VIM_EFENCED without
 * asking the backend, and so is a failed fence compare. */
int obj_put(struct obj_store *s, const char *resource, json_t *obj, json_t *prev,
            enum store_event_type type, int64_t expect_rev, struct store_fence *fence,
            struct vim_err *err);
/* obj_put (fenced by wo->fence), or under wo->dry_run what it would leave
 * in obj without writing (a dry run is not fenced): obj's resourceVersion
 * becomes stored_rv (NULL: none). */
int obj_write(struct obj_store *s, const char *resource, json_t *obj, json_t *prev,
              enum store_event_type type, int64_t expect_rev, const char *stored_rv,
              const struct store_write_opts *wo, struct vim_err *err);

/* object_create.c */
int obj_create(struct store *base, const char *resource, const json_t *in,
               const struct store_write_opts *wo, json_t **out, struct vim_err *err);
int obj_restore(struct store *base, const char *resource, const json_t *in, json_t **out,
                struct vim_err *err);
/* object_write.c */
int obj_update(struct store *base, const char *resource, const json_t *in,
               const struct store_write_opts *wo, json_t **out, struct vim_err *err);
int obj_update_status(struct store *base, const char *resource, const json_t *in,
                      const struct store_write_opts *wo, json_t **out, struct vim_err *err);
int obj_remove(struct store *base, const struct store_delete_opts *o, json_t **out, bool *deleted,
               struct vim_err *err);
/* object_list.c */
int obj_list(struct store *base, const char *resource, const struct store_list_opts *o,
             store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err);

#endif
