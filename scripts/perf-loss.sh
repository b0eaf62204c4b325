#!/bin/sh
# perf-loss.sh - fifo throughput under kernel loss, as a share of lossless.
#
#   scripts/perf-loss.sh [RATES] [--independent] [cohort-perf run options...]
#
# RATES: percentages, comma-separated (default 0,1,5,20; 0 comes first
# if missing, it is the reference). For each rate, one invocation of
#   COHORT_NFT_DROP=P tests/netns.sh ./cohort-perf run --modes fifo \
#       --size 1000 --seconds 2 --repeat 3 --json [options]
# from the build directory (the current one): nftables drops P % of the UDP
# datagrams arriving in a private namespace, on the input hook only, so P
# is the real rate (raw's loss, in the same invocation, shows it). Prints
# one row per rate: raw's loss, fifo's goodput (distinct, checked messages
# a second, median of 3), as % of the 0 % run and beside raw, and whether
# every run delivered right. Further options are passed on after those
# (a later --size or --seconds overrides), e.g. --parity 32. Needs nft,
# permission for a network namespace, and python3 (to read the JSON).
#
# --independent: instead, every process in a namespace of its own on a
# bridge (cohort-perf --netns-loss P): the bridge drops P % of the frames
# it forwards to each port apart, so each receiver loses its own datagrams
# (on lo a multicast datagram crosses the input hook once for all its
# receivers, who lose it together). Veth ports have Ethernet's MTU, so
# datagrams are at most 1472 bytes there.
# Segmentation offload is off here (COHORT_GSO=0, unless set): on lo and
# veth the kernel cuts a segmented run only where it is received, so a
# drop on the way would take a whole run at once, where a real network
# loses frames one by one (docs/api.md, "Segmentation offload").
# Exit 1 if an invocation failed or delivered wrongly.

set -u
COHORT_GSO=${COHORT_GSO:-0}
export COHORT_GSO

HERE=$(cd "$(dirname "$0")" && pwd)
NETNS=$(dirname "$HERE")/tests/netns.sh
PERF=./cohort-perf
rates=0,1,5,20
case ${1:-} in
    [0-9]*) rates=$1; shift ;;
esac
independent=0
if [ "${1:-}" = --independent ]; then
    independent=1
    shift
fi
[ -x "$PERF" ] || { echo "perf-loss.sh: run it from the build directory (no $PERF)" >&2; exit 2; }
command -v nft >/dev/null 2>&1 || { echo "perf-loss.sh: needs nft (Debian: nftables)" >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "perf-loss.sh: needs python3" >&2; exit 2; }
case ",$rates," in *,0,*) ;; *) rates=0,$rates ;; esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cohort-perf-loss.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
for p in $(echo "$rates" | tr ',' ' '); do
    load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
    if [ $independent = 1 ]; then
        "$PERF" run --netns-loss "$p" --modes fifo --size 1000 \
            --seconds 2 --repeat 3 --quiet --json "$@" >"$tmp/$p.json" ||
            failed=1
    else
        COHORT_NFT_DROP=$p sh "$NETNS" "$PERF" run --modes fifo --size 1000 \
            --seconds 2 --repeat 3 --quiet --json "$@" >"$tmp/$p.json" ||
            failed=1
    fi
    echo "$load" >"$tmp/$p.load"
done
python3 - "$tmp" "$rates" <<'EOF' || failed=1
import json, sys
d, rates = sys.argv[1], sys.argv[2].split(',')
def cells(p):
    try:
        j = json.load(open(f"{d}/{p}.json"))
    except (OSError, ValueError):
        return None
    return {c['mode']: c for c in j['cells'] if 'error' not in c}
ref = cells('0')
base = ref['fifo']['msgs_per_s'] if ref and 'fifo' in ref else 0
print(f"{'drop':>5} {'raw loss':>9} {'fifo msgs/s':>12} {'% of 0 %':>9} "
      f"{'vs raw':>7} {'retrans':>8} {'parity':>7}  valid  load")
bad = 0
for p in rates:
    c = cells(p)
    load = open(f"{d}/{p}.load").read().strip()
    if not c or 'fifo' not in c or 'raw' not in c:
        print(f"{p:>4}%  failed"); bad = 1; continue
    f, r = c['fifo'], c['raw']
    loss = max(x['loss'] for x in r['receivers'])
    ok = f['valid'] and r['valid']
    bad |= not ok
    share = 100.0 * f['msgs_per_s'] / base if base else 0.0
    print(f"{p:>4}% {100 * loss:>8.2f}% {f['msgs_per_s']:>12.0f} "
          f"{share:>8.1f}% {f.get('ratio', 0):>7.2f} {f['retransmissions']:>8}"
          f" {f.get('parity_sent', 0):>7}"
          f"  {'yes' if ok else 'NO':>5}  {load}")
sys.exit(bad)
EOF
exit $failed
