/*
 * vimaged — the image service daemon: wires the store, the API and (as
 * they land) the controllers together, and owns the process: flags,
 * the data directory, the admin token, signals.
 */
#include "vimaged.h"
#include "api/api.h"
#include "core/err.h"
#include "core/log.h"
#include "core/sysutil.h"
#include "core/timeutil.h"
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
#include <unistd.h>

#define EVENT_TTL_S 3600
#define EVENT_EXPIRE_EVERY_S 60

struct flag {
	const char *name;
	const char *help;
	size_t off;  /* offset of the const char * in struct options */
	bool number; /* the value must be a number > 0 (seconds, counts) */
	bool sw;     /* takes no value: present = "true" */
};

#define OPT(f) offsetof(struct options, f), false, false
#define NUM(f) offsetof(struct options, f), true, false
#define SW(f) offsetof(struct options, f), false, true
static const struct flag flags[] = {
    {"--data-dir", "DIR: where objects, the token and the kubeconfig live (created)",
     OPT(data_dir)},
    {"--listen", "HOST:PORT to serve the API on (127.0.0.1:8080; port 0 = any free)", OPT(listen)},
    {"--tls-cert", "PEM certificate: serve HTTPS", OPT(tls_cert)},
    {"--tls-key", "PEM key for --tls-cert", OPT(tls_key)},
    {"--kubectl-listen",
     "HOST:PORT of the TLS endpoint the kubeconfig names (127.0.0.1:0); kubectl sends "
     "its token only over TLS",
     OPT(kubectl_listen)},
    {"--log-level", "debug|info|warn|error (info)", OPT(log_level)},
    {"--log-format", "text|json (text)", OPT(log_format)},
    {"--dvcr-url", "http[s]://HOST:PORT of the registry that holds the images", OPT(dvcr_url)},
    {"--dvcr-username", "registry user", OPT(dvcr_username)},
    {"--dvcr-password-file", "file holding the registry password", OPT(dvcr_password_file)},
    {"--dvcr-ca-file", "PEM bundle to trust for an https registry", OPT(dvcr_ca_file)},
    {"--dvcr-trust-head",
     "the registry keeps no blob descriptor cache: check blobs by HEAD, not a 1-byte GET "
     "(always so for the registry vimaged runs itself)",
     SW(dvcr_trust_head)},
    {"--workers", "reconcile workers (4)", NUM(workers)},
    {"--storage-probe-interval", "seconds between DVCR storage probes (5)", NUM(probe_interval)},
    {"--presence-sweep-interval", "seconds between sweeps of Ready images (300)",
     NUM(sweep_interval)},
    {"--dvcr-max-rps", "registry requests per second the sweep may use (50)", NUM(max_rps)},
    {"--import-workers", "imports that download at once; more wait their turn (4)",
     NUM(import_workers)},
    {"--metrics-anonymous", "serve /metrics without the token (loopback scrapers)",
     SW(metrics_anonymous)},
    {"--controllers",
     "on|off (on); off serves the API alone: no registry, nothing imports or checks images",
     OPT(controllers)},
    {"--upload-timeout", "seconds an Upload image waits for its data before it fails (600)",
     NUM(upload_timeout)},
    {"--import-min-rate",
     "bytes/s an import source (and DVCR) must keep up over --import-stall-window, or the "
     "attempt fails and is retried later (1024)",
     NUM(import_min_rate)},
    {"--import-stall-window", "seconds over which --import-min-rate is judged (60)",
     NUM(import_stall_window)},
    {"--http-max-connections",
     "connections each listener serves at once (16384; at most half the open-file limit "
     "less 1024)",
     NUM(http_max_connections)},
    {"--http-idle-timeout",
     "seconds a connection may stay idle (90); watches, uploads and downloads excepted",
     NUM(http_idle_timeout)},
    {"--http-header-timeout", "seconds from connecting to the end of a request's headers (32)",
     NUM(http_header_timeout)},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: vimaged [flags]\n");
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		fprintf(f, "  %-26s %s\n", flags[i].name, flags[i].help);
}

static int parse_flags(int argc, char **argv, struct options *o)
{
	int i;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *val;
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 1;
		}
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strlen(flags[k].name) == nl && strncmp(a, flags[k].name, nl) == 0)
				break;
		if (k == sizeof(flags) / sizeof(flags[0])) {
			fprintf(stderr, "vimaged: unknown flag %s (see --help)\n", a);
			return -1;
		}
		if (flags[k].sw) {
			if (eq) {
				fprintf(stderr, "vimaged: %.*s takes no value\n", (int)nl, a);
				return -1;
			}
			val = "true";
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			fprintf(stderr, "vimaged: %s needs a value\n", a);
			return -1;
		}
		if (flags[k].number) {
			char *end;
			double d = strtod(val, &end);
			if (end == val || *end || !(d > 0)) {
				fprintf(stderr,
				        "vimaged: %.*s: expected a number above 0, got \"%s\"\n",
				        (int)nl, a, val);
				return -1;
			}
		}
		*(const char **)((char *)o + flags[k].off) = val;
	}
	return 0;
}

/* Seconds, rounded up (flags take "0.5"; a timeout of 0 would mean none). */
static unsigned int seconds_of(const char *v)
{
	double d = v ? atof(v) : 0;
	return d > 0 ? (unsigned int)(d + 0.999) : 0;
}

/* The connection limit of each listener: the flag, but with room for the
 * descriptors SQLite, curl, the registry and stream pipes need. */
static unsigned int conn_limit(const char *flag, long nofile)
{
	long want = flag ? atol(flag) : 16384, room = (nofile - 1024) / 2;

	if (room < 64)
		room = 64;
	if (want < 1)
		want = 16384;
	return (unsigned int)(want < room ? want : room);
}

static int split_listen(const char *listen, char *host, size_t hlen, int *port)
{
	const char *colon = strrchr(listen, ':');
	char *end;
	long p;

	if (!colon || (size_t)(colon - listen) >= hlen)
		return -1;
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	p = strtol(colon + 1, &end, 10);
	if (*end || p < 0 || p > 65535)
		return -1;
	*port = (int)p;
	return 0;
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
	struct options o = {.data_dir = "./vimage-data",
	                    .listen = "127.0.0.1:8080",
	                    .kubectl_listen = "127.0.0.1:0"};
	struct api_config ac = {0};
	struct api_server *api = NULL, *kapi = NULL;
	struct api_ready *ready = NULL;
	const char *checks[8];
	size_t nchecks = 0;
	bool controllers;
	long nofile;
	char kurl[300], crt[4096], key[4096], khost[256], notify[128];
	struct wiring wiring = {0};
	int kport;
	struct store *store = NULL;
	struct vim_err err = {0};
	char host[256], token[128], dbpath[4096], url[300], datadir[PATH_MAX];
	sigset_t sigs;
	int port, sig = 0, rc = 1;
	int64_t next_expire = 0;

	/* Every worker, import and HTTP thread would get a malloc arena of its
	 * own; their fragments kept the peak RSS at 300 MiB with 10,000 images
	 * (bench/mass-outage).  Two arenas keep it flat at no measured cost. */
	mallopt(M_ARENA_MAX, 2);
	if ((rc = parse_flags(argc, argv, &o)) != 0)
		return rc < 0 ? 2 : 0;
	rc = 1;
	if (vim_log_setup(o.log_level, o.log_format) < 0) {
		fprintf(stderr, "vimaged: --log-level or --log-format has an unknown value\n");
		return 2;
	}
	if (o.controllers && strcmp(o.controllers, "on") != 0 &&
	    strcmp(o.controllers, "off") != 0) {
		fprintf(stderr, "vimaged: --controllers: expected on or off, got \"%s\"\n",
		        o.controllers);
		return 2;
	}
	if (split_listen(o.listen, host, sizeof(host), &port) < 0 ||
	    split_listen(o.kubectl_listen, khost, sizeof(khost), &kport) < 0) {
		fprintf(stderr, "vimaged: --listen / --kubectl-listen: expected HOST:PORT\n");
		return 2;
	}
	controllers = !o.controllers || strcmp(o.controllers, "off") != 0;
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
	snprintf(dbpath, sizeof(dbpath), "%s/vimage.db", o.data_dir);
	if (store_sqlite_open(&store, dbpath, 0, &err) < 0 ||
	    store_namespaces_ensure(store, &err) < 0)
		goto fail;
	api_ready_set(ready, "store", true, NULL);
	ac.listen_host = host;
	ac.listen_port = port;
	ac.tls_cert = o.tls_cert;
	ac.tls_key = o.tls_key;
	ac.token = token;
	ac.store = store;
	ac.notify_token = notify;
	ac.on_registry_events = wiring_registry_events;
	ac.events_arg = &wiring;
	ac.upload = &wiring_upload_ops;
	ac.upload_arg = &wiring;
	ac.download = wiring_download;
	ac.download_arg = &wiring;
	ac.metrics = wiring_metrics;
	ac.metrics_arg = &wiring;
	ac.metrics_anonymous = o.metrics_anonymous != NULL;
	ac.ready = ready;
	ac.max_connections = conn_limit(o.http_max_connections, nofile);
	ac.idle_timeout_s = seconds_of(o.http_idle_timeout);
	ac.header_timeout_s = seconds_of(o.http_header_timeout);
	vim_log(VIM_LOG_INFO, "http: %u connections per listener, idle timeout %u s, headers %u s",
	        ac.max_connections,
	        ac.idle_timeout_s ? ac.idle_timeout_s : API_IDLE_TIMEOUT_DEFAULT_S,
	        ac.header_timeout_s ? ac.header_timeout_s : API_HEADER_TIMEOUT_DEFAULT_S);
	if (api_server_start(&api, &ac, &err) < 0)
		goto fail;
	snprintf(url, sizeof(url), "%s://%s:%d", o.tls_cert ? "https" : "http", host,
	         api_server_port(api));
	/* the registry we may start notifies the API: it must exist first */
	o.api_url = url;
	o.notify_token = notify;
	if (controllers) {
		api_ready_set(ready, "dvcr", false, "the registry is starting");
		api_ready_set(ready, "controllers", false, "the controllers are starting");
		if (wiring_start(&wiring, &o, store, &err) < 0)
			goto fail;
		api_ready_set(ready, "dvcr", true, NULL);
		api_ready_set(ready, "controllers", true, NULL);
	} else {
		vim_log(VIM_LOG_WARN,
		        "controllers off: images are served, not imported or checked");
	}
	if (wiring.importer)
		imp_manager_set_upload_base(wiring.importer, url);
	if (o.tls_cert) {
		/* The main listener is TLS already: kubectl uses it. */
		snprintf(kurl, sizeof(kurl), "%s", url);
		snprintf(crt, sizeof(crt), "%s", o.tls_cert);
	} else {
		if (api_tls_ensure(o.data_dir, crt, sizeof(crt), key, sizeof(key), &err) < 0)
			goto fail;
		ac.listen_host = khost;
		ac.listen_port = kport;
		ac.tls_cert = crt;
		ac.tls_key = key;
		if (api_server_start(&kapi, &ac, &err) < 0)
			goto fail;
		snprintf(kurl, sizeof(kurl), "https://%s:%d", khost, api_server_port(kapi));
	}
	api_ready_set(ready, "kubectl-endpoint", true, NULL);
	if (write_kubeconfig(o.data_dir, kurl, crt, token, &err) < 0)
		goto fail;
	api_ready_set(ready, "kubeconfig", true, NULL);
	fprintf(stderr, "vimaged: listening on %s\n", url);
	fprintf(stderr, "vimaged: kubectl endpoint %s (export KUBECONFIG=%s/kubeconfig)\n", kurl,
	        o.data_dir);
	vim_log(VIM_LOG_INFO, "vimaged: data in %s, store %s (resourceVersion %lld)", o.data_dir,
	        dbpath, (long long)store_current_rv(store));

	for (;;) {
		struct timespec ts = {.tv_sec = 5};
		int64_t now;
		sig = sigtimedwait(&sigs, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM)
			break;
		now = vim_time_now();
		if (now >= next_expire) {
			int64_t due;
			int n = store_event_expire(store, now, EVENT_TTL_S, &due, &err);
			if (n > 0)
				vim_log(VIM_LOG_INFO, "events: %d expired (older than %d s)", n,
				        EVENT_TTL_S);
			else if (n < 0)
				vim_log(VIM_LOG_WARN, "events: expiry failed: %s", err.msg);
			next_expire =
			    due > now + EVENT_EXPIRE_EVERY_S ? due : now + EVENT_EXPIRE_EVERY_S;
		}
	}
	api_ready_set(ready, "shutdown", false, "vimaged is shutting down");
	vim_log(VIM_LOG_INFO, "vimaged: %s, shutting down", strsignal(sig));
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "vimaged: %s\n", err.msg);
out:
	api_server_stop(kapi);
	api_server_stop(api);
	wiring_stop(&wiring);
	store_close(store);
	api_ready_free(ready); /* after the servers that answered from it */
	curl_global_cleanup();
	return rc;
}
