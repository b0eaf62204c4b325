#!/bin/sh
# netns.sh - run a command in a fresh private network namespace.
#
#   tests/netns.sh CMD ARGS...
#
# Inside: lo is up, with multicast routes (224.0.0.0/4, ff00::/8). Linux
# does not loop IPv6 multicast over lo, so for IPv6 a veth pair
# cohort0/cohort1 is made inside the namespace too (it has no way out); its
# name is exported as COHORT_TEST_IFACE6. COHORT_TEST_NETNS=1 tells the
# command it is isolated.
#
# COHORT_NFT_DROP=<percent>: with nft present, drop that share of the UDP
# datagrams arriving in the namespace, on the input hook only (real kernel
# loss that the library did not inject). Each datagram crosses the input
# hook once, so the nominal rate is the real one. On lo a multicast
# datagram is one packet at the input hook for all its receivers: they
# lose it together. So is a run of datagrams a member sent segmented
# (UDP_SEGMENT; COHORT_GSO=0 turns that off): it is lost whole.
# COHORT_NFT_DROP_OUTPUT=<percent>: drop that share on the output hook as
# well, separately (a sender's sendmsg() then fails with EPERM). Both
# together lose about the sum of the two rates; before 2026-12-03
# COHORT_NFT_DROP did both at once (about twice the nominal rate).
#
# Without permission to create a namespace (not root, no user namespaces)
# the command runs directly with COHORT_TEST_LOOPBACK_ONLY=1: the tests bind
# to loopback explicitly, so nothing leaves the machine either way.

set -u

if [ $# -eq 0 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
    echo "usage: [COHORT_NFT_DROP=P] [COHORT_NFT_DROP_OUTPUT=P] $0 CMD ARGS..." >&2
    echo "  runs CMD in a private network namespace (lo up, multicast routes);" >&2
    echo "  P: percent of UDP datagrams nft drops on input / on output" >&2
    [ $# -eq 0 ] && exit 64
    exit 0
fi

# The nft chain for one hook, or nothing when its rate is unset.
loss_chain() { # loss_chain HOOK PERCENT
    [ -n "$2" ] || return 0
    echo "    chain $1 {"
    echo "        type filter hook $1 priority 0; policy accept;"
    echo "        meta l4proto udp numgen random mod 100 < $2 drop"
    echo "    }"
}

setup_inside() {
    ip link set lo up || return 1
    ip route add 224.0.0.0/4 dev lo 2>/dev/null || true
    ip -6 route add ff00::/8 dev lo table local 2>/dev/null || true
    if ip link add cohort0 type veth peer name cohort1 2>/dev/null &&
       ip link set cohort1 up && ip link set cohort0 up &&
       ip -6 addr add fd00:c0::1/64 dev cohort0 nodad; then
        COHORT_TEST_IFACE6=cohort0
        export COHORT_TEST_IFACE6
    fi
    if [ -n "${COHORT_NFT_DROP:-}${COHORT_NFT_DROP_OUTPUT:-}" ]; then
        for p in "${COHORT_NFT_DROP:-0}" "${COHORT_NFT_DROP_OUTPUT:-0}"; do
            case $p in
                *[!0-9]*|'') echo "netns.sh: COHORT_NFT_DROP and" \
                                  "COHORT_NFT_DROP_OUTPUT must be 0..100" >&2
                             return 1 ;;
            esac
            [ "$p" -le 100 ] || { echo "netns.sh: $p: more than 100" >&2
                                  return 1; }
        done
        if command -v nft >/dev/null 2>&1; then
            { echo "table inet cohort_loss {"
              loss_chain input "${COHORT_NFT_DROP:-}"
              loss_chain output "${COHORT_NFT_DROP_OUTPUT:-}"
              echo "}"; } | nft -f - || return 1
        else
            echo "netns.sh: nft not found; COHORT_NFT_DROP ignored" >&2
        fi
    fi
    COHORT_TEST_NETNS=1
    export COHORT_TEST_NETNS
    return 0
}

if [ "${COHORT_NETNS_INSIDE:-}" = 1 ]; then
    unset COHORT_NETNS_INSIDE
    setup_inside || { echo "netns.sh: namespace setup failed" >&2; exit 99; }
    exec "$@"
fi

if command -v unshare >/dev/null 2>&1 && command -v ip >/dev/null 2>&1; then
    for flags in "-n" "-rn"; do
        # shellcheck disable=SC2086
        if unshare $flags true 2>/dev/null; then
            COHORT_NETNS_INSIDE=1
            export COHORT_NETNS_INSIDE
            # shellcheck disable=SC2086
            exec unshare $flags -- /bin/sh "$0" "$@"
        fi
    done
fi

echo "netns.sh: no network namespace here; running on loopback only" >&2
COHORT_TEST_LOOPBACK_ONLY=1
export COHORT_TEST_LOOPBACK_ONLY
exec "$@"
