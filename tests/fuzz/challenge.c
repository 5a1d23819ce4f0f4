/*
 * fuzz target `challenge`: what a registry's 401 and its token server send
 * (src/dvcr/auth.c).  The input up to its first newline is the
 * WWW-Authenticate value (curl hands headers over as text lines, so it is
 * cut at a NUL too) for dvcr_challenge_parse; the rest is the token
 * server's body.  fetch_token reads that body inline (it is static and
 * talks to the realm over curl), so its extraction is repeated here with
 * the same bounds: json_loadb, "token" else "access_token", "expires_in".
 * Properties: a parsed Bearer has a realm, and every field is terminated
 * within its buffer.
 */
#include "fuzz.h"

#include "dvcr/internal.h"

static void token_body(const uint8_t *data, size_t size)
{
	json_t *root;
	const char *tok;
	json_int_t ttl = 60;

	if (size > DVCR_TOKEN_MAX * 2) /* tok_write refuses a longer body */
		return;
	root = json_loadb((const char *)data, size, 0, NULL);
	tok = json_string_value(json_object_get(root, "token"));
	if (!tok || !tok[0])
		tok = json_string_value(json_object_get(root, "access_token"));
	if (tok && tok[0] && strlen(tok) < DVCR_TOKEN_MAX) {
		if (json_is_integer(json_object_get(root, "expires_in")))
			ttl = json_integer_value(json_object_get(root, "expires_in"));
		if (ttl < 10)
			ttl = 60;
		FUZZ_CHECK(ttl >= 10);
	}
	json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - data) : size;
	struct dvcr_challenge ch;
	struct vim_err err = {0};
	char *value;

	if (hlen > 100000) /* curl's CURL_MAX_HTTP_HEADER */
		return 0;
	if (!(value = fuzz_cstr(data, hlen)))
		return 0;
	if (dvcr_challenge_parse(value, &ch, &err) == 0) {
		FUZZ_CHECK(ch.scheme == DVCR_SCHEME_BASIC || ch.scheme == DVCR_SCHEME_BEARER);
		FUZZ_CHECK(ch.scheme != DVCR_SCHEME_BEARER || ch.realm[0]);
		FUZZ_CHECK(memchr(ch.realm, 0, sizeof(ch.realm)) &&
		           memchr(ch.service, 0, sizeof(ch.service)) &&
		           memchr(ch.scope, 0, sizeof(ch.scope)));
	} else {
		FUZZ_CHECK(err.msg[0] != '\0');
	}
	free(value);
	if (nl)
		token_body(nl + 1, size - hlen - 1);
	return 0;
}
