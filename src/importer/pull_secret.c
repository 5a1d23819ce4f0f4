/*
 * importer/pull_secret — a ContainerImage source's pull secret: a
 * dockerconfigjson file under the secrets directory,
 * <secrets>/<namespace>/<name>.json ({"auths": {"host:port": {"auth":
 * base64(user:pass)}}} or username/password).  A VirtualImage's secret is
 * in its own namespace; a ClusterVirtualImage names the namespace.
 */
#include "importer/internal.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool safe_part(const char *s)
{
	return s && *s && s[0] != '.' && !strchr(s, '/') && strlen(s) < 254;
}

int imp_secret_path(const char *dir, const char *ns, const char *name, char *out, size_t len,
                    struct vim_err *err)
{
	if (!dir || !safe_part(ns) || !safe_part(name))
		return vim_err_set(err, VIM_EINVAL, "pull secret %s/%s: not a valid name",
		                   ns ? ns : "", name ? name : "");
	snprintf(out, len, "%s/%s/%s.json", dir, ns, name);
	return 0;
}

/* The entry of auths for host ("host", "https://host" or "https://host/..."). */
static json_t *auth_for(json_t *auths, const char *host)
{
	const char *key;
	json_t *v;

	json_object_foreach(auths, key, v)
	{
		const char *k = key;
		size_t n;
		if (strncmp(k, "https://", 8) == 0)
			k += 8;
		else if (strncmp(k, "http://", 7) == 0)
			k += 7;
		n = strcspn(k, "/");
		if (n == strlen(host) && strncmp(k, host, n) == 0)
			return v;
	}
	return NULL;
}

/* *user and *pass (malloc'd, caller frees) for host from the secret file;
 * both NULL when the file has no entry for host.  VIM_ENOTFOUND: no file. */
static int secret_load(const char *path, const char *host, char **user, char **pass,
                       struct vim_err *err)
{
	json_error_t je;
	json_t *doc, *a;
	const char *u = NULL, *p = NULL, *b64;
	unsigned char dec[1024];
	int rc = 0;

	*user = *pass = NULL;
	if (!(doc = json_load_file(path, 0, &je))) {
		if (access(path, F_OK) != 0)
			return vim_err_set(err, VIM_ENOTFOUND, "pull secret %s: not found", path);
		return vim_err_set(err, VIM_EINVAL, "pull secret %s: not JSON: %s (line %d)", path,
		                   je.text, je.line);
	}
	a = auth_for(json_object_get(doc, "auths"), host);
	if (a && (b64 = json_string_value(json_object_get(a, "auth"))) && strlen(b64) < 1300) {
		int n = EVP_DecodeBlock(dec, (const unsigned char *)b64, (int)strlen(b64));
		char *colon;
		while (n > 0 && dec[n - 1] == '\0')
			n--; /* EVP_DecodeBlock counts the padding */
		if (n <= 0 || !(colon = memchr(dec, ':', (size_t)n))) {
			rc = vim_err_set(err, VIM_EINVAL,
			                 "pull secret %s: auths[%s].auth is not "
			                 "base64 of user:password",
			                 path, host);
			goto out;
		}
		dec[n] = '\0';
		*colon = '\0';
		u = (const char *)dec;
		p = colon + 1;
	} else if (a) {
		u = json_string_value(json_object_get(a, "username"));
		p = json_string_value(json_object_get(a, "password"));
	}
	if (u && (!(*user = strdup(u)) || !(*pass = strdup(p ? p : ""))))
		rc = vim_err_set(err, VIM_ENOMEM, "out of memory");
out:
	OPENSSL_cleanse(dec, sizeof(dec));
	json_decref(doc);
	return rc;
}

int imp_secret_credentials(const char *path, const char *image, char **user, char **pass,
                           struct vim_err *err)
{
	struct dvcr_ref ref;
	int rc;

	*user = *pass = NULL;
	if ((rc = dvcr_ref_parse(image, &ref, err)) < 0)
		return rc;
	return secret_load(path, ref.host, user, pass, err);
}

int imp_secret_file(const struct imp_manager *m, const struct imp_job_input *in, char *out,
                    size_t len, struct vim_err *err)
{
	const struct model_ds_container_image *ci = in->ds ? in->ds->container_image : NULL;
	const char *ns;

	out[0] = '\0';
	if (!ci || !ci->pull_secret_name || !ci->pull_secret_name[0])
		return 0;
	ns = in->kind == MODEL_KIND_VI ? in->ns : ci->pull_secret_namespace;
	return imp_secret_path(m->secrets_dir[0] ? m->secrets_dir : NULL, ns ? ns : "",
	                       ci->pull_secret_name, out, len, err);
}
