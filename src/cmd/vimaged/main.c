/*
 * vimaged — the image service daemon: wires the store, the API and (as
 * they land) the controllers together, and owns the process: flags,
 * the data directory, the admin token, signals.
 */
#include "vimaged.h"
#include "flags.h"
#include "api/api.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sysutil.h"
#include "store/store.h"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Seconds of a flag's milliseconds, rounded up: the API's timeouts are
 * whole seconds, and "0.5" must not become 0 (none). */
static unsigned int whole_seconds(int64_t ms)
{
	return (unsigned int)((ms + 999) / 1000);
}

/* The connection limit of each listener: the flag, but with room for the
 * descriptors SQLite, curl, the registry and stream pipes need. */
static unsigned int conn_limit(int want, long nofile)
{
	long room = (nofile - 1024) / 2;

	if (room < 64)
		room = 64;
	return (unsigned int)(want < room ? want : room);
}

/* A token file: created once (0600), then read back on every start. */
static int load_token(const char *dir, const char *file, char *tok, size_t len, struct vim_err *err)
{
	char path[4096], line[80];
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (access(path, F_OK) == 0) {
		if (vim_file_first_line(path, tok, len) == 0 && strlen(tok) >= 32)
			return 0;
		return vim_err_set(err, VIM_EINVAL, "%s: the token file is empty or short", path);
	}
	if (len < 65)
		return vim_err_set(err, VIM_EINVAL, "%s: no room for the token", path);
	if ((rc = vim_random_hex(tok, 32, err)) < 0)
		return rc;
	/* temp file and rename: a crash never leaves an empty token that
	 * every later start would refuse */
	snprintf(line, sizeof(line), "%s\n", tok);
	return vim_file_replace(path, line, 0600, err);
}

/* Rewritten on every start: the port may have changed.  The cluster
 * entry trusts exactly the certificate the endpoint serves. */
static int write_kubeconfig(const char *dir, const char *url, const char *ca_file,
                            const char *token, struct vim_err *err)
{
	char path[4096], pem[8192], text[16384];
	unsigned char b64[sizeof(pem) * 4 / 3 + 8];
	size_t n = 0;
	FILE *f;
	int w;

	if (!(f = fopen(ca_file, "r")) || (n = fread(pem, 1, sizeof(pem), f)) == 0 ||
	    n == sizeof(pem)) {
		if (f)
			fclose(f);
		return vim_err_set(err, VIM_EIO, "cannot read the certificate %s", ca_file);
	}
	fclose(f);
	EVP_EncodeBlock(b64, (const unsigned char *)pem, (int)n);
	snprintf(path, sizeof(path), "%s/kubeconfig", dir);
	w = snprintf(text, sizeof(text),
	             "apiVersion: v1\nkind: Config\nclusters:\n- name: vimage\n  cluster:\n"
	             "    server: %s\n    certificate-authority-data: %s\n"
	             "users:\n- name: admin\n  user:\n    token: %s\n"
	             "contexts:\n- name: vimage\n  context:\n    cluster: vimage\n    user: admin\n"
	             "    namespace: default\ncurrent-context: vimage\n",
	             url, (const char *)b64, token);
	if (w < 0 || (size_t)w >= sizeof(text))
		return vim_err_set(err, VIM_EINVAL, "%s: the kubeconfig is too long", path);
	return vim_file_replace(path, text, 0600, err);
}

int main(int argc, char **argv)
{
	struct options o;
	struct api_config ac = {0};
	struct api_server *api = NULL, *kapi = NULL;
	struct api_ready *ready = NULL;
	const char *checks[8];
	size_t nchecks = 0;
	bool controllers;
	long nofile;
	char kurl[300], crt[4096], key[4096], notify[128];
	struct wiring wiring = {0};
	struct store *store = NULL;
	struct vim_err err = {0};
	char token[128], where[4300], url[300], datadir[PATH_MAX];
	sigset_t sigs;
	int sig = 0, rc = 1;

	/* Every worker, import and HTTP thread would get a malloc arena of its
	 * own; their fragments kept the peak RSS at 300 MiB with 10,000 images
	 * (bench/mass-outage).  Two arenas keep it flat at no measured cost. */
	mallopt(M_ARENA_MAX, 2);
	memset(&o, 0, sizeof(o));
	flags_defaults(vimaged_flags, vimaged_nflags, &o);
	if ((rc = flags_parse(vimaged_flags, vimaged_nflags, argc, argv, &o, &err)) != 0) {
		if (rc > 0) {
			flags_usage(vimaged_flags, vimaged_nflags, "vimaged", stdout);
			return 0;
		}
		fprintf(stderr, "vimaged: %s\n", err.msg);
		return 2;
	}
	if (vimaged_options_check(&o, &err) < 0) {
		fprintf(stderr, "vimaged: %s\n", err.msg);
		return 2;
	}
	rc = 1;
	vim_log_setup(o.log_level, o.log_format); /* both are among its choices */
	controllers = strcmp(o.controllers, "on") == 0;
	/* Nothing vimaged or its registry writes is for other users: the
	 * database holds live upload URLs, the directory the token and keys. */
	umask(077);
	if (mkdir(o.data_dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "vimaged: cannot create %s: %s\n", o.data_dir, strerror(errno));
		return 1;
	}
	/* absolute: the registry we may start resolves paths on its own */
	if (!realpath(o.data_dir, datadir)) {
		fprintf(stderr, "vimaged: %s: %s\n", o.data_dir, strerror(errno));
		return 1;
	}
	o.data_dir = datadir;
	if (vimaged_lock_down(o.data_dir, &err) < 0)
		goto fail;
	if (o.store_export || o.store_import) {
		/* the store alone: no API, no controllers, no registry */
		snprintf(where, sizeof(where), "%s/vimage.db", o.data_dir);
		if (o.store_export && strcmp(o.store, "sqlite") == 0 && access(where, F_OK) != 0) {
			/* a mistyped --data-dir must not export an empty catalog */
			vim_err_set(&err, VIM_ENOTFOUND, "--store-export: no store at %s", where);
			goto fail;
		}
		curl_global_init(CURL_GLOBAL_DEFAULT);
		if (vimaged_store_open(&store, &o, where, sizeof(where), &err) < 0 ||
		    vimaged_store_transfer(store, &o, &err) < 0)
			goto fail;
		rc = 0;
		goto out;
	}
	nofile = vimaged_raise_nofile();
	/* /readyz: ready when the whole service is, in the order it comes up */
	checks[nchecks++] = "store";
	if (controllers) {
		checks[nchecks++] = "dvcr";
		checks[nchecks++] = "controllers";
	}
	checks[nchecks++] = "kubectl-endpoint";
	checks[nchecks++] = "kubeconfig";
	checks[nchecks++] = "shutdown";
	if (api_ready_new(&ready, checks, nchecks, &err) < 0)
		goto fail;
	api_ready_set(ready, "shutdown", true, NULL);
	/* Signals are taken synchronously by main; every thread inherits the
	 * mask.  A client that goes away must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (load_token(o.data_dir, "token", token, sizeof(token), &err) < 0 ||
	    load_token(o.data_dir, "notify-token", notify, sizeof(notify), &err) < 0)
		goto fail;
	if (vimaged_store_open(&store, &o, where, sizeof(where), &err) < 0 ||
	    store_namespaces_ensure(store, &err) < 0)
		goto fail;
	api_ready_set(ready, "store", true, NULL);
	wiring.store = store;
	wiring.store_backend = o.store;
	/* SQLite is a file of ours: open is its health.  etcd can go away
	 * at any time: checked once a second, off the request threads. */
	if (strcmp(o.store, "etcd") == 0 &&
	    vimaged_health_start(&wiring.health, store, ready, 1000, &err) < 0)
		goto fail;
	ac.listen_host = o.listen.host;
	ac.listen_port = o.listen.port;
	ac.tls_cert = o.tls_cert;
	ac.tls_key = o.tls_key;
	ac.token = token;
	ac.store = store;
	ac.notify_token = notify;
	ac.token_known = vimaged_ha_token_known;
	ac.token_arg = &wiring;
	ac.on_registry_events = wiring_registry_events;
	ac.events_arg = &wiring;
	ac.upload = &wiring_upload_ops;
	ac.upload_arg = &wiring;
	ac.download = wiring_download;
	ac.download_arg = &wiring;
	ac.metrics = wiring_metrics;
	ac.metrics_arg = &wiring;
	ac.metrics_anonymous = o.metrics_anonymous;
	ac.ready = ready;
	ac.max_connections = conn_limit(o.http_max_connections, nofile);
	ac.idle_timeout_s = whole_seconds(o.http_idle_timeout_ms);
	ac.header_timeout_s = whole_seconds(o.http_header_timeout_ms);
	vim_log(VIM_LOG_INFO, "http: %u connections per listener, idle timeout %u s, headers %u s",
	        ac.max_connections, ac.idle_timeout_s, ac.header_timeout_s);
	if (api_server_start(&api, &ac, &err) < 0)
		goto fail;
	snprintf(url, sizeof(url), "%s://%s:%d", o.tls_cert ? "https" : "http", o.listen.host,
	         api_server_port(api));
	/* the registry we may start notifies the API: it must exist first */
	o.api_url = url;
	o.notify_token = notify;
	snprintf(wiring.upload_base, sizeof(wiring.upload_base), "%s",
	         o.external_url ? o.external_url : url);
	if (controllers) {
		api_ready_set(ready, "dvcr", false, "the registry is starting");
		api_ready_set(ready, "controllers", false, "the controllers are starting");
		if (wiring_start(&wiring, &o, store, &err) < 0)
			goto fail;
		api_ready_set(ready, "dvcr", true, NULL);
		if (strcmp(o.store, "etcd") == 0) {
			/* several replicas may share the etcd: the controllers run
			 * where the election says (main's loop below) */
			if (vimaged_ha_start(&wiring, &o, url, token, notify, &err) < 0)
				goto fail;
		} else if (wiring_lead(&wiring, &err) < 0) {
			goto fail;
		}
		/* a follower serves the whole API: it is ready as well */
		api_ready_set(ready, "controllers", true, NULL);
	} else {
		vim_log(VIM_LOG_WARN,
		        "controllers off: images are served, not imported or checked");
	}
	if (o.tls_cert) {
		/* The main listener is TLS already: kubectl uses it. */
		snprintf(kurl, sizeof(kurl), "%s", url);
		snprintf(crt, sizeof(crt), "%s", o.tls_cert);
	} else {
		if (api_tls_ensure(o.data_dir, crt, sizeof(crt), key, sizeof(key), &err) < 0)
			goto fail;
		ac.listen_host = o.kubectl_listen.host;
		ac.listen_port = o.kubectl_listen.port;
		ac.tls_cert = crt;
		ac.tls_key = key;
		if (api_server_start(&kapi, &ac, &err) < 0)
			goto fail;
		snprintf(kurl, sizeof(kurl), "https://%s:%d", o.kubectl_listen.host,
		         api_server_port(kapi));
	}
	api_ready_set(ready, "kubectl-endpoint", true, NULL);
	if (write_kubeconfig(o.data_dir, kurl, crt, token, &err) < 0)
		goto fail;
	api_ready_set(ready, "kubeconfig", true, NULL);
	fprintf(stderr, "vimaged: listening on %s\n", url);
	fprintf(stderr, "vimaged: kubectl endpoint %s (export KUBECONFIG=%s/kubeconfig)\n", kurl,
	        o.data_dir);
	vim_log(VIM_LOG_INFO, "vimaged: data in %s, store %s (resourceVersion %lld)", o.data_dir,
	        where, (long long)store_current_rv(store));

	/* The store expires Events itself: main follows the election (with
	 * several replicas) and waits for the end. */
	for (;;) {
		struct timespec tick = {0, 200 * 1000 * 1000};
		sig = sigtimedwait(&sigs, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		vimaged_ha_step(&wiring);
	}
	api_ready_set(ready, "shutdown", false, "vimaged is shutting down");
	vim_log(VIM_LOG_INFO, "vimaged: %s, shutting down", strsignal(sig));
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "vimaged: %s\n", err.msg);
out:
	/* A clean stop hands over at once: the controllers stop, then the
	 * lease is revoked and another replica leads within its poll. */
	if (wiring.ha) {
		wiring_unlead(&wiring);
		vimaged_ha_stop(wiring.ha);
		wiring.ha = NULL;
	}
	api_server_stop(kapi);
	api_server_stop(api);
	wiring_stop(&wiring);
	store_close(wiring.ctl_store);      /* the fenced view, before its store */
	vimaged_health_stop(wiring.health); /* it reads the store */
	store_close(store);
	api_ready_free(ready); /* after the servers that answered from it */
	curl_global_cleanup();
	return rc;
}
