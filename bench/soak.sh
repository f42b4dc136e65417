#!/usr/bin/env bash
# Soak test of rtrace: SECONDS (default 600) at a high event rate; RSS must stay flat and every event must be printed or counted as lost.
#
# Usage: bench/soak.sh [SECONDS]        (as root; not run in CI)
#
# What it does:
#   - builds rtrace in release mode (CARGO_TARGET_DIR is honoured; RTRACE=path skips the build);
#   - runs one rtrace with `-c` on a python workload that calls getpid() in a loop for SECONDS,
#     under a comm name of its own; the probe prints one line per call and counts every call
#     in the same body: `printf("%d %s\n", pid, comm); @n = count();`
#   - rtrace's stdout goes through a FIFO to awk, which counts the printed lines and keeps the
#     `Lost N events` line and the `@n: X` map line;
#   - samples rtrace's VmRSS from /proc every second.
# It passes when:
#   - rtrace exits 0;
#   - printed + lost == @n exactly (the same accounting as tests/flood.rs);
#   - the largest RSS of the last window is at most the largest RSS of the first window plus
#     1 MiB (the window is 60 s, or a third of the run when it is shorter than 180 s).
# Output: a summary on stdout; the RSS samples are kept in $WORK/rss.txt (printed at the end).

set -euo pipefail

DURATION=${1:-600}
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 3 ]] || {
    echo "usage: $0 [SECONDS >= 3]" >&2
    exit 2
}
[[ $(id -u) -eq 0 ]] || {
    echo "soak: must run as root" >&2
    exit 2
}

cd "$(dirname "$0")/.."
if [[ -z "${RTRACE:-}" ]]; then
    cargo build --release --quiet
    RTRACE="${CARGO_TARGET_DIR:-target}/release/rtrace"
fi
[[ -x "$RTRACE" ]] || {
    echo "soak: no rtrace binary at $RTRACE" >&2
    exit 2
}
if [[ ! -d /sys/kernel/tracing/events ]]; then
    mount -t tracefs tracefs /sys/kernel/tracing
fi

WORK=$(mktemp -d /tmp/rtrace-soak.XXXXXX)
COMM="rtsoak$$"
COMM=${COMM:0:15}
WINDOW=60
if ((DURATION < 180)); then
    WINDOW=$((DURATION / 3))
fi

RPID=
APID=
cleanup() {
    [[ -n "$RPID" ]] && kill "$RPID" 2>/dev/null || true
    [[ -n "$APID" ]] && kill "$APID" 2>/dev/null || true
}
trap cleanup EXIT

# The workload: getpid() as fast as python can, checking the clock every 10000 calls.
WORKLOAD="/usr/bin/python3 -c 'import os, ctypes, time
ctypes.CDLL(None).prctl(15, b\"$COMM\", 0, 0, 0)
end = time.monotonic() + $DURATION
while time.monotonic() < end:
    for _ in range(10000): os.getpid()'"
SCRIPT="tracepoint:syscalls:sys_enter_getpid /comm == \"$COMM\"/ { printf(\"%d %s\\n\", pid, comm); @n = count(); }"

mkfifo "$WORK/out"
awk -v comm="$COMM" '
    $2 == comm && NF == 2 { printed++; next }
    /^Lost [0-9]+ events$/ { lost = $2; next }
    /^@n: [0-9]+$/ { n = $2; next }
    /^Attaching 1 probe\.\.\.$/ || /^$/ { next }
    { other++; if (other <= 5) print "unexpected line: " $0 > "/dev/stderr" }
    END { printf "%d %d %d %d\n", printed, lost, n, other }
' <"$WORK/out" >"$WORK/summary" &
APID=$!

"$RTRACE" -e "$SCRIPT" -c "$WORKLOAD" >"$WORK/out" 2>"$WORK/stderr" &
RPID=$!

: >"$WORK/rss.txt"
start=$(date +%s)
while kill -0 "$RPID" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RPID/status" 2>/dev/null || true)
    [[ -n "$rss" ]] && echo "$(($(date +%s) - start)) $rss" >>"$WORK/rss.txt"
    if (($(date +%s) - start > DURATION + 60)); then
        echo "soak: rtrace still running 60 s after the workload's end" >&2
        exit 1
    fi
    sleep 1
done
set +e
wait "$RPID"
code=$?
set -e
RPID=
wait "$APID" || true
APID=

read -r printed lost n other <"$WORK/summary"
last=$(tail -n 1 "$WORK/rss.txt" | cut -d' ' -f1)
first_max=$(awk -v w="$WINDOW" '$1 < w { if ($2 > m) m = $2 } END { print m + 0 }' "$WORK/rss.txt")
last_max=$(awk -v from="$((last - WINDOW))" '$1 > from { if ($2 > m) m = $2 } END { print m + 0 }' "$WORK/rss.txt")
samples=$(wc -l <"$WORK/rss.txt")

echo "soak: ${DURATION}s, exit code $code, $samples RSS samples (kept in $WORK/rss.txt)"
echo "soak: events counted $n, printed $printed, lost $lost, unexpected lines $other"
echo "soak: RSS max first ${WINDOW}s ${first_max} KiB, last ${WINDOW}s ${last_max} KiB"
[[ -s "$WORK/stderr" ]] && {
    echo "soak: rtrace stderr:"
    cat "$WORK/stderr"
}

fail=0
((code == 0)) || {
    echo "FAIL: rtrace exited with $code"
    fail=1
}
((n > 0)) || {
    echo "FAIL: no @n count at exit"
    fail=1
}
((printed + lost == n)) || {
    echo "FAIL: printed $printed + lost $lost != counted $n"
    fail=1
}
((other == 0)) || {
    echo "FAIL: $other unexpected output lines"
    fail=1
}
((last_max <= first_max + 1024)) || {
    echo "FAIL: RSS grew from ${first_max} KiB to ${last_max} KiB"
    fail=1
}
((fail == 0)) && echo "soak: PASS"
exit "$fail"
