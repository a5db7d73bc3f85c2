# FlowringState.cmake - the State area: per-client state (Concurrency Kit), connection keys,
# filters and the port map (issue 4), their tests, fuzz target and bench.

add_library(fr_state STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/conn_key.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/state.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/state_arena.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/state_client.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/state_read.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/filter.c
  ${CMAKE_CURRENT_SOURCE_DIR}/producer/portmap.c)
target_link_libraries(fr_state PUBLIC fr_common PkgConfig::CK Threads::Threads)
fr_strict_target(fr_state)

function(fr_state_test name)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/tests/${name}.c)
  target_link_libraries(${name} PRIVATE fr_state PkgConfig::CMOCKA)
  fr_strict_target(${name})
endfunction()

# Records, sink, assertions and the cmocka fixture shared by the state's rule tests.
add_library(fr_state_fixture STATIC ${CMAKE_CURRENT_SOURCE_DIR}/tests/state_fixture.c)
target_include_directories(fr_state_fixture PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/tests)
target_link_libraries(fr_state_fixture PUBLIC fr_state PkgConfig::CMOCKA)
fr_strict_target(fr_state_fixture)

fr_state_test(test_conn_key)
fr_state_test(test_state)
target_link_libraries(test_state PRIVATE fr_state_fixture)
fr_state_test(test_state_caps)
target_link_libraries(test_state_caps PRIVATE fr_state_fixture)
fr_state_test(test_state_concurrency)
fr_state_test(test_filter)
fr_state_test(test_portmap)

fr_add_test(state.conn_key LABELS quick COMMAND test_conn_key)
fr_add_test(state.state LABELS quick COMMAND test_state)
fr_add_test(state.state_caps LABELS quick COMMAND test_state_caps)
target_link_libraries(test_filter PRIVATE fr_state_fixture)
target_link_libraries(test_portmap PRIVATE fr_state_fixture)
fr_add_test(state.filter LABELS quick COMMAND test_filter)
fr_add_test(state.portmap LABELS quick COMMAND test_portmap)
# Writer + reader threads for FR_STATE_TORTURE_SECONDS (default 6 s); also the TSan suite's test.
fr_add_test(state.concurrency LABELS torture tsan TIMEOUT 120 COMMAND test_state_concurrency)
# Single-threaded tests are cheap: run them under TSan too, so the TSan build exercises the epoch
# and allocator paths the threaded test depends on.
fr_add_test(state.state_tsan_sequential LABELS tsan TIMEOUT 120 COMMAND test_state)
fr_add_test(state.state_caps_tsan_sequential LABELS tsan TIMEOUT 120 COMMAND test_state_caps)

add_executable(bench_state ${CMAKE_CURRENT_SOURCE_DIR}/bench/bench_state.c)
target_link_libraries(bench_state PRIVATE fr_state)
fr_strict_target(bench_state)
fr_add_test(state.bench_smoke LABELS quick COMMAND bench_state --smoke)

if(FR_FUZZ)
  # The parser is compiled into the target itself so libFuzzer's coverage instrumentation sees it.
  add_executable(fuzz_filter ${CMAKE_CURRENT_SOURCE_DIR}/tests/fuzz_filter.c
                             ${CMAKE_CURRENT_SOURCE_DIR}/producer/filter.c
                             ${CMAKE_CURRENT_SOURCE_DIR}/producer/conn_key.c)
  target_compile_options(fuzz_filter PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_filter PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_libraries(fuzz_filter PRIVATE fr_common)
  fr_strict_target(fuzz_filter)
  fr_add_test(state.fuzz_filter LABELS fuzz TIMEOUT 120
              COMMAND fuzz_filter -runs=1000000 -max_len=512)
endif()
