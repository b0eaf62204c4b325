#!/bin/sh
# cipher-mix.sh - a member whose CPU cannot open AES-256-GCM (acted with
# COHORT_AES=0) gets everything from members left at the default cipher
# (FASTEST): its datagrams say it cannot, and they seal with
# XChaCha20-Poly1305 while they hear it. A member set to AES256GCM does
# not give in: there it gets nothing and says why.
#
# In a private network namespace (loopback only), encrypted with a key
# from cohort-keygen:
#  1. subscriber A (COHORT_AES=0), subscriber B (default) and a publisher
#     (default) of 50 events that waits for both: A and B print all 50,
#     as published, and A warns about nothing;
#  2. subscriber A (COHORT_AES=0) and a publisher with --cipher aes256gcm
#     that does not wait for it: A prints nothing, ends with 4 (nothing
#     printed while the group's traffic was refused), and
#     warns "datagrams sealed with AES-256-GCM, which this member cannot
#     open, are dropped", with cohort-sub's hint about --cipher; the
#     publisher is told once that A cannot hear it (not that the path
#     drops its datagrams).
# Without the negotiation (FASTEST sealing AES-256-GCM regardless), A
# prints nothing in 1 and the test fails.
# Exit 0 pass, 1 fail (logs kept, directory named), 77 skip.

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
pub=$top_builddir/cohort-pub
sub=$top_builddir/cohort-sub
keygen=$top_builddir/cohort-keygen
me=cipher-mix
skip() { echo "$me: SKIP: $*"; exit 77; }
for t in "$pub" "$sub" "$keygen"; do [ -x "$t" ] || skip "$t not built"; done
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
"$pub" --help 2>&1 | grep -q -- '--key' || skip "built without libsodium"
if [ "${COHORT_IN_NS:-}" != 1 ]; then
    unshare -n true 2>/dev/null || skip "cannot make a network namespace"
    COHORT_IN_NS=1 exec timeout -k 2 90 unshare -n sh "$0" "$@"
fi
ip link set lo up 2>/dev/null || skip "cannot bring loopback up"

dir=$(mktemp -d "${TMPDIR:-/tmp}/cohort-$me.XXXXXX")
fail=0
bad() { echo "$me: FAIL: $*"; fail=1; }
"$keygen" "$dir/key" >/dev/null 2>&1 || { echo "$me: FAIL: cohort-keygen"; exit 1; }
# aes256gcm is refused where the CPU lacks it: part 2 needs it.
aes=1
"$pub" --key "$dir/key" --cipher aes256gcm --help >/dev/null 2>&1 || aes=0

i=1
while [ $i -le 50 ]; do echo "event-$i"; i=$((i + 1)); done > "$dir/lines"
sed 's/^/events /' "$dir/lines" > "$dir/want"

COHORT_AES=0 timeout 40 "$sub" --group mix --key "$dir/key" --count 50 \
    --timeout 20 > "$dir/a.out" 2> "$dir/a.err" &
a=$!
timeout 40 "$sub" --group mix --key "$dir/key" --count 50 --timeout 20 \
    > "$dir/b.out" 2> "$dir/b.err" &
b=$!
sleep 0.3
timeout 40 "$pub" --group mix --key "$dir/key" --wait-members 2 \
    --timeout 15 -l < "$dir/lines" > "$dir/pub.out" 2> "$dir/pub.err"
prc=$?
wait $a; arc=$?
wait $b; brc=$?
[ $prc -eq 0 ] || bad "1: publisher exited $prc, want 0 ($(tail -1 "$dir/pub.err"))"
[ $arc -eq 0 ] || bad "1: subscriber A (no AES) exited $arc, want 0"
[ $brc -eq 0 ] || bad "1: subscriber B exited $brc, want 0"
cmp -s "$dir/a.out" "$dir/want" ||
    bad "1: A printed $(wc -l < "$dir/a.out") lines, not the 50 events"
cmp -s "$dir/b.out" "$dir/want" ||
    bad "1: B printed $(wc -l < "$dir/b.out") lines, not the 50 events"
grep -q 'AES-256-GCM' "$dir/a.err" && bad "1: A warned: $(grep 'AES-256-GCM' "$dir/a.err" | head -1)"

if [ $aes = 1 ]; then
    COHORT_AES=0 timeout 40 "$sub" --group fixed --key "$dir/key" --count 1 \
        --timeout 6 > "$dir/a2.out" 2> "$dir/a2.err" &
    a=$!
    sleep 0.3
    # 4 s of events: longer than the member timeout (3 s) A waits for.
    i=0
    while [ $i -lt 20 ]; do echo "tick-$i"; sleep 0.2; i=$((i + 1)); done |
        timeout 40 "$pub" --group fixed --key "$dir/key" --cipher aes256gcm \
            --timeout 10 -l > "$dir/pub2.out" 2> "$dir/pub2.err"
    wait $a; arc=$?
    [ $arc -eq 4 ] || bad "2: A exited $arc, want 4 (traffic refused)"
    [ -s "$dir/a2.out" ] && bad "2: A printed what it cannot open"
    grep -q 'datagrams sealed with AES-256-GCM, which this member cannot open, are dropped' \
        "$dir/a2.err" || bad "2: A did not say why it gets nothing"
    grep -q 'hint: this machine cannot open AES-256-GCM' "$dir/a2.err" ||
        bad "2: cohort-sub gave no hint about the cipher"
    n=$(grep -c 'cannot open AES-256-GCM, which this one seals with' "$dir/pub2.err")
    [ "$n" -eq 1 ] || bad "2: the publisher was told $n times that A cannot hear it, want 1"
    grep -q 'do not arrive' "$dir/pub2.err" &&
        bad "2: the publisher blamed the path: $(grep 'do not arrive' "$dir/pub2.err")"
else
    echo "$me: this CPU has no AES-256-GCM: part 2 skipped"
fi

if [ $fail -eq 0 ]; then
    echo "$me: PASS: FASTEST gave way to a member without AES; AES256GCM did not, and it was told"
    rm -rf "$dir"
else
    echo "$me: logs in $dir"
fi
exit $fail
