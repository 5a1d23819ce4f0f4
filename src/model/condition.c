/* model/condition — meta.SetStatusCondition semantics over model_status. */
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

const struct model_condition *model_condition_get(const struct model_status *st, const char *type)
{
	size_t i;

	for (i = 0; st && type && i < st->n_conditions; i++)
		if (st->conditions[i].type && strcmp(st->conditions[i].type, type) == 0)
			return &st->conditions[i];
	return NULL;
}

static bool same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

int model_condition_set(struct model_status *st, const char *type, const char *status,
                        const char *reason, const char *message, int64_t observed_generation,
                        int64_t now)
{
	struct model_condition *c = (struct model_condition *)model_condition_get(st, type);

	if (!c) {
		struct model_condition *grown =
		    realloc(st->conditions, (st->n_conditions + 1) * sizeof(*grown));
		if (!grown)
			return VIM_ENOMEM;
		st->conditions = grown;
		c = &st->conditions[st->n_conditions];
		memset(c, 0, sizeof(*c));
		if (model_set_str(&c->type, type) < 0)
			return VIM_ENOMEM;
		st->n_conditions++;
		c->last_transition_time = now;
	} else if (!same(c->status, status)) {
		c->last_transition_time = now;
	}
	if (model_set_str(&c->status, status) < 0 || model_set_str(&c->reason, reason) < 0 ||
	    model_set_str(&c->message, message ? message : "") < 0)
		return VIM_ENOMEM;
	c->observed_generation = observed_generation;
	return 0;
}

bool model_condition_remove(struct model_status *st, const char *type)
{
	struct model_condition *c = (struct model_condition *)model_condition_get(st, type);
	size_t i;

	if (!c)
		return false;
	i = (size_t)(c - st->conditions);
	free(c->type);
	free(c->status);
	free(c->reason);
	free(c->message);
	memmove(&st->conditions[i], &st->conditions[i + 1],
	        (st->n_conditions - i - 1) * sizeof(*c));
	st->n_conditions--;
	return true;
}
