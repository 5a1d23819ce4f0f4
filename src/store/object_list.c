/*
 * store/object_list — LIST over the backend's range: selectors, limit,
 * continue tokens and the remaining count, the same for every backend.
 * A local backend's (sqlite) values carry their resourceVersion and are
 * streamed as stored; a remote one's get it from mod_rev per object.  A
 * remote backend's whole lists come from its read side (the watch cache);
 * pages and Exact reads come here, read at the list's revision.
 *
 * A continue token is Kubernetes' own shape: unpadded base64url of
 * {"v":"meta.k8s.io/v1","rv":N,"start":"<ns>/<name>\u0000"} (no "<ns>/"
 * for cluster-scoped objects), N being the first page's resourceVersion;
 * the next page starts right after that key, read at N (etcd keeps it
 * until compacted; sqlite keeps no old revision and reads the data as it
 * is then, reporting N as Kubernetes does).  The key is carried whole: a
 * cut one would start the next page at the same object again, and a
 * client paging one object at a time would never end.
 */
#include "store/object_internal.h"
#include "core/log.h"

#include <stdlib.h>
#include <string.h>

#define TOKEN_VERSION "meta.k8s.io/v1"

struct cursor {
	int64_t rv;
	char *ns;   /* "" = from the start; owned */
	char *name; /* owned */
};

static void cursor_clear(struct cursor *c)
{
	free(c->ns);
	free(c->name);
	memset(c, 0, sizeof(*c));
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of in[0..n) into out (NUL-terminated); false when it
 * does not fit in outlen. */
static bool b64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;

	if ((n + 2) / 3 * 4 + 1 > outlen)
		return false;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return true;
}

static int b64url_value(char c)
{
	const char *p = c ? strchr(b64url, c) : NULL;
	return p ? (int)(p - b64url) : -1;
}

/* Decodes unpadded (or padded) base64url; *out is malloc'd, *len its
 * length.  false on any character outside the alphabet. */
static bool b64url_decode(const char *in, unsigned char **out, size_t *len)
{
	size_t n = strlen(in), i, o = 0;
	unsigned char *buf;
	uint32_t acc = 0;
	int bits = 0;

	while (n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1 || !(buf = malloc(n * 3 / 4 + 1)))
		return false;
	for (i = 0; i < n; i++) {
		int v = b64url_value(in[i]);
		if (v < 0) {
			free(buf);
			return false;
		}
		acc = acc << 6 | (uint32_t)v;
		if ((bits += 6) >= 8) {
			bits -= 8;
			buf[o++] = (unsigned char)(acc >> bits & 0xff);
		}
	}
	*out = buf;
	*len = o;
	return true;
}

/* The token of a page that ended at (ns, name), for a list at rv. */
static int token_encode(const char *resource, int64_t rv, const char *ns, const char *name,
                        char *out, size_t outlen, struct vim_err *err)
{
	size_t nlen = strlen(ns), klen = strlen(name), slen;
	char *start = malloc(nlen + klen + 3), *text = NULL;
	json_t *tok = NULL;
	int rc = 0;

	if (!start)
		return vim_err_set(err, VIM_ENOMEM, "store: list %s: out of memory", resource);
	/* "<ns>/<name>\0": the key right after the last one, as etcd's */
	slen = (size_t)snprintf(start, nlen + klen + 3, "%s%s%s", ns, nlen ? "/" : "", name) + 1;
	if (!(tok = json_pack("{s:s,s:I,s:s%}", "v", TOKEN_VERSION, "rv", (json_int_t)rv, "start",
	                      start, slen)) ||
	    !(text = json_dumps(tok, JSON_COMPACT))) {
		rc = vim_err_set(err, VIM_ENOMEM, "store: list %s: out of memory", resource);
		goto out;
	}
	if (!b64url_encode((const unsigned char *)text, strlen(text), out, outlen))
		/* only a key longer than any valid one (63 + 253) gets here */
		rc = vim_err_set(err, VIM_EINTERNAL,
		                 "store: list %s: the key %s/%s is too long for a continue token",
		                 resource, ns, name);
out:
	free(text);
	json_decref(tok);
	free(start);
	return rc;
}

static int token_invalid(struct vim_err *err, const char *why)
{
	return vim_err_set(err, VIM_EINVAL, "continue key is not valid: %s", why);
}

/* Parses a token made by token_encode; VIM_EINVAL (Kubernetes' words)
 * for anything else: a garbage token must not restart the list. */
static int token_decode(const char *tok, struct cursor *c, struct vim_err *err)
{
	unsigned char *raw = NULL;
	size_t len = 0, slen;
	json_t *j = NULL, *start;
	const char *s, *slash;
	int rc = 0;

	memset(c, 0, sizeof(*c));
	if (!b64url_decode(tok, &raw, &len)) {
		rc = token_invalid(err, "illegal base64 data");
		goto out;
	}
	if (!(j = json_loadb((const char *)raw, len, JSON_ALLOW_NUL, NULL)) || !json_is_object(j)) {
		rc = token_invalid(err, "not a continue token");
		goto out;
	}
	if (!json_is_string(json_object_get(j, "v")) ||
	    strcmp(json_string_value(json_object_get(j, "v")), TOKEN_VERSION) != 0) {
		rc = token_invalid(err, "server does not recognize this encoded version");
		goto out;
	}
	if (!json_is_integer(json_object_get(j, "rv")) ||
	    json_integer_value(json_object_get(j, "rv")) <= 0) {
		rc = token_invalid(err, "incorrect encoded start resourceVersion (version "
		                        "meta.k8s.io/v1)");
		goto out;
	}
	c->rv = (int64_t)json_integer_value(json_object_get(j, "rv"));
	start = json_object_get(j, "start");
	s = json_string_value(start);
	slen = json_string_length(start);
	/* the key, then the NUL that makes it "right after" the key */
	if (!s || slen < 2 || s[slen - 1] != '\0' || memchr(s, '\0', slen - 1)) {
		rc = token_invalid(err, "no start key");
		goto out;
	}
	slash = strchr(s, '/');
	c->ns = slash ? strndup(s, (size_t)(slash - s)) : strdup("");
	c->name = strdup(slash ? slash + 1 : s);
	if (!c->ns || !c->name)
		rc = vim_err_set(err, VIM_ENOMEM, "store: continue: out of memory");
	else if (!*c->name || strchr(c->name, '/'))
		rc = token_invalid(err, "no start key");
out:
	if (rc < 0)
		cursor_clear(c);
	json_decref(j);
	free(raw);
	return rc;
}

/* Replaces *dst by a copy of src (a column's text lives only until the
 * next step). */
static int keep(char **dst, const char *src)
{
	char *copy = strdup(src);

	if (!copy)
		return VIM_ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

/* One list's walk over the range. */
struct walk {
	struct obj_store *s;
	const char *resource;
	struct store_selector *sel;
	store_list_fn fn;
	void *arg;
	int64_t limit, count, token_rv;
	const struct store_kv_range_meta *kmeta;
	bool checked, more;
	char *last_ns, *last_name;
	int stop_rc; /* fn's own positive return */
	struct vim_err *err;
};

/* A token from a list newer than the data: the client's, not ours. */
static int newer_than_store(int64_t token_rv, int64_t rev, struct vim_err *err)
{
	return vim_err_set(err, VIM_EINVAL,
	                   "continue key is not valid: resourceVersion %lld is newer than "
	                   "the store's (%lld)",
	                   (long long)token_rv, (long long)rev);
}

static int corrupt(struct walk *w, const struct store_kv_item *it)
{
	vim_err_set(w->err, VIM_EIO, "store: %s: %s %s/%s: stored JSON is corrupt",
	            w->s->kops->name, w->resource, it->ns, it->name);
	vim_log(VIM_LOG_ERROR, "store: %s: %s %s/%s: stored JSON is corrupt", w->s->kops->name,
	        w->resource, it->ns, it->name);
	return VIM_EIO;
}

static int walk_item(void *arg, const struct store_kv_item *it)
{
	struct walk *w = arg;
	const char *text = it->value;
	size_t len = it->len;
	char *own = NULL, what[96];
	int rc = 0;

	if (!w->checked) {
		w->checked = true;
		if (w->token_rv > w->kmeta->rev)
			return newer_than_store(w->token_rv, w->kmeta->rev, w->err);
	}
	/* the zero-copy path: a value with its resourceVersion goes as stored */
	if (!w->s->kops->value_has_rev &&
	    !(text = own = store_text_with_rv(it->value, it->len, it->mod_rev, &len)))
		return corrupt(w, it);
	if (w->sel) {
		json_t *obj = json_loadb(text, len, 0, NULL);
		bool match = obj && store_selector_match(w->sel, obj);
		json_decref(obj);
		if (!obj) {
			rc = corrupt(w, it);
			goto out;
		}
		if (!match)
			goto out;
	}
	if (w->limit > 0 && w->count == w->limit) {
		w->more = true;
		rc = 1; /* the range counts the rest from here */
		goto out;
	}
	if (w->limit > 0 && (keep(&w->last_ns, it->ns) < 0 || keep(&w->last_name, it->name) < 0)) {
		rc = vim_err_set(w->err, VIM_ENOMEM, "store: list %s: out of memory", w->resource);
		goto out;
	}
	w->count++;
	if ((rc = w->fn(w->arg, text, len)) < 0) {
		/* the reader's own failure: it has no err to fill */
		snprintf(what, sizeof(what), "list %s", w->resource);
		vim_err_set(w->err, rc, "store: %s: the reader failed (%s)", what,
		            vim_code_name(rc));
	} else if (rc > 0) {
		w->stop_rc = rc;
	}
out:
	free(own);
	return rc;
}

/* A list read from the backend's range. */
static int list_range(struct obj_store *s, const char *resource, const struct store_list_opts *o,
                      store_list_fn fn, void *arg, struct store_list_meta *meta,
                      struct vim_err *err)
{
	struct walk w = {.s = s, .resource = resource, .fn = fn, .arg = arg, .err = err};
	struct store_kv_range_meta kmeta = {0};
	struct store_kv_range r = {.resource = resource, .ns = o ? o->ns : NULL};
	struct cursor cur = {0};
	bool paged = o && o->continue_token && *o->continue_token;
	int rc;

	/* The token first: it may point into *meta (the previous page's). */
	if (paged && (rc = token_decode(o->continue_token, &cur, err)) < 0)
		return rc;
	memset(meta, 0, sizeof(*meta));
	meta->remaining = -1;
	if ((rc = store_selector_parse(&w.sel, resource, o ? o->label_selector : NULL,
	                               o ? o->field_selector : NULL, err)) < 0)
		goto out;
	w.limit = o ? o->limit : 0;
	w.token_rv = cur.rv;
	w.kmeta = &kmeta;
	r.after_ns = cur.ns;
	r.after_name = cur.name;
	r.count_rest = w.limit > 0 && !w.sel;
	/* a page and the key after it, which says there are more */
	r.want = w.limit > 0 && !w.sel ? w.limit + 1 : 0;
	/* A local backend has one state and serves every list from it;
	 * a remote one reads a later page, or an Exact list, at its revision. */
	if (cur.rv)
		r.rev = cur.rv;
	else if (!s->kops->local && o && o->resource_version && o->resource_version_match &&
	         strcmp(o->resource_version_match, "Exact") == 0)
		r.rev = strtoll(o->resource_version, NULL, 10);
	rc = s->kops->range(s->kv, &r, walk_item, &w, &kmeta, err);
	if (rc == VIM_EGONE)
		rc = vim_err_set(
		    err, VIM_EGONE, "%s",
		    /* kube's words (etcd3 store), up to where its Status offers a
		     * token for an inconsistent remainder, which ours does not */
		    paged ? "The provided continue parameter is too old to display a "
		            "consistent list result. You can start a new list without the "
		            "continue parameter."
		          : "The resourceVersion for the provided list is too old.");
	if (rc == VIM_EINVAL && paged) {
		/* a backend that keeps revisions (etcd) refuses to read at one
		 * newer than its own: the token's fault, said as sqlite's is */
		int64_t now = 0;
		struct vim_err ignored;

		if (s->kops->current_rev(s->kv, &now, &ignored) == 0 && cur.rv > now)
			rc = newer_than_store(cur.rv, now, err);
	}
	if (rc < 0)
		goto out;
	if (!w.checked && cur.rv > kmeta.rev) {
		rc = newer_than_store(cur.rv, kmeta.rev, err);
		goto out;
	}
	if (w.stop_rc) {
		rc = w.stop_rc;
		goto out;
	}
	if (w.more) {
		if ((rc =
		         token_encode(resource, cur.rv ? cur.rv : kmeta.rev, w.last_ns, w.last_name,
		                      meta->continue_token, sizeof(meta->continue_token), err)) < 0)
			goto out;
		meta->remaining = w.sel ? -1 : kmeta.remaining;
	} else {
		meta->remaining = 0;
	}
	meta->resource_version = cur.rv ? cur.rv : r.rev ? r.rev : kmeta.rev;
out:
	if (rc < 0)
		memset(meta, 0, sizeof(*meta)); /* no token for a failed page */
	store_selector_free(w.sel);
	cursor_clear(&cur);
	free(w.last_ns);
	free(w.last_name);
	return rc;
}

int obj_list(struct store *base, const char *resource, const struct store_list_opts *o,
             store_list_fn fn, void *arg, struct store_list_meta *meta, struct vim_err *err)
{
	struct obj_store *s = (struct obj_store *)base;
	int rc;

	if (s->reads && (rc = s->reads->ops->list(s->reads, resource, o, fn, arg, meta, err)) !=
	                    VIM_EUNSUPPORTED)
		return rc;
	return list_range(s, resource, o, fn, arg, meta, err);
}
