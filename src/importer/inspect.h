/*
 * importer/inspect — the format inspectors behind importer/sniff: one per
 * format that has a header worth distrusting (qcow2, vmdk, vpc, vhdx, vdi).
 *
 * Each inspector sees the stream once it has ended: its first bytes (a
 * bounded prefix), its last bytes and its total length, so it checks the
 * header as qemu would when it opens the image, plus what a stream allows
 * and qemu does not check: that the tables the header points at lie within
 * the file.  An image that would make its reader open another file (a
 * backing file, an external data file, a parent disk, extents elsewhere)
 * is refused: the importer runs on the host and so would its consumers.
 *
 * Every bound is written `off > len || n > len - off` (imp_span_ok) so that
 * no offset taken from the header can wrap.
 */
#ifndef VIM_IMPORTER_INSPECT_H
#define VIM_IMPORTER_INSPECT_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The last bytes the sniffer keeps: a VMDK footer and its end-of-stream
 * marker (3 sectors), a VHD footer (1 sector). */
#define IMP_TAIL_MAX 1536

/* What an inspector sees of a whole stream (borrowed). */
struct imp_probe {
	const unsigned char *head; /* the first hlen bytes of the stream */
	size_t hlen;
	const unsigned char *tail; /* the last tlen bytes, in order */
	size_t tlen;
	uint64_t total; /* bytes in the whole stream (hlen, tlen <= total) */
};

/* Each returns 0 and the virtual size in bytes, or VIM_EINVAL with a
 * message naming the format, the field and the reason. */
int imp_inspect_qcow2(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
int imp_inspect_vmdk(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
int imp_inspect_vpc(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
int imp_inspect_vhdx(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
/* A VMware 3 "COWD" file or a bare descriptor file: always refused. */
int imp_inspect_vmdk_other(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
bool imp_vmdk_descriptor_like(const unsigned char *b, size_t n);
int imp_inspect_vdi(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);

/* Whether [off, off + n) lies within [0, len), without overflow. */
static inline bool imp_span_ok(uint64_t off, uint64_t n, uint64_t len)
{
	return off <= len && n <= len - off;
}

static inline uint64_t imp_be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
static inline uint32_t imp_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t imp_le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static inline uint32_t imp_le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static inline uint16_t imp_le16(const unsigned char *p)
{
	return (uint16_t)(p[1] << 8 | p[0]);
}

/* Copies up to n bytes of a name from the header into out, printable ASCII
 * only (others become '?'), for quoting in a message. */
void imp_inspect_quote(char *out, size_t outlen, const unsigned char *name, size_t n);

#endif
