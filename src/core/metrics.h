/*
 * core/metrics — the pieces of a Prometheus text exposition (format 0.0.4):
 * a histogram with fixed bounds, and a growing text buffer with the HELP,
 * TYPE and sample lines.  Modules keep their own counters (under their own
 * locks) and hand a snapshot to whoever writes /metrics; nothing here is
 * global.
 */
#ifndef VIM_CORE_METRICS_H
#define VIM_CORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define VIM_HIST_MAX 16

/* bounds: ascending upper bounds (the +Inf bucket is implicit), static. */
struct vim_hist {
	const double *bounds;
	size_t nb;
	uint64_t counts[VIM_HIST_MAX]; /* per bound, not cumulative; [nb] = above all */
	double sum;
	uint64_t count;
};

void vim_hist_init(struct vim_hist *h, const double *bounds, size_t nb);
void vim_hist_observe(struct vim_hist *h, double v);

/* Bounds in seconds fit for requests (1 ms .. 10 s) and imports (1 s .. 1 h). */
extern const double vim_hist_request_s[];
extern const size_t vim_hist_request_n;
extern const double vim_hist_import_s[];
extern const size_t vim_hist_import_n;

/* The text being built; buf is malloc'd (caller frees), oom set on failure. */
struct vim_text {
	char *buf;
	size_t len, cap;
	int oom;
};

void vim_text_printf(struct vim_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "# HELP name help\n# TYPE name type\n" */
void vim_metric_head(struct vim_text *t, const char *name, const char *type, const char *help);
/* name{labels} value; labels is "" or `k="v",k2="v2"` (already escaped). */
void vim_metric_u64(struct vim_text *t, const char *name, const char *labels, uint64_t v);
/* The _bucket, _sum and _count lines of h. */
void vim_metric_hist(struct vim_text *t, const char *name, const char *labels,
                     const struct vim_hist *h);

#endif
