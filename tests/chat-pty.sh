#!/bin/bash
# chat-pty.sh - cohort-chat as a person uses it: three members (alice, bob,
# carol) in terminals (tmux panes), inside a private network namespace
# (tests/netns.sh). The test types into the panes and reads their screens:
#
#  - a line arriving while one is half typed leaves the typed text intact
#    (the input line is still "alice> half typed li" under the new line,
#    and finishing it sends the whole line);
#  - /who lists the three members, the coordinator and the primary state;
#  - /nick is seen by the others, and the new name is on later lines;
#  - an unknown /command is refused locally and never reaches the others
#    (a line sent after it arrives, FIFO, and the command never does);
#  - //text sends a line starting with '/', /me an action;
#  - Ctrl-D leaves, and the others are told.
#
# Every wait polls the screens (at most CHAT_PTY_WAIT_S each, default 30 s)
# instead of sleeping for a fixed time, so a loaded machine only makes it
# slower; the whole test is bounded by timeout(1).
#
# Exit: 0 pass, 1 fail, 77 skip (no tmux, no network namespace).

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-.}
chat=$(cd "$top_builddir" && pwd)/cohort-chat
WAIT_S=${CHAT_PTY_WAIT_S:-30}

if ! command -v tmux >/dev/null 2>&1; then
    echo "chat-pty: tmux not found (Debian: apt-get install tmux)" >&2
    exit 77
fi
if [ ! -x "$chat" ] || ! command -v timeout >/dev/null 2>&1; then
    echo "chat-pty: $chat not built, or no timeout(1)" >&2
    exit 77
fi

if [ "${COHORT_CHAT_PTY_INNER:-}" != 1 ]; then
    COHORT_CHAT_PTY_INNER=1
    export COHORT_CHAT_PTY_INNER
    exec timeout -k 5 240 sh "$top_srcdir/tests/netns.sh" bash "$0" "$@"
fi
if [ "${COHORT_TEST_NETNS:-}" != 1 ]; then
    echo "chat-pty: no private network namespace here; skipped" >&2
    exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cohort-chat-pty.XXXXXX") || exit 99
export TMUX_TMPDIR=$work
unset TMUX
export TERM=${TERM:-xterm}
[ "$TERM" = dumb ] && TERM=xterm
T=(tmux -L chat-pty -f /dev/null)
cleanup() {
    "${T[@]}" kill-server 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

fail=0
group=chat-pty-$$
members=(alice bob carol)

pass() { echo "PASS: $*"; }
bad() {
    echo "FAIL: $*"
    fail=1
}

# The whole screen and scroll-back of a member's pane.
screen() { "${T[@]}" capture-pane -p -J -S - -E - -t "$1" 2>/dev/null; }
# The last line of the pane that is not blank (the input line).
input_line() { screen "$1" | grep -v '^ *$' | tail -n 1; }

# wait_for MEMBER WHAT GREP-ARGS...: poll until the screen matches.
wait_for() {
    local who=$1 what=$2 i
    shift 2
    for ((i = 0; i < WAIT_S * 5; i++)); do
        if screen "$who" | grep -q "$@"; then
            return 0
        fi
        sleep 0.2
    done
    bad "$who: $what (screen below)"
    screen "$who" | sed 's/^/    | /'
    return 1
}

type_keys() { "${T[@]}" send-keys -t "$1" -l "$2"; }
enter() { "${T[@]}" send-keys -t "$1" Enter; }
say_line() {
    type_keys "$1" "$2"
    enter "$1"
}

# ---- start three members in 100x30 terminals ----------------------------
for m in "${members[@]}"; do
    "${T[@]}" new-session -d -s "$m" -x 100 -y 30 \
        "$chat --group $group --name $m --color=never; echo \"(exited \$?)\"; sleep 600" \
        || { echo "chat-pty: tmux could not start" >&2; exit 77; }
done
"${T[@]}" set-option -g history-limit 5000 >/dev/null

# Wait until each one's view holds all three (ask with /who until then).
for m in "${members[@]}"; do
    ok=0
    for ((k = 0; k < WAIT_S; k++)); do
        say_line "$m" "/who"
        sleep 1
        if screen "$m" | grep -q '^\* view .*: 3 members'; then
            ok=1
            break
        fi
    done
    if [ $ok = 1 ]; then pass "$m: /who shows a view of 3 members"; else
        bad "$m never saw a view of 3 members"; screen "$m" | sed 's/^/    | /'
        exit 1
    fi
done

# ---- /who lists names, ids, the coordinator and primary -----------------
say_line carol "/who"
sleep 0.5
wait_for carol "/who names alice" -E '^\*   alice +id [0-9a-f]{8}' &&
wait_for carol "/who names bob" -E '^\*   bob +id [0-9a-f]{8}' &&
wait_for carol "/who marks carol as you" -E '^\*   carol \(you\) +id [0-9a-f]{8}' &&
wait_for carol "/who names a coordinator" -E '^\*   .* id [0-9a-f]{8}  coordinator' &&
wait_for carol "/who tells primary" -E '^\* view .*: 3 members, primary component' &&
pass "/who lists the members, ids, coordinator and primary"

# ---- a line arriving while another is half typed ------------------------
type_keys alice "half typed li"
wait_for alice "typed text shown" -x 'alice> half typed li'
say_line bob "interrupting you, alice"
if wait_for alice "bob's line arrives" -x '\[bob\] interrupting you, alice'; then
    # The redraw follows the line in the same write; allow tmux a moment.
    for ((i = 0; i < 25; i++)); do
        last=$(input_line alice)
        [ "$last" = "alice> half typed li" ] && break
        sleep 0.2
    done
    if [ "$last" = "alice> half typed li" ]; then
        pass "half-typed line intact below the new one: '$last'"
    else
        bad "input line after bob's message is '$last', want 'alice> half typed li'"
        screen alice | sed 's/^/    | /'
    fi
fi
type_keys alice "ne"
enter alice
wait_for bob "alice's finished line arrives whole" -x '\[alice\] half typed line' &&
wait_for alice "alice's own line is marked" -x '\[alice (you)\] half typed line' &&
pass "the finished line went out whole, marked as one's own"

# ---- history: Up recalls the line, Ctrl-U clears it ----------------------
"${T[@]}" send-keys -t alice Up
wait_for alice "Up recalls the last line" -x 'alice> half typed line' &&
pass "history: Up recalls the last line"
"${T[@]}" send-keys -t alice C-u

# ---- control characters from the network are neutralised ---------------
printf 'evil \033[2J\033[31mred\a\n' |
    timeout 30 "$chat" --group $group --name mallory --script - \
        --wait-members 3 --delay 0 --exit-after 1 --quiet >/dev/null 2>&1 &
wait_for alice "mallory's escape sequences shown as '?'" -x '\[mallory\] evil ?\[2J?\[31mred?' &&
pass "control characters from the network are shown as '?'"
wait

# ---- /nick is seen by the others -----------------------------------------
say_line bob "/nick robert"
wait_for alice "alice sees the rename" -x '\* bob is now known as robert' &&
wait_for carol "carol sees the rename" -x '\* bob is now known as robert' &&
wait_for bob "bob's prompt shows the new name" -E '^robert> ' &&
pass "/nick is seen by the others"
say_line bob "hello from robert"
wait_for carol "later lines carry the new name" -x '\[robert\] hello from robert' &&
pass "lines after /nick carry the new name"

# ---- an unknown command is not sent -------------------------------------
say_line carol "/bogus secret-word-4711"
wait_for carol "the unknown command is refused" -E '^\* /bogus: unknown command'
say_line carol "//slash line"
say_line carol "/me waves"
for m in alice robert; do
    pane=$m
    [ $m = robert ] && pane=bob
    wait_for $pane "carol's //line arrives as /slash line" -x '\[carol\] /slash line' &&
    wait_for $pane "carol's /me arrives" -x '\* carol waves' || continue
    if screen $pane | grep -q 'secret-word-4711'; then
        bad "$pane saw carol's unknown command"
    else
        pass "$pane never saw the unknown command (and got //line and /me after it)"
    fi
done

# ---- Ctrl-D leaves -------------------------------------------------------
"${T[@]}" send-keys -t carol C-d
wait_for carol "carol leaves on Ctrl-D, exit status 0" -x '(exited 0)' &&
wait_for alice "alice is told carol left" -x '\* carol left' &&
pass "Ctrl-D leaves and the others are told"

if [ $fail = 0 ]; then
    echo "chat-pty: all checks passed"
fi
exit $fail
