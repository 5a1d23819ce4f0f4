/*
 * store/wcache_text — how the watch cache keeps an object's text: raw
 * deflate (zlib, level 1) with a preset dictionary of what every object
 * of ours repeats, when that is smaller, else as it is.
 *
 * Why: the cache holds every object of every resource, and vimaged's RSS
 * budget (300 MiB with 100,000 images) also holds the controllers' own
 * cache.  An image the controllers have worked on is ~1.8 KB of JSON, most
 * of it names and managedFields that every image repeats: kept plain that
 * is ~190 MB for 100,000; deflated with the dictionary ~5 times less.  A
 * list pays one inflate per object (a few µs; the text is served as it
 * was, byte for byte).
 */
#include "store/wcache_internal.h"
#include "core/err.h"

#include <stdlib.h>
#include <string.h>

/* Below this a text is kept as it is: a Namespace's few dozen bytes do
 * not shrink enough to pay for an inflate on every list. */
#define PACK_MIN 192

/* What objects repeat, the most frequent last (deflate reaches back at
 * most 32 KiB, and nearer matches cost fewer bits). */
static const char dictionary[] =
    "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"\",\"labels\":{"
    "\"kubernetes.io/metadata.name\":\"\"}},\"spec\":{\"finalizers\":[\"kubernetes\"]},"
    "\"status\":{\"phase\":\"Active\"}}"
    "{\"apiVersion\":\"v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"\",\"namespace\":\"\","
    "\"uid\":\"\",\"creationTimestamp\":\"\"},\"involvedObject\":{\"kind\":\"VirtualImage\","
    "\"namespace\":\"\",\"name\":\"\",\"uid\":\"\",\"apiVersion\":\"virtualization.deckhouse.io/"
    "v1alpha2\",\"resourceVersion\":\"\"},\"reason\":\"\",\"message\":\"\",\"source\":{"
    "\"component\":\"vimaged\"},\"firstTimestamp\":\"\",\"lastTimestamp\":\"\",\"count\":1,"
    "\"type\":\"Normal\",\"reportingComponent\":\"vimaged\",\"reportingInstance\":\"\"}"
    "\"ClusterVirtualImage\",\"namespace\":\"\",\"spec\":{\"storage\":\"ContainerRegistry\","
    "\"dataSource\":{\"type\":\"ObjectRef\",\"objectRef\":{\"kind\":\"VirtualImage\",\"name\":"
    "\"\"}},\"containerImage\":{\"image\":\"\"},\"type\":\"Upload\"}},"
    "\"f:metadata\":{\"f:labels\":{},\"f:annotations\":{},\"f:finalizers\":{\".\":{},"
    "\"v:\\\"virtualization.deckhouse.io/vi-cleanup\\\"\":{}}},\"f:spec\":{\".\":{},"
    "\"f:storage\":{},\"f:dataSource\":{\".\":{},\"f:type\":{},\"f:http\":{\".\":{},"
    "\"f:url\":{}}}}}},"
    "\"status\":{\"phase\":\"Ready\",\"progress\":\"100%\",\"format\":\"qcow2\",\"size\":{"
    "\"stored\":\"\",\"unpacked\":\"\"},\"target\":{\"registryURL\":\"\"},\"cdrom\":false,"
    "\"observedGeneration\":1,\"imageUploadURLs\":{\"external\":\"\",\"inCluster\":\"\"},"
    "\"conditions\":[{\"type\":\"DatasourceReady\",\"status\":\"True\",\"reason\":\"\","
    "\"message\":\"\",\"lastTransitionTime\":\"\",\"observedGeneration\":1},{\"type\":"
    "\"Ready\",\"status\":\"False\",\"reason\":\"ImportFailed\",\"message\":\"\","
    "\"lastTransitionTime\":\"\",\"observedGeneration\":1}]}}"
    "{\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\",\"apiVersion\":"
    "\"virtualization.deckhouse.io/v1alpha2\",\"time\":\"2026-12-01T00:00:00Z\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":{\".\":{},\"f:phase\":{},"
    "\"f:progress\":{},\"f:size\":{},\"f:format\":{},\"f:target\":{},\"f:observedGeneration\":"
    "{},\"f:conditions\":{\".\":{},\"k:{\\\"type\\\":\\\"Ready\\\"}\":{\".\":{},\"f:type\":{},"
    "\"f:status\":{},\"f:reason\":{},\"f:message\":{},\"f:lastTransitionTime\":{},"
    "\"f:observedGeneration\":{}}}}},\"subresource\":\"status\"},"
    "{\"manager\":\"vimaged\",\"operation\":\"Update\",\"apiVersion\":"
    "\"virtualization.deckhouse.io/v1alpha2\",\"time\":\"2026-12-01T00:00:00Z\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{\"f:finalizers\":{\".\":{},"
    "\"v:\\\"virtualization.deckhouse.io/vi-cleanup\\\"\":{}}}}}"
    "{\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"kind\":\"VirtualImage\","
    "\"metadata\":{\"name\":\"\",\"namespace\":\"default\",\"uid\":\"\",\"resourceVersion\":"
    "\"\",\"generation\":1,\"creationTimestamp\":\"2026-12-01T00:00:00Z\",\"labels\":{},"
    "\"annotations\":{},\"finalizers\":[\"virtualization.deckhouse.io/vi-cleanup\"],"
    "\"managedFields\":[{\"manager\":\"kubectl-create\",\"operation\":\"Update\","
    "\"apiVersion\":\"virtualization.deckhouse.io/v1alpha2\",\"time\":\"2026-12-01T00:00:00Z\","
    "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\".\":{},\"f:storage\":{},"
    "\"f:dataSource\":{\".\":{},\"f:type\":{},\"f:http\":{\".\":{},\"f:url\":{}}}}}}]},"
    "\"spec\":{\"storage\":\"ContainerRegistry\",\"dataSource\":{\"type\":\"HTTP\",\"http\":"
    "{\"url\":\"https://\"}}},\"status\":{\"phase\":\"Failed\",\"progress\":\"0%\","
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\",\"reason\":\"\",\"message\":\"\","
    "\"lastTransitionTime\":\"2026-12-01T00:00:00Z\"}]}}";

void wc_codec_init(struct wc_codec *z)
{
	memset(z, 0, sizeof(*z)); /* the streams start at their first use */
}

void wc_codec_free(struct wc_codec *z)
{
	if (z->def_ok)
		deflateEnd(&z->def);
	if (z->inf_ok)
		inflateEnd(&z->inf);
	free(z->buf);
	memset(z, 0, sizeof(*z));
}

/* z->buf holds at least n bytes. */
static int reserve(struct wc_codec *z, size_t n)
{
	char *b;

	if (n <= z->cap)
		return 0;
	if (!(b = realloc(z->buf, n)))
		return VIM_ENOMEM;
	z->buf = b;
	z->cap = n;
	return 0;
}

struct wc_obj *wc_obj_pack(struct wc_codec *z, const char *text, size_t len)
{
	size_t bound;

	if (len < PACK_MIN || len > UINT32_MAX)
		return wc_obj_new(text, len);
	/* raw deflate (-15): no header or checksum, the length is kept; ~256
	 * KiB of state, made once per codec */
	if (!z->def_ok &&
	    !(z->def_ok = deflateInit2(&z->def, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) == Z_OK))
		return wc_obj_new(text, len);
	if (deflateReset(&z->def) != Z_OK ||
	    deflateSetDictionary(&z->def, (const Bytef *)dictionary, sizeof(dictionary) - 1) !=
	        Z_OK ||
	    reserve(z, bound = deflateBound(&z->def, len)) < 0)
		return wc_obj_new(text, len);
	z->def.next_in = (Bytef *)(uintptr_t)text; /* zlib's API is not const */
	z->def.avail_in = (uInt)len;
	z->def.next_out = (Bytef *)z->buf;
	z->def.avail_out = (uInt)bound;
	if (deflate(&z->def, Z_FINISH) != Z_STREAM_END || z->def.total_out >= len)
		return wc_obj_new(text, len);
	return wc_obj_new_packed(z->buf, z->def.total_out, len);
}

const char *wc_obj_text(struct wc_codec *z, const struct wc_obj *o, size_t *len)
{
	int rc;

	*len = o->len;
	if (!o->packed)
		return o->text;
	/* raw inflate: the dictionary is set before the first byte */
	if (!z->inf_ok && !(z->inf_ok = inflateInit2(&z->inf, -15) == Z_OK))
		return NULL;
	if (reserve(z, (size_t)o->len + 1) < 0 || inflateReset(&z->inf) != Z_OK ||
	    inflateSetDictionary(&z->inf, (const Bytef *)dictionary, sizeof(dictionary) - 1) !=
	        Z_OK)
		return NULL;
	z->inf.next_in = (Bytef *)(uintptr_t)o->text;
	z->inf.avail_in = (uInt)o->size;
	z->inf.next_out = (Bytef *)z->buf;
	z->inf.avail_out = (uInt)o->len;
	rc = inflate(&z->inf, Z_FINISH);
	if (rc != Z_STREAM_END || z->inf.total_out != o->len)
		return NULL; /* our own bytes: only out of memory gets here */
	z->buf[o->len] = '\0';
	return z->buf;
}
