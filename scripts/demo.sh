#!/bin/sh
# demo.sh - three cohort-chat members (alice, bob, carol) talk on loopback.
#
#   scripts/demo.sh [BUILDDIR] [cohort-chat options...]
#
# BUILDDIR holds the built cohort-chat (default: found next to this script,
# in ./build*, or on PATH). Extra options go to every member, e.g.
#   scripts/demo.sh build --mode unreliable
#   scripts/demo.sh build --key demo.key --security encrypt
#
# It runs in a private network namespace when it can (tests/netns.sh, or
# `unshare -n` directly), so no datagram can leave the machine; otherwise on
# loopback. Each member's output is shown as it happens, prefixed with its
# name. Bounded: members are killed after 12 s. Exits 0 only if every
# member saw every line of the other two.

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
MEMBERS="alice bob carol"
LIMIT_S=12

# ---- find cohort-chat ------------------------------------------------
BUILD=
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    BUILD=$1
    shift
fi
find_chat() {
    if [ -n "$BUILD" ]; then
        [ -x "$BUILD/cohort-chat" ] || return 1
        CHAT=$(cd "$BUILD" && pwd)/cohort-chat
        return 0
    fi
    for d in "$ROOT" "$ROOT"/build* "$PWD"; do
        if [ -x "$d/cohort-chat" ]; then
            CHAT=$(cd "$d" && pwd)/cohort-chat
            return 0
        fi
    done
    CHAT=$(command -v cohort-chat 2>/dev/null) && return 0
    return 1
}
if ! find_chat; then
    echo "demo.sh: cohort-chat not found${BUILD:+ in $BUILD}; build first" \
         "(./configure && make) or pass the build directory: $0 BUILDDIR" >&2
    exit 2
fi

# ---- move into a private network namespace ---------------------------
if [ "${COHORT_DEMO_INSIDE:-}" != 1 ]; then
    COHORT_DEMO_INSIDE=1
    export COHORT_DEMO_INSIDE
    if [ -x "$ROOT/tests/netns.sh" ] || [ -f "$ROOT/tests/netns.sh" ]; then
        exec sh "$ROOT/tests/netns.sh" sh "$0" "$(dirname "$CHAT")" "$@"
    fi
    if unshare -n true 2>/dev/null; then
        exec unshare -n sh -c 'ip link set lo up &&
            ip route add 224.0.0.0/4 dev lo && exec "$@"' \
            sh sh "$0" "$(dirname "$CHAT")" "$@"
    fi
    echo "demo.sh: no network namespace available; using loopback" >&2
fi

# ---- the conversation --------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cohort-demo.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

cat > "$WORK/alice.txt" <<'EOF'
hi everyone, alice here
is this thing reliable?
EOF
cat > "$WORK/bob.txt" <<'EOF'
hello alice, bob speaking
every line arrives in order, from each of us
EOF
cat > "$WORK/carol.txt" <<'EOF'
carol joining in
and nothing leaves this machine
EOF

echo "demo: $MEMBERS join group 'demo' on loopback ($CHAT)"
echo "demo: lines starting with '>' are sent, '[name]' are received"
echo
GROUP=demo-$$
for m in $MEMBERS; do
    (
        timeout -k 2 "$LIMIT_S" "$CHAT" --group "$GROUP" --name "$m" \
            --script "$WORK/$m.txt" --wait-members 2 --delay 300 \
            --exit-after 2 "$@" 2>&1
        echo "(exit status $?)"
    ) | while IFS= read -r line; do
        # read(1) takes a line as soon as it is written, so the three
        # members' lines interleave as they happen.
        printf '%s\n' "$line" >> "$WORK/$m.out"
        printf '%-6s| %s\n' "$m" "$line"
    done &
done
wait

# ---- did everyone hear everyone? ---------------------------------------
echo
missing=0
for m in $MEMBERS; do
    for other in $MEMBERS; do
        [ "$m" = "$other" ] && continue
        while IFS= read -r line; do
            if ! grep -F -x -q "[$other] $line" "$WORK/$m.out"; then
                echo "demo: $m did not see $other say: $line"
                missing=$((missing + 1))
            fi
        done < "$WORK/$other.txt"
    done
done
if [ "$missing" -ne 0 ]; then
    echo "demo: FAILED: $missing lines missing"
    exit 1
fi
echo "demo: OK: every member saw every line of the other two"
exit 0
