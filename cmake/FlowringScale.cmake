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
# tracer_private.h (the active-TCP map's fd, which tracer.h does not expose) needs bpf/flowring.h
target_include_directories(fr_bench_daemon PUBLIC ${FR_SCALE_TOP}/bench ${FR_BPF_OUT} ${FR_SCALE_TOP}/bpf)
target_link_libraries(fr_bench_daemon PUBLIC fr_daemon Threads::Threads)
fr_strict_target(fr_bench_daemon)

# bench_ingest (cmake/FlowringProducer.cmake) shares the helper; the plain signature matches its own call there.
target_link_libraries(bench_ingest fr_bench_daemon)

add_executable(bench_scale ${FR_SCALE_TOP}/bench/bench_scale.c ${FR_SCALE_TOP}/bench/scale_build.c)
# tracer_private.h: the fd of the active-TCP map, which tracer.h does not expose
target_include_directories(bench_scale PRIVATE ${FR_BPF_OUT} ${FR_SCALE_TOP}/bpf)
target_link_libraries(bench_scale fr_bench_daemon flowring_consumer Threads::Threads)
fr_strict_target(bench_scale)
fr_add_test(bench_scale_smoke LABELS root TIMEOUT 120 COMMAND bench_scale --smoke)

# The daemon's ingest pump during snapshot builds (producer/daemon_pump.c), against the same in-process daemon.
add_executable(test_daemon_pump ${FR_SCALE_TOP}/tests/test_daemon_pump.c)
target_link_libraries(test_daemon_pump fr_bench_daemon flowring_consumer PkgConfig::CMOCKA)
fr_strict_target(test_daemon_pump)
fr_add_test(test_daemon_pump LABELS root TIMEOUT 120 COMMAND test_daemon_pump)
