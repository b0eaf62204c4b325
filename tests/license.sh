#!/bin/sh
# license.sh - the MIT license is stated everywhere a user or a packager
# looks: LICENSE itself, debian/copyright (DEP-5), the README, and the dist
# tarball (EXTRA_DIST). A missing piece names itself.

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
fail=0

check() {
    # check WHAT FILE PATTERN: grep -E PATTERN in FILE.
    if grep -Eq "$3" "$top_srcdir/$2" 2>/dev/null; then
        echo "PASS: $1"
    else
        echo "FAIL: $1 ($2 lacks /$3/)"
        fail=1
    fi
}

check "LICENSE is the MIT license" LICENSE '^MIT License$'
check "LICENSE names the copyright holder" LICENSE '^Copyright \(c\) 2026 The cohort authors$'
check "debian/copyright is DEP-5" debian/copyright '^Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/$'
check "debian/copyright licenses every file as Expat (MIT)" debian/copyright '^License: Expat$'
check "debian/copyright has no placeholder left" debian/copyright '^Copyright: 2026 The cohort authors$'
if grep -q 'unspecified\|all rights are reserved' "$top_srcdir/debian/copyright"; then
    echo "FAIL: debian/copyright still says no license was chosen"
    fail=1
fi
check "README has a License section" README.md '^## License$'
check "LICENSE goes into the dist tarball" Makefile.am '^EXTRA_DIST.*[[:space:]]LICENSE([[:space:]]|$)'
exit $fail
