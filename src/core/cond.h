/*
 * core/cond — condition variables whose timed waits run on the monotonic
 * clock.  A deadline taken from CLOCK_REALTIME moves with the wall clock:
 * set back an hour, a 1 s wait sleeps an hour (a stalled queue, a watch
 * that never times out); set forward, every wait times out at once and
 * its loop spins.  A condvar made by vim_cond_init measures its deadline
 * on CLOCK_MONOTONIC, which only ever moves forward at the rate of time.
 */
#ifndef VIM_CORE_COND_H
#define VIM_CORE_COND_H

#include <pthread.h>
#include <stdint.h>

/* Initialises c for vim_cond_wait_until (pthread_cond_wait and
 * pthread_cond_signal work on it as on any condvar).  0, or VIM_ENOMEM /
 * VIM_EINTERNAL when pthread refuses. */
int vim_cond_init(pthread_cond_t *c);

/* vim_mono_ms() + ms: a deadline for vim_cond_wait_until. */
int64_t vim_deadline_ms(int64_t ms);

/* Waits on c (made by vim_cond_init; mu held, as pthread_cond_timedwait)
 * until it is signalled or the monotonic deadline (vim_mono_ms() time,
 * ms) passes.  0 when woken (which may be spurious: callers test their
 * predicate in a loop), VIM_ETIMEDOUT once the deadline has passed. */
int vim_cond_wait_until(pthread_cond_t *c, pthread_mutex_t *mu, int64_t deadline_ms);

#endif
