#!/bin/sh
# narrow-path.sh - a member whose interface says a larger MTU than the path
# to it carries is kept out of the others' views, and each side is told,
# rather than taken in and then never reached by the longest datagrams.
#
# Three network namespaces made here (no way out of them), each with a
# veth to one bridge, every interface at MTU 9000, so every member sizes
# its datagrams at 8972 bytes; but host C's bridge port has MTU 1500, so
# the bridge drops longer frames to and from C (a switch port of a lower
# MTU). Subscribers B and C start; after 2.5 s publisher A waits for one
# other member and publishes a 5 KB event (one datagram of about 5 KB,
# longer than C's path carries). Then:
#  - the publisher exits 0: its view holds B only (before 2026-12-08 C
#    was taken in, the event could not reach it, and the view churned
#    until the publisher itself was excluded while alive);
#  - B printed the event, byte for byte;
#  - C printed nothing, timed out (3) and warned "datagrams of 8972 bytes
#    from member ... do not arrive" (at least for B);
#  - B warned so about C exactly once.
# Exit 0 pass, 1 fail (logs kept, directory named), 77 skip.

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
pub=$top_builddir/cohort-pub
sub=$top_builddir/cohort-sub
me=narrow-path
skip() { echo "$me: SKIP: $*"; exit 77; }
for t in "$pub" "$sub"; do [ -x "$t" ] || skip "$t not built"; done
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
command -v ip >/dev/null 2>&1 || skip "no ip(8)"
if [ "${COHORT_IN_NS:-}" != 1 ]; then
    unshare -n true 2>/dev/null || skip "cannot make a network namespace"
    COHORT_IN_NS=1 exec timeout -k 2 60 unshare -n sh "$0" "$@"
fi

# The bridge lives in this private namespace; the hosts in named ones,
# removed on the way out.
ns=cnp$$
cleanup() {
    for h in a b c; do ip netns del "$ns$h" 2>/dev/null; done
}
trap cleanup EXIT INT TERM
ip link set lo up 2>/dev/null || skip "cannot bring loopback up"
ip link add "${ns}br" type bridge 2>/dev/null || skip "no bridge support"
ip link set "${ns}br" type bridge mcast_snooping 0 2>/dev/null
ip link set "${ns}br" up
i=1
for h in a b c; do
    ip netns add "$ns$h" || skip "cannot add a named namespace"
    ip link add "$ns$h" type veth peer name eth0 netns "$ns$h" ||
        skip "no veth"
    ip link set "$ns$h" mtu 9000 master "${ns}br" up
    ip -n "$ns$h" link set lo up
    ip -n "$ns$h" link set eth0 mtu 9000 up
    ip -n "$ns$h" addr add "10.78.0.$i/24" dev eth0
    i=$((i + 1))
done
ip link set "${ns}c" mtu 1500 # C's port: the narrow hop

dir=$(mktemp -d "${TMPDIR:-/tmp}/cohort-$me.XXXXXX")
fail=0
bad() { echo "$me: FAIL: $*"; fail=1; }
on() { h=$1; shift; ip netns exec "$ns$h" "$@"; }

head -c 2500 /dev/urandom | od -An -tx1 -v | tr -d " \n" > "$dir/event"
on b timeout 30 "$sub" --group narrow --interface eth0 --count 1 \
    --timeout 20 > "$dir/b.out" 2> "$dir/b.err" &
b=$!
on c timeout 30 "$sub" --group narrow --interface eth0 --count 1 \
    --timeout 6 > "$dir/c.out" 2> "$dir/c.err" &
c=$!
sleep 2.5
on a timeout 30 "$pub" --group narrow --interface eth0 --wait-members 1 \
    --timeout 10 -f "$dir/event" > "$dir/pub.out" 2> "$dir/pub.err"
prc=$?
wait $b; brc=$?
wait $c; crc=$?

[ $prc -eq 0 ] || bad "publisher exited $prc, want 0 ($(tail -1 "$dir/pub.err"))"
[ $brc -eq 0 ] || bad "subscriber B exited $brc, want 0"
# cohort-sub prints TOPIC PAYLOAD and a newline (the payload is hex text)
{ printf 'events '; cat "$dir/event"; printf '\n'; } > "$dir/want"
cmp -s "$dir/b.out" "$dir/want" || bad "B did not print the event as published"

[ $crc -eq 3 ] || bad "subscriber C exited $crc, want 3 (timeout)"
[ -s "$dir/c.out" ] && bad "C printed something: it was in the publisher's view"
warn='datagrams of 8972 bytes from member [0-9]+ do not arrive'
n=$(grep -Ec "$warn" "$dir/c.err")
[ "$n" -ge 1 ] && [ "$n" -le 2 ] ||
    bad "C warned $n times about the others, want 1 or 2"
n=$(grep -Ec "$warn" "$dir/b.err")
[ "$n" -eq 1 ] || bad "B warned $n times about C, want 1"
grep -Eq "$warn" "$dir/pub.err" && bad "A warned, though its path is sound"
grep -q 'does not hold this member' "$dir/pub.err" "$dir/b.err" &&
    bad "a member was excluded while alive (the view took C in and churned)"

if [ $fail -eq 0 ]; then
    echo "$me: PASS: C (behind a 1500 hop, 8972-byte datagrams) kept apart and told; A and B delivered"
    rm -rf "$dir"
else
    echo "$me: logs in $dir"
fi
exit $fail
