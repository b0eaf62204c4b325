#!/bin/sh
# make check: replay the checked-in fuzz corpus (captured traffic plus any
# crash reproducers) through the fuzz entry. Under --enable-sanitizers this
# is the ASan + UBSan run of every input.
set -eu
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
exec "$top_builddir/tests/fuzz/fuzz-replay" "$top_srcdir/tests/fuzz/corpus"
