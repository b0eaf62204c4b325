#!/bin/sh
# datagram-mismatch.sh - members whose max_datagram differs are kept in
# separate views, and told so, rather than sharing one in which the
# smaller drops the larger's datagrams and holds everyone's stream up.
#
# In a private network namespace (loopback only): subscriber A with
# --datagram 1400, subscriber B with the loopback default (65507), and a
# publisher (default) that waits for one other member and publishes a
# 5 KB event (one datagram of about 6.7 KB, longer than A accepts). Then:
#  - the publisher exits 0: the event is held by every member of its view
#    (before 2026-12-07 A was in that view and the publisher timed out);
#  - B printed the event, byte for byte;
#  - A printed nothing, warned "kept in separate views: max_datagram 65507
#    at member ..." (once for each of the two others) and timed out (3);
#  - B warned once about A ("max_datagram 1400"; the publisher may be
#    gone before it takes that event).
# Exit 0 pass, 1 fail (logs kept, directory named), 77 skip.

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
pub=$top_builddir/cohort-pub
sub=$top_builddir/cohort-sub
me=datagram-mismatch
skip() { echo "$me: SKIP: $*"; exit 77; }
for t in "$pub" "$sub"; do [ -x "$t" ] || skip "$t not built"; done
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
if [ "${COHORT_IN_NS:-}" != 1 ]; then
    unshare -n true 2>/dev/null || skip "cannot make a network namespace"
    COHORT_IN_NS=1 exec timeout -k 2 60 unshare -n sh "$0" "$@"
fi
ip link set lo up 2>/dev/null || skip "cannot bring loopback up"

dir=$(mktemp -d "${TMPDIR:-/tmp}/cohort-$me.XXXXXX")
fail=0
bad() { echo "$me: FAIL: $*"; fail=1; }

head -c 2500 /dev/urandom | od -An -tx1 -v | tr -d " \n" > "$dir/event"
timeout 30 "$sub" --group mix --datagram 1400 --count 1 --timeout 5 \
    > "$dir/a.out" 2> "$dir/a.err" &
a=$!
timeout 30 "$sub" --group mix --count 1 --timeout 20 \
    > "$dir/b.out" 2> "$dir/b.err" &
b=$!
sleep 0.3
timeout 30 "$pub" --group mix --wait-members 1 --timeout 10 \
    -f "$dir/event" > "$dir/pub.out" 2> "$dir/pub.err"
prc=$?
wait $b; brc=$?
wait $a; arc=$?

[ $prc -eq 0 ] || bad "publisher exited $prc, want 0 ($(tail -1 "$dir/pub.err"))"
[ $brc -eq 0 ] || bad "subscriber B exited $brc, want 0"
# cohort-sub prints TOPIC PAYLOAD and a newline (the payload is hex text)
{ printf 'events '; cat "$dir/event"; printf '\n'; } > "$dir/want"
cmp -s "$dir/b.out" "$dir/want" || bad "B did not print the event as published"

[ $arc -eq 3 ] || bad "subscriber A exited $arc, want 3 (timeout)"
[ -s "$dir/a.out" ] && bad "A printed something: it was in the publisher's view"
n=$(grep -c 'kept in separate views: max_datagram 65507 at member' "$dir/a.err")
[ "$n" -eq 2 ] || bad "A warned $n times about the others, want 2"
n=$(grep -c 'kept in separate views: max_datagram 1400 at member' "$dir/b.err")
[ "$n" -eq 1 ] || bad "B warned $n times about A, want 1"

if [ $fail -eq 0 ]; then
    echo "$me: PASS: 1400 and 65507 kept apart and told; the 65507 pair delivered"
    rm -rf "$dir"
else
    echo "$me: logs in $dir"
fi
exit $fail
