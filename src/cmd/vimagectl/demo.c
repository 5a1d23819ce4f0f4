/*
 * vimagectl/demo — the project's point in a minute, against the registry a
 * standalone vimaged runs for itself: an image is uploaded, its storage is
 * moved aside (a detached volume), the image goes ImageLost, the storage
 * comes back, the image returns to Ready by itself, nothing uploaded again.
 * The storage is always put back, whatever fails on the way.
 */
#include "vimagectl.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DEMO_NAME "vimage-demo"
#define DEMO_PATH "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/virtualimages/"
#define PHASE_WAIT_S 60
#define HOLD_S 8

extern char **environ;

static int make_qcow2(const char *file, struct vim_err *err)
{
	char *argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", (char *)file, "64M", NULL};
	pid_t pid;
	int st;

	if (posix_spawnp(&pid, "qemu-img", NULL, NULL, argv, environ) != 0)
		return vim_err_set(
		    err, VIM_EINVAL,
		    "qemu-img is needed to make the demo image (Debian: qemu-utils)");
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return vim_err_set(err, VIM_EIO, "qemu-img create %s failed", file);
	return 0;
}

/* Polls until the phase is `want`, printing each change with the time. */
static int watch_until(const struct conn *c, const char *want, double t0, struct vim_err *err)
{
	char last[64] = "";
	double until = now_s() + PHASE_WAIT_S;
	json_t *obj;
	int rc;

	for (;;) {
		if ((rc = conn_get_json(c, DEMO_PATH DEMO_NAME, &obj, err)) < 0)
			return rc;
		if (strcmp(phase_of(obj), last) != 0) {
			if (last[0])
				printf("  +%5.1fs  vi/%s: %s -> %s\n", now_s() - t0, DEMO_NAME,
				       last, phase_of(obj));
			snprintf(last, sizeof(last), "%s", phase_of(obj));
			fflush(stdout);
		}
		json_decref(obj);
		if (strcmp(last, want) == 0)
			return 0;
		if (now_s() > until)
			return vim_err_set(err, VIM_ETIMEDOUT, "vi/%s is still %s after %d s",
			                   DEMO_NAME, last, PHASE_WAIT_S);
		usleep(250 * 1000);
	}
}

static void show_event(const struct conn *c, const char *reason)
{
	struct vim_err err = {0};
	char path[300];
	json_t *l, *e;
	size_t i;

	snprintf(path, sizeof(path),
	         "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%%3D%s",
	         DEMO_NAME);
	if (conn_get_json(c, path, &l, &err) < 0)
		return;
	json_array_foreach(json_object_get(l, "items"), i, e)
	{
		const char *r = json_string_value(json_object_get(e, "reason"));
		if (r && strcmp(r, reason) == 0)
			printf("            event %s %s: %s\n",
			       json_string_value(json_object_get(e, "type")), r,
			       json_string_value(json_object_get(e, "message")));
	}
	json_decref(l);
}

static void remove_demo(const struct conn *c)
{
	struct vim_err err = {0};
	json_t *obj;
	int i;

	if (conn_send_json(c, "DELETE", DEMO_PATH DEMO_NAME, NULL, NULL, &err) < 0)
		return;
	for (i = 0; i < 100 && conn_get_json(c, DEMO_PATH DEMO_NAME, &obj, &err) == 0; i++) {
		json_decref(obj);
		usleep(100 * 1000);
	}
}

static int run(const struct conn *c, const char *storage, const char *away, const char *file,
               struct vim_err *err)
{
	json_t *vi;
	double t0;
	int rc;

	remove_demo(c); /* a leftover of an earlier run */
	vi = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:{s:s}}}", "apiVersion",
	               "virtualization.deckhouse.io/v1alpha2", "kind", "VirtualImage", "metadata",
	               "name", DEMO_NAME, "namespace", "default", "spec", "dataSource", "type",
	               "Upload");
	rc = conn_send_json(c, "POST",
	                    "/apis/virtualization.deckhouse.io/v1alpha2/namespaces/default/"
	                    "virtualimages",
	                    vi, NULL, err);
	json_decref(vi);
	if (rc < 0)
		return rc;
	printf("1. an Upload image vi/%s, and a 64 MiB qcow2 to put in it\n", DEMO_NAME);
	if ((rc = upload_image(c, "vi/" DEMO_NAME, DEMO_PATH DEMO_NAME, file, err)) < 0)
		return rc;
	printf("2. the registry's storage goes away (%s -> %s), as a detached volume would\n",
	       storage, away);
	fflush(stdout);
	if (rename(storage, away) != 0)
		return vim_err_set(err, VIM_EIO, "cannot move %s: %s", storage, strerror(errno));
	t0 = now_s();
	rc = watch_until(c, "ImageLost", t0, err);
	show_event(c, "VirtualImageLost");
	if (rc == 0) {
		/* longer than vimaged's storage probe (5 s): it sees the outage
		 * as a whole, and sees the storage's return at once */
		printf("            (the storage stays away for %d s; the image stays ImageLost)\n",
		       HOLD_S);
		fflush(stdout);
		sleep(HOLD_S);
	}
	if (rename(away, storage) != 0)
		return vim_err_set(err, VIM_EIO, "cannot move %s back to %s: %s (do it by hand)",
		                   away, storage, strerror(errno));
	if (rc < 0)
		return rc;
	printf("3. the storage comes back; nobody uploads anything\n");
	fflush(stdout);
	t0 = now_s();
	if ((rc = watch_until(c, "Ready", t0, err)) < 0)
		return rc;
	show_event(c, "VirtualImageLostRecovered");
	printf("vi/%s is Ready again by itself, with the data it had.\n", DEMO_NAME);
	return 0;
}

int cmd_demo(const struct conn *c, int argc, char **argv)
{
	const char *dir = "./vimage-data";
	char storage[4096], away[4200], tmpl[] = "/tmp/vimage-demo.XXXXXX", file[64];
	struct vim_err err = {0};
	struct stat st;
	int rc;

	if (argc == 2 && strcmp(argv[0], "--data-dir") == 0) {
		dir = argv[1];
	} else if (argc != 0) {
		fprintf(stderr, "usage: vimagectl demo [--data-dir DIR]\n");
		return CTL_EXIT_USAGE;
	}
	snprintf(storage, sizeof(storage), "%s/dvcr/storage", dir);
	snprintf(away, sizeof(away), "%s.vimage-demo-away", storage);
	if (stat(storage, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
		        "vimagectl: demo: no managed registry storage at %s (the demo needs a "
		        "vimaged started without --dvcr-url; give its --data-dir)\n",
		        storage);
		return CTL_EXIT_FAILED;
	}
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "vimagectl: demo: %s\n", strerror(errno));
		return CTL_EXIT_FAILED;
	}
	snprintf(file, sizeof(file), "%s/demo.qcow2", tmpl);
	rc = make_qcow2(file, &err);
	if (rc == 0)
		rc = run(c, storage, away, file, &err);
	if (stat(away, &st) == 0 && rename(away, storage) != 0)
		fprintf(stderr, "vimagectl: demo: move %s back to %s by hand\n", away, storage);
	remove_demo(c);
	unlink(file);
	rmdir(tmpl);
	if (rc < 0) {
		fprintf(stderr, "vimagectl: demo: %s\n", err.msg);
		return CTL_EXIT_FAILED;
	}
	return CTL_EXIT_OK;
}
