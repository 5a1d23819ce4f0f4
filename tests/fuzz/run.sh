#!/usr/bin/env bash
# tests/fuzz/run.sh TREE TARGET... — the runner behind `make fuzz`: each
# target's libFuzzer binary (TREE/fuzzers/<t>) for FUZZ_TIME seconds, one
# after the other (nice: the fuzzers share the machine), on its corpus in
# the repository plus TREE/corpus/<t>/ (new inputs land there, never in
# the repository).  Stops at the first crash, leak, timeout or OOM with one
# line naming the target and the saved input (TREE/crashes/<t>/).
# FUZZ_ARGS: more libFuzzer flags, e.g. "-fork=1 -ignore_crashes=1" to go
# on past a known crash and collect the others.
set -u
cd "$(dirname "$0")/../.."
tree=${1:?usage: run.sh TREE TARGET...}
shift
time=${FUZZ_TIME:-60}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in "$@"; do
	bin=$tree/fuzzers/$t
	seeds=tests/fuzz/corpus/$t
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz: $t: no such target ($bin, $seeds)"
		exit 2
	fi
	mkdir -p "$tree/corpus/$t" "$tree/crashes/$t"
	log=$tree/$t.log
	echo "fuzz: $t: ${time}s (log $log)"
	# -timeout: an input slower than 10 s is a hang worth a report;
	# -rss_limit_mb: a bomb shows up as an OOM, not a swapping machine.
	nice -n 10 "$bin" -max_total_time="$time" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$tree/crashes/$t/" -print_final_stats=1 ${FUZZ_ARGS:-} \
		"$tree/corpus/$t" "$seeds" >"$log" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
		what=$(grep -m1 -E '^SUMMARY: |ERROR: libFuzzer: |runtime error:' "$log")
		echo "fuzz: $t: CRASH (exit $rc): ${what:-see $log}"
		echo "fuzz: $t: input ${input:-not saved}; replay: $tree/fuzzers/$t ${input:-}"
		exit 1
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	# -fork=1 prints no final stats: its last "#N: cov:" line counts
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -n1)
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n1)
	echo "fuzz: $t: ok, ${runs:-?} runs, ${cov:-cov: ?}, $(ls "$tree/corpus/$t" | wc -l) inputs in $tree/corpus/$t"
done
