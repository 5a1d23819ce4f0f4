/* vimagectl — what its commands share: the connection to vimaged from a
 * kubeconfig, and small JSON requests over it. */
#ifndef VIM_CMD_VIMAGECTL_H
#define VIM_CMD_VIMAGECTL_H

#include "core/err.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes, as the usage text says. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAILED = 1, CTL_EXIT_USAGE = 2 };

struct conn {
	char server[512]; /* "https://127.0.0.1:PORT" */
	char token[512];
	char *ca_pem; /* malloc'd; NULL = system roots */
	bool insecure;
};

/* Reads the current context of the kubeconfig at path (--kubeconfig,
 * $KUBECONFIG, ./vimage-data/kubeconfig: the caller picks). */
int conn_load(struct conn *c, const char *path, struct vim_err *err);
void conn_free(struct conn *c);

/* Points h at path under the server with the token and the server's CA;
 * url (len bytes) receives the full URL.  Returns the header list the
 * caller sets (CURLOPT_HTTPHEADER, with more if it likes) and frees. */
struct curl_slist *conn_prepare(const struct conn *c, CURL *h, const char *path, char *url,
                                size_t len);

/* GET path (under server); *out is the parsed JSON (caller decrefs).
 * A non-2xx answer is an error carrying the Status message. */
int conn_get_json(const struct conn *c, const char *path, json_t **out, struct vim_err *err);
/* GET path as text into a malloc'd buffer (caller frees). */
int conn_get_text(const struct conn *c, const char *path, char **out, size_t *len,
                  struct vim_err *err);

/* "vi/NAME" | "cvi/NAME" (also virtualimage/..., clustervirtualimage/...)
 * into the API path of the object. */
int object_path(const char *ref, const char *ns, char *out, size_t len, bool *cluster,
                struct vim_err *err);

/* Waits for ref (API path `path`) to publish its upload URL, streams file
 * there and waits for Ready; prints the sha256 and the verdict. */
int upload_image(const struct conn *c, const char *ref, const char *path, const char *file,
                 struct vim_err *err);
/* Seconds on the monotonic clock, for rates and deadlines. */
double now_s(void);
/* status.phase of an object ("" when none). */
const char *phase_of(json_t *obj);
/* POST body (JSON, borrowed) to path; *out (may be NULL) gets the answer. */
int conn_send_json(const struct conn *c, const char *method, const char *path, json_t *body,
                   json_t **out, struct vim_err *err);

int cmd_download(const struct conn *c, int argc, char **argv);
int cmd_demo(const struct conn *c, int argc, char **argv);
int cmd_upload(const struct conn *c, int argc, char **argv);
int cmd_status(const struct conn *c, int argc, char **argv);

#endif
