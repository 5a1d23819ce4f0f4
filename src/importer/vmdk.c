/*
 * importer/vmdk — a hosted sparse extent ("KDMV": monolithicSparse,
 * streamOptimized) checked as qemu's vmdk_open_vmdk4 checks it, and refused
 * when its reader would open other files: a descriptor whose createType
 * splits the disk into other files (twoGbMaxExtent*, monolithicFlat, vmfs*),
 * extent lines naming another file, a parent (parentFileNameHint, which
 * qemu reads from the descriptor at sector 1 whatever the header says), or
 * a capacity of 0, which makes qemu read the embedded descriptor as a
 * descriptor file.  A bare descriptor file (text naming extents) and the
 * VMware 3 "COWD" format are refused as well: qemu-img would call them vmdk.
 */
#include "importer/inspect.h"

#include <string.h>

#define SECTOR 512u
#define HDR_LEN 79u
#define GD_AT_END UINT64_MAX
#define MARKER_EOS 0u
#define MARKER_FOOTER 3u
#define MAX_GTES 512u
#define MAX_GRAIN 0x200000ull        /* sectors: 1 GiB, qemu's bound */
#define MAX_L1 (32ull * 1024 * 1024) /* entries */
#define PARENT_DESC (20u * SECTOR)   /* what qemu's vmdk_parent_open reads */
#define SIZE_SANE (1ull << 60)
#define SPARSE "createType=\"monolithicSparse\""
#define STREAM "createType=\"streamOptimized\""

struct vhdr {
	uint32_t version, gtes;
	uint64_t capacity, grain, desc_off, desc_size, gd_off;
};

static void parse(struct vhdr *h, const unsigned char *b)
{
	h->version = imp_le32(b + 4);
	h->capacity = imp_le64(b + 12);
	h->grain = imp_le64(b + 20);
	h->desc_off = imp_le64(b + 28);
	h->desc_size = imp_le64(b + 36);
	h->gtes = imp_le32(b + 44);
	h->gd_off = imp_le64(b + 56);
}

static const unsigned char *find(const unsigned char *hay, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; n >= k && i <= n - k; i++)
		if (memcmp(hay + i, needle, k) == 0)
			return hay + i;
	return NULL;
}

static int refuse_files(const char *why, const unsigned char *what, size_t n, struct vim_err *err)
{
	char q[128];

	imp_inspect_quote(q, sizeof(q), what, n);
	return vim_err_set(err, VIM_EINVAL,
	                   "vmdk %s (\"%s\"): images that read other files are refused", why, q);
}

/* One descriptor line: createType must keep the disk in this file, an
 * extent must be a sparse one without a path. */
static int check_line(const unsigned char *l, size_t n, int *extents, struct vim_err *err)
{
	static const char *const access[] = {"RW ", "RDONLY ", "NOACCESS "};
	const unsigned char *q;
	size_t k;

	if (find(l, n, "createType")) { /* qemu looks for it anywhere */
		if ((n == strlen(SPARSE) && memcmp(l, SPARSE, n) == 0) ||
		    (n == strlen(STREAM) && memcmp(l, STREAM, n) == 0))
			return 0;
		return refuse_files("descriptor's createType splits the disk into other files", l,
		                    n, err);
	}
	for (k = 0; k < 3; k++)
		if (n >= strlen(access[k]) && memcmp(l, access[k], strlen(access[k])) == 0)
			break;
	if (k == 3)
		return 0;
	if (++*extents > 1)
		return refuse_files("descriptor names more than one extent", l, n, err);
	if (!find(l, n, " SPARSE ") || !(q = memchr(l, '"', n)) ||
	    memchr(q, '/', n - (size_t)(q - l)) || memchr(q, '\\', n - (size_t)(q - l)))
		return refuse_files("descriptor names an extent in another file", l, n, err);
	return 0;
}

static int check_descriptor(const unsigned char *d, size_t n, struct vim_err *err)
{
	const unsigned char *end = memchr(d, '\0', n), *l = d, *nl;
	int extents = 0, rc;
	size_t len;

	if (end) /* qemu reads the descriptor as a C string */
		n = (size_t)(end - d);
	while (l < d + n) {
		nl = memchr(l, '\n', (size_t)(d + n - l));
		len = nl ? (size_t)(nl - l) : (size_t)(d + n - l);
		if (len && l[len - 1] == '\r')
			len--;
		if ((rc = check_line(l, len, &extents, err)) < 0)
			return rc;
		if (!nl)
			break;
		l = nl + 1;
	}
	return 0;
}

/* streamOptimized with the grain directory at the end: qemu takes the
 * whole header from the footer, 3 sectors before the end. */
static int footer(const struct imp_probe *p, struct vhdr *h, struct vim_err *err)
{
	const unsigned char *t = p->tail + (p->tlen >= 3 * SECTOR ? p->tlen - 3 * SECTOR : 0);

	if (p->tlen < 3 * SECTOR || p->total < 5 * SECTOR || imp_le32(t + 8) != 0 ||
	    imp_le32(t + 12) != MARKER_FOOTER || imp_le32(t + 2 * SECTOR + 8) != 0 ||
	    memcmp(t + SECTOR, "KDMV", 4) != 0 || imp_le32(t + 2 * SECTOR + 12) != MARKER_EOS)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk header: gdOffset says the footer has the header, but "
		                   "there is no valid footer");
	parse(h, t + SECTOR);
	return 0;
}

/* What qemu's vmdk_parent_open reads for a parent, at sector 1 whatever
 * the header says. */
static int check_parent(const struct imp_probe *p, struct vim_err *err)
{
	size_t n = p->hlen > SECTOR ? p->hlen - SECTOR : 0;
	const unsigned char *hint;

	n = n < PARENT_DESC ? n : PARENT_DESC;
	if (!n || !(hint = find(p->head + SECTOR, n, "parentFileNameHint")))
		return 0;
	n -= (size_t)(hint - (p->head + SECTOR));
	return refuse_files("names a parent disk", hint, n < 80 ? n : 80, err);
}

/* The descriptor the header points at, which must lie in the kept bytes. */
static int check_embedded(const struct imp_probe *p, const struct vhdr *h, struct vim_err *err)
{
	const unsigned char *d;
	size_t n;

	if (h->desc_off > p->hlen / SECTOR ||
	    h->desc_size > (p->hlen - h->desc_off * SECTOR) / SECTOR)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk header: the descriptor at sector %llu (%llu sectors) lies "
		                   "beyond the first %zu bytes",
		                   (unsigned long long)h->desc_off,
		                   (unsigned long long)h->desc_size, p->hlen);
	d = p->head + h->desc_off * SECTOR;
	n = (size_t)(h->desc_size * SECTOR);
	if (find(d, n, "parentFileNameHint"))
		return refuse_files("names a parent disk",
		                    (const unsigned char *)"parentFileNameHint", 18, err);
	return check_descriptor(d, n, err);
}

int imp_inspect_vmdk(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	struct vhdr h;
	int rc;

	if (p->hlen < HDR_LEN)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk: the image is truncated (%llu bytes, header cut)",
		                   (unsigned long long)p->total);
	parse(&h, p->head);
	if (h.gd_off == GD_AT_END && (rc = footer(p, &h, err)) < 0)
		return rc;
	if (h.version > 3)
		return vim_err_set(err, VIM_EINVAL, "vmdk header: version %u is not 1..3",
		                   h.version);
	if (h.capacity == 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk header: capacity 0 makes the embedded descriptor name "
		                   "the extents: refused");
	if (h.capacity > SIZE_SANE / SECTOR)
		return vim_err_set(err, VIM_EINVAL, "vmdk: capacity %llu sectors overflows",
		                   (unsigned long long)h.capacity);
	if (h.gtes > MAX_GTES || h.grain > MAX_GRAIN || h.gtes == 0 || h.grain == 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk header: numGTEsPerGT %u / grainSize %llu out of range "
		                   "(1..%u / 1..%llu)",
		                   h.gtes, (unsigned long long)h.grain, MAX_GTES, MAX_GRAIN);
	if (h.capacity / (h.gtes * h.grain) >= MAX_L1)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk header: capacity %llu needs a grain directory of more "
		                   "than %llu entries",
		                   (unsigned long long)h.capacity, MAX_L1);
	if ((rc = check_parent(p, err)) < 0 ||
	    (h.desc_off && (rc = check_embedded(p, &h, err)) < 0))
		return rc;
	*vsize = h.capacity * SECTOR;
	return 0;
}

/* qemu's vmdk_probe for a descriptor file: comment and blank lines, then
 * "version=N" (N in 1..3). */
bool imp_vmdk_descriptor_like(const unsigned char *b, size_t n)
{
	size_t i = 0;

	while (i < n) {
		if (b[i] == '#') {
			while (i < n && b[i] != '\n')
				i++;
			i++;
			continue;
		}
		if (b[i] == ' ') {
			while (i < n && b[i] == ' ')
				i++;
			if (i < n && b[i] == '\r')
				i++;
			if (i == n || b[i] != '\n')
				return false;
			i++;
			continue;
		}
		return n - i >= 10 && memcmp(b + i, "version=", 8) == 0 && b[i + 8] >= '1' &&
		       b[i + 8] <= '3' &&
		       (b[i + 9] == '\n' || (b[i + 9] == '\r' && n - i >= 11 && b[i + 10] == '\n'));
	}
	return false;
}

int imp_inspect_vmdk_other(const struct imp_probe *p, uint64_t *vsize, struct vim_err *err)
{
	(void)vsize;
	if (p->hlen >= 4 && memcmp(p->head, "COWD", 4) == 0)
		return vim_err_set(err, VIM_EINVAL,
		                   "vmdk: the VMware 3 sparse format (COWD) is not supported");
	return vim_err_set(err, VIM_EINVAL,
	                   "vmdk descriptor file: its extents are other files: images that "
	                   "read other files are refused");
}
