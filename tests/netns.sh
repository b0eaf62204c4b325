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
# COHORT_NFT_DROP=<percent>: with nft present, drop that share of UDP
# datagrams on every interface of the namespace (real kernel loss that the
# library did not inject).
#
# Without permission to create a namespace (not root, no user namespaces)
# the command runs directly with COHORT_TEST_LOOPBACK_ONLY=1: the tests bind
# to loopback explicitly, so nothing leaves the machine either way.

set -u

if [ $# -eq 0 ]; then
    echo "usage: $0 CMD ARGS..." >&2
    exit 64
fi

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
    if [ -n "${COHORT_NFT_DROP:-}" ]; then
        case $COHORT_NFT_DROP in
            *[!0-9]*|'') echo "netns.sh: COHORT_NFT_DROP must be 0..100" >&2
                         return 1 ;;
        esac
        if command -v nft >/dev/null 2>&1; then
            nft -f - <<EOF || return 1
table inet cohort_loss {
    chain input {
        type filter hook input priority 0; policy accept;
        meta l4proto udp numgen random mod 100 < $COHORT_NFT_DROP drop
    }
    chain output {
        type filter hook output priority 0; policy accept;
        meta l4proto udp numgen random mod 100 < $COHORT_NFT_DROP drop
    }
}
EOF
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
