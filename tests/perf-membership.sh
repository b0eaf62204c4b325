#!/bin/sh
# perf-membership.sh - make check: a fast smoke run of cohort-perf
# membership (2 members, one repeat, member timeout 500 ms) in a private
# network namespace (tests/netns.sh), bounded by timeout(1). Checks that
# every phase completed (start, crash, join, leave) and that the JSON
# output has the figures; the figures themselves are not judged here
# (docs/performance.md, "Membership"). Then the same for --dip (a FIFO
# stream across a join, a leave and a crash; 3 members, about 10 s).
# Last, ordered delivery (a few seconds): total and safe throughput with
# three concurrent senders beside raw, whose receivers must agree on the
# order, and their ping-pong latency.

set -u

srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
PERF=$builddir/cohort-perf
NETNS=$srcdir/tests/netns.sh

if [ ! -x "$PERF" ]; then
    echo "perf-membership.sh: $PERF not built; skipping"
    exit 77
fi

out=$(mktemp "${TMPDIR:-/tmp}/cohort-perf-membership.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT

sh "$NETNS" timeout -k 2 20 "$PERF" membership --members 2 --repeat 1 \
    --member-timeout-ms 500 --quiet --json >"$out"
rc=$?
cat "$out"
case $rc in
    0) ;;
    124|137) echo "perf-membership.sh: FAILED: did not finish within 20 s"
             exit 1 ;;
    *) echo "perf-membership.sh: FAILED (exit $rc)"
       exit 1 ;;
esac
for key in '"members":2' '"failed":0' '"converge_ms"' '"join_ms"' \
           '"crash_ms"' '"leave_ms"'; do
    if ! grep -q "$key" "$out"; then
        echo "perf-membership.sh: FAILED: no $key in the JSON"
        exit 1
    fi
done
echo "perf-membership.sh: start, crash, join and leave measured"

sh "$NETNS" timeout -k 2 30 "$PERF" membership --dip --members 3 --repeat 1 \
    --member-timeout-ms 500 --quiet --json >"$out"
rc=$?
cat "$out"
case $rc in
    0) ;;
    124|137) echo "perf-membership.sh: FAILED: --dip did not finish within 30 s"
             exit 1 ;;
    *) echo "perf-membership.sh: FAILED: --dip (exit $rc)"
       exit 1 ;;
esac
for key in '"test":"membership-dip"' '"members":3' '"failed":0' '"join":{' \
           '"leave":{' '"crash":{' '"lost_timeouts"' '"steady_MBps"'; do
    if ! grep -q "$key" "$out"; then
        echo "perf-membership.sh: FAILED: no $key in the --dip JSON"
        exit 1
    fi
done
echo "perf-membership.sh: the stream's dip across join, leave and crash measured"

sh "$NETNS" timeout -k 2 60 "$PERF" table --modes total,safe --senders 3 \
    --size 1000 --count 2000 --latency --round-trips 100 --quiet --json >"$out"
rc=$?
cat "$out"
case $rc in
    0) ;;
    124|137) echo "perf-membership.sh: FAILED: ordered cells did not finish within 60 s"
             exit 1 ;;
    *) echo "perf-membership.sh: FAILED: ordered cells (exit $rc)"
       exit 1 ;;
esac
for key in '"mode":"total","security":"none","size":1000,"datagram":[0-9]*,"test":"throughput","senders":3' \
           '"mode":"safe","security":"none","size":1000,"datagram":[0-9]*,"test":"latency"' \
           '"mode":"raw","security":"none","size":1000,"datagram":[0-9]*,"test":"throughput","senders":3' \
           '"order_agreed":true' '"p50_ratio"'; do
    if ! grep -q "$key" "$out"; then
        echo "perf-membership.sh: FAILED: no $key in the ordered cells' JSON"
        exit 1
    fi
done
if grep -q '"order_agreed":false\|"error"' "$out"; then
    echo "perf-membership.sh: FAILED: a cell failed or receivers disagreed"
    exit 1
fi
echo "perf-membership.sh: total and safe with 3 senders (order agreed) and latency measured"
exit 0
