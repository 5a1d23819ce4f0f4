/*
 * model — VirtualImage and ClusterVirtualImage (virtualization.deckhouse.io/
 * v1alpha2) as C structs: the data, its JSON/YAML codecs, validation, the
 * condition rules and the DVCR address of an image.
 *
 * Ownership: a struct model_image owns every string and array below it;
 * model_image_free() frees them all.  Strings are NUL-terminated heap copies
 * or NULL for "absent" (absent and "" are different for the spec: an absent
 * member is not encoded, "" is).  Nothing in this module does I/O.
 *
 * Spec enum-like fields (storage, dataSource.type, objectRef.kind) are kept as
 * the text the user sent, so validation can name the bad value and a round
 * trip is exact; status.phase is an enum because only the server writes it.
 */
#ifndef VIM_MODEL_H
#define VIM_MODEL_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_GROUP "virtualization.deckhouse.io"
#define MODEL_VERSION "v1alpha2"
#define MODEL_API_VERSION MODEL_GROUP "/" MODEL_VERSION

enum model_kind { MODEL_KIND_VI = 0, MODEL_KIND_CVI = 1, MODEL_KIND__COUNT };

/* A kind's bit, for the tables whose rows apply to some kinds only (OpenAPI
 * fields, printer columns, JSON members). */
#define MODEL_KIND_BIT(k) (1u << (unsigned)(k))

/*
 * The facts about one kind, one row per kind (model/kind.c).  Everything
 * that differs by kind and is not a property of one field lives here, and
 * the modules read it instead of naming a kind: discovery and OpenAPI
 * (api/schema_*.c), list/watch envelopes, the store's field selectors and
 * group-qualified resource, the controller's caches and queue keys,
 * metrics and vimagectl.  A new kind is a new row (and its enum value);
 * every string is static and non-NULL.
 */
struct model_kind_info {
	enum model_kind kind;
	/* API identity: what discovery, OpenAPI and every envelope say */
	const char *group;       /* "virtualization.deckhouse.io" */
	const char *version;     /* "v1alpha2" */
	const char *api_version; /* "<group>/<version>" */
	const char *name;        /* "VirtualImage" */
	const char *list_kind;   /* "VirtualImageList" */
	const char *plural;      /* "virtualimages": the URL segment and the store's resource */
	const char *singular;    /* "virtualimage" */
	const char *short_name;  /* "vi" */
	const char *category;    /* "virtualization" (`kubectl get <category>`) */
	bool namespaced;
	bool has_status;       /* serves the "status" subresource */
	const char *qualified; /* "virtualimages.<group>": the group resource in messages */
	/* OpenAPI v3: the schema's name and its description for `kubectl explain` */
	const char *schema_name; /* "io.deckhouse.virtualization.v1alpha2.VirtualImage" */
	const char *description;
	/* The field selectors the store serves for it, NULL-terminated */
	const char *const *field_selectors;
	/* Controller and DVCR */
	const char *repo_prefix;       /* "vi" / "cvi": DVCR repository prefix, queue key prefix */
	const char *cleanup_finalizer; /* "virtualization.deckhouse.io/vi-cleanup" */
	const char *lost_event;        /* "VirtualImageLost" (Warning) */
	const char *recovered_event;   /* "VirtualImageLostRecovered" (Normal) */
};

/* The row of a kind (borrowed, static).  An out-of-range kind gets row 0, so
 * a caller never reads past the table. */
const struct model_kind_info *model_kind_info(enum model_kind kind);
/* Looks a kind up by Kind name, plural, singular or short name; NULL if none. */
const struct model_kind_info *model_kind_lookup(const char *any_name);
/* The kind whose repo_prefix is the first len bytes of prefix; NULL if none. */
const struct model_kind_info *model_kind_by_repo_prefix(const char *prefix, size_t len);

enum model_phase {
	MODEL_PHASE_NONE = 0, /* "" — not yet reconciled */
	MODEL_PHASE_PENDING,
	MODEL_PHASE_PROVISIONING,
	MODEL_PHASE_WAIT_FOR_USER_UPLOAD,
	MODEL_PHASE_READY,
	MODEL_PHASE_FAILED,
	MODEL_PHASE_TERMINATING,
	MODEL_PHASE_IMAGE_LOST,
	MODEL_PHASE_PVC_LOST,
	MODEL_PHASE__COUNT
};

/* "" for NONE, "Ready", "ImageLost", ...; never NULL. */
const char *model_phase_name(enum model_phase p);
/* Returns 0 and sets *out, or VIM_EINVAL for an unknown phase text. */
int model_phase_parse(const char *text, enum model_phase *out);

/* Storage types and data source types (the text the API uses). */
#define MODEL_STORAGE_CONTAINER_REGISTRY "ContainerRegistry"
#define MODEL_STORAGE_PVC "PersistentVolumeClaim"
#define MODEL_STORAGE_KUBERNETES "Kubernetes"
#define MODEL_DS_HTTP "HTTP"
#define MODEL_DS_CONTAINER_IMAGE "ContainerImage"
#define MODEL_DS_OBJECT_REF "ObjectRef"
#define MODEL_DS_UPLOAD "Upload"

/* Condition types and reasons used by the handlers. */
#define MODEL_COND_READY "Ready"
#define MODEL_COND_DATASOURCE_READY "DatasourceReady"
#define MODEL_COND_TERMINATING "Terminating"
#define MODEL_REASON_READY "Ready"
#define MODEL_REASON_IMAGE_LOST "ImageLost"
#define MODEL_REASON_UNKNOWN "Unknown"
#define MODEL_MSG_IMAGE_LOST "The image data is no longer available and needs to be recreated."
#define MODEL_MSG_RECOVERED "The image reappeared in DVCR and was restored to Ready."

/* ---- data ---------------------------------------------------------------- */

struct model_kv {
	char *key;
	char *value;
};

struct model_strmap { /* labels, annotations: order kept as decoded */
	struct model_kv *items;
	size_t len;
};

struct model_strlist {
	char **items;
	size_t len;
};

struct model_meta {
	char *name;
	char *namespace; /* NULL for cluster-scoped */
	char *generate_name;
	char *uid;
	char *resource_version; /* decimal text, as Kubernetes sends it */
	int64_t generation;
	int64_t creation_timestamp;            /* unix seconds, 0 = unset */
	int64_t deletion_timestamp;            /* unix seconds, 0 = unset */
	int64_t deletion_grace_period_seconds; /* 0 = unset */
	struct model_strmap labels;
	struct model_strmap annotations;
	struct model_strlist finalizers;
	/* Every metadata member the model does not know (managedFields,
	 * ownerReferences, ...), kept as decoded so a round trip leaves it
	 * untouched.  Owned reference; NULL when there were none. */
	json_t *extra;
};

struct model_checksum { /* hex text as sent; NULL = not given */
	char *md5;
	char *sha1;
	char *sha256;
	char *sha512;
	char *streebog256;
	char *streebog512;
};

struct model_ds_http {
	char *url;
	char *ca_bundle; /* base64 text as sent */
	struct model_checksum checksum;
};

struct model_ds_container_image {
	char *image;
	char *pull_secret_name;      /* imagePullSecret.name */
	char *pull_secret_namespace; /* imagePullSecret.namespace (CVI only) */
	char *ca_bundle;
};

struct model_ds_object_ref {
	char *kind;
	char *name;
	char *namespace; /* CVI only */
};

struct model_ds_upload {
	struct model_checksum checksum;
};

/* Exactly the member named by type should be non-NULL (validation checks);
 * NULL means the member is absent from the manifest. */
struct model_data_source {
	char *type;
	struct model_ds_http *http;
	struct model_ds_container_image *container_image;
	struct model_ds_object_ref *object_ref;
	struct model_ds_upload *upload;
};

struct model_spec {
	char *storage;            /* VI only; NULL = absent (defaulted on create) */
	bool has_pvc;             /* spec.persistentVolumeClaim present */
	char *storage_class_name; /* spec.persistentVolumeClaim.storageClassName */
	struct model_data_source data_source;
};

struct model_condition {
	char *type;
	char *status; /* "True" | "False" | "Unknown" */
	char *reason;
	char *message;
	int64_t last_transition_time; /* unix seconds, 0 = zero time */
	int64_t observed_generation;
};

struct model_status {
	enum model_phase phase;
	struct model_condition *conditions;
	size_t n_conditions;
	int64_t observed_generation;
	char *progress;
	char *speed_avg, *speed_avg_bytes, *speed_current, *speed_current_bytes;
	char *size_stored, *size_stored_bytes, *size_unpacked, *size_unpacked_bytes;
	char *format;
	bool cdrom;
	char *target_registry_url;
	char *target_pvc_name; /* VI only */
	char *upload_url_external;
	char *upload_url_in_cluster;
	char *upload_command;
	char *source_uid;
	char *storage_class_name;                /* VI only */
	struct model_strlist used_in_namespaces; /* CVI only */
};

struct model_image {
	enum model_kind kind;
	struct model_meta meta;
	struct model_spec spec;
	struct model_status status;
};

/* ---- lifecycle ----------------------------------------------------------- */

/* Returns a zeroed image of the kind, or NULL on out of memory. */
struct model_image *model_image_new(enum model_kind kind);
void model_image_free(struct model_image *img); /* NULL is fine */

/* Deep copy into *out (caller frees). */
int model_image_clone(struct model_image **out, const struct model_image *src, struct vim_err *err);

/* ---- codecs -------------------------------------------------------------- */

/* Paths of members the decoder did not know, for fieldValidation
 * (Strict refuses them, Warn reports them, Ignore drops them).  Bounded: the
 * first MODEL_UNKNOWN_MAX are kept, `total` counts all. */
#define MODEL_UNKNOWN_MAX 16
#define MODEL_FIELD_PATH_MAX 160
struct model_unknown {
	char paths[MODEL_UNKNOWN_MAX][MODEL_FIELD_PATH_MAX]; /* "spec.foo" */
	size_t len;
	size_t total;
};

/* Decodes a JSON object (borrowed) into a new image (*out, caller frees).
 * apiVersion and kind must match a known kind (the kind decides VI vs CVI).
 * Wrong JSON types are VIM_EINVAL with err->msg = "<path>: <reason>", the
 * path without a leading dot ("spec.dataSource.http.url: Invalid value:
 * \"integer\": must be of type string") so the API can make a cause of it.
 * Unknown members outside metadata are dropped and listed in *unknown (may
 * be NULL); unknown members inside metadata are kept in meta.extra. */
int model_image_from_json(struct model_image **out, const json_t *obj,
                          struct model_unknown *unknown, struct vim_err *err);

/* Encodes the whole object (apiVersion, kind, metadata, spec, status).
 * Returns a new reference (caller decrefs), NULL only on out of memory. */
json_t *model_image_to_json(const struct model_image *img);
/* Encodes what names the object to someone else (an Event's
 * involvedObject): apiVersion, kind and metadata name, namespace, uid and
 * resourceVersion.  New reference, NULL only on out of memory. */
json_t *model_image_ref_to_json(const struct model_image *img);
/* Encodes just the status object (new reference). */
json_t *model_status_to_json(const struct model_status *st, enum model_kind kind);

/* Parses one YAML document (a manifest) into JSON (*out, caller decrefs).
 * Scalars become strings, integers, floats, booleans or null following
 * YAML 1.1 core rules as kubectl does; anchors/aliases are refused. */
int model_yaml_to_json(json_t **out, const char *buf, size_t len, struct vim_err *err);

/* model_yaml_to_json + model_image_from_json. */
int model_image_from_yaml(struct model_image **out, const char *buf, size_t len,
                          struct model_unknown *unknown, struct vim_err *err);

/* ---- validation ---------------------------------------------------------- */

/* One Kubernetes StatusCause: field path, reason ("FieldValueInvalid",
 * "FieldValueRequired", "FieldValueNotSupported", "FieldValueForbidden",
 * "FieldValueTooLong"), message. */
#define MODEL_CAUSES_MAX 16
/* Room for kube's longest reason (~330 bytes) after a quoted value. */
#define MODEL_CAUSE_MSG_MAX 768
struct model_cause {
	char field[MODEL_FIELD_PATH_MAX]; /* "spec.dataSource.http.url" */
	char reason[32];
	char message[MODEL_CAUSE_MSG_MAX]; /* valid UTF-8, even when cut */
};
struct model_causes {
	struct model_cause items[MODEL_CAUSES_MAX];
	size_t len;
};

/* Fills the defaults of a create (VI spec.storage = ContainerRegistry). */
void model_apply_defaults(struct model_image *img);

/* rest.BeforeCreate's name generation: when the name is empty and
 * generateName is set, sets the name to generateName cut to 58 bytes plus
 * 5 random characters of "bcdfghjklmnpqrstvwxz2456789" (kube's
 * SimpleNameGenerator) and *generated = true.  Call it before
 * model_validate_create, which then judges the generated name as well as
 * generateName.  0, VIM_ENOMEM or VIM_EIO (no random bytes). */
int model_meta_generate_name(struct model_image *img, bool *generated);

/* What kube-apiserver answers with a Warning header rather than a 422: a
 * finalizer without a '/' that is none of Kubernetes' own ("kubernetes",
 * "orphan", "foregroundDeletion").  Each item is the warning's text,
 * "metadata.finalizers: \"x\": prefer a domain-qualified ...". */
#define MODEL_WARNINGS_MAX 8
struct model_warnings {
	size_t len;
	char items[MODEL_WARNINGS_MAX][MODEL_CAUSE_MSG_MAX];
};
void model_meta_warnings(const struct model_image *img, struct model_warnings *w);

/* Validates a new object.  Returns 0, or VIM_EINVAL with causes filled
 * (VIM_EUNSUPPORTED when the only problems are values this server does not
 * support yet).  The causes' messages are upstream's where upstream has one. */
int model_validate_create(const struct model_image *img, struct model_causes *causes);

/* Validates an update of old into new (both borrowed): the metadata rules
 * (labels, annotations, finalizers), the create rules on new's spec plus
 * the update rules (data source immutable once provisioned, spec
 * frozen while Terminating, ...).  Same return convention. */
int model_validate_update(const struct model_image *old, const struct model_image *new,
                          struct model_causes *causes);

/* Appends a cause (silently bounded at MODEL_CAUSES_MAX). */
void model_causes_add(struct model_causes *c, const char *field, const char *reason,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- conditions (Kubernetes meta.SetStatusCondition semantics) ----------- */

/* Borrowed pointer into st, or NULL when absent. */
const struct model_condition *model_condition_get(const struct model_status *st, const char *type);

/* Sets a condition: creates it (lastTransitionTime = now) or updates it;
 * lastTransitionTime moves only when status changes.  reason/message/
 * observedGeneration are always updated.  Returns 0 or VIM_ENOMEM. */
int model_condition_set(struct model_status *st, const char *type, const char *status,
                        const char *reason, const char *message, int64_t observed_generation,
                        int64_t now);

/* Removes a condition if present; returns true when one was removed. */
bool model_condition_remove(struct model_status *st, const char *type);

/* ---- DVCR address -------------------------------------------------------- */

/* Writes the image's DVCR reference "<host>/vi/<ns>/<name>:<uid>" or
 * "<host>/cvi/<name>:<uid>" into out, shortening the name as upstream does
 * when host + path exceed 255 characters (name cut, "-<16-hex FNV-1a-64>"
 * appended).  Returns 0, or VIM_EINVAL if the image lacks name/uid (or
 * namespace for a VI) or out is too small. */
int model_dvcr_reference(char *out, size_t outlen, const char *host, const struct model_image *img,
                         struct vim_err *err);

/* The repository part only ("vi/<ns>/<name>"), same shortening rule. */
int model_dvcr_repository(char *out, size_t outlen, const char *host, const struct model_image *img,
                          struct vim_err *err);

/* ---- status formatting (upstream's HumanizeIBytes / percent.Format) ------ */

/* "9B", "2Ki", "199.8Mi", "2Gi"; out >= 16 bytes. */
void model_format_ibytes(uint64_t n, char *out, size_t outlen);
/* "0%", "47.6%", "100%"; out >= 8 bytes. */
void model_format_percent(double pct, char *out, size_t outlen);

/* ---- small helpers shared by the codecs and the handlers ----------------- */

/* strdup that accepts NULL (returns NULL) — for the owned-string fields. */
char *model_strdup(const char *s);
/* Replaces *field with a copy of value (NULL clears).  0 or VIM_ENOMEM. */
int model_set_str(char **field, const char *value);

#endif
