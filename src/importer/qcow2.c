/*
 * importer/qcow2 — the qcow2 header checked as qemu's qcow2_do_open checks
 * it (block/qcow2.c, docs/interop/qcow2.txt), so that an image qemu-img
 * refuses is never marked Ready; then refused if it would read other files
 * (a backing file, an external data file: CVE-2024-32498's class), if it is
 * encrypted (no key here) or marked corrupt, or if its tables lie beyond
 * the end of the stream (qemu reads zeros there; we know the stream's end).
 */
#include "importer/inspect.h"

#include <stdarg.h>
#include <stdio.h>

#define HDR_V2 72u
#define HDR_V3 104u
#define MIN_CLUSTER_BITS 9u
#define MAX_CLUSTER_BITS 21u
#define MAX_L1_BYTES (32ull << 20)      /* QCOW_MAX_L1_SIZE */
#define MAX_REFTABLE_BYTES (8ull << 20) /* QCOW_MAX_REFTABLE_SIZE */
#define MAX_SNAPSHOTS 65536u            /* QCOW_MAX_SNAPSHOTS */
#define SNAPSHOT_HDR 40u                /* sizeof(QCowSnapshotHeader) */
#define MAX_BACKING_NAME 1023u

/* incompatible feature bits qemu knows */
#define INCOMPAT_DIRTY (1ull << 0)
#define INCOMPAT_CORRUPT (1ull << 1)
#define INCOMPAT_DATA_FILE (1ull << 2)
#define INCOMPAT_COMPRESSION (1ull << 3)
#define INCOMPAT_EXTL2 (1ull << 4)
#define INCOMPAT_KNOWN 0x1full
#define AUTOCLEAR_BITMAPS (1ull << 0)

#define EXT_END 0u
#define EXT_BACKING_FORMAT 0xe2792acau
#define EXT_CRYPTO 0x0537be77u
#define EXT_BITMAPS 0x23852875u
#define EXT_DATA_FILE 0x44415441u
#define MAX_BITMAPS 65535u

struct qhdr {
	uint32_t version, backing_size, cluster_bits, crypt, l1_size, reftable_clusters, nb_snap;
	uint32_t refcount_order, hdr_len;
	uint64_t backing_off, size, l1_off, reftable_off, snap_off;
	uint64_t incompat, autoclear, cluster;
	unsigned compression; /* byte 104, when the header has it */
};

__attribute__((format(printf, 2, 3))) static int bad(struct vim_err *err, const char *fmt, ...)
{
	char what[VIM_ERR_MSG_MAX - 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return vim_err_set(err, VIM_EINVAL, "qcow2 header: %s", what);
}

static void parse(struct qhdr *h, const unsigned char *b, size_t hlen)
{
	h->version = imp_be32(b + 4);
	h->backing_off = imp_be64(b + 8);
	h->backing_size = imp_be32(b + 16);
	h->cluster_bits = imp_be32(b + 20);
	h->size = imp_be64(b + 24);
	h->crypt = imp_be32(b + 32);
	h->l1_size = imp_be32(b + 36);
	h->l1_off = imp_be64(b + 40);
	h->reftable_off = imp_be64(b + 48);
	h->reftable_clusters = imp_be32(b + 56);
	h->nb_snap = imp_be32(b + 60);
	h->snap_off = imp_be64(b + 64);
	h->incompat = h->autoclear = 0;
	h->refcount_order = 4;
	h->hdr_len = HDR_V2;
	h->compression = 0;
	if (h->version == 3) {
		h->incompat = imp_be64(b + 72);
		h->autoclear = imp_be64(b + 88);
		h->refcount_order = imp_be32(b + 96);
		h->hdr_len = imp_be32(b + 100);
		if (h->hdr_len > HDR_V3 && hlen > HDR_V3)
			h->compression = b[HDR_V3];
	}
}

/* The fields qemu checks before it reads any table. */
static int check_fields(const struct qhdr *h, struct vim_err *err)
{
	if (h->cluster_bits < MIN_CLUSTER_BITS || h->cluster_bits > MAX_CLUSTER_BITS)
		return bad(err, "cluster_bits %u is out of range %u..%u", h->cluster_bits,
		           MIN_CLUSTER_BITS, MAX_CLUSTER_BITS);
	if (h->version == 3 && h->hdr_len < HDR_V3)
		return bad(err, "header_length %u is shorter than %u", h->hdr_len, HDR_V3);
	if (h->version == 3 && h->hdr_len > h->cluster)
		return bad(err, "header_length %u exceeds the cluster size %llu", h->hdr_len,
		           (unsigned long long)h->cluster);
	/* qemu does not check this one; the spec says it must hold */
	if (h->hdr_len % 8 != 0)
		return bad(err, "header_length %u is not a multiple of 8", h->hdr_len);
	if (h->incompat & ~INCOMPAT_KNOWN)
		return bad(err, "unknown incompatible features 0x%llx (known: 0x%llx)",
		           (unsigned long long)(h->incompat & ~INCOMPAT_KNOWN), INCOMPAT_KNOWN);
	if (h->incompat & INCOMPAT_CORRUPT)
		return bad(err, "the image is marked corrupt (incompatible feature bit 1)");
	if ((h->incompat & INCOMPAT_EXTL2) && h->cluster_bits < 14)
		return bad(err, "extended L2 entries need cluster_bits >= 14, not %u",
		           h->cluster_bits);
	if (h->compression > 1)
		return bad(err, "compression_type %u is unknown (0 zlib, 1 zstd)", h->compression);
	if (h->compression != 0 && !(h->incompat & INCOMPAT_COMPRESSION))
		return bad(err, "compression_type %u without incompatible feature bit 3",
		           h->compression);
	if (h->refcount_order > 6)
		return bad(err, "refcount_order %u exceeds 6", h->refcount_order);
	if (h->crypt > 2)
		return bad(err, "crypt_method %u is unknown (0..2)", h->crypt);
	if (h->crypt != 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "qcow2 is encrypted (crypt_method %u): encrypted images are "
		                   "not supported",
		                   h->crypt);
	return 0;
}

/* qcow2_validate_table: bounded entries, an aligned offset, no wrap; and,
 * unlike qemu, the table within the stream. */
struct table {
	const char *name, *count_field, *off_field;
	uint64_t off, entries, entry_len, max_bytes;
};

static int check_table(const struct qhdr *h, const struct table *t, uint64_t total,
                       struct vim_err *err)
{
	uint64_t bytes;

	if (t->entries > t->max_bytes / t->entry_len)
		return bad(err, "the %s (%s %llu) exceeds %llu bytes", t->name, t->count_field,
		           (unsigned long long)t->entries, (unsigned long long)t->max_bytes);
	bytes = t->entries * t->entry_len;
	if (t->off & (h->cluster - 1) || t->off > (uint64_t)INT64_MAX - bytes)
		return bad(err, "%s %llu is not aligned to the cluster size %llu", t->off_field,
		           (unsigned long long)t->off, (unsigned long long)h->cluster);
	if (t->entries && !imp_span_ok(t->off, bytes, total))
		return bad(err,
		           "the %s at %s %llu (%llu bytes) lies beyond the end of the image "
		           "(%llu bytes)",
		           t->name, t->off_field, (unsigned long long)t->off,
		           (unsigned long long)bytes, (unsigned long long)total);
	return 0;
}

static int check_tables(const struct qhdr *h, uint64_t total, struct vim_err *err)
{
	unsigned l2_bits = h->cluster_bits - ((h->incompat & INCOMPAT_EXTL2) ? 4 : 3);
	uint64_t per_l1 = 1ull << (h->cluster_bits + l2_bits), need;
	struct table l1 = {"L1 table", "l1_size", "l1_table_offset", h->l1_off,
	                   h->l1_size, 8,         MAX_L1_BYTES};
	struct table rt = {"refcount table",  "refcount_table_clusters", "refcount_table_offset",
	                   h->reftable_off,   h->reftable_clusters,      h->cluster,
	                   MAX_REFTABLE_BYTES};
	struct table sn = {"snapshot table",
	                   "nb_snapshots",
	                   "snapshots_offset",
	                   h->snap_off,
	                   h->nb_snap,
	                   SNAPSHOT_HDR,
	                   (uint64_t)SNAPSHOT_HDR * MAX_SNAPSHOTS};
	int rc;

	if (h->size == 0 || h->size > (1ull << 60))
		return bad(err, "size %llu is not a disk size", (unsigned long long)h->size);
	if (h->l1_size > MAX_L1_BYTES / 8)
		return bad(err, "l1_size %u exceeds %llu entries", h->l1_size, MAX_L1_BYTES / 8);
	need = h->size / per_l1 + (h->size % per_l1 != 0);
	if (need > INT32_MAX)
		return bad(err, "size %llu needs %llu L1 entries: too big",
		           (unsigned long long)h->size, (unsigned long long)need);
	if (h->l1_size < need)
		return bad(err, "l1_size %u is too small for the virtual size (needs %llu)",
		           h->l1_size, (unsigned long long)need);
	if ((rc = check_table(h, &l1, total, err)) < 0)
		return rc;
	if (h->reftable_clusters == 0)
		return bad(err, "refcount_table_clusters is 0: no refcount table");
	if ((rc = check_table(h, &rt, total, err)) < 0)
		return rc;
	if (h->nb_snap > MAX_SNAPSHOTS)
		return bad(err, "nb_snapshots %u exceeds %u", h->nb_snap, MAX_SNAPSHOTS);
	return check_table(h, &sn, total, err);
}

/* The header extensions, from the header's end to the first cluster's
 * (bytes past the stream's end read as zeros, as qemu reads them). */
static int check_extensions(const struct qhdr *h, const struct imp_probe *p, struct vim_err *err)
{
	uint64_t off = h->hdr_len, end = h->cluster;
	char name[128];

	while (off < end) {
		uint32_t magic, len;
		const unsigned char *d;

		if (!imp_span_ok(off, 8, p->hlen))
			return 0;
		magic = imp_be32(p->head + off);
		len = imp_be32(p->head + off + 4);
		off += 8;
		if (len > end - off)
			return vim_err_set(err, VIM_EINVAL,
			                   "qcow2 header: extension 0x%08x at %llu (%u bytes) runs "
			                   "past the first cluster",
			                   magic, (unsigned long long)off - 8, len);
		d = p->head + (off < p->hlen ? off : 0); /* read only within a span check */
		switch (magic) {
		case EXT_END:
			return 0;
		case EXT_DATA_FILE:
			imp_inspect_quote(name, sizeof(name), d,
			                  imp_span_ok(off, len, p->hlen) ? len : 0);
			return vim_err_set(
			    err, VIM_EINVAL,
			    "qcow2 names an external data file (\"%s\"): images that "
			    "read other files are refused",
			    name);
		case EXT_BACKING_FORMAT:
			if (len >= 16)
				return bad(err, "backing format extension of %u bytes (max 15)",
				           len);
			break;
		case EXT_CRYPTO:
			return bad(err, "crypto header extension without LUKS encryption");
		case EXT_BITMAPS:
			if (len != 24)
				return bad(err, "bitmaps extension of %u bytes (must be 24)", len);
			if (!(h->autoclear & AUTOCLEAR_BITMAPS) || !imp_span_ok(off, 24, p->hlen))
				break;
			if (imp_be32(d) == 0 || imp_be32(d) > MAX_BITMAPS || imp_be32(d + 4) != 0 ||
			    (imp_be64(d + 16) & (h->cluster - 1)))
				return bad(
				    err, "bitmaps extension: %u bitmaps at offset %llu is invalid",
				    imp_be32(d), (unsigned long long)imp_be64(d + 16));
			break;
		default: /* unknown extensions are ignored, as qemu does */
			break;
		}
		off += ((uint64_t)len + 7) & ~7ull;
	}
	return 0;
}

static int check_backing(const struct qhdr *h, const struct imp_probe *p, struct vim_err *err)
{
	char name[MAX_BACKING_NAME + 1];

	if (h->backing_off > h->cluster)
		return bad(err,
		           "backing_file_offset %llu lies beyond the first cluster (%llu bytes)",
		           (unsigned long long)h->backing_off, (unsigned long long)h->cluster);
	if (h->backing_size > MAX_BACKING_NAME || h->backing_size > h->cluster - h->backing_off)
		return bad(err, "backing_file_size %u exceeds %u", h->backing_size,
		           MAX_BACKING_NAME);
	if (imp_span_ok(h->backing_off, h->backing_size, p->hlen))
		imp_inspect_quote(name, sizeof(name), p->head + h->backing_off, h->backing_size);
	else
		snprintf(name, sizeof(name), "beyond the end of the image");
	return vim_err_set(err, VIM_EINVAL,
	                   "qcow2 names a backing file (\"%s\"): images that read other files "
	                   "are refused",
	                   name);
}

int imp_inspect_qcow2(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	struct qhdr h;
	int rc;

	if (p->hlen < 8)
		goto cut;
	h.version = imp_be32(p->head + 4);
	if (h.version != 2 && h.version != 3)
		return bad(err, "version %u is not 2 or 3", h.version);
	if (p->hlen < (h.version == 2 ? HDR_V2 : HDR_V3))
		goto cut;
	parse(&h, p->head, p->hlen);
	h.cluster = h.cluster_bits < 64 ? 1ull << h.cluster_bits : 0;
	if ((rc = check_fields(&h, err)) < 0)
		return rc;
	if (h.backing_off != 0)
		return check_backing(&h, p, err);
	/* the extension, when there is one, names the data file */
	if ((rc = check_extensions(&h, p, err)) < 0)
		return rc;
	if (h.incompat & INCOMPAT_DATA_FILE)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "qcow2 names an external data file (incompatible feature bit 2): "
		    "images that read other files are refused");
	if ((rc = check_tables(&h, p->total, err)) < 0)
		return rc;
	*vsize = h.size;
	return 0;
cut:
	return vim_err_set(err, VIM_EINVAL,
	                   "qcow2: the image is truncated (%llu bytes, header cut)",
	                   (unsigned long long)p->total);
}
