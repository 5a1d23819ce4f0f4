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
	int64_t lease_ttl_ms;
	const char *replica_id;   /* NULL: HOST:PORT of the listener */
	const char *external_url; /* NULL: upload URLs name this replica's API */
	const char *store_export; /* FILE, "-" = stdout; NULL: serve */
	const char *store_import; /* FILE, "-" = stdin */
	/* not flags: what main learned at start */
	const char *api_url; /* the plain API, for the registry's notifications */
	const char *notify_token;
};

/* The controllers and what they reach: DVCR client, presence monitor,
 * manager.  Members are NULL when not running. */
struct wiring {
	/* The API serves uploads and registry events from the start; they are
	 * refused (or, on a follower, passed on to the leader) until the
	 * controllers run here: live. */
	atomic_bool live;
	/* Held (read) by what uses the controllers from another thread
	 * (/metrics, registry events) while it does; live changes under it
	 * (write), so a stop never frees what a reader still holds. */
	pthread_rwlock_t live_rw;
	atomic_bool dvcr_up;           /* the DVCR client is open: downloads are served */
	const struct options *o;       /* borrowed: wiring_lead starts from it */
	struct dvcr_managed *registry; /* ours when no --dvcr-url */
	struct dvcr_client *dvcr;
	const char *dvcr_url; /* borrowed: the options' or the registry's */
	char dvcr_host[256];
	/* where upload URLs point: --external-url, else this replica's API */
	char upload_base[300];
	struct imp_manager *importer;
	/* Import threads kick the manager; this lock lets stop cut them off
	 * before the manager goes away. */
	pthread_mutex_t kick_mu;
	struct ctl_manager *kick_target;
	struct ctl_monitor *monitor;
	struct ctl_manager *manager;
	struct store *store; /* borrowed */
	/* What the controllers write through: store, or with several
	 * replicas a fenced view of it (store_fenced_open), owned. */
	struct store *ctl_store;
	struct vimaged_ha *ha;         /* NULL: one replica (sqlite) */
	const char *store_backend;     /* "sqlite" | "etcd" (/metrics) */
	struct vimaged_health *health; /* NULL: nothing to check (sqlite) */
	/* uploads in flight into importer (up_mu also orders them with
	 * live): wiring_unlead frees no importer one still feeds */
	pthread_mutex_t up_mu;
	pthread_cond_t up_cv;
	int uploads;
#define WIRING_PARKED_MAX 8
	struct imp_manager *parked[WIRING_PARKED_MAX]; /* freed by wiring_stop */
	/* downloads in flight (their threads use dvcr): stop waits for them */
	pthread_mutex_t dl_mu;
	pthread_cond_t dl_cv;
	int downloads;
};

/* Zeroes w and makes its locks: before the API that calls into it starts
 * (its hooks take them from the first request on). */
void wiring_init(struct wiring *w);
/* Opens DVCR (starting the managed registry when there is no
 * --dvcr-url): downloads are served from here on.  w has had
 * wiring_init (the API may already hold it). */
int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err);
/* Starts the controllers (manager, importer, presence monitor), writing
 * through ctl_store: at once with one replica, when this replica comes
 * to lead with several.  0 when they run already. */
int wiring_lead(struct wiring *w, struct vim_err *err);
/* Stops them (a replica that no longer leads); fine when not running. */
void wiring_unlead(struct wiring *w);
/* wiring_unlead, then closes DVCR and the managed registry; may be
 * called again. */
void wiring_stop(struct wiring *w);
/* Destroys the locks of wiring_init, once nothing can call in. */
void wiring_fini(struct wiring *w);
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

/* ---- several replicas on one etcd (replicas.c) ---------------------------------- */

/* The election (ha/ha.h) on a kv of its own, the tokens it shares, the
 * canary memory the presence monitor keeps in etcd, and the API hooks
 * that need the leader.  Only with --store etcd. */
struct vimaged_ha;
/* api_url: this replica's own; tokens: the admin and notify tokens to
 * publish.  Sets w->ha and w->ctl_store (the fenced view). */
int vimaged_ha_start(struct wiring *w, const struct options *o, const char *api_url,
                     const char *token, const char *notify_token, struct vim_err *err);
/* Follows the election: starts or stops the controllers to match it.
 * Called by main every 200 ms and on a change; cheap when nothing
 * changed. */
void vimaged_ha_step(struct wiring *w);
/* Takes w->ha away from the API's threads (under live_rw) for
 * vimaged_ha_stop. */
struct vimaged_ha *vimaged_ha_detach(struct wiring *w);
/* Resigns (the lease is revoked: another replica leads at once) and
 * frees; the controllers must be stopped first.  NULL is fine. */
void vimaged_ha_stop(struct vimaged_ha *h);
/* api_config.token_known (arg: the struct wiring). */
bool vimaged_ha_token_known(void *arg, const char *kind, const char *token);
/* The leader's API URL when another replica leads (for forwarding):
 * VIM_ENOTFOUND with one replica (no election), VIM_EUNAVAILABLE when
 * none leads right now, VIM_EEXIST when this replica does. */
int vimaged_ha_leader_url(struct wiring *w, char *out, size_t cap, struct vim_err *err);
/* The canary memory for ctl_monitor_config (arg: the vimaged_ha). */
int vimaged_ha_canary_recall(void *arg, bool *placed, int64_t *outage_from_s, struct vim_err *err);
void vimaged_ha_canary_remember(void *arg);
void vimaged_ha_canary_outage(void *arg, int64_t outage_from_s);
/* /metrics: vimage_leader, transitions, the replicas it sees. */
void vimaged_ha_metrics(struct wiring *w, struct vim_text *t);

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
