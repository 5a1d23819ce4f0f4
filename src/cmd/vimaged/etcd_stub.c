/*
 * vimaged/etcd_stub — store_etcd_open until the etcd backend is in the
 * library (it lands on another branch: delete this file when merging it;
 * the library's definition is then the one linked).  Without it vimaged
 * would not link; with it, --store etcd fails at start with one line.
 */
#include "store/store.h"

int store_etcd_open(struct store **out, const struct store_etcd_opts *o, struct vim_err *err)
{
	*out = NULL;
	return vim_err_set(err, VIM_EUNSUPPORTED,
	                   "etcd %s: this vimaged was built without the etcd backend",
	                   o->endpoints ? o->endpoints : "");
}
