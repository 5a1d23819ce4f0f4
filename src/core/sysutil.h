/*
 * core/sysutil — small chores several modules need: replacing a file so
 * that no reader ever sees half of it, its first line, random hex for
 * tokens and passwords, and the string hash of the in-memory tables.
 */
#ifndef VIM_CORE_SYSUTIL_H
#define VIM_CORE_SYSUTIL_H

#include "core/err.h"

#include <stddef.h>
#include <stdint.h>
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

/* A string's hash for the in-memory tables (queue, cache, memo, echoes):
 * FNV-1a 64, with its high bits mixed into the low ones (murmur3's
 * finalizer), since the tables index by the low bits and FNV's barely
 * vary between keys that differ in a digit ("img-00958", "img-00995"). */
uint64_t vim_str_hash(const char *s);

#endif
