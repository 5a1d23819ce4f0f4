/* The importer's pure pieces: checksums (incl. GOST Streebog), format
 * detection from headers (hostile ones too), gzip/xz unpacking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lzma.h>
#include <zlib.h>

#include "importer/digest.h"
#include "importer/internal.h"
#include "importer/sniff.h"

#define M1 "012345678901234567890123456789012345678901234567890123456789012"

static void test_digest_known_vectors(void **state)
{
	struct imp_digest *d;
	(void)state;

	assert_int_equal(imp_digest_new(&d, 0x3f, NULL), 0);
	imp_digest_update(d, "ab", 2);
	imp_digest_update(d, "c", 1); /* split updates: one stream */
	assert_string_equal(imp_digest_hex(d, IMP_MD5), "900150983cd24fb0d6963f7d28e17f72");
	assert_string_equal(imp_digest_hex(d, IMP_SHA1),
	                    "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_string_equal(imp_digest_hex(d, IMP_SHA256),
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_string_equal(imp_digest_hex(d, IMP_SHA512),
	                    "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
	                    "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
	imp_digest_free(d);
	/* GOST R 34.11-2012, message M1 of the standard */
	assert_int_equal(
	    imp_digest_new(&d, IMP_ALG_BIT(IMP_STREEBOG256) | IMP_ALG_BIT(IMP_STREEBOG512), NULL),
	    0);
	imp_digest_update(d, M1, strlen(M1));
	assert_string_equal(imp_digest_hex(d, IMP_STREEBOG256),
	                    "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500");
	assert_string_equal(imp_digest_hex(d, IMP_STREEBOG512),
	                    "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa"
	                    "00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48");
	assert_string_equal(imp_digest_hex(d, IMP_MD5), ""); /* not asked */
	imp_digest_free(d);
}

static void test_digest_verify_names_the_mismatch(void **state)
{
	struct model_checksum want = {0};
	struct imp_digest *d;
	struct vim_err err;
	(void)state;

	want.md5 = "900150983CD24FB0D6963F7D28E17F72"; /* case does not matter */
	want.sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
	assert_int_equal(imp_digest_mask_for(&want),
	                 IMP_ALG_BIT(IMP_MD5) | IMP_ALG_BIT(IMP_SHA256));
	assert_int_equal(imp_digest_new(&d, imp_digest_mask_for(&want), NULL), 0);
	imp_digest_update(d, "abc", 3);
	assert_int_equal(imp_digest_verify(d, &want, &err), VIM_EINVAL);
	assert_string_equal(err.msg,
	                    "sha256 sum mismatch: "
	                    "0000000000000000000000000000000000000000000000000000000000000000"
	                    " != ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	want.sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	assert_int_equal(imp_digest_verify(d, &want, &err), 0);
	imp_digest_free(d);
}

/* Feeds buf in odd chunks and returns the verdict. */
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

static void put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void put_be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* A v3 qcow2 header with 4 KiB clusters that qemu would open: refcount
 * table in cluster 1, L1 table in cluster 2 (0x3000 bytes, at least). */
static void qcow2_min(unsigned char *b, uint64_t vsize)
{
	uint64_t per_l1 = 4096ull * 512;

	memcpy(b, "QFI\xfb\0\0\0\3", 8);
	put_be32(b + 20, 12);
	put_be64(b + 24, vsize);
	put_be32(b + 36, (uint32_t)((vsize + per_l1 - 1) / per_l1));
	put_be64(b + 40, 0x2000);
	put_be64(b + 48, 0x1000);
	put_be32(b + 56, 1);
	put_be32(b + 96, 4);
	put_be32(b + 100, 104);
}

static void test_sniff_headers(void **state)
{
	unsigned char *b = calloc(1, 0x9000);
	struct imp_format f;
	struct vim_err err;
	(void)state;

	qcow2_min(b, 1073741824ULL); /* its L1 table fits 0x9000 bytes */
	assert_int_equal(sniff(b, 0x9000, &f, &err), 0);
	assert_string_equal(f.format, "qcow2");
	assert_int_equal(f.virtual_size, 1073741824ULL);
	assert_false(f.cdrom);

	memset(b, 0, 0x9000);
	memcpy(b + 0x8001, "CD001", 5);
	assert_int_equal(sniff(b, 0x9000, &f, &err), 0);
	assert_string_equal(f.format, "iso");
	assert_int_equal(f.virtual_size, 0x9000);
	assert_true(f.cdrom);

	memset(b, 0, 0x9000);
	memcpy(b, "KDMV", 4);
	b[12] = 0x00, b[13] = 0x00, b[14] = 0x02; /* 0x20000 sectors = 64 MiB */
	b[20] = 128;                              /* grainSize: 64 KiB */
	b[44] = 0, b[45] = 2;                     /* numGTEsPerGT: 512 */
	assert_int_equal(sniff(b, 0x9000, &f, &err), 0);
	assert_string_equal(f.format, "vmdk");
	assert_int_equal(f.virtual_size, 64ULL << 20);

	memset(b, 0, 0x9000);
	memcpy(b + 0x9000 - 512, "conectix", 8); /* fixed VHD: footer at the end */
	put_be64(b + 0x9000 - 512 + 0x30, 0x8e00);
	put_be32(b + 0x9000 - 512 + 0x3c, 2); /* disk type: fixed */
	assert_int_equal(sniff(b, 0x9000, &f, &err), 0);
	assert_string_equal(f.format, "vpc");
	assert_int_equal(f.virtual_size, 0x8e00);

	memset(b, 'x', 0x9000);
	assert_int_equal(sniff(b, 1000, &f, &err), 0);
	assert_string_equal(f.format, "raw");
	assert_int_equal(f.virtual_size, 1000);
	free(b);
}

static void test_sniff_hostile_headers(void **state)
{
	unsigned char b[0x3000] = {0};
	struct imp_format f;
	struct vim_err err;
	(void)state;

	qcow2_min(b, 1 << 20);
	put_be64(b + 24, UINT64_MAX); /* overflowing size */
	assert_int_equal(sniff(b, sizeof(b), &f, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "qcow2 header: size 18446744073709551615"));
	put_be64(b + 24, 0);
	assert_int_equal(sniff(b, sizeof(b), &f, &err), VIM_EINVAL);
	assert_int_equal(sniff(b, 20, &f, &err), VIM_EINVAL); /* truncated header */
	assert_non_null(strstr(err.msg, "truncated"));
	b[7] = 9; /* unknown version */
	put_be64(b + 24, 4096);
	assert_int_equal(sniff(b, sizeof(b), &f, &err), VIM_EINVAL);
	memset(b, 0xff, sizeof(b));
	memcpy(b, "KDMV", 4); /* capacity * 512 overflows */
	assert_int_equal(sniff(b, sizeof(b), &f, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "vmdk"));
	assert_int_equal(sniff(b, 0, &f, &err), VIM_EINVAL); /* empty */
}

struct sink {
	unsigned char *buf;
	size_t len, cap;
};

static int collect(void *arg, const void *data, size_t len)
{
	struct sink *s = arg;
	if (s->len + len > s->cap) {
		s->cap = (s->len + len) * 2;
		s->buf = realloc(s->buf, s->cap);
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	return 0;
}

static size_t gz(const void *in, size_t len, unsigned char *out, size_t cap)
{
	z_stream z = {0};
	deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	deflateEnd(&z);
	return cap - z.avail_out;
}

static int unpack_all(const unsigned char *in, size_t len, uint64_t max, struct sink *out,
                      struct vim_err *err)
{
	struct imp_unpack *u;
	size_t off;
	int rc = 0;

	assert_int_equal(imp_unpack_new(&u, imp_packing_of(in, len), max, NULL), 0);
	for (off = 0; off < len && rc == 0; off += 1000)
		rc = imp_unpack_feed(u, in + off, len - off < 1000 ? len - off : 1000, collect, out,
		                     err);
	if (rc == 0)
		rc = imp_unpack_finish(u, err);
	imp_unpack_free(u);
	return rc;
}

static void test_unpack_gzip_members_xz_and_truncation(void **state)
{
	static unsigned char plain[300000], packed[700000];
	struct sink out = {0};
	struct vim_err err;
	size_t n1, n2, i;
	lzma_stream x = LZMA_STREAM_INIT;
	(void)state;

	for (i = 0; i < sizeof(plain); i++)
		plain[i] = (unsigned char)(i * 7 + i / 1000);
	n1 = gz(plain, 100000, packed, sizeof(packed));
	n2 = gz(plain + 100000, 200000, packed + n1, sizeof(packed) - n1); /* a second member */
	assert_int_equal(imp_packing_of(packed, n1 + n2), IMP_GZIP);
	assert_int_equal(unpack_all(packed, n1 + n2, 0, &out, &err), 0);
	assert_int_equal(out.len, sizeof(plain));
	assert_memory_equal(out.buf, plain, sizeof(plain));
	out.len = 0;
	assert_int_equal(unpack_all(packed, n1 + n2 - 20, 0, &out, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "ends early"));

	assert_int_equal(lzma_easy_encoder(&x, 1, LZMA_CHECK_CRC64), LZMA_OK);
	x.next_in = plain;
	x.avail_in = sizeof(plain);
	x.next_out = packed;
	x.avail_out = sizeof(packed);
	assert_int_equal(lzma_code(&x, LZMA_FINISH), LZMA_STREAM_END);
	n1 = sizeof(packed) - x.avail_out;
	lzma_end(&x);
	assert_int_equal(imp_packing_of(packed, n1), IMP_XZ);
	out.len = 0;
	assert_int_equal(unpack_all(packed, n1, 0, &out, &err), 0);
	assert_int_equal(out.len, sizeof(plain));
	assert_memory_equal(out.buf, plain, sizeof(plain));
	out.len = 0;
	assert_int_equal(unpack_all(packed, n1 / 2, 0, &out, &err), VIM_EINVAL);
	free(out.buf);
}

static int count_only(void *arg, const void *data, size_t len)
{
	(void)data;
	*(uint64_t *)arg += len;
	return 0;
}

static void test_unpack_refuses_a_bomb(void **state)
{
	size_t zlen = 64u << 20, n;
	unsigned char *zeros = calloc(1, zlen), *packed = malloc(1 << 20);
	struct imp_unpack *u;
	struct vim_err err;
	uint64_t seen = 0;
	int rc;
	(void)state;

	n = gz(zeros, zlen, packed, 1 << 20); /* 64 MiB of zeros: ~64 KiB packed */
	assert_int_equal(imp_unpack_new(&u, IMP_GZIP, 0, NULL), 0);
	rc = imp_unpack_feed(u, packed, n, count_only, &seen, &err);
	assert_int_equal(rc, VIM_EINVAL);
	assert_non_null(strstr(err.msg, "decompression bomb"));
	assert_true(seen < zlen);
	imp_unpack_free(u);
	/* and an explicit bound */
	seen = 0;
	assert_int_equal(imp_unpack_new(&u, IMP_GZIP, 1000, NULL), 0);
	assert_int_equal(imp_unpack_feed(u, packed, n, count_only, &seen, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "expands beyond 1000 bytes"));
	imp_unpack_free(u);
	free(zeros);
	free(packed);
}

/* ---- the checksums a job copies from the spec at start ------------------------ */

/* A strdup that fails on its n-th call (curl's torture idea, one site). */
static int dup_calls, dup_fail_at;
static char *failing_dup(const char *s)
{
	if (++dup_calls == dup_fail_at)
		return NULL;
	return model_strdup(s);
}

static void test_checksum_copy_fails_the_start_when_a_copy_fails(void **state)
{
	struct model_checksum want = {.md5 = "a",
	                              .sha1 = "b",
	                              .sha256 = "c",
	                              .sha512 = "d",
	                              .streebog256 = "e",
	                              .streebog512 = "f"};
	struct model_checksum got;
	struct vim_err err = {0};
	(void)state;

	/* every copy failing in turn: the start fails, nothing half-copied
	 * (a sum silently dropped would let a wrong image pass) */
	for (dup_fail_at = 1; dup_fail_at <= 6; dup_fail_at++) {
		dup_calls = 0;
		memset(&got, 0x5a, sizeof(got));
		assert_int_equal(imp_checksum_copy(&got, &want, failing_dup, &err), VIM_ENOMEM);
		assert_string_equal(err.msg, "out of memory copying the checksums");
		assert_null(got.md5);
		assert_null(got.sha1);
		assert_null(got.sha256);
		assert_null(got.sha512);
		assert_null(got.streebog256);
		assert_null(got.streebog512);
	}
	dup_calls = 0;
	dup_fail_at = 0;
	assert_int_equal(imp_checksum_copy(&got, &want, failing_dup, &err), 0);
	assert_int_equal(dup_calls, 6);
	assert_string_equal(got.sha256, "c");
	assert_string_equal(got.streebog512, "f");
	imp_checksum_clear(&got);
	/* sums not given are not copied (and cannot fail) */
	want = (struct model_checksum){.sha256 = "c"};
	dup_calls = 0;
	dup_fail_at = 2;
	assert_int_equal(imp_checksum_copy(&got, &want, failing_dup, &err), 0);
	assert_int_equal(dup_calls, 1);
	assert_null(got.md5);
	imp_checksum_clear(&got);
}

/* ---- an upload's token ------------------------------------------------------ */

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

/* Starts an Upload job for uid whose image shows stored_url and returns
 * the token of the URL the job answers with (into tok). */
static void upload_job_token(struct imp_manager *m, const char *uid, const char *stored_url,
                             char tok[65])
{
	struct model_data_source ds = {.type = MODEL_DS_UPLOAD};
	struct imp_job_input in = {.uid = uid,
	                           .kind = MODEL_KIND_VI,
	                           .key = "ns/img",
	                           .ns = "ns",
	                           .ds = &ds,
	                           .upload_url = stored_url,
	                           .repo = "vi/ns/img",
	                           .tag = uid};
	struct imp_snapshot snap;
	struct vim_err err = {0};
	const char *base = "http://new-leader:9090/upload/";
	bool terminal;

	assert_int_equal(imp_job_start(m, &in, 0, &snap, &terminal, &err), 0);
	assert_int_equal(snap.state, IMP_JOB_WAIT_UPLOAD);
	assert_int_equal(strncmp(snap.upload_url, base, strlen(base)), 0);
	assert_int_equal(strlen(snap.upload_url + strlen(base)), 64);
	memcpy(tok, snap.upload_url + strlen(base), 65); /* its 64 and the NUL */
	assert_int_equal(strspn(tok, "0123456789abcdef"), 64);
}

static void test_an_upload_job_keeps_the_token_of_the_url_its_image_shows(void **state)
{
	static const char *const not_ours[] = {
	    "http://old:8080/upload/" HEX64 "/",
	    "http://old:8080/upload/" HEX64 "0",
	    "http://old:8080/upload/0" HEX64,
	    "http://old:8080/uploads/" HEX64,
	    "http://old:8080/upload/"
	    "00112233445566778899AABBCCDDEEFF00112233445566778899aabbccddeeff",
	    "http://old:8080/upload/"
	    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeef",
	    "",
	    NULL,
	};
	struct imp_config cfg = {.upload_base = "http://new-leader:9090"};
	struct imp_manager *m = NULL;
	struct vim_err err = {0};
	char tok[65], uid[16];
	(void)state;

	assert_int_equal(imp_manager_new(&m, &cfg, &err), 0);
	/* the URL of another leader: the same token behind this one's base */
	upload_job_token(m, "u0", "http://old-leader:8080/upload/" HEX64, tok);
	assert_string_equal(tok, HEX64);
	/* a status copied from that image names a token that is taken: the
	 * URL is one image's credential, so this one draws its own */
	upload_job_token(m, "u1", "http://old-leader:8080/upload/" HEX64, tok);
	assert_string_not_equal(tok, HEX64);
	/* anything else is not an upload URL of ours: a fresh token */
	for (size_t i = 0; i < sizeof(not_ours) / sizeof(not_ours[0]); i++) {
		snprintf(uid, sizeof(uid), "v%zu", i);
		upload_job_token(m, uid, not_ours[i], tok);
		assert_null(strstr(HEX64, tok));
	}
	imp_manager_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_checksum_copy_fails_the_start_when_a_copy_fails),
	    cmocka_unit_test(test_digest_known_vectors),
	    cmocka_unit_test(test_digest_verify_names_the_mismatch),
	    cmocka_unit_test(test_sniff_headers),
	    cmocka_unit_test(test_sniff_hostile_headers),
	    cmocka_unit_test(test_unpack_gzip_members_xz_and_truncation),
	    cmocka_unit_test(test_unpack_refuses_a_bomb),
	    cmocka_unit_test(test_an_upload_job_keeps_the_token_of_the_url_its_image_shows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
