/* model/validate_internal — lexical checks shared by the validation files
 * (not part of the model contract). */
#ifndef VIM_MODEL_VALIDATE_INTERNAL_H
#define VIM_MODEL_VALIDATE_INTERNAL_H

#include "model/model.h"

#include <stdbool.h>
#include <stddef.h>

/* A quoted value in a message: long enough for any name kube accepts. */
#define VAL_QUOTE_MAX 320

/* s quoted as Go's %q does (core/k8sname), cut with "..." to fit outlen. */
void val_quote(char *out, size_t outlen, const char *s);
bool val_dns1123_label(const char *s, size_t max);
bool val_dns1123_subdomain(const char *s);
bool val_hex(const char *s, size_t len);
bool val_http_url(const char *s);
bool val_base64(const char *s);
bool val_image_ref(const char *s);

/* The metadata rules (validate_meta.c): names, generateName, namespace,
 * labels, annotations, finalizers on create; labels, annotations,
 * finalizers and no new finalizers while deleting on update. */
void val_meta_create(const struct model_image *img, struct model_causes *c);
void val_meta_update(const struct model_image *old, const struct model_image *new,
                     struct model_causes *c);

/* The spec rules without the name rules (validate.c). */
void val_spec(const struct model_image *img, struct model_causes *c, int *unsupported);

#endif
