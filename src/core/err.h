/*
 * core/err — the one error vocabulary of vimage.
 *
 * Contract: a fallible function returns 0 or a negative VIM_E* code and, on
 * failure, fills a caller-owned struct vim_err whose message names the object
 * and the cause.  The struct is fixed-size: filling it never allocates, so it
 * is safe on out-of-memory paths.  A NULL err is allowed everywhere and means
 * "the caller does not want the message".
 */
#ifndef VIM_CORE_ERR_H
#define VIM_CORE_ERR_H

#include <stddef.h>

enum vim_code {
	VIM_OK = 0,
	VIM_EINVAL = -1,       /* bad input: a field, a flag, a manifest */
	VIM_ENOTFOUND = -2,    /* the named object does not exist */
	VIM_EEXIST = -3,       /* create of an object that already exists */
	VIM_ECONFLICT = -4,    /* optimistic concurrency: stale resourceVersion */
	VIM_EGONE = -5,        /* a watch resourceVersion older than history */
	VIM_ETOOLARGE = -6,    /* a body or value over its limit */
	VIM_EUNSUPPORTED = -7, /* valid upstream, not supported by this server */
	VIM_EAUTH = -8,        /* missing or wrong credentials */
	VIM_EFORBIDDEN = -9,   /* a change the rules forbid (immutable spec) */
	VIM_EIO = -10,         /* local I/O: disk, database */
	VIM_EUPSTREAM = -11,   /* a remote peer (registry, HTTP source) failed */
	VIM_ENOMEM = -12,
	VIM_ECANCELED = -13,
	VIM_ETIMEDOUT = -14,
	VIM_EINTERNAL = -15,    /* a bug: an invariant did not hold */
	VIM_EUNAVAILABLE = -16, /* a backend we need cannot be reached (etcd down) */
	VIM_EFENCED = -17       /* a fenced write of a replica that no longer leads */
};

#define VIM_ERR_MSG_MAX 512

struct vim_err {
	int code;
	char msg[VIM_ERR_MSG_MAX];
};

/* Fills err (if not NULL) and returns code, so callers can write
 * `return vim_err_set(err, VIM_EINVAL, "...", ...);`. */
int vim_err_set(struct vim_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes err->msg with a context ("store: "), keeping the code. */
int vim_err_wrap(struct vim_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void vim_err_clear(struct vim_err *err);

/* Stable short name of a code ("EINVAL"), never NULL. */
const char *vim_code_name(int code);

/* The HTTP status and Kubernetes Status.reason for a code: one table. */
int vim_code_http_status(int code);
const char *vim_code_k8s_reason(int code);

#endif
