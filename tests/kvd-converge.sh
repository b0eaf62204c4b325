#!/bin/bash
# kvd-converge.sh - cohort-kvd replicas killed and restarted under loss
# converge, and lose no acknowledged write.
#
# Inside a private network namespace (tests/netns.sh), three replicas
# run with --expected 3 and --safe: a write is acknowledged once every
# replica holds it, so even the replica that acknowledged it may be
# killed the moment after (with TOTAL, the default, a write the
# sequencer acknowledged at once can die with it: docs/guarantees.md,
# TOTAL is not uniform). Two client loops write distinct keys with
# redis-cli through every replica in turn (some with a long expiry, some
# with a short one, and INCRs of one counter) and record each write that
# was answered OK. Meanwhile nftables drops 10% of the UDP datagrams in
# the namespace (multicast and the unicast of state transfer alike), and
# four times a replica is killed with SIGKILL and restarted (twice the
# view's coordinator); a restarted replica starts empty and must take
# the state by state transfer. Two replicas always survive, so a primary
# component lives throughout. Then the loss stops, and within a bounded
# time every replica must answer the same KVD.DIGEST, DBSIZE, count of
# keys with an expiry and sorted SCAN, and hold every acknowledged key
# with its value (and a counter at least as high as its acknowledged
# INCRs). Self-check: a fourth replica started with --no-state-transfer
# misses the earlier writes, and the same comparison must say so.
#
# Prints one verdict line. Exit: 0 pass, 1 fail (the logs are kept and
# their directory named), 77 skip (no redis-cli, nft, or network
# namespace: nftables is only ever touched inside the test's own).

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
kvd=$top_builddir/cohort-kvd
me=kvd-converge

skip() { echo "$me: SKIP: $*"; exit 77; }
command -v redis-cli >/dev/null 2>&1 ||
    skip "redis-cli not found (Debian: apt-get install redis-tools)"
command -v nft >/dev/null 2>&1 || skip "nft not found (Debian: nftables)"
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
[ -x "$kvd" ] || skip "$kvd not built"

if [ "${COHORT_KVD_CONVERGE_INNER:-}" != 1 ]; then
    COHORT_KVD_CONVERGE_INNER=1
    export COHORT_KVD_CONVERGE_INNER
    exec timeout 115 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi
[ "${COHORT_TEST_NETNS:-}" = 1 ] ||
    skip "no private network namespace (needs root or user namespaces)"

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-kvd-converge.XXXXXX") || exit 99
pids=()
wpids=()
fail=0
why=""
cleanup() {
    local p
    touch "$work/stop"
    for p in "${wpids[@]}" "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ $fail -eq 0 ] && [ -z "${KVDC_KEEP:-}" ]; then   # KVDC_KEEP=1: keep
        rm -rf "$work"
    else
        echo "$me: logs kept in $work"
    fi
}
trap cleanup EXIT

# Listening ports below the kernel's ephemeral range (32768..60999): a
# redis-cli connection's own port could otherwise be the one a replica
# started later wants (seen: "Address already in use" in distcheck).
base=$((20000 + $$ % 12000))
cport=$((42000 + $$ % 8000))
group=kvdc-$$
ROUNDS=4
LOSS=10
bad() {
    echo "FAIL: $*"
    [ $fail -eq 0 ] && why=$*
    fail=1
}
pass() { echo "PASS: $*"; }
cli() { local port=$1; shift; timeout 5 redis-cli -p "$port" "$@" 2>/dev/null; }
wcli() { local port=$1; shift; timeout 3 redis-cli -p "$port" "$@" 2>/dev/null; }
field() { cli "$1" info all | tr -d '\r' | sed -n "s/^$2://p"; }

# wait_for SECONDS CMD...: retry CMD until it succeeds (bounded).
wait_for() {
    local until=$((SECONDS + $1)); shift
    while ! "$@"; do
        [ $SECONDS -ge $until ] && return 1
        sleep 0.3
    done
}

# The libtool wrapper may link on its first run: once, not per start.
"$kvd" --help >/dev/null 2>&1

start() {
    local i=$1; shift
    echo "--- start $(date +%T.%N)" >>"$work/kvd$i.log"
    "$kvd" --group "$group" --port $((base + i)) --cohort-port "$cport" \
        --expected 3 --safe "$@" >>"$work/kvd$i.log" 2>&1 &
    pids[$i]=$!
}

verdict() {
    if [ $fail -eq 0 ]; then
        echo "$me: PASS: $*"
    else
        echo "$me: FAIL: $why"
        for i in 1 2 3 4; do
            [ -f "$work/kvd$i.log" ] || continue
            echo "--- kvd$i.log (tail)"; tail -n 8 "$work/kvd$i.log"
        done
    fi
    exit $fail
}

# ready I: replica I is in a primary view of three and has its state.
ready() {
    local info
    info=$(cli $((base + $1)) info cohort | tr -d '\r')
    echo "$info" | grep -qx 'members:3' && echo "$info" | grep -qx 'primary:1' &&
        echo "$info" | grep -qx 'loading:0'
}
all_ready() { ready 1 && ready 2 && ready 3; }

for i in 1 2 3; do start $i; done
if ! wait_for 20 all_ready; then
    for i in 1 2 3; do
        if ! kill -0 "${pids[$i]}" 2>/dev/null; then
            wait "${pids[$i]}"; rc=$?
            [ $rc -eq 77 ] && skip "$(tail -n 1 "$work/kvd$i.log")"
        fi
    done
    bad "three replicas never formed a primary view with their state:$(
        for i in 1 2 3; do cli $((base + i)) info cohort | tr -d '\r' |
            grep -E '^(members|primary|loading):' | tr '\n' ' ' |
            sed "s/^/ [replica $i: /; s/ \$/]/"; done)"
    verdict
fi
pass "three replicas ready"

# --- loss: inside this namespace only -----------------------------------
if ! nft add table inet kvdc 2>"$work/nft.err" ||
   ! nft add chain inet kvdc out '{ type filter hook output priority 0; }' ||
   ! nft add rule inet kvdc out meta l4proto udp numgen random mod 100 lt $LOSS drop; then
    skip "nft cannot filter here: $(head -n 1 "$work/nft.err")"
fi
pass "nftables drops $LOSS% of UDP datagrams"

# --- clients --------------------------------------------------------------
# writer W: distinct keys through replica 1, 2, 3 in turn. Acknowledged
# writes go to acked$W ("key value"), acknowledged INCRs to incr$W.
deadline=$((SECONDS + 72))
writer() {
    local w=$1 n=0 port key val r
    while [ ! -e "$work/stop" ] && [ $n -lt 20000 ] && [ $SECONDS -lt $deadline ]; do
        n=$((n + 1))
        port=$((base + 1 + (n + w) % 3))
        key=w$w:$n val=v$w.$n
        case $((n % 10)) in
            3) r=$(wcli "$port" set "$key" "$val" ex 3600) ;;      # kept, expiry
            6) r=$(wcli "$port" set "t$key" "$val" px 300)         # expires soon
               continue ;;
            9) r=$(wcli "$port" incr counter)
               case $r in ''|*[!0-9]*) ;; *) echo "$r" >>"$work/incr$w" ;; esac
               continue ;;
            *) r=$(wcli "$port" set "$key" "$val") ;;
        esac
        if [ "$r" = OK ]; then
            echo "$key $val" >>"$work/acked$w"
        else
            echo "$(date +%T.%N) $port ${r:-timeout or refused}" >>"$work/refused$w"
        fi
    done
}
# writer 3: pipelines of 16 SETs in one go (redis-cli --pipe), so a
# replica takes many writes of one client in a round and multicasts them
# as one batch message. A pipeline counts as acknowledged only if every
# reply came back without error.
piper() {
    local w=3 n=0 port j out key val
    while [ ! -e "$work/stop" ] && [ $n -lt 2000 ] && [ $SECONDS -lt $deadline ]; do
        n=$((n + 1))
        port=$((base + 1 + n % 3))
        out=$(for j in $(seq 1 16); do
                  key=p3:$n.$j val=v3.$n.$j
                  printf '*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n' \
                      ${#key} "$key" ${#val} "$val"
              done | timeout 3 redis-cli -p "$port" --pipe 2>&1)
        if echo "$out" | grep -q 'errors: 0, replies: 16'; then
            for j in $(seq 1 16); do echo "p3:$n.$j v3.$n.$j"; done >>"$work/acked$w"
        else
            echo "$(date +%T.%N) $port pipeline: $(echo "$out" | tail -n 1)" >>"$work/refused$w"
        fi
    done
}
for w in 1 2 3; do : >"$work/acked$w"; : >"$work/incr$w"; done
writer 1 & wpids+=($!)
writer 2 & wpids+=($!)
piper & wpids+=($!)

# --- faults: SIGKILL and restart, twice the coordinator --------------------
coordinator() {
    local i
    for i in 1 2 3; do
        [ "$(field $((base + i)) coordinator)" = 1 ] && { echo $i; return; }
    done
    echo 1
}
rounds=0
for round in $(seq 1 $ROUNDS); do
    if [ $SECONDS -ge $((deadline - 22)) ]; then
        bad "out of time before round $round"; break
    fi
    if [ $((round % 2)) -eq 0 ]; then
        victim=$(coordinator) what=coordinator
    else
        victim=$(( (round % 3) + 1 )) what=replica
        [ "$victim" = "$(coordinator)" ] && victim=$(( victim % 3 + 1 ))
    fi
    sleep 2                    # writes flow through all three
    kill -9 "${pids[$victim]}" 2>/dev/null
    wait "${pids[$victim]}" 2>/dev/null
    echo "--- killed (SIGKILL) $(date +%T.%N)" >>"$work/kvd$victim.log"
    sleep 1                    # the survivors go on taking writes
    start "$victim"
    if wait_for 20 all_ready; then
        rounds=$((rounds + 1))
        pass "round $round: $what $victim killed, restarted, loaded"
    else
        bad "round $round: not all ready 20 s after restarting $victim"
        break
    fi
done

# --- a pause: the replica misses a primary view without seeing it --------
# SIGSTOP longer than the member timeout (3 s): the others go on in a view
# without it. Told it was excluded, it rejoins under a new incarnation and
# must take the state again (docs/replicated-server.md, "A new life"); the
# catch-up rule covers the case where it comes back in its old life.
paused=""
if [ $fail -eq 0 ] && [ $SECONDS -lt $((deadline - 15)) ]; then
    paused=$(( $(coordinator) % 3 + 1 ))
    sleep 1
    kill -STOP "${pids[$paused]}"
    echo "--- paused (SIGSTOP) $(date +%T.%N)" >>"$work/kvd$paused.log"
    sleep 5
    echo "--- resumed (SIGCONT) $(date +%T.%N)" >>"$work/kvd$paused.log"
    kill -CONT "${pids[$paused]}"
    if wait_for 20 all_ready; then
        pass "replica $paused paused 5 s and resumed"
    else
        bad "not all ready 20 s after resuming replica $paused"
    fi
fi

# --- heal, stop the clients, converge --------------------------------------
sleep 2                        # writes through the three, still under loss
nft delete table inet kvdc
sleep 1
touch "$work/stop"
for p in "${wpids[@]}"; do wait "$p"; done
wpids=()
# The short keys (PX 300) expire by the ordered time, which a replica
# applies at its own moment: one scanned just before a time message and
# another just after it would differ for a moment. Let them all expire
# first, so nothing expires while the replicas are compared.
sleep 1.5
sort -u "$work"/acked[123] >"$work/acked"
nacked=$(wc -l <"$work/acked")
nincr=$(cat "$work"/incr[12] | wc -l)

same() {
    local i v first=""
    for i in 1 2 3; do
        v="$(cli $((base + i)) kvd.digest) $(cli $((base + i)) dbsize)"
        v="$v $(field $((base + i)) db0 | sed -n 's/.*expires=\([0-9]*\).*/\1/p')"
        case $v in ''*LOADING*|' '*) return 1 ;; esac
        [ -z "$first" ] && first=$v
        [ "$v" = "$first" ] || return 1
    done
    echo "$first" >"$work/agreed"
}
if wait_for 20 all_ready && wait_for 20 same; then
    read -r digest dbsize expires <"$work/agreed"
    pass "KVD.DIGEST, DBSIZE and expiries agree ($digest, $dbsize keys, $expires expiring)"
else
    bad "replicas do not agree 20 s after the loss stopped:$(for i in 1 2 3; do
        printf ' [%s %s]' "$(cli $((base + i)) kvd.digest)" "$(cli $((base + i)) dbsize)"; done)"
fi

# dump I: sorted keys of replica I.
dump() { timeout 20 redis-cli -p $((base + $1)) --scan 2>/dev/null | sort; }
scans_same() {
    for i in 1 2 3; do dump $i >"$work/scan$i"; done
    cmp -s "$work/scan1" "$work/scan2" && cmp -s "$work/scan2" "$work/scan3"
}
if wait_for 10 scans_same; then
    pass "sorted SCAN identical ($(wc -l <"$work/scan1") keys)"
else
    bad "sorted SCAN differs: $(diff "$work/scan1" "$work/scan2" | head -n 3 | tr '\n' ' ')"
fi

# missing I: acknowledged writes that replica I lacks (or holds another
# value for), into missing$I; 0 when there are none.
missing() {
    awk '{ print "GET " $1 }' "$work/acked" |
        timeout 30 redis-cli -p $((base + $1)) 2>/dev/null >"$work/got$1"
    paste -d' ' "$work/acked" "$work/got$1" |
        awk '$2 != $3 { print $1 " want " $2 " got " $3 }' >"$work/missing$1"
    [ "$(wc -l <"$work/got$1")" = "$nacked" ] && [ ! -s "$work/missing$1" ]
}
if [ "$nacked" -lt 40 ]; then
    bad "only $nacked writes acknowledged: the clients hardly got through"
fi
for i in 1 2 3; do
    if missing $i; then
        pass "replica $i holds all $nacked acknowledged writes"
    else
        bad "replica $i lacks $(wc -l <"$work/missing$i") acknowledged writes, e.g. $(head -n 1 "$work/missing$i")"
    fi
    c=$(cli $((base + i)) get counter)
    [ "${c:-0}" -ge "$nincr" ] 2>/dev/null ||
        bad "replica $i: counter $c below its $nincr acknowledged INCRs"
done
# The pipelines went out batched: some replica multicast fewer messages
# than it took writes (its counters since its last start).
batched=""
for i in 1 2 3; do
    ws=$(field $((base + i)) writes_sent) bs=$(field $((base + i)) write_batches_sent)
    [ "${ws:-0}" -gt "${bs:-0}" ] 2>/dev/null && batched="$batched [replica $i: $ws writes in $bs messages]"
done
npiped=$(wc -l <"$work/acked3")
if [ -n "$batched" ] && [ "$npiped" -gt 0 ]; then
    pass "$npiped pipelined writes acknowledged, batched:$batched"
else
    bad "no pipelined write batched ($npiped acknowledged)"
fi
loaded=$(cat "$work"/kvd[123].log | grep -c '^\* state: loaded')
[ "$loaded" -ge "$rounds" ] && pass "state transfers loaded: $loaded" ||
    bad "only $loaded state transfers loaded for $rounds restarts"
if [ -n "$paused" ]; then
    how=$(sed -n '/^--- resumed/,$p' "$work/kvd$paused.log" |
          sed -n 's/^\* state: asking the group for its state (\(.*\))$/\1/p' | head -n 1)
    pass "the paused replica holds every write (${how:+it asked again: }${how:-it did not ask again})"
fi

# --- self-check: a replica without state transfer must be caught ---------
if [ $fail -eq 0 ] && [ $SECONDS -lt 90 ]; then
    start 4 --no-state-transfer
    in4() { [ "$(field $((base + 4)) members)" = 4 ]; }
    if wait_for 15 in4 && [ "$(cli $((base + 1)) set selfcheck 1)" = OK ]; then
        d1=$(cli $((base + 1)) kvd.digest) d4=$(cli $((base + 4)) kvd.digest)
        if [ -n "$d4" ] && [ "$d1" != "$d4" ] && ! missing 4; then
            pass "self-check: a replica without state transfer differs and misses $(wc -l <"$work/missing4") writes"
        else
            bad "self-check: the checks did not catch a replica without state ($d1 / $d4)"
        fi
    else
        bad "self-check: replica 4 did not join"
    fi
fi

verdict "3 replicas, $rounds SIGKILL/restart rounds under ${LOSS}% loss, $nacked acknowledged writes on every replica, digest ${digest:-?} over ${dbsize:-?} keys"
