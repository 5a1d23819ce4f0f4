/*
 * tests/unit/etcd_fixture — a real /usr/bin/etcd for a test: one member or
 * three, on loopback ports picked here (client and peer, bound to
 * 127.0.0.1 only), data in a mktemp dir under /dev/shm when there is one
 * (else /tmp), plain http or https with client certificates made by the
 * openssl CLI.  Start waits (≤ 10 s) until every member's /health says
 * true.  A member can be killed and restarted on its data, or stopped
 * (SIGSTOP) to be unreachable while its sockets stay open.
 *
 * One etcd per test process (etcd_fx_shared), a unique key prefix per test
 * (etcd_fx_prefix): the store tests run against it with
 * VIM_TEST_STORE=etcd.
 */
#ifndef VIM_TESTS_ETCD_FIXTURE_H
#define VIM_TESTS_ETCD_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

struct etcd_fx;

struct etcd_fx_opts {
	int members; /* 1 (0 is read as 1) or 3 */
	bool tls;    /* https client URLs, --client-cert-auth */
};

/* 0, or -1 with the reason on stderr (etcd's log is kept in the dir). */
int etcd_fx_start(struct etcd_fx **out, const struct etcd_fx_opts *o);
/* SIGTERM (SIGKILL after 5 s), waitpid, rm -rf.  NULL is fine.  Every fx
 * not stopped (a test that failed an assertion) is stopped at exit. */
void etcd_fx_stop(struct etcd_fx *fx);

/* "http://127.0.0.1:p0[,http://127.0.0.1:p1,...]" (borrowed). */
const char *etcd_fx_endpoints(const struct etcd_fx *fx);
/* Member i's client URL (borrowed). */
const char *etcd_fx_endpoint(const struct etcd_fx *fx, int i);
/* TLS files for a client (NULL without tls): "ca", "cert", "key". */
const char *etcd_fx_file(const struct etcd_fx *fx, const char *which);

/* The member that leads the cluster now, or -1. */
int etcd_fx_leader(struct etcd_fx *fx);
/* SIGKILL + waitpid: the member's data stays. */
int etcd_fx_kill(struct etcd_fx *fx, int i);
/* Starts member i again on its data dir and waits until it is healthy. */
int etcd_fx_restart(struct etcd_fx *fx, int i);
/* SIGSTOP / SIGCONT: unreachable while its connections stay up. */
int etcd_fx_pause(struct etcd_fx *fx, int i);
int etcd_fx_resume(struct etcd_fx *fx, int i);

/* A POST of body to member i's path (e.g. "/v3/kv/compaction"); 0 when
 * etcd answered 200.  For what a test does to etcd behind the backend's
 * back (compaction, a foreign key). */
int etcd_fx_post(struct etcd_fx *fx, int i, const char *path, const char *body);
/* The same, with what etcd said (up to cap - 1 bytes, NUL-terminated)
 * into out: for a test that reads behind the backend's back (the lease a
 * key is under). */
int etcd_fx_ask(struct etcd_fx *fx, int i, const char *path, const char *body, char *out,
                size_t cap);

/* The process's one-member etcd, started at the first call and stopped at
 * exit; NULL when it cannot start (the test then fails). */
struct etcd_fx *etcd_fx_shared(void);
/* "/t<pid>-<n>-<tag>": a key prefix no other test of any process uses. */
void etcd_fx_prefix(char *out, size_t cap, const char *tag);

#endif
