#!/usr/bin/env bash
# Description: flowring-trace prints closed connections as JSON lines and its counters at SIGTERM.
set -u
trace=$1
if [ "$(id -u)" -ne 0 ]; then
  echo "test_flowring_trace: SKIPPED: needs root to load BPF programs" >&2
  exit 77
fi
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }

"$trace" --help | grep -q -- --udp-idle-timeout || fail "--help does not list the flags"
"$trace" --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "a bad flag must exit 2"
"$trace" --ringbuf-size 12345 >/dev/null 2>&1 && fail "a ring size that is not a power of two must fail"

# Not root: a clear error naming what is missing (only when an unprivileged user can run the binary).
if command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$trace"; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$trace" >/dev/null 2>"$err" && fail "ran without root"
  grep -q "needs root" "$err" || fail "no 'needs root' error without root"
fi

"$trace" >"$out" 2>"$err" &
tpid=$!
for _ in $(seq 100); do grep -q tracing "$err" && break; sleep 0.1; done
grep -q tracing "$err" || fail "tracer did not start"

# A refused TCP connect (nothing listens on port 1) and a connected UDP send of 3 bytes to port 9.
(exec 3<>/dev/tcp/127.0.0.1/1) 2>/dev/null &
cpid=$!
wait $cpid
(echo hi >/dev/udp/127.0.0.1/9) &
upid=$!
wait $upid
sleep 0.5
kill -TERM $tpid
wait $tpid || fail "flowring-trace exited with $?"

grep -q "\"dport\":1,\"type\":\"tcp\",.*\"pid\":$cpid,.*\"failed_connect\"" "$out" || fail "no failed-connect record for pid $cpid"
grep -q "\"dport\":9,\"type\":\"udp\",.*\"pid\":$upid,.*\"monotonic_sent_bytes\":3,.*\"udp_connected\"" "$out" ||
  fail "no UDP record of 3 bytes for pid $upid"
grep -q "ringbuf_reserve_failed=0" "$err" || fail "no drop counters at exit"
echo "ok: $(wc -l <"$out") JSON lines"
