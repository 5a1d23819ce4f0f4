/* store/list_json — the small-list convenience over the streaming LIST. */
#include "store/internal.h"

static int append(void *arg, const char *json, size_t len)
{
	json_t *obj = json_loadb(json, len, 0, NULL);

	if (!obj)
		return VIM_EIO;
	return json_array_append_new(arg, obj) == 0 ? 0 : VIM_ENOMEM;
}

const char *store_event_type_name(enum store_event_type t)
{
	static const char *const names[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "ERROR";
}

int store_list_json(struct store *s, const char *resource, const struct store_list_opts *o,
                    json_t **items, struct store_list_meta *meta, struct vim_err *err)
{
	struct store_list_opts none = {0};
	int rc;

	*items = json_array();
	if (!*items)
		return vim_err_set(err, VIM_ENOMEM, "list %s: out of memory", resource);
	rc = store_list(s, resource, o ? o : &none, append, *items, meta, err);
	if (rc < 0) {
		json_decref(*items);
		*items = NULL;
		if (rc == VIM_EIO || rc == VIM_ENOMEM)
			return vim_err_set(err, rc, "list %s: a stored object is unreadable",
			                   resource);
	}
	return rc;
}
