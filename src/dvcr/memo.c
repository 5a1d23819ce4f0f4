/*
 * dvcr/memo — the blob digests one storage-wide recovery has proven.
 *
 * A blob's bytes live once per registry (distribution keeps blob data
 * under blobs/<alg>/<hex>, shared by every repository that links it), so
 * after the storage came back one ranged GET of a digest proves its bytes
 * for every image that names it.  An open-addressing set of strdup'ed
 * digests behind one mutex: workers look up and add concurrently, and a
 * wave touches each digest once, so the lock is never held for long.
 */
#include "dvcr/dvcr.h"
#include "core/sysutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct dvcr_memo {
	pthread_mutex_t mu;
	char **slot;       /* nslot entries, NULL = free; owned strings */
	size_t nslot, len; /* nslot a power of two, at least twice cap */
	size_t cap;        /* at most this many digests; more are not remembered */
};

/* The slot holding digest, or the free slot where it would go. */
static char **find(struct dvcr_memo *m, const char *digest)
{
	size_t i = (size_t)vim_str_hash(digest) & (m->nslot - 1);

	while (m->slot[i] && strcmp(m->slot[i], digest) != 0)
		i = (i + 1) & (m->nslot - 1);
	return &m->slot[i];
}

int dvcr_memo_new(struct dvcr_memo **out, size_t cap, struct vim_err *err)
{
	struct dvcr_memo *m = calloc(1, sizeof(*m));
	size_t n = 16;

	*out = NULL;
	if (cap == 0)
		cap = 1;
	while (n < 2 * cap)
		n *= 2;
	if (!m || !(m->slot = calloc(n, sizeof(*m->slot)))) {
		free(m);
		return vim_err_set(err, VIM_ENOMEM, "dvcr memo: out of memory for %zu digests",
		                   cap);
	}
	m->nslot = n;
	m->cap = cap;
	pthread_mutex_init(&m->mu, NULL);
	*out = m;
	return 0;
}

bool dvcr_memo_has(struct dvcr_memo *m, const char *digest)
{
	bool found;

	pthread_mutex_lock(&m->mu);
	found = *find(m, digest) != NULL;
	pthread_mutex_unlock(&m->mu);
	return found;
}

void dvcr_memo_add(struct dvcr_memo *m, const char *digest)
{
	char **s;

	pthread_mutex_lock(&m->mu);
	s = find(m, digest);
	/* Full: not remembering only costs the request the memo would save. */
	if (!*s && m->len < m->cap && (*s = strdup(digest)))
		m->len++;
	pthread_mutex_unlock(&m->mu);
}

void dvcr_memo_del(struct dvcr_memo *m, const char *key)
{
	size_t i, j, home;
	char **s;

	pthread_mutex_lock(&m->mu);
	s = find(m, key);
	if (*s) {
		free(*s);
		*s = NULL;
		m->len--;
		/* Backward shift: an entry after the hole that could live in it
		 * moves up, so no probe sequence is broken by the hole. */
		i = (size_t)(s - m->slot);
		for (j = (i + 1) & (m->nslot - 1); m->slot[j]; j = (j + 1) & (m->nslot - 1)) {
			home = (size_t)vim_str_hash(m->slot[j]) & (m->nslot - 1);
			if (((j - home) & (m->nslot - 1)) >= ((j - i) & (m->nslot - 1))) {
				m->slot[i] = m->slot[j];
				m->slot[j] = NULL;
				i = j;
			}
		}
	}
	pthread_mutex_unlock(&m->mu);
}

size_t dvcr_memo_size(struct dvcr_memo *m)
{
	size_t n;

	pthread_mutex_lock(&m->mu);
	n = m->len;
	pthread_mutex_unlock(&m->mu);
	return n;
}

void dvcr_memo_clear(struct dvcr_memo *m)
{
	size_t i;

	pthread_mutex_lock(&m->mu);
	for (i = 0; i < m->nslot && m->len > 0; i++)
		if (m->slot[i]) {
			free(m->slot[i]);
			m->slot[i] = NULL;
			m->len--;
		}
	pthread_mutex_unlock(&m->mu);
}

void dvcr_memo_free(struct dvcr_memo *m)
{
	if (!m)
		return;
	dvcr_memo_clear(m);
	pthread_mutex_destroy(&m->mu);
	free(m->slot);
	free(m);
}
