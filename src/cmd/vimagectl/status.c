/*
 * vimagectl/status — what vimaged says about itself, read from its
 * /metrics: the DVCR storage state, images by kind and phase, imports.
 */
#include "vimagectl.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of the sample `name{labels}` (exact text), -1 if absent. */
static double sample(const char *text, const char *key)
{
	size_t kl = strlen(key);
	const char *p = text;

	while ((p = strstr(p, key))) {
		if ((p == text || p[-1] == '\n') && p[kl] == ' ') {
			char *end;
			double v = strtod(p + kl + 1, &end);
			/* a sample is "name{labels} value [timestamp]" */
			return end > p + kl + 1 && (*end == '\n' || *end == ' ' || !*end) ? v : -1;
		}
		p += kl;
	}
	return -1;
}

static void kind_line(const char *text, const char *kind)
{
	static const char *const phases[] = {"Pending",   "Provisioning", "WaitForUserUpload",
	                                     "Ready",     "Failed",       "Terminating",
	                                     "ImageLost", "PVCLost",      ""};
	char key[160];
	int i, shown = 0;

	printf("  %-20s", kind);
	for (i = 0; i < (int)(sizeof(phases) / sizeof(phases[0])); i++) {
		double v;
		snprintf(key, sizeof(key), "vimage_images{kind=\"%s\",phase=\"%s\"}", kind,
		         phases[i]);
		if ((v = sample(text, key)) > 0)
			printf("%s%s %.0f", shown++ ? ", " : "", phases[i][0] ? phases[i] : "(new)",
			       v);
	}
	printf("%s\n", shown ? "" : "none");
}

int cmd_status(const struct conn *c, int argc, char **argv)
{
	static const char *const states[] = {"up", "down", "unknown"};
	struct vim_err err = {0};
	const char *storage = "unknown";
	size_t len, i;
	char *text;

	(void)argv;
	if (argc > 0) {
		fprintf(stderr, "usage: vimagectl status\n");
		return CTL_EXIT_USAGE;
	}
	if (conn_get_text(c, "/metrics", &text, &len, &err) < 0) {
		fprintf(stderr, "vimagectl: status: vimaged at %s: %s\n", c->server, err.msg);
		return CTL_EXIT_FAILED;
	}
	printf("vimaged:      %s\n", c->server);
	if (sample(text, "vimage_controllers_up") != 1) {
		printf("controllers:  not running (starting, or --controllers off)\n");
		free(text);
		return CTL_EXIT_OK;
	}
	for (i = 0; i < 3; i++) {
		char key[64];
		snprintf(key, sizeof(key), "vimage_dvcr_storage{state=\"%s\"}", states[i]);
		if (sample(text, key) == 1)
			storage = states[i];
	}
	printf("DVCR storage: %s%s\n", storage,
	       strcmp(storage, "down") == 0      ? " (the canary image is gone: images are lost)"
	       : strcmp(storage, "unknown") == 0 ? " (the registry does not answer)"
	                                         : "");
	printf("images:\n");
	for (i = 0; i < MODEL_KIND__COUNT; i++)
		kind_line(text, model_kind_info((enum model_kind)i)->name);
	printf("imports:      %.0f running, %.0f queued, %.0f waiting for an upload\n",
	       sample(text, "vimage_imports{state=\"running\"}"),
	       sample(text, "vimage_imports{state=\"queued\"}"),
	       sample(text, "vimage_imports{state=\"waiting_upload\"}"));
	free(text);
	return CTL_EXIT_OK;
}
