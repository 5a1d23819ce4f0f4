/*
 * importer/vhd — Microsoft's two formats: VHD ("vpc": a 512-byte footer,
 * copied at the start of a dynamic disk, followed there by a dynamic disk
 * header) and VHDX (a region table at 192 KiB pointing at a metadata
 * region whose items give the size and whether a parent exists).
 * Differencing disks are refused: their parent is another file, named by
 * path in the VHD parent locators and the VHDX parent locator item (qemu
 * refuses the VHDX ones as unsupported, and does not read VHD parents).
 */
#include "importer/inspect.h"

#include <string.h>

#define VHD_FOOTER 512u
#define VHD_FIXED 2u
#define VHD_DYNAMIC 3u
#define VHD_DIFF 4u
#define VHD_DYN_HDR 1024u
#define SIZE_SANE (1ull << 60)

#define VHDX_REGIONS 0x30000u /* the first region table, at 192 KiB */
#define VHDX_MAX_ENTRIES 2047u
#define VHDX_HAS_PARENT 2u /* File Parameters flags bit 1 */

static int vpc_type(uint32_t type, struct vim_err *err)
{
	if (type == VHD_DIFF)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "vpc is a differencing disk (disk type 4) whose parent is another "
		    "file: images that read other files are refused");
	if (type != VHD_FIXED && type != VHD_DYNAMIC)
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc footer: disk type %u is not fixed (2) or "
		                   "dynamic (3)",
		                   type);
	return 0;
}

/* The dynamic disk header qemu's vpc_open reads at the footer's data
 * offset: its block size, its block table, and no parent. */
static int vpc_dynamic(const struct imp_probe *p, uint64_t vsize, struct vim_err *err)
{
	static const unsigned char zero[16];
	uint64_t off = imp_be64(p->head + 16), table;
	const unsigned char *d;
	uint32_t entries, block;

	if (!imp_span_ok(off, VHD_DYN_HDR, p->hlen) || memcmp(p->head + off, "cxsparse", 8) != 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc footer: data offset %llu does not point at a dynamic disk "
		                   "header (\"cxsparse\") within the image",
		                   (unsigned long long)off);
	d = p->head + off;
	table = imp_be64(d + 16);
	entries = imp_be32(d + 28);
	block = imp_be32(d + 32);
	if (block < 512 || (block & (block - 1)) != 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc dynamic header: block size %u is not a power of 2 >= 512",
		                   block);
	if ((uint64_t)entries * block < vsize)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "vpc dynamic header: %u blocks of %u bytes cannot hold the virtual "
		    "size %llu",
		    entries, block, (unsigned long long)vsize);
	if (!imp_span_ok(table, (uint64_t)entries * 4, p->total))
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc dynamic header: the block table at %llu (%u entries) lies "
		                   "beyond the end of the image (%llu bytes)",
		                   (unsigned long long)table, entries,
		                   (unsigned long long)p->total);
	for (int i = 0; i < 8; i++)
		if (imp_be32(d + 576 + i * 24) != 0) /* a parent locator's platform code */
			return vpc_type(VHD_DIFF, err);
	if (memcmp(d + 40, zero, 16) != 0) /* the parent's UUID */
		return vpc_type(VHD_DIFF, err);
	return 0;
}

int imp_inspect_vpc(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	const unsigned char *f = p->head;
	bool at_start = p->hlen >= 8 && memcmp(p->head, "conectix", 8) == 0;
	uint64_t v;
	int rc;

	if (!at_start) /* a fixed disk: the footer is the last sector */
		f = p->tail + p->tlen - VHD_FOOTER;
	else if (p->hlen < VHD_FOOTER)
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc: the image is truncated (%llu bytes, header cut)",
		                   (unsigned long long)p->total);
	v = imp_be64(f + 0x30);
	if ((rc = vpc_type(imp_be32(f + 0x3c), err)) < 0)
		return rc;
	if (v == 0 || v > SIZE_SANE)
		return vim_err_set(err, VIM_EINVAL,
		                   "vpc: the header's virtual size %llu is not a disk size",
		                   (unsigned long long)v);
	if (at_start && imp_be32(f + 0x3c) == VHD_DYNAMIC && (rc = vpc_dynamic(p, v, err)) < 0)
		return rc;
	*vsize = v;
	return 0;
}

/* ---- VHDX ------------------------------------------------------------------ */

static const unsigned char meta_guid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                            0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
static const unsigned char size_guid[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                            0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
static const unsigned char params_guid[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                              0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b};
static const unsigned char parent_guid[16] = {0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                              0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c};

static int vhdx_bad(const char *what, struct vim_err *err)
{
	return vim_err_set(err, VIM_EINVAL, "vhdx: %s", what);
}

/* The metadata region's offset, from the region table at 192 KiB. */
static int vhdx_metadata(const struct imp_probe *p, uint64_t *moff, struct vim_err *err)
{
	const unsigned char *rt = p->head + VHDX_REGIONS;
	uint32_t n, i;

	*moff = 0;
	if (!imp_span_ok(VHDX_REGIONS, 16, p->hlen) || memcmp(rt, "regi", 4) != 0)
		return vhdx_bad("no region table at 192 KiB", err);
	n = imp_le32(rt + 8);
	if (n > VHDX_MAX_ENTRIES || !imp_span_ok(VHDX_REGIONS + 16, (uint64_t)n * 32, p->hlen))
		return vhdx_bad("the region table's entry count runs past its end", err);
	for (i = 0; i < n; i++)
		if (memcmp(rt + 16 + i * 32, meta_guid, 16) == 0)
			*moff = imp_le64(rt + 16 + i * 32 + 16);
	/* within what the sniffer kept: qemu-img puts it in the first MiBs */
	if (*moff == 0 || !imp_span_ok(*moff, 32, p->hlen) ||
	    memcmp(p->head + *moff, "metadata", 8) != 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vhdx: no metadata region within the first %zu bytes", p->hlen);
	return 0;
}

int imp_inspect_vhdx(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	const unsigned char *md;
	uint64_t moff, v = 0;
	bool have_size = false;
	uint32_t n, i;
	int rc;

	if ((rc = vhdx_metadata(p, &moff, err)) < 0)
		return rc;
	md = p->head + moff;
	n = imp_le16(md + 10);
	if (n > VHDX_MAX_ENTRIES || !imp_span_ok(moff + 32, (uint64_t)n * 32, p->hlen))
		return vhdx_bad("the metadata table's entry count runs past its end", err);
	for (i = 0; i < n; i++) {
		const unsigned char *e = md + 32 + i * 32;
		uint64_t off = imp_le32(e + 16), len = imp_le32(e + 20);

		if (memcmp(e, parent_guid, 16) == 0)
			return vhdx_bad("a differencing disk names a parent (parent locator item): "
			                "images that read other files are refused",
			                err);
		if (memcmp(e, size_guid, 16) != 0 && memcmp(e, params_guid, 16) != 0)
			continue;
		if (len < 8 || !imp_span_ok(moff + off, 8, p->hlen))
			return vhdx_bad("a metadata item lies beyond the image's first bytes", err);
		if (memcmp(e, size_guid, 16) == 0) {
			v = imp_le64(md + off);
			have_size = true;
		} else if (imp_le32(md + off + 4) & VHDX_HAS_PARENT) {
			return vhdx_bad("a differencing disk has a parent (file parameters "
			                "HasParent): images that read other files are refused",
			                err);
		}
	}
	if (!have_size)
		return vim_err_set(err, VIM_EINVAL,
		                   "vhdx: no virtual disk size in the first %zu bytes", p->hlen);
	*vsize = v;
	return 0;
}
