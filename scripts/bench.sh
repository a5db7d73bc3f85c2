#!/usr/bin/env bash
# bench.sh - regenerate every benchmark figure in one command (run as root: the BPF benches need it).
#
#   scripts/bench.sh [--smoke] [BUILD_DIR]   build the benches, run each, save raw outputs, render the PNGs, and
#                                            regenerate docs/BENCHMARKS.md's appendix (between the bench.sh markers)
#   scripts/bench.sh --plot [BUILD_DIR]      only re-render the PNGs from bench/results/scale.dat and fanout.dat
#   scripts/bench.sh --appendix              only rewrite BENCHMARKS.md's appendix from the raw outputs of the last run
#
# BUILD_DIR defaults to build/ (configured here if it has no CMakeCache.txt). Raw outputs go to
# bench/results/<bench>.txt (git-ignored), each headed by the machine (nproc, CPU model, kernel, load average)
# and the exact command. Full mode takes several minutes (bench_rings alone about 2); --smoke runs every bench's
# --smoke mode in well under 2 minutes and, so that a quick check never overwrites the published figures, writes
# everything (raw outputs, PNGs, its copy of BENCHMARKS.md) under bench/results/smoke/ instead. Not for CI (too long).
# Needs gnuplot (Debian: gnuplot-nox) for the PNGs; without it the figures are skipped with a message.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
mode=full
build=
for a in "$@"; do
  case $a in
    --smoke) mode=smoke ;;
    --plot) mode=plot ;;
    --appendix) mode=appendix ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    -*) echo "bench.sh: unknown option $a" >&2; exit 2 ;;
    *) build=$a ;;
  esac
done
build=${build:-$top/build}
case $build in /*) ;; *) build=$PWD/$build ;; esac
results=$top/bench/results
flag=
if [[ $mode == smoke ]]; then
  flag=" --smoke"
  results=$top/bench/results/smoke # never mixed with (or overwriting) a full run's outputs
  figdir=$results
  benchmd=$results/BENCHMARKS.md
else
  figdir=$top/docs/benchmarks
  benchmd=$top/docs/BENCHMARKS.md
fi
mkdir -p "$results"
[[ $mode == smoke ]] && cp "$top/docs/BENCHMARKS.md" "$benchmd"

# ---- PNGs from bench_scale's data file ----
render_plots() {
  local dat=$results/scale.dat
  if ! command -v gnuplot >/dev/null; then
    echo "bench.sh: gnuplot not found (apt-get install gnuplot-nox): PNGs not rendered" >&2
    return 0
  fi
  if [[ ! -s $dat ]]; then
    echo "bench.sh: $dat missing: run bench_scale first" >&2
    return 1
  fi
  # columns (bench_scale --dat): 1 N, 2 records, 3 map, 4 enrich, 5 state, 6 region, 7 snapshot, 8 zero-copy,
  # 9 copy-out, 10 memcpy (ns per record), 11 ingest ns/event, 12 rss, 13 state mem, 14 region, 15 map (bytes)
  gnuplot <<EOF
set terminal pngcairo size 900,640 font "sans,10"
set datafile commentschars "#"
set logscale x 10
set logscale y 10
set xrange [500:2000000]
set grid
set key below maxrows 4
set xlabel "active connections N"
set format x "10^{%L}"
set output "$figdir/scale-snapshot.png"
set title "flowringd: cost per active connection vs N (CPU ns per record, min over repeats)"
set ylabel "ns per record"
plot "$dat" using 1:7 with linespoints lw 2 pt 7 title "snapshot, total (publish)", \
     "" using 1:3 with linespoints pt 5 title "  BPF map read", \
     "" using 1:4 with linespoints pt 9 title "  enrichment", \
     "" using 1:5 with linespoints pt 11 title "  state read", \
     "" using 1:6 with linespoints pt 13 title "  region write", \
     "" using 1:9 with linespoints dt 2 pt 6 title "SDK copy-out", \
     "" using 1:8 with linespoints dt 2 pt 4 title "SDK zero-copy scan", \
     "" using 1:10 with linespoints dt 3 pt 1 lc rgb "black" title "memcpy (baseline)", \
     "" using 1:11 with linespoints dt 4 pt 3 title "closed-event ingest (ns/event)"
set output "$figdir/scale-memory.png"
set title "flowringd: memory per active connection vs N (bytes / N)"
set ylabel "bytes per active connection"
plot "$dat" using 1:(\$12/\$2) with linespoints lw 2 pt 7 title "process RSS", \
     "" using 1:(\$13/\$2) with linespoints pt 5 title "state (mem\\\\_bytes\\\\_current)", \
     "" using 1:(\$14/\$2) with linespoints pt 9 title "client snapshot region", \
     "" using 1:(\$15/\$2) with linespoints pt 11 title "BPF map (memlock, N + 64k entries)", \
     240 with lines dt 2 lc rgb "black" title "one 240-byte record"
EOF
  echo "bench.sh: rendered $figdir/scale-snapshot.png and $figdir/scale-memory.png"
}

# ---- fan-out PNGs from bench_fanout's data file (bench_fanout --dat) ----
render_fanout_plots() {
  local dat=$results/fanout.dat names readers n
  if ! command -v gnuplot >/dev/null; then
    echo "bench.sh: gnuplot not found (apt-get install gnuplot-nox): PNGs not rendered" >&2
    return 0
  fi
  if [[ ! -s $dat ]]; then
    echo "bench.sh: $dat missing: run bench_fanout first" >&2
    return 1
  fi
  # columns: 1 transport, 2 readers, 3 records/s per reader, 4 writer CPU ns/record, 5 p50 us, 6 p99 us;
  # one block per transport (gnuplot index), in the order of $names; missing peers have no block
  names=$(awk '!/^#/ && NF { print $1 }' "$dat" | uniq | tr '\n' ' ')
  readers=$(awk '!/^#/ && NF { print $2 }' "$dat" | sort -n | uniq | awk '{ printf "%s\"%s\" %s", (NR > 1 ? ", " : ""), $1, $1 }')
  n=$(wc -w <<<"$names")
  if [[ $n == 0 ]]; then
    echo "bench.sh: $dat has no rows: fan-out PNGs not rendered" >&2
    return 1
  fi
  gnuplot <<EOF
set terminal pngcairo size 900,640 font "sans,10"
set datafile commentschars "#"
names = "$names"
set logscale x 2
set logscale y 10
set xtics ($readers)
set offsets graph 0.05, graph 0.05, 0, 0
set grid
set key below
set xlabel "reader processes (1 writer process; 2 vCPUs)"
set output "$figdir/fanout-throughput.png"
set title "fan-out: records/s delivered per reader (mean over readers; writer never blocks)"
set ylabel "records/s per reader"
set format y "10^{%L}"
plot for [i=0:$n-1] "$dat" index i using 2:3 with linespoints lw 2 pt 7 lc i+1 title word(names, i+1)
set output "$figdir/fanout-latency.png"
set title "fan-out: publish-to-receive latency, paced phase (p50 solid, p99 dashed)"
set ylabel "latency (us)"
plot for [i=0:$n-1] "$dat" index i using 2:5 with linespoints lw 2 pt 7 lc i+1 title word(names, i+1)." p50", \\
     for [i=0:$n-1] "$dat" index i using 2:6 with linespoints dt 2 pt 6 lc i+1 title word(names, i+1)." p99"
EOF
  echo "bench.sh: rendered $figdir/fanout-throughput.png and $figdir/fanout-latency.png"
}

if [[ $mode == plot ]]; then
  render_plots
  render_fanout_plots
  exit 0
fi

all_benches=(bench_rings bench_state bench_bpf bench_ingest bench_fanout bench_latency bench_scale bench_churn)
failed=()
if [[ $mode == appendix ]]; then
  # the last full run's raw outputs, with the date, machine and build directory they recorded
  benches=()
  for b in "${all_benches[@]}"; do [[ -f $results/$b.txt ]] && benches+=("$b"); done
  if [[ ${#benches[@]} -eq 0 ]]; then
    echo "bench.sh: no raw outputs in $results: run scripts/bench.sh first" >&2
    exit 1
  fi
  last_run=$(sed -n 's/^# date: \([^,]*\),.*/\1/p' "$results/${benches[-1]}.txt")
  machine_line=$(sed -n 's/^# machine: //p' "$results/${benches[0]}.txt")
  build=$(sed -n 's|^# command: \(.*\)/bench_[a-z]* .*|\1|p' "$results/${benches[0]}.txt")
  mode=full
fi

if [[ -z ${last_run:-} && $(id -u) != 0 ]]; then
  echo "bench.sh: run as root (the BPF benches load programs)" >&2
  exit 1
fi

if [[ -z ${last_run:-} ]]; then

# ---- build ----
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
all_targets=$(cmake --build "$build" --target help 2>/dev/null | sed -n 's/^\.\.\. \([A-Za-z0-9_]*\).*/\1/p')
has_target() { grep -qx "$1" <<<"$all_targets"; }
benches=()
for b in "${all_benches[@]}"; do
  if has_target "$b"; then
    benches+=("$b")
  elif [[ $b != bench_churn ]]; then
    echo "bench.sh: target $b missing in $build (FR_BUILD_BPF=OFF?): skipped" >&2
  fi
done
cmake --build "$build" -j"$(nproc)" --target "${benches[@]}" flowringd

# ---- run ----
machine() {
  local model
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
  echo "# machine: $(nproc) CPUs, ${model:-unknown CPU}, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
tcplife=$(command -v tcplife || true)
[[ -z $tcplife && -x /usr/sbin/tcplife ]] && tcplife=/usr/sbin/tcplife
args_for() { # the full-mode (or --smoke) arguments of each bench
  local s=()
  [[ $mode == smoke ]] && s=(--smoke)
  case $1 in
    bench_rings|bench_state) echo "${s[*]}" ;;
    bench_fanout) echo "${s[*]} --dat $results/fanout.dat" ;;
    bench_bpf) [[ $mode == smoke ]] && echo "--smoke" || echo "--conns 20000 --rounds 5" ;;
    bench_ingest) [[ $mode == smoke ]] && echo "--smoke" || echo "--events 2000000" ;;
    bench_latency) [[ $mode == smoke ]] && echo "$build/flowringd --smoke" || echo "$build/flowringd --conns 3000 --gap-us 1000" ;;
    bench_scale) echo "${s[*]} --dat $results/scale.dat" ;;
    bench_churn) echo "$build/flowringd ${s[*]}${tcplife:+ --tcplife $tcplife}" ;;
  esac
}
for b in "${benches[@]}"; do
  read -r -a args <<<"$(args_for "$b")"
  cmd="$build/$b ${args[*]}"
  out=$results/$b.txt
  echo "bench.sh: $cmd" >&2
  start=$(date +%s)
  {
    machine
    echo "# command: $cmd"
    echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'), mode: $mode"
  } >"$out"
  if ! (cd "$top" && "$build/$b" "${args[@]}") >>"$out" 2>&1; then
    failed+=("$b")
    echo "bench.sh: $b FAILED (see $out)" >&2
  fi
  echo "# elapsed: $(( $(date +%s) - start )) s" >>"$out"
done

render_plots || failed+=(plots)
render_fanout_plots || failed+=(fanout-plots)
fi # not --appendix

# ---- the appendix of BENCHMARKS.md: machine, commands, headline lines ----
headlines() { # the lines of a raw output that carry its figures against their baselines
  local pat='ratio|/ ?raw|baseline|memcpy|per CPU|x faster| vs |M events/s|ns/event|p50|p99|drops|SKIP|UNAVAILABLE|FAIL'
  local max=14
  case $(basename "$1" .txt) in
    bench_scale) pat='^headline|^\(f\)|^ +N +pump|^ +[0-9]+ +(on|off) |SKIP|FAIL'; max=20 ;;
    bench_fanout) pat='^== | x \(|UNAVAILABLE|SKIP|FAIL'; max=20 ;;
    bench_latency) pat='^-- |p50|ratio|budget|SKIP|FAIL'; max=20 ;;
    bench_churn) pat='^tool |^flowringd|^tcplife|^ratio|wake-ups|UNAVAILABLE|SKIP|FAIL'; max=20 ;;
  esac
  local lines
  lines=$(grep -v '^#' "$1" | grep -E -i "$pat" | head -n "$max" || true)
  if [[ -n $lines ]]; then echo "$lines"; else grep -v '^#' "$1" | tail -n 10; fi
}
appendix=$(mktemp)
{
  echo '<!-- bench.sh:begin -->'
  echo '## Appendix: how these figures were made (generated by scripts/bench.sh; do not edit by hand)'
  echo
  echo "Last run: ${last_run:-$(date -u '+%Y-%m-%d %H:%M UTC')}, mode $mode: \`scripts/bench.sh$flag $(realpath --relative-to="$top" "$build" 2>/dev/null || echo "$build")\`."
  echo
  if [[ -n ${machine_line:-} ]]; then echo "Machine: $machine_line"; else machine | sed 's/^# machine: /Machine: /'; fi
  echo
  for b in "${benches[@]}"; do
    out=$results/$b.txt
    echo "### $b"
    echo
    echo '```'
    sed -n 's/^# command: /\$ /p' "$out" | sed "s|$top/||g"
    headlines "$out" | sed "s|$top/||g"
    sed -n 's/^# elapsed: /(elapsed: /p' "$out" | sed 's/$/)/'
    echo '```'
    echo
  done
  [[ ${#failed[@]} -gt 0 ]] && echo "Failed in this run: ${failed[*]} (raw outputs in $(realpath --relative-to="$top" "$results"))." && echo
  echo '<!-- bench.sh:end -->'
} >"$appendix"
if grep -q '<!-- bench.sh:begin -->' "$benchmd"; then
  # replace what is between the markers, keep the hand-written text around them
  awk -v f="$appendix" '
    /<!-- bench.sh:begin -->/ { while ((getline l < f) > 0) print l; skip = 1; next }
    /<!-- bench.sh:end -->/ { skip = 0; next }
    !skip { print }' "$benchmd" >"$benchmd.tmp"
  mv "$benchmd.tmp" "$benchmd"
else
  { echo; cat "$appendix"; } >>"$benchmd"
fi
rm -f "$appendix"
echo "bench.sh: raw outputs in $results/, appendix in $benchmd"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "bench.sh: failed: ${failed[*]}" >&2
  exit 1
fi
