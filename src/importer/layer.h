/*
 * importer/layer — finds the VM disk in an image layer as it streams by: a
 * tar (plain or gzip) whose file "disk/<name>" is the disk, the layout of
 * DVCR and of upstream's container images.  Used by the ContainerImage
 * source and by vimagectl download.
 */
#ifndef VIM_IMPORTER_LAYER_H
#define VIM_IMPORTER_LAYER_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imp_layer;
/* The disk file was found: base name and size, before any of its bytes. */
typedef int (*imp_disk_begin_fn)(void *ud, const char *name, uint64_t size, struct vim_err *err);
typedef int (*imp_disk_data_fn)(void *ud, const void *data, size_t len, struct vim_err *err);
int imp_layer_new(struct imp_layer **out, imp_disk_begin_fn begin, imp_disk_data_fn data, void *ud,
                  struct vim_err *err);
/* Layer bytes in order.  0 = go on, 1 = the disk file is complete (stop
 * reading the layer), < 0 = error (a bad tar, or begin/data failed). */
int imp_layer_feed(struct imp_layer *l, const void *data, size_t len, struct vim_err *err);
/* The layer's bytes are all in (and imp_layer_feed never returned 1):
 * 0 when the tar ended where a header would begin (the end marker, or
 * no marker, which GNU tar accepts), VIM_EINVAL "layer: truncated tar at
 * offset N" when it ended inside a header or a member, or a gzip stream
 * ended early. */
int imp_layer_finish(struct imp_layer *l, struct vim_err *err);
/* The tar's end marker was seen (so this layer has no disk). */
bool imp_layer_ended(const struct imp_layer *l);
void imp_layer_free(struct imp_layer *l);

#endif
