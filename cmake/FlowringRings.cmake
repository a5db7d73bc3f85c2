# FlowringRings.cmake - owned by the Rings area: the wire format (include/flowring), the producer
# side of the rings (producer/region, events_ring, snapshot_ring, telemetry), the header-only
# consumer SDK (consumer-sdk/), its examples, tests, fuzz target, bench and the demo tool.

set(FR_TOP ${CMAKE_CURRENT_LIST_DIR}/..)
set(FR_SDK_INCLUDE ${FR_TOP}/consumer-sdk/include)

# The consumer SDK: header only. In-tree users link flowring_consumer; installed users get the
# same thing as flowring::consumer (cmake/FlowringInstall.cmake).
add_library(flowring_consumer INTERFACE)
target_include_directories(flowring_consumer INTERFACE
  $<BUILD_INTERFACE:${FR_TOP}/include>
  $<BUILD_INTERFACE:${FR_SDK_INCLUDE}>
  $<INSTALL_INTERFACE:include>)
set_target_properties(flowring_consumer PROPERTIES EXPORT_NAME consumer)

# Producer side of the rings, for flowringd, the demo, tests and benches.
add_library(fr_rings STATIC ${FR_TOP}/producer/region.c ${FR_TOP}/producer/events_ring.c
                            ${FR_TOP}/producer/snapshot_ring.c
                            ${FR_TOP}/producer/telemetry.c)
target_link_libraries(fr_rings PUBLIC fr_common flowring_consumer)
fr_strict_target(fr_rings)

# tools/flowring-demo: synthetic producer + live view, the README's run command until flowringd.
add_executable(flowring-demo ${FR_TOP}/tools/flowring-demo.c)
target_link_libraries(flowring-demo PRIVATE fr_rings)
fr_strict_target(flowring-demo)

# SDK examples: built by the test suite so they cannot rot.
foreach(ex follow_events read_snapshot)
  add_executable(fr_example_${ex} ${FR_TOP}/consumer-sdk/examples/${ex}.c)
  target_link_libraries(fr_example_${ex} PRIVATE flowring_consumer)
  fr_strict_target(fr_example_${ex})
endforeach()

# The SDK compiled three ways: C11 -pedantic, C++17 -pedantic, and as the first include of an
# otherwise empty file (it must bring every header it needs).
add_executable(test_sdk_c11 ${FR_TOP}/tests/test_sdk_c11.c)
target_link_libraries(test_sdk_c11 PRIVATE flowring_consumer PkgConfig::CMOCKA)
set_target_properties(test_sdk_c11 PROPERTIES C_EXTENSIONS OFF)
target_compile_options(test_sdk_c11 PRIVATE -pedantic)
fr_strict_target(test_sdk_c11)
add_executable(test_sdk_cxx ${FR_TOP}/tests/test_sdk_cxx.cpp)
target_link_libraries(test_sdk_cxx PRIVATE flowring_consumer)
target_compile_options(test_sdk_cxx PRIVATE -pedantic)
fr_strict_target(test_sdk_cxx)
add_library(test_sdk_first_include OBJECT ${FR_TOP}/tests/test_sdk_first_include.c)
target_link_libraries(test_sdk_first_include PRIVATE flowring_consumer)
set_target_properties(test_sdk_first_include PROPERTIES C_EXTENSIONS OFF)
target_compile_options(test_sdk_first_include PRIVATE -pedantic)
fr_strict_target(test_sdk_first_include)
fr_add_test(sdk_c11_pedantic LABELS quick COMMAND test_sdk_c11)
fr_add_test(sdk_cxx17 LABELS quick COMMAND test_sdk_cxx)

# Unit, concurrency and torture tests of the ring modules.
function(fr_rings_test name)
  cmake_parse_arguments(R "" "TIMEOUT" "LABELS;ARGS" ${ARGN})
  add_executable(${name} ${FR_TOP}/tests/${name}.c)
  target_link_libraries(${name} PRIVATE fr_rings PkgConfig::CMOCKA Threads::Threads)
  fr_strict_target(${name})
  if(R_TIMEOUT)
    fr_add_test(${name} LABELS ${R_LABELS} TIMEOUT ${R_TIMEOUT} COMMAND ${name} ${R_ARGS})
  else()
    fr_add_test(${name} LABELS ${R_LABELS} COMMAND ${name} ${R_ARGS})
  endif()
endfunction()

fr_rings_test(test_region LABELS quick)
fr_rings_test(test_telemetry LABELS quick)
fr_rings_test(test_events_ring LABELS quick tsan)
fr_rings_test(test_snapshot_ring LABELS quick tsan)
fr_rings_test(test_flowring LABELS quick)
fr_rings_test(test_region_root LABELS root)
fr_rings_test(test_events_torture LABELS torture TIMEOUT 120)
set_tests_properties(test_events_torture PROPERTIES ENVIRONMENT
  "FR_EXAMPLE_FOLLOW=$<TARGET_FILE:fr_example_follow_events>")
set_tests_properties(test_flowring PROPERTIES ENVIRONMENT
  "FR_EXAMPLE_FOLLOW=$<TARGET_FILE:fr_example_follow_events>;FR_EXAMPLE_SNAPSHOT=$<TARGET_FILE:fr_example_read_snapshot>;FR_DEMO=$<TARGET_FILE:flowring-demo>")

# Bench, with a seconds-long smoke run so it cannot rot.
add_executable(bench_rings ${FR_TOP}/bench/bench_rings.c)
target_link_libraries(bench_rings PRIVATE fr_rings Threads::Threads)
fr_strict_target(bench_rings)
fr_add_test(bench_rings_smoke LABELS quick COMMAND bench_rings --smoke)

# libFuzzer target for the SDK's region validator and readers (FR_FUZZ=ON, clang).
if(FR_FUZZ)
  add_executable(fuzz_region ${FR_TOP}/tests/fuzz_region.c)
  target_link_libraries(fuzz_region PRIVATE flowring_consumer)
  target_compile_options(fuzz_region PRIVATE -fsanitize=fuzzer,address,undefined)
  target_link_options(fuzz_region PRIVATE -fsanitize=fuzzer,address,undefined)
  fr_strict_target(fuzz_region)
  fr_add_test(fuzz_region LABELS fuzz COMMAND fuzz_region -max_total_time=20 -seed=1)
endif()
