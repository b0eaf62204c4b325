#!/bin/sh
# Build the libFuzzer target for the core (clang, ASan + UBSan) and, with
# a time given, run it on the checked-in corpus.
#   tests/fuzz/build.sh [OUTDIR] [SECONDS]
# OUTDIR defaults to ./fuzz-build; SECONDS 0 (or absent) only builds.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-fuzz-build}
seconds=${2:-0}
mkdir -p "$out"
CC=${CC_FUZZ:-clang}
sodium_cflags=$(pkg-config --cflags libsodium 2>/dev/null || true)
sodium_libs=$(pkg-config --libs libsodium 2>/dev/null || true)
have_sodium=
[ -n "$sodium_libs" ] && have_sodium="-DHAVE_LIBSODIUM=1"
# A config.h of our own: the fuzz build does not need ./configure.
printf '#define HAVE_RECVMMSG 1\n' > "$out/config.h"
[ -n "$have_sodium" ] && printf '#define HAVE_LIBSODIUM 1\n' >> "$out/config.h"
$CC -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined \
    -I"$out" -I"$top/include" -I"$top/src/core" -I"$top/tests/fuzz" \
    $sodium_cflags \
    "$top"/src/core/*.c "$top/tests/fuzz/fuzz_core.c" \
    $sodium_libs -o "$out/fuzz_core"
echo "built $out/fuzz_core"
if [ "$seconds" -gt 0 ]; then
    mkdir -p "$out/corpus"
    cp -n "$top"/tests/fuzz/corpus/capture-* "$out/corpus/" 2>/dev/null || true
    "$out/fuzz_core" -max_total_time="$seconds" -max_len=65536 \
        -print_final_stats=1 "$out/corpus" "$top/tests/fuzz/corpus"
fi
