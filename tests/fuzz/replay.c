/*
 * tests/fuzz/replay — the corpus of a fuzz target as regression tests.
 * Linked with one target (build/tests/test_fuzz_<t>); without arguments it
 * runs LLVMFuzzerTestOneInput over every file of tests/fuzz/corpus/<t>/
 * (<t> from its own name, relative to the current directory, as tests/run
 * runs it from the repository root), one cmocka test per file, named by
 * the file.  Arguments name other files or directories to replay instead.
 * Each input is a heap copy of exactly its size, as libFuzzer passes it,
 * so the ASan build catches a read one byte past it.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz.h"

#define FILES_MAX 4096

struct input {
	char path[1024];
	char name[256];
};

static struct input inputs[FILES_MAX];
static struct CMUnitTest tests[FILES_MAX];
static size_t n_inputs;

/* The SIGSEGV/SIGBUS handlers a sanitizer installed before cmocka replaced
 * them with its own, which only says "Segmentation fault": put back, they
 * print the stack (file:line) of the bad read.  Without a sanitizer they
 * are SIG_DFL and cmocka's are kept (it goes on with the other inputs). */
static struct sigaction san_segv, san_bus;

static void sanitizer_handlers_back(void)
{
	if (san_segv.sa_handler != SIG_DFL && san_segv.sa_handler != SIG_IGN)
		sigaction(SIGSEGV, &san_segv, NULL);
	if (san_bus.sa_handler != SIG_DFL && san_bus.sa_handler != SIG_IGN)
		sigaction(SIGBUS, &san_bus, NULL);
}

static void replay_one(void **state)
{
	const struct input *in = *state;
	uint8_t *buf = NULL;
	size_t len = 0;
	struct stat sb;
	FILE *f = fopen(in->path, "rb");

	if (!f || fstat(fileno(f), &sb) != 0)
		fail_msg("%s: cannot open: %s", in->path, strerror(errno));
	len = (size_t)sb.st_size;
	/* malloc(0) may return NULL; libFuzzer passes a valid pointer */
	buf = malloc(len ? len : 1);
	assert_non_null(buf);
	if (len && fread(buf, 1, len, f) != len)
		fail_msg("%s: short read", in->path);
	fclose(f);
	/* printed first so a crash (no cmocka line after it) names its input */
	fprintf(stderr, "replay %s (%zu bytes)\n", in->path, len);
	sanitizer_handlers_back();
	assert_int_equal(LLVMFuzzerTestOneInput(buf, len), 0);
	free(buf);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct input *)a)->name, ((const struct input *)b)->name);
}

static int add(const char *path, const char *name)
{
	if (n_inputs == FILES_MAX) {
		fprintf(stderr, "replay: more than %d inputs\n", FILES_MAX);
		return -1;
	}
	snprintf(inputs[n_inputs].path, sizeof(inputs[n_inputs].path), "%s", path);
	snprintf(inputs[n_inputs].name, sizeof(inputs[n_inputs].name), "%s", name);
	n_inputs++;
	return 0;
}

/* A file, or every regular file of a directory (not recursive; dot files
 * such as .gitkeep are not inputs). */
static int add_path(const char *path)
{
	struct stat sb;
	struct dirent *e;
	DIR *d;
	char p[1024];
	int rc = 0;

	if (stat(path, &sb) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		const char *slash = strrchr(path, '/');
		return add(path, slash ? slash + 1 : path);
	}
	if (!(d = opendir(path)))
		return -1;
	while (rc == 0 && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
		if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
			rc = add(p, e->d_name);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/'), *target;
	char group[128], dir[1024];
	size_t i;
	int a;

	sigaction(SIGSEGV, NULL, &san_segv);
	sigaction(SIGBUS, NULL, &san_bus);
	self = self ? self + 1 : argv[0];
	target = strncmp(self, "test_fuzz_", 10) == 0 ? self + 10 : self;
	if (argc > 1) {
		for (a = 1; a < argc; a++)
			if (add_path(argv[a]) < 0)
				return 1;
	} else {
		snprintf(dir, sizeof(dir), "tests/fuzz/corpus/%s", target);
		if (add_path(dir) < 0)
			return 1;
	}
	if (n_inputs == 0) {
		/* a corpus that lost its files must not pass silently */
		fprintf(stderr, "replay: no inputs for %s\n", target);
		return 1;
	}
	qsort(inputs, n_inputs, sizeof(inputs[0]), by_name);
	for (i = 0; i < n_inputs; i++) {
		tests[i].name = inputs[i].name;
		tests[i].test_func = replay_one;
		tests[i].initial_state = &inputs[i];
	}
	snprintf(group, sizeof(group), "fuzz corpus %s", target);
	return _cmocka_run_group_tests(group, tests, n_inputs, NULL, NULL);
}
