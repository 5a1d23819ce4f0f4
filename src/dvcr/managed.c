/*
 * dvcr/managed — start, supervise and stop vimaged's own docker-registry.
 * See managed.h for the contract.
 */
#define _GNU_SOURCE /* close_range */
#include "dvcr/managed.h"
#include "core/cond.h"
#include "core/log.h"
#include "core/sysutil.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <crypt.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MANAGED_USER "vimage"
#define READY_TIMEOUT_MS 15000
#define STOP_GRACE_MS 10000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define STABLE_RUN_MS 60000 /* a run this long resets the backoff */

struct dvcr_managed {
	char *dir, *binary, *notify_url, *notify_token;
	char config[4096], log[4096];
	char url[64], password[65];
	int port;
	long log_offset; /* size of the log before this start */

	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool thread_started;
	bool stopping;
	pid_t pid;       /* the running registry, -1 when none */
	int spawns;      /* how many times it was started */
	int spawn_errno; /* fork failure of the last attempt */
	bool exited;     /* the last child was reaped */
	int last_status;
};

/* First line of DIR/name into out; "" when the file does not exist. */
static void read_line(const char *dir, const char *name, char *out, size_t len)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	vim_file_first_line(path, out, len);
}

/* Binds 127.0.0.1:want (0 = any) to learn a free port. */
static int free_port(int want)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)want)};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	int one = 1;

	if (fd < 0)
		return -1;
	/* as the registry binds (Go sets it): old connections in TIME_WAIT
	 * must not move the registry to another port */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static int find_binary(struct dvcr_managed *m, const char *given, struct vim_err *err)
{
	const char *path = getenv("PATH");
	char cand[4096];

	if (given) {
		if (access(given, X_OK) != 0)
			return vim_err_set(err, VIM_EINVAL, "dvcr: %s is not an executable", given);
		return (m->binary = strdup(given)) ? 0 : VIM_ENOMEM;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(cand, sizeof(cand), "%.*s/docker-registry", (int)n, n ? path : ".");
		if (access(cand, X_OK) == 0)
			return (m->binary = strdup(cand)) ? 0 : VIM_ENOMEM;
		path += n + (path[n] == ':');
	}
	return vim_err_set(err, VIM_EINVAL,
	                   "dvcr: docker-registry is not on PATH (Debian package docker-registry); "
	                   "install it or give --dvcr-url");
}

/* The password persists; the htpasswd entry is made again from it.  The
 * registry checks bcrypt on every request, so the cost is the minimum (4):
 * the password is 128 random bits, which no cost factor needs to protect. */
static int write_credentials(struct dvcr_managed *m, struct vim_err *err)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], line[512], path[4200];
	struct crypt_data cd;
	int rc;

	read_line(m->dir, "password", m->password, sizeof(m->password));
	if (strlen(m->password) < 32) {
		if ((rc = vim_random_hex(m->password, 16, err)) < 0)
			return rc;
		snprintf(path, sizeof(path), "%s/password", m->dir);
		snprintf(line, sizeof(line), "%s\n", m->password);
		if ((rc = vim_file_replace(path, line, 0600, err)) < 0)
			return rc;
	}
	memset(&cd, 0, sizeof(cd));
	if (!crypt_gensalt_rn("$2b$", 4, NULL, 0, salt, sizeof(salt)) ||
	    !crypt_rn(m->password, salt, &cd, sizeof(cd)) || cd.output[0] == '*')
		return vim_err_set(err, VIM_EINTERNAL, "dvcr: bcrypt is not available: %s",
		                   strerror(errno));
	snprintf(line, sizeof(line), "%s:%s\n", MANAGED_USER, cd.output);
	snprintf(path, sizeof(path), "%s/htpasswd", m->dir);
	return vim_file_replace(path, line, 0600, err);
}

static int write_config(struct dvcr_managed *m, struct vim_err *err)
{
	char text[8192], notify[2048] = "", secret[33], portline[32], path[4200];
	int rc, n;

	if ((rc = vim_random_hex(secret, 16, err)) < 0)
		return rc;
	if (m->notify_url) {
		/* pulls are every presence check's HEAD: they would flood vimaged */
		snprintf(notify, sizeof(notify),
		         "notifications:\n"
		         "  endpoints:\n"
		         "    - name: vimaged\n"
		         "      url: %s\n"
		         "      headers:\n"
		         "        Authorization: [\"Bearer %s\"]\n"
		         "      timeout: 5s\n"
		         "      threshold: 10\n"
		         "      backoff: 1s\n"
		         "      ignore:\n"
		         "        actions: [pull]\n",
		         m->notify_url, m->notify_token ? m->notify_token : "");
	}
	/* no storage.cache: a blob descriptor cache hides lost data */
	n = snprintf(text, sizeof(text),
	             "# written by vimaged at every start; edits are lost\n"
	             "version: 0.1\n"
	             "log:\n"
	             "  level: warn\n"
	             "  accesslog:\n"
	             "    disabled: true\n"
	             "storage:\n"
	             "  filesystem:\n"
	             "    rootdirectory: %s/storage\n"
	             "  delete:\n"
	             "    enabled: true\n"
	             "  maintenance:\n"
	             "    uploadpurging:\n"
	             "      enabled: true\n"
	             "      age: 168h\n"
	             "      interval: 24h\n"
	             "      dryrun: false\n"
	             "auth:\n"
	             "  htpasswd:\n"
	             "    realm: vimage-dvcr\n"
	             "    path: %s/htpasswd\n"
	             "http:\n"
	             "  addr: 127.0.0.1:%d\n"
	             "  secret: %s\n"
	             "%s",
	             m->dir, m->dir, m->port, secret, notify);
	if (n < 0 || (size_t)n >= sizeof(text))
		return vim_err_set(err, VIM_EINVAL, "dvcr: the registry configuration is too long");
	if ((rc = vim_file_replace(m->config, text, 0600, err)) < 0)
		return rc;
	snprintf(portline, sizeof(portline), "%d\n", m->port);
	snprintf(path, sizeof(path), "%s/port", m->dir);
	return vim_file_replace(path, portline, 0644, err);
}

/* Called with mu held, from the supervisor thread: PR_SET_PDEATHSIG
 * follows the thread that forks, and that thread lives as long as the
 * child. */
static void spawn_locked(struct dvcr_managed *m)
{
	char *argv[] = {m->binary, "serve", m->config, NULL};
	pid_t parent = getpid();
	int logfd, devnull;
	pid_t pid;

	logfd = open(m->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		sigset_t none;
		/* only async-signal-safe calls until exec */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(127);
		/* its own process group: a terminal's Ctrl-C reaches vimaged,
		 * which stops the registry after the imports, not before */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (devnull >= 0)
			dup2(devnull, 0);
		if (logfd >= 0) {
			dup2(logfd, 1);
			dup2(logfd, 2);
		}
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	if (logfd >= 0)
		close(logfd);
	if (devnull >= 0)
		close(devnull);
	m->spawn_errno = pid < 0 ? errno : 0;
	m->pid = pid > 0 ? pid : -1;
	m->exited = false;
	m->spawns++;
	pthread_cond_broadcast(&m->cv);
}

static void wait_ms_locked(struct dvcr_managed *m, int64_t ms)
{
	vim_cond_wait_until(&m->cv, &m->mu, vim_deadline_ms(ms));
}

static void *supervise(void *arg)
{
	struct dvcr_managed *m = arg;
	int64_t backoff = BACKOFF_MIN_MS, started;
	int status;

	pthread_mutex_lock(&m->mu);
	while (!m->stopping) {
		spawn_locked(m);
		if (m->pid < 0) {
			vim_log(VIM_LOG_ERROR, "dvcr: cannot start %s: %s", m->binary,
			        strerror(m->spawn_errno));
		} else {
			pid_t pid = m->pid;
			started = vim_mono_ms();
			pthread_mutex_unlock(&m->mu);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			pthread_mutex_lock(&m->mu);
			m->pid = -1;
			m->exited = true;
			m->last_status = status;
			pthread_cond_broadcast(&m->cv);
			if (m->stopping)
				break;
			if (vim_mono_ms() - started >= STABLE_RUN_MS)
				backoff = BACKOFF_MIN_MS;
			if (WIFSIGNALED(status))
				vim_log(VIM_LOG_WARN,
				        "dvcr: docker-registry was killed by signal %d; restarting "
				        "in %lld ms (log: %s)",
				        WTERMSIG(status), (long long)backoff, m->log);
			else
				vim_log(
				    VIM_LOG_WARN,
				    "dvcr: docker-registry exited with status %d; restarting in "
				    "%lld ms (log: %s)",
				    WEXITSTATUS(status), (long long)backoff, m->log);
		}
		wait_ms_locked(m, backoff);
		backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* The first line the registry wrote in this run (from offset on): its
 * reason to stop (a Go panic's first line says it, its last does not). */
static void log_line_from(const char *path, long offset, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	char buf[512];
	size_t n;

	out[0] = '\0';
	if (!f)
		return;
	if (fseek(f, offset, SEEK_SET) == 0 && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\r\n")] = '\0';
		n = strlen(buf) < len ? strlen(buf) : len - 1;
		memcpy(out, buf, n);
		out[n] = '\0';
	}
	fclose(f);
}

/* GET /v2/ answers (401 without credentials is an answer). */
static bool answers(const char *url)
{
	char v2[96];
	long code = 0;
	CURL *h = curl_easy_init();

	if (!h)
		return false;
	snprintf(v2, sizeof(v2), "%s/v2/", url);
	curl_easy_setopt(h, CURLOPT_URL, v2);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code == 200 || code == 401;
}

/* Waits for the first registry to answer; fails if it keeps exiting. */
static int wait_ready(struct dvcr_managed *m, struct vim_err *err)
{
	int64_t deadline = vim_mono_ms() + READY_TIMEOUT_MS;
	char tail[300];

	while (vim_mono_ms() < deadline) {
		bool died;
		if (answers(m->url))
			return 0;
		pthread_mutex_lock(&m->mu);
		died = m->exited && m->spawns >= 1;
		pthread_mutex_unlock(&m->mu);
		if (died)
			break;
		usleep(50 * 1000);
	}
	log_line_from(m->log, m->log_offset, tail, sizeof(tail));
	return vim_err_set(err, VIM_EUPSTREAM,
	                   "dvcr: docker-registry on %s did not start (see %s%s%s)", m->url, m->log,
	                   tail[0] ? ": " : "", tail);
}

int dvcr_managed_start(struct dvcr_managed **out, const struct dvcr_managed_config *cfg,
                       struct vim_err *err)
{
	struct dvcr_managed *m;
	char portline[32], storage[4200], *end;
	int rc, port;

	*out = NULL;
	if (!(m = calloc(1, sizeof(*m))))
		return vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
	m->pid = -1;
	pthread_mutex_init(&m->mu, NULL);
	vim_cond_init(&m->cv);
	if (!(m->dir = strdup(cfg->dir)) ||
	    (cfg->notify_url && !(m->notify_url = strdup(cfg->notify_url))) ||
	    (cfg->notify_token && !(m->notify_token = strdup(cfg->notify_token)))) {
		rc = vim_err_set(err, VIM_ENOMEM, "dvcr: out of memory");
		goto fail;
	}
	snprintf(storage, sizeof(storage), "%s/storage", m->dir);
	if ((mkdir(m->dir, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(storage, 0700) != 0 && errno != EEXIST)) {
		rc = vim_err_set(err, VIM_EIO, "dvcr: cannot create %s: %s", storage,
		                 strerror(errno));
		goto fail;
	}
	if ((rc = find_binary(m, cfg->binary, err)) < 0)
		goto fail;
	snprintf(m->config, sizeof(m->config), "%s/config.yml", m->dir);
	snprintf(m->log, sizeof(m->log), "%s/registry.log", m->dir);
	/* the port registryURLs name: the same one as last time if free */
	read_line(m->dir, "port", portline, sizeof(portline));
	port = (int)strtol(portline, &end, 10);
	if (end == portline || *end) /* absent or not a number: any free port */
		port = 0;
	if (port <= 0 || port > 65535 || (m->port = free_port(port)) < 0)
		m->port = free_port(0);
	if (m->port < 0) {
		rc = vim_err_set(err, VIM_EIO, "dvcr: no free loopback port: %s", strerror(errno));
		goto fail;
	}
	if (port > 0 && m->port != port)
		vim_log(VIM_LOG_WARN,
		        "dvcr: port %d is taken; the registry moves to %d (registryURLs of "
		        "existing images still name %d)",
		        port, m->port, port);
	snprintf(m->url, sizeof(m->url), "http://127.0.0.1:%d", m->port);
	if ((rc = write_credentials(m, err)) < 0 || (rc = write_config(m, err)) < 0)
		goto fail;
	{
		struct stat st;
		m->log_offset = stat(m->log, &st) == 0 ? (long)st.st_size : 0;
	}
	if (pthread_create(&m->thread, NULL, supervise, m) != 0) {
		rc = vim_err_set(err, VIM_EIO, "dvcr: cannot start the supervisor thread");
		goto fail;
	}
	m->thread_started = true;
	if ((rc = wait_ready(m, err)) < 0)
		goto fail;
	vim_log(VIM_LOG_INFO, "dvcr: docker-registry on %s, storage %s, log %s", m->url, storage,
	        m->log);
	*out = m;
	return 0;
fail:
	dvcr_managed_stop(m);
	return rc;
}

const char *dvcr_managed_url(const struct dvcr_managed *m)
{
	return m->url;
}

const char *dvcr_managed_username(const struct dvcr_managed *m)
{
	(void)m;
	return MANAGED_USER;
}

const char *dvcr_managed_password(const struct dvcr_managed *m)
{
	return m->password;
}

void dvcr_managed_stop(struct dvcr_managed *m)
{
	int64_t deadline;

	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_cond_broadcast(&m->cv);
	if (m->pid > 0)
		kill(m->pid, SIGTERM);
	deadline = vim_mono_ms() + STOP_GRACE_MS;
	while (m->pid > 0 && vim_mono_ms() < deadline)
		wait_ms_locked(m, 100);
	if (m->pid > 0) {
		vim_log(VIM_LOG_WARN, "dvcr: docker-registry ignored SIGTERM; killing it");
		kill(m->pid, SIGKILL);
	}
	pthread_mutex_unlock(&m->mu);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	free(m->dir);
	free(m->binary);
	free(m->notify_url);
	free(m->notify_token);
	free(m);
}
