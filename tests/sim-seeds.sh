#!/bin/sh
# sim-seeds.sh - the deterministic simulator in make check (docs/testing.md).
#
#  1. a bounded sweep: every scenario for COHORT_SIM_SEEDS seeds (default
#     50, so 300 runs; each takes a few ms of CPU, virtual time is free);
#     COHORT_SIM_FIRST moves the window (default 1);
#  2. determinism: the same seed run twice, in two processes, must give the
#     same trace hash (so nothing depends on addresses, the clock or hash
#     order);
#  3. checker self-tests: the simulator breaks each guarantee on purpose
#     and the run must fail with the matching complaint, so a checker that
#     stopped checking cannot hide behind a green sweep.
# Any failure prints the seed and the exact command that replays it.
set -u

builddir=${top_builddir:-.}
sim="$builddir/tests/sim/cohort-sim"
if [ ! -x "$sim" ]; then
    echo "sim-seeds: $sim is not built" >&2
    exit 99
fi

seeds=${COHORT_SIM_SEEDS:-50}
first=${COHORT_SIM_FIRST:-1}
case "$seeds$first" in
*[!0-9]*) echo "sim-seeds: COHORT_SIM_SEEDS and COHORT_SIM_FIRST must be numbers" >&2; exit 99 ;;
esac
[ "$seeds" -ge 1 ] || seeds=1
last=$((first + seeds - 1))

# Every run is bounded in virtual time; this bounds the wall clock too.
limit=$((120 + seeds))
run() {
    if command -v timeout >/dev/null 2>&1; then
        timeout "$limit" "$sim" "$@"
    else
        "$sim" "$@"
    fi
}

status=0

echo "sim-seeds: sweeping seeds $first-$last over every scenario"
out=$(run --seeds "$first-$last" --scenario all --quiet)
rc=$?
printf '%s\n' "$out"
if [ $rc -ne 0 ]; then
    echo "sim-seeds: sweep FAILED (replay commands above)"
    status=1
fi

echo "sim-seeds: determinism"
for spec in "lossy 11" "crash 12" "heavy 13" "slow 14" "partition 15"; do
    set -- $spec
    a=$(run --scenario "$1" --seed "$2" --trace-hash | sed -n 's/.*hash=\([0-9a-f]*\).*/\1/p')
    b=$(run --scenario "$1" --seed "$2" --trace-hash | sed -n 's/.*hash=\([0-9a-f]*\).*/\1/p')
    if [ -z "$a" ] || [ "$a" != "$b" ]; then
        echo "sim-seeds: NOT deterministic: --scenario $1 --seed $2 gave '$a' then '$b'"
        status=1
    else
        echo "  $1 $2: $a twice"
    fi
done

echo "sim-seeds: checker self-tests"
selftest() { # kind, pattern the failure must match
    for seed in 1 2 3 4 5 6 7 8; do
        o=$(run --scenario basic --seed "$seed" --self-test "$1")
        rc=$?
        case "$o" in *"nothing to inject"*) continue ;; esac
        if [ $rc -eq 1 ] && printf '%s\n' "$o" | grep -Eq "$2"; then
            echo "  $1: caught ($(printf '%s\n' "$o" | head -n 1 | cut -c1-110))"
            return 0
        fi
        echo "sim-seeds: self-test '$1' NOT caught as expected (seed $seed, rc $rc):"
        printf '%s\n' "$o"
        return 1
    done
    echo "sim-seeds: self-test '$1' found nothing to inject into"
    return 1
}
selftest drop 'FIFO gap|has not delivered' || status=1
selftest dup 'duplicate' || status=1
selftest corrupt 'corrupted' || status=1
selftest cut 'liveness' || status=1

exit $status
