/*
 * dvcr/managed — the DVCR vimaged runs for itself when it is given no
 * --dvcr-url: a docker-registry (Debian's CNCF distribution) child process
 * on a loopback port, configured the way lost-data detection needs it
 * (shared/spec/dvcr.md): storage under DIR, deletes enabled, *no* blob
 * descriptor cache (it hides lost data), htpasswd (bcrypt) auth with
 * generated credentials, and notifications pointed at vimaged.
 *
 * DIR keeps what must survive a restart of vimaged: config.yml, the
 * password, the htpasswd file and the port (registryURLs in image statuses
 * name it, so the same port is taken again when it is free), plus the
 * registry's log (registry.log) and its storage (storage/).
 *
 * A supervisor thread restarts the registry if it dies (after 1 s, doubling
 * to 30 s while it keeps dying).  The child gets SIGTERM if vimaged dies,
 * so no registry is left behind.
 */
#ifndef VIM_DVCR_MANAGED_H
#define VIM_DVCR_MANAGED_H

#include "core/err.h"

struct dvcr_managed_config {
	const char *dir;          /* required; created (0700) if absent */
	const char *binary;       /* NULL = docker-registry found on PATH */
	const char *notify_url;   /* registry events go there; NULL = none */
	const char *notify_token; /* sent as "Authorization: Bearer <token>" */
};

struct dvcr_managed;

/* Writes the configuration, starts the registry and waits (up to 15 s) for
 * it to answer /v2/.  *out is the caller's, released by dvcr_managed_stop.
 * Strings of cfg are copied. */
int dvcr_managed_start(struct dvcr_managed **out, const struct dvcr_managed_config *cfg,
                       struct vim_err *err);
/* "http://127.0.0.1:PORT"; borrowed, valid until dvcr_managed_stop. */
const char *dvcr_managed_url(const struct dvcr_managed *m);
/* The generated credentials (user "vimage"); borrowed likewise. */
const char *dvcr_managed_username(const struct dvcr_managed *m);
const char *dvcr_managed_password(const struct dvcr_managed *m);
/* Stops supervising, sends SIGTERM (SIGKILL after 10 s) and waits for the
 * registry to exit; frees m.  NULL is allowed. */
void dvcr_managed_stop(struct dvcr_managed *m);

#endif
