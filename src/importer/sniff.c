/*
 * importer/sniff — image format and virtual size from headers: a table of
 * formats, each told by its magic and checked by its inspector (inspect.h).
 */
#include "importer/sniff.h"
#include "importer/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Enough for ISO 9660's descriptor (0x8001) and a VHDX's region table and
 * metadata (qemu-img puts them in the first 2-3 MiB). */
#define PREFIX_MAX (4u << 20)
/* Anything above is not a disk, it is an overflow. */
#define SIZE_SANE (1ULL << 60)

struct imp_sniff {
	unsigned char *prefix;
	size_t plen;
	unsigned char tail[IMP_TAIL_MAX]; /* the last bytes, as a ring */
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
	size_t take = len < PREFIX_MAX - s->plen ? len : PREFIX_MAX - s->plen;
	/* only the last IMP_TAIL_MAX bytes of this chunk can end up in the
	 * tail: at most two copies into the ring, not a division per byte */
	size_t n = len < IMP_TAIL_MAX ? len : IMP_TAIL_MAX;
	size_t at = (size_t)((s->total + (len - n)) % IMP_TAIL_MAX);
	size_t first = IMP_TAIL_MAX - at < n ? IMP_TAIL_MAX - at : n;

	memcpy(s->prefix + s->plen, p, take);
	s->plen += take;
	memcpy(s->tail + at, p + (len - n), first);
	memcpy(s->tail, p + (len - n) + first, n - first);
	s->total += len;
}

void imp_inspect_quote(char *out, size_t outlen, const unsigned char *name, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < outlen && name[i]; i++)
		out[i] = name[i] >= 0x20 && name[i] < 0x7f && name[i] != '"' ? (char)name[i] : '?';
	if (outlen)
		out[i < outlen ? i : outlen - 1] = '\0';
}

static bool at(const struct imp_sniff *s, size_t off, const char *magic, size_t n)
{
	return imp_span_ok(off, n, s->plen) && memcmp(s->prefix + off, magic, n) == 0;
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

/* ---- the table of formats: how each is told, who inspects it ------------- */

static bool is_qcow2(const struct imp_sniff *s, const struct imp_probe *p)
{
	(void)p;
	return at(s, 0, "QFI\xfb", 4);
}
static bool is_vmdk(const struct imp_sniff *s, const struct imp_probe *p)
{
	(void)p;
	return at(s, 0, "KDMV", 4);
}
/* what qemu would also open as vmdk (BLOCK_PROBE_BUF_SIZE: 2 KiB) */
static bool is_vmdk_other(const struct imp_sniff *s, const struct imp_probe *p)
{
	return at(s, 0, "COWD", 4) ||
	       imp_vmdk_descriptor_like(p->head, p->hlen < 2048 ? p->hlen : 2048);
}
static bool is_vdi(const struct imp_sniff *s, const struct imp_probe *p)
{
	(void)p;
	return s->plen >= 0x44 && imp_le32(s->prefix + 0x40) == 0xbeda107fu;
}
static bool is_vhdx(const struct imp_sniff *s, const struct imp_probe *p)
{
	(void)p;
	return at(s, 0, "vhdxfile", 8);
}
/* dynamic: a footer copy first; fixed: the footer is the last 512 bytes */
static bool is_vpc(const struct imp_sniff *s, const struct imp_probe *p)
{
	return at(s, 0, "conectix", 8) ||
	       (p->tlen >= 512 && memcmp(p->tail + p->tlen - 512, "conectix", 8) == 0);
}
/* QED has backing files and qemu would open it: never "raw" */
static bool is_qed(const struct imp_sniff *s, const struct imp_probe *p)
{
	(void)p;
	return at(s, 0, "QEF\0", 4);
}
static int inspect_qed(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	(void)p, (void)vsize;
	return vim_err_set(err, VIM_EINVAL, "qed: the QED format is not supported");
}

static const struct {
	const char *name;
	bool (*is)(const struct imp_sniff *s, const struct imp_probe *p);
	int (*inspect)(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err);
} formats[] = {
    {"qcow2", is_qcow2, imp_inspect_qcow2},
    {"vmdk", is_vmdk, imp_inspect_vmdk},
    {"vmdk", is_vmdk_other, imp_inspect_vmdk_other},
    {"vdi", is_vdi, imp_inspect_vdi},
    {"vhdx", is_vhdx, imp_inspect_vhdx},
    {"vpc", is_vpc, imp_inspect_vpc},
    {"qed", is_qed, inspect_qed},
};

int imp_sniff_finish(struct imp_sniff *s, struct imp_format *f, struct vim_err *err)
{
	unsigned char tail[IMP_TAIL_MAX];
	size_t tlen = s->total < IMP_TAIL_MAX ? (size_t)s->total : IMP_TAIL_MAX, i;
	struct imp_probe p = {s->prefix, s->plen, tail, tlen, s->total};
	uint64_t v = 0;
	int rc;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < tlen; i++)
		tail[i] = s->tail[(s->total - tlen + i) % IMP_TAIL_MAX];
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (!formats[i].is(s, &p))
			continue;
		if ((rc = formats[i].inspect(&p, &v, err)) < 0)
			return rc;
		return set(f, formats[i].name, v, err);
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
