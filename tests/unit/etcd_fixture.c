/* tests/unit/etcd_fixture — see etcd_fixture.h. */
#include "etcd_fixture.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FX_MAX 3
#define FX_HEALTH_MS 10000

struct etcd_fx {
	struct etcd_fx *next_live; /* every fx not yet stopped: stopped at exit */
	int n;
	bool tls;
	char dir[128];
	char ep[FX_MAX][64];
	char endpoints[FX_MAX * 64];
	int client_port[FX_MAX], peer_port[FX_MAX];
	pid_t pid[FX_MAX];
	char cluster[FX_MAX * 64];
	char ca[160], cert[160], key[160];
};

/* A test that fails an assertion leaves by longjmp, past its own
 * etcd_fx_stop: whatever is still running at exit is stopped here, so no
 * member and no data dir outlives the test process. */
static struct etcd_fx *live;
static bool live_hooked;

static void stop_live(void)
{
	while (live)
		etcd_fx_stop(live);
}

static void live_add(struct etcd_fx *fx)
{
	if (!live_hooked && atexit(stop_live) == 0)
		live_hooked = true;
	fx->next_live = live;
	live = fx;
}

static void live_remove(struct etcd_fx *fx)
{
	for (struct etcd_fx **p = &live; *p; p = &(*p)->next_live)
		if (*p == fx) {
			*p = fx->next_live;
			break;
		}
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A loopback port nobody listens on right now (the kernel's pick). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	struct {
		char b[1024];
		size_t len;
	} *s = arg;
	size_t k = size * n, room = sizeof(s->b) - 1 - s->len;

	memcpy(s->b + s->len, p, k < room ? k : room);
	s->len += k < room ? k : room;
	s->b[s->len] = '\0';
	return k;
}

/* One request to member i: GET when body is NULL.  The HTTP status, or
 * -1 when the member did not answer; what it said into out. */
static long fx_http(struct etcd_fx *fx, int i, const char *path, const char *body, char *out,
                    size_t cap, long timeout_ms)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
	struct {
		char b[1024];
		size_t len;
	} s = {.len = 0};
	char url[256];
	long code = -1;

	s.b[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", fx->ep[i], path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	if (fx->tls) {
		curl_easy_setopt(h, CURLOPT_CAINFO, fx->ca);
		curl_easy_setopt(h, CURLOPT_SSLCERT, fx->cert);
		curl_easy_setopt(h, CURLOPT_SSLKEY, fx->key);
	}
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (out)
		snprintf(out, cap, "%s", s.b);
	curl_slist_free_all(hd);
	curl_easy_cleanup(h);
	return code;
}

int etcd_fx_post(struct etcd_fx *fx, int i, const char *path, const char *body)
{
	char said[256];
	long code = fx_http(fx, i, path, body, said, sizeof(said), 5000);

	if (code != 200)
		fprintf(stderr, "etcd_fx: POST %s%s: HTTP %ld: %s\n", fx->ep[i], path, code, said);
	return code == 200 ? 0 : -1;
}

int etcd_fx_ask(struct etcd_fx *fx, int i, const char *path, const char *body, char *out,
                size_t cap)
{
	long code = fx_http(fx, i, path, body, out, cap, 5000);

	if (code != 200)
		fprintf(stderr, "etcd_fx: POST %s%s: HTTP %ld: %s\n", fx->ep[i], path, code, out);
	return code == 200 ? 0 : -1;
}

/* The first "key":"digits" after key in s, as a number (0 when absent). */
static unsigned long long json_num(const char *s, const char *key)
{
	const char *p = strstr(s, key);

	p = p ? strchr(p + strlen(key), '"') : NULL;
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

int etcd_fx_leader(struct etcd_fx *fx)
{
	for (int i = 0; i < fx->n; i++) {
		char said[1024];

		if (fx->pid[i] > 0 &&
		    fx_http(fx, i, "/v3/maintenance/status", "{}", said, sizeof(said), 2000) ==
		        200 &&
		    json_num(said, "\"member_id\":") != 0 &&
		    json_num(said, "\"member_id\":") == json_num(said, "\"leader\":"))
			return i;
	}
	return -1;
}

static bool healthy(struct etcd_fx *fx, int i)
{
	char said[256];

	return fx_http(fx, i, "/health", NULL, said, sizeof(said), 1000) == 200 &&
	       strstr(said, "\"true\"") != NULL;
}

static int spawn(struct etcd_fx *fx, int i)
{
	char name[16], data[200], log[200], curl[80], purl[80], scert[200], skey[200];
	pid_t pid;

	snprintf(scert, sizeof(scert), "%s/server.crt", fx->dir);
	snprintf(skey, sizeof(skey), "%s/server.key", fx->dir);

	snprintf(name, sizeof(name), "m%d", i);
	snprintf(data, sizeof(data), "%s/%s", fx->dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", fx->dir, name);
	snprintf(curl, sizeof(curl), "%s://127.0.0.1:%d", fx->tls ? "https" : "http",
	         fx->client_port[i]);
	snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", fx->peer_port[i]);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		const char *argv[32];
		int n = 0, fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		/* never outlive the test, whatever kills it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		argv[n++] = "/usr/bin/etcd";
		argv[n++] = "--name";
		argv[n++] = name;
		argv[n++] = "--data-dir";
		argv[n++] = data;
		argv[n++] = "--listen-client-urls";
		argv[n++] = curl;
		argv[n++] = "--advertise-client-urls";
		argv[n++] = curl;
		argv[n++] = "--listen-peer-urls";
		argv[n++] = purl;
		argv[n++] = "--initial-advertise-peer-urls";
		argv[n++] = purl;
		argv[n++] = "--initial-cluster";
		argv[n++] = fx->cluster;
		argv[n++] = "--initial-cluster-token";
		argv[n++] = fx->dir; /* unique: members of another test never join */
		if (fx->tls) {
			argv[n++] = "--cert-file";
			argv[n++] = scert;
			argv[n++] = "--key-file";
			argv[n++] = skey;
			argv[n++] = "--trusted-ca-file";
			argv[n++] = fx->ca;
			argv[n++] = "--client-cert-auth";
		}
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	fx->pid[i] = pid;
	return 0;
}

static int wait_healthy(struct etcd_fx *fx, int i)
{
	long long end = now_ms() + FX_HEALTH_MS;

	while (now_ms() < end) {
		int st;

		if (waitpid(fx->pid[i], &st, WNOHANG) == fx->pid[i]) {
			fprintf(stderr,
			        "etcd_fx: member %d exited (status %d); log in %s/m%d.log\n", i, st,
			        fx->dir, i);
			fx->pid[i] = 0;
			return -1;
		}
		if (healthy(fx, i))
			return 0;
		usleep(50 * 1000);
	}
	fprintf(stderr, "etcd_fx: member %d not healthy in %d ms; log in %s/m%d.log\n", i,
	        FX_HEALTH_MS, fx->dir, i);
	return -1;
}

/* CA, server (IP 127.0.0.1) and client certificates, with the openssl CLI.
 * The server's is for clientAuth too: with --client-cert-auth, etcd 3.4's
 * JSON gateway dials etcd's own gRPC port with the server certificate as
 * its client certificate, and a serverAuth-only one gets every gateway
 * request a 503 "connection closed". */
static int make_certs(struct etcd_fx *fx)
{
	char cmd[2048];

	snprintf(fx->ca, sizeof(fx->ca), "%s/ca.crt", fx->dir);
	snprintf(fx->cert, sizeof(fx->cert), "%s/client.crt", fx->dir);
	snprintf(fx->key, sizeof(fx->key), "%s/client.key", fx->dir);
	snprintf(cmd, sizeof(cmd),
	         "cd %s && (K='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes' && "
	         "openssl req -x509 $K -keyout ca.key -out ca.crt -days 2 -subj /CN=fx-ca && "
	         "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth\\n' "
	         ">srv.ext && "
	         "printf 'extendedKeyUsage=clientAuth\\n' >cli.ext && "
	         "openssl req $K -keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	         "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	         "-days 2 -extfile srv.ext -out server.crt && "
	         "openssl req $K -keyout client.key -out client.csr -subj /CN=fx-client && "
	         "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	         "-days 2 -extfile cli.ext -out client.crt) >openssl.log 2>&1",
	         fx->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "etcd_fx: openssl failed in %s\n", fx->dir);
		return -1;
	}
	return 0;
}

static void kill_all(struct etcd_fx *fx)
{
	for (int i = 0; i < fx->n; i++)
		if (fx->pid[i] > 0) {
			kill(fx->pid[i], SIGKILL);
			waitpid(fx->pid[i], NULL, 0);
			fx->pid[i] = 0;
		}
}

/* One try with freshly picked ports: another process may take a port
 * between the pick and etcd's bind. */
static int start_once(struct etcd_fx *fx)
{
	size_t off = 0, eoff = 0;

	for (int i = 0; i < fx->n; i++) {
		fx->client_port[i] = free_port();
		fx->peer_port[i] = free_port();
		if (fx->client_port[i] < 0 || fx->peer_port[i] < 0)
			return -1;
		snprintf(fx->ep[i], sizeof(fx->ep[i]), "%s://127.0.0.1:%d",
		         fx->tls ? "https" : "http", fx->client_port[i]);
		off += (size_t)snprintf(fx->cluster + off, sizeof(fx->cluster) - off,
		                        "%sm%d=http://127.0.0.1:%d", i ? "," : "", i,
		                        fx->peer_port[i]);
		eoff += (size_t)snprintf(fx->endpoints + eoff, sizeof(fx->endpoints) - eoff, "%s%s",
		                         i ? "," : "", fx->ep[i]);
	}
	for (int i = 0; i < fx->n; i++)
		if (spawn(fx, i) < 0)
			return -1;
	for (int i = 0; i < fx->n; i++)
		if (wait_healthy(fx, i) < 0)
			return -1;
	return 0;
}

int etcd_fx_start(struct etcd_fx **out, const struct etcd_fx_opts *o)
{
	struct etcd_fx *fx = calloc(1, sizeof(*fx));
	struct stat st;
	int rc = -1;

	*out = NULL;
	if (!fx)
		return -1;
	fx->n = o && o->members > 1 ? (o->members > FX_MAX ? FX_MAX : o->members) : 1;
	fx->tls = o && o->tls;
	snprintf(fx->dir, sizeof(fx->dir), "%s/vimage-etcd.XXXXXX",
	         stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp");
	if (!mkdtemp(fx->dir)) {
		fprintf(stderr, "etcd_fx: mkdtemp %s: %s\n", fx->dir, strerror(errno));
		free(fx);
		return -1;
	}
	live_add(fx);
	if (fx->tls && make_certs(fx) < 0)
		goto out;
	for (int attempt = 0; attempt < 3 && rc < 0; attempt++) {
		char cmd[512];

		rc = start_once(fx);
		if (rc < 0) {
			kill_all(fx);
			snprintf(cmd, sizeof(cmd), "rm -rf %s/m0 %s/m1 %s/m2", fx->dir, fx->dir,
			         fx->dir);
			if (system(cmd) != 0)
				break;
		}
	}
out:
	if (rc < 0) {
		etcd_fx_stop(fx);
		return -1;
	}
	*out = fx;
	return 0;
}

void etcd_fx_stop(struct etcd_fx *fx)
{
	char cmd[192];

	if (!fx)
		return;
	live_remove(fx);
	for (int i = 0; i < fx->n; i++)
		if (fx->pid[i] > 0) {
			kill(fx->pid[i], SIGCONT);
			kill(fx->pid[i], SIGTERM);
		}
	for (int i = 0; i < fx->n; i++) {
		long long end = now_ms() + 5000;

		while (fx->pid[i] > 0 && waitpid(fx->pid[i], NULL, WNOHANG) == 0) {
			if (now_ms() > end) {
				kill(fx->pid[i], SIGKILL);
				waitpid(fx->pid[i], NULL, 0);
				break;
			}
			usleep(20 * 1000);
		}
		fx->pid[i] = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "etcd_fx: could not remove %s\n", fx->dir);
	free(fx);
}

const char *etcd_fx_endpoints(const struct etcd_fx *fx)
{
	return fx->endpoints;
}

const char *etcd_fx_endpoint(const struct etcd_fx *fx, int i)
{
	return fx->ep[i];
}

const char *etcd_fx_file(const struct etcd_fx *fx, const char *which)
{
	if (!fx->tls)
		return NULL;
	if (strcmp(which, "ca") == 0)
		return fx->ca;
	return strcmp(which, "cert") == 0 ? fx->cert : fx->key;
}

int etcd_fx_kill(struct etcd_fx *fx, int i)
{
	if (fx->pid[i] <= 0)
		return -1;
	kill(fx->pid[i], SIGKILL);
	waitpid(fx->pid[i], NULL, 0);
	fx->pid[i] = 0;
	return 0;
}

int etcd_fx_restart(struct etcd_fx *fx, int i)
{
	if (fx->pid[i] > 0 || spawn(fx, i) < 0)
		return -1;
	return wait_healthy(fx, i);
}

/* The state letter of /proc/<pid>/stat ('T' once stopped). */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* after "pid (comm)" */
	return p && p[1] == ' ' ? p[2] : '?';
}

int etcd_fx_pause(struct etcd_fx *fx, int i)
{
	long long end = now_ms() + 2000;

	if (fx->pid[i] <= 0 || kill(fx->pid[i], SIGSTOP) != 0)
		return -1;
	/* the signal is delivered asynchronously: a request sent right after
	 * kill() could still be answered */
	while (proc_state(fx->pid[i]) != 'T' && now_ms() < end)
		usleep(1000);
	return proc_state(fx->pid[i]) == 'T' ? 0 : -1;
}

int etcd_fx_resume(struct etcd_fx *fx, int i)
{
	return fx->pid[i] > 0 ? kill(fx->pid[i], SIGCONT) : -1;
}

static struct etcd_fx *shared;

struct etcd_fx *etcd_fx_shared(void)
{
	/* stopped at exit with every other live one */
	if (!shared && etcd_fx_start(&shared, NULL) != 0)
		shared = NULL;
	return shared;
}

void etcd_fx_prefix(char *out, size_t cap, const char *tag)
{
	static unsigned n;

	snprintf(out, cap, "/t%ld-%u-%s", (long)getpid(), ++n, tag);
}
