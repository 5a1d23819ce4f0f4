/*
 * controller/namespace — kube's namespace controller: a deleted Namespace
 * (deletionTimestamp set, spec.finalizers ["kubernetes"] holding it
 * Terminating) has its VirtualImages deleted — their own finalizers and the
 * image controllers clean up their DVCR data — then, once none is left, its
 * Events; then its spec.finalizers are emptied and the store removes it.
 */
#ifndef VIM_CONTROLLER_NAMESPACE_H
#define VIM_CONTROLLER_NAMESPACE_H

#include "store/store.h"

struct ctl_namespaces;

/* Starts the sweeper thread on store (borrowed, outlives it).  *out is
 * freed with ctl_namespaces_stop. */
int ctl_namespaces_start(struct ctl_namespaces **out, struct store *store, struct vim_err *err);
void ctl_namespaces_stop(struct ctl_namespaces *n); /* NULL is fine */

/* One pass over the Terminating namespaces: one step of each (delete its
 * images; or, with none left, its events; or, with nothing left, let it
 * go).  Returns how many namespaces it removed, or a negative code. */
int ctl_namespaces_sweep(struct store *store, struct vim_err *err);

#endif
