/*
 * bench/api — the API's throughput and memory, measured against a real
 * vimaged over HTTP (not run in CI; `make bench`).
 *
 * Starts build/vimaged on a free loopback port with a fresh data dir, then:
 * creates N VirtualImages (in Namespace "bench", made first) with T
 * keep-alive clients while one watch counts the ADDED events, lists them
 * all in one LIST and in pages of 500, and reads vimaged's peak RSS
 * (VmHWM).  The last line is
 *   api: create_per_s=N list_all_ms=N rss_mib=N
 * Targets (issue 3): create >= 2,000/s, LIST all <= 2 s, RSS <= 300 MiB.
 *
 * --store etcd: the same against vimaged --store etcd, with a one-member
 * etcd (/usr/bin/etcd, or --etcd PATH) started on two free loopback ports,
 * its data on /dev/shm when there is one (else a temp dir: it says which).
 * The last line is then
 *   api-etcd: create_per_s=N list_all_ms=N rss_mib=N
 * Targets (issue 16): create >= 1,500/s, LIST all <= 3 s, RSS <= 300 MiB.
 */
#include <curl/curl.h>
#include <jansson.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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

	/* bounded: a run whose creates fail must still end */
	snprintf(url, sizeof(url),
	         "%s" GROUP_PATH "/namespaces/bench/virtualimages?watch=true&timeoutSeconds=%ld",
	         w->b->url, 60 + w->b->n / 200);
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

/* The Namespace the images go in: kube's NamespaceLifecycle admission
 * refuses a create in one that does not exist.  201, or 409 (there). */
static bool make_namespace(const struct bench *b)
{
	struct curl_slist *hdrs;
	CURL *c = client(b, &hdrs);
	char url[256];
	size_t got = 0;
	long code = 0;

	snprintf(url, sizeof(url), "%s/api/v1/namespaces", b->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS,
	                 "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\","
	                 "\"metadata\":{\"name\":\"bench\"}}");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &got);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	return code == 201 || code == 409;
}

/* A loopback port nobody listens on right now (bound, read, closed). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A one-member etcd on loopback, data in dir, its log in dir/etcd.log;
 * waits (20 s at most) until /health says so.  url gets its client URL. */
static pid_t start_etcd(const char *bin, const char *dir, char *url, size_t cap)
{
	int cport = free_port(), pport = free_port(), i;
	char data[600], log[600], curls[64], purls[64], cluster[96];
	pid_t pid;

	if (cport < 0 || pport < 0)
		return -1;
	snprintf(data, sizeof(data), "%s/etcd", dir);
	snprintf(log, sizeof(log), "%s/etcd.log", dir);
	snprintf(curls, sizeof(curls), "http://127.0.0.1:%d", cport);
	snprintf(purls, sizeof(purls), "http://127.0.0.1:%d", pport);
	snprintf(cluster, sizeof(cluster), "bench=%s", purls);
	snprintf(url, cap, "%s", curls);
	pid = fork();
	if (pid == 0) {
		FILE *f = freopen(log, "w", stderr);
		(void)f;
		dup2(2, 1);
		execl(bin, bin, "--name", "bench", "--data-dir", data, "--listen-client-urls",
		      curls, "--advertise-client-urls", curls, "--listen-peer-urls", purls,
		      "--initial-advertise-peer-urls", purls, "--initial-cluster", cluster,
		      "--quota-backend-bytes", "8589934592", (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	for (i = 0; i < 200; i++) {
		CURL *c = curl_easy_init();
		char health[128];
		struct page pg = {0};
		bool ok;

		snprintf(health, sizeof(health), "%s/health", curls);
		curl_easy_setopt(c, CURLOPT_URL, health);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, page_sink);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &pg);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 1L);
		ok = curl_easy_perform(c) == CURLE_OK && pg.buf && strstr(pg.buf, "true");
		curl_easy_cleanup(c);
		free(pg.buf);
		if (ok)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1; /* it exited: its log says why */
		usleep(100 * 1000);
	}
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Starts vimaged and reads its "listening on" line for the URL; etcd:
 * its client URL for --store etcd, or NULL for SQLite. */
static pid_t start_vimaged(const char *bin, const char *dir, const char *etcd, struct bench *b)
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
		if (etcd)
			execl(bin, bin, "--data-dir", dir, "--listen", "127.0.0.1:0", "--store",
			      "etcd", "--etcd-endpoints", etcd, (char *)NULL);
		else
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
	const char *bin = "build/vimaged", *etcd_bin = "/usr/bin/etcd";
	char dir[] = "/tmp/vimage-bench.XXXXXX", edir[64], etcd_url[64], cmd[200];
	struct stat st;
	bool etcd = false;
	pid_t etcd_pid = -1;
	struct watch_count wc = {.b = &b};
	pthread_t th[64], wt;
	double t0, create_s, list_s, paged_s;
	size_t list_bytes;
	long paged_items, rss;
	pid_t pid;
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0); /* each phase's line as it ends */
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
		} else if (strcmp(argv[i], "--vimaged") == 0) {
			bin = argv[i + 1];
		} else if (strcmp(argv[i], "--etcd") == 0) {
			etcd_bin = argv[i + 1];
		} else if (strcmp(argv[i], "--store") == 0) {
			etcd = strcmp(argv[i + 1], "etcd") == 0;
			if (!etcd && strcmp(argv[i + 1], "sqlite") != 0)
				b.n = 0;
		} else {
			b.n = 0;
		}
	}
	if (b.threads < 1 || b.threads > 64 || b.n < 1 || i != argc) {
		fprintf(stderr, "usage: api [--n N] [--threads 1..64] [--vimaged PATH] "
		                "[--store sqlite|etcd] [--etcd PATH]\n");
		return 2;
	}
	if (!mkdtemp(dir)) {
		fprintf(stderr, "api: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (etcd) {
		/* tmpfs takes etcd's fsyncs out of the figure; a disk keeps them */
		bool shm = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode);
		snprintf(edir, sizeof(edir), "%s/vimage-bench-etcd.XXXXXX",
		         shm ? "/dev/shm" : "/tmp");
		if (!mkdtemp(edir)) {
			fprintf(stderr, "api: mkdtemp %s: %s\n", edir, strerror(errno));
			return 1;
		}
		printf("etcd: data on %s (%s)\n", shm ? "tmpfs" : "disk", edir);
		etcd_pid = start_etcd(etcd_bin, edir, etcd_url, sizeof(etcd_url));
		if (etcd_pid < 0) {
			fprintf(stderr, "api: could not start %s (see %s/etcd.log)\n", etcd_bin,
			        edir);
			return 1;
		}
		printf("etcd: %s\n", etcd_url);
	}
	pid = start_vimaged(bin, dir, etcd ? etcd_url : NULL, &b);
	if (pid < 0 || !b.url[0] || !b.auth[0] || !make_namespace(&b)) {
		fprintf(stderr, "api: could not start %s (url=%s)\n", bin, b.url);
		if (pid > 0)
			kill(pid, SIGTERM);
		if (etcd_pid > 0)
			kill(etcd_pid, SIGTERM);
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
	if (etcd_pid > 0) {
		kill(etcd_pid, SIGTERM);
		waitpid(etcd_pid, NULL, 0);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", edir);
		if (system(cmd) != 0)
			fprintf(stderr, "api: could not remove %s\n", edir);
	}
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "api: could not remove %s\n", dir);
	printf("%s: create_per_s=%.0f list_all_ms=%.0f rss_mib=%ld\n", etcd ? "api-etcd" : "api",
	       (double)b.n / create_s, list_s * 1000, rss / 1024);
	return b.failed == 0 && paged_items == b.n ? 0 : 1;
}
