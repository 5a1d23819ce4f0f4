/* vimaged — what main's files share: the options and the controller wiring. */
#ifndef VIM_CMD_VIMAGED_H
#define VIM_CMD_VIMAGED_H

#include "controller/manager.h"
#include "controller/monitor.h"
#include "api/api.h"
#include "dvcr/dvcr.h"
#include "dvcr/managed.h"
#include "importer/importer.h"
#include "store/store.h"
#include "flags.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* What the flags say (flags.c: one row per field gives its flag, default
 * and bounds; parsed once at start), then what main learned. */
struct options {
	const char *data_dir;
	struct flag_addr listen;
	const char *tls_cert;
	const char *tls_key;
	struct flag_addr kubectl_listen;
	const char *log_level;  /* one of flags.c's choices */
	const char *log_format; /* "text" | "json" */
	const char *dvcr_url;   /* NULL: vimaged runs its own registry */
	const char *dvcr_username;
	const char *dvcr_password_file;
	const char *dvcr_ca_file;
	bool dvcr_trust_head;
	int workers;
	int64_t probe_interval_ms;
	int64_t sweep_interval_ms;
	int max_rps;
	int import_workers;
	int64_t upload_timeout_ms;
	uint64_t import_min_rate; /* bytes/s */
	int64_t import_stall_window_ms;
	const char *controllers; /* "on" | "off" */
	bool metrics_anonymous;
	int http_max_connections;
	int64_t http_idle_timeout_ms;
	int64_t http_header_timeout_ms;
	int64_t event_ttl_ms;
	const char *store; /* "sqlite" | "etcd" */
	const char *etcd_endpoints;
	const char *etcd_prefix;
	const char *etcd_cafile, *etcd_certfile, *etcd_keyfile;
	int etcd_timeout_ms;
	const char *store_export; /* FILE, "-" = stdout; NULL: serve */
	const char *store_import; /* FILE, "-" = stdin */
	const char *external_url; /* the upload URLs' base; NULL: the listen URL */
	/* not flags: what main learned at start */
	const char *api_url; /* the plain API, for the registry's notifications */
	const char *notify_token;
};

/* The controllers and what they reach: DVCR client, presence monitor,
 * manager.  Members are NULL when not running. */
struct wiring {
	/* The API serves uploads and registry events from the start; they are
	 * refused until the wiring is live. */
	atomic_bool live;
	struct dvcr_managed *registry; /* ours when no --dvcr-url */
	struct dvcr_client *dvcr;
	struct imp_manager *importer;
	/* Import threads kick the manager; this lock lets stop cut them off
	 * before the manager goes away. */
	pthread_mutex_t kick_mu;
	struct ctl_manager *kick_target;
	struct ctl_monitor *monitor;
	struct ctl_manager *manager;
	struct store *store;           /* borrowed */
	const char *store_backend;     /* "sqlite" | "etcd" (/metrics) */
	struct vimaged_health *health; /* NULL: nothing to check (sqlite) */
	/* downloads in flight (their threads use dvcr): stop waits for them */
	pthread_mutex_t dl_mu;
	pthread_cond_t dl_cv;
	int downloads;
};

/* w must be zeroed by the caller (the API may already hold it). */
int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err);
void wiring_stop(struct wiring *w);
/* The import job engine m as the controller's ctl_jobs (jobs.c). */
struct ctl_jobs wiring_jobs(struct imp_manager *m, int64_t upload_timeout_s);
/* The API's upload hooks (arg: the struct wiring). */
extern const struct api_upload_ops wiring_upload_ops;
/* api_config.on_registry_events: arg is the struct wiring. */
/* api_config.metrics: the Prometheus text of every module (arg: the
 * struct wiring).  Fine before the wiring is live: it then says so. */
void wiring_metrics(void *arg, struct vim_text *out);
/* api_config.download (arg: the struct wiring). */
int wiring_download(void *arg, const char *kind, const char *ns, const char *name, int *fd,
                    long long *size, char digest[96], struct vim_err *err);
int wiring_registry_events(void *arg, const char *body, size_t len, struct vim_err *err);

/* The store --store names (store.c): SQLite under --data-dir, or etcd.
 * where gets what the start-up log says of it ("etcd URL,..., prefix P"). */
int vimaged_store_open(struct store **out, const struct options *o, char *where, size_t cap,
                       struct vim_err *err);
/* A remote store's health: store_health every every_ms on a thread of its
 * own (a request never waits for etcd's timeout to answer /readyz), into
 * /readyz's "store" check and vimaged_health_up.  s and ready are
 * borrowed: stop before closing them. */
struct vimaged_health;
int vimaged_health_start(struct vimaged_health **out, struct store *s, struct api_ready *ready,
                         int64_t every_ms, struct vim_err *err);
/* 1 up, 0 down (the last check), -1 for NULL (not checked). */
int vimaged_health_up(struct vimaged_health *h);
void vimaged_health_stop(struct vimaged_health *h); /* NULL is fine */
/* --store-export / --store-import into or from s, with their one-line
 * report on stdout (stderr when stdout is the export). */
int vimaged_store_transfer(struct store *s, const struct options *o, struct vim_err *err);

/* RLIMIT_NOFILE's soft limit raised to the hard one (logged); returns it. */
long vimaged_raise_nofile(void);
/* No group or other access to the data directory or anything in it (what
 * an older vimaged or the operator left wider: 0755 -> 0700, 0644 ->
 * 0600); the owner's bits stay.  Symlinks are not followed.  A path it
 * cannot change is logged, not fatal. */
int vimaged_lock_down(const char *dir, struct vim_err *err);

/* ---- forwarding to the leader (forward.c) ---------------------------------------------- */

/* A follower's upload passed on to the leader, whose importer holds the
 * job: PUT <leader_url>/upload/<token> with Content-Length length (-1:
 * chunked), streamed from the data calls through a bounded buffer to a
 * thread of its own (data blocks while it is full).  begin returns once
 * the leader has taken the headers, or with its refusal.  The leader's
 * refusal comes back as the code its API answered from (404 ENOTFOUND,
 * 409 EEXIST, 400/411/422 EINVAL, 413 ETOOLARGE, 503 EUNAVAILABLE, else
 * EUPSTREAM) with its own message; a leader that cannot be reached or
 * goes away is VIM_EUNAVAILABLE.  ca_file (NULL = the system's) verifies
 * an https leader.  The api_upload_ops contract: data's first failure
 * ends the data calls; end(ok = false, the client went away) aborts the
 * leader's request (it sees a short body) and returns 0; end frees u. */
struct fwd_upload;
int fwd_upload_begin(struct fwd_upload **out, const char *leader_url, const char *token,
                     int64_t length, const char *ca_file, struct vim_err *err);
int fwd_upload_data(struct fwd_upload *u, const void *data, size_t len, struct vim_err *err);
int fwd_upload_end(struct fwd_upload *u, bool ok, struct vim_err *err); /* frees u */
/* The registry's notifications (body, len) POSTed to <leader_url>/dvcr/events
 * with "Authorization: Bearer <token>": 0 when the leader took them, else
 * its refusal or VIM_EUNAVAILABLE, as for an upload. */
int fwd_events(const char *leader_url, const char *token, const char *ca_file, const char *body,
               size_t len, struct vim_err *err);

#endif
