#!/bin/sh
# check-sans-io.sh - src/core must not touch the clock, sockets, polling or
# global randomness: the IO edge (src/io) passes time, datagrams and seeds
# in. Fails naming file:line for every call or include that breaks this.
#
# Comments are ignored; string literals are ignored for calls but not for
# paths like /dev/urandom.

set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
core=$top_srcdir/src/core

if [ ! -d "$core" ]; then
    echo "check-sans-io: $core not found" >&2
    exit 99
fi

# strip MODE FILE: print FILE with comments (MODE=comments) or comments and
# string/char literals (MODE=all) blanked, line numbers kept.
strip() {
    awk -v mode="$1" '
    BEGIN { st = 0 }  # 0 code, 1 block comment, 2 string, 3 char
    {
        line = $0; out = ""; n = length(line); i = 1
        while (i <= n) {
            c = substr(line, i, 1); d = substr(line, i, 2)
            if (st == 1) {
                if (d == "*/") { st = 0; i += 2; out = out "  " } else { i++; out = out " " }
                continue
            }
            if (st == 2 || st == 3) {
                q = (st == 2) ? "\"" : "\047"
                if (c == "\\") { out = out (mode == "all" ? "  " : d); i += 2; continue }
                if (c == q) st = 0
                out = out (mode == "all" && st != 0 ? " " : c); i++
                continue
            }
            if (d == "/*") { st = 1; i += 2; out = out "  "; continue }
            if (d == "//") break
            if (c == "\"") st = 2
            else if (c == "\047") st = 3
            out = out c; i++
        }
        print out
    }' "$2"
}

calls='(time|clock|clock_gettime|clock_getres|gettimeofday|timespec_get|nanosleep|usleep|sleep|socket|socketpair|bind|connect|listen|accept|sendto|recvfrom|sendmsg|recvmsg|sendmmsg|recvmmsg|send|recv|poll|ppoll|select|pselect|epoll_[a-z_]*|rand|random|srand|srandom|rand_r|drand48|lrand48|mrand48|erand48|getrandom|getentropy|arc4random[a-z_]*|randombytes[a-z_]*|sodium_init)[[:space:]]*\('
headers='#[[:space:]]*include[[:space:]]*<(sys/socket\.h|netinet/[^>]*|arpa/[^>]*|netdb\.h|time\.h|sys/time\.h|poll\.h|sys/poll\.h|sys/epoll\.h|sys/select\.h|sys/random\.h)>'

found=0
tmp=$(mktemp "${TMPDIR:-/tmp}/sans-io.XXXXXX") || exit 99
trap 'rm -f "$tmp"' EXIT INT TERM

for f in "$core"/*.c "$core"/*.h; do
    [ -f "$f" ] || continue
    rel=${f#"$top_srcdir"/}
    strip all "$f" | grep -nE "(^|[^A-Za-z0-9_.>])$calls" >"$tmp"
    strip comments "$f" | grep -nE "$headers|/dev/u?random" >>"$tmp"
    if [ -s "$tmp" ]; then
        cut -d: -f1 "$tmp" | sort -nu | while IFS= read -r n; do
            echo "$rel:$n: IO in the sans-IO core: $(sed -n "${n}s/^[[:space:]]*//p" "$f")"
        done
        found=1
    fi
done

if [ $found -ne 0 ]; then
    echo "check-sans-io: src/core must get time, datagrams and randomness from its caller" >&2
    exit 1
fi
echo "check-sans-io: src/core is free of clock, socket, poll and global randomness calls"
exit 0
