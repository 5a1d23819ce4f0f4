/*
 * bench/api — the API's throughput and memory, measured against a real
 * vimaged over HTTP (not run in CI; `make bench`).
 *
 * Starts build/vimaged on a free loopback port with a fresh data dir, then:
 * creates N VirtualImages with T keep-alive clients while one watch counts
 * the ADDED events, lists them all in one LIST and in pages of 500, and
 * reads vimaged's peak RSS (VmHWM).  The last line is
 *   api: create_per_s=N list_all_ms=N rss_mib=N
 * Targets (issue 3): create >= 2,000/s, LIST all <= 2 s, RSS <= 300 MiB.
 */
#include <curl/curl.h>
#include <jansson.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GROUP_PATH "/apis/virtualization.deckhouse.io/v1alpha2"

struct bench {
	char url[128];
	char auth[256];
	long n;
	int threads;
	long next; /* next object index to create, shared by the workers */
	long failed;
	pthread_mutex_t mu;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t sz, size_t n, void *arg)
{
	(void)p;
	*(size_t *)arg += sz * n;
	return sz * n;
}

static CURL *client(const struct bench *b, struct curl_slist **hdrs)
{
	CURL *c = curl_easy_init();
	*hdrs = curl_slist_append(NULL, b->auth);
	*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	*hdrs = curl_slist_append(*hdrs, "Accept: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	return c;
}

static void *create_worker(void *arg)
{
	struct bench *b = arg;
	struct curl_slist *hdrs;
	CURL *c = client(b, &hdrs);
	char url[256], body[512];
	size_t got = 0;
	long i, code = 0;

	snprintf(url, sizeof(url), "%s" GROUP_PATH "/namespaces/bench/virtualimages", b->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	for (;;) {
		pthread_mutex_lock(&b->mu);
		i = b->next < b->n ? b->next++ : -1;
		pthread_mutex_unlock(&b->mu);
		if (i < 0)
			break;
		snprintf(body, sizeof(body),
		         "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\","
		         "\"kind\":\"VirtualImage\",\"metadata\":{\"name\":\"img-%06ld\","
		         "\"namespace\":\"bench\",\"labels\":{\"shard\":\"s%ld\"}},"
		         "\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{"
		         "\"type\":\"HTTP\",\"http\":{\"url\":\"http://127.0.0.1:1/img-%06ld."
		         "qcow2\"}}}}",
		         i, i % 16, i);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
		    code != 201) {
			pthread_mutex_lock(&b->mu);
			b->failed++;
			pthread_mutex_unlock(&b->mu);
		}
	}
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return NULL;
}

struct watch_count {
	const struct bench *b;
	long added;
	char tail[16]; /* bytes of a marker split across reads */
	size_t tail_len;
	double done_at;
};

/* Counts "ADDED" markers in the stream; stops once all N arrived. */
static size_t watch_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct watch_count *w = arg;
	static const char mark[] = "\"type\":\"ADDED\"";
	size_t len = sz * n, ml = sizeof(mark) - 1, i;
	char buf[4096 + 16];
	size_t off = 0;

	while (off < len) {
		size_t take = len - off < 4096 ? len - off : 4096, bl;
		memcpy(buf, w->tail, w->tail_len);
		memcpy(buf + w->tail_len, p + off, take);
		bl = w->tail_len + take;
		for (i = 0; i + ml <= bl; i++)
			if (memcmp(buf + i, mark, ml) == 0)
				w->added++;
		w->tail_len = bl < ml - 1 ? bl : ml - 1;
		memcpy(w->tail, buf + bl - w->tail_len, w->tail_len);
		off += take;
	}
	if (w->added >= w->b->n) {
		w->done_at = now_s();
		return 0; /* abort the transfer: every ADDED arrived */
	}
	return len;
}

static void *watch_worker(void *arg)
{
	struct watch_count *w = arg;
	struct curl_slist *hdrs;
	CURL *c = client(w->b, &hdrs);
	char url[256];

	snprintf(url, sizeof(url), "%s" GROUP_PATH "/namespaces/bench/virtualimages?watch=true",
	         w->b->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, watch_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, w);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return NULL;
}

static double list_all(const struct bench *b, size_t *bytes)
{
	struct curl_slist *hdrs;
	CURL *c = client(b, &hdrs);
	char url[256];
	double t0 = now_s();

	*bytes = 0;
	snprintf(url, sizeof(url), "%s" GROUP_PATH "/virtualimages", b->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bytes);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return now_s() - t0;
}

struct page {
	char *buf;
	size_t len;
};

static size_t page_sink(char *p, size_t sz, size_t n, void *arg)
{
	struct page *pg = arg;
	char *nb = realloc(pg->buf, pg->len + sz * n + 1);
	if (!nb)
		return 0;
	memcpy(nb + pg->len, p, sz * n);
	pg->buf = nb;
	pg->len += sz * n;
	pg->buf[pg->len] = '\0';
	return sz * n;
}

/* Lists in pages of 500 following continue tokens; returns the items seen. */
static long list_paged(const struct bench *b, double *secs)
{
	struct curl_slist *hdrs;
	CURL *c = client(b, &hdrs);
	char url[1024], cont[512] = "";
	long items = 0;
	double t0 = now_s();

	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, page_sink);
	for (;;) {
		struct page pg = {0};
		json_t *doc;
		const char *next;
		char *esc = curl_easy_escape(c, cont, 0);

		snprintf(url, sizeof(url), "%s" GROUP_PATH "/virtualimages?limit=500%s%s", b->url,
		         cont[0] ? "&continue=" : "", cont[0] ? esc : "");
		curl_free(esc);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
		if (curl_easy_perform(c) != CURLE_OK || !pg.buf) {
			free(pg.buf);
			break;
		}
		doc = json_loadb(pg.buf, pg.len, 0, NULL);
		free(pg.buf);
		if (!doc)
			break;
		items += (long)json_array_size(json_object_get(doc, "items"));
		next = json_string_value(
		    json_object_get(json_object_get(doc, "metadata"), "continue"));
		snprintf(cont, sizeof(cont), "%s", next ? next : "");
		json_decref(doc);
		if (!cont[0])
			break;
	}
	*secs = now_s() - t0;
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return items;
}

static long peak_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* Starts vimaged and reads its "listening on" line for the URL. */
static pid_t start_vimaged(const char *bin, const char *dir, struct bench *b)
{
	int fds[2];
	pid_t pid;
	FILE *in;
	char line[512], path[512];

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		execl(bin, bin, "--data-dir", dir, "--listen", "127.0.0.1:0", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		if (sscanf(line, "vimaged: listening on %127s", b->url) == 1)
			break;
	}
	/* Keep draining its stderr so vimaged never blocks on a full pipe. */
	if (in && fork() == 0) {
		while (fgets(line, sizeof(line), in))
			;
		_exit(0);
	}
	if (in)
		fclose(in);
	snprintf(path, sizeof(path), "%s/token", dir);
	if ((in = fopen(path, "r"))) {
		char tok[200] = "";
		if (fscanf(in, "%199s", tok) == 1)
			snprintf(b->auth, sizeof(b->auth), "Authorization: Bearer %s", tok);
		fclose(in);
	}
	return pid;
}

int main(int argc, char **argv)
{
	struct bench b = {.n = 100000, .threads = 4, .mu = PTHREAD_MUTEX_INITIALIZER};
	const char *bin = "build/vimaged";
	char dir[] = "/tmp/vimage-bench.XXXXXX";
	struct watch_count wc = {.b = &b};
	pthread_t th[64], wt;
	double t0, create_s, list_s, paged_s;
	size_t list_bytes;
	long paged_items, rss;
	pid_t pid;
	int i;

	for (i = 1; i + 1 < argc; i += 2) {
		char *end;
		if (strcmp(argv[i], "--n") == 0) {
			b.n = strtol(argv[i + 1], &end, 10);
			if (*end)
				b.n = 0; /* not a number: the usage below */
		} else if (strcmp(argv[i], "--threads") == 0) {
			b.threads = (int)strtol(argv[i + 1], &end, 10);
			if (*end)
				b.threads = 0;
		} else if (strcmp(argv[i], "--vimaged") == 0)
			bin = argv[i + 1];
	}
	if (b.threads < 1 || b.threads > 64 || b.n < 1) {
		fprintf(stderr, "usage: api [--n N] [--threads 1..64] [--vimaged PATH]\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "api: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pid = start_vimaged(bin, dir, &b);
	if (pid < 0 || !b.url[0] || !b.auth[0]) {
		fprintf(stderr, "api: could not start %s (url=%s)\n", bin, b.url);
		return 1;
	}

	pthread_create(&wt, NULL, watch_worker, &wc);
	usleep(200 * 1000); /* let the watch register before the first create */
	t0 = now_s();
	for (i = 0; i < b.threads; i++)
		pthread_create(&th[i], NULL, create_worker, &b);
	for (i = 0; i < b.threads; i++)
		pthread_join(th[i], NULL);
	create_s = now_s() - t0;
	printf("create: %ld objects in %.2f s (%ld failed), %d clients\n", b.n, create_s, b.failed,
	       b.threads);
	pthread_join(wt, NULL);
	printf("watch: %ld ADDED events, last %.2f s after the first create\n", wc.added,
	       wc.done_at > 0 ? wc.done_at - t0 : -1.0);

	list_s = list_all(&b, &list_bytes);
	printf("list all: %zu bytes in %.0f ms\n", list_bytes, list_s * 1000);
	paged_items = list_paged(&b, &paged_s);
	printf("list pages of 500: %ld items in %.0f ms\n", paged_items, paged_s * 1000);
	rss = peak_rss_kib(pid);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	curl_global_cleanup();
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "api: could not remove %s\n", dir);
	}
	printf("api: create_per_s=%.0f list_all_ms=%.0f rss_mib=%ld\n", (double)b.n / create_s,
	       list_s * 1000, rss / 1024);
	return b.failed == 0 && paged_items == b.n ? 0 : 1;
}
