#!/bin/bash
# setup.sh - take a fresh clone to a built tree on Debian 12:
# install the missing build dependencies, bootstrap, configure, build.
#
# Safe to run again: it installs only what is missing, bootstraps only when
# ./configure is missing, reconfigures only when the options changed, and
# make rebuilds only what changed. The build is in the source tree.
#
#   ./scripts/setup.sh                 build (warnings as errors when CI=true)
#   ./scripts/setup.sh --werror        build with warnings as errors
#   ./scripts/setup.sh --deps-only     only install the build dependencies
#   ./scripts/setup.sh --fuzz          also clang and libFuzzer (test.sh --full)
#   ./scripts/setup.sh -- --without-libsodium   extra ./configure arguments
#
# Environment: CI=true adds --enable-werror; COHORT_CONFIGURE_FLAGS adds
# configure arguments; COHORT_SKIP_DEPS=1 skips the package step;
# COHORT_MAKE_LOG names make's log in build-logs/ (default make.log), so a
# caller such as test.sh keeps the real build's log.
set -euo pipefail

# Every package the build, make check (including the namespace and
# kernel-loss tests) and make distcheck use. dpkg-query decides what is
# missing, so a second run installs nothing and never calls apt-get.
PACKAGES=(
    build-essential autoconf automake libtool pkg-config make
    libsodium-dev libcmocka-dev
    libedit-dev     # cohort-chat: line editing and history
    tmux            # tests/chat-pty.sh drives cohort-chat in a terminal
    iproute2 nftables util-linux procps coreutils
    tar gzip
    redis-tools     # redis-cli: tests/kvd.sh talks to cohort-kvd with it
    jq              # tests/pubsub.sh parses cohort-sub's JSON lines
    gnuplot-nox     # cohort-perf --plot draws its chart with it
    libxml2-utils   # xmllint: tests/perf-plot.sh checks the SVG
)

cd "$(dirname "$0")/.."
ROOT=$PWD
LOGDIR=$ROOT/build-logs
MAKE_LOG=${COHORT_MAKE_LOG:-make.log}
mkdir -p "$LOGDIR"

werror=no
deps_only=no
extra_args=()
while [ $# -gt 0 ]; do
    case $1 in
        --werror) werror=yes ;;
        --deps-only) deps_only=yes ;;
        --fuzz) PACKAGES+=(clang libclang-rt-dev) ;;
        -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
        --) shift; extra_args+=("$@"); break ;;
        *) echo "setup.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "${CI:-}" = true ] && werror=yes

say() { printf '==> %s\n' "$*"; }

# Show the end of a log, then stop: the whole log stays on disk.
fail_with_log() {
    local what=$1 log=$2
    echo "setup.sh: $what failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "setup.sh: need root to run: $*" >&2
        exit 1
    fi
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_missing_packages() {
    if [ "${COHORT_SKIP_DEPS:-0}" = 1 ]; then
        say "skipping package check (COHORT_SKIP_DEPS=1)"
        return
    fi
    if ! command -v dpkg-query >/dev/null 2>&1; then
        say "not a Debian system: install by hand: ${PACKAGES[*]}"
        return
    fi
    local missing=() p
    for p in "${PACKAGES[@]}"; do
        is_installed "$p" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "build dependencies: all ${#PACKAGES[@]} present"
        return
    fi
    say "installing ${missing[*]} (log: build-logs/apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -q >"$LOGDIR/apt.log" 2>&1 \
        || fail_with_log "apt-get update" "$LOGDIR/apt.log"
    as_root apt-get install -y -q --no-install-recommends "${missing[@]}" \
        >>"$LOGDIR/apt.log" 2>&1 \
        || fail_with_log "apt-get install" "$LOGDIR/apt.log"
}

bootstrap() {
    if [ -x configure ] && [ -f build-aux/ltmain.sh ]; then
        return
    fi
    say "bootstrapping (./autogen.sh, log: build-logs/autogen.log)"
    ./autogen.sh >"$LOGDIR/autogen.log" 2>&1 \
        || fail_with_log "./autogen.sh" "$LOGDIR/autogen.log"
}

# config.status --config prints the arguments configure last ran with,
# quoted for the shell; the same list means configure need not run again.
configure_tree() {
    local args=() have=() a
    [ "$werror" = yes ] && args+=(--enable-werror)
    # Word splitting is wanted here: a plain string of flags.
    # shellcheck disable=SC2206
    [ -n "${COHORT_CONFIGURE_FLAGS:-}" ] && args+=($COHORT_CONFIGURE_FLAGS)
    args+=("${extra_args[@]+"${extra_args[@]}"}")
    if [ -f config.status ] && [ -f Makefile ] \
        && a=$(./config.status --config 2>/dev/null) \
        && eval "have=($a)" \
        && [ "${have[*]+"${have[*]}"}" = "${args[*]+"${args[*]}"}" ]; then
        say "configure: up to date (${args[*]:-no options})"
        return
    fi
    say "configuring: ./configure${args[*]+ ${args[*]}} (log: build-logs/configure.log)"
    ./configure "${args[@]+"${args[@]}"}" >"$LOGDIR/configure.log" 2>&1 \
        || fail_with_log "./configure" "$LOGDIR/configure.log"
    # The summary configure.ac prints at the end.
    sed -n '/^configure: *$/,$p' "$LOGDIR/configure.log" | sed '1d;/^ *$/d' | head -n 8
}

build() {
    local jobs log=$LOGDIR/$MAKE_LOG
    jobs=$(nproc 2>/dev/null || echo 2)
    say "building: make -j$jobs (log: build-logs/$MAKE_LOG)"
    make -j"$jobs" >"$log" 2>&1 || {
        grep -E 'error|Error' "$log" | head -n 20 >&2 || true
        fail_with_log "make" "$log"
    }
    say "built: $(find . -maxdepth 1 -name 'cohort-*' -type f -perm -u+x | sort | tr '\n' ' ')"
}

install_missing_packages
[ "$deps_only" = yes ] && exit 0
bootstrap
configure_tree
build
say "setup done"
