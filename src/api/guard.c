/*
 * api/guard — the request-header deadline (see guard.h for why).
 *
 * Every connection is one node of a list from MHD's "started" notification
 * to its "closed" one.  A reaper thread scans the list a few times per
 * deadline and shuts down (shutdown(2), not close(2)) the socket of a node
 * past its deadline; MHD's own thread then sees the end of the stream and
 * cleans up as for a client that hung up.  The descriptor cannot be reused
 * under the reaper: MHD closes it only after the "closed" notification
 * returns, and that notification takes the same lock as the scan.
 */
#include "api/guard.h"
#include "core/cond.h"
#include "core/log.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

struct guard_conn {
	struct guard_conn *prev, *next;
	int fd;
	int64_t deadline_ms; /* 0 = a request is answered or uploads: none */
	bool reaped;
};

struct api_guard {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t reaper;
	bool stop;
	int64_t header_ms, idle_ms;
	struct guard_conn *head;
};

/* For /metrics: every listener of the process together. */
static atomic_uint_fast64_t open_total, reaped_total;

/* Shuts down what is past its deadline; returns the number. */
static unsigned reap(struct api_guard *g, int64_t now)
{
	struct guard_conn *n;
	unsigned k = 0;

	for (n = g->head; n; n = n->next) {
		if (n->reaped || !n->deadline_ms || n->deadline_ms > now)
			continue;
		shutdown(n->fd, SHUT_RDWR);
		n->reaped = true;
		atomic_fetch_add(&reaped_total, 1);
		k++;
	}
	return k;
}

static void *reaper_main(void *arg)
{
	struct api_guard *g = arg;
	/* a few scans per deadline: a late socket goes within a quarter of it */
	int64_t step = g->header_ms / 4 < 1000 ? g->header_ms / 4 : 1000;
	unsigned k;

	if (step < 50)
		step = 50;
	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		vim_cond_wait_until(&g->cv, &g->mu, vim_deadline_ms(step));
		if (g->stop)
			break;
		if ((k = reap(g, vim_mono_ms())) > 0)
			vim_log(VIM_LOG_INFO,
			        "http: closed %u connection(s) whose request took over %lld ms to "
			        "arrive",
			        k, (long long)g->header_ms);
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

int api_guard_new(struct api_guard **out, int64_t header_ms, int64_t idle_ms, struct vim_err *err)
{
	struct api_guard *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (!g)
		return vim_err_set(err, VIM_ENOMEM, "api: out of memory");
	g->header_ms = header_ms > 0 ? header_ms : 30000;
	g->idle_ms = idle_ms > 0 ? idle_ms : 0;
	pthread_mutex_init(&g->mu, NULL);
	vim_cond_init(&g->cv);
	if (pthread_create(&g->reaper, NULL, reaper_main, g) != 0) {
		pthread_cond_destroy(&g->cv);
		pthread_mutex_destroy(&g->mu);
		free(g);
		return vim_err_set(err, VIM_EINTERNAL, "api: cannot start the connection reaper");
	}
	*out = g;
	return 0;
}

void api_guard_free(struct api_guard *g)
{
	struct guard_conn *n;

	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = true;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	pthread_join(g->reaper, NULL);
	while ((n = g->head)) { /* none after MHD_stop_daemon; be safe */
		g->head = n->next;
		free(n);
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
	struct api_guard *g = cls;
	struct guard_conn *n = *socket_context;
	const union MHD_ConnectionInfo *ci;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!ci || !(n = calloc(1, sizeof(*n))))
			return; /* untracked: only the idle timeout applies */
		n->fd = ci->connect_fd;
		pthread_mutex_lock(&g->mu);
		n->deadline_ms = vim_mono_ms() + g->header_ms;
		n->next = g->head;
		if (g->head)
			g->head->prev = n;
		g->head = n;
		atomic_fetch_add(&open_total, 1);
		pthread_mutex_unlock(&g->mu);
		*socket_context = n;
		return;
	}
	if (code != MHD_CONNECTION_NOTIFY_CLOSED || !n)
		return;
	pthread_mutex_lock(&g->mu);
	if (n->prev)
		n->prev->next = n->next;
	else
		g->head = n->next;
	if (n->next)
		n->next->prev = n->prev;
	atomic_fetch_sub(&open_total, 1);
	pthread_mutex_unlock(&g->mu);
	free(n);
	*socket_context = NULL;
}

static struct guard_conn *node_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

static void set_deadline(struct api_guard *g, struct MHD_Connection *c, int64_t after_ms)
{
	struct guard_conn *n = g ? node_of(c) : NULL;

	if (!n)
		return;
	pthread_mutex_lock(&g->mu);
	n->deadline_ms = after_ms ? vim_mono_ms() + after_ms : 0;
	pthread_mutex_unlock(&g->mu);
}

void api_guard_request_started(struct api_guard *g, struct MHD_Connection *c)
{
	if (g)
		set_deadline(g, c, g->header_ms);
}

void api_guard_request_received(struct api_guard *g, struct MHD_Connection *c)
{
	set_deadline(g, c, 0);
}

void api_guard_request_done(struct api_guard *g, struct MHD_Connection *c)
{
	/* A kept-alive connection may idle (MHD's timeout ends that), then
	 * its next request's headers have the usual time. */
	if (g)
		set_deadline(g, c, g->idle_ms + g->header_ms);
}

void api_guard_counts(uint64_t *open, uint64_t *reaped)
{
	*open = atomic_load(&open_total);
	*reaped = atomic_load(&reaped_total);
}
