/*
 * fuzz target `layer`: the bytes of one image layer as the ContainerImage
 * source (importer/registry.c) and vimagectl download stream them into
 * imp_layer_feed, with the disk callbacks counting what comes out.  Fed
 * twice: whole, then in chunks of awkward sizes (a blob arrives in curl's
 * pieces, and a header or a gzip member may straddle any two).
 * Properties: the disk gets at most the size its header announced, its
 * name is a base name, and a disk both feedings found is the same.
 */
#include "fuzz.h"

#include "importer/layer.h"

struct seen {
	int begins;
	uint64_t size, got;
};

static int on_begin(void *ud, const char *name, uint64_t size, struct vim_err *err)
{
	struct seen *s = ud;

	(void)err;
	FUZZ_CHECK(name && name[0] && !strchr(name, '/'));
	s->begins++;
	s->size = size;
	return 0;
}

static int on_data(void *ud, const void *data, size_t len, struct vim_err *err)
{
	struct seen *s = ud;

	(void)err;
	(void)data;
	FUZZ_CHECK(s->begins == 1);
	s->got += len;
	FUZZ_CHECK(s->got <= s->size);
	return 0;
}

/* rc of the last feed; *s what came out.  chunks: 0 = all at once. */
static int run(const uint8_t *data, size_t size, bool chunked, struct seen *s)
{
	static const size_t sizes[] = {1, 3, 511, 512, 513, 7, 4096, 2, 1024};
	struct imp_layer *l = NULL;
	struct vim_err err = {0};
	size_t off = 0, k = 0;
	int rc;

	memset(s, 0, sizeof(*s));
	FUZZ_CHECK(imp_layer_new(&l, on_begin, on_data, s, &err) == 0);
	do {
		size_t n = chunked ? sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))] : size;
		if (n > size - off)
			n = size - off;
		rc = imp_layer_feed(l, data + off, n, &err);
		off += n;
		if (rc < 0)
			FUZZ_CHECK(err.msg[0] != '\0');
	} while (rc == 0 && off < size);
	if (rc == 1)
		FUZZ_CHECK(s->begins == 1 && s->got == s->size);
	(void)imp_layer_ended(l);
	imp_layer_free(l);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen whole, pieces;
	int a, b;

	if (size == 0)
		return 0; /* a stream callback never gets 0 bytes */
	a = run(data, size, false, &whole);
	b = run(data, size, true, &pieces);
	/* Either may refuse where the other does not (the bomb ratio counts
	 * the input handed over, which depends on chunking); a disk both
	 * found is the same disk. */
	if (a == 1 && b == 1)
		FUZZ_CHECK(whole.size == pieces.size && whole.got == pieces.got);
	return 0;
}
