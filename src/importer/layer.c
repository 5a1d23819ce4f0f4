/*
 * importer/layer — finds the disk inside one image layer as it streams by:
 * a tar (plain or gzip) whose file "disk/<name>" is the VM image, as DVCR
 * and upstream's container images lay it out.  Headers are parsed in a
 * 512-byte block buffer; file contents pass straight through to the
 * caller, nothing is held whole.
 *
 * Understood: ustar (with prefix), GNU long names ('L'), PAX extended
 * headers ('x': path, size), base-256 sizes.  Other members are skipped.
 */
#include "importer/internal.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK 512
#define META_MAX 65536 /* a PAX record set or a long name: bounded */

enum layer_state { L_SNIFF, L_HEADER, L_META, L_SKIP, L_DISK, L_END };

struct imp_layer {
	imp_disk_begin_fn begin;
	imp_disk_data_fn data;
	void *ud;
	enum layer_state st;
	struct imp_unpack *gz; /* NULL: a plain tar */
	unsigned char sniff[8];
	size_t sniff_len;
	unsigned char block[BLOCK];
	size_t block_len;
	uint64_t left; /* bytes of the current member still to come */
	uint64_t pad;  /* padding after it */
	char meta_type;
	char *meta;
	size_t meta_len;
	uint64_t pos;      /* tar bytes consumed: offsets in messages */
	uint64_t hdr_pos;  /* where the header in block began */
	uint64_t meta_pos; /* where the extended header's data began */
	/* overrides for the next header, from 'x' or 'L' */
	char *next_path;
	uint64_t next_size;
	bool has_next_size;
	struct vim_err err_; /* tar_feed's, as imp_out_fn has no err */
};

int imp_layer_new(struct imp_layer **out, imp_disk_begin_fn begin, imp_disk_data_fn data, void *ud,
                  struct vim_err *err)
{
	struct imp_layer *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return vim_err_set(err, VIM_ENOMEM, "layer: out of memory");
	l->begin = begin;
	l->data = data;
	l->ud = ud;
	*out = l;
	return 0;
}

void imp_layer_free(struct imp_layer *l)
{
	if (!l)
		return;
	imp_unpack_free(l->gz);
	free(l->meta);
	free(l->next_path);
	free(l);
}

static bool octal(const unsigned char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;

	if (f[0] & 0x80) { /* GNU base-256 */
		if (f[0] != 0x80)
			return false; /* negative or beyond 2^63 */
		for (i = 1; i < n; i++) {
			if (v >> 56)
				return false;
			v = (v << 8) | f[i];
		}
		*out = v;
		return true;
	}
	while (i < n && (f[i] == ' ' || f[i] == 0))
		i++;
	for (; i < n && f[i] >= '0' && f[i] <= '7'; i++) {
		if (v >> 60)
			return false;
		v = v * 8 + (uint64_t)(f[i] - '0');
	}
	/* only blanks or NULs may follow: "12x" is not a size */
	for (; i < n; i++)
		if (f[i] != ' ' && f[i] != 0)
			return false;
	*out = v;
	return true;
}

/* "disk/<name>" (after "./" or "/"), name free of '/': the base name. */
static const char *disk_name(const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	while (path[0] == '/')
		path++;
	if (strncmp(path, "disk/", 5) != 0 || !path[5] || strchr(path + 5, '/'))
		return NULL;
	return path + 5;
}

/* A decimal field of a PAX record or value: digits only, no sign, no
 * blanks, no overflow (strtoul would take " -1" as ULONG_MAX). */
static bool decimal(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* PAX records "LEN key=value\n", LEN counting the whole record: every
 * length is checked against what remains of the header before a byte is
 * read, as the records come from whoever built the image.  Path and size
 * are what matter here. */
static int pax_apply(struct imp_layer *l, struct vim_err *err)
{
	size_t off = 0;

	while (off < l->meta_len) {
		char *rec = l->meta + off, *sp, *eq;
		size_t left = l->meta_len - off, digits = 0, klen;
		uint64_t n;

		while (digits < left && digits < 20 && rec[digits] >= '0' && rec[digits] <= '9')
			digits++;
		/* "LEN " then at least "k=\n": the shortest record is 5 bytes */
		if (!decimal(rec, digits, left, &n) || digits >= left || rec[digits] != ' ' ||
		    n < digits + 4 || n > left)
			goto bad;
		sp = rec + digits + 1;
		if (rec[n - 1] != '\n')
			goto bad;
		eq = memchr(sp, '=', (size_t)(rec + n - 1 - sp));
		if (!eq || eq == sp)
			goto bad;
		rec[n - 1] = '\0';
		klen = (size_t)(eq - sp);
		if (klen == 4 && strncmp(sp, "path", 4) == 0) {
			free(l->next_path);
			if (!(l->next_path = strdup(eq + 1)))
				return vim_err_set(err, VIM_ENOMEM, "layer: out of memory");
		} else if (klen == 4 && strncmp(sp, "size", 4) == 0) {
			/* a size beyond 2^63 is no file anyone can store */
			if (!decimal(eq + 1, strlen(eq + 1), INT64_MAX, &l->next_size))
				return vim_err_set(
				    err, VIM_EINVAL,
				    "layer: malformed PAX size \"%.40s\" at offset %llu", eq + 1,
				    (unsigned long long)(l->meta_pos + off));
			l->has_next_size = true;
		}
		off += (size_t)n;
	}
	return 0;
bad:
	return vim_err_set(err, VIM_EINVAL, "layer: malformed PAX record at offset %llu",
	                   (unsigned long long)(l->meta_pos + off));
}

/* The header's checksum: the sum of its bytes with the checksum field
 * read as spaces, unsigned (POSIX) or signed (old tars). */
static bool checksum_ok(const unsigned char *h)
{
	uint64_t want;
	long usum = 0, ssum = 0;
	size_t i;

	if (!octal(h + 148, 8, &want))
		return false;
	for (i = 0; i < BLOCK; i++) {
		unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
		usum += c;
		ssum += (signed char)c;
	}
	return want == (uint64_t)usum || (ssum >= 0 && want == (uint64_t)ssum);
}

static int on_header(struct imp_layer *l, struct vim_err *err)
{
	const unsigned char *h = l->block;
	char name[BLOCK], type = (char)h[156];
	const char *path, *base;
	uint64_t size;
	size_t i;
	int rc;

	for (i = 0; i < BLOCK && !h[i]; i++)
		;
	if (i == BLOCK) {
		l->st = L_END; /* the end marker: no disk in this layer */
		return 0;
	}
	/* a block that is no header (a cut or misaligned stream) stops here
	 * rather than being read as one */
	if (!checksum_ok(h))
		return vim_err_set(err, VIM_EINVAL,
		                   "layer: a tar header with a bad checksum at offset %llu",
		                   (unsigned long long)l->hdr_pos);
	if (!octal(h + 124, 12, &size) || size > INT64_MAX)
		return vim_err_set(err, VIM_EINVAL,
		                   "layer: a tar header with a bad size at offset %llu",
		                   (unsigned long long)l->hdr_pos);
	/* POSIX ustar only: old GNU tars ("ustar  ") keep times at 345 */
	if (memcmp(h + 257, "ustar\0", 6) == 0 && h[345])
		snprintf(name, sizeof(name), "%.155s/%.100s", (const char *)h + 345,
		         (const char *)h + 0);
	else
		snprintf(name, sizeof(name), "%.100s", (const char *)h);
	if (type == 'x' || type == 'L') {
		if (size > META_MAX)
			return vim_err_set(err, VIM_ETOOLARGE,
			                   "layer: a tar extended header of %llu bytes",
			                   (unsigned long long)size);
		l->meta_type = type;
		l->meta_len = 0;
		l->meta_pos = l->hdr_pos + BLOCK;
		l->left = size;
		l->pad = (BLOCK - size % BLOCK) % BLOCK;
		free(l->meta);
		if (!(l->meta = malloc(size + 1)))
			return vim_err_set(err, VIM_ENOMEM, "layer: out of memory");
		l->st = size ? L_META : L_HEADER;
		return 0;
	}
	path = l->next_path ? l->next_path : name;
	if (l->has_next_size)
		size = l->next_size;
	l->left = size;
	l->pad = (BLOCK - size % BLOCK) % BLOCK;
	l->st = L_SKIP;
	if ((type == '0' || type == '\0' || type == '7') && (base = disk_name(path))) {
		if ((rc = l->begin(l->ud, base, size, err)) < 0)
			return rc;
		l->st = L_DISK;
	}
	free(l->next_path);
	l->next_path = NULL;
	l->has_next_size = false;
	return 0;
}

static int meta_done(struct imp_layer *l, struct vim_err *err)
{
	l->meta[l->meta_len] = '\0';
	if (l->meta_type == 'L') {
		free(l->next_path);
		l->next_path = l->meta;
		l->meta = NULL;
		return 0;
	}
	return pax_apply(l, err);
}

/* Tar bytes.  Returns 1 once the disk file is complete. */
static int tar_feed(void *arg, const void *data, size_t len)
{
	struct imp_layer *l = arg;
	const unsigned char *p = data;
	struct vim_err *err = &l->err_;
	int rc;

	while (len > 0) {
		size_t n;
		switch (l->st) {
		case L_HEADER:
			n = BLOCK - l->block_len < len ? BLOCK - l->block_len : len;
			if (l->block_len == 0)
				l->hdr_pos = l->pos;
			memcpy(l->block + l->block_len, p, n);
			l->block_len += n;
			if (l->block_len == BLOCK) {
				l->block_len = 0;
				if ((rc = on_header(l, err)) < 0)
					return rc;
			}
			break;
		case L_META:
		case L_SKIP:
		case L_DISK:
			if (l->left == 0 && l->pad == 0) {
				if (l->st == L_DISK)
					return 1;
				l->st = L_HEADER;
				n = 0;
				break;
			}
			if (l->left > 0) {
				n = l->left < len ? (size_t)l->left : len;
				if (l->st == L_META) {
					memcpy(l->meta + l->meta_len, p, n);
					l->meta_len += n;
				} else if (l->st == L_DISK &&
				           (rc = l->data(l->ud, p, n, err)) < 0) {
					return rc;
				}
				l->left -= n;
				if (l->left == 0 && l->st == L_META && (rc = meta_done(l, err)) < 0)
					return rc;
				if (l->left == 0 && l->st == L_DISK)
					return 1; /* the rest of the layer is not needed */
			} else {
				n = l->pad < len ? (size_t)l->pad : len;
				l->pad -= n;
			}
			break;
		default: /* L_END: trailing zeros */
			return 0;
		}
		p += n;
		len -= n;
		l->pos += n;
	}
	if ((l->st == L_META || l->st == L_SKIP) && l->left == 0 && l->pad == 0)
		l->st = L_HEADER;
	return 0;
}

int imp_layer_feed(struct imp_layer *l, const void *data, size_t len, struct vim_err *err)
{
	const unsigned char *p = data;
	int rc;

	if (l->st == L_SNIFF) {
		/* gzip or a plain tar: the first two bytes tell */
		size_t n =
		    sizeof(l->sniff) - l->sniff_len < len ? sizeof(l->sniff) - l->sniff_len : len;
		memcpy(l->sniff + l->sniff_len, p, n);
		l->sniff_len += n;
		p += n;
		len -= n;
		if (l->sniff_len < sizeof(l->sniff) && len == 0)
			return 0;
		l->st = L_HEADER;
		if (imp_packing_of(l->sniff, l->sniff_len) == IMP_GZIP &&
		    (rc = imp_unpack_new(&l->gz, IMP_GZIP, 0, err)) < 0)
			return rc;
		if ((rc = imp_layer_feed(l, l->sniff, l->sniff_len, err)) != 0)
			return rc;
		if (len == 0)
			return 0;
	}
	if (l->gz)
		rc = imp_unpack_feed(l->gz, p, len, tar_feed, l, err);
	else
		rc = tar_feed(l, p, len);
	if (rc < 0 && l->err_.msg[0] && err != &l->err_)
		*err = l->err_;
	return rc;
}

int imp_layer_finish(struct imp_layer *l, struct vim_err *err)
{
	int rc;

	if (l->st == L_SNIFF && l->sniff_len == 0)
		return 0;     /* an empty layer: an empty archive, as GNU tar reads it */
	if (l->st == L_SNIFF) /* fewer bytes than a gzip header or a tar block */
		return vim_err_set(err, VIM_EINVAL, "layer: truncated tar at offset %zu",
		                   l->sniff_len);
	if (l->gz && (rc = imp_unpack_finish(l->gz, err)) < 0) {
		vim_err_wrap(err, "layer: ");
		return rc;
	}
	/* The end marker, or a member's end: where a header would begin.
	 * GNU tar accepts an archive without its two zero blocks there. */
	if (l->st == L_END || (l->st == L_HEADER && l->block_len == 0) ||
	    (l->st != L_HEADER && l->left == 0 && l->pad == 0))
		return 0;
	/* inside a header, a member (the disk included) or its padding */
	return vim_err_set(err, VIM_EINVAL, "layer: truncated tar at offset %llu",
	                   (unsigned long long)l->pos);
}

bool imp_layer_ended(const struct imp_layer *l)
{
	return l->st == L_END;
}
