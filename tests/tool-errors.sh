#!/bin/sh
# tool-errors.sh - the tools' answers to bad command lines: the message
# (prefixed "TOOL: ") and the exit code (2 for usage errors, 1 for runtime
# errors). Nothing here opens a socket: every case fails before joining.

set -u

top_builddir=${top_builddir:-$(cd "$(dirname "$0")/.." && pwd)}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cohort-tool-errors.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect CODE PATTERN TOOL ARGS...: TOOL ARGS exits CODE and its stderr
# has a line matching the grep -E PATTERN.
expect() {
    code=$1 pattern=$2 tool=$3
    shift 3
    "$top_builddir/$tool" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -Eq "$pattern" "$tmp/err"; then
        echo "PASS: $tool $* -> $rc"
    else
        echo "FAIL: $tool $*: exit $rc (want $code), stderr:"
        sed 's/^/    /' "$tmp/err"
        echo "    (want a line matching /$pattern/)"
        fail=1
    fi
}

# Point 18: a value-taking option at the end of the line.
for t in cohort-chat cohort-harness; do
    expect 2 "^$t: --group needs a value" $t --group
    expect 2 "^$t: unknown option '--bogus'" $t --bogus
done
expect 2 "^cohort-chat: --mode: expected unreliable, fifo, total or safe" cohort-chat --mode fast
# the harness takes total and safe (and skips a run the library refuses)
expect 2 "^cohort-harness: --mode: expected unreliable, fifo, total or safe" cohort-harness --mode fast
expect 2 '^cohort-perf: --group needs a value' cohort-perf run --group
expect 2 '^cohort-perf: --size needs a value' cohort-perf table --size
expect 2 '^cohort-perf: --mode: expected unreliable, fifo, total or safe' cohort-perf run --mode fast
expect 2 '^cohort-perf: a command comes first' cohort-perf --group x
expect 2 "^cohort-perf: unknown command 'fly'" cohort-perf fly
expect 2 "^cohort-perf: --members: expected a number from 2 to 48, got '1'" cohort-perf membership --members 1
expect 2 "^cohort-perf: --member-timeout-ms: expected a number from 200" cohort-perf membership --member-timeout-ms 100
expect 2 "^cohort-perf: --senders: expected a number from 1 to 8, got '9'" cohort-perf run --senders 9
expect 2 "^cohort-perf: --senders: send takes one count" cohort-perf send --senders 1,3
expect 2 "^cohort-perf: --modes: expected names from raw, raw1, unreliable, fifo, total, safe" cohort-perf run --modes fifo,fast
expect 2 "^cohort-chat: unexpected argument 'extra'" cohort-chat extra
expect 2 '^cohort-chat: --security auth needs --key FILE' cohort-chat --security auth
expect 2 "^cohort-chat: --color: expected auto, always or never, got 'rainbow'" cohort-chat --color=rainbow
expect 2 "^cohort-chat: --expected-members: expected a number" cohort-chat --expected-members x

# A missing key file names the file and the reason.
expect 1 "^cohort-chat: key file '$tmp/none': No such file or directory" \
    cohort-chat --key "$tmp/none" --exit-after 0.1
expect 1 "^cohort-perf: key file '$tmp/none': No such file or directory" \
    cohort-perf recv --key "$tmp/none" --seconds 1

# Fault scripts are checked whole before anything starts.
h=cohort-harness
expect 2 "^$h: --step 'x': expected TIME:ACTION" $h --step x
expect 2 "^$h: --step '2q:kill=1': expected TIME:ACTION" $h --step 2q:kill=1
expect 2 "^$h: --step '2s:boom': the action is one of" $h --step 2s:boom
expect 2 "^$h: --step '2s:kill=3': a member index is not below --members" \
    $h --members 3 --step 2s:kill=3
expect 2 "^$h: --step '2s:kill=1,1': a member is named twice" $h --step 2s:kill=1,1
expect 2 "^$h: --step '2s:kill=1,': a list ends with ','" $h --step 2s:kill=1,
expect 2 "^$h: --step '2s:partition=0,1': a partition needs at least two groups" \
    $h --step 2s:partition=0,1
expect 2 "^$h: --step '2s:partition=0/1': every member must be in one group" \
    $h --members 3 --step 2s:partition=0/1
expect 2 "^$h: --step '2s:partition=0,1/1,2': a member is (named twice|in two groups)" \
    $h --members 3 --step 2s:partition=0,1/1,2
expect 2 "^$h: --step '2s:heal': nothing to heal" $h --step 2s:heal
expect 2 "^$h: --step '2s:restart=1': a member named is still running" \
    $h --step 2s:restart=1
expect 2 "^$h: --step '3s:kill=1': a member named is not running then" \
    $h --step 2s:kill=1 --step 3s:kill=1
expect 2 "^$h: --step '1s:restart=1': earlier than the step before it" \
    $h --step 2s:kill=1 --step 1s:restart=1
expect 2 "^$h: --step '90s:kill=1': not before --timeout 60 s" $h --step 90s:kill=1
expect 2 "^$h: --step: the script ends partitioned" $h --step 1s:partition=0/1,2
expect 2 "^$h: --step: no member is running at the end" \
    $h --members 2 --step 1s:kill=0,1
expect 2 "^$h: --step '2s:cont=1': a member named is not stopped then" \
    $h --step 2s:cont=1
expect 2 "^$h: --step '2s:stop=1': a member named is not running \\(and not stopped\\) then" \
    $h --step 1s:stop=1 --step 2s:stop=1
expect 2 "^$h: --step '2s:leave=1': a stopped member cannot leave" \
    $h --step 1s:stop=1 --step 2s:leave=1
expect 2 "^$h: --step: the script ends with a member stopped" $h --step 1s:stop=1
expect 2 "^$h: --netns, --nft-drop and partition steps are IPv4 only" \
    $h --ipv6 --nft-drop 5
expect 2 "^$h: --nft-drop: expected a number from 0 to 100" $h --nft-drop 101

# check on a directory that is not there is one error, not violations:
# exit 4, as for a run whose --keep-logs cannot be made.
expect 4 "^cohort-harness: check: --keep-logs $tmp/none: No such file or directory" \
    cohort-harness check --keep-logs "$tmp/none"
: >"$tmp/file"
expect 4 "^cohort-harness: check: --keep-logs $tmp/file: not a directory" \
    cohort-harness check --keep-logs "$tmp/file"
expect 4 "^cohort-harness: --keep-logs $tmp/none/logs: cannot make the log directory: No such file or directory \(its parent directory must exist\)" \
    cohort-harness --keep-logs "$tmp/none/logs"
expect 4 "^cohort-harness: --keep-logs $tmp/file: not a directory" \
    cohort-harness --keep-logs "$tmp/file"
# ... and whatever the error, the harness's last line is its verdict.
for args in "--group" "--bogus" "check --keep-logs $tmp/none" "--keep-logs $tmp/file"; do
    # shellcheck disable=SC2086
    "$top_builddir/cohort-harness" $args </dev/null >"$tmp/out" 2>/dev/null
    if tail -n 1 "$tmp/out" | grep -q '^FAIL: '; then
        echo "PASS: cohort-harness $args -> the last line is FAIL: ..."
    else
        echo "FAIL: cohort-harness $args: the last line is '$(tail -n 1 "$tmp/out")'"
        fail=1
    fi
done

# cohort-keygen speaks like the others.
expect 2 '^cohort-keygen: needs the FILE' cohort-keygen
expect 2 "^cohort-keygen: unknown option '--bogus'" cohort-keygen --bogus
expect 2 '^cohort-keygen: there is no --force' cohort-keygen --force k
expect 2 "^cohort-keygen: unexpected argument 'b'" cohort-keygen a b
if "$top_builddir/cohort-keygen" "$tmp/key" 2>"$tmp/err"; then
    expect 1 "^cohort-keygen: $tmp/key already exists" cohort-keygen "$tmp/key"
    expect 1 "^cohort-keygen: $tmp/none/key: No such file or directory" \
        cohort-keygen "$tmp/none/key"
elif grep -q 'without libsodium' "$tmp/err"; then
    echo "SKIP: cohort-keygen without libsodium"
else
    echo "FAIL: cohort-keygen $tmp/key:"; cat "$tmp/err"; fail=1
fi

# cohort-pub and cohort-sub: sources, topics, patterns, formats.
p=cohort-pub
expect 2 "^$p: nothing to publish: give -m TEXT, -f FILE or -l" $p
expect 2 "^$p: give only one of -m, -f and -l" $p -m x -l
expect 2 "^$p: -m needs a value" $p -m
expect 2 "^$p: --line-topics goes with -l" $p --line-topics -m x
expect 2 "^$p: --topic 'a/#': '\\*' and '#' are wildcards" $p -t 'a/#' -m x
expect 2 "^$p: --topic 'a//b': a topic level is empty" $p -t a//b -m x
expect 2 "^$p: --topic 'a b': a topic holds no space" $p --topic 'a b' -m x
expect 2 "^$p: --mode total is not supported yet" $p --mode total -m x
expect 2 "^$p: --timeout: expected seconds" $p --timeout 0 -m x
expect 2 "^$p: --security auth needs --key FILE" $p --security auth -m x
expect 2 "^$p: unexpected argument 'x'" $p -l x
expect 1 "^$p: -f $tmp/none: No such file or directory" $p -f "$tmp/none"
s=cohort-sub
expect 2 "^$s: --format: expected text or json, got 'xml'" $s --format xml
expect 2 "^$s: --topic 'a\\*': '\\*' and '#' are wildcards" $s -t 'a*'
expect 2 "^$s: --topic '#/a': '\\*' and '#' are wildcards" $s -t '#/a'
expect 2 "^$s: --topic '': a topic is 1 to 200 bytes" $s -t ''
expect 2 "^$s: --count: expected a number from 1" $s -C 0
expect 2 "^$s: -C needs a value" $s -C
expect 2 "^$s: unknown option '--bogus'" $s --bogus
expect 1 "^$s: key file '$tmp/none': No such file or directory" \
    $s --key "$tmp/none" --timeout 0.1

# cohort-stat: one PATH, its options checked; a socket that is not there.
expect 2 '^cohort-stat: needs the PATH of a member' cohort-stat
expect 2 "^cohort-stat: unexpected argument 'b'" cohort-stat a b
expect 2 "^cohort-stat: unknown option '--bogus'" cohort-stat --bogus x
expect 2 "^cohort-stat: --count: expected a number from 1" cohort-stat --count 0 x
expect 2 '^cohort-stat: --interval' cohort-stat --interval x x
expect 1 "^cohort-stat: $tmp/none.sock: No such file or directory \(is the member running" \
    cohort-stat "$tmp/none.sock"
expect 1 "^cohort-stat: $tmp/file: Connection refused|^cohort-stat: $tmp/file: .*not a stats socket" \
    cohort-stat "$tmp/file"
# cohort-perf --plot: a name gnuplot cannot be asked for, a role without
# cells
expect 2 "^cohort-perf: --plot $tmp/x.txt: the file name must end in .svg or .png" \
    cohort-perf table --plot "$tmp/x.txt"
expect 2 "^cohort-perf: --plot: run, table and security draw their cells" \
    cohort-perf membership --plot "$tmp/x.svg"
expect 2 "^cohort-harness: --stats-dir $tmp/none: not a directory" \
    cohort-harness --stats-dir "$tmp/none"
expect 2 "^cohort-perf: --stats-socket: for send and recv" \
    cohort-perf table --stats-socket "$tmp/s.sock"

# --help and --version still succeed on stdout.
for t in cohort-chat cohort-perf cohort-harness cohort-keygen cohort-pub cohort-sub cohort-stat; do
    if "$top_builddir/$t" --help >"$tmp/out" 2>&1 && grep -q '^usage: ' "$tmp/out" &&
       "$top_builddir/$t" --version >"$tmp/out" 2>&1 && grep -q "^$t " "$tmp/out"; then
        echo "PASS: $t --help, --version"
    else
        echo "FAIL: $t --help or --version"; fail=1
    fi
done
exit $fail
