/* model/validate_internal — lexical checks shared by the validation files
 * (not part of the model contract). */
#ifndef VIM_MODEL_VALIDATE_INTERNAL_H
#define VIM_MODEL_VALIDATE_INTERNAL_H

#include "model/model.h"

#include <stdbool.h>
#include <stddef.h>

#define VAL_QUOTE_MAX 200

/* "\"value\"" with quotes and backslashes escaped, cut to fit outlen. */
void val_quote(char *out, size_t outlen, const char *s);
bool val_dns1123_label(const char *s, size_t max);
bool val_dns1123_subdomain(const char *s);
bool val_hex(const char *s, size_t len);
bool val_http_url(const char *s);
bool val_base64(const char *s);
bool val_image_ref(const char *s);

/* The spec rules without the name rules (validate.c). */
void val_spec(const struct model_image *img, struct model_causes *c, int *unsupported);

#endif
