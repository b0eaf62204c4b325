#!/bin/bash
# kvd.sh - three cohort-kvd replicas on one host, driven by redis-cli.
#
# Inside a private network namespace (tests/netns.sh; the group's
# multicast stays on its loopback), three replicas join one group with
# --expected 3. Writes go through different replicas; every replica must
# then hold the same state (KVD.DIGEST and sorted SCAN output), keys set
# with an expiry must be gone everywhere, and a write is readable at
# once on the replica it went through. Bad clients: malformed RESP, huge
# bulk and multibulk lengths, a client gone mid-command, many idle
# connections, more than --max-clients. Last, two replicas are killed
# and the survivor (no longer primary) refuses writes with NOQUORUM but
# still serves reads.
#
# Exit: 0 pass, 1 fail, 77 skip (no redis-cli, or a library without
# total order, which cohort-kvd needs).

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
kvd=$top_builddir/cohort-kvd

if ! command -v redis-cli >/dev/null 2>&1; then
    echo "kvd: redis-cli not found (Debian: apt-get install redis-tools)" >&2
    exit 77
fi
if [ ! -x "$kvd" ] || ! command -v timeout >/dev/null 2>&1; then
    echo "kvd: $kvd not built, or no timeout(1)" >&2
    exit 77
fi

if [ "${COHORT_KVD_INNER:-}" != 1 ]; then
    COHORT_KVD_INNER=1
    export COHORT_KVD_INNER
    exec timeout 170 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-kvd.XXXXXX") || exit 99
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# Listening ports below the kernel's ephemeral range (32768..60999): a
# redis-cli connection's own port could otherwise be the one a replica
# started later wants (seen: "Address already in use" in distcheck).
base=$((20000 + $$ % 12000))
group=kvd-test-$$
fail=0
pass() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
cli() { local port=$1; shift; timeout 10 redis-cli -p "$port" "$@"; }

# The libtool wrapper may link on its first run: once, not three times.
"$kvd" --help >/dev/null 2>&1

start() {
    local i=$1; shift
    "$kvd" --group "$group" --port $((base + i)) --expected 3 "$@" \
        >"$work/kvd$i.log" 2>&1 &
    pids[$i]=$!
}
start 1
start 2
start 3 --max-clients 40     # small, for the --max-clients case below

# Each replica either answers PING or has exited (77: no total order).
for i in 1 2 3; do
    until=$((SECONDS + 15))
    while kill -0 "${pids[$i]}" 2>/dev/null &&
          [ "$(timeout 2 redis-cli -p $((base + i)) ping 2>/dev/null)" != PONG ] &&
          [ $SECONDS -lt $until ]; do
        sleep 0.2
    done
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
        wait "${pids[$i]}"; rc=$?
        if [ $rc -eq 77 ]; then
            echo "kvd: skipped: $(tail -n 1 "$work/kvd$i.log")"
            exit 77
        fi
        bad "replica $i exited $rc: $(tail -n 3 "$work/kvd$i.log")"
        exit 1
    fi
done

# wait_for SECONDS CMD...: retry CMD until it succeeds.
wait_for() {
    local until=$((SECONDS + $1)); shift
    while ! "$@"; do
        [ $SECONDS -ge $until ] && return 1
        sleep 0.2
    done
}
view_of() { cli "$1" info cohort 2>/dev/null | tr -d '\r' | grep -q "^members:$2\$"; }
# A replica serves once it has the group's state (state transfer).
loaded() { cli "$1" info cohort 2>/dev/null | tr -d '\r' | grep -q '^loading:0$'; }
all_views() { for i in 1 2 3; do view_of $((base + i)) 3 && loaded $((base + i)) || return 1; done; }
if wait_for 20 all_views; then pass "three replicas in one view, loaded"; else
    bad "no common view of 3"; for i in 1 2 3; do tail -n 5 "$work/kvd$i.log"; done; exit 1
fi
primary=$(cli $((base + 1)) info cohort | tr -d '\r' | sed -n 's/^primary://p')
[ "$primary" = 1 ] && pass "view is primary" || bad "view not primary ($primary)"

# --- writes through every replica ---------------------------------------
p1=$((base + 1)) p2=$((base + 2)) p3=$((base + 3))
[ "$(cli $p1 set greeting hello)" = OK ] || bad "SET on replica 1"
[ "$(cli $p1 get greeting)" = hello ] && pass "write then read on one replica" \
    || bad "read-your-write on replica 1"
for n in $(seq 1 30); do
    port=$((base + 1 + n % 3))
    cli $port incr counter >/dev/null || bad "INCR via $port"
done
cli $p2 mset a 1 b 2 c 3 >/dev/null
cli $p3 append greeting ", world" >/dev/null
cli $p2 set doomed x px 300 >/dev/null
keep_set_at=$(date +%s)
cli $p3 set keep x ex 1000 >/dev/null
keep_at=$SECONDS
cli $p1 del c >/dev/null
# A pipeline of many writes through one replica.
for n in $(seq 1 200); do printf 'SET pipe:%d %d\r\n' "$n" "$n"; done |
    timeout 20 redis-cli -p $p3 >"$work/pipe.out"
[ "$(grep -c '^OK$' "$work/pipe.out")" = 200 ] && pass "200 pipelined writes answered" \
    || bad "pipelined writes: $(sort "$work/pipe.out" | uniq -c | head -3)"

same_digest() {
    local d1 d2 d3
    d1=$(cli $p1 kvd.digest) d2=$(cli $p2 kvd.digest) d3=$(cli $p3 kvd.digest)
    [ -n "$d1" ] && [ "$d1" = "$d2" ] && [ "$d2" = "$d3" ]
}
gone_everywhere() {
    for p in $p1 $p2 $p3; do [ "$(cli $p exists doomed)" = 0 ] || return 1; done
}
wait_for 10 gone_everywhere && pass "expired key gone on every replica" \
    || bad "key with PX 300 still present somewhere"
if wait_for 10 same_digest; then pass "KVD.DIGEST equal on all replicas"; else
    bad "digests differ: $(cli $p1 kvd.digest) $(cli $p2 kvd.digest) $(cli $p3 kvd.digest)"
fi
for i in 1 2 3; do
    timeout 20 redis-cli -p $((base + i)) --scan | sort >"$work/scan$i"
    for k in $(cat "$work/scan$i"); do echo "$k=$(cli $((base + i)) get "$k")"; done >"$work/dump$i"
done
if cmp -s "$work/dump1" "$work/dump2" && cmp -s "$work/dump2" "$work/dump3" &&
   [ "$(wc -l <"$work/scan1")" = 205 ]; then
    pass "sorted SCAN + GET identical on all replicas ($(wc -l <"$work/scan1") keys)"
else
    bad "SCAN dumps differ or wrong key count ($(wc -l <"$work/scan1"))"
    diff "$work/dump1" "$work/dump2" | head -5
fi
for p in $p1 $p2 $p3; do
    [ "$(cli $p get counter)" = 30 ] || bad "counter on $p is $(cli $p get counter)"
done
[ "$(cli $p2 get greeting)" = "hello, world" ] || bad "APPEND result"
ttl=$(cli $p1 ttl keep)
# The TTL counts down with the coordinator's ordered time: at least what
# the wall clock says has passed since the SET (a loaded machine makes
# this section slow), with a few seconds of slack.
keep_low=$((1000 - ($(date +%s) - keep_set_at) - 5))
[ "$ttl" -ge "$keep_low" ] 2>/dev/null && [ "$ttl" -le 1000 ] && pass "TTL from ordered time ($ttl)" \
    || bad "TTL keep = $ttl (expected $keep_low..1000)"

# --- errors --------------------------------------------------------------
r=$(cli $p1 foo bar)
[ "$r" = "ERR unknown command 'foo', with args beginning with: 'bar' " ] \
    && pass "unknown command error" || bad "unknown command: '$r'"
r=$(cli $p1 get)
[ "$r" = "ERR wrong number of arguments for 'get' command" ] \
    && pass "arity error" || bad "arity: '$r'"
r=$(cli $p1 incr greeting)
[ "$r" = "ERR value is not an integer or out of range" ] \
    && pass "INCR of a non-integer" || bad "incr error: '$r'"

# raw REQUEST EXPECTED-FIRST-LINE: send bytes on a fresh connection; the
# first reply line must match and the server must then close.
raw() {
    local req=$1 want=$2 line="" rest
    exec 3<>"/dev/tcp/127.0.0.1/$p1" || { bad "connect"; return; }
    printf '%b' "$req" >&3
    IFS= read -r -t 5 line <&3
    line=${line%$'\r'}
    if [ "$line" != "$want" ]; then
        bad "raw '$req': got '$line', want '$want'"
    elif IFS= read -r -t 5 rest <&3 || [ -n "$rest" ]; then
        bad "raw '$req': connection not closed after the error"
    else
        pass "raw '$req' -> $want, closed"
    fi
    exec 3<&- 3>&-
}
raw '*1\r\n$-5\r\n' '-ERR Protocol error: invalid bulk length'
raw '*1\r\n$999999999999\r\n' '-ERR Protocol error: invalid bulk length'
raw '*1\r\n$536870913\r\n' '-ERR Protocol error: invalid bulk length'
raw '*99999999999\r\n' '-ERR Protocol error: invalid multibulk length'
raw '*2\r\n:1\r\n' "-ERR Protocol error: expected '\$', got ':'"
raw 'GET "abc\r\n' '-ERR Protocol error: unbalanced quotes in request'
# Gone mid-command, twice (a half multibulk; half a 1 MiB bulk).
exec 3<>"/dev/tcp/127.0.0.1/$p1"; printf '*3\r\n$3\r\nSET\r\n$1\r\nk' >&3; exec 3>&-
exec 3<>"/dev/tcp/127.0.0.1/$p1"; printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048576\r\nabc' >&3; exec 3>&-
# Inline commands and a pipeline on one raw connection.
exec 3<>"/dev/tcp/127.0.0.1/$p1"
printf 'PING\r\nECHO hi\r\n*1\r\n$4\r\nPING\r\n' >&3
out=""
for n in 1 2 3 4; do IFS= read -r -t 5 l <&3; out="$out${l%$'\r'}|"; done
exec 3<&- 3>&-
[ "$out" = '+PONG|$2|hi|+PONG|' ] && pass "inline + pipelined on one connection" \
    || bad "inline pipeline: $out"
[ "$(cli $p1 ping)" = PONG ] && pass "replica 1 alive after bad clients" \
    || bad "replica 1 does not answer after bad clients"

# --- many idle connections; --max-clients ---------------------------------
fds=()
for n in $(seq 1 300); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$p2" && fds+=("$fd")
done
clients=$(cli $p2 info clients | tr -d '\r' | sed -n 's/^connected_clients://p')
[ "${clients:-0}" -ge 300 ] && [ "$(cli $p2 set after idle)" = OK ] \
    && pass "300 idle connections held, still serving ($clients clients)" \
    || bad "idle connections: clients=$clients"
for fd in "${fds[@]}"; do exec {fd}>&-; done
fds=()
for n in $(seq 1 45); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$p3" && fds+=("$fd")
done
r=$(cli $p3 ping)
for fd in "${fds[@]}"; do exec {fd}>&-; done
[ "$r" = "ERR max number of clients reached" ] && pass "--max-clients 40 refuses the 46th" \
    || bad "max-clients: '$r'"
sleep 0.3
[ "$(cli $p3 ping)" = PONG ] || bad "replica 3 does not serve after its clients left"

# --- outside the primary component --------------------------------------
kill -9 "${pids[2]}" "${pids[3]}"
wait "${pids[2]}" "${pids[3]}" 2>/dev/null
if wait_for 15 view_of $p1 1; then
    r=$(cli $p1 set x y)
    [ "$r" = "NOQUORUM not in the primary component" ] && pass "write refused outside the primary" \
        || bad "write in a minority: '$r'"
    [ "$(cli $p1 get greeting)" = "hello, world" ] && pass "reads still served (may be stale)" \
        || bad "read in a minority"
else
    bad "replica 1 never saw itself alone"
fi
kill -0 "${pids[1]}" 2>/dev/null || bad "replica 1 died"

[ $fail -eq 0 ] || { for i in 1 2 3; do echo "--- kvd$i.log"; tail -n 5 "$work/kvd$i.log"; done; }
exit $fail
