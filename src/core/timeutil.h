/*
 * core/timeutil — wall-clock seconds and RFC 3339 text, as Kubernetes uses
 * them (metav1.Time has second precision; "2026-11-24T06:40:00Z").
 * A time of 0 means "unset" (Go's zero time) and encodes as JSON null/absent.
 */
#ifndef VIM_CORE_TIMEUTIL_H
#define VIM_CORE_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#define VIM_TIME_TEXT_MAX 32

/* Current wall-clock time in unix seconds. */
int64_t vim_time_now(void);

/* Monotonic clock in milliseconds, for intervals and timers. */
int64_t vim_mono_ms(void);

/* Writes "YYYY-MM-DDTHH:MM:SSZ" (UTC) into out (>= VIM_TIME_TEXT_MAX). */
void vim_time_format(int64_t t, char *out, size_t outlen);

/* Parses RFC 3339 ("...Z", "...+03:00", fractional seconds dropped).
 * Returns 0 or VIM_EINVAL. */
int vim_time_parse(const char *text, int64_t *out);

#endif
