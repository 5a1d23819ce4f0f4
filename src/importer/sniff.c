/*
 * importer/sniff — image format and virtual size from headers.
 */
#include "importer/sniff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for ISO 9660's descriptor (0x8001) and a VHDX's region table and
 * metadata (qemu-img puts them in the first 2-3 MiB). */
#define PREFIX_MAX (4u << 20)
#define TAIL 512
/* Anything above is not a disk, it is an overflow. */
#define SIZE_SANE (1ULL << 60)

struct imp_sniff {
	unsigned char *prefix;
	size_t plen;
	unsigned char tail[TAIL]; /* the last TAIL bytes, as a ring */
	uint64_t total;
};

int imp_sniff_new(struct imp_sniff **out, struct vim_err *err)
{
	struct imp_sniff *s = calloc(1, sizeof(*s));

	if (!s || !(s->prefix = malloc(PREFIX_MAX))) {
		free(s);
		return vim_err_set(err, VIM_ENOMEM, "format detection: out of memory");
	}
	*out = s;
	return 0;
}

void imp_sniff_free(struct imp_sniff *s)
{
	if (s) {
		free(s->prefix);
		free(s);
	}
}

void imp_sniff_feed(struct imp_sniff *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	size_t take = len < PREFIX_MAX - s->plen ? len : PREFIX_MAX - s->plen, i;

	memcpy(s->prefix + s->plen, p, take);
	s->plen += take;
	/* only the last TAIL bytes of this chunk can end up in the tail */
	i = len > TAIL ? len - TAIL : 0;
	for (; i < len; i++)
		s->tail[(s->total + i) % TAIL] = p[i];
	s->total += len;
}

static uint64_t be64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}
static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t le64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}
static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[1] << 8 | p[0]);
}

static bool at(const struct imp_sniff *s, size_t off, const char *magic, size_t n)
{
	return s->plen >= off + n && memcmp(s->prefix + off, magic, n) == 0;
}

static int set(struct imp_format *f, const char *name, uint64_t vsize, struct vim_err *err)
{
	if (vsize == 0 || vsize > SIZE_SANE)
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: the header's virtual size %llu is not a disk size", name,
		                   (unsigned long long)vsize);
	snprintf(f->format, sizeof(f->format), "%s", name);
	f->virtual_size = vsize;
	f->cdrom = false;
	return 0;
}

static int truncated(const char *name, uint64_t total, struct vim_err *err)
{
	return vim_err_set(err, VIM_EINVAL, "%s: the image is truncated (%llu bytes, header cut)",
	                   name, (unsigned long long)total);
}

/* VHDX: region table at 192 KiB -> metadata region -> Virtual Disk Size. */
static int vhdx_size(const struct imp_sniff *s, uint64_t *out)
{
	static const unsigned char meta_guid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	                                            0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
	static const unsigned char size_guid[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
	                                            0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
	const unsigned char *rt = s->prefix + 0x30000, *md;
	uint64_t moff = 0;
	uint32_t n, i;

	if (s->plen < 0x30000 + 16 || memcmp(rt, "regi", 4) != 0)
		return -1;
	n = le32(rt + 8);
	for (i = 0; i < n && i < 2047 && 0x30000 + 16 + (i + 1) * 32 <= s->plen; i++)
		if (memcmp(rt + 16 + i * 32, meta_guid, 16) == 0)
			moff = le64(rt + 16 + i * 32 + 16);
	if (!moff || moff + 32 > s->plen)
		return -1;
	md = s->prefix + moff;
	if (memcmp(md, "metadata", 8) != 0)
		return -1;
	n = le16(md + 10);
	for (i = 0; i < n && i < 2047 && moff + 32 + (i + 1) * 32 <= s->plen; i++) {
		const unsigned char *e = md + 32 + i * 32;
		uint32_t off = le32(e + 16);
		if (memcmp(e, size_guid, 16) == 0 && moff + off + 8 <= s->plen) {
			*out = le64(md + off);
			return 0;
		}
	}
	return -1;
}

int imp_sniff_finish(struct imp_sniff *s, struct imp_format *f, struct vim_err *err)
{
	unsigned char tail[TAIL];
	uint64_t v = 0;
	size_t i;

	memset(f, 0, sizeof(*f));
	if (at(s, 0, "QFI\xfb", 4)) {
		if (s->plen < 32)
			return truncated("qcow2", s->total, err);
		if (be32(s->prefix + 4) != 2 && be32(s->prefix + 4) != 3)
			return vim_err_set(err, VIM_EINVAL, "qcow2: unknown version %u",
			                   be32(s->prefix + 4));
		return set(f, "qcow2", be64(s->prefix + 24), err);
	}
	if (at(s, 0, "KDMV", 4)) {
		if (s->plen < 20)
			return truncated("vmdk", s->total, err);
		v = le64(s->prefix + 12);
		if (v > SIZE_SANE / 512)
			return vim_err_set(err, VIM_EINVAL, "vmdk: capacity %llu sectors overflows",
			                   (unsigned long long)v);
		return set(f, "vmdk", v * 512, err);
	}
	if (s->plen >= 0x44 && le32(s->prefix + 0x40) == 0xbeda107fu) {
		if (s->plen < 0x178)
			return truncated("vdi", s->total, err);
		return set(f, "vdi", le64(s->prefix + 0x170), err);
	}
	if (at(s, 0, "vhdxfile", 8)) {
		if (vhdx_size(s, &v) < 0)
			return vim_err_set(err, VIM_EINVAL,
			                   "vhdx: no virtual disk size in the first %u MiB",
			                   PREFIX_MAX >> 20);
		return set(f, "vhdx", v, err);
	}
	if (at(s, 0, "conectix", 8)) { /* dynamic VHD: a footer copy first */
		if (s->plen < 0x38)
			return truncated("vpc", s->total, err);
		return set(f, "vpc", be64(s->prefix + 0x30), err);
	}
	if (s->total >= TAIL) { /* fixed VHD: the footer is the last 512 bytes */
		for (i = 0; i < TAIL; i++)
			tail[i] = s->tail[(s->total + i) % TAIL];
		if (memcmp(tail, "conectix", 8) == 0)
			return set(f, "vpc", be64(tail + 0x30), err);
	}
	if (at(s, 0x8001, "CD001", 5)) {
		if (set(f, "iso", s->total, err) < 0)
			return VIM_EINVAL;
		f->cdrom = true;
		return 0;
	}
	if (s->total == 0)
		return vim_err_set(err, VIM_EINVAL, "the image is empty");
	return set(f, "raw", s->total, err);
}
