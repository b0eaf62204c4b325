#!/bin/sh
# perf-plot.sh - cohort-perf's chart and its status line:
#   1. a tiny table (fifo beside raw, two sizes, throughput and latency)
#      with --plot FILE.svg: the SVG is written, is well-formed XML (an
#      <svg> document) and has both panels; the same as PNG (its magic);
#   2. --plot without gnuplot on PATH fails at once, saying how to get it;
#      a name that is neither .svg nor .png is a usage error;
#   3. the status line: drawn in place on a terminal (script(1) gives
#      cohort-perf a pseudo-terminal), never written to a pipe or with
#      --json.
# Runs in a private network namespace (tests/netns.sh) when it can.

set -u

srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
PERF=$builddir/cohort-perf
NETNS=$srcdir/tests/netns.sh
[ -x "$PERF" ] || { echo "perf-plot.sh: $PERF not built"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cohort-perf-plot.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0

in_ns() { if [ -f "$NETNS" ]; then sh "$NETNS" "$@"; else "$@"; fi; }
ok() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

TINY="table --size 64,1000 --count 2000 --latency --round-trips 200 --modes fifo --receivers 1"

# 2. refusals first: they need no network.
env PATH=/nonexistent "$PERF" $TINY --plot "$tmp/none.svg" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^cohort-perf: --plot: gnuplot is not installed.*gnuplot-nox' "$tmp/err" &&
   [ ! -e "$tmp/none.svg" ]; then
    ok "--plot without gnuplot: exit 1, says how to install it"
else
    bad "--plot without gnuplot: exit $rc: $(cat "$tmp/err")"
fi
"$PERF" $TINY --plot "$tmp/chart.txt" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q 'must end in .svg or .png' "$tmp/err"; then
    ok "--plot chart.txt: usage error"
else
    bad "--plot chart.txt: exit $rc: $(cat "$tmp/err")"
fi

if ! command -v gnuplot >/dev/null 2>&1; then
    echo "SKIP: gnuplot is not installed (Debian: gnuplot-nox)"
    [ $failed -eq 0 ] && exit 77
    exit 1
fi

# 1. the chart
# shellcheck disable=SC2086
in_ns timeout -k 5 240 "$PERF" $TINY --plot "$tmp/chart.svg" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ]; then
    bad "table --plot chart.svg: exit $rc"; cat "$tmp/out" "$tmp/err"
elif ! python3 -c 'import sys, xml.etree.ElementTree as E
r = E.parse(sys.argv[1]).getroot()
sys.exit(0 if r.tag.endswith("svg") else 1)' "$tmp/chart.svg"; then
    bad "chart.svg is not a well-formed SVG document"
elif ! grep -q 'Throughput by message size' "$tmp/chart.svg" ||
     ! grep -q 'Round-trip latency (CDF)' "$tmp/chart.svg" ||
     ! grep -q '>fifo<' "$tmp/chart.svg" || ! grep -q '>raw<' "$tmp/chart.svg"; then
    bad "chart.svg lacks a panel or a series"
else
    ok "table --plot chart.svg: well-formed SVG, both panels, fifo and raw"
fi
if command -v xmllint >/dev/null 2>&1 && [ -s "$tmp/chart.svg" ]; then
    xmllint --noout "$tmp/chart.svg" && ok "xmllint accepts chart.svg" ||
        bad "xmllint rejects chart.svg"
fi
if grep -q 'cell [0-9]*/' "$tmp/err"; then
    bad "a status line went to a file"
else
    ok "no status line in a file"
fi
# shellcheck disable=SC2086
in_ns timeout -k 5 240 "$PERF" table --size 64 --count 2000 --modes fifo \
    --receivers 1 --plot "$tmp/chart.png" --quiet >/dev/null 2>&1
if [ "$(head -c 4 "$tmp/chart.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ]; then
    ok "table --plot chart.png: a PNG"
else
    bad "chart.png is not a PNG"
fi

# 3. the status line on a terminal
if command -v script >/dev/null 2>&1; then
    in_ns timeout -k 5 240 script -qec "$PERF run --mode fifo --size 1000 \
        --seconds 2.5 --receivers 1" /dev/null >"$tmp/tty" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && grep -q "$(printf '\r')cohort-perf: cell 1/1 fifo 1000 B, throughput: [0-9.]*/2.5 s, .* sent, .*/s" "$tmp/tty" &&
       tr -d '\r' <"$tmp/tty" | grep -q '^ *1000  fifo'; then
        ok "run on a terminal: the status line names the cell and how far it is"
    else
        bad "run on a terminal: exit $rc, output:"; cat -v "$tmp/tty" | tail -n 5
    fi
    in_ns timeout -k 5 240 script -qec "$PERF run --mode fifo --size 1000 \
        --seconds 2.5 --receivers 1 --json" /dev/null >"$tmp/tty" 2>&1
    if grep -q 'cell 1/1' "$tmp/tty"; then
        bad "--json on a terminal still drew the status line"
    else
        ok "--json: no status line"
    fi
else
    echo "SKIP: status line on a terminal (no script(1))"
fi

[ $failed -eq 0 ] || exit 1
exit 0
