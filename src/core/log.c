/* core/log — stderr lines; one write(2) per line so threads never interleave. */
#include "core/log.h"
#include "core/err.h"
#include "core/redact.h"
#include "core/timeutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set once by main before threads start, read-only afterwards. */
static enum vim_log_level log_min = VIM_LOG_INFO;
static bool log_json;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int vim_log_setup(const char *level, const char *format)
{
	size_t i;
	int found = -1;

	for (i = 0; level && i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(level, level_names[i]) == 0)
			found = (int)i;
	if (level && found < 0)
		return VIM_EINVAL;
	if (format && strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return VIM_EINVAL;
	if (found >= 0)
		log_min = (enum vim_log_level)found;
	if (format)
		log_json = strcmp(format, "json") == 0;
	return 0;
}

/* JSON string escaping of the message into out (always terminated). */
static size_t json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	out[n] = '\0';
	return n;
}

void vim_log(enum vim_log_level level, const char *fmt, ...)
{
	char raw[1024], msg[1024], esc[2048], line[2600], ts[VIM_TIME_TEXT_MAX];
	va_list ap;
	int n;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* the last line of defence: a URL's credentials never reach the log */
	vim_redact(msg, sizeof(msg), raw);
	vim_time_format(vim_time_now(), ts, sizeof(ts));
	if (log_json) {
		json_escape(esc, sizeof(esc), msg);
		n = snprintf(line, sizeof(line),
		             "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts,
		             level_names[level], esc);
	} else {
		n = snprintf(line, sizeof(line), "%s %-5s %s\n", ts, level_names[level], msg);
	}
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return; /* nowhere left to report it */
}
