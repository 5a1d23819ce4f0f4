/*
 * vimaged/flags — the flag table and the one parser that reads it.  Every
 * value is checked whole (strtoll / strtod to the end of the text) and
 * against its row's bounds at start, so a typo is one line naming the flag
 * and exit 2, not a zero that some module then reads as "use my default".
 * What varies by type (how a value is set, its name in --help) is a row
 * of kinds[], as redis' config.c has one typeInterface per type.
 */
#include "flags.h"
#include "vimaged.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One row per line reads as the table it is (clang-format would spread
 * each macro over four). */
/* clang-format off */
#define FIELD(f) offsetof(struct options, f)
/* name, field, default, min, max, help */
#define INT(n, f, d, lo, hi, h)  {n, FLAG_INT, FIELD(f), d, lo, hi, NULL, NULL, NULL, h}
#define SECS(n, f, d, lo, hi, h) {n, FLAG_SECONDS, FIELD(f), d, lo, hi, NULL, NULL, NULL, h}
#define RATE(n, f, d, lo, hi, h) {n, FLAG_RATE, FIELD(f), d, lo, hi, NULL, NULL, NULL, h}
/* name, field, default, value name, help */
#define STR(n, f, d, a, h)  {n, FLAG_STRING, FIELD(f), 0, 0, 0, d, NULL, a, h}
#define PATH(n, f, d, a, h) {n, FLAG_PATH, FIELD(f), 0, 0, 0, d, NULL, a, h}
/* name, field, default, choices, help */
#define ENUM(n, f, d, c, h) {n, FLAG_ENUM, FIELD(f), 0, 0, 0, d, c, NULL, h}
#define BOOL(n, f, h)       {n, FLAG_BOOL, FIELD(f), 0, 0, 0, NULL, NULL, NULL, h}
#define ADDR(n, f, d, h)    {n, FLAG_ADDR, FIELD(f), 0, 0, 0, d, NULL, "HOST:PORT", h}
#define FILE_(n, f, a, h)   {n, FLAG_FILE, FIELD(f), 0, 0, 0, NULL, NULL, a, h}
#define URLS(n, f, h)       {n, FLAG_URLS, FIELD(f), 0, 0, 0, NULL, NULL, "URL[,URL...]", h}
#define URL(n, f, h)        {n, FLAG_URL, FIELD(f), 0, 0, 0, NULL, NULL, "URL", h}
#define KEY(n, f, d, h)     {n, FLAG_KEY, FIELD(f), 0, 0, 0, d, NULL, "/PREFIX", h}
/* clang-format on */

/* A timeout or interval under 1 ms would round to 0, which the modules
 * read as "none" or "the default". */
#define MIN_S 0.001
#define DAY_S 86400.0

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const char *const on_off[] = {"on", "off", NULL};
static const char *const stores[] = {"sqlite", "etcd", NULL};

const struct flag vimaged_flags[] = {
    PATH("--data-dir", data_dir, "./vimage-data", "DIR",
         "where objects, the token and the kubeconfig live (created)"),
    ADDR("--listen", listen, "127.0.0.1:8080", "where to serve the API (port 0 = any free)"),
    PATH("--tls-cert", tls_cert, NULL, "PEM", "certificate: serve HTTPS"),
    PATH("--tls-key", tls_key, NULL, "PEM", "key for --tls-cert"),
    ADDR("--kubectl-listen", kubectl_listen, "127.0.0.1:0",
         "the TLS endpoint the kubeconfig names; kubectl sends its token only over TLS"),
    ENUM("--log-level", log_level, "info", log_levels, "the least severe message logged"),
    ENUM("--log-format", log_format, "text", log_formats, "one line per message, as text or JSON"),
    STR("--dvcr-url", dvcr_url, NULL, "URL",
        "http[s]://HOST:PORT of the registry that holds the images (unset: vimaged runs one "
        "under --data-dir)"),
    STR("--dvcr-username", dvcr_username, NULL, "USER", "registry user"),
    PATH("--dvcr-password-file", dvcr_password_file, NULL, "FILE",
         "file holding the registry password"),
    PATH("--dvcr-ca-file", dvcr_ca_file, NULL, "PEM", "bundle to trust for an https registry"),
    BOOL("--dvcr-trust-head", dvcr_trust_head,
         "the registry keeps no blob descriptor cache: check blobs by HEAD, not a 1-byte GET "
         "(always so for the registry vimaged runs itself)"),
    INT("--workers", workers, 4, 1, 1024, "reconcile workers"),
    SECS("--storage-probe-interval", probe_interval_ms, 5, MIN_S, DAY_S,
         "seconds between DVCR storage probes"),
    SECS("--presence-sweep-interval", sweep_interval_ms, 300, MIN_S, 7 * DAY_S,
         "seconds between sweeps of Ready images"),
    INT("--dvcr-max-rps", max_rps, 50, 1, 1000000,
        "registry requests per second the sweep may use"),
    INT("--import-workers", import_workers, 4, 1, 1024,
        "imports that download at once; more wait their turn"),
    BOOL("--metrics-anonymous", metrics_anonymous,
         "serve /metrics without the token (loopback scrapers)"),
    ENUM("--controllers", controllers, "on", on_off,
         "off serves the API alone: no registry, nothing imports or checks images"),
    SECS("--upload-timeout", upload_timeout_ms, 600, MIN_S, 7 * DAY_S,
         "seconds an Upload image waits for its data before it fails"),
    RATE("--import-min-rate", import_min_rate, 1024, 1, 1e12,
         "bytes/s an import source (and DVCR) must keep up over --import-stall-window, or the "
         "attempt fails and is retried later"),
    SECS("--import-stall-window", import_stall_window_ms, 60, MIN_S, DAY_S,
         "seconds over which --import-min-rate is judged"),
    INT("--http-max-connections", http_max_connections, 16384, 1, 1 << 20,
        "connections each listener serves at once (at most half the open-file limit less "
        "1024)"),
    SECS("--http-idle-timeout", http_idle_timeout_ms, 90, MIN_S, DAY_S,
         "seconds a connection may stay idle; watches, uploads and downloads excepted"),
    SECS("--http-header-timeout", http_header_timeout_ms, 32, MIN_S, DAY_S,
         "seconds from connecting to the end of a request's headers"),
    SECS("--event-ttl", event_ttl_ms, 3600, 1, 365 * DAY_S,
         "seconds an Event is kept after its last occurrence (kube-apiserver's --event-ttl)"),
    ENUM("--store", store, "sqlite", stores,
         "where objects live: SQLite under --data-dir, or etcd (--etcd-endpoints)"),
    URLS("--etcd-endpoints", etcd_endpoints,
         "etcd members, each http[s]://HOST:PORT, tried in turn (--store etcd)"),
    KEY("--etcd-prefix", etcd_prefix, "/vimage",
        "the etcd key prefix objects live under, as kube-apiserver's /registry"),
    FILE_("--etcd-cafile", etcd_cafile, "PEM", "bundle to trust for https etcd members"),
    FILE_("--etcd-certfile", etcd_certfile, "PEM",
          "client certificate for etcd (with --etcd-keyfile)"),
    FILE_("--etcd-keyfile", etcd_keyfile, "PEM", "key of --etcd-certfile"),
    INT("--etcd-timeout", etcd_timeout_ms, 5000, 1, 3600000,
        "milliseconds one etcd request may take before it fails (504)"),
    SECS("--lease-ttl", lease_ttl_ms, 10, 2, 3600,
         "seconds of the etcd lease the leading replica holds (--store etcd): a replica that "
         "dies is replaced within it"),
    STR("--replica-id", replica_id, NULL, "ID",
        "this replica's name among those on one etcd (default: HOST:PORT it listens on)"),
    PATH("--store-export", store_export, NULL, "FILE",
         "write every object of the store as JSON lines to FILE (- = stdout) and exit"),
    PATH("--store-import", store_import, NULL, "FILE",
         "load the JSON lines of --store-export from FILE (- = stdin) into the store "
         "and exit"),
    URL("--external-url", external_url,
        "http[s]://HOST[:PORT] the upload URLs name: where users reach any replica (unset: "
        "the --listen address)"),
};
const size_t vimaged_nflags = sizeof(vimaged_flags) / sizeof(vimaged_flags[0]);

static void *field(void *base, const struct flag *f)
{
	return (char *)base + f->off;
}

/* val, or the row's default when val is NULL.  strtoll / strtod take
 * leading blanks and stop at the first stranger: a value must be a number
 * from its first character to its last. */
static int parse_number(const struct flag *f, const char *val, double *out, struct vim_err *err)
{
	bool integer = f->type != FLAG_SECONDS;
	char *end = NULL;
	double v;

	if (!val) {
		*out = f->num;
		return 0;
	}
	errno = 0;
	if (integer) {
		long long ll = strtoll(val, &end, 10);
		v = (double)ll;
	} else {
		v = strtod(val, &end);
	}
	if (!*val || *val == ' ' || *val == '\t' || *end || errno == ERANGE || !isfinite(v))
		return vim_err_set(err, VIM_EINVAL, "%s: expected %s, got \"%s\"", f->name,
		                   integer ? "an integer" : "a number of seconds", val);
	if (v < f->min || v > f->max)
		return vim_err_set(err, VIM_EINVAL, "%s: %s is out of range (%.15g to %.15g)",
		                   f->name, val, f->min, f->max);
	*out = v;
	return 0;
}

/* ---- one row per type: how a value is set, what the default is ------------- */

static int set_int(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	double v = 0;
	int rc = parse_number(f, val, &v, err);

	if (rc == 0)
		*(int *)field(base, f) = (int)v;
	return rc;
}

static int set_seconds(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	double v = 0;
	int rc = parse_number(f, val, &v, err);

	if (rc == 0)
		*(int64_t *)field(base, f) = (int64_t)llround(v * 1000);
	return rc;
}

static int set_rate(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	double v = 0;
	int rc = parse_number(f, val, &v, err);

	if (rc == 0)
		*(uint64_t *)field(base, f) = (uint64_t)v;
	return rc;
}

static int set_bool(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	(void)err;
	*(bool *)field(base, f) = val != NULL; /* present: true; the default: false */
	return 0;
}

static int set_string(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	(void)err;
	*(const char **)field(base, f) = val ? val : f->str;
	return 0;
}

static int set_path(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	if (val && !*val)
		return vim_err_set(err, VIM_EINVAL, "%s: the path is empty", f->name);
	*(const char **)field(base, f) = val ? val : f->str;
	return 0;
}

/* "a|b|c" of an enum's choices, for its messages and --help. */
static const char *choice_list(const struct flag *f, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; f->choices[i] && o < len; i++) {
		int w = snprintf(buf + o, len - o, "%s%s", i ? "|" : "", f->choices[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	return buf;
}

static int set_enum(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	char choices[128];
	size_t i;

	if (!val)
		val = f->str;
	for (i = 0; f->choices[i]; i++)
		if (strcmp(val, f->choices[i]) == 0) {
			*(const char **)field(base, f) = f->choices[i];
			return 0;
		}
	return vim_err_set(err, VIM_EINVAL, "%s: expected %s, got \"%s\"", f->name,
	                   choice_list(f, choices, sizeof(choices)), val);
}

/* HOST:PORT split at the last colon, as the listeners take it. */
static int set_addr(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	struct flag_addr *out = field(base, f);
	const char *colon, *p;
	char *end;
	long port;

	if (!val)
		val = f->str;
	colon = strrchr(val, ':');
	if (!colon || colon == val || (size_t)(colon - val) >= sizeof(out->host))
		return vim_err_set(err, VIM_EINVAL, "%s: expected HOST:PORT, got \"%s\"", f->name,
		                   val);
	p = colon + 1;
	errno = 0;
	port = strtol(p, &end, 10);
	if (*p < '0' || *p > '9' || *end || errno == ERANGE || port > 65535)
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: expected a port from 0 to 65535, got \"%s\"", f->name, val);
	memcpy(out->host, val, (size_t)(colon - val));
	out->host[colon - val] = '\0';
	out->port = (int)port;
	return 0;
}

/* A file the process will open later (a TLS bundle or key): checked now,
 * so a typo is refused at start rather than at the first connection. */
static int set_file(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	FILE *fp;

	if (val && !*val)
		return vim_err_set(err, VIM_EINVAL, "%s: the path is empty", f->name);
	if (val && !(fp = fopen(val, "r")))
		return vim_err_set(err, VIM_EINVAL, "%s: cannot read %s: %s", f->name, val,
		                   strerror(errno));
	if (val)
		fclose(fp);
	*(const char **)field(base, f) = val ? val : f->str;
	return 0;
}

/* One endpoint: http:// or https://, a host (a name, an address, or
 * [IPv6]), ':' and a port 1..65535 (which may be left out when
 * port_optional), nothing after it: the len bytes at u of a
 * comma-separated list. */
static bool url_ok(const char *u, size_t len, bool port_optional)
{
	size_t i = 0, host, digits;
	long port = 0;

	if (len > 8 && strncmp(u, "https://", 8) == 0)
		i = 8;
	else if (len > 7 && strncmp(u, "http://", 7) == 0)
		i = 7;
	else
		return false;
	host = i;
	if (u[i] == '[') {
		while (i < len && u[i] != ']')
			i++;
		if (i == len)
			return false;
		i++;
	} else {
		while (i < len && u[i] != ':' && u[i] != '/' && u[i] != '@')
			i++;
	}
	if (i == host)
		return false;
	if (i == len && port_optional)
		return true;
	if (i >= len || u[i] != ':')
		return false;
	for (digits = 0, i++; i < len && u[i] >= '0' && u[i] <= '9' && digits < 6; i++, digits++)
		port = port * 10 + (u[i] - '0');
	return i == len && digits > 0 && port >= 1 && port <= 65535;
}

static int set_urls(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	const char *p, *comma;
	size_t len;

	if (val) {
		for (p = val;; p = comma + 1) {
			comma = strchr(p, ',');
			len = comma ? (size_t)(comma - p) : strlen(p);
			if (!url_ok(p, len, false))
				return vim_err_set(err, VIM_EINVAL,
				                   "%s: expected http[s]://HOST:PORT[,...], got "
				                   "\"%.*s\"",
				                   f->name, (int)(len > 200 ? 200 : len), p);
			if (!comma)
				break;
		}
	}
	*(const char **)field(base, f) = val ? val : f->str;
	return 0;
}

/* The base other URLs are made from ("<base>/upload/<token>"): the
 * importer keeps up to 255 bytes of it, with room for a path after. */
#define URL_MAX 200

static int set_url(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	size_t len = val ? strlen(val) : 0;

	if (val && (len > URL_MAX || !url_ok(val, len, true)))
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: expected http[s]://HOST[:PORT] (no path, at most %d "
		                   "characters), got \"%.*s\"",
		                   f->name, URL_MAX, (int)(len > URL_MAX ? URL_MAX : len), val);
	*(const char **)field(base, f) = val ? val : f->str;
	return 0;
}

static int set_key(const struct flag *f, const char *val, void *base, struct vim_err *err)
{
	size_t len;

	if (!val)
		val = f->str;
	len = strlen(val);
	if (len < 2 || val[0] != '/' || val[len - 1] == '/' || strstr(val, "//"))
		return vim_err_set(err, VIM_EINVAL,
		                   "%s: expected /NAME[/NAME...] (a leading '/', none "
		                   "trailing), got \"%s\"",
		                   f->name, val);
	*(const char **)field(base, f) = val;
	return 0;
}

struct flag_kind {
	/* val NULL: set the row's default (which the unit test proves parses) */
	int (*set)(const struct flag *f, const char *val, void *base, struct vim_err *err);
	const char *arg; /* the value's name in --help; NULL: takes no value */
	bool numeric;    /* its default is f->num, else f->str */
};

static const struct flag_kind kinds[] = {
    [FLAG_BOOL] = {set_bool, NULL, false},
    [FLAG_INT] = {set_int, "N", true},
    [FLAG_SECONDS] = {set_seconds, "SECONDS", true},
    [FLAG_RATE] = {set_rate, "BYTES/S", true},
    [FLAG_STRING] = {set_string, "TEXT", false},
    [FLAG_PATH] = {set_path, "PATH", false},
    [FLAG_ENUM] = {set_enum, "", false},
    [FLAG_ADDR] = {set_addr, "HOST:PORT", false},
    [FLAG_FILE] = {set_file, "FILE", false},
    [FLAG_URLS] = {set_urls, "URL[,URL...]", false},
    [FLAG_URL] = {set_url, "URL", false},
    [FLAG_KEY] = {set_key, "/PREFIX", false},
};

void flags_defaults(const struct flag *t, size_t n, void *base)
{
	size_t i;

	for (i = 0; i < n; i++)
		kinds[t[i].type].set(&t[i], NULL, base, NULL);
}

int flags_parse(const struct flag *t, size_t n, int argc, char **argv, void *base,
                struct vim_err *err)
{
	int i, rc;
	size_t k;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *eq = strchr(a, '='), *val;
		size_t nl = eq ? (size_t)(eq - a) : strlen(a);
		const struct flag *f;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
			return 1;
		for (k = 0; k < n; k++)
			if (strlen(t[k].name) == nl && strncmp(a, t[k].name, nl) == 0)
				break;
		if (k == n)
			return vim_err_set(err, VIM_EINVAL, "unknown flag %s (see --help)", a);
		f = &t[k];
		if (!kinds[f->type].arg) {
			if (eq)
				return vim_err_set(err, VIM_EINVAL, "%s takes no value", f->name);
			val = "";
		} else if (eq) {
			val = eq + 1;
		} else if (i + 1 < argc) {
			val = argv[++i];
		} else {
			return vim_err_set(err, VIM_EINVAL, "%s needs a value", f->name);
		}
		if ((rc = kinds[f->type].set(f, val, base, err)) < 0)
			return rc;
	}
	return 0;
}

void flags_usage(const struct flag *t, size_t n, const char *prog, FILE *f)
{
	char left[160], dflt[96], choices[128];
	size_t i;

	fprintf(f, "usage: %s [flags]\n", prog);
	for (i = 0; i < n; i++) {
		const struct flag_kind *k = &kinds[t[i].type];
		const char *arg = t[i].arg ? t[i].arg : k->arg ? k->arg : "";

		if (t[i].type == FLAG_ENUM)
			arg = choice_list(&t[i], choices, sizeof(choices));
		snprintf(left, sizeof(left), "%s%s%s", t[i].name, *arg ? " " : "", arg);
		dflt[0] = '\0';
		if (k->numeric)
			snprintf(dflt, sizeof(dflt), " (default %.15g)", t[i].num);
		else if (t[i].str)
			snprintf(dflt, sizeof(dflt), " (default %s)", t[i].str);
		fprintf(f, "  %-36s %s%s\n", left, t[i].help, dflt);
	}
}

int vimaged_options_check(const struct options *o, struct vim_err *err)
{
	bool etcd = strcmp(o->store, "etcd") == 0;

	if (etcd && !o->etcd_endpoints)
		return vim_err_set(err, VIM_EINVAL,
		                   "--store etcd needs --etcd-endpoints http[s]://HOST:PORT[,...]");
	if (!etcd && (o->etcd_endpoints || o->etcd_cafile || o->etcd_certfile || o->etcd_keyfile))
		return vim_err_set(err, VIM_EINVAL,
		                   "--etcd-* flags are for --store etcd (the store is %s)",
		                   o->store);
	if (!o->etcd_certfile != !o->etcd_keyfile)
		return vim_err_set(err, VIM_EINVAL, "%s needs %s",
		                   o->etcd_certfile ? "--etcd-certfile" : "--etcd-keyfile",
		                   o->etcd_certfile ? "--etcd-keyfile" : "--etcd-certfile");
	/* a managed registry lives under one replica's --data-dir: the others
	 * could not reach it, and it would go with that replica */
	if (etcd && !o->dvcr_url && strcmp(o->controllers, "on") == 0 && !o->store_export &&
	    !o->store_import)
		return vim_err_set(err, VIM_EINVAL,
		                   "--store etcd needs --dvcr-url: the replicas on one etcd share "
		                   "one registry (or run with --controllers off)");
	if (o->replica_id) {
		size_t i, n = strlen(o->replica_id);
		/* it is an etcd key, a metric label and a log word */
		for (i = 0; i < n; i++)
			if (!isalnum((unsigned char)o->replica_id[i]) &&
			    !strchr("._:-", o->replica_id[i]))
				break;
		if (n == 0 || n > 127 || i < n)
			return vim_err_set(
			    err, VIM_EINVAL,
			    "--replica-id: expected 1 to 127 of A-Z a-z 0-9 . _ : -, "
			    "got \"%s\"",
			    o->replica_id);
	}
	if (o->store_export && o->store_import)
		return vim_err_set(err, VIM_EINVAL,
		                   "--store-export and --store-import: one at a time");
	return 0;
}
