#include "core/digest.h"

#include <string.h>

static const char hexdigits[] = "0123456789abcdef";

void vim_sha256_hex(char *out, const unsigned char md[VIM_SHA256_LEN])
{
	size_t i;

	for (i = 0; i < VIM_SHA256_LEN; i++) {
		out[2 * i] = hexdigits[md[i] >> 4];
		out[2 * i + 1] = hexdigits[md[i] & 0xf];
	}
	out[VIM_SHA256_HEX_LEN] = '\0';
}

void vim_digest_format(char *out, const unsigned char md[VIM_SHA256_LEN])
{
	memcpy(out, VIM_DIGEST_PREFIX, 7);
	vim_sha256_hex(out + 7, md);
}

static int nibble(char c)
{
	const char *p = c ? strchr(hexdigits, c) : NULL;
	return p ? (int)(p - hexdigits) : -1;
}

int vim_sha256_unhex(const char *hex, unsigned char md[VIM_SHA256_LEN])
{
	size_t i;

	for (i = 0; i < VIM_SHA256_LEN; i++) {
		int hi = nibble(hex[2 * i]), lo = hi < 0 ? -1 : nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		if (md)
			md[i] = (unsigned char)(hi << 4 | lo);
	}
	return hex[VIM_SHA256_HEX_LEN] == '\0' ? 0 : -1;
}

int vim_digest_parse(const char *text, unsigned char md[VIM_SHA256_LEN], struct vim_err *err)
{
	size_t i, len;

	if (!text)
		return vim_err_set(err, VIM_EINVAL, "digest: none given");
	len = strlen(text);
	if (strncmp(text, VIM_DIGEST_PREFIX, 7) != 0)
		return vim_err_set(err, VIM_EINVAL, "digest %.80s: not sha256:<hex>", text);
	if (len != VIM_DIGEST_TEXT_LEN)
		return vim_err_set(err, VIM_EINVAL,
		                   "digest %.80s: %zu characters after sha256:, 64 wanted", text,
		                   len - 7);
	for (i = 0; i < VIM_SHA256_LEN; i++) {
		int hi = nibble(text[7 + 2 * i]), lo = nibble(text[8 + 2 * i]);
		if (hi < 0 || lo < 0)
			return vim_err_set(err, VIM_EINVAL,
			                   "digest %.80s: offset %zu is not a lowercase hex digit",
			                   text, 7 + 2 * i + (hi < 0 ? 0 : 1));
		if (md)
			md[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}
