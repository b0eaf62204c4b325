#!/bin/sh
# perf-verify.sh - make check: cohort-perf checks what it measures.
# In a private network namespace (tests/netns.sh), small fixed-count runs:
#   1. a clean fifo run beside raw and raw1 (8000 B at 1400-B datagrams,
#      where raw cuts): exit
#      0, every cell valid, no duplicate, late or corrupt message (fifo:
#      none missing either, or it would be invalid);
#   2. each fault a sender can be told to make (--inject skip, dup,
#      corrupt: every 1000th message) makes the run INVALID, counted as
#      what it is, with exit 1; --allow-invalid gives exit 0 and the same
#      verdict;
#   3. with nft (COHORT_NFT_DROP=10, input only), fifo stays valid with no
#      loss, and raw's loss (sequence numbers missing) is near the nominal
#      10 %, not the double of a rule on input and output;
#   4. with nft and ip, --netns-loss 10 --parity 8: each receiver loses
#      about 10 % of raw's datagrams, not the same number (its own
#      losses), and fifo is valid, repaired with parity symbols.
# A clean run whose receiver lost a member by timeout mid-run (a process
# starved for member_timeout on a loaded machine: "across a membership
# change", which virtual synchrony allows) is run once more, and said so;
# any other wrong delivery fails at once. The failures are repeated at the
# end, under the JSON, so the last lines of the log say what failed.
# Exit 0 pass, 1 fail, 77 skip (no cohort-perf).

set -u

srcdir=${top_srcdir:-$(dirname "$0")/..}
builddir=${top_builddir:-.}
PERF=$builddir/cohort-perf
NETNS=$srcdir/tests/netns.sh
[ -x "$PERF" ] || { echo "perf-verify.sh: $PERF not built; skipping"; exit 77; }
out=$(mktemp "${TMPDIR:-/tmp}/cohort-perf-verify.XXXXXX") || exit 99
trap 'rm -f "$out"' EXIT
failed=0
failures=
ok() { echo "PASS: $*"; }
bad() {
    echo "FAIL: $*"
    failed=$((failed + 1))
    failures="$failures
FAIL: $*"
}

perf() { # perf ARGS...: run in the namespace, JSON in $out, status in $rc
    sh "$NETNS" timeout -k 2 60 "$PERF" "$@" --quiet --json >"$out" 2>&1
    rc=$?
}
has() { grep -q -- "$1" "$out"; }

# 1. clean
perf run --modes fifo --size 1000,8000 --count 3000 --datagram 1400
if [ $rc -ne 0 ] && has 'across a membership change'; then
    echo "NOTE: clean run: a member was lost by timeout mid-run; once more:"
    grep -o '"members_lost":[0-9]*' "$out" | sort | uniq -c
    perf run --modes fifo --size 1000,8000 --count 3000 --datagram 1400
fi
if [ $rc -eq 0 ] && has '"mode":"raw1","security":"none","size":8000' &&
   has '"mode":"fifo","security":"none","size":8000' &&
   has '"ratio_raw1"' && ! has '"valid":false' &&
   ! grep -q '"\(duplicates\|late\|corrupt\)":[1-9]' "$out" &&
   [ "$(grep -o '"valid":true' "$out" | wc -l)" -eq 5 ]; then
    ok "clean fifo, raw, raw1: valid, nothing duplicated, late or corrupt"
else
    bad "clean run: exit $rc: $(grep -o '"invalid":"[^"]*"' "$out" |
        sort -u | tr '\n' ' ')"
    cat "$out"
fi

# 2. injected faults
for what in skip:missing dup:duplicates corrupt:corrupt; do
    inj=${what%%:*} key=${what#*:}
    perf run --mode fifo --size 1000 --count 3000 --inject "$inj"
    if [ $rc -eq 1 ] && has '"valid":false' && has "\"$key\":[1-9]" &&
       has '"invalid":"'; then
        ok "--inject $inj: INVALID ($key counted), exit 1"
    else
        bad "--inject $inj: exit $rc"; cat "$out"
    fi
done
perf run --mode fifo --size 64 --count 3000 --inject dup --allow-invalid
if [ $rc -eq 0 ] && has '"valid":false'; then
    ok "--allow-invalid: exit 0, still INVALID"
else
    bad "--allow-invalid: exit $rc"; cat "$out"
fi
# The table says it too.
sh "$NETNS" timeout -k 2 60 "$PERF" run --mode fifo --size 1000 --count 3000 \
    --inject skip --quiet >"$out" 2>&1
if grep -q '^ *1000  fifo .*INVALID (1 of 1 runs): gaps' "$out" &&
   grep -q 'INVALID run: fifo 1000 B' "$out"; then
    ok "the table row and stderr say INVALID"
else
    bad "no INVALID in the table"; cat "$out"
fi

# 3. kernel loss on input only
if command -v nft >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
    COHORT_NFT_DROP=10 sh "$NETNS" timeout -k 2 90 "$PERF" run --modes fifo \
        --size 1000 --count 5000 --quiet --json >"$out" 2>&1
    rc=$?
    # The worst receiver's loss, in percent: raw's (fifo's is 0).
    loss=$(grep -o '"loss":[0-9.]*' "$out" | cut -d: -f2 | sort -n | tail -n 1)
    pct=$(awk -v l="${loss:-0}" 'BEGIN { printf "%d", l * 100 }')
    if [ $rc -eq 0 ] && ! has '"valid":false' && [ "$pct" -ge 5 ] &&
       [ "$pct" -le 15 ]; then
        ok "10% input loss: fifo valid; a receiver lost ${pct}% of raw"
    else
        bad "10% input loss: exit $rc, raw loss ${pct}%: $(grep -o \
            '"invalid":"[^"]*"' "$out" | sort -u | tr '\n' ' ')"
        cat "$out"
    fi
else
    echo "SKIP: kernel loss (needs nft and unshare -n)"
fi

# 4. loss of each receiver's own (--netns-loss: a namespace per process on
#    a bridge that drops per output port) repaired by parity
if command -v nft >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 &&
   unshare -n true 2>/dev/null; then
    timeout -k 2 120 "$PERF" run --netns-loss 10 --parity 8 --modes fifo \
        --size 1000 --count 5000 --quiet --json >"$out" 2>&1
    rc=$?
    # raw's receivers: missing of each (after the cell's sum, the first
    # "missing"); fifo: parity the sender sent
    miss=$(grep -o '"missing":[0-9]*' "$out" | cut -d: -f2 | tr '\n' ' ')
    par=$(grep -o '"parity_sent":[0-9]*' "$out" | cut -d: -f2 | sort -n |
          tail -n 1)
    set -- $miss ''
    shift
    if [ $rc -eq 0 ] && ! has '"valid":false' && has '"netns_loss":10' &&
       [ $# -ge 2 ] && [ "$1" -ge 250 ] && [ "$1" -le 750 ] &&
       [ "$2" -ge 250 ] && [ "$2" -le 750 ] && [ "$1" != "$2" ] &&
       [ "${par:-0}" -gt 0 ]; then
        ok "10% loss per receiver: raw lost $1 and $2 of 5000, fifo valid," \
           "repaired with $par parity symbols"
    else
        bad "--netns-loss 10 --parity 8: exit $rc, raw missing: $miss," \
            "parity sent: ${par:-none}"
        cat "$out"
    fi
else
    echo "SKIP: loss per receiver (needs nft, ip and unshare -n)"
fi

if [ $failed -ne 0 ]; then
    echo "perf-verify.sh: $failed failed:$failures"
    exit 1
fi
exit 0
