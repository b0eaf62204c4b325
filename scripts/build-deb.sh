#!/bin/bash
# build-deb.sh - build the Debian packages libcohort1, libcohort-dev and
# cohort-tools with dpkg-buildpackage -us -uc -b, in a scratch copy of the
# tree so an in-tree build (scripts/setup.sh) is neither used nor disturbed.
#
#   ./scripts/build-deb.sh                  packages land in build-deb/
#   DEB_BUILD_OPTIONS=nocheck ./scripts/build-deb.sh   without the tests
#
# Installs the missing packaging tools (debhelper, dpkg-dev, fakeroot) and
# the Build-Depends of debian/control first.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/build-deb
LOGDIR=$ROOT/build-logs
TOOLS=(debhelper dpkg-dev fakeroot)

say() { printf '==> %s\n' "$*"; }

case ${1:-} in
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    "") ;;
    *) echo "build-deb.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
esac

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

is_installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

install_missing() {
    local missing=() p
    for p in "$@"; do
        is_installed "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return
    say "installing ${missing[*]} (log: build-logs/apt-deb.log)"
    export DEBIAN_FRONTEND=noninteractive
    { as_root apt-get update -q && as_root apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
        >"$LOGDIR/apt-deb.log" 2>&1 || { tail -n 30 "$LOGDIR/apt-deb.log" >&2; exit 1; }
}

# Build-Depends names without versions or the debhelper-compat virtual
# package (debhelper provides it).
build_depends() {
    sed -n '/^Build-Depends:/,/^[A-Z][A-Za-z-]*:/p' debian/control \
        | sed '$d; s/^Build-Depends://' | tr ',' '\n' \
        | sed 's/(.*)//; s/^[[:space:]]*//; s/[[:space:]]*$//' \
        | grep -v -e '^$' -e '^debhelper-compat'
}

mkdir -p "$LOGDIR"
# shellcheck disable=SC2046
install_missing "${TOOLS[@]}" $(build_depends)

version=$(dpkg-parsechangelog -S Version)
work=$(mktemp -d /tmp/cohort-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/cohort-$version

# Copy the sources only: the generated and built files of an in-tree build
# would make dh_auto_configure skip or confuse its own configure run.
say "copying the sources to $src"
mkdir -p "$src"
if [ -d .git ] && command -v git >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf - | tar -C "$src" -xf -
else
    tar --exclude=./build-deb --exclude=./build-logs --exclude=./build-ci -cf - . | tar -C "$src" -xf -
    if [ -f "$src/Makefile" ]; then
        make -C "$src" -s distclean >/dev/null 2>&1 || true
    fi
fi

say "dpkg-buildpackage -us -uc -b (log: build-logs/deb.log)"
( cd "$src" && dpkg-buildpackage -us -uc -b -j"$(nproc 2>/dev/null || echo 2)" ) \
    >"$LOGDIR/deb.log" 2>&1 || {
    echo "build-deb.sh: dpkg-buildpackage failed; last lines of build-logs/deb.log:" >&2
    tail -n 60 "$LOGDIR/deb.log" >&2
    exit 1
}
grep -E '^(# (TOTAL|PASS|SKIP|FAIL|ERROR):)' "$LOGDIR/deb.log" || echo "(tests not run)"

rm -rf "$OUT" && mkdir -p "$OUT"
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$OUT"/ 2>/dev/null || true
say "packages in build-deb/:"
for deb in "$OUT"/*.deb; do
    printf '    %s\n' "$(basename "$deb")"
done
