#!/bin/sh
# datagram-mtu.sh - max_datagram 0 (the default) follows the interface's
# MTU: in a private network namespace with a veth pair (no way out of it),
# MTU 1500 gives 1472-byte datagrams (IPv4) and 1452 (IPv6), 9000 gives
# 8972, 1280 gives 1252; at 576 (548) a heartbeat for the default 64
# members does not fit and the open says so, naming max_members; an MTU of
# 500, too small for a 512-byte datagram, is refused with a reason naming
# it; loopback gives 65507.
# An open really uses the size (its UNRELIABLE payload is a little less).
# Exit 0 pass, 1 fail, 77 skip (no namespace permission or no ip).

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
PROBE=$top_builddir/tests/mtu_probe
[ -x "$PROBE" ] || { echo "datagram-mtu.sh: $PROBE not built; skipping"; exit 77; }
command -v ip >/dev/null 2>&1 || { echo "datagram-mtu.sh: no ip(8); skipping"; exit 77; }
if [ "${COHORT_IN_NS:-}" != 1 ]; then
    if ! unshare -n true 2>/dev/null; then
        echo "datagram-mtu.sh: cannot make a network namespace; skipping"
        exit 77
    fi
    COHORT_IN_NS=1 exec timeout -k 2 60 unshare -n sh "$0" "$@"
fi

fail=0
# check WHAT EXPECT ARGS...: mtu_probe ARGS prints a line matching EXPECT
check() {
    what=$1 want=$2
    shift 2
    got=$("$PROBE" "$@" 2>&1)
    if printf '%s\n' "$got" | grep -Eq "$want"; then
        echo "PASS: $what: $got"
    else
        echo "FAIL: $what: got '$got', want /$want/"
        fail=1
    fi
}
# payload below the datagram by the headers: 0 < datagram - payload < 100
near() {
    printf '%s\n' "$1" | awk '{ d = $2 - $4; exit !(d > 0 && d < 100) }'
}

ip link set lo up
ip link add cohortm0 type veth peer name cohortm1 || { echo "datagram-mtu.sh: no veth; skipping"; exit 77; }
ip addr add 10.77.0.1/24 dev cohortm0
ip link set cohortm0 up
ip link set cohortm1 up
# IPv6: a unique local address without duplicate detection (usable at once)
ip -6 addr add fd77::1/64 dev cohortm0 nodad 2>/dev/null || true

check "loopback" '^datagram 65507 payload [0-9]+$' lo
for pair in 1500:1472 9000:8972 1280:1252; do
    mtu=${pair%:*} dg=${pair#*:}
    ip link set cohortm0 mtu "$mtu"
    check "MTU $mtu" "^datagram $dg payload [0-9]+\$" cohortm0
    out=$("$PROBE" cohortm0 2>&1)
    near "$out" || { echo "FAIL: MTU $mtu: payload not just under the datagram: $out"; fail=1; }
    check "MTU $mtu by address" "^datagram $dg " 10.77.0.1
done
# (before the MTUs under 1280, which take IPv6 off the link)
ip link set cohortm0 mtu 1500
check "IPv6, MTU 1500" '^datagram 1452 payload [0-9]+$' fd77::1 --ipv6
ip link set cohortm0 mtu 576
check "MTU 576" '^error .*max_members' cohortm0
ip link set cohortm0 mtu 500
check "MTU 500" '^error .*MTU 500 is below' cohortm0
exit $fail
