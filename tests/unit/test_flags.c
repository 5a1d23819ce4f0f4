/*
 * vimaged's flags (src/cmd/vimaged/flags.c): the table's defaults are the
 * ones README and the tests rely on, both "--flag value" and "--flag=value"
 * parse, and every bad value is refused with one line naming the flag and
 * the reason instead of becoming a zero some module reads as its default.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cmd/vimaged/flags.h"
#include "cmd/vimaged/vimaged.h"

/* Parses the NULL-terminated args after a program name into *o. */
static int parse(struct options *o, struct vim_err *err, ...)
{
	char *argv[32] = {"vimaged"};
	int argc = 1;
	va_list ap;

	memset(o, 0, sizeof(*o));
	flags_defaults(vimaged_flags, vimaged_nflags, o);
	va_start(ap, err);
	while (argc < 31 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	memset(err, 0, sizeof(*err));
	return flags_parse(vimaged_flags, vimaged_nflags, argc, argv, o, err);
}

static void refused(const char *want_msg, int rc, const struct vim_err *err)
{
	assert_int_equal(rc, VIM_EINVAL);
	assert_string_equal(err->msg, want_msg);
}

static void test_defaults_are_todays(void **state)
{
	struct options o;
	struct vim_err err;
	(void)state;

	assert_int_equal(parse(&o, &err, NULL), 0);
	assert_string_equal(o.data_dir, "./vimage-data");
	assert_string_equal(o.listen.host, "127.0.0.1");
	assert_int_equal(o.listen.port, 8080);
	assert_string_equal(o.kubectl_listen.host, "127.0.0.1");
	assert_int_equal(o.kubectl_listen.port, 0);
	assert_null(o.tls_cert);
	assert_null(o.dvcr_url);
	assert_string_equal(o.log_level, "info");
	assert_string_equal(o.log_format, "text");
	assert_string_equal(o.controllers, "on");
	assert_false(o.dvcr_trust_head);
	assert_false(o.metrics_anonymous);
	assert_int_equal(o.workers, 4);
	assert_int_equal(o.probe_interval_ms, 5000);
	assert_int_equal(o.sweep_interval_ms, 300000);
	assert_int_equal(o.max_rps, 50);
	assert_int_equal(o.import_workers, 4);
	assert_int_equal(o.upload_timeout_ms, 600000);
	assert_int_equal(o.import_min_rate, 1024);
	assert_int_equal(o.import_stall_window_ms, 60000);
	assert_int_equal(o.http_max_connections, 16384);
	assert_int_equal(o.http_idle_timeout_ms, 90000);
	assert_int_equal(o.http_header_timeout_ms, 32000);
	assert_int_equal(o.event_ttl_ms, 3600000);
	assert_string_equal(o.store, "sqlite");
	assert_null(o.etcd_endpoints);
	assert_string_equal(o.etcd_prefix, "/vimage");
	assert_null(o.etcd_cafile);
	assert_null(o.etcd_certfile);
	assert_null(o.etcd_keyfile);
	assert_int_equal(o.etcd_timeout_ms, 5000);
	assert_null(o.store_export);
	assert_null(o.store_import);
	assert_null(o.external_url);
	assert_int_equal(vimaged_options_check(&o, &err), 0);
}

/* A row whose default is outside its own bounds would be a value no user
 * could pass: every default must parse as a command-line value. */
static void test_every_default_parses(void **state)
{
	struct options o;
	struct vim_err err;
	char arg[256];
	size_t i;
	(void)state;

	for (i = 0; i < vimaged_nflags; i++) {
		const struct flag *f = &vimaged_flags[i];
		if (f->type == FLAG_INT || f->type == FLAG_SECONDS || f->type == FLAG_RATE) {
			if (f->num < f->min || f->num > f->max)
				fail_msg("%s: default %g outside %g..%g", f->name, f->num, f->min,
				         f->max);
		} else if (f->str) {
			snprintf(arg, sizeof(arg), "%s=%s", f->name, f->str);
			if (parse(&o, &err, arg, NULL) != 0)
				fail_msg("%s: default does not parse: %s", f->name, err.msg);
		}
		assert_non_null(f->help);
		assert_true(strncmp(f->name, "--", 2) == 0);
	}
}

static void test_both_spellings_parse(void **state)
{
	struct options o;
	struct vim_err err;
	(void)state;

	assert_int_equal(parse(&o, &err, "--workers", "2", "--import-workers=8", "--upload-timeout",
	                       "3", "--import-stall-window=2", "--storage-probe-interval", "0.2",
	                       "--import-min-rate=4096", "--controllers", "off",
	                       "--log-level=debug", "--data-dir", "/tmp/x",
	                       "--dvcr-url=http://127.0.0.1:5000", "--metrics-anonymous",
	                       "--dvcr-trust-head", NULL),
	                 0);
	assert_int_equal(o.workers, 2);
	assert_int_equal(o.import_workers, 8);
	assert_int_equal(o.upload_timeout_ms, 3000);
	assert_int_equal(o.import_stall_window_ms, 2000);
	assert_int_equal(o.probe_interval_ms, 200);
	assert_int_equal(o.import_min_rate, 4096);
	assert_string_equal(o.controllers, "off");
	assert_string_equal(o.log_level, "debug");
	assert_string_equal(o.data_dir, "/tmp/x");
	assert_string_equal(o.dvcr_url, "http://127.0.0.1:5000");
	assert_true(o.metrics_anonymous);
	assert_true(o.dvcr_trust_head);
	/* a later flag wins, as before */
	assert_int_equal(parse(&o, &err, "--workers", "2", "--workers", "3", NULL), 0);
	assert_int_equal(o.workers, 3);
	assert_int_equal(
	    parse(&o, &err, "--listen=0.0.0.0:0", "--kubectl-listen", "[::1]:6443", NULL), 0);
	assert_string_equal(o.listen.host, "0.0.0.0");
	assert_int_equal(o.listen.port, 0);
	assert_string_equal(o.kubectl_listen.host, "[::1]");
	assert_int_equal(o.kubectl_listen.port, 6443);
}

static void test_bad_numbers_are_refused(void **state)
{
	struct options o;
	struct vim_err err;
	int rc;
	(void)state;

	rc = parse(&o, &err, "--workers", "four", NULL);
	refused("--workers: expected an integer, got \"four\"", rc, &err);
	rc = parse(&o, &err, "--workers", "4x", NULL);
	refused("--workers: expected an integer, got \"4x\"", rc, &err);
	rc = parse(&o, &err, "--workers", "2.5", NULL);
	refused("--workers: expected an integer, got \"2.5\"", rc, &err);
	rc = parse(&o, &err, "--workers=", NULL);
	refused("--workers: expected an integer, got \"\"", rc, &err);
	rc = parse(&o, &err, "--workers", " 4", NULL);
	refused("--workers: expected an integer, got \" 4\"", rc, &err);
	rc = parse(&o, &err, "--import-min-rate", "99999999999999999999999", NULL);
	refused("--import-min-rate: expected an integer, got \"99999999999999999999999\"", rc,
	        &err);
	rc = parse(&o, &err, "--upload-timeout", "10m", NULL);
	refused("--upload-timeout: expected a number of seconds, got \"10m\"", rc, &err);
	rc = parse(&o, &err, "--http-idle-timeout", "nan", NULL);
	refused("--http-idle-timeout: expected a number of seconds, got \"nan\"", rc, &err);
}

static void test_out_of_range_is_refused(void **state)
{
	struct options o;
	struct vim_err err;
	int rc;
	(void)state;

	rc = parse(&o, &err, "--workers", "0", NULL);
	refused("--workers: 0 is out of range (1 to 1024)", rc, &err);
	rc = parse(&o, &err, "--import-workers=-1", NULL);
	refused("--import-workers: -1 is out of range (1 to 1024)", rc, &err);
	rc = parse(&o, &err, "--import-min-rate", "-5", NULL);
	refused("--import-min-rate: -5 is out of range (1 to 1000000000000)", rc, &err);
	/* 0.0001 s would round to 0 ms: the module's "none" / "default" */
	rc = parse(&o, &err, "--storage-probe-interval", "0.0001", NULL);
	refused("--storage-probe-interval: 0.0001 is out of range (0.001 to 86400)", rc, &err);
	rc = parse(&o, &err, "--http-header-timeout", "0", NULL);
	refused("--http-header-timeout: 0 is out of range (0.001 to 86400)", rc, &err);
}

static void test_unknown_missing_and_bad_choices_are_refused(void **state)
{
	struct options o;
	struct vim_err err;
	int rc;
	(void)state;

	rc = parse(&o, &err, "--wokers", "4", NULL);
	refused("unknown flag --wokers (see --help)", rc, &err);
	rc = parse(&o, &err, "workers", NULL);
	refused("unknown flag workers (see --help)", rc, &err);
	rc = parse(&o, &err, "--workers", NULL);
	refused("--workers needs a value", rc, &err);
	rc = parse(&o, &err, "--metrics-anonymous=yes", NULL);
	refused("--metrics-anonymous takes no value", rc, &err);
	rc = parse(&o, &err, "--controllers", "maybe", NULL);
	refused("--controllers: expected on|off, got \"maybe\"", rc, &err);
	rc = parse(&o, &err, "--log-format=xml", NULL);
	refused("--log-format: expected text|json, got \"xml\"", rc, &err);
	rc = parse(&o, &err, "--data-dir=", NULL);
	refused("--data-dir: the path is empty", rc, &err);
	rc = parse(&o, &err, "--listen", "8080", NULL);
	refused("--listen: expected HOST:PORT, got \"8080\"", rc, &err);
	rc = parse(&o, &err, "--listen", ":8080", NULL);
	refused("--listen: expected HOST:PORT, got \":8080\"", rc, &err);
	rc = parse(&o, &err, "--kubectl-listen=127.0.0.1:65536", NULL);
	refused("--kubectl-listen: expected a port from 0 to 65535, got \"127.0.0.1:65536\"", rc,
	        &err);
	rc = parse(&o, &err, "--kubectl-listen=127.0.0.1:", NULL);
	refused("--kubectl-listen: expected a port from 0 to 65535, got \"127.0.0.1:\"", rc, &err);
}

static void test_etcd_flags_parse(void **state)
{
	struct options o;
	struct vim_err err;
	(void)state;

	assert_int_equal(
	    parse(&o, &err, "--store", "etcd", "--etcd-endpoints",
	          "http://127.0.0.1:2379,https://etcd-1.example:32379,http://[::1]:2379",
	          "--etcd-prefix=/vimage/prod", "--etcd-timeout", "250", "--etcd-cafile",
	          "/dev/null", "--etcd-certfile=/dev/null", "--etcd-keyfile", "/dev/null",
	          "--store-export", "-", NULL),
	    0);
	assert_string_equal(o.store, "etcd");
	assert_string_equal(o.etcd_endpoints,
	                    "http://127.0.0.1:2379,https://etcd-1.example:32379,http://[::1]:2379");
	assert_string_equal(o.etcd_prefix, "/vimage/prod");
	assert_int_equal(o.etcd_timeout_ms, 250);
	assert_string_equal(o.etcd_certfile, "/dev/null");
	assert_string_equal(o.store_export, "-");
	assert_int_equal(vimaged_options_check(&o, &err), 0);
}

static void test_bad_etcd_flags_are_refused(void **state)
{
	static const struct {
		const char *arg, *msg;
	} bad[] = {
	    {"--etcd-endpoints=127.0.0.1:2379",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"127.0.0.1:2379\""},
	    {"--etcd-endpoints=http://127.0.0.1",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://127.0.0.1\""},
	    {"--etcd-endpoints=http://127.0.0.1:2379,",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"\""},
	    {"--etcd-endpoints=http://a:1,grpc://b:2",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"grpc://b:2\""},
	    {"--etcd-endpoints=http://a:2379/v3",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://a:2379/v3\""},
	    {"--etcd-endpoints=http://a:0",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://a:0\""},
	    {"--etcd-endpoints=http://a:65536",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://a:65536\""},
	    {"--etcd-endpoints=http://:2379",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://:2379\""},
	    {"--etcd-endpoints=http://u@a:2379",
	     "--etcd-endpoints: expected http[s]://HOST:PORT[,...], got \"http://u@a:2379\""},
	    {"--etcd-prefix=vimage",
	     "--etcd-prefix: expected /NAME[/NAME...] (a leading '/', none trailing), got "
	     "\"vimage\""},
	    {"--etcd-prefix=/vimage/",
	     "--etcd-prefix: expected /NAME[/NAME...] (a leading '/', none trailing), got "
	     "\"/vimage/\""},
	    {"--etcd-prefix=/",
	     "--etcd-prefix: expected /NAME[/NAME...] (a leading '/', none trailing), got "
	     "\"/\""},
	    {"--etcd-cafile=/nonexistent/ca.pem",
	     "--etcd-cafile: cannot read /nonexistent/ca.pem: No such file or directory"},
	    {"--etcd-keyfile=", "--etcd-keyfile: the path is empty"},
	    {"--etcd-timeout=0", "--etcd-timeout: 0 is out of range (1 to 3600000)"},
	    {"--store=mysql", "--store: expected sqlite|etcd, got \"mysql\""},
	};
	struct options o;
	struct vim_err err;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(&o, &err, "--store=etcd", bad[i].arg, NULL);
		if (rc != VIM_EINVAL || strcmp(err.msg, bad[i].msg) != 0)
			fail_msg("%s: rc %d, \"%s\"", bad[i].arg, rc, err.msg);
	}
}

/* The upload URLs' base: a scheme and a host, a port if any, nothing
 * after (the importer appends /upload/<token>). */
static void test_external_url_is_a_base_url(void **state)
{
	static const char *const good[] = {"https://images.example.com", "http://10.0.0.1:8080",
	                                   "https://[2001:db8::1]:8443", "http://[::1]",
	                                   "https://vimage:443"};
	static const char *const bad[] = {"https://images.example.com/",
	                                  "https://images.example.com/up",
	                                  "images.example.com",
	                                  "ftp://images.example.com",
	                                  "http://",
	                                  "http://:8080",
	                                  "http://a:",
	                                  "http://a:0",
	                                  "http://a:65536",
	                                  "http://u@a",
	                                  "http://a:80/",
	                                  ""};
	char arg[300], msg[400], lng[260];
	struct options o;
	struct vim_err err;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(arg, sizeof(arg), "--external-url=%s", good[i]);
		if (parse(&o, &err, arg, NULL) != 0 || strcmp(o.external_url, good[i]) != 0)
			fail_msg("%s refused: %s", good[i], err.msg);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(arg, sizeof(arg), "--external-url=%s", bad[i]);
		snprintf(msg, sizeof(msg),
		         "--external-url: expected http[s]://HOST[:PORT] (no path, at most 200 "
		         "characters), got \"%s\"",
		         bad[i]);
		refused(msg, parse(&o, &err, arg, NULL), &err);
	}
	/* the importer keeps 255 bytes of the base: a longer one is refused */
	memset(lng, 'a', sizeof(lng) - 1);
	lng[sizeof(lng) - 1] = '\0';
	memcpy(lng, "https://", 8);
	assert_int_equal(parse(&o, &err, "--external-url", lng, NULL), VIM_EINVAL);
	assert_non_null(strstr(err.msg, "at most 200 characters"));
}

/* What no single row can say. */
static void test_store_flag_combinations(void **state)
{
	static const struct {
		const char *a, *b, *msg;
	} bad[] = {
	    {"--store=etcd", NULL, "--store etcd needs --etcd-endpoints http[s]://HOST:PORT[,...]"},
	    {"--etcd-endpoints=http://127.0.0.1:2379", NULL,
	     "--etcd-* flags are for --store etcd (the store is sqlite)"},
	    {"--etcd-cafile=/dev/null", NULL,
	     "--etcd-* flags are for --store etcd (the store is sqlite)"},
	    {"--store-export=a", "--store-import=b",
	     "--store-export and --store-import: one at a time"},
	};
	struct options o;
	struct vim_err err;
	size_t i;
	(void)state;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(&o, &err, bad[i].a, bad[i].b, NULL), 0);
		assert_int_equal(vimaged_options_check(&o, &err), VIM_EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
	}
	assert_int_equal(parse(&o, &err, "--store=etcd", "--etcd-endpoints=http://a:1",
	                       "--etcd-certfile=/dev/null", NULL),
	                 0);
	assert_int_equal(vimaged_options_check(&o, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "--etcd-certfile needs --etcd-keyfile");
	assert_int_equal(parse(&o, &err, "--store=etcd", "--etcd-endpoints=http://a:1",
	                       "--etcd-keyfile=/dev/null", NULL),
	                 0);
	assert_int_equal(vimaged_options_check(&o, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "--etcd-keyfile needs --etcd-certfile");
	/* replicas share one registry: the one vimaged runs is a machine's */
	assert_int_equal(parse(&o, &err, "--store=etcd", "--etcd-endpoints=http://a:1", NULL), 0);
	assert_int_equal(o.lease_ttl_ms, 10000);
	assert_null(o.replica_id);
	assert_int_equal(vimaged_options_check(&o, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "--store etcd needs --dvcr-url: the replicas on one etcd "
	                             "share one registry (or run with --controllers off)");
	assert_int_equal(parse(&o, &err, "--store=etcd", "--etcd-endpoints=http://a:1",
	                       "--controllers=off", NULL),
	                 0);
	assert_int_equal(vimaged_options_check(&o, &err), 0);
	assert_int_equal(parse(&o, &err, "--store=etcd", "--etcd-endpoints=http://a:1",
	                       "--dvcr-url=http://127.0.0.1:5000", "--lease-ttl=4",
	                       "--replica-id=b", NULL),
	                 0);
	assert_int_equal(vimaged_options_check(&o, &err), 0);
	assert_int_equal(o.lease_ttl_ms, 4000);
	assert_string_equal(o.replica_id, "b");
	assert_int_equal(parse(&o, &err, "--lease-ttl=1", NULL), VIM_EINVAL);
	assert_int_equal(parse(&o, &err, "--replica-id=a/b", NULL), 0);
	assert_int_equal(vimaged_options_check(&o, &err), VIM_EINVAL);
	assert_string_equal(err.msg, "--replica-id: expected 1 to 127 of A-Z a-z 0-9 . _ : -, "
	                             "got \"a/b\"");
}

static void test_help_lists_every_flag_with_its_default(void **state)
{
	char *text = NULL;
	size_t len = 0, i;
	struct options o;
	struct vim_err err;
	FILE *f = open_memstream(&text, &len);
	(void)state;

	assert_int_equal(parse(&o, &err, "--workers", "2", "--help", NULL), 1);
	assert_non_null(f);
	flags_usage(vimaged_flags, vimaged_nflags, "vimaged", f);
	fclose(f);
	for (i = 0; i < vimaged_nflags; i++)
		assert_non_null(strstr(text, vimaged_flags[i].name));
	assert_non_null(strstr(text, "--workers N"));
	assert_non_null(strstr(text, "reconcile workers (default 4)\n"));
	assert_non_null(strstr(text, "--log-level debug|info|warn|error"));
	assert_non_null(strstr(text, "(default 16384)\n"));
	assert_non_null(strstr(text, "--store sqlite|etcd"));
	assert_non_null(strstr(text, "--etcd-endpoints URL[,URL...]"));
	assert_non_null(strstr(text, "(default /vimage)\n"));
	assert_non_null(strstr(text, "--etcd-timeout N"));
	assert_non_null(strstr(text, "--external-url URL"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_are_todays),
	    cmocka_unit_test(test_every_default_parses),
	    cmocka_unit_test(test_both_spellings_parse),
	    cmocka_unit_test(test_bad_numbers_are_refused),
	    cmocka_unit_test(test_out_of_range_is_refused),
	    cmocka_unit_test(test_unknown_missing_and_bad_choices_are_refused),
	    cmocka_unit_test(test_etcd_flags_parse),
	    cmocka_unit_test(test_bad_etcd_flags_are_refused),
	    cmocka_unit_test(test_external_url_is_a_base_url),
	    cmocka_unit_test(test_store_flag_combinations),
	    cmocka_unit_test(test_help_lists_every_flag_with_its_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
