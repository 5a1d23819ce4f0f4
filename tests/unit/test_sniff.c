/* The format inspectors on in-memory headers: what qemu refuses is refused,
 * images that would read other files are refused, and no offset taken from
 * a header reads outside what the sniffer kept (run under ASan). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "importer/sniff.h"

#define QSIZE 0x4000 /* a 4-cluster qcow2 with 4 KiB clusters */

static int sniff(const unsigned char *buf, size_t len, struct imp_format *f, struct vim_err *err)
{
	struct imp_sniff *s;
	size_t off;
	int rc;

	assert_int_equal(imp_sniff_new(&s, NULL), 0);
	for (off = 0; off < len; off += 4093)
		imp_sniff_feed(s, buf + off, len - off < 4093 ? len - off : 4093);
	rc = imp_sniff_finish(s, f, err);
	imp_sniff_free(s);
	return rc;
}

static void be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}
static void be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}
static void le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++, v >>= 8)
		p[i] = (unsigned char)v;
}
static void le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

/* What `qemu-img create -f qcow2 -o cluster_size=4096 x 1M` writes. */
static unsigned char *qcow2(void)
{
	unsigned char *b = calloc(1, QSIZE);

	memcpy(b, "QFI\xfb", 4);
	be32(b + 4, 3);
	be32(b + 20, 12);      /* cluster_bits */
	be64(b + 24, 1 << 20); /* size */
	be32(b + 36, 1);       /* l1_size */
	be64(b + 40, 0x3000);  /* l1_table_offset */
	be64(b + 48, 0x1000);  /* refcount_table_offset */
	be32(b + 56, 1);       /* refcount_table_clusters */
	be32(b + 96, 4);       /* refcount_order */
	be32(b + 100, 104);    /* header_length */
	return b;
}

#define REFUSED(b, len, text)                                                                      \
	do {                                                                                       \
		assert_int_equal(sniff(b, len, &f, &err), VIM_EINVAL);                             \
		if (!strstr(err.msg, text))                                                        \
			fail_msg("wanted \"%s\" in \"%s\"", text, err.msg);                        \
	} while (0)

static void test_qcow2_valid_header_is_accepted(void **state)
{
	unsigned char *b = qcow2();
	struct imp_format f;
	struct vim_err err;
	(void)state;

	assert_int_equal(sniff(b, QSIZE, &f, &err), 0);
	assert_string_equal(f.format, "qcow2");
	assert_int_equal(f.virtual_size, 1 << 20);
	free(b);
}

static void test_qcow2_fields_qemu_refuses_are_refused(void **state)
{
	unsigned char *b = qcow2();
	struct imp_format f;
	struct vim_err err;
	(void)state;

	be32(b + 20, 63);
	REFUSED(b, QSIZE, "qcow2 header: cluster_bits 63 is out of range 9..21");
	be32(b + 20, 12);
	be64(b + 8, 1ull << 62);
	REFUSED(b, QSIZE, "qcow2 header: backing_file_offset 4611686018427387904 lies beyond");
	be64(b + 8, 0);
	be32(b + 100, 96);
	REFUSED(b, QSIZE, "header_length 96 is shorter than 104");
	be32(b + 100, 104);
	be64(b + 72, 1 << 7);
	REFUSED(b, QSIZE, "unknown incompatible features 0x80");
	be64(b + 72, 0);
	be32(b + 96, 7);
	REFUSED(b, QSIZE, "refcount_order 7 exceeds 6");
	be32(b + 96, 4);
	be32(b + 32, 3);
	REFUSED(b, QSIZE, "crypt_method 3");
	be32(b + 32, 0);
	be32(b + 36, 0);
	REFUSED(b, QSIZE, "l1_size 0 is too small");
	be32(b + 36, 1u << 31);
	REFUSED(b, QSIZE, "l1_size 2147483648 exceeds 4194304 entries");
	be32(b + 36, 1);
	be64(b + 40, 0x3001);
	REFUSED(b, QSIZE, "l1_table_offset 12289 is not aligned to the cluster size 4096");
	be64(b + 40, 0x3000);
	be32(b + 56, 0);
	REFUSED(b, QSIZE, "refcount_table_clusters is 0");
	be32(b + 56, 1 << 20);
	REFUSED(b, QSIZE, "refcount table (refcount_table_clusters 1048576) exceeds");
	be32(b + 56, 1);
	be32(b + 60, 70000);
	REFUSED(b, QSIZE, "nb_snapshots 70000 exceeds 65536");
	be32(b + 60, 0);
	be64(b + 64, 0x1001);
	REFUSED(b, QSIZE, "snapshots_offset 4097 is not aligned");
	be64(b + 64, 0);
	be32(b + 104, 0x12345678); /* an extension longer than the cluster */
	be32(b + 108, 0xfffffff0);
	REFUSED(b, QSIZE, "extension 0x12345678 at 104 (4294967280 bytes) runs past");
	free(b);
}

static void test_qcow2_tables_beyond_the_stream_are_refused(void **state)
{
	unsigned char *b = qcow2();
	struct imp_format f;
	struct vim_err err;
	(void)state;

	/* qemu reads zeros past the end; the importer knows where it is */
	REFUSED(b, 0x3004, "the L1 table at l1_table_offset 12288 (8 bytes) lies beyond the end");
	REFUSED(b, 104, "the L1 table at l1_table_offset 12288");
	be64(b + 48, 1ull << 40);
	REFUSED(b, QSIZE, "refcount table at refcount_table_offset 1099511627776");
	be64(b + 48, 0x1000);
	be32(b + 60, 2);
	be64(b + 64, 0x4000); /* the snapshot table starts at the end */
	REFUSED(b, QSIZE, "snapshot table at snapshots_offset 16384 (80 bytes) lies beyond");
	free(b);
}

static void test_qcow2_reading_other_files_is_refused(void **state)
{
	static const char name[] = "/etc/passwd";
	unsigned char *b = qcow2();
	struct imp_format f;
	struct vim_err err;
	(void)state;

	memcpy(b + 0x200, name, strlen(name));
	be64(b + 8, 0x200);
	be32(b + 16, (uint32_t)strlen(name));
	REFUSED(b, QSIZE,
	        "qcow2 names a backing file (\"/etc/passwd\"): images that read other "
	        "files are refused");
	be64(b + 8, 0);
	be32(b + 16, 0);
	be64(b + 72, 1 << 2); /* the external data file feature bit */
	REFUSED(b, QSIZE, "qcow2 names an external data file (incompatible feature bit 2)");
	be64(b + 72, 0);
	be32(b + 104, 0x44415441); /* the data-file extension */
	be32(b + 108, (uint32_t)strlen(name));
	memcpy(b + 112, name, strlen(name));
	REFUSED(b, QSIZE, "qcow2 names an external data file (\"/etc/passwd\")");
	free(b);
}

/* A monolithicSparse vmdk of 1 MiB, its descriptor at sector 1. */
static unsigned char *vmdk(const char *desc, size_t *len)
{
	unsigned char *b = calloc(1, 0x8000);

	memcpy(b, "KDMV", 4);
	le32(b + 4, 1);
	le64(b + 12, 2048); /* capacity */
	le64(b + 20, 128);  /* grainSize */
	le64(b + 28, 1);    /* descriptorOffset */
	le64(b + 36, 20);   /* descriptorSize */
	le32(b + 44, 512);  /* numGTEsPerGT */
	le64(b + 56, 22);   /* gdOffset */
	memcpy(b + 512, desc, strlen(desc));
	*len = 0x8000;
	return b;
}

#define DESC(create, extent)                                                                       \
	"# Disk DescriptorFile\nversion=1\nCID=1\nparentCID=ffffffff\ncreateType=\"" create        \
	"\"\n\n# Extent description\n" extent "\n"

static void test_vmdk_sparse_extent_is_accepted(void **state)
{
	struct imp_format f;
	struct vim_err err;
	size_t n;
	unsigned char *b = vmdk(DESC("monolithicSparse", "RW 2048 SPARSE \"d.vmdk\""), &n);
	(void)state;

	assert_int_equal(sniff(b, n, &f, &err), 0);
	assert_string_equal(f.format, "vmdk");
	assert_int_equal(f.virtual_size, 1 << 20);
	free(b);
}

static void test_vmdk_naming_other_files_is_refused(void **state)
{
	struct imp_format f;
	struct vim_err err;
	unsigned char *b;
	size_t n;
	(void)state;

	b = vmdk(DESC("monolithicFlat", "RW 2048 FLAT \"d-flat.vmdk\" 0"), &n);
	REFUSED(b, n, "vmdk descriptor's createType splits the disk into other files");
	free(b);
	b = vmdk(DESC("twoGbMaxExtentSparse", "RW 2048 SPARSE \"d-s001.vmdk\""), &n);
	REFUSED(b, n, "createType splits the disk");
	free(b);
	b = vmdk(DESC("monolithicSparse", "RW 2048 FLAT \"/etc/passwd\" 0"), &n);
	REFUSED(b, n, "vmdk descriptor names an extent in another file");
	free(b);
	b = vmdk(DESC("monolithicSparse", "RW 2048 SPARSE \"../../etc/passwd\""), &n);
	REFUSED(b, n, "extent in another file");
	free(b);
	b = vmdk(DESC("streamOptimized", "RW 1024 SPARSE \"d.vmdk\"\nRW 1024 SPARSE \"e.vmdk\""),
	         &n);
	REFUSED(b, n, "more than one extent");
	free(b);
	b = vmdk("parentFileNameHint=\"/etc/passwd\"\n" DESC("monolithicSparse",
	                                                     "RW 2048 SPARSE \"d.vmdk\""),
	         &n);
	REFUSED(b, n, "vmdk names a parent disk");
	free(b);
	/* capacity 0: qemu takes the embedded descriptor as a descriptor file */
	b = vmdk(DESC("monolithicSparse", "RW 2048 SPARSE \"d.vmdk\""), &n);
	le64(b + 12, 0);
	REFUSED(b, n, "vmdk header: capacity 0");
	free(b);
	/* a bare descriptor file */
	static const char text[] = DESC("monolithicFlat", "RW 2048 FLAT \"/etc/passwd\" 0");
	REFUSED((const unsigned char *)text, sizeof(text) - 1, "vmdk descriptor file");
}

static void test_vmdk_header_fields_qemu_refuses_are_refused(void **state)
{
	struct imp_format f;
	struct vim_err err;
	size_t n;
	unsigned char *b = vmdk(DESC("monolithicSparse", "RW 2048 SPARSE \"d.vmdk\""), &n);
	(void)state;

	le32(b + 4, 4);
	REFUSED(b, n, "vmdk header: version 4");
	le32(b + 4, 1);
	le32(b + 44, 1024);
	REFUSED(b, n, "numGTEsPerGT 1024");
	le32(b + 44, 512);
	le64(b + 28, UINT64_MAX / 256); /* descriptor offset * 512 would wrap */
	REFUSED(b, n, "the descriptor at sector");
	le64(b + 28, 1);
	le64(b + 56, UINT64_MAX); /* the header is in a footer that is not there */
	REFUSED(b, n, "no valid footer");
	free(b);
}

/* The region table entry for the metadata region points 16 bytes before
 * the buffer: moff + 32 wrapped and passed the old bound. */
static void test_vhdx_offsets_do_not_wrap(void **state)
{
	static const unsigned char meta_guid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	                                            0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
	unsigned char *b = calloc(1, 0x40000);
	struct imp_format f;
	struct vim_err err;
	(void)state;

	memcpy(b, "vhdxfile", 8);
	memcpy(b + 0x30000, "regi", 4);
	le32(b + 0x30008, 1);
	memcpy(b + 0x30010, meta_guid, 16);
	le64(b + 0x30020, UINT64_MAX - 15);
	REFUSED(b, 0x40000, "vhdx: no metadata region");
	le32(b + 0x30008, 0xffffffffu); /* more entries than the table holds */
	REFUSED(b, 0x40000, "region table's entry count");
	free(b);
}

static void test_vhdx_with_a_parent_is_refused(void **state)
{
	static const unsigned char meta_guid[16] = {0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
	                                            0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e};
	static const unsigned char size_guid[16] = {0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
	                                            0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8};
	static const unsigned char params_guid[16] = {0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa,
	                                              0x43, 0x4d, 0xb3, 0xb6, 0x33, 0xf0,
	                                              0xaa, 0x44, 0xe7, 0x6b};
	unsigned char *b = calloc(1, 0x50000), *md = b + 0x40000;
	struct imp_format f;
	struct vim_err err;
	(void)state;

	memcpy(b, "vhdxfile", 8);
	memcpy(b + 0x30000, "regi", 4);
	le32(b + 0x30008, 1);
	memcpy(b + 0x30010, meta_guid, 16);
	le64(b + 0x30020, 0x40000);
	memcpy(md, "metadata", 8);
	md[10] = 2;
	memcpy(md + 32, size_guid, 16);
	le32(md + 48, 0x1000);
	le32(md + 52, 8);
	le64(md + 0x1000, 1 << 20);
	memcpy(md + 64, params_guid, 16);
	le32(md + 80, 0x1008);
	le32(md + 84, 8);
	assert_int_equal(sniff(b, 0x50000, &f, &err), 0);
	assert_string_equal(f.format, "vhdx");
	assert_int_equal(f.virtual_size, 1 << 20);
	le32(md + 0x1008 + 4, 2); /* HasParent */
	REFUSED(b, 0x50000, "vhdx: a differencing disk has a parent");
	free(b);
}

static void test_vpc_differencing_and_vdi_parent_are_refused(void **state)
{
	unsigned char *b = calloc(1, 0x2000);
	struct imp_format f;
	struct vim_err err;
	(void)state;

	memcpy(b, "conectix", 8); /* a dynamic disk: footer copy first */
	be64(b + 16, 512);
	be64(b + 0x30, 1 << 20);
	be32(b + 0x3c, 3);
	memcpy(b + 512, "cxsparse", 8);
	be64(b + 512 + 16, 1536);    /* block table */
	be32(b + 512 + 28, 1);       /* entries */
	be32(b + 512 + 32, 2 << 20); /* block size */
	assert_int_equal(sniff(b, 0x2000, &f, &err), 0);
	assert_string_equal(f.format, "vpc");
	be32(b + 512 + 576, 0x57326b75); /* a parent locator ("W2ku") */
	REFUSED(b, 0x2000, "vpc is a differencing disk");
	be32(b + 512 + 576, 0);
	be32(b + 0x3c, 4);
	REFUSED(b, 0x2000, "vpc is a differencing disk (disk type 4)");

	memset(b, 0, 0x2000);
	le32(b + 0x40, 0xbeda107fu);
	le32(b + 0x44, 0x00010001);
	le32(b + 0x154, 512);     /* block map */
	le32(b + 0x158, 1024);    /* data */
	le32(b + 0x168, 512);     /* sector size */
	le64(b + 0x170, 1 << 20); /* disk size */
	le32(b + 0x178, 1 << 20); /* block size */
	le32(b + 0x180, 1);       /* blocks */
	assert_int_equal(sniff(b, 0x2000, &f, &err), 0);
	assert_string_equal(f.format, "vdi");
	memset(b + 0x1b8, 0x11, 16); /* a parent UUID */
	REFUSED(b, 0x2000, "vdi is a differencing image");
	free(b);
}

/* The last bytes are kept as a ring: whatever the chunk sizes, the fixed
 * VHD footer (the last sector) is seen whole. */
static void test_tail_is_whole_whatever_the_chunks(void **state)
{
	static const size_t chunks[] = {1, 7, 511, 1535, 1536, 1537, 4096, 9000};
	unsigned char *b = calloc(1, 9000);
	struct imp_sniff *s;
	struct imp_format f;
	struct vim_err err;
	size_t off, k, n;
	(void)state;

	memcpy(b + 9000 - 512, "conectix", 8);
	be64(b + 9000 - 512 + 0x30, 1 << 20);
	be32(b + 9000 - 512 + 0x3c, 2);
	for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		assert_int_equal(imp_sniff_new(&s, NULL), 0);
		for (off = 0; off < 9000; off += n) {
			n = 9000 - off < chunks[k] ? 9000 - off : chunks[k];
			imp_sniff_feed(s, b + off, n);
		}
		assert_int_equal(imp_sniff_finish(s, &f, &err), 0);
		assert_string_equal(f.format, "vpc");
		assert_int_equal(f.virtual_size, 1 << 20);
		imp_sniff_free(s);
	}
	free(b);
}

/* Every prefix of every valid header, and each header byte flipped: a
 * verdict either way, never a read outside the buffers (ASan). */
static void test_cut_and_flipped_headers_never_read_outside(void **state)
{
	struct imp_format f;
	struct vim_err err;
	size_t n, len, i;
	unsigned char *imgs[2], *cut;
	size_t lens[2] = {QSIZE, 0};
	(void)state;

	imgs[0] = qcow2();
	imgs[1] = vmdk(DESC("monolithicSparse", "RW 2048 SPARSE \"d.vmdk\""), &lens[1]);
	for (i = 0; i < 2; i++) {
		for (len = 0; len <= 1200; len += 7) {
			cut = malloc(len ? len : 1);
			memcpy(cut, imgs[i], len);
			(void)sniff(cut, len, &f, &err);
			free(cut);
		}
		for (n = 0; n < 120; n++) {
			imgs[i][n] ^= 0xff;
			(void)sniff(imgs[i], lens[i], &f, &err);
			imgs[i][n] ^= 0xff;
		}
		free(imgs[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qcow2_valid_header_is_accepted),
	    cmocka_unit_test(test_qcow2_fields_qemu_refuses_are_refused),
	    cmocka_unit_test(test_qcow2_tables_beyond_the_stream_are_refused),
	    cmocka_unit_test(test_qcow2_reading_other_files_is_refused),
	    cmocka_unit_test(test_vmdk_sparse_extent_is_accepted),
	    cmocka_unit_test(test_vmdk_naming_other_files_is_refused),
	    cmocka_unit_test(test_vmdk_header_fields_qemu_refuses_are_refused),
	    cmocka_unit_test(test_vhdx_offsets_do_not_wrap),
	    cmocka_unit_test(test_vhdx_with_a_parent_is_refused),
	    cmocka_unit_test(test_vpc_differencing_and_vdi_parent_are_refused),
	    cmocka_unit_test(test_tail_is_whole_whatever_the_chunks),
	    cmocka_unit_test(test_cut_and_flipped_headers_never_read_outside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
