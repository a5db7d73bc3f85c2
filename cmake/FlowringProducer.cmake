# FlowringProducer.cmake - flowringd (producer/daemon*.c, producer/flowringd.c) and
# its end-to-end tests. Needs every other area; built only with the BPF side (FR_BUILD_BPF).
if(NOT FR_BUILD_BPF)
  return()
endif()

add_library(fr_daemon STATIC producer/daemon.c producer/daemon_ctl.c producer/daemon_enrich.c
            producer/daemon_pump.c producer/daemon_telemetry.c)
target_link_libraries(fr_daemon PUBLIC fr_tracer fr_state fr_rings fr_config fr_control fr_nat fr_loop fr_common)
fr_strict_target(fr_daemon)

add_executable(flowringd producer/flowringd.c)
target_link_libraries(flowringd fr_daemon)
fr_strict_target(flowringd)
install(TARGETS flowringd RUNTIME DESTINATION sbin)

# End-to-end: real traffic through a real flowringd (root; skips with a reason otherwise).
add_library(fr_e2e_util STATIC tests/e2e_util.c)
target_link_libraries(fr_e2e_util PUBLIC fr_control flowring_consumer fr_common)
fr_strict_target(fr_e2e_util)

add_executable(test_flowringd_e2e tests/test_flowringd_e2e.c)
target_link_libraries(test_flowringd_e2e fr_e2e_util PkgConfig::CMOCKA)
fr_strict_target(test_flowringd_e2e)
fr_add_test(test_flowringd_e2e LABELS root TIMEOUT 300 COMMAND test_flowringd_e2e $<TARGET_FILE:flowringd>)

add_executable(test_flowringd_lifecycle tests/test_flowringd_lifecycle.c)
target_link_libraries(test_flowringd_lifecycle fr_e2e_util PkgConfig::CMOCKA)
fr_strict_target(test_flowringd_lifecycle)
fr_add_test(test_flowringd_lifecycle LABELS root TIMEOUT 300 COMMAND test_flowringd_lifecycle $<TARGET_FILE:flowringd>)

add_executable(test_flowringd_nat tests/test_flowringd_nat.c)
target_link_libraries(test_flowringd_nat fr_e2e_util PkgConfig::CMOCKA)
fr_strict_target(test_flowringd_nat)
fr_add_test(test_flowringd_nat LABELS root TIMEOUT 180
            COMMAND env FLOWRINGD=$<TARGET_FILE:flowringd>
                    ${CMAKE_CURRENT_SOURCE_DIR}/tests/nat_netns.sh $<TARGET_FILE:test_flowringd_nat>)

# close() -> consumer latency through a real flowringd (bench; --smoke runs in ctest).
add_executable(bench_latency bench/bench_latency.c)
target_link_libraries(bench_latency fr_e2e_util Threads::Threads)
target_include_directories(bench_latency PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/tests)
fr_strict_target(bench_latency)
fr_add_test(bench_latency_smoke LABELS root COMMAND bench_latency $<TARGET_FILE:flowringd> --smoke)

# Ingest through the whole pipeline, events made in the kernel by bpf/inject.bpf.c (bench; --smoke runs in ctest).
fr_bpf_skeleton(inject inject.bpf.c ${CMAKE_CURRENT_SOURCE_DIR}/bpf/flowring.h)
add_custom_target(fr_inject_skel DEPENDS ${FR_BPF_OUT}/inject.skel.h)

add_executable(bench_ingest bench/bench_ingest.c)
add_dependencies(bench_ingest fr_inject_skel)
target_include_directories(bench_ingest PRIVATE ${FR_BPF_OUT})
target_link_libraries(bench_ingest fr_daemon)
fr_strict_target(bench_ingest)
fr_add_test(bench_ingest_smoke LABELS root COMMAND bench_ingest --smoke)
