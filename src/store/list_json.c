/* store/list_json — the small-list convenience over the streaming LIST. */
#include "store/internal.h"

struct collect {
	json_t *items;
	int failed; /* the code append stopped the list with, if it did */
};

static int append(void *arg, const char *json, size_t len)
{
	struct collect *c = arg;
	json_t *obj = json_loadb(json, len, 0, NULL);

	if (!obj)
		return c->failed = VIM_EIO;
	if (json_array_append_new(c->items, obj) != 0)
		return c->failed = VIM_ENOMEM;
	return 0;
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
	struct collect c = {.items = json_array()};
	int rc;

	*items = NULL;
	if (!c.items)
		return vim_err_set(err, VIM_ENOMEM, "list %s: out of memory", resource);
	rc = store_list(s, resource, o ? o : &none, append, &c, meta, err);
	if (rc < 0) {
		json_decref(c.items);
		/* only append's own failures are about an object; the store's
		 * (a corrupt page, an I/O error) keep the store's message */
		if (c.failed == VIM_EIO)
			return vim_err_set(err, rc, "list %s: a stored object is not valid JSON",
			                   resource);
		if (c.failed == VIM_ENOMEM)
			return vim_err_set(err, rc, "list %s: out of memory", resource);
		return rc;
	}
	*items = c.items;
	return rc;
}
