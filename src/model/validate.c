/*
 * model/validate — what a VirtualImage / ClusterVirtualImage must be on
 * create and how it may change on update: the CRD schema, upstream's CEL
 * rules and admission webhook, with upstream's messages where it has them.
 */
#include "model/validate_internal.h"

#include "core/k8sname.h"

#include <string.h>

#define INV "FieldValueInvalid"
#define REQ "FieldValueRequired"
#define UNS "FieldValueNotSupported"
#define FORB "FieldValueForbidden"

void model_apply_defaults(struct model_image *img)
{
	if (img->kind == MODEL_KIND_VI && !img->spec.storage)
		model_set_str(&img->spec.storage, MODEL_STORAGE_CONTAINER_REGISTRY);
}

static bool eq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* A value this server recognises but cannot serve yet: counted apart so
 * the caller can answer "unsupported" rather than "invalid". */
static void unsupported_cause(struct model_causes *c, int *unsupported, const char *field,
                              const char *value, const char *what)
{
	char q[VAL_QUOTE_MAX];

	val_quote(q, sizeof(q), value);
	model_causes_add(c, field, UNS, "Unsupported value: %s: %s is not supported by this server",
	                 q, what);
	(*unsupported)++;
}

/* A reference to another object by name (a secret, an image) or to a
 * namespace: refused at create when no such object can exist, rather than
 * "not found" later, and before it reaches a registry path or a log. */
static void object_name(struct model_causes *c, const char *field, const char *v, bool ns)
{
	struct k8sname_msgs why;
	char q[VAL_QUOTE_MAX];
	size_t i;

	if (!v || !*v)
		return;
	if (ns ? k8sname_dns1123_label(v, strlen(v), &why)
	       : k8sname_dns1123_subdomain(v, strlen(v), &why))
		return;
	val_quote(q, sizeof(q), v);
	for (i = 0; i < why.len; i++)
		model_causes_add(c, field, INV, "Invalid value: %s: %s", q, why.items[i]);
}

static void checksums(const struct model_checksum *cs, const char *base, struct model_causes *c)
{
	static const struct {
		const char *name;
		size_t off, len;
	} algs[] = {
	    {"md5", offsetof(struct model_checksum, md5), 32},
	    {"sha1", offsetof(struct model_checksum, sha1), 40},
	    {"sha256", offsetof(struct model_checksum, sha256), 64},
	    {"sha512", offsetof(struct model_checksum, sha512), 128},
	    {"streebog256", offsetof(struct model_checksum, streebog256), 64},
	    {"streebog512", offsetof(struct model_checksum, streebog512), 128},
	};
	char field[MODEL_FIELD_PATH_MAX], q[VAL_QUOTE_MAX];
	size_t i;

	for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		const char *v = *(char *const *)((const char *)cs + algs[i].off);
		if (!v || val_hex(v, algs[i].len))
			continue;
		snprintf(field, sizeof(field), "%s.checksum.%s", base, algs[i].name);
		val_quote(q, sizeof(q), v);
		model_causes_add(c, field, INV,
		                 "Invalid value: %s: must be %zu hexadecimal characters", q,
		                 algs[i].len);
	}
}

/* upstream's CEL rules: exactly the member named by type. */
static void members(const struct model_data_source *ds, struct model_causes *c)
{
	const char *msg = NULL;
	bool h = ds->http, ci = ds->container_image, o = ds->object_ref, u = ds->upload;

	if (eq(ds->type, MODEL_DS_HTTP) && !(h && !ci && !o && !u))
		msg = "HTTP requires http and cannot have ContainerImage, ObjectRef or Upload.";
	else if (eq(ds->type, MODEL_DS_CONTAINER_IMAGE) && !(ci && !h && !o && !u))
		msg = "ContainerImage requires containerImage and cannot have HTTP, ObjectRef or "
		      "Upload.";
	else if (eq(ds->type, MODEL_DS_OBJECT_REF) && !(o && !h && !ci && !u))
		msg =
		    "ObjectRef requires objectRef and cannot have HTTP, ContainerImage or Upload.";
	else if (eq(ds->type, MODEL_DS_UPLOAD) && (h || ci || o))
		msg = "Upload cannot have HTTP, ContainerImage or ObjectRef.";
	if (msg)
		model_causes_add(c, "spec.dataSource", INV, "Invalid value: \"object\": %s", msg);
}

static void http_source(const struct model_ds_http *h, struct model_causes *c)
{
	char q[VAL_QUOTE_MAX];

	if (!h->url || !*h->url) {
		model_causes_add(c, "spec.dataSource.http.url", REQ, "Required value");
	} else if (!val_http_url(h->url)) {
		val_quote(q, sizeof(q), h->url);
		model_causes_add(c, "spec.dataSource.http.url", INV,
		                 "Invalid value: %s: must be an http:// or https:// URL", q);
	}
	if (h->ca_bundle && *h->ca_bundle && !val_base64(h->ca_bundle))
		model_causes_add(c, "spec.dataSource.http.caBundle", INV,
		                 "Invalid value: \"<bytes>\": must be base64-encoded PEM");
	checksums(&h->checksum, "spec.dataSource.http", c);
}

static void container_image(const struct model_image *img,
                            const struct model_ds_container_image *ci, struct model_causes *c)
{
	char q[VAL_QUOTE_MAX];

	if (!ci->image || !*ci->image) {
		model_causes_add(c, "spec.dataSource.containerImage.image", REQ, "Required value");
	} else if (!val_image_ref(ci->image)) {
		val_quote(q, sizeof(q), ci->image);
		model_causes_add(c, "spec.dataSource.containerImage.image", INV,
		                 "Invalid value: %s: must be an image reference "
		                 "host[:port]/path[:tag][@digest]",
		                 q);
	}
	if (ci->ca_bundle && *ci->ca_bundle && !val_base64(ci->ca_bundle))
		model_causes_add(c, "spec.dataSource.containerImage.caBundle", INV,
		                 "Invalid value: \"<bytes>\": must be base64-encoded PEM");
	object_name(c, "spec.dataSource.containerImage.imagePullSecret.name", ci->pull_secret_name,
	            false);
	object_name(c, "spec.dataSource.containerImage.imagePullSecret.namespace",
	            ci->pull_secret_namespace, true);
	if (img->kind == MODEL_KIND_CVI && ci->pull_secret_name && *ci->pull_secret_name &&
	    (!ci->pull_secret_namespace || !*ci->pull_secret_namespace))
		model_causes_add(c, "spec.dataSource.containerImage.imagePullSecret.namespace", REQ,
		                 "Required value: a ClusterVirtualImage names the namespace of "
		                 "its pull secret");
}

static void object_ref(const struct model_image *img, const struct model_ds_object_ref *o,
                       struct model_causes *c, int *unsupported)
{
	char q[VAL_QUOTE_MAX];
	bool needs_ns;

	if (!o->kind || !*o->kind) {
		model_causes_add(c, "spec.dataSource.objectRef.kind", REQ, "Required value");
	} else if (eq(o->kind, "VirtualDisk") || eq(o->kind, "VirtualDiskSnapshot")) {
		unsupported_cause(c, unsupported, "spec.dataSource.objectRef.kind", o->kind,
		                  "an objectRef of this kind (there are no virtual disks here)");
	} else if (!eq(o->kind, "VirtualImage") && !eq(o->kind, "ClusterVirtualImage")) {
		val_quote(q, sizeof(q), o->kind);
		model_causes_add(
		    c, "spec.dataSource.objectRef.kind", UNS,
		    "Unsupported value: %s: supported values: \"ClusterVirtualImage\", "
		    "\"VirtualImage\"",
		    q);
	}
	if (!o->name || !*o->name)
		model_causes_add(c, "spec.dataSource.objectRef.name", REQ, "Required value");
	object_name(c, "spec.dataSource.objectRef.name", o->name, false);
	if (o->namespace && strlen(o->namespace) <= 63)
		object_name(c, "spec.dataSource.objectRef.namespace", o->namespace, true);
	if (img->kind != MODEL_KIND_CVI)
		return;
	needs_ns = eq(o->kind, "VirtualImage") || eq(o->kind, "VirtualDisk") ||
	           eq(o->kind, "VirtualDiskSnapshot");
	if (needs_ns && (!o->namespace || !*o->namespace))
		model_causes_add(c, "spec.dataSource.objectRef", INV,
		                 "Invalid value: \"object\": The namespace is required for "
		                 "VirtualDisk, VirtualImage and VirtualDiskSnapshot");
	else if (needs_ns && strlen(o->namespace) > 63)
		model_causes_add(c, "spec.dataSource.objectRef", INV,
		                 "Invalid value: \"object\": The namespace must be no longer than "
		                 "63 characters.");
}

static void storage(const struct model_image *img, struct model_causes *c, int *unsupported)
{
	const struct model_spec *s = &img->spec;
	char q[VAL_QUOTE_MAX];

	if (img->kind != MODEL_KIND_VI)
		return;
	if (!s->storage || !*s->storage) {
		model_causes_add(c, "spec.storage", REQ, "Required value");
	} else if (eq(s->storage, MODEL_STORAGE_PVC) || eq(s->storage, MODEL_STORAGE_KUBERNETES)) {
		unsupported_cause(c, unsupported, "spec.storage", s->storage,
		                  "this storage type (only ContainerRegistry, DVCR, is)");
	} else if (!eq(s->storage, MODEL_STORAGE_CONTAINER_REGISTRY)) {
		val_quote(q, sizeof(q), s->storage);
		model_causes_add(c, "spec.storage", UNS,
		                 "Unsupported value: %s: supported values: \"ContainerRegistry\", "
		                 "\"Kubernetes\", \"PersistentVolumeClaim\"",
		                 q);
	}
	if (s->storage_class_name && eq(s->storage, MODEL_STORAGE_CONTAINER_REGISTRY))
		model_causes_add(c, "spec.persistentVolumeClaim.storageClassName", FORB,
		                 "Forbidden: only with PersistentVolumeClaim storage");
}

void val_spec(const struct model_image *img, struct model_causes *c, int *unsupported)
{
	const struct model_data_source *ds = &img->spec.data_source;
	char q[VAL_QUOTE_MAX];

	storage(img, c, unsupported);
	if (!ds->type || !*ds->type) {
		model_causes_add(c, "spec.dataSource.type", REQ, "Required value");
		return;
	}
	if (!eq(ds->type, MODEL_DS_HTTP) && !eq(ds->type, MODEL_DS_CONTAINER_IMAGE) &&
	    !eq(ds->type, MODEL_DS_OBJECT_REF) && !eq(ds->type, MODEL_DS_UPLOAD)) {
		val_quote(q, sizeof(q), ds->type);
		model_causes_add(c, "spec.dataSource.type", UNS,
		                 "Unsupported value: %s: supported values: \"ContainerImage\", "
		                 "\"HTTP\", \"ObjectRef\", \"Upload\"",
		                 q);
		return;
	}
	members(ds, c);
	if (eq(ds->type, MODEL_DS_HTTP) && ds->http)
		http_source(ds->http, c);
	if (eq(ds->type, MODEL_DS_CONTAINER_IMAGE) && ds->container_image)
		container_image(img, ds->container_image, c);
	if (eq(ds->type, MODEL_DS_OBJECT_REF) && ds->object_ref)
		object_ref(img, ds->object_ref, c, unsupported);
	if (eq(ds->type, MODEL_DS_UPLOAD) && ds->upload)
		checksums(&ds->upload->checksum, "spec.dataSource.upload", c);
}

static int verdict(const struct model_causes *c, int unsupported)
{
	if (c->len == 0)
		return 0;
	return (size_t)unsupported == c->len ? VIM_EUNSUPPORTED : VIM_EINVAL;
}

int model_validate_create(const struct model_image *img, struct model_causes *causes)
{
	int unsupported = 0;

	causes->len = 0;
	val_meta_create(img, causes);
	val_spec(img, causes, &unsupported);
	return verdict(causes, unsupported);
}
