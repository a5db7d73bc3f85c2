#!/usr/bin/env bash
# dev.sh - set up, build, run and test flowring on Debian 12 (as root).
#
#   scripts/dev.sh run    install what is missing, build, start flowringd with a live view of connections
#   scripts/dev.sh test   install what is missing, build (plain, ASan+UBSan, TSan, libFuzzer), run every test
#   scripts/dev.sh deps   only install the Debian packages
#   scripts/dev.sh build  only build the plain configuration into build/
#
# Environment: FR_JOBS (parallel build jobs, default: nproc), FR_BUILD_ROOT (default: the repo).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_root=${FR_BUILD_ROOT:-$top}
jobs=${FR_JOBS:-$(nproc)}

# Build and test dependencies: the chosen libraries, the BPF toolchain, and what the root tests use.
packages=(
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev bpftool
  libbpf-dev libelf-dev zlib1g-dev liburing-dev libmnl-dev libnetfilter-conntrack-dev libck-dev libcmocka-dev
  iproute2 nftables conntrack libbpf-tools util-linux procps
  libzmq3-dev libiceoryx-binding-c-dev iceoryx gnuplot-nox
)

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh $1: run as root (it installs packages, loads BPF programs and creates namespaces)" >&2
    exit 1
  fi
}

deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "dependencies: all installed"
    return
  fi
  need_root deps
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# configure_build DIR [cmake args...]
configure_build() {
  local dir=$1; shift
  log "configure $dir $*"
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 ||
    { cat "$dir.configure.log"; exit 1; }
  log "build $dir"
  cmake --build "$dir" -j "$jobs"
}

# run_ctest DIR [ctest args...]
run_ctest() {
  local dir=$1; shift
  log "test $dir $*"
  (cd "$dir" && ctest --output-on-failure --no-tests=error -j 1 "$@")
}

cmd_build() {
  deps
  mkdir -p "$build_root"
  configure_build "$build_root/build"
}

cmd_test() {
  need_root test
  deps
  mkdir -p "$build_root"
  local failed=0
  configure_build "$build_root/build"
  run_ctest "$build_root/build" || failed=1
  configure_build "$build_root/build-asan" -DFR_SANITIZE=address
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest "$build_root/build-asan" || failed=1
  configure_build "$build_root/build-tsan" -DFR_SANITIZE=thread -DFR_BUILD_BPF=OFF
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest "$build_root/build-tsan" -L tsan || failed=1
  CC=clang CXX=clang++ configure_build "$build_root/build-fuzz" -DFR_FUZZ=ON -DFR_BUILD_BPF=OFF
  run_ctest "$build_root/build-fuzz" -L fuzz || failed=1
  if [ $failed -ne 0 ]; then
    log "FAILED: see the ctest output above"
    exit 1
  fi
  log "all test configurations passed"
}

cmd_run() {
  need_root run
  cmd_build
  exec "$top/scripts/live.sh" "$build_root/build"
}

case "${1:-}" in
  deps) deps ;;
  build) cmd_build ;;
  test) cmd_test ;;
  run) cmd_run ;;
  -h|--help|help|"") sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) echo "dev.sh: unknown command '$1' (try: run, test, deps, build)" >&2; exit 2 ;;
esac
