#!/bin/bash
# test.sh - set up (scripts/setup.sh), then run every test suite and print a
# summary. Exits non-zero when any suite fails.
#
# Suites:
#   check      make check in the source tree: unit tests, simulator seeds,
#              fuzz corpus replay, and the multi-process tests, which the
#              test scripts run inside a private network namespace
#   example    the README's example program, built against an installed
#              copy (make install DESTDIR=...) with pkg-config; three
#              copies then start at once in a private network namespace
#              and each must receive the other two's message
#   sweep      (CI=true or --full) the simulator over thousands of seeds
#              (COHORT_SIM_SEEDS per scenario, default 500)
#   fuzz       (CI=true or --full) libFuzzer on the core under ASan + UBSan
#              for COHORT_FUZZ_SECONDS (default 120) from the corpus
#   sanitizers (CI=true or --full) a second, out-of-tree build of the
#              distributed sources with ../configure --enable-sanitizers
#              --enable-werror, then make check
#   distcheck  (CI=true or --full) make distcheck
#
#   ./scripts/test.sh              check + example
#   ./scripts/test.sh --full       every suite (what CI runs)
#
# Environment: CI=true means --full and warnings as errors;
# COHORT_SUITE_TIMEOUT_S bounds each suite (default 1200 s).
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
ROOT=$PWD
LOGDIR=$ROOT/build-logs
CIDIR=$ROOT/build-ci
SUITE_TIMEOUT_S=${COHORT_SUITE_TIMEOUT_S:-1200}
JOBS=$(nproc 2>/dev/null || echo 2)
# Automake colours test results only on a terminal; plain text keeps the
# logs and the counting below simple.
export AM_COLOR_TESTS=no

full=no
setup_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --full) full=yes ;;
        --werror) setup_args+=(--werror) ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        *) echo "test.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "${CI:-}" = true ] && full=yes
[ "$full" = yes ] && setup_args+=(--fuzz)

say() { printf '==> %s\n' "$*"; }

SUMMARY=()
TOTAL_PASS=0
TOTAL_FAIL=0
TOTAL_SKIP=0
START_S=$SECONDS

# Sum one field of every automake "# FIELD: N" summary block in a log.
count_field() {
    local field=$1 log=$2
    sed -n "s/^# $field: *\([0-9][0-9]*\).*/\1/p" "$log" \
        | awk '{ s += $1 } END { print s + 0 }'
}

# Print the end of each failed test's own log, so a CI failure can be read
# from the console alone. LOGBASE is the build directory the tests ran in.
show_failed_logs() {
    local log=$1 logbase=$2 name tlog
    grep -E '^(FAIL|ERROR|XPASS): ' "$log" | sed 's/^[A-Z]*: //; s/ .*//' | sort -u | head -n 5 |
    while read -r name; do
        tlog=$logbase/$name.log
        [ -f "$tlog" ] || continue
        echo "---- last lines of ${tlog#"$ROOT"/} ----"
        tail -n 40 "$tlog"
    done
}

# record NAME RC LOG SECONDS: count an automake-style suite. A suite that
# failed before any test ran (build error, timeout) counts as one failure.
record() {
    local name=$1 rc=$2 log=$3 secs=$4
    local pass fail skip
    pass=$(count_field PASS "$log")
    skip=$(count_field SKIP "$log")
    fail=$(( $(count_field FAIL "$log") + $(count_field ERROR "$log") + $(count_field XPASS "$log") ))
    if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
        fail=1
    fi
    TOTAL_PASS=$((TOTAL_PASS + pass))
    TOTAL_FAIL=$((TOTAL_FAIL + fail))
    TOTAL_SKIP=$((TOTAL_SKIP + skip))
    local verdict=ok
    [ "$rc" -eq 0 ] || verdict="FAILED (exit $rc)"
    [ "$rc" -eq 124 ] && verdict="FAILED (timed out after ${SUITE_TIMEOUT_S}s)"
    SUMMARY+=("$(printf '%-11s %-28s %4d passed, %d failed, %d skipped  %4ds  log: %s' \
        "$name" "$verdict" "$pass" "$fail" "$skip" "$secs" "${log#"$ROOT"/}")")
}

# run_suite NAME DIR LOGBASE COMMAND...: run in DIR with a time bound, keep
# the output in build-logs/NAME.log and show it as it goes; the tests' own
# logs are under LOGBASE.
run_suite() {
    local name=$1 dir=$2 logbase=$3
    shift 3
    local log=$LOGDIR/$name.log t0=$SECONDS rc
    say "suite $name: $* (in ${dir#"$ROOT"/})"
    ( cd "$dir" && timeout -k 30 "$SUITE_TIMEOUT_S" "$@" ) 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || show_failed_logs "$log" "$logbase"
    record "$name" "$rc" "$log" $((SECONDS - t0))
    return "$rc"
}

# The README's C example, taken from the README itself so the two cannot
# drift apart, built the way a user would: installed copy plus pkg-config.
suite_example() {
    local dir=$CIDIR/example dest
    rm -rf "$dir" && mkdir -p "$dir" || return 1
    dest=$dir/root
    awk '/^```c$/ { on = 1; next } /^```/ { if (on) exit } on' README.md >"$dir/example.c"
    [ -s "$dir/example.c" ] || { echo "no \`\`\`c block in README.md"; return 1; }
    make -s install DESTDIR="$dest" >"$dir/install.log" 2>&1 \
        || { tail -n 20 "$dir/install.log"; return 1; }
    local libdir pcdir
    libdir=$(dirname "$(find "$dest" -name 'libcohort.so' | head -n 1)")
    pcdir=$(dirname "$(find "$dest" -name 'cohort.pc' | head -n 1)")
    if [ ! -d "$libdir" ] || [ ! -d "$pcdir" ]; then
        echo "install did not produce libcohort.so and cohort.pc"
        return 1
    fi
    echo "cc example.c \$(pkg-config --cflags --libs cohort)"
    # shellcheck disable=SC2046
    cc -std=c11 -Wall -Wextra -Werror -o "$dir/example" "$dir/example.c" \
        $(PKG_CONFIG_SYSROOT_DIR="$dest" PKG_CONFIG_PATH="$pcdir" pkg-config --cflags --libs cohort) \
        || return 1
    echo "PASS: example builds against the installed library"
    if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
        echo "SKIP: running it needs root for a private network namespace"
        return 0
    fi
    # Three copies started at the same moment in their own network
    # namespace (the multicast stays on a private loopback), each waiting
    # for all three: every copy must receive both other copies' message.
    # The outputs are named by pid only after the copies have ended.
    rm -f "$dir"/run.*
    # shellcheck disable=SC2016
    LD_LIBRARY_PATH=$libdir timeout 40 unshare -n sh -c '
        ip link set lo up && ip route add 224.0.0.0/4 dev lo || exit 1
        "$1" 3 >"$2.0" 2>&1 & a=$!
        "$1" 3 >"$2.1" 2>&1 & b=$!
        "$1" 3 >"$2.2" 2>&1 & c=$!
        wait $a; ra=$?; wait $b; rb=$?; wait $c; rc=$?
        exit $((ra | rb | rc))' sh "$dir/example" "$dir/run" >"$dir/run.log" 2>&1
    local rc=$? f g id missing=0
    for f in "$dir"/run.[012]; do
        [ -f "$f" ] || continue
        echo "--- output of one copy:"
        head -n 10 "$f"
    done
    [ $rc -eq 0 ] || { head -n 20 "$dir/run.log"; echo "FAIL: example exited $rc"; return 1; }
    echo "PASS: example runs"
    # Each copy prints "self: ID" first and messages as "ID NAME: TEXT";
    # its own message comes back too (self-delivery, on by default).
    for f in "$dir"/run.[012]; do
        for g in "$dir"/run.[012]; do
            id=$(sed -n 's/^self: //p' "$g")
            if [ -z "$id" ] || ! grep -q "^$id .*: hello, group\$" "$f"; then
                echo "FAIL: copy ${f##*.} did not receive the message of copy ${g##*.} (${id:-no id})"
                missing=1
            fi
        done
    done
    [ $missing -eq 0 ] || return 1
    echo "PASS: three copies started together each received both others' messages"
}

run_example() {
    local log=$LOGDIR/example.log t0=$SECONDS rc pass fail skip
    say "suite example: README example, installed copy, pkg-config"
    suite_example 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    pass=$(grep -c '^PASS: ' "$log")
    skip=$(grep -c '^SKIP: ' "$log")
    fail=0
    [ "$rc" -eq 0 ] || fail=1
    # Write the counts the way automake does, so record() reads them.
    printf '# PASS: %d\n# SKIP: %d\n# FAIL: %d\n' "$pass" "$skip" "$fail" >>"$log"
    record example "$rc" "$log" $((SECONDS - t0))
    return "$rc"
}

# automake's $(distdir): PACKAGE-VERSION, read from the configured Makefile.
dist_name() {
    echo "$(sed -n 's/^PACKAGE = //p' Makefile)-$(sed -n 's/^VERSION = //p' Makefile)"
}

# A distribution tree is clean (never configured), so it can take the
# out-of-tree sanitizer build that the configured source tree refuses.
run_sanitizers() {
    local src=$CIDIR/sanitizers distname
    rm -rf "$src"
    mkdir -p "$CIDIR"
    distname=$(dist_name)
    if ! make -s distdir >"$LOGDIR/sanitizers-distdir.log" 2>&1 || [ ! -d "$distname" ]; then
        tail -n 20 "$LOGDIR/sanitizers-distdir.log" | tee "$LOGDIR/sanitizers.log"
        record sanitizers 1 "$LOGDIR/sanitizers.log" 0
        return 1
    fi
    mv "$distname" "$src" && mkdir -p "$src/build"
    # Leaks are errors too; UBSan stops at the first report with a trace.
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        run_suite sanitizers "$src/build" "$src/build" sh -c \
        "../configure -q --enable-sanitizers --enable-werror && make -j$JOBS && make -j$JOBS check"
}

# A wider simulator sweep than make check's: thousands of runs across every
# scenario (COHORT_SIM_SEEDS seeds per scenario, default 500).
run_sweep() {
    COHORT_SIM_SEEDS=${COHORT_SIM_SEEDS:-500} run_suite sweep "$ROOT" "$ROOT" \
        make -j"$JOBS" check TESTS=tests/sim-seeds.sh
}

# libFuzzer on the core, with ASan + UBSan, for a bounded time
# (COHORT_FUZZ_SECONDS, default 120), starting from the checked-in corpus.
run_fuzz() {
    local log=$LOGDIR/fuzz.log t0=$SECONDS rc secs=${COHORT_FUZZ_SECONDS:-120}
    say "suite fuzz: tests/fuzz/build.sh for ${secs}s"
    timeout -k 30 $((secs + 600)) ./tests/fuzz/build.sh "$CIDIR/fuzz" "$secs" 2>&1 | tail -n 25 | tee "$log"
    rc=${PIPESTATUS[0]}
    if [ "$rc" -eq 0 ]; then
        printf 'PASS: fuzz_core (%ss, no crash)\n# PASS: 1\n# FAIL: 0\n' "$secs" >>"$log"
    else
        printf 'FAIL: fuzz_core (crash inputs in %s)\n# PASS: 0\n# FAIL: 1\n' "$CIDIR/fuzz" >>"$log"
    fi
    record fuzz "$rc" "$log" $((SECONDS - t0))
    return "$rc"
}

print_summary() {
    echo
    echo "================================ cohort test summary ================================"
    local line
    for line in "${SUMMARY[@]}"; do
        echo "  $line"
    done
    echo "  total time: $((SECONDS - START_S))s"
    echo "====================================================================================="
    # The closing line CI reads: "N passed, N failed" after one word.
    echo "cohort-tests: $TOTAL_PASS passed, $TOTAL_FAIL failed, $TOTAL_SKIP skipped"
}

mkdir -p "$LOGDIR"
say "setup: ./scripts/setup.sh${setup_args[*]+ ${setup_args[*]}}"
# setup's make is usually a no-op here: its own log name keeps the real
# build's build-logs/make.log.
if ! COHORT_MAKE_LOG=test-make.log ./scripts/setup.sh "${setup_args[@]+"${setup_args[@]}"}"; then
    SUMMARY+=("setup       FAILED: see the output above and build-logs/")
    TOTAL_FAIL=$((TOTAL_FAIL + 1))
    print_summary
    exit 1
fi

failed=0
run_suite check "$ROOT" "$ROOT" make -j"$JOBS" check || failed=1
run_example || failed=1
if [ "$full" = yes ]; then
    run_sweep || failed=1
    run_fuzz || failed=1
    run_sanitizers || failed=1
    # distcheck builds in DISTNAME/_build/sub and leaves it there on failure.
    run_suite distcheck "$ROOT" "$ROOT/$(dist_name)/_build/sub" \
        make -j"$JOBS" distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror || failed=1
fi

print_summary
[ "$failed" -eq 0 ] && [ "$TOTAL_FAIL" -eq 0 ]
