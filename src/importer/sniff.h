/*
 * importer/sniff — what an image is, told from the stream itself as it
 * flows (no temp file, no seeking): the format from its header (qcow2,
 * vmdk, vdi, vpc/vhd, vhdx, iso, else raw) and its virtual size; and the
 * on-the-fly unpacking of .gz / .xz sources, whose unpacked bytes are what
 * the sniffer sees (the stored file stays compressed, as upstream keeps it).
 *
 * Hostile input (sizes that overflow, truncated headers, bombs) ends in
 * VIM_EINVAL with a message naming the format and the field, never in a
 * crash or unbounded memory: the sniffer keeps a fixed prefix and the last
 * 1536 bytes; the unpacker a fixed output buffer.  Headers are checked as
 * qemu checks them when it opens the image, and an image that would make
 * its reader open another file (backing file, external data file, parent,
 * extents elsewhere) is refused: see importer/inspect.h.
 */
#ifndef VIM_IMPORTER_SNIFF_H
#define VIM_IMPORTER_SNIFF_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct imp_format {
	char format[16];       /* "qcow2", "raw", "iso", "vmdk", "vdi", "vpc", "vhdx" */
	uint64_t virtual_size; /* bytes */
	bool cdrom;            /* iso */
};

struct imp_sniff; /* opaque; owned by the caller */

int imp_sniff_new(struct imp_sniff **out, struct vim_err *err);
void imp_sniff_feed(struct imp_sniff *s, const void *data, size_t len);
/* Decides, once the whole stream went through (total = bytes fed). */
int imp_sniff_finish(struct imp_sniff *s, struct imp_format *out, struct vim_err *err);
void imp_sniff_free(struct imp_sniff *s);

/* ---- unpacking ------------------------------------------------------------ */

enum imp_packing { IMP_PLAIN = 0, IMP_GZIP, IMP_XZ };

/* What the first bytes say (at least 6 are needed to tell xz). */
enum imp_packing imp_packing_of(const void *first, size_t len);

struct imp_unpack; /* opaque; owned by the caller */

typedef int (*imp_out_fn)(void *arg, const void *data, size_t len);

/* max_out: a bound on the unpacked size (0 = 1 TiB); a stream that also
 * expands more than 1000:1 past its first MiB is refused as a bomb. */
int imp_unpack_new(struct imp_unpack **out, enum imp_packing p, uint64_t max_out,
                   struct vim_err *err);
/* Unpacks in into out_fn's calls (a fixed 64 KiB buffer at a time). */
int imp_unpack_feed(struct imp_unpack *u, const void *in, size_t len, imp_out_fn out_fn, void *arg,
                    struct vim_err *err);
/* A stream that ended before its compressed end is an error. */
int imp_unpack_finish(struct imp_unpack *u, struct vim_err *err);
uint64_t imp_unpack_total(const struct imp_unpack *u);
void imp_unpack_free(struct imp_unpack *u);

#endif
