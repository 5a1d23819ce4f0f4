/*
 * vimagectl — what kubectl cannot do with vimage: upload an image with a
 * progress bar, show the service's state, show an image lost and
 * recovered.  Talks to vimaged through the
 * kubeconfig vimaged writes (--kubeconfig, $KUBECONFIG, or
 * ./vimage-data/kubeconfig).  Exit: 0 ok, 1 the operation failed, 2 usage.
 */
#include "vimagectl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	const char *usage;
	int (*run)(const struct conn *c, int argc, char **argv);
};

static const struct command commands[] = {
    {"upload", "upload vi/NAME|cvi/NAME FILE [-n NS]  stream FILE into an Upload image",
     cmd_upload},
    {"download", "download vi/NAME|cvi/NAME -o FILE|- [-n NS]  the disk file, digest-checked",
     cmd_download},
    {"status", "status                               DVCR storage, images by phase, imports",
     cmd_status},
    {"demo",
     "demo [--data-dir DIR]                an image lost and recovered, live (managed DVCR)",
     cmd_demo},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vimagectl [--kubeconfig FILE] COMMAND ...\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  vimagectl %s\n", commands[i].usage);
}

int main(int argc, char **argv)
{
	const char *kc = getenv("KUBECONFIG");
	struct vim_err err = {0};
	struct conn c;
	size_t k;
	int i = 1, rc;

	if (i + 1 < argc && strcmp(argv[i], "--kubeconfig") == 0) {
		kc = argv[i + 1];
		i += 2;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? CTL_EXIT_USAGE : CTL_EXIT_OK;
	}
	for (k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			break;
	if (k == sizeof(commands) / sizeof(commands[0])) {
		fprintf(stderr, "vimagectl: unknown command \"%s\" (see --help)\n", argv[i]);
		return CTL_EXIT_USAGE;
	}
	if (!kc || !*kc)
		kc = "./vimage-data/kubeconfig";
	if (conn_load(&c, kc, &err) < 0) {
		fprintf(stderr, "vimagectl: %s\n", err.msg);
		return CTL_EXIT_FAILED;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = commands[k].run(&c, argc - i - 1, argv + i + 1);
	curl_global_cleanup();
	conn_free(&c);
	return rc;
}
