/*
 * importer/vdi — the VirtualBox header checked as qemu's vdi_open checks
 * it: version 1.1, 512-byte sectors, 1 MiB blocks, a block map that covers
 * the disk, aligned offsets, and no link or parent UUID (a differencing
 * image reads its parent, which qemu refuses too).
 */
#include "importer/inspect.h"

#include <string.h>

#define VDI_HDR 0x200u
#define VDI_VERSION_1_1 0x00010001u
#define VDI_BLOCK (1u << 20)
#define VDI_BLOCKS_MAX 0x3fffffffu /* qemu's VDI_BLOCKS_IN_IMAGE_MAX, about */

int imp_inspect_vdi(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	static const unsigned char zero[16];
	const unsigned char *h = p->head;
	uint32_t version, bmap, data, sector, block, blocks;
	uint64_t size;

	if (p->hlen < VDI_HDR)
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi: the image is truncated (%llu bytes, header cut)",
		                   (unsigned long long)p->total);
	version = imp_le32(h + 0x44);
	bmap = imp_le32(h + 0x154);
	data = imp_le32(h + 0x158);
	sector = imp_le32(h + 0x168);
	size = imp_le64(h + 0x170);
	block = imp_le32(h + 0x178);
	blocks = imp_le32(h + 0x180);
	if (version != VDI_VERSION_1_1)
		return vim_err_set(err, VIM_EINVAL, "vdi header: version %u.%u is not 1.1",
		                   version >> 16, version & 0xffff);
	if (bmap % 512 || data % 512)
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi header: block map offset %u / data offset %u not aligned "
		                   "to 512",
		                   bmap, data);
	if (sector != 512 || block != VDI_BLOCK)
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi header: sector size %u / block size %u is not 512 / %u",
		                   sector, block, VDI_BLOCK);
	if (blocks > VDI_BLOCKS_MAX || size > (uint64_t)blocks * block)
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi header: disk size %llu does not fit %u blocks of 1 MiB",
		                   (unsigned long long)size, blocks);
	if (memcmp(h + 0x1a8, zero, 16) != 0 || memcmp(h + 0x1b8, zero, 16) != 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi is a differencing image (a link or parent UUID): images "
		                   "that read other files are refused");
	if (!imp_span_ok(bmap, (uint64_t)blocks * 4, p->total))
		return vim_err_set(err, VIM_EINVAL,
		                   "vdi header: the block map at %u (%u entries) lies beyond the "
		                   "end of the image (%llu bytes)",
		                   bmap, blocks, (unsigned long long)p->total);
	*vsize = size;
	return 0;
}
