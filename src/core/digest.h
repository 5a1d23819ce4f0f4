/*
 * core/digest — the text of a content digest, "sha256:<64 lowercase hex>",
 * as OCI image references and the distribution API write it
 * (image-spec descriptor.md: the sha256 encoded part is [a-f0-9]{64}).
 * One formatter and one parser, so every digest vimage writes or accepts
 * obeys the same grammar.  Hashing stays with the callers (OpenSSL).
 */
#ifndef VIM_CORE_DIGEST_H
#define VIM_CORE_DIGEST_H

#include "core/err.h"

#include <stddef.h>

#define VIM_SHA256_LEN 32 /* raw bytes */
#define VIM_DIGEST_PREFIX "sha256:"
#define VIM_DIGEST_TEXT_LEN (7 + 2 * VIM_SHA256_LEN) /* 71, without the NUL */
#define VIM_DIGEST_TEXT_MAX (VIM_DIGEST_TEXT_LEN + 1)

#define VIM_SHA256_HEX_LEN (2 * VIM_SHA256_LEN) /* 64, without the NUL */

/* The bare hex part: 64 lowercase hex digits and a NUL into out (>= 65
 * bytes). */
void vim_sha256_hex(char *out, const unsigned char md[VIM_SHA256_LEN]);
/* hex (NUL-terminated) as exactly 64 lowercase hex digits: 0 and the raw
 * bytes in md (NULL: only validate), or -1. */
int vim_sha256_unhex(const char *hex, unsigned char md[VIM_SHA256_LEN]);

/* Writes "sha256:<hex of md>" and its NUL into out (>= VIM_DIGEST_TEXT_MAX). */
void vim_digest_format(char *out, const unsigned char md[VIM_SHA256_LEN]);

/* Parses text (NUL-terminated) as a whole digest: "sha256:" and exactly
 * 64 lowercase hex digits.  0 and the raw bytes in md (NULL: only
 * validate), or VIM_EINVAL with err saying what is wrong (the algorithm,
 * the length, a character). */
int vim_digest_parse(const char *text, unsigned char md[VIM_SHA256_LEN], struct vim_err *err);

#endif
