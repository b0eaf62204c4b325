#!/bin/bash
# stat.sh - a running member's stats socket read by cohort-stat.
#
# In a private network namespace (tests/netns.sh), cohort-kvd runs with
# --stats-socket in a private (0700) directory:
#   - the socket is a socket of mode 0600; cohort-stat reads snapshots of
#     it (text and --json, which parses), with rates from the second on,
#     and the counters move after a write through redis-cli;
#   - another user (nobody, by setpriv) cannot read it: connect is
#     refused by the file modes, cohort-stat says so and exits 1; a socket
#     whose mode is widened by hand still serves only its uid and root
#     (SO_PEERCRED): nobody gets no snapshot, the refusal is counted;
#   - a stopped member (SIGSTOP) gives no answer: exit 3 within the bound;
#   - the member removes the socket when it ends; a SIGKILLed member
#     leaves it, cohort-stat says no one listens, and the next member
#     replaces it;
#   - unsafe paths fail cohort-kvd cleanly, before joining: a directory
#     others may write to, an existing regular file (left untouched), a
#     missing directory;
#   - cohort-perf recv --stats-socket and cohort-harness --stats-dir are
#     read the same way.
# Exit: 0 pass, 1 fail, 77 skip.

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
top_builddir=$(cd "$top_builddir" && pwd)
kvd=$top_builddir/cohort-kvd
stat=$top_builddir/cohort-stat

if [ ! -x "$kvd" ] || [ ! -x "$stat" ] || ! command -v timeout >/dev/null 2>&1; then
    echo "stat.sh: cohort-kvd or cohort-stat not built, or no timeout(1)"
    exit 77
fi
if [ "${COHORT_STAT_INNER:-}" != 1 ]; then
    COHORT_STAT_INNER=1
    export COHORT_STAT_INNER
    exec timeout 120 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-stat.XXXXXX") || exit 99
chmod 700 "$work"
pid=
cleanup() {
    [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail=0
pass() { echo "PASS: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
port=$((20000 + $$ % 20000))
sock=$work/kvd.sock
"$kvd" --help >/dev/null 2>&1       # the libtool wrapper links once
"$stat" --help >/dev/null 2>&1

start() {   # start SOCKET: a replica with its stats socket at SOCKET
    "$kvd" --group "stat-test-$$" --port "$port" --stats-socket "$1" \
        --quiet 2>"$work/kvd.err" &
    pid=$!
    for _ in $(seq 1 100); do
        [ -S "$1" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    bad "cohort-kvd did not make $1: $(cat "$work/kvd.err")"
    return 1
}
value() {   # value NAME FILE: a counter from cohort-stat's text output
    awk -v n="$1" '$1 == n { print $2; exit }' "$2"
}

start "$sock" || exit 1
mode=$(stat -c '%a %F' "$sock")
if [ "$mode" = "600 socket" ]; then
    pass "the stats socket is a socket of mode 0600"
else
    bad "the stats socket is '$mode'"
fi

if timeout 10 "$stat" "$sock" --count 2 --interval 0.3 >"$work/out" 2>&1 &&
   grep -q "group stat-test-$$" "$work/out" &&
   grep -Eq '^datagrams_sent +[0-9]+ +[0-9.]+$' "$work/out"; then
    pass "cohort-stat: two snapshots, the second with rates"
else
    bad "cohort-stat text output:"; cat "$work/out"
fi
if timeout 10 "$stat" "$sock" --count 2 --interval 0.2 --json >"$work/json" 2>&1 &&
   python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 2, lines
assert lines[0]["group"].startswith("stat-test-")
assert "datagrams_sent" in lines[0]["counters"]
assert "send_window_used_bytes" in lines[0]["gauges"]
assert lines[0]["rates"] == {} and "datagrams_sent" in lines[1]["rates"]
' "$work/json"; then
    pass "cohort-stat --json: one object a line, rates from the second"
else
    bad "cohort-stat --json:"; cat "$work/json"
fi

# the counters move: a write goes through the total order
timeout 10 "$stat" "$sock" --count 1 >"$work/before" 2>&1
if command -v redis-cli >/dev/null 2>&1; then
    for _ in $(seq 1 60); do
        [ "$(timeout 5 redis-cli -p "$port" SET k v 2>/dev/null)" = OK ] && break
        sleep 0.1
    done
    timeout 10 "$stat" "$sock" --count 1 >"$work/after" 2>&1
    b=$(value messages_sent.total "$work/before")
    a=$(value messages_sent.total "$work/after")
    if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -gt "$b" ]; then
        pass "messages_sent.total moved from $b to $a after a SET"
    else
        bad "messages_sent.total did not move ($b -> $a)"
    fi
else
    echo "SKIP: the write check needs redis-cli"
fi

# another user
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 &&
   setpriv --reuid=nobody --regid=nogroup --clear-groups "$stat" --help >/dev/null 2>&1; then
    as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
    as_nobody "$stat" "$sock" --count 1 >"$work/out" 2>"$work/err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q 'Permission denied' "$work/err"; then
        pass "another user cannot read it (exit 1, Permission denied)"
    else
        bad "another user: exit $rc: $(cat "$work/out" "$work/err")"
    fi
    # widened by hand: the member still serves only its uid and root
    chmod 711 "$work"
    chmod 666 "$sock"
    as_nobody "$stat" "$sock" --count 1 >"$work/out" 2>"$work/err"
    rc=$?
    chmod 600 "$sock"
    chmod 700 "$work"
    timeout 10 "$stat" "$sock" --count 1 >"$work/after" 2>&1
    refused=$(value stats_socket_refused "$work/after")
    if [ $rc -eq 1 ] && ! grep -q datagrams_sent "$work/out" &&
       [ "${refused:-0}" -ge 1 ]; then
        pass "a widened socket still refuses another uid (refused $refused)"
    else
        bad "widened socket: exit $rc, refused ${refused:-?}: $(cat "$work/out" "$work/err")"
    fi
else
    echo "SKIP: the other-user checks need root and setpriv"
fi

# a stopped member does not answer: bounded
kill -STOP "$pid"
t0=$(date +%s)
timeout 20 "$stat" "$sock" --count 1 >/dev/null 2>"$work/err"
rc=$?
t1=$(date +%s)
kill -CONT "$pid"
if [ $rc -eq 3 ] && grep -q 'no snapshot within' "$work/err" && [ $((t1 - t0)) -le 5 ]; then
    pass "a stopped member: exit 3 after $((t1 - t0)) s"
else
    bad "a stopped member: exit $rc after $((t1 - t0)) s: $(cat "$work/err")"
fi

# the member removes its socket; a killed one leaves it, replaced later
kill "$pid"; wait "$pid" 2>/dev/null; pid=
if [ ! -e "$sock" ]; then
    pass "the socket is removed when the member ends"
else
    bad "the socket is still there after the member ended"
fi
start "$sock" || exit 1
kill -KILL "$pid"; wait "$pid" 2>/dev/null; pid=
timeout 10 "$stat" "$sock" --count 1 >/dev/null 2>"$work/err"
rc=$?
if [ $rc -eq 1 ] && grep -q 'no member listens there' "$work/err"; then
    pass "a killed member's socket: exit 1, no member listens there"
else
    bad "a killed member's socket: exit $rc: $(cat "$work/err")"
fi
# the stale file is there at once: wait until the new member answers
ok=0
if start "$sock"; then
    for _ in $(seq 1 50); do
        timeout 10 "$stat" "$sock" --count 1 >/dev/null 2>&1 && { ok=1; break; }
        sleep 0.1
    done
fi
if [ $ok -eq 1 ]; then
    pass "the next member replaces a dead member's socket"
else
    bad "the next member could not take over the stale socket"
fi
kill "$pid"; wait "$pid" 2>/dev/null; pid=

# unsafe or unusable paths: refused before the member joins
refuse() {  # refuse NAME PATTERN SOCKET
    timeout 20 "$kvd" --group "stat-test-$$" --port "$port" --stats-socket "$3" \
        --quiet >/dev/null 2>"$work/err"
    rc=$?
    if [ $rc -ne 0 ] && grep -q "$2" "$work/err"; then
        pass "$1: refused (exit $rc)"
    else
        bad "$1: exit $rc: $(cat "$work/err")"
    fi
}
mkdir "$work/open" && chmod 777 "$work/open"
refuse "a directory others may write to" 'writable by others' "$work/open/kvd.sock"
echo keep >"$work/file"
refuse "a regular file at the path" 'not a socket' "$work/file"
if [ "$(cat "$work/file")" = keep ]; then
    pass "the regular file is left untouched"
else
    bad "the regular file was changed"
fi
refuse "a missing directory" 'No such file or directory' "$work/none/kvd.sock"

# cohort-perf's roles by hand take --stats-socket too
perf=$top_builddir/cohort-perf
if [ -x "$perf" ]; then
    "$perf" recv --group "stat-perf-$$" --stats-socket "$work/perf.sock" \
        --seconds 3 --timeout 4 --quiet >/dev/null 2>&1 &
    ppid=$!
    for _ in $(seq 1 60); do [ -S "$work/perf.sock" ] && break; sleep 0.05; done
    if timeout 10 "$stat" "$work/perf.sock" --count 1 2>&1 | grep -q "group stat-perf-$$"; then
        pass "cohort-perf recv --stats-socket: read by cohort-stat"
    else
        bad "cohort-perf recv --stats-socket: no snapshot"
    fi
    kill "$ppid" 2>/dev/null; wait "$ppid" 2>/dev/null
fi

# cohort-harness --stats-dir: a socket per member process
harness=$top_builddir/cohort-harness
if [ -x "$harness" ]; then
    mkdir -m 700 "$work/h"
    timeout 60 "$harness" --members 2 --messages 3000 --rate 1000 --timeout 30 \
        --stats-dir "$work/h" --quiet >"$work/hout" 2>&1 &
    hpid=$!
    for _ in $(seq 1 100); do [ -S "$work/h/member-1.0.sock" ] && break; sleep 0.05; done
    timeout 10 "$stat" "$work/h/member-1.0.sock" --count 1 >"$work/out" 2>&1
    src=$?
    wait "$hpid"
    hrc=$?
    if [ $src -eq 0 ] && grep -q 'member m1 ' "$work/out" && [ $hrc -eq 0 ] &&
       [ -z "$(ls "$work/h")" ]; then
        pass "cohort-harness --stats-dir: member 1 read while running, sockets removed"
    else
        bad "cohort-harness --stats-dir: stat $src, harness $hrc: $(cat "$work/out") $(tail -n 2 "$work/hout")"
    fi
fi

[ $fail -eq 0 ] || exit 1
exit 0
