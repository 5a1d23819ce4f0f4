/*
 * controller/queue — a hash of per-key state, a FIFO of ready keys and a
 * binary min-heap of timers, under one mutex.
 */
#include "controller/queue.h"
#include "core/sysutil.h"
#include "core/cond.h"
#include "core/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NO_HEAP ((size_t)-1)

struct qent {
	char *key;
	bool queued, processing, dirty;
	int failures;
	int64_t due;     /* when the timer fires (valid while in the heap) */
	size_t heap_idx; /* NO_HEAP when no timer is pending */
	struct qent *chain, *fifo_next;
};

struct ctl_queue {
	struct ctl_queue_opts o;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool shutdown;
	struct qent **buckets;
	size_t nbuckets, tracked;
	struct qent *head, *tail; /* ready FIFO */
	size_t ready;
	struct qent **heap;
	size_t heap_len, heap_cap;
};

static int64_t now_ms(struct ctl_queue *q)
{
	return q->o.now_ms ? q->o.now_ms(q->o.clock_self) : vim_mono_ms();
}

static struct qent **slot(struct ctl_queue *q, const char *key)
{
	struct qent **p = &q->buckets[vim_str_hash(key) & (q->nbuckets - 1)];
	while (*p && strcmp((*p)->key, key) != 0)
		p = &(*p)->chain;
	return p;
}

static void grow(struct ctl_queue *q)
{
	size_t n = q->nbuckets * 2, i;
	struct qent **nb = calloc(n, sizeof(*nb));

	if (!nb)
		return; /* longer chains, still correct */
	for (i = 0; i < q->nbuckets; i++) {
		struct qent *e = q->buckets[i], *next;
		for (; e; e = next) {
			next = e->chain;
			e->chain = nb[vim_str_hash(e->key) & (n - 1)];
			nb[vim_str_hash(e->key) & (n - 1)] = e;
		}
	}
	free(q->buckets);
	q->buckets = nb;
	q->nbuckets = n;
}

static struct qent *lookup(struct ctl_queue *q, const char *key, bool create)
{
	struct qent **p = slot(q, key), *e;

	if (*p || !create)
		return *p;
	if (!(e = calloc(1, sizeof(*e))) || !(e->key = strdup(key))) {
		free(e);
		return NULL;
	}
	e->heap_idx = NO_HEAP;
	*p = e;
	if (++q->tracked > q->nbuckets)
		grow(q);
	return e;
}

/* Frees a key's state once nothing refers to it. */
static void maybe_release(struct ctl_queue *q, struct qent *e)
{
	struct qent **p;

	if (e->queued || e->processing || e->dirty || e->heap_idx != NO_HEAP || e->failures)
		return;
	p = slot(q, e->key);
	*p = e->chain;
	q->tracked--;
	free(e->key);
	free(e);
}

/* ---- the timer heap -------------------------------------------------------------- */

static void heap_swap(struct ctl_queue *q, size_t a, size_t b)
{
	struct qent *t = q->heap[a];
	q->heap[a] = q->heap[b];
	q->heap[b] = t;
	q->heap[a]->heap_idx = a;
	q->heap[b]->heap_idx = b;
}

static void heap_up(struct ctl_queue *q, size_t i)
{
	while (i > 0 && q->heap[(i - 1) / 2]->due > q->heap[i]->due) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct ctl_queue *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->heap_len && q->heap[l]->due < q->heap[m]->due)
			m = l;
		if (r < q->heap_len && q->heap[r]->due < q->heap[m]->due)
			m = r;
		if (m == i)
			return;
		heap_swap(q, i, m);
		i = m;
	}
}

static void heap_remove_at(struct ctl_queue *q, size_t i)
{
	struct qent *gone = q->heap[i];

	q->heap_len--;
	if (i < q->heap_len) {
		q->heap[i] = q->heap[q->heap_len];
		q->heap[i]->heap_idx = i;
		heap_down(q, i);
		heap_up(q, i);
	}
	gone->heap_idx = NO_HEAP;
}

static void heap_remove_top(struct ctl_queue *q)
{
	heap_remove_at(q, 0);
}

static void heap_schedule(struct ctl_queue *q, struct qent *e, int64_t due)
{
	if (e->heap_idx != NO_HEAP) {
		if (due >= e->due)
			return; /* the earlier timer wins */
		e->due = due;
		heap_up(q, e->heap_idx);
		return;
	}
	if (q->heap_len == q->heap_cap) {
		size_t ncap = q->heap_cap ? q->heap_cap * 2 : 64;
		struct qent **nh = realloc(q->heap, ncap * sizeof(*nh));
		if (!nh)
			return;
		q->heap = nh;
		q->heap_cap = ncap;
	}
	e->due = due;
	e->heap_idx = q->heap_len;
	q->heap[q->heap_len++] = e;
	heap_up(q, e->heap_idx);
}

/* ---- ready FIFO ------------------------------------------------------------------------ */

static void make_ready(struct ctl_queue *q, struct qent *e)
{
	if (e->processing) {
		e->dirty = true; /* comes back when its worker is done */
		return;
	}
	if (e->queued)
		return;
	e->queued = true;
	e->fifo_next = NULL;
	if (q->tail)
		q->tail->fifo_next = e;
	else
		q->head = e;
	q->tail = e;
	q->ready++;
	pthread_cond_signal(&q->cond);
}

static void fire_due(struct ctl_queue *q)
{
	int64_t now = now_ms(q);

	while (q->heap_len && q->heap[0]->due <= now) {
		struct qent *e = q->heap[0];
		heap_remove_top(q);
		make_ready(q, e);
	}
}

/* ---- public ------------------------------------------------------------------------------ */

int ctl_queue_new(struct ctl_queue **out, const struct ctl_queue_opts *o, struct vim_err *err)
{
	struct ctl_queue *q = calloc(1, sizeof(*q));

	*out = NULL;
	if (!q || !(q->buckets = calloc(1024, sizeof(*q->buckets)))) {
		free(q);
		return vim_err_set(err, VIM_ENOMEM, "queue: out of memory");
	}
	q->nbuckets = 1024;
	if (o)
		q->o = *o;
	if (q->o.backoff_base_ms <= 0)
		q->o.backoff_base_ms = 100;
	if (q->o.backoff_max_ms <= 0)
		q->o.backoff_max_ms = 5 * 60 * 1000;
	pthread_mutex_init(&q->mu, NULL);
	vim_cond_init(&q->cond);
	*out = q;
	return 0;
}

void ctl_queue_add(struct ctl_queue *q, const char *key)
{
	struct qent *e;

	pthread_mutex_lock(&q->mu);
	if (!q->shutdown && (e = lookup(q, key, true)))
		make_ready(q, e);
	pthread_mutex_unlock(&q->mu);
}

void ctl_queue_add_after(struct ctl_queue *q, const char *key, int64_t delay_ms)
{
	struct qent *e;

	if (delay_ms <= 0) {
		ctl_queue_add(q, key);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (!q->shutdown && (e = lookup(q, key, true))) {
		heap_schedule(q, e, now_ms(q) + delay_ms);
		pthread_cond_broadcast(&q->cond); /* a getter may need a shorter wait */
	}
	pthread_mutex_unlock(&q->mu);
}

void ctl_queue_add_rate_limited(struct ctl_queue *q, const char *key)
{
	struct qent *e;
	int64_t delay;
	int i;

	pthread_mutex_lock(&q->mu);
	if (q->shutdown || !(e = lookup(q, key, true))) {
		pthread_mutex_unlock(&q->mu);
		return;
	}
	delay = q->o.backoff_base_ms;
	for (i = 0; i < e->failures && delay < q->o.backoff_max_ms; i++)
		delay *= 2;
	if (delay > q->o.backoff_max_ms)
		delay = q->o.backoff_max_ms;
	e->failures++;
	heap_schedule(q, e, now_ms(q) + delay);
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void ctl_queue_forget(struct ctl_queue *q, const char *key)
{
	struct qent *e;

	pthread_mutex_lock(&q->mu);
	if ((e = lookup(q, key, false))) {
		e->failures = 0;
		maybe_release(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

void ctl_queue_cancel_after(struct ctl_queue *q, const char *key)
{
	struct qent *e;

	pthread_mutex_lock(&q->mu);
	if ((e = lookup(q, key, false)) && e->heap_idx != NO_HEAP) {
		heap_remove_at(q, e->heap_idx);
		maybe_release(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

int ctl_queue_failures(struct ctl_queue *q, const char *key)
{
	struct qent *e;
	int n;

	pthread_mutex_lock(&q->mu);
	e = lookup(q, key, false);
	n = e ? e->failures : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

int ctl_queue_get(struct ctl_queue *q, char *buf, size_t len, int timeout_ms)
{
	int64_t start = vim_mono_ms(), left;
	struct qent *e;
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		if (q->shutdown) {
			rc = VIM_ECANCELED;
			break;
		}
		fire_due(q);
		if ((e = q->head)) {
			q->head = e->fifo_next;
			if (!q->head)
				q->tail = NULL;
			q->ready--;
			e->queued = false;
			e->processing = true;
			snprintf(buf, len, "%s", e->key);
			rc = 1;
			break;
		}
		left = timeout_ms - (vim_mono_ms() - start);
		if (left <= 0)
			break;
		if (q->heap_len) {
			int64_t until = q->heap[0]->due - now_ms(q);
			if (until < left)
				left = until > 0 ? until : 1;
		}
		vim_cond_wait_until(&q->cond, &q->mu, vim_deadline_ms(left));
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

void ctl_queue_done(struct ctl_queue *q, const char *key)
{
	struct qent *e;

	pthread_mutex_lock(&q->mu);
	if ((e = lookup(q, key, false))) {
		e->processing = false;
		if (e->dirty && !q->shutdown) {
			e->dirty = false;
			make_ready(q, e);
		}
		e->dirty = false;
		maybe_release(q, e);
	}
	pthread_mutex_unlock(&q->mu);
}

static size_t read_count(struct ctl_queue *q, const size_t *field)
{
	size_t n;
	pthread_mutex_lock(&q->mu);
	n = *field;
	pthread_mutex_unlock(&q->mu);
	return n;
}

size_t ctl_queue_len(struct ctl_queue *q)
{
	return read_count(q, &q->ready);
}
size_t ctl_queue_delayed_len(struct ctl_queue *q)
{
	return read_count(q, &q->heap_len);
}
size_t ctl_queue_tracked(struct ctl_queue *q)
{
	return read_count(q, &q->tracked);
}

void ctl_queue_shutdown(struct ctl_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->shutdown = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void ctl_queue_free(struct ctl_queue *q)
{
	size_t i;

	if (!q)
		return;
	for (i = 0; i < q->nbuckets; i++) {
		struct qent *e = q->buckets[i], *next;
		for (; e; e = next) {
			next = e->chain;
			free(e->key);
			free(e);
		}
	}
	free(q->buckets);
	free(q->heap);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cond);
	free(q);
}
