/*
 * core/log — one line per event worth knowing, on stderr, as text
 * ("2026-11-24T14:40:00Z info  store: opened ...") or JSON
 * ({"ts":...,"level":"info","msg":"..."}).  main sets the format and the
 * level once at start-up (before any thread starts); everything else only
 * calls vim_log.  Callers never pass a credential or a token; URLs in
 * a line are redacted anyway (core/redact.h).
 */
#ifndef VIM_CORE_LOG_H
#define VIM_CORE_LOG_H

#include <stdbool.h>

enum vim_log_level { VIM_LOG_DEBUG = 0, VIM_LOG_INFO, VIM_LOG_WARN, VIM_LOG_ERROR };

/* "debug" | "info" | "warn" | "error" and "text" | "json"; 0 or VIM_EINVAL. */
int vim_log_setup(const char *level, const char *format);

void vim_log(enum vim_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
