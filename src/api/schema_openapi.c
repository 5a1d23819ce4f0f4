/*
 * api/schema_openapi — the OpenAPI v3 documents kubectl reads for `explain`
 * and for deciding whether to validate client-side.  Schemas are built from
 * flat field tables (one row per property path) so the descriptions and the
 * constraints sit side by side and stay reviewable against api.md.
 */
#include "api/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#define API_SCHEMA_PFX "#/components/schemas/"
#define API_SCHEMA_META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define API_SCHEMA_CORE "io.k8s.api.core.v1."

/* Which kinds a field row applies to: kind bits, so a new kind takes every
 * API_SCHEMA_ALL row and names itself only in the rows that differ. */
#define API_SCHEMA_VI MODEL_KIND_BIT(MODEL_KIND_VI)
#define API_SCHEMA_CVI MODEL_KIND_BIT(MODEL_KIND_CVI)
#define API_SCHEMA_ALL (~0u)

/* One property.  type: "string", "integer", "boolean", "object", "map"
 * (string to string), "[]string", "ref:<schema>", "[]ref:<schema>".
 * enums are '|'-separated.  Rows must list a parent before its children. */
struct api_schema_field {
	unsigned kinds;
	const char *path;
	const char *type;
	const char *description;
	bool required;
	const char *format;
	const char *enums;
	const char *pattern;
	int min_len, max_len;
	/* x-kubernetes-list-type ("set", "map"; NULL = atomic) and, for a
	 * map, its x-kubernetes-list-map-keys: the lists server-side apply
	 * merges by item (model/fieldset.c's list_rules) */
	const char *list_type;
	const char *list_key;
};

/* Rows name the four always-present members; the rest are designated
 * initialisers (.required, .format, .enums, .pattern, .min_len, .max_len). */
#define API_SCHEMA_F(k, p, t, d, ...)                                                              \
	{                                                                                          \
		.kinds = (k), .path = (p), .type = (t), .description = (d), __VA_ARGS__            \
	}

#define API_SCHEMA_HEX(n) "^[0-9a-fA-F]{" #n "}$"

/* Checksum is shared by http and upload: expanded under both prefixes. */
static const struct api_schema_field api_schema_checksum[] = {
    API_SCHEMA_F(API_SCHEMA_ALL, "md5", "string", "MD5 checksum of the file, 32 hex characters.",
                 .pattern = API_SCHEMA_HEX(32), .min_len = 32, .max_len = 32),
    API_SCHEMA_F(API_SCHEMA_ALL, "sha1", "string", "SHA-1 checksum of the file, 40 hex characters.",
                 .pattern = API_SCHEMA_HEX(40), .min_len = 40, .max_len = 40),
    API_SCHEMA_F(API_SCHEMA_ALL, "sha256", "string",
                 "SHA-256 checksum of the file, 64 hex characters.", .pattern = API_SCHEMA_HEX(64),
                 .min_len = 64, .max_len = 64),
    API_SCHEMA_F(API_SCHEMA_ALL, "sha512", "string",
                 "SHA-512 checksum of the file, 128 hex characters.",
                 .pattern = API_SCHEMA_HEX(128), .min_len = 128, .max_len = 128),
    API_SCHEMA_F(API_SCHEMA_ALL, "streebog256", "string",
                 "Streebog (GOST R 34.11-2012) 256-bit checksum of the file, 64 hex characters.",
                 .pattern = API_SCHEMA_HEX(64), .min_len = 64, .max_len = 64),
    API_SCHEMA_F(API_SCHEMA_ALL, "streebog512", "string",
                 "Streebog (GOST R 34.11-2012) 512-bit checksum of the file, 128 hex characters.",
                 .pattern = API_SCHEMA_HEX(128), .min_len = 128, .max_len = 128),
};

static const struct api_schema_field api_schema_image_fields[] = {
    API_SCHEMA_F(API_SCHEMA_ALL, "spec", "object", "The desired state of the image.",
                 .required = true),
    API_SCHEMA_F(
        API_SCHEMA_VI, "spec.storage", "string",
        "Storage type for the image: ContainerRegistry stores it in DVCR (the default), "
        "PersistentVolumeClaim in a PVC; Kubernetes is deprecated. This resource cannot be "
        "modified once it has been created.",
        .required = true, .enums = "ContainerRegistry|PersistentVolumeClaim|Kubernetes"),
    API_SCHEMA_F(
        API_SCHEMA_VI, "spec.persistentVolumeClaim", "object",
        "Settings for creating the PVC that stores the image (PersistentVolumeClaim storage)."),
    API_SCHEMA_F(API_SCHEMA_VI, "spec.persistentVolumeClaim.storageClassName", "string",
                 "Name of the StorageClass for the PVC; the cluster default when not set."),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource", "object",
                 "The origin of the image. Exactly the member named by type must be set.",
                 .required = true),
    API_SCHEMA_F(API_SCHEMA_VI, "spec.dataSource.type", "string",
                 "The type of the data source: HTTP, ContainerImage, ObjectRef or Upload.",
                 .enums = "HTTP|ContainerImage|ObjectRef|Upload"),
    API_SCHEMA_F(API_SCHEMA_CVI, "spec.dataSource.type", "string",
                 "The type of the data source: HTTP, ContainerImage, ObjectRef or Upload.",
                 .required = true, .enums = "HTTP|ContainerImage|ObjectRef|Upload"),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.http", "object",
        "Fill this field to import an image from an HTTP server. Supported formats: qcow2, "
        "vmdk, vdi, iso, raw; each may be compressed with gz or xz."),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.http.url", "string",
                 "A URL of the file to import, http:// or https://.", .required = true,
                 .pattern =
                     "^http[s]?:\\/\\/"
                     "(?:[a-zA-Z]|[0-9]|[$-_@.&+]|[!*\\(\\),]|(?:%[0-9a-fA-F][0-9a-fA-F]))+$"),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.http.caBundle", "string",
                 "A base64-encoded PEM CA chain to verify the HTTPS server's certificate.",
                 .format = "byte"),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.http.checksum", "object",
                 "Checksums of the downloaded file. The file must match all specified checksums."),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.containerImage", "object",
        "Use an image stored in an external container registry. Only registries with enabled "
        "TLS protocol are supported."),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.containerImage.image", "string",
        "The container image reference: host[:port]/path[:tag][@digest].", .required = true,
        .pattern =
            "^(?P<name>(?:(?P<domain>(?:(?:localhost|[\\w-]+(?:\\.[\\w-]+)+)(?::\\d+)?)|[\\w]+:\\d+"
            ")"
            "/)?(?P<image>[a-z0-9_.-]+(?:/"
            "[a-z0-9_.-]+)*))(?::(?P<tag>[\\w][\\w.-]{0,127}))?(?:@(?P<"
            "digest>[A-Za-z][A-Za-z0-9]*(?:[+.-_][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}))?$"),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.containerImage.imagePullSecret", "object",
                 "The Secret holding the credentials for the container registry."),
    API_SCHEMA_F(API_SCHEMA_VI, "spec.dataSource.containerImage.imagePullSecret.name", "string",
                 "Name of the Secret; it must be in the image's namespace."),
    API_SCHEMA_F(API_SCHEMA_CVI, "spec.dataSource.containerImage.imagePullSecret.name", "string",
                 "Name of the Secret holding the registry credentials."),
    API_SCHEMA_F(API_SCHEMA_CVI, "spec.dataSource.containerImage.imagePullSecret.namespace",
                 "string", "Namespace of the Secret."),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.containerImage.caBundle", "string",
                 "A base64-encoded PEM CA chain to verify the container registry.",
                 .format = "byte"),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.objectRef", "object",
                 "Use an existing image as the source: its data is copied into this one."),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.objectRef.kind", "string",
        "The kind of the source object: ClusterVirtualImage or VirtualImage (VirtualDisk and "
        "VirtualDiskSnapshot are not served by this system).",
        .required = true,
        .enums = "ClusterVirtualImage|VirtualImage|VirtualDisk|VirtualDiskSnapshot"),
    API_SCHEMA_F(API_SCHEMA_ALL, "spec.dataSource.objectRef.name", "string",
                 "The name of the source object.", .required = true, .min_len = 1),
    API_SCHEMA_F(
        API_SCHEMA_CVI, "spec.dataSource.objectRef.namespace", "string",
        "The namespace of the source object; required for namespaced kinds (VirtualImage).",
        .max_len = 63),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.upload", "object",
        "Upload the image from a client: the status then shows the upload URLs (may be empty)."),
    API_SCHEMA_F(
        API_SCHEMA_ALL, "spec.dataSource.upload.checksum", "object",
        "Checksums calculated over the bytes the client sends, before any conversion of the "
        "image. The file must match all specified checksums."),

    API_SCHEMA_F(API_SCHEMA_ALL, "status", "object",
                 "The observed state of the image; set by the server."),
    API_SCHEMA_F(
        API_SCHEMA_VI, "status.phase", "string",
        "The current phase of the image: Pending, Provisioning, WaitForUserUpload, Ready, "
        "Failed, Terminating, ImageLost or PVCLost.",
        .enums =
            "Pending|Provisioning|WaitForUserUpload|Ready|Failed|Terminating|ImageLost|PVCLost"),
    API_SCHEMA_F(API_SCHEMA_CVI, "status.phase", "string",
                 "The current phase of the image: Pending, Provisioning, WaitForUserUpload, Ready, "
                 "Failed, Terminating or ImageLost.",
                 .enums =
                     "Pending|Provisioning|WaitForUserUpload|Ready|Failed|Terminating|ImageLost"),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.conditions", "[]ref:" API_SCHEMA_META "Condition",
                 "The latest available observations of the image's state (Ready, DatasourceReady, "
                 "Terminating).",
                 .list_type = "map", .list_key = "type"),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.observedGeneration", "integer",
                 "The generation last processed by the controller.", .format = "int64"),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.progress", "string",
                 "Import progress in percent, e.g. \"47.6%\"; \"100%\" once Ready."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.downloadSpeed", "object",
                 "Image download speed from an external source. Appears only during Provisioning."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.downloadSpeed.avg", "string",
                 "Average speed, e.g. \"1 Mbps\"."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.downloadSpeed.avgBytes", "string",
                 "Average speed in bytes per second."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.downloadSpeed.current", "string", "Current speed."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.downloadSpeed.currentBytes", "string",
                 "Current speed in bytes per second."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.size", "object", "Sizes of the discovered image."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.size.stored", "string",
                 "Size of the image as stored in DVCR, human readable (e.g. \"199.8Mi\")."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.size.storedBytes", "string", "Stored size in bytes."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.size.unpacked", "string",
                 "Virtual (unpacked) size of the disk, human readable (e.g. \"2Gi\")."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.size.unpackedBytes", "string", "Unpacked size in bytes."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.format", "string",
                 "The discovered image format: qcow2, raw, iso, vmdk, vdi, vpc or vhdx."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.cdrom", "boolean",
                 "Whether the image must be attached as a CD-ROM (an iso image)."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.target", "object", "Where the image data is stored."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.target.registryURL", "string",
                 "The image in DVCR: <dvcr-host>/vi/<namespace>/<name>:<uid> for a VirtualImage, "
                 "<dvcr-host>/cvi/<name>:<uid> for a ClusterVirtualImage."),
    API_SCHEMA_F(API_SCHEMA_VI, "status.target.persistentVolumeClaimName", "string",
                 "The PVC holding the image (PersistentVolumeClaim storage only)."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.uploadCommand", "string",
                 "Deprecated: use imageUploadURLs. A ready command to upload the image."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.imageUploadURLs", "object",
                 "Where to upload the image (Upload data source, while WaitForUserUpload)."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.imageUploadURLs.external", "string",
                 "Upload URL reachable from outside the cluster."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.imageUploadURLs.inCluster", "string",
                 "Upload URL reachable from inside the cluster."),
    API_SCHEMA_F(API_SCHEMA_ALL, "status.sourceUID", "string",
                 "The UID of the source object (ObjectRef data source)."),
    API_SCHEMA_F(API_SCHEMA_VI, "status.storageClassName", "string",
                 "The StorageClass of the PVC (PersistentVolumeClaim storage only)."),
    API_SCHEMA_F(API_SCHEMA_CVI, "status.usedInNamespaces", "[]string",
                 "The namespaces where the image is in use."),
};

static const struct api_schema_field api_schema_object_meta[] = {
    API_SCHEMA_F(1, "name", "string", "Name must be unique within a namespace."),
    API_SCHEMA_F(
        1, "generateName", "string",
        "Optional prefix the server uses to generate a unique name when name is not given."),
    API_SCHEMA_F(1, "namespace", "string",
                 "The namespace of a namespaced object; empty for cluster "
                 "objects."),
    API_SCHEMA_F(1, "uid", "string", "The unique in time and space value for this object."),
    API_SCHEMA_F(1, "resourceVersion", "string",
                 "An opaque value for optimistic concurrency, change detection and watches."),
    API_SCHEMA_F(1, "generation", "integer",
                 "A sequence number of the desired state; set by the server.", .format = "int64"),
    API_SCHEMA_F(1, "creationTimestamp", "ref:" API_SCHEMA_META "Time",
                 "When the object was created; set by the server."),
    API_SCHEMA_F(1, "deletionTimestamp", "ref:" API_SCHEMA_META "Time",
                 "When the object will be deleted; set by the server once deletion is requested."),
    API_SCHEMA_F(1, "deletionGracePeriodSeconds", "integer",
                 "Seconds allowed for graceful termination.", .format = "int64"),
    API_SCHEMA_F(1, "labels", "map",
                 "Map of string keys and values to organize and select objects."),
    API_SCHEMA_F(1, "annotations", "map", "Unstructured key value map of arbitrary metadata."),
    API_SCHEMA_F(1, "finalizers", "[]string",
                 "Conditions that must be cleared before the object is removed.",
                 .list_type = "set"),
    API_SCHEMA_F(1, "ownerReferences", "[]ref:" API_SCHEMA_META "OwnerReference",
                 "Objects this object depends on.", .list_type = "map", .list_key = "uid"),
    API_SCHEMA_F(1, "managedFields", "[]ref:" API_SCHEMA_META "ManagedFieldsEntry",
                 "Which manager owns which fields; used by server-side apply."),
};

static const struct api_schema_field api_schema_owner_ref[] = {
    API_SCHEMA_F(1, "apiVersion", "string", "API version of the referent.", .required = true),
    API_SCHEMA_F(1, "kind", "string", "Kind of the referent.", .required = true),
    API_SCHEMA_F(1, "name", "string", "Name of the referent.", .required = true),
    API_SCHEMA_F(1, "uid", "string", "UID of the referent.", .required = true),
    API_SCHEMA_F(1, "controller", "boolean",
                 "If true, this reference points to the managing controller."),
    API_SCHEMA_F(1, "blockOwnerDeletion", "boolean",
                 "If true, the owner cannot be deleted before this."),
};

static const struct api_schema_field api_schema_managed[] = {
    API_SCHEMA_F(1, "manager", "string", "The workflow managing the fields."),
    API_SCHEMA_F(1, "operation", "string", "Apply or Update."),
    API_SCHEMA_F(1, "apiVersion", "string", "The version of the fields' resource."),
    API_SCHEMA_F(1, "time", "ref:" API_SCHEMA_META "Time", "When the entry was added."),
    API_SCHEMA_F(1, "fieldsType", "string", "The format of fieldsV1: FieldsV1."),
    API_SCHEMA_F(1, "fieldsV1", "object", "The set of fields managed, in FieldsV1 format."),
    API_SCHEMA_F(1, "subresource", "string", "The subresource used to update the object."),
};

static const struct api_schema_field api_schema_list_meta[] = {
    API_SCHEMA_F(1, "resourceVersion", "string", "The version of the list, for watches."),
    API_SCHEMA_F(1, "continue", "string", "Token to fetch the next page of a chunked list."),
    API_SCHEMA_F(1, "remainingItemCount", "integer", "Number of items not yet returned.",
                 .format = "int64"),
    API_SCHEMA_F(1, "selfLink", "string", "Deprecated; not set."),
};

static const struct api_schema_field api_schema_condition[] = {
    API_SCHEMA_F(1, "type", "string", "Type of the condition (e.g. Ready).", .required = true),
    API_SCHEMA_F(1, "status", "string", "Status of the condition: True, False or Unknown.",
                 .required = true),
    API_SCHEMA_F(1, "reason", "string", "A CamelCase reason for the last transition.",
                 .required = true),
    API_SCHEMA_F(1, "message", "string", "A human readable message about the transition.",
                 .required = true),
    API_SCHEMA_F(1, "lastTransitionTime", "ref:" API_SCHEMA_META "Time",
                 "When the condition last changed status.", .required = true),
    API_SCHEMA_F(1, "observedGeneration", "integer", "The generation the condition was set for.",
                 .format = "int64"),
};

static const struct api_schema_field api_schema_event[] = {
    API_SCHEMA_F(1, "involvedObject", "object", "The object this event is about.",
                 .required = true),
    API_SCHEMA_F(1, "involvedObject.apiVersion", "string", "API version of the referent."),
    API_SCHEMA_F(1, "involvedObject.kind", "string", "Kind of the referent."),
    API_SCHEMA_F(1, "involvedObject.name", "string", "Name of the referent."),
    API_SCHEMA_F(1, "involvedObject.namespace", "string", "Namespace of the referent."),
    API_SCHEMA_F(1, "involvedObject.uid", "string", "UID of the referent."),
    API_SCHEMA_F(1, "involvedObject.resourceVersion", "string",
                 "Resource version of the referent."),
    API_SCHEMA_F(1, "involvedObject.fieldPath", "string", "A part of the referent, if any."),
    API_SCHEMA_F(1, "reason", "string", "A short machine-readable reason (e.g. VirtualImageLost)."),
    API_SCHEMA_F(1, "message", "string", "A human-readable description of the event."),
    API_SCHEMA_F(1, "type", "string", "Normal or Warning.", .enums = "Normal|Warning"),
    API_SCHEMA_F(1, "count", "integer", "How many times the event occurred.", .format = "int32"),
    API_SCHEMA_F(1, "firstTimestamp", "ref:" API_SCHEMA_META "Time",
                 "When the event first occurred."),
    API_SCHEMA_F(1, "lastTimestamp", "ref:" API_SCHEMA_META "Time",
                 "When the event last occurred."),
    API_SCHEMA_F(1, "eventTime", "string", "When the event first occurred, in microseconds.",
                 .format = "date-time"),
    API_SCHEMA_F(1, "source", "object", "The component reporting the event."),
    API_SCHEMA_F(1, "source.component", "string", "Component from which the event is generated."),
    API_SCHEMA_F(1, "source.host", "string", "Node name on which the event is generated."),
    API_SCHEMA_F(1, "reportingComponent", "string",
                 "Name of the controller that emitted the event."),
    API_SCHEMA_F(1, "reportingInstance", "string", "ID of the controller instance."),
    API_SCHEMA_F(1, "action", "string", "What action was taken or failed."),
};

static const struct api_schema_field api_schema_namespace[] = {
    API_SCHEMA_F(1, "spec", "object", "The desired state of the namespace."),
    API_SCHEMA_F(1, "spec.finalizers", "[]string",
                 "Finalizers that must be cleared before removal."),
    API_SCHEMA_F(1, "status", "object", "The observed state of the namespace."),
    API_SCHEMA_F(1, "status.phase", "string", "Active or Terminating.",
                 .enums = "Active|Terminating"),
};

static const struct api_schema_field api_schema_status[] = {
    API_SCHEMA_F(1, "status", "string", "Success or Failure."),
    API_SCHEMA_F(1, "message", "string", "A human-readable description of the status."),
    API_SCHEMA_F(1, "reason", "string", "A machine-readable reason (NotFound, Conflict, ...)."),
    API_SCHEMA_F(1, "code", "integer", "The HTTP status code.", .format = "int32"),
    API_SCHEMA_F(1, "details", "object", "Extended data about the reason (name, kind, causes)."),
    API_SCHEMA_F(1, "metadata", "ref:" API_SCHEMA_META "ListMeta", "Standard list metadata."),
};

#define API_SCHEMA_N(a) (sizeof(a) / sizeof((a)[0]))

static json_t *api_schema_ref(const char *name)
{
	char ref[256];
	snprintf(ref, sizeof(ref), API_SCHEMA_PFX "%s", name);
	return json_pack("{s:s}", "$ref", ref);
}

/* A property node for a row (without its children). */
static json_t *api_schema_node(const struct api_schema_field *f)
{
	json_t *n;
	const char *t = f->type;

	if (!strncmp(t, "[]ref:", 6))
		/* allOf around $ref: OpenAPI 3.0 ignores $ref siblings, and this
		 * is how the API server publishes references. */
		n = json_pack("{s:s, s:{s:[o], s:{}}}", "type", "array", "items", "allOf",
		              api_schema_ref(t + 6), "default");
	else if (!strncmp(t, "ref:", 4))
		n = json_pack("{s:[o]}", "allOf", api_schema_ref(t + 4));
	else if (!strcmp(t, "[]string"))
		n = json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type", "string");
	else if (!strcmp(t, "map"))
		n = json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties", "type",
		              "string");
	else
		n = json_pack("{s:s}", "type", t);
	if (f->description)
		json_object_set_new(n, "description", json_string(f->description));
	if (f->format)
		json_object_set_new(n, "format", json_string(f->format));
	if (f->pattern)
		json_object_set_new(n, "pattern", json_string(f->pattern));
	if (f->min_len)
		json_object_set_new(n, "minLength", json_integer(f->min_len));
	if (f->max_len)
		json_object_set_new(n, "maxLength", json_integer(f->max_len));
	if (f->list_type)
		json_object_set_new(n, "x-kubernetes-list-type", json_string(f->list_type));
	if (f->list_key)
		json_object_set_new(n, "x-kubernetes-list-map-keys", json_pack("[s]", f->list_key));
	if (f->enums) {
		json_t *e = json_array();
		for (const char *p = f->enums; *p;) {
			const char *bar = strchr(p, '|');
			size_t len = bar ? (size_t)(bar - p) : strlen(p);
			json_array_append_new(e, json_stringn(p, len));
			p += len + (bar ? 1 : 0);
		}
		json_object_set_new(n, "enum", e);
	}
	return n;
}

/* Places a row at its dotted path under root (an object schema); parents
 * come earlier in the tables, a missing one is made a plain object. */
static void api_schema_place(json_t *root, const char *prefix, const struct api_schema_field *f)
{
	char path[256];
	json_t *parent = root;
	char *seg = path;

	snprintf(path, sizeof(path), "%s%s", prefix, f->path);
	for (char *dot; (dot = strchr(seg, '.')) != NULL; seg = dot + 1) {
		json_t *props = json_object_get(parent, "properties");
		json_t *child;
		*dot = '\0';
		child = props ? json_object_get(props, seg) : NULL;
		if (!child) {
			child = json_pack("{s:s}", "type", "object");
			if (!props) {
				props = json_object();
				json_object_set_new(parent, "properties", props);
			}
			json_object_set_new(props, seg, child);
		}
		parent = child;
	}
	json_t *props = json_object_get(parent, "properties");
	if (!props) {
		props = json_object();
		json_object_set_new(parent, "properties", props);
	}
	json_object_set_new(props, seg, api_schema_node(f));
	if (f->required) {
		json_t *req = json_object_get(parent, "required");
		if (!req) {
			req = json_array();
			json_object_set_new(parent, "required", req);
		}
		json_array_append_new(req, json_string(seg));
	}
}

static void api_schema_place_all(json_t *root, const char *prefix,
                                 const struct api_schema_field *rows, size_t n, unsigned kinds)
{
	for (size_t i = 0; i < n; i++)
		if (rows[i].kinds & kinds)
			api_schema_place(root, prefix, &rows[i]);
}

static json_t *api_schema_gvk(const char *group, const char *version, const char *kind)
{
	return json_pack("{s:s, s:s, s:s}", "group", group, "kind", kind, "version", version);
}

/* A top-level kind schema: apiVersion, kind, metadata plus the rows. */
static json_t *api_schema_kind(const char *description, const char *group, const char *version,
                               const char *kind, const struct api_schema_field *rows, size_t n,
                               unsigned kinds)
{
	json_t *s = json_pack(
	    "{s:s, s:s, s:[o], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:[o], s:{}, s:s}}}", "type",
	    "object", "description", description, "x-kubernetes-group-version-kind",
	    api_schema_gvk(group, version, kind), "properties", "apiVersion", "type", "string",
	    "description", "APIVersion defines the versioned schema of this representation.",
	    "kind", "type", "string", "description",
	    "Kind is a string value representing the REST resource this object represents.",
	    "metadata", "allOf", api_schema_ref(API_SCHEMA_META "ObjectMeta"), "default",
	    "description", "Standard object's metadata.");
	api_schema_place_all(s, "", rows, n, kinds);
	return s;
}

static json_t *api_schema_list(const char *group, const char *version, const char *kind,
                               const char *item_schema)
{
	char list_kind[64], description[128];
	snprintf(list_kind, sizeof(list_kind), "%sList", kind);
	snprintf(description, sizeof(description), "A list of %s objects.", kind);
	return json_pack(
	    "{s:s, s:s, s:[s], s:[o], s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, "
	    "s:s, s:{s:[o], s:{}}}, s:{s:[o], s:{}, s:s}}}",
	    "type", "object", "description", description, "required", "items",
	    "x-kubernetes-group-version-kind", api_schema_gvk(group, version, list_kind),
	    "properties", "apiVersion", "type", "string", "description",
	    "APIVersion defines the versioned schema of this representation.", "kind", "type",
	    "string", "description", "Kind of the list.", "items", "type", "array", "description",
	    "The objects of the list.", "items", "allOf", api_schema_ref(item_schema), "default",
	    "metadata", "allOf", api_schema_ref(API_SCHEMA_META "ListMeta"), "default",
	    "description", "Standard list metadata.");
}

static json_t *api_schema_plain(const char *description, const struct api_schema_field *rows,
                                size_t n)
{
	json_t *s = json_pack("{s:s, s:s}", "type", "object", "description", description);
	api_schema_place_all(s, "", rows, n, 1);
	return s;
}

/* The metav1 schemas both documents reference. */
static void api_schema_add_meta(json_t *schemas)
{
	json_object_set_new(schemas, API_SCHEMA_META "ObjectMeta",
	                    api_schema_plain("Standard object metadata.", api_schema_object_meta,
	                                     API_SCHEMA_N(api_schema_object_meta)));
	json_object_set_new(schemas, API_SCHEMA_META "ListMeta",
	                    api_schema_plain("Metadata of a list.", api_schema_list_meta,
	                                     API_SCHEMA_N(api_schema_list_meta)));
	json_object_set_new(schemas, API_SCHEMA_META "Condition",
	                    api_schema_plain("One aspect of the current state of the resource.",
	                                     api_schema_condition,
	                                     API_SCHEMA_N(api_schema_condition)));
	json_object_set_new(schemas, API_SCHEMA_META "OwnerReference",
	                    api_schema_plain("An object that owns this one.", api_schema_owner_ref,
	                                     API_SCHEMA_N(api_schema_owner_ref)));
	json_object_set_new(schemas, API_SCHEMA_META "ManagedFieldsEntry",
	                    api_schema_plain("A field manager and the fields it owns.",
	                                     api_schema_managed, API_SCHEMA_N(api_schema_managed)));
	json_object_set_new(schemas, API_SCHEMA_META "Time",
	                    json_pack("{s:s, s:s, s:s}", "type", "string", "format", "date-time",
	                              "description", "RFC 3339 time with second precision."));
	json_object_set_new(schemas, API_SCHEMA_META "Status",
	                    api_schema_plain("The result of an operation that returns no object.",
	                                     api_schema_status, API_SCHEMA_N(api_schema_status)));
}

/* ---- paths ----------------------------------------------------------------- */

struct api_schema_res {
	const char *group, *version, *kind, *plural, *schema;
	bool namespaced, has_status;
};

static json_t *api_schema_param(const char *name, const char *in, const char *description)
{
	return json_pack("{s:s, s:s, s:s, s:b, s:{s:s, s:b}}", "name", name, "in", in,
	                 "description", description, "required", !strcmp(in, "path"), "schema",
	                 "type", "string", "uniqueItems", 1);
}

/* action: get, list, post, put, patch, delete, deletecollection. */
static json_t *api_schema_op(const struct api_schema_res *r, const char *action, const char *op_id,
                             const char *schema)
{
	bool write = !strcmp(action, "post") || !strcmp(action, "put") || !strcmp(action, "patch");
	json_t *params = json_array();
	json_t *content =
	    json_pack("{s:{s:o}}", "application/json", "schema", api_schema_ref(schema));
	json_t *op =
	    json_pack("{s:s, s:s, s:{s:{s:s, s:o}}, s:s, s:o}", "operationId", op_id, "description",
	              op_id, "responses", "200", "description", "OK", "content", content,
	              "x-kubernetes-action", action, "x-kubernetes-group-version-kind",
	              api_schema_gvk(r->group, r->version, r->kind));

	if (write) {
		/* kubectl looks for fieldValidation on the write operations of a
		 * kind; with it, it leaves validation to the server. */
		json_array_append_new(
		    params, api_schema_param("fieldValidation", "query",
		                             "Ignore, Warn or Strict: what to do with unknown or "
		                             "duplicate fields."));
		json_array_append_new(
		    params, api_schema_param("dryRun", "query", "All: do not persist the change."));
		json_array_append_new(params,
		                      api_schema_param("fieldManager", "query",
		                                       "Name of the actor making the change."));
		json_object_set_new(op, "requestBody",
		                    json_pack("{s:O, s:b}", "content", content, "required", 1));
	}
	if (!strcmp(action, "list"))
		json_array_append_new(
		    params, api_schema_param("labelSelector", "query", "Select objects by label."));
	json_object_set_new(op, "parameters", params);
	return op;
}

static void api_schema_add_paths(json_t *paths, const struct api_schema_res *r)
{
	char base[256], item[300], status[320], id[128], list_schema[160];
	const char *root = *r->group ? "/apis/" : "/api/";
	const char *gsep = *r->group ? "/" : "";

	snprintf(list_schema, sizeof(list_schema), "%sList", r->schema);
	if (r->namespaced)
		snprintf(base, sizeof(base), "%s%s%s%s/namespaces/{namespace}/%s", root, r->group,
		         gsep, r->version, r->plural);
	else
		snprintf(base, sizeof(base), "%s%s%s%s/%s", root, r->group, gsep, r->version,
		         r->plural);
	snprintf(item, sizeof(item), "%s/{name}", base);
	snprintf(status, sizeof(status), "%s/status", item);

	json_t *coll = json_object();
	snprintf(id, sizeof(id), "list%s", r->kind);
	json_object_set_new(coll, "get", api_schema_op(r, "list", id, list_schema));
	snprintf(id, sizeof(id), "create%s", r->kind);
	json_object_set_new(coll, "post", api_schema_op(r, "post", id, r->schema));
	snprintf(id, sizeof(id), "deleteCollection%s", r->kind);
	json_object_set_new(coll, "delete",
	                    api_schema_op(r, "deletecollection", id, API_SCHEMA_META "Status"));
	json_object_set_new(paths, base, coll);

	json_t *one = json_object();
	snprintf(id, sizeof(id), "read%s", r->kind);
	json_object_set_new(one, "get", api_schema_op(r, "get", id, r->schema));
	snprintf(id, sizeof(id), "replace%s", r->kind);
	json_object_set_new(one, "put", api_schema_op(r, "put", id, r->schema));
	snprintf(id, sizeof(id), "patch%s", r->kind);
	json_object_set_new(one, "patch", api_schema_op(r, "patch", id, r->schema));
	snprintf(id, sizeof(id), "delete%s", r->kind);
	json_object_set_new(one, "delete",
	                    api_schema_op(r, "delete", id, API_SCHEMA_META "Status"));
	json_object_set_new(paths, item, one);

	if (!r->has_status)
		return;
	json_t *st = json_object();
	snprintf(id, sizeof(id), "read%sStatus", r->kind);
	json_object_set_new(st, "get", api_schema_op(r, "get", id, r->schema));
	snprintf(id, sizeof(id), "replace%sStatus", r->kind);
	json_object_set_new(st, "put", api_schema_op(r, "put", id, r->schema));
	snprintf(id, sizeof(id), "patch%sStatus", r->kind);
	json_object_set_new(st, "patch", api_schema_op(r, "patch", id, r->schema));
	json_object_set_new(paths, status, st);
}

static json_t *api_schema_doc(const char *title, json_t *paths, json_t *schemas)
{
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
	                 title, "version", "v1.32.0", "paths", paths, "components", "schemas",
	                 schemas);
}

json_t *api_schema_openapi_v3_group(void)
{
	/* The checksum block appears twice; expanded for each kind. */
	static const char *const sums[] = {"spec.dataSource.http.checksum.",
	                                   "spec.dataSource.upload.checksum."};
	json_t *schemas = json_object();
	json_t *paths = json_object();
	int i;

	/* Every kind's schema first, then every list and the paths: the
	 * document's member order, which the ?hash= key covers. */
	for (i = 0; i < MODEL_KIND__COUNT; i++) {
		const struct model_kind_info *k = model_kind_info((enum model_kind)i);
		json_t *ks = api_schema_kind(
		    k->description, k->group, k->version, k->name, api_schema_image_fields,
		    API_SCHEMA_N(api_schema_image_fields), MODEL_KIND_BIT(k->kind));
		for (size_t j = 0; j < API_SCHEMA_N(sums); j++)
			api_schema_place_all(ks, sums[j], api_schema_checksum,
			                     API_SCHEMA_N(api_schema_checksum),
			                     MODEL_KIND_BIT(k->kind));
		json_object_set_new(schemas, k->schema_name, ks);
	}
	for (i = 0; i < MODEL_KIND__COUNT; i++) {
		const struct model_kind_info *k = model_kind_info((enum model_kind)i);
		const struct api_schema_res r = {k->group,     k->version,     k->name,
		                                 k->plural,    k->schema_name, k->namespaced,
		                                 k->has_status};
		char name[160];
		snprintf(name, sizeof(name), "%sList", r.schema);
		json_object_set_new(schemas, name,
		                    api_schema_list(r.group, r.version, r.kind, r.schema));
		api_schema_add_paths(paths, &r);
	}
	api_schema_add_meta(schemas);
	return api_schema_doc("Kubernetes", paths, schemas);
}

json_t *api_schema_openapi_v3_core(void)
{
	static const struct api_schema_res res[] = {
	    {"", "v1", "Event", "events", API_SCHEMA_CORE "Event", true, false},
	    {"", "v1", "Namespace", "namespaces", API_SCHEMA_CORE "Namespace", false, false},
	};
	json_t *schemas = json_object();
	json_t *paths = json_object();

	json_object_set_new(schemas, API_SCHEMA_CORE "Event",
	                    api_schema_kind("A report of an event somewhere in the cluster.", "",
	                                    "v1", "Event", api_schema_event,
	                                    API_SCHEMA_N(api_schema_event), 1));
	json_object_set_new(schemas, API_SCHEMA_CORE "Namespace",
	                    api_schema_kind("Namespace provides a scope for names.", "", "v1",
	                                    "Namespace", api_schema_namespace,
	                                    API_SCHEMA_N(api_schema_namespace), 1));
	for (size_t i = 0; i < API_SCHEMA_N(res); i++) {
		char name[160];
		snprintf(name, sizeof(name), "%sList", res[i].schema);
		json_object_set_new(
		    schemas, name,
		    api_schema_list(res[i].group, res[i].version, res[i].kind, res[i].schema));
		api_schema_add_paths(paths, &res[i]);
	}
	api_schema_add_meta(schemas);
	return api_schema_doc("Kubernetes", paths, schemas);
}

/* FNV-1a 64 over the compact, key-sorted text: stable across builds as long
 * as the document is, which is all the ?hash= cache key needs. */
static void api_schema_hash(json_t *doc, char *out, size_t outlen)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	uint64_t h = 14695981039346656037ULL;
	for (const char *p = text; p && *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	snprintf(out, outlen, "%016llX", (unsigned long long)h);
	free(text);
	json_decref(doc);
}

json_t *api_schema_openapi_v3_index(void)
{
	char hg[32], hc[32], ug[160], uc[96];

	api_schema_hash(api_schema_openapi_v3_group(), hg, sizeof(hg));
	api_schema_hash(api_schema_openapi_v3_core(), hc, sizeof(hc));
	snprintf(ug, sizeof(ug), "/openapi/v3/apis/%s/%s?hash=%s", MODEL_GROUP, MODEL_VERSION, hg);
	snprintf(uc, sizeof(uc), "/openapi/v3/api/v1?hash=%s", hc);
	return json_pack("{s:{s:{s:s}, s:{s:s}}}", "paths", "apis/" MODEL_API_VERSION,
	                 "serverRelativeURL", ug, "api/v1", "serverRelativeURL", uc);
}

/*
 * GET /openapi/v2 (and /swagger-2.0.0.pb-v1), protobuf
 * (application/com.github.proto-openapi.spec.v2@v1.0+protobuf).  kubectl
 * 1.27/1.28 load the v2 document before explain/apply and fail when it is
 * missing, but only need it to parse: they then take the schemas and the
 * fieldValidation check from OpenAPI v3.  So this is a minimal gnostic
 * openapi_v2.Document: swagger (1) = "2.0", info (2) = {title (1), version
 * (2)}.
 */
const unsigned char *api_schema_openapi_v2_pb(size_t *len)
{
	static const unsigned char doc[] = {
	    0x0a, 0x03, '2', '.', '0',                                    /* swagger */
	    0x12, 0x15,                                                   /* info, 21 bytes */
	    0x0a, 0x0a, 'K', 'u', 'b', 'e', 'r', 'n', 'e', 't', 'e', 's', /* title */
	    0x12, 0x07, 'v', '1', '.', '3', '2', '.', '0',                /* version */
	};
	if (len)
		*len = sizeof(doc);
	return doc;
}
