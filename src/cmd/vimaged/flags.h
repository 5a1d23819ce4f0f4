/*
 * vimaged/flags — command-line flags as typed rows (redis' config.c): each
 * row names the flag, its type, the field of the options struct it fills,
 * its default, its bounds and its help.  Parsing, defaults and --help all
 * come from the table, so a flag's default is written once (in its row)
 * and a value is parsed once (here, checked whole and against the bounds);
 * nothing after parsing re-reads text.
 */
#ifndef VIM_CMD_VIMAGED_FLAGS_H
#define VIM_CMD_VIMAGED_FLAGS_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a row's field is and how its value is written on the command line. */
enum flag_type {
	FLAG_BOOL,    /* bool: a switch, takes no value; present = true */
	FLAG_INT,     /* int: a decimal integer in [min, max] */
	FLAG_SECONDS, /* int64_t milliseconds: seconds, fractions allowed, in [min, max] s */
	FLAG_RATE,    /* uint64_t bytes/s: a decimal integer in [min, max] */
	FLAG_STRING,  /* const char *: any text (borrowed from argv or the row) */
	FLAG_PATH,    /* const char *: a non-empty path */
	FLAG_ENUM,    /* const char *: one of choices (the row's own string) */
	FLAG_ADDR,    /* struct flag_addr: HOST:PORT, port 0..65535 (0 = any free) */
	FLAG_FILE,    /* const char *: a path to a file that exists and can be read */
	FLAG_URLS,    /* const char *: URL[,URL...], each http[s]://HOST:PORT */
	FLAG_URL,     /* const char *: one http[s]://HOST[:PORT], no path (none trailing) */
	FLAG_KEY      /* const char *: a key prefix, "/a[/b...]": a leading '/', no trailing */
};

struct flag_addr {
	char host[256];
	int port;
};

struct flag {
	const char *name; /* "--workers" */
	enum flag_type type;
	size_t off; /* offsetof the field in the options struct */
	double num; /* default of a number (seconds for FLAG_SECONDS) */
	double min; /* bounds of a number, inclusive */
	double max;
	const char *str;            /* default of a string, path, enum or address; NULL = unset */
	const char *const *choices; /* FLAG_ENUM: NULL-terminated */
	const char *arg;            /* the value's name in --help ("HOST:PORT"); NULL = by type */
	const char *help;
};

/* Sets every row's default into base (the options struct).  Defaults are
 * parsed as a value on the command line would be (the unit test checks
 * they all parse). */
void flags_defaults(const struct flag *t, size_t n, void *base);

/* Parses argv[1..] into base, whose defaults flags_defaults has set.
 * Accepts "--name value" and "--name=value"; a later flag wins.  Returns
 * 0, 1 when -h/--help was asked for (nothing else is parsed), or
 * VIM_EINVAL with one line in err naming the flag and the reason (an
 * unknown flag, a missing value, a value that is not a number, out of its
 * bounds, or not one of the choices). */
int flags_parse(const struct flag *t, size_t n, int argc, char **argv, void *base,
                struct vim_err *err);

/* The --help text of the table: one line per flag with its default. */
void flags_usage(const struct flag *t, size_t n, const char *prog, FILE *f);

/* vimaged's table (struct options, vimaged.h). */
extern const struct flag vimaged_flags[];
extern const size_t vimaged_nflags;

struct options;
/* What one row cannot say, checked after flags_parse: --store etcd needs
 * --etcd-endpoints and the --etcd-* flags need --store etcd (a forgotten
 * --store would serve an empty SQLite catalog), --etcd-certfile and
 * --etcd-keyfile go together, --store-export and --store-import exclude
 * each other.  0, or VIM_EINVAL with one line in err. */
int vimaged_options_check(const struct options *o, struct vim_err *err);

#endif
