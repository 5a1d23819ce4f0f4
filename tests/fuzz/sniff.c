/*
 * fuzz target `sniff`: a source stream as imp_pipeline_feed runs it — the
 * first 6 bytes decide the packing, imp_unpack_feed hands the unpacked
 * bytes to imp_sniff_feed, imp_unpack_finish and imp_sniff_finish decide.
 * Then the input as the plain stream in awkward chunks, and as the prefix
 * of a longer stream (64 KiB of zeros after it: a header, then data).
 * Properties: a success names a format and a non-zero virtual size; a
 * refusal says why.
 */
#include "fuzz.h"

#include "importer/sniff.h"

static void decided(int rc, const struct imp_format *f, const struct vim_err *err)
{
	if (rc == 0)
		FUZZ_CHECK(f->format[0] && memchr(f->format, 0, sizeof(f->format)) &&
		           f->virtual_size > 0);
	else
		FUZZ_CHECK(err->msg[0] != '\0');
}

static int to_sniff(void *arg, const void *data, size_t len)
{
	imp_sniff_feed(arg, data, len);
	return 0;
}

static void pipeline(const uint8_t *data, size_t size)
{
	struct imp_sniff *s = NULL;
	struct imp_unpack *u = NULL;
	struct imp_format f;
	struct vim_err err = {0};
	size_t head = size < 6 ? size : 6;
	int rc;

	FUZZ_CHECK(imp_sniff_new(&s, &err) == 0);
	if ((rc = imp_unpack_new(&u, imp_packing_of(data, head), 0, &err)) < 0 ||
	    (rc = imp_unpack_feed(u, data, head, to_sniff, s, &err)) < 0 ||
	    (size > head &&
	     (rc = imp_unpack_feed(u, data + head, size - head, to_sniff, s, &err)) < 0) ||
	    (rc = imp_unpack_finish(u, &err)) < 0) {
		FUZZ_CHECK(err.msg[0] != '\0');
		goto out;
	}
	rc = imp_sniff_finish(s, &f, &err);
	decided(rc, &f, &err);
out:
	imp_unpack_free(u);
	imp_sniff_free(s);
}

static void plain(const uint8_t *data, size_t size, size_t zeros)
{
	static const size_t sizes[] = {1, 511, 4096, 3, 65536, 512, 17};
	static const uint8_t zero[65536];
	struct imp_sniff *s = NULL;
	struct imp_format f;
	struct vim_err err = {0};
	size_t off = 0, k = 0, n;

	FUZZ_CHECK(imp_sniff_new(&s, &err) == 0);
	while (off < size) {
		n = sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];
		n = n < size - off ? n : size - off;
		imp_sniff_feed(s, data + off, n);
		off += n;
	}
	for (; zeros > 0; zeros -= n) {
		n = zeros < sizeof(zero) ? zeros : sizeof(zero);
		imp_sniff_feed(s, zero, n);
	}
	decided(imp_sniff_finish(s, &f, &err), &f, &err);
	imp_sniff_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0; /* imp_pipeline_begin refuses an empty source */
	pipeline(data, size);
	plain(data, size, 0);
	plain(data, size, 64u << 10);
	return 0;
}
