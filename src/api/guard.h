/*
 * api/guard — the deadline for a request's headers and body.  libmicrohttpd's
 * connection timeout is an inactivity timeout: a client that sends one
 * header byte every few seconds never trips it and holds its thread
 * forever.  The guard tracks every connection from accept
 * (MHD_OPTION_NOTIFY_CONNECTION) and shuts down the socket of one whose
 * request headers (then its body, unless it is an upload) are not
 * complete in time.
 */
#ifndef VIM_API_GUARD_H
#define VIM_API_GUARD_H

#include "core/err.h"

#include <microhttpd.h>
#include <stdint.h>

struct api_guard;

/* header_ms: from accept (or from the end of the previous request plus
 * idle_ms, on a kept-alive connection) to the first call of the request
 * handler.  Starts the reaper thread. */
int api_guard_new(struct api_guard **out, int64_t header_ms, int64_t idle_ms, struct vim_err *err);

/* Stops the reaper and frees; call after MHD_stop_daemon (no connection
 * is left).  NULL is fine. */
void api_guard_free(struct api_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION's callback; cls is the guard. */
void api_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);

/* The request's headers are in (the handler's first call): its body, if
 * any, has header_ms more to arrive (a body sent a byte at a time is the
 * same attack as slow headers). */
void api_guard_request_started(struct api_guard *g, struct MHD_Connection *c);

/* The whole request is in (the handler runs, however long it takes), or
 * it streams its body on its own terms (an upload): no deadline until it
 * is done. */
void api_guard_request_received(struct api_guard *g, struct MHD_Connection *c);

/* The request is over: the next one on this connection has a deadline. */
void api_guard_request_done(struct api_guard *g, struct MHD_Connection *c);

/* Connections open now, and shut down for missing the deadline so far,
 * over every guard of the process. */
void api_guard_counts(uint64_t *open, uint64_t *reaped);

#endif
