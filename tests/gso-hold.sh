#!/bin/sh
# gso-hold.sh - at Ethernet's MTU a FIFO stream of messages about a
# datagram long leaves in segmented runs (full datagrams wait in the send
# batch, docs/api.md "Segmentation offload"). In a private network
# namespace whose loopback has MTU 1500 (so max_datagram 1472, from it),
# cohort-perf send streams FIFO messages for 2 s to one cohort-perf recv
# and cohort-stat reads the sender's counters in the middle:
#   - 8000 B (six datagrams a message: runs form without any wait): some
#     datagrams left in runs, else the kernel has no UDP_SEGMENT (skip);
#   - 1000 B (one datagram a message): at least half of the datagrams
#     left in runs (before the wait: none);
#   - 1000 B with COHORT_GSO=0: none did;
# and every receiver got every message, in order, once (its own verdict).
# Exit 0 pass, 1 fail, 77 skip.

set -u

top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
perf=$top_builddir/cohort-perf
stat=$top_builddir/cohort-stat

if [ ! -x "$perf" ] || [ ! -x "$stat" ] || ! command -v timeout >/dev/null 2>&1 ||
   ! command -v ip >/dev/null 2>&1; then
    echo "gso-hold.sh: cohort-perf or cohort-stat not built, or no timeout(1) or ip(8)"
    exit 77
fi
if [ "${COHORT_GSO_HOLD_INNER:-}" != 1 ]; then
    if ! unshare -n true 2>/dev/null; then
        echo "gso-hold.sh: cannot make a network namespace; skipping"
        exit 77
    fi
    COHORT_GSO_HOLD_INNER=1
    export COHORT_GSO_HOLD_INNER
    exec timeout -k 5 120 unshare -n sh "$0" "$@"
fi

ip link set lo mtu 1500 up || exit 99
ip route add 224.0.0.0/4 dev lo 2>/dev/null || true
work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-gso-hold.XXXXXX") || exit 99
chmod 700 "$work"
rpid= spid=
cleanup() {
    [ -n "$spid" ] && kill "$spid" 2>/dev/null
    [ -n "$rpid" ] && kill "$rpid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail=0
unset COHORT_FAULTS
"$perf" --help >/dev/null 2>&1       # the libtool wrapper links once
"$stat" --help >/dev/null 2>&1

value() {   # value NAME FILE: a counter from cohort-stat's text output
    awk -v n="$1" '$1 == n { print $2; exit }' "$2"
}

# stream TAG SIZE GSO: a 2-s stream; leaves the sender's counters, taken
# after 1 s, in $work/TAG.stat; 0 when both ends ended well
stream() {
    tag=$1 size=$2
    group=gso-hold-$$-$tag
    port=$((20000 + ($$ + ${#tag} * 97) % 20000))
    timeout 30 "$perf" recv --group "$group" --port "$port" --size "$size" \
        --seconds 2 --timeout 20 --quiet >"$work/$tag.recv" 2>&1 &
    rpid=$!
    COHORT_GSO=$3 timeout 30 "$perf" send --group "$group" --port "$port" \
        --size "$size" --seconds 2 --receivers 1 --quiet \
        --stats-socket "$work/$tag.sock" >"$work/$tag.send" 2>&1 &
    spid=$!
    for _ in $(seq 1 200); do [ -S "$work/$tag.sock" ] && break; sleep 0.05; done
    sleep 1
    timeout 10 "$stat" "$work/$tag.sock" --count 1 >"$work/$tag.stat" 2>&1
    wait "$spid"; s=$?
    wait "$rpid"; r=$?
    spid= rpid=
    if [ "$s" != 0 ] || [ "$r" != 0 ]; then
        echo "FAIL: $tag: send exit $s, recv exit $r"
        sed 's/^/  send: /' "$work/$tag.send"
        sed 's/^/  recv: /' "$work/$tag.recv"
        fail=1
        return 1
    fi
    return 0
}

# share TAG: "gso sent" of the sender
share() {
    echo "$(value gso_datagrams "$work/$1.stat") $(value datagrams_sent "$work/$1.stat")"
}

stream big 8000 1 || exit 1
set -- $(share big)
if [ "${1:-}" = "" ] || [ "${2:-0}" = 0 ]; then
    echo "FAIL: no counters from the sender: $(cat "$work/big.stat")"
    exit 1
fi
if [ "$1" = 0 ]; then
    echo "gso-hold.sh: no datagram of 8000-B messages left in a run (no UDP_SEGMENT?); skipping"
    exit 77
fi
echo "PASS: 8000 B: $1 of $2 datagrams in runs"

if stream small 1000 1; then
    set -- $(share small)
    if [ "${2:-0}" -gt 0 ] && [ $(( ${1:-0} * 2 )) -ge "$2" ]; then
        echo "PASS: 1000 B: $1 of $2 datagrams in runs"
    else
        echo "FAIL: 1000 B: only ${1:-?} of ${2:-?} datagrams in runs"
        fail=1
    fi
fi

if stream off 1000 0; then
    set -- $(share off)
    if [ "${1:-x}" = 0 ] && [ "${2:-0}" -gt 0 ]; then
        echo "PASS: 1000 B, COHORT_GSO=0: none of $2 datagrams in runs"
    else
        echo "FAIL: 1000 B, COHORT_GSO=0: ${1:-?} of ${2:-?} datagrams in runs"
        fail=1
    fi
fi
exit $fail
