/*
 * tests/unit/test_etcd_pages — how many reads a range costs etcd, counted
 * by etcd itself (its /metrics: grpc_server_handled_total of Range).
 * etcd 3.4 walks the rest of the range on every read it is asked (to
 * count it), so the number of reads is what a paged list and the watch
 * cache's full read cost: a list page of the API is one read, and a read
 * of every key grows its pages by bytes instead of asking 500 at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "store/kv.h"
#include "store/store.h"
#include "etcd_fixture.h"

#define VI "virtualimages"

struct ctx {
	char prefix[128];
	struct store_kv *kv;
};

struct text {
	char *p;
	size_t len;
};

static size_t grow(char *p, size_t sz, size_t n, void *arg)
{
	struct text *t = arg;
	char *q = realloc(t->p, t->len + sz * n + 1);

	if (!q)
		return 0;
	memcpy(q + t->len, p, sz * n);
	t->p = q;
	t->len += sz * n;
	t->p[t->len] = '\0';
	return sz * n;
}

/* The Range calls etcd has answered OK since it started (this process
 * is its only client). */
static long ranges_served(void)
{
	char url[256];
	struct text t = {0};
	const char *line;
	long n = -1;
	CURL *h = curl_easy_init();

	snprintf(url, sizeof(url), "%s/metrics", etcd_fx_endpoint(etcd_fx_shared(), 0));
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, grow);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	if (curl_easy_perform(h) == CURLE_OK && t.p)
		for (line = t.p; (line = strstr(line, "\ngrpc_server_handled_total{")); line++) {
			const char *end = strchr(line + 1, '\n'), *sp;

			if (!end)
				break;
			sp = memchr(line, ' ', (size_t)(end - line));
			if (sp && strstr(line, "grpc_code=\"OK\"") < end &&
			    strstr(line, "grpc_method=\"Range\"") < end) {
				n = strtol(sp + 1, NULL, 10);
				break;
			}
		}
	curl_easy_cleanup(h);
	free(t.p);
	return n;
}

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));
	struct store_kv_etcd_opts o = {.timeout_ms = 5000};
	struct vim_err err = {0};

	assert_non_null(c);
	assert_non_null(etcd_fx_shared());
	etcd_fx_prefix(c->prefix, sizeof(c->prefix), "pages");
	o.endpoints = etcd_fx_endpoints(etcd_fx_shared());
	o.prefix = c->prefix;
	assert_int_equal(store_kv_etcd_open(&c->kv, &o, &err), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	c->kv->ops->close(c->kv);
	free(c);
	return 0;
}

struct value {
	const char *text;
	size_t len;
};

static int encode(void *arg, int64_t rev, const char **text, size_t *len)
{
	struct value *v = arg;

	(void)rev;
	*text = v->text;
	*len = v->len;
	return 0;
}

/* n VirtualImages in namespace "ns", each padded to about pad bytes. */
static void put_images(struct store_kv *kv, int n, size_t pad)
{
	char *text = malloc(pad + 512), *fill = malloc(pad + 1);
	struct vim_err err = {0};

	assert_non_null(text);
	assert_non_null(fill);
	memset(fill, 'x', pad);
	fill[pad] = '\0';
	for (int i = 0; i < n; i++) {
		char name[32];
		struct value v;
		struct store_kv_write w = {.op = STORE_KV_PUT, .encode = encode, .arg = &v};
		int64_t rev;

		snprintf(name, sizeof(name), "img-%05d", i);
		v.text = text;
		v.len = (size_t)snprintf(
		    text, pad + 512,
		    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":"
		    "\"VirtualImage\",\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\","
		    "\"annotations\":{\"pad\":\"%s\"}},\"spec\":{}}",
		    name, fill);
		w.key = (struct store_kv_key){.resource = VI, .ns = "ns", .name = name};
		assert_int_equal(kv->ops->write(kv, &w, &rev, &err), 0);
	}
	free(text);
	free(fill);
}

static int count_item(void *arg, const struct store_kv_item *it)
{
	long *n = arg;
	char want[32];

	snprintf(want, sizeof(want), "img-%05ld", *n);
	assert_string_equal(it->name, want);
	(*n)++;
	return 0;
}

static int count_json(void *arg, const char *json, size_t len)
{
	(void)json, (void)len;
	(*(long *)arg)++;
	return 0;
}

/* A page of limit 500 needs 501 keys (the one after says "continue"):
 * one read of etcd, not two of 500 each. */
static void test_a_list_page_of_500_is_one_range_read(void **state)
{
	struct ctx *c = *state;
	struct store_etcd_opts o = {.prefix = c->prefix, .timeout_ms = 5000};
	struct store_list_opts lo = {.limit = 500};
	struct store_list_meta meta;
	struct store *s = NULL;
	struct vim_err err = {0};
	long before, items = 0;

	put_images(c->kv, 1200, 16);
	o.endpoints = etcd_fx_endpoints(etcd_fx_shared());
	assert_int_equal(store_etcd_open(&s, &o, &err), 0);
	before = ranges_served();
	assert_true(before >= 0);
	assert_int_equal(store_list(s, VI, &lo, count_json, &items, &meta, &err), 0);
	assert_int_equal(items, 500);
	assert_true(meta.continue_token[0] != '\0');
	assert_int_equal(meta.remaining, 700);
	assert_int_equal(ranges_served() - before, 1);
	store_close(s);
}

/* Every key of 3,000 values of ~3 KiB (~12 MiB of answer): pages sized
 * by bytes (at most ~8 MiB each) instead of six reads of 500. */
static void test_a_read_of_every_key_grows_its_pages(void **state)
{
	struct ctx *c = *state;
	struct store_kv_range r = {.resource = VI, .ns = "ns"};
	struct store_kv_range_meta meta;
	struct vim_err err = {0};
	long before, n = 0;

	put_images(c->kv, 3000, 3000);
	before = ranges_served();
	assert_int_equal(c->kv->ops->range(c->kv, &r, count_item, &n, &meta, &err), 0);
	assert_int_equal(n, 3000);
	assert_true(ranges_served() - before <= 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_a_list_page_of_500_is_one_range_read, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_a_read_of_every_key_grows_its_pages, setup,
	                                    teardown),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
