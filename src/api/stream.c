/*
 * api/stream — streamed replies: a producer thread (LIST, WATCH) or a
 * download's writer fills a pipe that MHD reads on the connection's
 * thread, so a LIST of 100,000 objects or a layer of many GiB never sits
 * in memory, and a body that ends short is cut at the HTTP level instead
 * of passing for a whole one.
 */
#define _GNU_SOURCE /* pipe2 */
#include "api/server_internal.h"
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The idle timeout is for connections that wait for nothing: a WATCH
 * waits for events (its timeoutSeconds ends it, and its producer notices
 * a reader that went away), a transfer may pause for its peer. */
void api_conn_timeout(struct MHD_Connection *c, unsigned int seconds)
{
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

static bool is_watch(const struct api_req *r)
{
	const char *w = api_query(r, "watch");
	return (w && (strcmp(w, "true") == 0 || strcmp(w, "1") == 0)) ||
	       strstr(r->path, "/watch/") != NULL;
}

/* What a streamed reply's producer and its MHD reader share: the read
 * end of the pipe and the producer's verdict, which it sets before it
 * closes its end, so the reader knows at EOF whether the body is whole.
 * Freed by whichever of the two lets go last. */
struct api_stream {
	pthread_mutex_t mu;
	int refs;
	int fd;         /* read end */
	bool done;      /* the producer has returned */
	int rc;         /* its result: < 0 = the body is not complete */
	long long want; /* bytes the body must have (-1 = unknown) */
	long long got;
	struct vim_err err; /* why, when rc < 0 */
	char what[160];     /* "GET /apis/..." for the log */
};

void api_stream_unref(struct api_stream *st)
{
	bool last;

	pthread_mutex_lock(&st->mu);
	last = --st->refs == 0;
	pthread_mutex_unlock(&st->mu);
	if (!last)
		return;
	if (st->fd >= 0)
		close(st->fd);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

struct api_stream *api_stream_new(const struct api_req *r, int fd, int refs, long long want)
{
	struct api_stream *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->mu, NULL);
	st->refs = refs;
	st->fd = fd;
	st->want = want;
	snprintf(st->what, sizeof(st->what), "%s %s", r->method, r->path);
	return st;
}

/* MHD's reader (the connection's thread, which may block).  A body that
 * ends short — the producer failed, or fewer bytes than announced came —
 * ends with an error: MHD then closes the connection without the last
 * chunk, so the client sees a failed transfer, not a short 200. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct api_stream *st = cls;
	struct vim_err why = {0};
	ssize_t n;
	int rc;

	(void)pos;
	do
		n = read(st->fd, buf, max);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		st->got += n;
		return n;
	}
	if (n < 0) {
		vim_log(VIM_LOG_WARN, "http: %s: reply cut after %lld bytes: %s", st->what, st->got,
		        strerror(errno));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	/* EOF: a producer set its verdict before closing its end (a
	 * download's writer is no producer: rc stays 0) */
	pthread_mutex_lock(&st->mu);
	rc = st->rc;
	if (rc < 0)
		why = st->err;
	pthread_mutex_unlock(&st->mu);
	if (rc == 0 && (st->want < 0 || st->got == st->want))
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (rc < 0)
		vim_log(VIM_LOG_WARN, "http: %s: reply cut after %lld bytes: %s", st->what, st->got,
		        why.msg[0] ? why.msg : vim_code_name(rc));
	else
		vim_log(VIM_LOG_WARN,
		        "http: %s: reply cut: the body ended after %lld of %lld bytes", st->what,
		        st->got, st->want);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* The reader lets go: its end of the pipe closes now, not with the last
 * reference.  A producer blocked writing into a full pipe (a watch whose
 * client left) then gets EPIPE and ends; with the read end kept open by
 * the reference the producer itself holds, it waited forever, and
 * api_server_stop with it. */
static void reader_done(struct api_stream *st)
{
	pthread_mutex_lock(&st->mu);
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	pthread_mutex_unlock(&st->mu);
	api_stream_unref(st);
}

static void stream_release(void *cls)
{
	reader_done(cls);
}

/* A response that reads st (which it then holds a reference of). */
struct MHD_Response *api_stream_response(struct api_stream *st)
{
	return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, st,
	                                         stream_release);
}

struct producer {
	struct api_server *srv;
	api_stream_fn fn;
	void *arg;
	int fd; /* write end */
	struct api_stream *st;
};

static void *producer_main(void *p_)
{
	struct producer *p = p_;
	struct api_server *s = p->srv;
	struct vim_err err = {0};
	int rc = p->fn(p->arg, p->fd, &err);

	pthread_mutex_lock(&p->st->mu);
	p->st->rc = rc < 0 ? rc : 0;
	p->st->err = err;
	p->st->done = true;
	pthread_mutex_unlock(&p->st->mu);
	close(p->fd); /* the reader's EOF comes after the verdict */
	api_stream_unref(p->st);
	free(p);
	pthread_mutex_lock(&s->mu);
	s->producers--;
	pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Waits for the producer's first byte or its end.  Returns the producer's
 * error when it ended with nothing written (nothing has been sent yet). */
static int first_byte(struct api_stream *st, struct vim_err *err)
{
	struct pollfd pf = {.fd = st->fd, .events = POLLIN};
	int avail = 0, rc = 0;

	while (poll(&pf, 1, -1) < 0 && errno == EINTR)
		;
	if (ioctl(st->fd, FIONREAD, &avail) != 0)
		avail = 0;
	pthread_mutex_lock(&st->mu);
	if (avail == 0 && st->done && st->rc < 0) {
		rc = st->rc;
		*err = st->err;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int api_reply_stream(struct api_req *r, unsigned int code, const char *content_type,
                     api_stream_fn fn, void *arg, bool hold, struct vim_err *err)
{
	struct producer *p = calloc(1, sizeof(*p));
	struct api_stream *st = NULL;
	pthread_t th;
	int fds[2] = {-1, -1}, rc = 0;

	if (!p || pipe2(fds, O_CLOEXEC) != 0 || !(st = api_stream_new(r, fds[0], 2, -1))) {
		/* O_CLOEXEC: not inherited by a child (vimaged spawns the registry) */
		if (fds[0] >= 0) {
			close(fds[0]);
			close(fds[1]);
		}
		free(p);
		fn(arg, -1, NULL); /* lets fn free arg */
		api_reply_error(r, VIM_EINTERNAL, "cannot start a streamed reply");
		return 0;
	}
	p->srv = r->srv;
	p->fn = fn;
	p->arg = arg;
	p->fd = fds[1];
	p->st = st;
	pthread_mutex_lock(&r->srv->mu);
	r->srv->producers++;
	pthread_mutex_unlock(&r->srv->mu);
	if (pthread_create(&th, NULL, producer_main, p) != 0) {
		fn(arg, -1, NULL);
		close(fds[1]);
		free(p);
		pthread_mutex_lock(&r->srv->mu);
		r->srv->producers--;
		pthread_mutex_unlock(&r->srv->mu);
		st->refs = 1;
		api_stream_unref(st);
		api_reply_error(r, VIM_EINTERNAL, "cannot start a streamed reply");
		return 0;
	}
	pthread_detach(th);
	/* Held: an error before the first byte is still a proper Status. */
	if (hold && (rc = first_byte(st, err)) < 0) {
		reader_done(st);
		return rc;
	}
	api_conn_timeout(r->conn, is_watch(r) ? 0 : API_TRANSFER_IDLE_S);
	if (!(r->resp = api_stream_response(st))) {
		reader_done(st); /* the producer's write fails: it ends */
		api_reply_error(r, VIM_ENOMEM, "cannot start a streamed reply");
		return 0;
	}
	if (content_type)
		MHD_add_response_header(r->resp, "Content-Type", content_type);
	r->code = code;
	return 0;
}
