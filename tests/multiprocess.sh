#!/bin/sh
# multiprocess.sh - three member processes on one host, real sockets.
#
# Inside a private network namespace (tests/netns.sh), three tests/mp_member
# processes join one group on loopback, wait until each has the two others in
# its view, send MP_COUNT UNRELIABLE messages each (paced, checksummed) and
# exit. Every member must then hold, from each of the others, at least 90%
# of the messages, all intact and none twice. The same runs over IPv6 when the
# namespace provides an interface for it.
#
# Exit: 0 pass, 1 fail, 77 skip (this environment cannot run it at all).

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
member=$top_builddir/tests/mp_member
count=${MP_COUNT:-300}
members=3

if [ ! -x "$member" ]; then
    echo "multiprocess: $member not built" >&2
    exit 77
fi
if ! command -v timeout >/dev/null 2>&1; then
    echo "multiprocess: no timeout(1)" >&2
    exit 77
fi

# Re-run this script inside the namespace, bounded as a whole.
if [ "${COHORT_MP_INNER:-}" != 1 ]; then
    COHORT_MP_INNER=1
    export COHORT_MP_INNER
    exec timeout 150 sh "$top_srcdir/tests/netns.sh" sh "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-mp.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM

# The libtool wrapper may finish linking on its first run: do that once,
# not three times at once.
"$member" --usage >/dev/null 2>&1

# Outside a namespace other runs may share the host: pick a port from the
# pid and a group name nobody else uses.
port=$((40000 + $$ % 20000))

# check_member LOG: prints a verdict line, returns 0 if the log passes.
check_member() {
    log=$1
    ids=$(cat "$work"/*.self)
    awk -v count="$count" -v ids="$ids" '
        /^SELF / { self = $2 }
        /^MSG / {
            if ($4 != 1) bad++
            key = $2 ":" $3
            if (key in seen) dup++
            else { seen[key] = 1; got[$2]++ }
        }
        END {
            need = int(count * 9 / 10)
            n = split(ids, all, " ")
            fail = 0; peers = 0
            for (i = 1; i <= n; i++) {
                if (all[i] == self) continue
                peers++
                have = got[all[i]] + 0
                printf "  from %s: %d/%d", all[i], have, count
                if (have < need) { printf " (< %d)", need; fail = 1 }
                printf "\n"
            }
            if (peers != 2) { print "  expected 2 peers, saw " peers; fail = 1 }
            if (bad + 0 > 0) { print "  corrupt messages: " bad; fail = 1 }
            if (dup + 0 > 0) { print "  duplicates: " dup; fail = 1 }
            exit fail
        }' "$log"
}

# run_variant NAME MEMBER-ARGS...: returns 0 pass, 1 fail, 77 skip.
run_variant() {
    name=$1
    shift
    rm -f "$work"/*.log "$work"/*.err "$work"/*.self
    group="mp-$name-$$"
    pids=""
    i=1
    while [ $i -le $members ]; do
        timeout 60 "$member" --group "$group" --port "$port" --peers 2 \
            --count "$count" "$@" >"$work/m$i.log" 2>"$work/m$i.err" &
        pids="$pids $!"
        i=$((i + 1))
    done
    rcs=""
    for pid in $pids; do
        wait "$pid"
        rcs="$rcs $?"
    done
    case $rcs in
        " 77 77 77") echo "$name: members cannot open here: skipped"
                     return 77 ;;
    esac
    result=0
    i=1
    for rc in $rcs; do
        awk '/^SELF / { print $2 }' "$work/m$i.log" >"$work/m$i.self"
        if [ "$rc" != 0 ]; then
            echo "$name: member $i exited with $rc"
            sed 's/^/  stderr: /' "$work/m$i.err"
            result=1
        fi
        i=$((i + 1))
    done
    i=1
    while [ $i -le $members ]; do
        echo "$name: member $i ($(cat "$work/m$i.self"))"
        check_member "$work/m$i.log" || result=1
        grep '^STATS' "$work/m$i.log" | sed 's/^/  /'
        i=$((i + 1))
    done
    return $result
}

status=0
run_variant ipv4 --iface lo
rc4=$?
[ $rc4 -eq 1 ] && status=1

rc6=77
if [ -n "${COHORT_TEST_IFACE6:-}" ]; then
    port=$((port + 1))
    run_variant ipv6 --ipv6 --iface "$COHORT_TEST_IFACE6"
    rc6=$?
    [ $rc6 -eq 1 ] && status=1
else
    echo "ipv6: no IPv6 multicast interface in this environment: skipped"
fi

if [ $status -eq 0 ] && [ $rc4 -eq 77 ] && [ $rc6 -eq 77 ]; then
    exit 77
fi
exit $status
