/* controller/handlers — the reconcile table, in upstream's order (the
 * garbage-collection postpone, StorageClassReady and Attachee handlers have
 * nothing to act on here: no DVCR GC runs, no PVC storage, no VMs). */
#include "controller/chain.h"

const struct ctl_handler ctl_image_handlers[] = {
    {"DatasourceReady", ctl_handle_datasource_ready},
    {"LifeCycle", ctl_handle_lifecycle},
    {"ImagePresence", ctl_handle_image_presence},
    {"Deletion", ctl_handle_deletion},
};
const size_t ctl_image_handlers_len = sizeof(ctl_image_handlers) / sizeof(ctl_image_handlers[0]);
