/* core/metrics — see metrics.h. */
#include "core/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const double vim_hist_request_s[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                     0.1,   0.25,   0.5,   1,    2.5,   10};
const size_t vim_hist_request_n = sizeof(vim_hist_request_s) / sizeof(vim_hist_request_s[0]);
const double vim_hist_import_s[] = {1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600};
const size_t vim_hist_import_n = sizeof(vim_hist_import_s) / sizeof(vim_hist_import_s[0]);

void vim_hist_init(struct vim_hist *h, const double *bounds, size_t nb)
{
	memset(h, 0, sizeof(*h));
	h->bounds = bounds;
	h->nb = nb < VIM_HIST_MAX ? nb : VIM_HIST_MAX - 1;
}

void vim_hist_observe(struct vim_hist *h, double v)
{
	size_t i = 0;

	while (i < h->nb && v > h->bounds[i])
		i++;
	h->counts[i]++;
	h->sum += v;
	h->count++;
}

void vim_text_printf(struct vim_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->oom = 1;
			return;
		}
		if (t->buf && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap ? t->cap * 2 : 4096;
		while (ncap < t->len + (size_t)n + 1)
			ncap *= 2;
		char *nb = realloc(t->buf, ncap);
		if (!nb) {
			t->oom = 1;
			return;
		}
		t->buf = nb;
		t->cap = ncap;
	}
}

void vim_metric_head(struct vim_text *t, const char *name, const char *type, const char *help)
{
	vim_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void vim_metric_u64(struct vim_text *t, const char *name, const char *labels, uint64_t v)
{
	if (labels && *labels)
		vim_text_printf(t, "%s{%s} %llu\n", name, labels, (unsigned long long)v);
	else
		vim_text_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

void vim_metric_hist(struct vim_text *t, const char *name, const char *labels,
                     const struct vim_hist *h)
{
	const char *sep = labels && *labels ? "," : "";
	uint64_t cum = 0;
	size_t i;

	labels = labels ? labels : "";
	for (i = 0; i < h->nb; i++) {
		cum += h->counts[i];
		vim_text_printf(t, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
		                h->bounds[i], (unsigned long long)cum);
	}
	vim_text_printf(t, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
	                (unsigned long long)h->count);
	if (*labels) {
		vim_text_printf(t, "%s_sum{%s} %.6f\n", name, labels, h->sum);
		vim_text_printf(t, "%s_count{%s} %llu\n", name, labels,
		                (unsigned long long)h->count);
	} else {
		vim_text_printf(t, "%s_sum %.6f\n%s_count %llu\n", name, h->sum, name,
		                (unsigned long long)h->count);
	}
}
