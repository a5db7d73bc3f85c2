# FlowringChurn.cmake - bench/bench_churn: loopback TCP connection churn through flowringd and through
# Debian's tcplife (libbpf-tools), one after the other in one run: captured vs generated, loss, CPU per
# 10k connections (docs/benchmarks/churn.md). Needs the daemon and the e2e helpers: BPF builds only.
if(NOT FR_BUILD_BPF)
  return()
endif()

add_executable(bench_churn bench/bench_churn.c bench/churn_cost.c bench/churn_workload.c)
target_link_libraries(bench_churn fr_e2e_util PkgConfig::LIBBPF Threads::Threads)
target_include_directories(bench_churn PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tests)
fr_strict_target(bench_churn)
# Seconds-long run (5000 connections per tool). Without tcplife installed it says so and checks flowringd alone.
find_program(FR_TCPLIFE tcplife PATHS /usr/sbin /sbin)
if(FR_TCPLIFE)
  set(FR_CHURN_TCPLIFE_ARGS --tcplife ${FR_TCPLIFE})
else()
  set(FR_CHURN_TCPLIFE_ARGS "")
endif()
fr_add_test(bench_churn_smoke LABELS root TIMEOUT 180
            COMMAND bench_churn $<TARGET_FILE:flowringd> --smoke ${FR_CHURN_TCPLIFE_ARGS})
