# FlowringScale.cmake - bench/bench_scale: flowringd's costs against 1k..1M active connections (synthetic entries in
# the tracer's BPF map; docs/benchmarks/scale.md), and bench/bench_daemon.c, the in-process daemon the benches share
# (bench_ingest uses it too). Included after FlowringProducer: needs fr_daemon, the inject skeleton (fr_inject_skel)
# and ${FR_BPF_OUT}; only with the BPF side.
include_guard(GLOBAL) # scripts/bench.sh may also include it (cmake_language DEFER) in a build dir it configured
if(NOT FR_BUILD_BPF)
  return()
endif()

set(FR_SCALE_TOP ${CMAKE_CURRENT_LIST_DIR}/..)

add_library(fr_bench_daemon STATIC ${FR_SCALE_TOP}/bench/bench_daemon.c)
add_dependencies(fr_bench_daemon fr_inject_skel)
target_include_directories(fr_bench_daemon PUBLIC ${FR_SCALE_TOP}/bench ${FR_BPF_OUT})
target_link_libraries(fr_bench_daemon PUBLIC fr_daemon)
fr_strict_target(fr_bench_daemon)

# bench_ingest (cmake/FlowringProducer.cmake) shares the helper; the plain signature matches its own call there.
target_link_libraries(bench_ingest fr_bench_daemon)

add_executable(bench_scale ${FR_SCALE_TOP}/bench/bench_scale.c)
# tracer_private.h: the fd of the active-TCP map, which tracer.h does not expose
target_include_directories(bench_scale PRIVATE ${FR_BPF_OUT} ${FR_SCALE_TOP}/bpf)
target_link_libraries(bench_scale fr_bench_daemon flowring_consumer)
fr_strict_target(bench_scale)
fr_add_test(bench_scale_smoke LABELS root TIMEOUT 120 COMMAND bench_scale --smoke)
