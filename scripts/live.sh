#!/usr/bin/env bash
# live.sh BUILD_DIR [flowringd flags...] - start flowringd and show this host's connections live
# (`flowring conns --watch`) until Ctrl-C; then stop the daemon cleanly (regions retired, BPF detached).
set -euo pipefail

build=${1:?usage: live.sh BUILD_DIR [flowringd flags...]}
shift
instance=${FR_INSTANCE:-default}

"$build/flowringd" --instance "$instance" "$@" &
daemon=$!
stop() {
  if kill -0 "$daemon" 2>/dev/null; then
    kill -TERM "$daemon"
    wait "$daemon" || true
  fi
}
trap stop EXIT
trap 'exit 0' INT TERM

# BPF verification and attach take a few seconds: wait for the control socket to answer.
for _ in $(seq 1 300); do
  if "$build/flowring" --instance "$instance" clients >/dev/null 2>&1; then
    break
  fi
  kill -0 "$daemon" 2>/dev/null || { echo "live.sh: flowringd exited during start-up (see above)" >&2; exit 1; }
  sleep 0.2
done

"$build/flowring" --instance "$instance" conns --watch --interval 1000
