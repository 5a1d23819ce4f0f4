/*
 * store/kv_put — helpers over any backend's compare-and-swap (kv.h): a
 * value's text as the write's encode, and store_kv_put, a write that
 * replaces whatever value a key holds.
 */
#include "store/kv.h"

#include <stdlib.h>
#include <string.h>

#define KV_PUT_TRIES 5

int store_kv_encode_text(void *arg, int64_t rev, const char **text, size_t *len)
{
	(void)rev;
	*text = arg;
	*len = strlen(arg);
	return 0;
}

int store_kv_put(struct store_kv *kv, const struct store_kv_key *key, const char *text,
                 int64_t lease, int64_t *rev, struct vim_err *err)
{
	struct store_kv_write w = {.key = *key,
	                           .op = STORE_KV_PUT,
	                           .lease = lease,
	                           .encode = store_kv_encode_text,
	                           .arg = (void *)text};
	int64_t r = 0;
	int rc = VIM_ECONFLICT;

	for (int i = 0; i < KV_PUT_TRIES && rc == VIM_ECONFLICT; i++) {
		struct store_kv_got got = {0};

		rc = kv->ops->get(kv, key, &got, err);
		w.expect_rev = rc == 0 ? got.mod_rev : 0;
		free(got.value);
		if (rc < 0 && rc != VIM_ENOTFOUND)
			break;
		rc = kv->ops->write(kv, &w, &r, err);
	}
	if (rev)
		*rev = rc == 0 ? r : 0;
	return rc;
}
