#!/bin/sh
# gso-bench.sh - build scripts/gso-bench.c and compare sendmmsg() with UDP
# GSO for 1 472-byte multicast datagrams: in a private network namespace
# (unshare -n) whose loopback is set to an Ethernet MTU of 1500, one sender
# and two receivers, RUNS alternating pairs of 2-second runs (default 3).
# Needs root (unshare) and a C compiler. Prints each run's send and
# receive rates.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
RUNS=${1:-3}
BIN=$(mktemp -d "${TMPDIR:-/tmp}/gso-bench.XXXXXX")
trap 'rm -rf "$BIN"' EXIT
${CC:-cc} -O2 -o "$BIN/gso-bench" "$HERE/gso-bench.c"
export BIN RUNS
exec timeout -k 2 $((RUNS * 20 + 10)) unshare -n sh -c '
ip link set lo up
ip link set lo mtu 1500
ip route add 224.0.0.0/4 dev lo
i=0
while [ "$i" -lt "$RUNS" ]; do
    for mode in mmsg gso; do
        "$BIN/gso-bench" recv 2 >"$BIN/r1" & "$BIN/gso-bench" recv 2 >"$BIN/r2" &
        sleep 0.3
        "$BIN/gso-bench" send "$mode" 2
        wait
        cat "$BIN/r1" "$BIN/r2"
    done
    i=$((i + 1))
done'
