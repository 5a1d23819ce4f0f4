/* importer/layer: finding disk/<name> in a container image layer as it
 * streams — ustar, PAX and GNU long names, "./disk/", gzip, any chunking;
 * layers without a disk and broken tars. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "dvcr/image.h"
#include "importer/internal.h"

struct tarbuf {
	unsigned char *b;
	size_t len;
};

static void put(struct tarbuf *t, const void *d, size_t n)
{
	t->b = realloc(t->b, t->len + n);
	assert_non_null(t->b);
	memcpy(t->b + t->len, d, n);
	t->len += n;
}

static void put_file(struct tarbuf *t, const char *name, const char *data, size_t n, char type)
{
	unsigned char h[512], pad[512] = {0};

	dvcr_tar_header(h, name, 0644, n, type);
	put(t, h, 512);
	put(t, data, n);
	put(t, pad, (512 - n % 512) % 512);
}

static void put_end(struct tarbuf *t)
{
	unsigned char z[1024] = {0};
	put(t, z, sizeof(z));
}

struct got {
	char name[256];
	uint64_t size;
	char data[8192];
	size_t len;
	int begins;
};

static int on_begin(void *ud, const char *name, uint64_t size, struct vim_err *err)
{
	struct got *g = ud;
	(void)err;
	snprintf(g->name, sizeof(g->name), "%s", name);
	g->size = size;
	g->begins++;
	return 0;
}

static int on_data(void *ud, const void *d, size_t n, struct vim_err *err)
{
	struct got *g = ud;
	(void)err;
	assert_true(g->len + n <= sizeof(g->data));
	memcpy(g->data + g->len, d, n);
	g->len += n;
	return 0;
}

/* Feeds t in chunks of `chunk` bytes; returns the last feed's result. */
static int feed(const struct tarbuf *t, size_t chunk, struct got *g, struct vim_err *err)
{
	struct imp_layer *l;
	size_t off = 0;
	int rc = 0;

	memset(g, 0, sizeof(*g));
	assert_int_equal(imp_layer_new(&l, on_begin, on_data, g, err), 0);
	while (off < t->len && rc == 0) {
		size_t n = t->len - off < chunk ? t->len - off : chunk;
		rc = imp_layer_feed(l, t->b + off, n, err);
		off += n;
	}
	imp_layer_free(l);
	return rc;
}

/* Recomputes the checksum of a header the test edited by hand. */
static void fix_sum(unsigned char h[512])
{
	unsigned sum = 0;
	size_t i;

	memset(h + 148, ' ', 8);
	for (i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 7, "%06o", sum);
	h[155] = ' ';
}

/* An 'x' header whose data is exactly rec (n bytes), padded, then a disk. */
static void put_pax_raw(struct tarbuf *t, const char *rec, size_t n)
{
	unsigned char h[512], pad[512] = {0};

	dvcr_tar_header(h, "PaxHeaders/disk", 0644, n, 'x');
	put(t, h, 512);
	put(t, rec, n);
	put(t, pad, (512 - n % 512) % 512);
	put_file(t, "disk/after.img", "ab", 2, '0');
	put_end(t);
}

static const char DISK[] = "QFI\xfb not really a disk, but its bytes must arrive whole";

static void test_layer_finds_disk_after_other_members_in_any_chunking(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	size_t chunks[] = {1, 7, 511, 512, 513, 1 << 20};
	size_t i;
	(void)state;

	put_file(&t, "etc/motd", "hello\n", 6, '0');
	put_file(&t, "disk", "", 0, '5');
	put_file(&t, "disk/noble.qcow2", DISK, sizeof(DISK) - 1, '0');
	put_file(&t, "disk/second.img", "xx", 2, '0');
	put_end(&t);
	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		assert_int_equal(feed(&t, chunks[i], &g, &err), 1);
		assert_string_equal(g.name, "noble.qcow2");
		assert_int_equal(g.size, sizeof(DISK) - 1);
		assert_int_equal(g.len, sizeof(DISK) - 1);
		assert_memory_equal(g.data, DISK, g.len);
		assert_int_equal(g.begins, 1); /* the first disk file only */
	}
	free(t.b);
}

static void test_layer_accepts_dot_slash_pax_path_and_gnu_long_name(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	unsigned char pax[1024];
	char longname[220];
	size_t n;
	(void)state;

	put_file(&t, "./disk/dot.img", "abc", 3, '0');
	put_end(&t);
	assert_int_equal(feed(&t, 100, &g, &err), 1);
	assert_string_equal(g.name, "dot.img");
	free(t.b);

	/* a PAX header renames the next member into disk/ (a path too long
	 * for ustar, so the PAX record carries it) */
	memset(&t, 0, sizeof(t));
	memset(longname, 'p', 150);
	memcpy(longname, "disk/", 5);
	longname[150] = '\0';
	n = dvcr_tar_pax(pax, longname, 4);
	put(&t, pax, n);
	put_file(&t, "ignored-name", "wxyz", 4, '0');
	put_end(&t);
	assert_int_equal(feed(&t, 13, &g, &err), 1);
	assert_string_equal(g.name, longname + 5);
	assert_int_equal(g.len, 4);
	free(t.b);

	/* a GNU 'L' long name */
	memset(&t, 0, sizeof(t));
	memset(longname, 'a', sizeof(longname));
	memcpy(longname, "disk/", 5);
	longname[sizeof(longname) - 1] = '\0';
	put_file(&t, "././@LongLink", longname, strlen(longname), 'L');
	put_file(&t, "truncated", "12", 2, '0');
	put_end(&t);
	assert_int_equal(feed(&t, 64, &g, &err), 1);
	assert_int_equal(strlen(g.name), strlen(longname) - 5);
	free(t.b);
}

static void test_layer_reads_gzip(void **state)
{
	struct tarbuf t = {0}, gz = {0};
	struct got g;
	struct vim_err err = {0};
	z_stream z = {0};
	(void)state;

	put_file(&t, "disk/g.img", DISK, sizeof(DISK) - 1, '0');
	put_end(&t);
	gz.b = malloc(t.len + 1024);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = t.b;
	z.avail_in = (uInt)t.len;
	z.next_out = gz.b;
	z.avail_out = (uInt)(t.len + 1024);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	gz.len = z.total_out;
	deflateEnd(&z);
	assert_int_equal(feed(&gz, 5, &g, &err), 1);
	assert_string_equal(g.name, "g.img");
	assert_memory_equal(g.data, DISK, sizeof(DISK) - 1);
	free(t.b);
	free(gz.b);
}

static void test_layer_without_disk_ends_without_one(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	struct imp_layer *l;
	(void)state;

	put_file(&t, "disk/sub/deeper.img", "no", 2, '0'); /* not directly under disk/ */
	put_file(&t, "diskette/x.img", "no", 2, '0');
	put_file(&t, "disk/link", "", 0, '2');
	put_end(&t);
	memset(&g, 0, sizeof(g));
	assert_int_equal(imp_layer_new(&l, on_begin, on_data, &g, &err), 0);
	assert_int_equal(imp_layer_feed(l, t.b, t.len, &err), 0);
	assert_true(imp_layer_ended(l));
	assert_int_equal(g.begins, 0);
	imp_layer_free(l);
	free(t.b);
}

static void test_layer_refuses_a_broken_header(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	unsigned char h[512];
	(void)state;

	dvcr_tar_header(h, "disk/x.img", 0644, 10, '0');
	memcpy(h + 124, "9999999999x", 11);
	h[124] = 0xff; /* a negative base-256 size */
	fix_sum(h);
	put(&t, h, 512);
	put_end(&t);
	assert_true(feed(&t, 512, &g, &err) < 0);
	assert_non_null(strstr(err.msg, "bad size"));
	free(t.b);

	/* an oversized PAX header is refused, not buffered */
	memset(&t, 0, sizeof(t));
	dvcr_tar_header(h, "pax", 0644, 1 << 20, 'x');
	put(&t, h, 512);
	assert_true(feed(&t, 512, &g, &err) < 0);
	free(t.b);
}

/* The security review's crash: "1 " made the record's remaining length
 * underflow into memchr.  Every short or inconsistent record is a clear
 * error naming its offset in the stream (the 'x' header's data starts at
 * 512). */
static void test_layer_refuses_malformed_pax_records_without_reading_past_them(void **state)
{
	static const struct {
		const char *rec;
		size_t n;
		int off; /* of the bad record */
	} bad[] = {
	    {"1 ", 2, 512},                             /* the crash: LEN shorter than "LEN " */
	    {"2 ", 2, 512},                             /* no room for key=value\n */
	    {"3 a", 3, 512},                            /* ditto */
	    {"0 a=b\n", 6, 512},                        /* zero */
	    {"9 a=b\n", 6, 512},                        /* longer than the header */
	    {"-1 a=b\n", 7, 512},                       /* a sign strtoul would take */
	    {" 7 a=b\n", 7, 512},                       /* a blank before LEN */
	    {"6 a=bc\n", 7, 512},                       /* the newline is not at LEN - 1 */
	    {"6 abc\n", 6, 512},                        /* no '=' */
	    {"5 =b\n", 5, 512},                         /* an empty key */
	    {"6 a=b\n1 ", 8, 518},                      /* a good record, then the crash */
	    {"99999999999999999999999 a=b\n", 28, 512}, /* LEN beyond 2^64 */
	    {"7 a=b\n", 6, 512},                        /* 7 claims one more byte than there is */
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tarbuf t = {0};
		struct got g;
		struct vim_err err = {0};
		put_pax_raw(&t, bad[i].rec, bad[i].n);
		assert_true(feed(&t, 7, &g, &err) < 0);
		char want[64];
		snprintf(want, sizeof(want), "layer: malformed PAX record at offset %d",
		         bad[i].off);
		if (strcmp(err.msg, want) != 0) {
			print_error("case %zu: %s\n", i, err.msg);
			fail();
		}
		assert_int_equal(g.begins, 0);
		free(t.b);
	}
}

static void test_layer_takes_well_formed_pax_records_of_every_shape(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	const char recs[] = "5 x=\n"        /* the shortest record */
	                    "12 comment=\n" /* an empty value */
	                    "19 path=disk/p.img\n"
	                    "9 size=2\n";
	(void)state;

	put_pax_raw(&t, recs, sizeof(recs) - 1);
	assert_int_equal(feed(&t, 3, &g, &err), 1);
	assert_string_equal(g.name, "p.img");
	assert_int_equal(g.size, 2);
	free(t.b);
}

/* A PAX size that is not a plain decimal below 2^63 is refused, not read as
 * 0 or as UINT64_MAX ("-1"). */
static void test_layer_refuses_pax_sizes_that_are_not_numbers_or_too_big(void **state)
{
	static const char *const bad[] = {
	    "11 size=-1\n",
	    "12 size=12x\n",
	    "10 size= \n",
	    "29 size=18446744073709551615\n",
	    "28 size=9223372036854775808\n",
	};
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tarbuf t = {0};
		struct got g;
		struct vim_err err = {0};
		put_pax_raw(&t, bad[i], strlen(bad[i]));
		assert_true(feed(&t, 512, &g, &err) < 0);
		if (!strstr(err.msg, "malformed PAX size")) {
			print_error("case %zu: %s\n", i, err.msg);
			fail();
		}
		free(t.b);
	}
}

/* Header fields from the stream: checksum, octal digits, base-256 sizes
 * beyond 2^63, and the ustar prefix of a header that is not POSIX ustar. */
static void test_layer_checks_header_checksum_sizes_and_magic(void **state)
{
	struct tarbuf t = {0};
	struct got g;
	struct vim_err err = {0};
	unsigned char h[512];
	(void)state;

	/* a block that is not a header: its checksum does not match */
	put_file(&t, "disk/x.img", "ab", 2, '0');
	t.b[10] ^= 1;
	assert_true(feed(&t, 512, &g, &err) < 0);
	assert_non_null(strstr(err.msg, "bad checksum at offset 0"));
	free(t.b);

	/* octal digits followed by junk */
	memset(&t, 0, sizeof(t));
	put_file(&t, "etc/a", "", 0, '0');
	dvcr_tar_header(h, "disk/x.img", 0644, 2, '0');
	memcpy(h + 124, "0000000002x", 11);
	fix_sum(h);
	put(&t, h, 512);
	put_end(&t);
	assert_true(feed(&t, 100, &g, &err) < 0);
	assert_non_null(strstr(err.msg, "bad size at offset 512"));
	free(t.b);

	/* base-256 UINT64_MAX: was taken as the disk's size */
	memset(&t, 0, sizeof(t));
	dvcr_tar_header(h, "disk/x.img", 0644, 0, '0');
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	memset(h + 128, 0xff, 8);
	fix_sum(h);
	put(&t, h, 512);
	put_end(&t);
	assert_true(feed(&t, 512, &g, &err) < 0);
	assert_non_null(strstr(err.msg, "bad size"));
	assert_int_equal(g.begins, 0);
	free(t.b);

	/* base-256 of a plain size is fine */
	memset(&t, 0, sizeof(t));
	dvcr_tar_header(h, "disk/b256.img", 0644, 0, '0');
	memset(h + 124, 0, 12);
	h[124] = 0x80;
	h[135] = 2;
	fix_sum(h);
	put(&t, h, 512);
	put(&t, "xy", 2);
	put_end(&t);
	assert_int_equal(feed(&t, 512, &g, &err), 1);
	assert_int_equal(g.size, 2);
	free(t.b);

	/* old GNU magic "ustar  ": bytes 345.. are times, not a name prefix */
	memset(&t, 0, sizeof(t));
	dvcr_tar_header(h, "disk/gnu.img", 0644, 2, '0');
	memcpy(h + 257, "ustar  ", 8);
	memcpy(h + 345, "00000000017", 11);
	fix_sum(h);
	put(&t, h, 512);
	put(&t, "xy", 2);
	put_end(&t);
	assert_int_equal(feed(&t, 512, &g, &err), 1);
	assert_string_equal(g.name, "gnu.img");
	free(t.b);
}

/* Feeds the first n bytes of t (in chunks of `chunk`), then says the
 * layer ended: imp_layer_finish's verdict, with err's message. */
static int finish_after(const struct tarbuf *t, size_t n, size_t chunk, struct vim_err *err)
{
	struct imp_layer *l;
	struct got g;
	size_t off = 0;
	int rc = 0;

	memset(&g, 0, sizeof(g));
	memset(err, 0, sizeof(*err));
	assert_int_equal(imp_layer_new(&l, on_begin, on_data, &g, err), 0);
	while (off < n && rc == 0) {
		size_t k = n - off < chunk ? n - off : chunk;
		rc = imp_layer_feed(l, t->b + off, k, err);
		off += k;
	}
	assert_int_equal(rc, 0); /* no disk found, no bad header seen */
	rc = imp_layer_finish(l, err);
	imp_layer_free(l);
	return rc;
}

static void gzip_of(const struct tarbuf *t, struct tarbuf *gz)
{
	z_stream z = {0};

	gz->b = malloc(t->len + 1024);
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = t->b;
	z.avail_in = (uInt)t->len;
	z.next_out = gz->b;
	z.avail_out = (uInt)(t->len + 1024);
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	gz->len = z.total_out;
	deflateEnd(&z);
}

static void test_layer_cut_inside_a_header_or_a_member_is_a_truncated_tar(void **state)
{
	struct tarbuf t = {0};
	struct vim_err err;
	char big[1000];
	size_t chunk;
	(void)state;

	memset(big, 'b', sizeof(big));
	put_file(&t, "etc/hostname", "hi", 2, '0');     /* 0..1024 */
	put_file(&t, "etc/big", big, sizeof(big), '0'); /* 1024..2560 */
	put_file(&t, "disk/d.img", DISK, sizeof(DISK) - 1, '0');
	put_end(&t);
	for (chunk = 1; chunk <= 4096; chunk *= 8) {
		/* inside the second header */
		assert_int_equal(finish_after(&t, 1124, chunk, &err), VIM_EINVAL);
		assert_string_equal(err.msg, "layer: truncated tar at offset 1124");
		/* inside the second member's data, and inside its padding */
		assert_int_equal(finish_after(&t, 1836, chunk, &err), VIM_EINVAL);
		assert_string_equal(err.msg, "layer: truncated tar at offset 1836");
		assert_int_equal(finish_after(&t, 2536, chunk, &err), VIM_EINVAL);
		assert_string_equal(err.msg, "layer: truncated tar at offset 2536");
		/* the first member's padding */
		assert_int_equal(finish_after(&t, 600, chunk, &err), VIM_EINVAL);
		assert_string_equal(err.msg, "layer: truncated tar at offset 600");
		/* inside the disk's own data */
		assert_int_equal(finish_after(&t, 3072 + 10, chunk, &err), VIM_EINVAL);
		assert_string_equal(err.msg, "layer: truncated tar at offset 3082");
	}
	/* fewer bytes than one block, or than the sniffer takes */
	assert_int_equal(finish_after(&t, 5, 1, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "layer: truncated tar at offset 5");
	assert_int_equal(finish_after(&t, 300, 512, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "layer: truncated tar at offset 300");
	free(t.b);
}

static void test_layer_ending_on_a_header_boundary_is_whole(void **state)
{
	struct tarbuf t = {0};
	struct vim_err err;
	unsigned char zero[512] = {0};
	(void)state;

	put_file(&t, "etc/hostname", "hi", 2, '0');
	/* no end marker at all, as GNU tar accepts */
	assert_int_equal(finish_after(&t, t.len, 7, &err), 0);
	/* one zero block of the two */
	put(&t, zero, sizeof(zero));
	assert_int_equal(finish_after(&t, t.len, 512, &err), 0);
	/* both, and a record's worth of zeros after them */
	put_end(&t);
	assert_int_equal(finish_after(&t, t.len, 100, &err), 0);
	/* an empty layer is an empty archive */
	assert_int_equal(finish_after(&t, 0, 1, &err), 0);
	free(t.b);
}

static void test_layer_gzip_cut_short_is_an_error(void **state)
{
	struct tarbuf t = {0}, gz = {0};
	struct vim_err err;
	(void)state;

	put_file(&t, "etc/hostname", "hi", 2, '0');
	put_end(&t);
	gzip_of(&t, &gz);
	assert_int_equal(finish_after(&gz, gz.len, 9, &err), 0);
	/* the tar is whole (it ends on a boundary) but the gzip trailer is cut */
	assert_int_equal(finish_after(&gz, gz.len - 4, 9, &err), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "layer: gzip: the compressed data ends early"));
	free(t.b);
	free(gz.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layer_finds_disk_after_other_members_in_any_chunking),
	    cmocka_unit_test(test_layer_accepts_dot_slash_pax_path_and_gnu_long_name),
	    cmocka_unit_test(test_layer_reads_gzip),
	    cmocka_unit_test(test_layer_without_disk_ends_without_one),
	    cmocka_unit_test(test_layer_refuses_a_broken_header),
	    cmocka_unit_test(test_layer_refuses_malformed_pax_records_without_reading_past_them),
	    cmocka_unit_test(test_layer_takes_well_formed_pax_records_of_every_shape),
	    cmocka_unit_test(test_layer_refuses_pax_sizes_that_are_not_numbers_or_too_big),
	    cmocka_unit_test(test_layer_checks_header_checksum_sizes_and_magic),
	    cmocka_unit_test(test_layer_cut_inside_a_header_or_a_member_is_a_truncated_tar),
	    cmocka_unit_test(test_layer_ending_on_a_header_boundary_is_whole),
	    cmocka_unit_test(test_layer_gzip_cut_short_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
