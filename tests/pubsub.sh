#!/bin/bash
# pubsub.sh - cohort-pub and cohort-sub under kernel loss, with auth.
#
# Inside a private network namespace (tests/netns.sh), nftables drops
# 10% of the UDP datagrams arriving at every member (input hook, this
# namespace only). Three subscribers with different topic filters and
# the group's key, and one with another key, start; one publisher in
# FIFO mode with auth publishes 240 events on seven topics (-l
# --line-topics) once the three are in its view, and must exit 0 (every
# event held by every member). Then:
#  - each subscriber printed exactly the events its filter selects, in
#    the order published, each once (its output equals the published
#    list filtered by an independent grep of the expected topics; one
#    subscriber prints JSON, checked through jq);
#  - the subscriber with the wrong key printed nothing on stdout, said
#    why on stderr (failed authentication) and exited 4;
#  - payloads with quotes, backslashes, newlines, control bytes, NUL and
#    non-UTF-8 bytes (-f FILE) come out of `cohort-sub --format json` as
#    JSON lines that jq parses, and decode (text, or base64) to exactly
#    the bytes published.
#
# Prints one verdict line. Exit: 0 pass, 1 fail (logs kept, directory
# named), 77 skip (no jq, nft, libsodium or network namespace).

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
pub=$top_builddir/cohort-pub
sub=$top_builddir/cohort-sub
keygen=$top_builddir/cohort-keygen
me=pubsub

skip() { echo "$me: SKIP: $*"; exit 77; }
command -v jq >/dev/null 2>&1 || skip "jq not found (Debian: apt-get install jq)"
command -v nft >/dev/null 2>&1 || skip "nft not found (Debian: nftables)"
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
command -v base64 >/dev/null 2>&1 || skip "no base64(1)"
for t in "$pub" "$sub" "$keygen"; do [ -x "$t" ] || skip "$t not built"; done

if [ "${COHORT_PUBSUB_INNER:-}" != 1 ]; then
    COHORT_PUBSUB_INNER=1
    export COHORT_PUBSUB_INNER
    exec timeout 150 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi
[ "${COHORT_TEST_NETNS:-}" = 1 ] ||
    skip "no private network namespace (needs root or user namespaces)"

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-pubsub.XXXXXX") || exit 99
pids=()
fail=0
why=""
cleanup() {
    local p
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ $fail -eq 0 ]; then rm -rf "$work"; else echo "$me: logs kept in $work"; fi
}
trap cleanup EXIT

bad() {
    echo "FAIL: $*"
    [ $fail -eq 0 ] && why=$*
    fail=1
}
pass() { echo "PASS: $*"; }
verdict() {
    if [ $fail -eq 0 ]; then echo "$me: PASS: $*"; else echo "$me: FAIL: $why"; fi
    exit $fail
}

group=pubsub-$$
port=$((30000 + $$ % 20000))
net=(--group "$group" --port "$port" --interface lo)

"$keygen" "$work/good.key" >/dev/null 2>"$work/keygen.err" ||
    { grep -q 'without libsodium' "$work/keygen.err" && skip "built without libsodium"
      bad "cohort-keygen: $(cat "$work/keygen.err")"; verdict; }
"$keygen" "$work/other.key" >/dev/null 2>&1 || { bad "cohort-keygen"; verdict; }
good=(--key "$work/good.key" --security auth --mode fifo)

# --- loss: inside this namespace only -----------------------------------
if ! nft add table inet pubsub 2>"$work/nft.err" ||
   ! nft add chain inet pubsub input '{ type filter hook input priority 0; }' ||
   ! nft add rule inet pubsub input meta l4proto udp numgen random mod 100 lt 10 counter drop; then
    skip "nft cannot filter here: $(head -n 1 "$work/nft.err")"
fi
pass "nftables drops 10% of the UDP datagrams arriving"

# --- the events: "TOPIC PAYLOAD", seven topics ----------------------------
topics=(svc/db/state svc/db/query/slow svc/web/state log svc/web svc/db other/x/state)
# Padding of 0 to 360 bytes spreads the events over many datagrams, so
# the loss hits events (the subscribers' NACK counts show it).
pad=$(printf '%0360d' 0)
for i in $(seq 1 240); do
    t=${topics[$((i % ${#topics[@]}))]}
    p=${pad:0:$((i * 37 % 361))}
    case $((i % 5)) in
        0) echo "$t event $i: \"quoted\" and \\backslash $p" ;;
        1) echo "$t event $i: caf$(printf '\303\251') $(printf '\342\202\254') $p" ;;
        *) echo "$t event $i $p" ;;
    esac
done >"$work/events"
# What each filter must select, written independently of tools/topic.c.
grep -E '^svc/db( |/)' "$work/events" >"$work/want1"          # svc/db/#
grep -E '^svc/[^/ ]+/state ' "$work/events" >"$work/want2"    # svc/*/state
grep -E '^(log|svc/web|svc/web/[^ ]+) ' "$work/events" >"$work/want3" # log, svc/web/#
# The text form escapes '\' as "\\"; the JSON subscriber is compared raw.
sed 's/\\/\\\\/g' "$work/want1" >"$work/want1.text"
sed 's/\\/\\\\/g' "$work/want2" >"$work/want2.text"

# The libtool wrappers may link on first run: once, not per start.
"$pub" --help >/dev/null 2>&1
"$sub" --help >/dev/null 2>&1

start_sub() {
    local name=$1; shift
    "$sub" "${net[@]}" --name "$name" "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    eval "pid_$name=\$!"
}
start_sub s1 "${good[@]}" -v -t 'svc/db/#' -C "$(wc -l <"$work/want1")" --timeout 90
start_sub s2 "${good[@]}" -v -t 'svc/*/state' -C "$(wc -l <"$work/want2")" --timeout 90
start_sub s3 "${good[@]}" -v -t log -t 'svc/web/#' --format json \
    -C "$(wc -l <"$work/want3")" --timeout 90
start_sub wrong --key "$work/other.key" --security auth -t '#' -C 1 --timeout 20

"$pub" "${net[@]}" --name pub "${good[@]}" -l --line-topics --wait-members 3 \
    --timeout 60 -v <"$work/events" >"$work/pub.out" 2>"$work/pub.err"
rc=$?
if [ $rc -eq 0 ]; then
    pass "cohort-pub: $(tail -n 1 "$work/pub.err" | sed "s/^cohort-pub: //")"
else
    bad "cohort-pub exited $rc: $(tail -n 2 "$work/pub.err" | tr '\n' ' ')"
fi

# wait_rc NAME: its exit status (the subscribers bound their own time).
wait_rc() { local v="pid_$1"; wait "${!v}"; }
for s in s1 s2 s3; do
    wait_rc $s; rc=$?
    [ $rc -eq 0 ] || bad "$s exited $rc: $(tail -n 2 "$work/$s.err" | tr '\n' ' ')"
done
cmp -s "$work/s1.out" "$work/want1.text" &&
    pass "s1 (svc/db/#): $(wc -l <"$work/want1") events, in order, once each" ||
    bad "s1 (svc/db/#) printed other events than selected ($(diff "$work/want1.text" "$work/s1.out" | head -n 4 | tr '\n' ' '))"
cmp -s "$work/s2.out" "$work/want2.text" &&
    pass "s2 (svc/*/state): $(wc -l <"$work/want2") events, in order, once each" ||
    bad "s2 (svc/*/state) printed other events than selected ($(diff "$work/want2.text" "$work/s2.out" | head -n 4 | tr '\n' ' '))"
if ! jq -e . "$work/s3.out" >/dev/null 2>"$work/jq.err"; then
    bad "s3's output is not JSON lines: $(head -n 1 "$work/jq.err")"
elif jq -r '.topic + " " + .payload' "$work/s3.out" >"$work/s3.got" &&
     cmp -s "$work/s3.got" "$work/want3"; then
    pass "s3 (log, svc/web/#, json): $(wc -l <"$work/want3") events, in order, once each"
else
    bad "s3 (log, svc/web/#) printed other events than selected ($(diff "$work/want3" "$work/s3.got" | head -n 4 | tr '\n' ' '))"
fi
if jq -e 'select(.sender != "pub" or .encoding != "text" or
                 (.sender_id | test("^[0-9a-f]{8}$") | not) or
                 (.received | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$") | not))' \
        "$work/s3.out" >/dev/null; then
    bad "s3: a JSON event with a wrong sender, id, time or encoding"
fi

# The loss reached the events: the subscribers asked for repairs.
nacks=0
for s in s1 s2 s3; do
    n=$(sed -n 's/.* \([0-9]*\) NACKs sent.*/\1/p' "$work/$s.err" | tail -n 1)
    nacks=$((nacks + ${n:-0}))
done
[ $nacks -gt 0 ] && pass "the subscribers repaired loss: $nacks NACKs sent" ||
    bad "no subscriber sent a NACK: the loss never hit an event"

wait_rc wrong; rc=$?
if [ $rc -eq 4 ] && [ ! -s "$work/wrong.out" ] &&
   grep -q 'failed authentication' "$work/wrong.err"; then
    pass "wrong key: nothing printed, exit 4, stderr: $(grep -m1 'no events' "$work/wrong.err" | cut -c1-90)..."
else
    bad "wrong key: exit $rc (want 4), $(wc -c <"$work/wrong.out") bytes on stdout (want 0), stderr: $(tr '\n' ' ' <"$work/wrong.err" | cut -c1-200)"
fi

# --- JSON for awkward payloads ----------------------------------------------
printf 'say "hi"\nline two\\ end\r\n' >"$work/p1"                # text
printf 'ctl \001\002\033[0m\037\177 tab\t nul\000 end' >"$work/p2"  # text
printf 'bin \377\376\200 \300\257 end\n' >"$work/p3"              # base64
start_sub j1 "${good[@]}" -t 'bin/#' --format json -C 3 --timeout 60
for i in 1 2 3; do
    "$pub" "${net[@]}" --name "pub$i" "${good[@]}" -t "bin/p$i" -f "$work/p$i" \
        --wait-members 1 --timeout 30 2>>"$work/pubj.err" ||
        bad "cohort-pub -f p$i exited $?: $(tail -n 1 "$work/pubj.err")"
done
wait_rc j1; rc=$?
[ $rc -eq 0 ] || bad "j1 exited $rc: $(tail -n 2 "$work/j1.err" | tr '\n' ' ')"
if ! jq -e . "$work/j1.out" >/dev/null 2>"$work/jq.err"; then
    bad "awkward payloads: not JSON lines: $(head -n 1 "$work/jq.err")"
elif [ "$(jq -r '.topic + " " + .encoding' "$work/j1.out" | tr '\n' ,)" != \
       "bin/p1 text,bin/p2 text,bin/p3 base64," ]; then
    bad "awkward payloads: topics/encodings $(jq -r '.topic + " " + .encoding' "$work/j1.out" | tr '\n' ,)"
else
    ok=1
    for i in 1 2 3; do
        line=$(sed -n "${i}p" "$work/j1.out")
        if [ $i -eq 3 ]; then
            printf '%s' "$line" | jq -r .payload | base64 -d >"$work/got$i"
        else
            printf '%s' "$line" | jq -j .payload >"$work/got$i"
        fi
        cmp -s "$work/got$i" "$work/p$i" || { ok=0; bad "payload p$i did not survive JSON"; }
    done
    [ $ok -eq 1 ] && pass "JSON lines parse with jq; quotes, newlines, control bytes, NUL and non-UTF-8 come back exactly"
fi

dropped=$(nft list chain inet pubsub input | sed -n 's/.*counter packets \([0-9]*\) .*/\1/p')
[ "${dropped:-0}" -gt 0 ] && pass "nftables dropped $dropped datagrams" ||
    bad "nftables dropped nothing: the loss did not apply"

verdict "3 filters under 10% loss with auth, exactly once and in order; wrong key refused; JSON exact"
