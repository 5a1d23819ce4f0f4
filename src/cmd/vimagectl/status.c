/*
 * vimagectl/status — what vimaged says about itself, read from its
 * /metrics: the replicas and which one leads, the DVCR storage state,
 * images by kind and phase, imports.
 */
#include "vimagectl.h"
#include "model/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* A label's value in a sample line's {...} (no escapes: vimaged's ids and
 * URLs hold no quote); "" when absent. */
static void label(const char *line, const char *name, char *out, size_t cap)
{
	char key[64];
	const char *p, *e;

	out[0] = 0;
	snprintf(key, sizeof(key), "%s=\"", name);
	if (!(p = strstr(line, key)) || !(e = strchr(p + strlen(key), '"')))
		return;
	p += strlen(key);
	snprintf(out, cap, "%.*s", (int)(e - p), p);
}

/* The replicas section: one line each, from the series
 * vimage_replica_start_time_seconds{id,url,role}.  Nothing for a single
 * vimaged (no such series). */
static void replicas(const char *text)
{
	static const char key[] = "vimage_replica_start_time_seconds{";
	const char *p = text;
	double since = sample(text, "vimage_leader_since_seconds");
	int n = 0;

	while ((p = strstr(p, key))) {
		char id[160], url[320], role[32], when[64] = "";
		const char *end = strchr(p, '\n');
		char line[1024];
		time_t t;

		if (p != text && p[-1] != '\n') {
			p += sizeof(key) - 1;
			continue;
		}
		snprintf(line, sizeof(line), "%.*s", end ? (int)(end - p) : (int)strlen(p), p);
		label(line, "id", id, sizeof(id));
		label(line, "url", url, sizeof(url));
		label(line, "role", role, sizeof(role));
		if (!n++)
			printf("replicas:\n");
		if (strcmp(role, "leader") == 0 && since > 0) {
			t = (time_t)since;
			strftime(when, sizeof(when), " since %Y-%m-%dT%H:%M:%SZ", gmtime(&t));
		}
		printf("  %-24s %-32s %s%s\n", id, url, role, when);
		p = end ? end : p + strlen(p);
	}
	if (sample(text, "vimage_leader") >= 0 && !n)
		printf("replicas:     none seen (etcd cannot be reached?)\n");
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
	replicas(text);
	if (sample(text, "vimage_leader") == 0) {
		printf("controllers:  on the leader (this replica follows: ask the leader for the "
		       "images and imports)\n");
		free(text);
		return CTL_EXIT_OK;
	}
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
