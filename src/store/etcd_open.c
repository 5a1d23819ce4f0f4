/*
 * store/etcd_open — the etcd store: the etcd kv backend (store/kv.h) under
 * the object rules (store/object.h), its reads served by the watch cache
 * (store/wcache.h) as kube-apiserver serves them.
 */
#include "store/object.h"
#include "store/wcache.h"

int store_etcd_open(struct store **out, const struct store_etcd_opts *o, struct vim_err *err)
{
	struct store_kv_etcd_opts ko = {
	    .endpoints = o->endpoints,
	    .prefix = o->prefix,
	    .cafile = o->cafile,
	    .certfile = o->certfile,
	    .keyfile = o->keyfile,
	    .timeout_ms = o->timeout_ms,
	};
	struct store_object_opts so = {
	    .history = o->history,
	    .history_bytes = o->history_bytes,
	    .event_ttl_s = o->event_ttl_s,
	    .reads_open = store_wcache_open,
	};
	struct store_kv *kv = NULL;
	int rc;

	*out = NULL;
	if ((rc = store_kv_etcd_open(&kv, &ko, err)) < 0)
		return rc;
	return store_object_open(out, kv, &so, err); /* takes kv */
}
