#!/bin/sh
# kvd-bench.sh - redis-benchmark against three cohort-kvd replicas and one
# redis-server, in the same run, inside a private network namespace (no
# traffic leaves the machine). Needs root (unshare -n), redis-server and
# redis-tools. Usage: scripts/kvd-bench.sh [REQUESTS]  (default 100000)
set -u
if [ "${KVD_BENCH_IN_NS:-}" != 1 ]; then
    KVD_BENCH_IN_NS=1 exec timeout 600 unshare -n "$0" "$@"
fi
n=${1:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
kvd=${COHORT_KVD:-$here/cohort-kvd}
for t in "$kvd" redis-server redis-benchmark redis-cli; do
    command -v "$t" >/dev/null 2>&1 || { echo "kvd-bench: $t missing"; exit 77; }
done
ip link set lo up
tmp=$(mktemp -d)
# The servers' pids, kept by hand: in a trap, $(jobs -p) runs in a
# subshell that has no jobs (dash), and a bare wait would then hang.
pids=
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null; rm -rf "$tmp"' EXIT
for p in 6381 6382 6383; do
    "$kvd" --port "$p" --group bench --expected 3 >"$tmp/kvd$p.log" 2>&1 &
    pids="$pids $!"
done
redis-server --port 6390 --save '' --appendonly no >"$tmp/redis.log" 2>&1 &
pids="$pids $!"
for i in $(seq 50); do
    redis-cli -p 6381 ping >/dev/null 2>&1 && redis-cli -p 6390 ping >/dev/null 2>&1 && break
    sleep 0.2
done
sleep 1 # the replicas agree on their view
printf '%-10s %14s %14s %6s\n' test redis-server cohort-kvd ratio
for t in set get; do
    for pl in 1 16; do
        rate() {
            redis-benchmark -p "$1" -t "$t" -n "$n" -c 50 -P "$pl" -q 2>/dev/null |
                tr '\r' '\n' | grep 'requests per second' | tail -1 |
                sed 's/.*: \([0-9.]*\) requests.*/\1/'
        }
        a=$(rate 6390)
        b=$(rate 6381)
        printf '%-10s %14s %14s %6s\n' "$t -P $pl" "$a" "$b" \
            "$(echo "$a $b" | awk '{ if ($1 > 0) printf "%.2f", $2 / $1 }')"
    done
done
d1=$(redis-cli -p 6381 kvd.digest) d2=$(redis-cli -p 6382 kvd.digest) \
    d3=$(redis-cli -p 6383 kvd.digest)
if [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]; then
    echo "replicas agree: KVD.DIGEST $d1"
else
    echo "replicas DIFFER: $d1 $d2 $d3"
    exit 1
fi
