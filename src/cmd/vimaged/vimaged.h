/* vimaged — what main's files share: the options and the controller wiring. */
#ifndef VIM_CMD_VIMAGED_H
#define VIM_CMD_VIMAGED_H

#include "controller/manager.h"
#include "controller/monitor.h"
#include "dvcr/dvcr.h"
#include "store/store.h"

struct options {
	const char *data_dir;
	const char *listen;
	const char *tls_cert;
	const char *tls_key;
	const char *kubectl_listen;
	const char *log_level;
	const char *log_format;
	const char *dvcr_url;
	const char *dvcr_username;
	const char *dvcr_password_file;
	const char *dvcr_ca_file;
	const char *workers;
	const char *probe_interval;
	const char *sweep_interval;
	const char *max_rps;
};

/* The controllers and what they reach: DVCR client, presence monitor,
 * manager.  Members are NULL when not running. */
struct wiring {
	struct dvcr_client *dvcr;
	struct ctl_monitor *monitor;
	struct ctl_manager *manager;
};

int wiring_start(struct wiring *w, const struct options *o, struct store *store,
                 struct vim_err *err);
void wiring_stop(struct wiring *w);
/* api_config.on_registry_events: arg is the struct wiring. */
int wiring_registry_events(void *arg, const char *body, size_t len, struct vim_err *err);

#endif
