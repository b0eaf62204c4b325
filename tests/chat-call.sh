#!/bin/bash
# chat-call.sh - cohort-chat's /call: a group request (docs/api.md,
# "Request-reply") that every member answers with its name. Three members
# in a private network namespace; alice calls, bob and carol (and alice)
# answer, alice sees all three answers and "complete, 3 of 3", the others
# see the question.
# Exit: 0 pass, 1 fail, 77 skip (no network namespace).
set -u
top_builddir=${top_builddir:-.}
top_srcdir=${top_srcdir:-.}
chat=$(cd "$top_builddir" && pwd)/cohort-chat
if [ ! -x "$chat" ] || ! command -v timeout >/dev/null 2>&1; then
    echo "chat-call: $chat not built, or no timeout(1)" >&2
    exit 77
fi
if [ "${COHORT_CHAT_CALL_INNER:-}" != 1 ]; then
    COHORT_CHAT_CALL_INNER=1
    export COHORT_CHAT_CALL_INNER
    exec timeout -k 5 120 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi
if [ "${COHORT_TEST_NETNS:-}" != 1 ]; then
    echo "chat-call: no private network namespace here; skipped" >&2
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-chat-call.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
opts=(--group chat-call --plain --color=never)
printf '/call who is there?\n' >"$work/script"
timeout 60 "$chat" "${opts[@]}" --name bob --exit-after 8 </dev/null >"$work/bob" 2>&1 &
timeout 60 "$chat" "${opts[@]}" --name carol --exit-after 8 </dev/null >"$work/carol" 2>&1 &
timeout 60 "$chat" "${opts[@]}" --name alice --script "$work/script" \
    --wait-members 2 --exit-after 4 >"$work/alice" 2>&1
wait
fail=0
need() { # file, pattern
    if ! grep -q -- "$2" "$work/$1"; then
        echo "chat-call: $1 never printed '$2'; its output:" >&2
        sed 's/^/  /' "$work/$1" >&2
        fail=1
    fi
}
need alice 'call 1: answered by bob'
need alice 'call 1: answered by carol'
need alice 'call 1: answered by alice'
need alice 'call 1: complete, 3 of 3 answered'
need bob 'alice asks: who is there?'
need carol 'alice asks: who is there?'
[ $fail -eq 0 ] && echo "chat-call: /call answered by all three members"
exit $fail
