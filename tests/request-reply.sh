#!/bin/sh
# request-reply.sh - group request-reply between real processes.
#
# Inside a private network namespace (tests/netns.sh), N members
# (tests/rpc_member) serve requests while member 1 sends R of them (to
# the group in FIFO, TOTAL and SAFE wanting ALL, MAJORITY or FIRST, and
# to one member; some through cohort_request_wait()). Member N is killed
# (SIGKILL) while requests are in flight. Checked from the one-line
# reports:
#   - every request ended: COMPLETE with exactly the replies it wanted,
#     or MEMBERS_LEFT (allowed only for the requests around the kill),
#     none TIMEDOUT, every reply the echo of its request (bad=0);
#   - no member executed a request twice (dup=0);
#   - the survivors served requests after the kill.
# Then the same with ENCRYPT security and with 10% kernel loss (nftables
# inside the namespace, on input only: about the 5% on input and output it
# was before), when libsodium and nft are there.
# COHORT_RPC_ONLY=plain|encrypt|loss runs one of the three;
# COHORT_RPC_MEMBERS and COHORT_RPC_REQUESTS change N (4) and R (600).
#
# Exit: 0 pass, 1 fail, 77 skip.

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
member=$(cd "$top_builddir" && pwd)/tests/rpc_member
keygen=$(cd "$top_builddir" && pwd)/cohort-keygen
n=${COHORT_RPC_MEMBERS:-4}
requests=${COHORT_RPC_REQUESTS:-600}

if [ ! -x "$member" ]; then
    echo "request-reply: $member not built" >&2
    exit 77
fi
command -v timeout >/dev/null 2>&1 || { echo "request-reply: no timeout(1)" >&2; exit 77; }

# Inside the namespace: start the members, kill the last one a moment
# after the client starts, collect the reports.
if [ "${1:-}" = "--inside" ]; then
    shift
    port=$1 key=$2 dir=$3
    keyarg=""
    [ -n "$key" ] && keyarg="--key $key"
    i=2
    while [ "$i" -le "$n" ]; do
        # shellcheck disable=SC2086
        "$member" --id "$i" --members "$n" --port "$port" $keyarg \
            --timeout-ms 90000 >"$dir/m$i.out" 2>"$dir/m$i.err" &
        echo $! >"$dir/m$i.pid"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    "$member" --id 1 --members "$n" --port "$port" --requests "$requests" \
        $keyarg --timeout-ms 90000 >"$dir/m1.out" 2>"$dir/m1.err" &
    client=$!
    # Kill once the client has been sending for a moment (bounded wait
    # for its STARTED line).
    tries=0
    while ! grep -q STARTED "$dir/m1.out" 2>/dev/null && [ "$tries" -lt 600 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    sleep 0.3
    kill -9 "$(cat "$dir/m$n.pid")" 2>/dev/null
    echo killed >"$dir/killed"
    wait "$client"
    echo "client exit $?" >"$dir/client.rc"
    i=2
    while [ "$i" -lt "$n" ]; do
        wait "$(cat "$dir/m$i.pid")"
        echo "m$i exit $?" >>"$dir/servers.rc"
        i=$((i + 1))
    done
    exit 0
fi

field() { # field NAME LINE
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

fail=0
run() { # run LABEL PORT [KEY] [NFT_DROP]
    label=$1 port=$2 key=${3:-} drop=${4:-}
    dir=$(mktemp -d)
    if [ -n "$drop" ]; then
        COHORT_NFT_DROP=$drop timeout 150 sh "$top_srcdir/tests/netns.sh" \
            sh "$0" --inside "$port" "$key" "$dir" >"$dir/netns.out" 2>&1
    else
        timeout 150 sh "$top_srcdir/tests/netns.sh" \
            sh "$0" --inside "$port" "$key" "$dir" >"$dir/netns.out" 2>&1
    fi
    rc=$?
    why=""
    [ "$rc" -eq 0 ] || why="exit $rc"
    c=$(grep '^CLIENT' "$dir/m1.out" 2>/dev/null | tail -1)
    if [ -z "$c" ]; then
        why="$why; no client report ($(cat "$dir/client.rc" 2>/dev/null))"
    else
        [ "$(field sent "$c")" -ge $((requests * 9 / 10)) ] ||
            why="$why; only $(field sent "$c") requests sent"
        for f in timedout closed bad mismatch dup; do
            [ "$(field $f "$c")" = 0 ] || why="$why; $f=$(field $f "$c")"
        done
        # Only requests in flight at the kill may fail: at most a few
        # windows' worth (8 in flight).
        [ "$(field left "$c")" -le 24 ] || why="$why; left=$(field left "$c")"
        [ "$(field complete "$c")" -ge $((requests * 8 / 10)) ] ||
            why="$why; complete=$(field complete "$c")"
        # The kill came while requests were being sent.
        k=$(field shrunk_at "$c")
        if [ "$k" -lt 1 ] || [ "$k" -ge "$(field sent "$c")" ]; then
            why="$why; the view lost member $n at request $k, not mid-run"
        fi
    fi
    i=2
    while [ "$i" -lt "$n" ]; do
        s=$(grep '^SERVER' "$dir/m$i.out" 2>/dev/null | tail -1)
        if [ -z "$s" ]; then
            why="$why; no report from member $i"
        else
            [ "$(field dup "$s")" = 0 ] || why="$why; member $i dup=$(field dup "$s")"
            [ "$(field served "$s")" -ge $((requests / 2)) ] ||
                why="$why; member $i served only $(field served "$s")"
        fi
        i=$((i + 1))
    done
    [ -f "$dir/killed" ] || why="$why; member $n was not killed"
    if [ -n "$why" ]; then
        echo "FAIL $label:${why#;}"
        for f in "$dir"/*.out "$dir"/*.err "$dir"/*.rc; do
            [ -f "$f" ] && sed "s#^#  | $(basename "$f"): #" "$f"
        done
        fail=1
    else
        echo "ok   $label: $c; member $n killed mid-run"
    fi
    rm -rf "$dir"
}

# COHORT_RPC_ONLY=plain|encrypt|loss runs one case.
only=${COHORT_RPC_ONLY:-}
want() { [ -z "$only" ] || [ "$only" = "$1" ]; }
want plain && run "request-reply, $n members, one killed" 47330
if want encrypt && [ -x "$keygen" ]; then
    kdir=$(mktemp -d)
    if "$keygen" "$kdir/key" >/dev/null 2>&1; then
        run "request-reply, ENCRYPT" 47332 "$kdir/key"
    else
        echo "skip ENCRYPT: no key (built without libsodium?)"
    fi
    rm -rf "$kdir"
fi
if ! want loss; then
    :
elif command -v nft >/dev/null 2>&1; then
    run "request-reply, 10% kernel loss" 47334 "" 10
else
    echo "skip 10% kernel loss: no nft"
fi
[ "$fail" -eq 0 ] && echo "request-reply: passed" || echo "request-reply: FAILED"
exit "$fail"
