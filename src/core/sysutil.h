/*
 * core/sysutil — two small system chores several modules need: replacing a
 * file so that no reader ever sees half of it, and random hex for tokens
 * and passwords.
 */
#ifndef VIM_CORE_SYSUTIL_H
#define VIM_CORE_SYSUTIL_H

#include "core/err.h"

#include <stddef.h>
#include <sys/types.h>

/* Writes text to "<path>.tmp" (created with mode, close-on-exec), then
 * renames it over path. */
int vim_file_replace(const char *path, const char *text, mode_t mode, struct vim_err *err);

/* The first line of path, without its line end, into out (len bytes; a
 * longer line is cut).  -1 (out "") when the file cannot be opened or is
 * empty. */
int vim_file_first_line(const char *path, char *out, size_t len);

/* bytes (1..64) random bytes from getrandom(2) as 2*bytes hex digits and a
 * NUL in out. */
int vim_random_hex(char *out, size_t bytes, struct vim_err *err);

#endif
