# vimage — plain Makefile.  `make` builds into build/, `make test` runs every
# test (unit + integration), `make asan` builds and runs them under
# AddressSanitizer + UBSan in build/asan/.

CC      ?= cc
PKGS    := jansson yaml-0.1 sqlite3 libmicrohttpd gnutls libcurl libcrypto libgcrypt zlib liblzma libxcrypt
WARN    := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Wvla -Werror
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OPT     ?= -O2 -g
SAN     ?=
BUILD   ?= build

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS  := $(CSTD) $(WARN) $(OPT) $(SAN) -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
LDFLAGS := $(SAN) -pthread
LIBS    := $(PKG_LIBS) -lm

LIB_SRC  := $(sort $(shell find src -name '*.c' -not -path 'src/cmd/*'))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libvimage.a

CMDS     := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard src/cmd/*/*.c)))))
BINS     := $(CMDS:%=$(BUILD)/%)

UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_SUPPORT_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_SUPPORT_OBJ := $(UNIT_SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)

# C drivers of integration tests (run by tests/integration/*.sh against real
# services the script starts); cmocka binaries that print TAP when asked.
ITEST_SRC := $(sort $(wildcard tests/integration/*.c))
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)

# Benchmarks: bench/<name>.c -> build/bench/<name>; `make bench` runs them
# (never part of `make test`: they print figures, they do not pass or fail).
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

# Fuzz targets: tests/fuzz/<t>.c, each one LLVMFuzzerTestOneInput.  Every
# build links each with tests/fuzz/replay.c into $(BUILD)/tests/test_fuzz_<t>,
# which replays tests/fuzz/corpus/<t>/ as cmocka tests (so `make test` and
# `make asan` run the corpora); `make fuzz` links them with libFuzzer.
FUZZ_SRC    := $(sort $(filter-out tests/fuzz/replay.c,$(wildcard tests/fuzz/*.c)))
FUZZ_ALL    := $(FUZZ_SRC:tests/fuzz/%.c=%)
FUZZ_REPLAY := $(FUZZ_ALL:%=$(BUILD)/tests/test_fuzz_%)
FUZZ_BIN    := $(FUZZ_ALL:%=$(BUILD)/fuzzers/%)
FUZZ_TARGETS ?= $(FUZZ_ALL)
FUZZ_TIME   ?= 60
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=all

.PHONY: all test unit integration asan tsan clean lint run bench fuzz fuzzers
all: $(LIB) $(BINS) $(UNIT_BIN) $(ITEST_BIN) $(FUZZ_REPLAY)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Each binary is the objects under src/cmd/<name>/ linked with the library.
.SECONDEXPANSION:
# (No '%' inside: in a static pattern rule it would stand for the stem.)
$(BINS): $(BUILD)/%: $$(addprefix $(BUILD)/obj/,$$(subst .c,.o,$$(wildcard src/cmd/$$*/*.c))) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LIBS)

$(UNIT_BIN): $(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(UNIT_SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(filter $(BUILD)/obj/src/cmd/%,$^) $(UNIT_SUPPORT_OBJ) $(LIB) $(LIBS) $(CMOCKA_LIBS)

# A unit test of a binary's own file names that object here.
$(BUILD)/tests/test_flags: $(BUILD)/obj/src/cmd/vimaged/flags.o
$(BUILD)/tests/test_store_health: $(BUILD)/obj/src/cmd/vimaged/health.o
$(BUILD)/tests/test_forward: $(BUILD)/obj/src/cmd/vimaged/forward.o

$(ITEST_BIN): $(BUILD)/itests/%: $(BUILD)/obj/tests/integration/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS) $(CMOCKA_LIBS)

$(FUZZ_REPLAY): $(BUILD)/tests/test_fuzz_%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/replay.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(BUILD)/obj/tests/fuzz/replay.o $(LIB) $(LIBS) $(CMOCKA_LIBS)

# Only meaningful in the fuzz tree (objects built with fuzzer-no-link).
$(FUZZ_BIN): $(BUILD)/fuzzers/%: $(BUILD)/obj/tests/fuzz/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LIBS)

fuzzers: $(FUZZ_BIN)

$(BENCH_BIN): $(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB) $(LIBS)

bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN) $(wildcard bench/*.sh); do echo "== $$b"; $$b || exit 1; done

test: all
	BUILD=$(BUILD) tests/run

unit: all
	BUILD=$(BUILD) tests/run --unit

integration: all
	BUILD=$(BUILD) tests/run --integration

# ASan + UBSan: a separate tree so the normal build stays usable.
asan:
	$(MAKE) BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		BUILD=build/asan tests/run

# ThreadSanitizer: a tree of its own, build/tsan/ (gcc's libtsan: the
# libcurl, libmicrohttpd and sqlite threads all go through the pthread calls
# it intercepts).  It runs every unit test and TSAN_SUITES, the integration
# suites that drive the threads: manager, queue, cache, monitor, watch hub,
# import jobs and their pool, uploads.  halt_on_error: the first race
# stops the process, and tests/run counts every report as a failure.
# tests/tsan/suppressions.txt lists third-party code only.
TSAN_SUITES ?= presence_e2e presence_sources import_e2e import_failures import_registry \
	import_slow_dvcr api_watch_bookmarks api_namespaces store_corrupt daemon_start \
	dvcr_managed vimagectl
tsan:
	$(MAKE) BUILD=build/tsan OPT="-O1 -g -fno-omit-frame-pointer" SAN="-fsanitize=thread" all
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 history_size=4 \
		suppressions=$(CURDIR)/tests/tsan/suppressions.txt" \
		BUILD=build/tsan tests/run --suites "$(TSAN_SUITES)"

# libFuzzer (clang): a tree of its own, build/fuzz/; each of FUZZ_TARGETS
# runs FUZZ_TIME seconds on tests/fuzz/corpus/<t>/, new inputs going to
# build/fuzz/corpus/<t>/ and crashes to build/fuzz/crashes/<t>/.
# `make fuzz FUZZ_TARGETS=layer FUZZ_TIME=240` for one; FUZZ_ARGS adds
# libFuzzer flags ("-fork=1 -ignore_crashes=1" goes on past a crash).
# (clang's -Wformat=2 also flags the vprintf-style wrappers gcc accepts.)
fuzz:
	$(MAKE) BUILD=build/fuzz CC=clang OPT="-O1 -g -fno-omit-frame-pointer" \
		WARN="$(WARN) -Wno-format-nonliteral" \
		SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" fuzzers
	FUZZ_TIME=$(FUZZ_TIME) FUZZ_ARGS="$(FUZZ_ARGS)" tests/fuzz/run.sh build/fuzz $(FUZZ_TARGETS)

# Banned: unbounded copies (strcpy, strcat, sprintf, vsprintf, gets), the
# truncation trap strncat, strtok's hidden state, and the ato* family, which
# turns "4x" into 4 and "x" into 0 with no way to tell (use strtol/strtod
# and check the end).  Word-bounded: snprintf and strtok_r pass.
BANNED := strcpy|strcat|strncat|sprintf|vsprintf|strtok|gets|atoi|atol|atoll|atof

lint:
	clang-format --dry-run --Werror $(shell find src tests bench -name '*.[ch]')
	! grep -rnE '\b($(BANNED))\s*\(' src tests bench --include='*.[ch]'

run:
	@tools/run.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
