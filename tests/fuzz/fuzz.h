/*
 * tests/fuzz/fuzz.h — what every fuzz target shares.  A target is one
 * LLVMFuzzerTestOneInput over one parser entry point, called as the daemon
 * calls it; the same file links either with libFuzzer (`make fuzz`) or with
 * tests/fuzz/replay.c, which replays tests/fuzz/corpus/<target>/ as cmocka
 * tests in `make test` and `make asan`.
 */
#ifndef VIM_TESTS_FUZZ_H
#define VIM_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Request bodies above this are refused by the API server (413) before any
 * parser sees them (api.h: max_body 0 = 1 MiB), so a target skips them:
 * a crash only a refused body could cause is not one the daemon has. */
#define FUZZ_BODY_MAX (1u << 20)

/* A NUL-terminated copy of at most the first len bytes, cut at the first
 * NUL: header values and query parameters reach the parsers as C strings.
 * NULL only when out of memory. */
static inline char *fuzz_cstr(const uint8_t *data, size_t len)
{
	const uint8_t *nul = memchr(data, 0, len);
	size_t n = nul ? (size_t)(nul - data) : len;
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, data, n);
		s[n] = '\0';
	}
	return s;
}

/* A property the parser promises is broken: fail loudly, as a crash, so
 * both libFuzzer and the replay report it with the input. */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: fuzz property broken: %s\n", __FILE__, __LINE__,   \
			        #cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#endif
