/* Prints what the importer's sniffer makes of a file, fed in odd-sized
 * chunks through the unpacker as an import would: "FORMAT VSIZE CDROM". */
#include <stdio.h>
#include <stdlib.h>

#include "importer/sniff.h"

static int to_sniff(void *arg, const void *data, size_t len)
{
	imp_sniff_feed(arg, data, len);
	return 0;
}

int main(int argc, char **argv)
{
	static unsigned char buf[4093];
	struct imp_unpack *u = NULL;
	struct imp_sniff *s = NULL;
	struct imp_format f;
	struct vim_err err = {0};
	FILE *in;
	size_t n;
	int first = 1, rc = 0;

	if (argc != 2 || !(in = fopen(argv[1], "rb"))) {
		fprintf(stderr, "usage: sniff_file FILE\n");
		return 2;
	}
	imp_sniff_new(&s, &err);
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (first && imp_unpack_new(&u, imp_packing_of(buf, n), 0, &err) < 0)
			rc = -1;
		first = 0;
		if (rc == 0)
			rc = imp_unpack_feed(u, buf, n, to_sniff, s, &err);
	}
	fclose(in);
	if (rc == 0 && u)
		rc = imp_unpack_finish(u, &err);
	if (rc == 0)
		rc = imp_sniff_finish(s, &f, &err);
	imp_unpack_free(u);
	imp_sniff_free(s);
	if (rc < 0) {
		printf("error: %s\n", err.msg);
		return 1;
	}
	printf("%s %llu %s\n", f.format, (unsigned long long)f.virtual_size,
	       f.cdrom ? "true" : "false");
	return 0;
}
