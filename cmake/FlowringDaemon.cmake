# FlowringDaemon.cmake - owned by the Daemon area: configuration (fr_config), control socket protocol, server and
# client (fr_control), NAT from conntrack (fr_nat), their tests and the control-protocol fuzz target.

add_library(fr_config STATIC producer/config.c)
target_link_libraries(fr_config PUBLIC fr_common)
target_compile_definitions(fr_config PRIVATE FR_VERSION_STRING="${PROJECT_VERSION}")
fr_strict_target(fr_config)

add_executable(test_config tests/test_config.c)
target_link_libraries(test_config fr_config PkgConfig::CMOCKA)
target_compile_definitions(test_config PRIVATE FR_EXAMPLE_CONF="${CMAKE_CURRENT_SOURCE_DIR}/scripts/flowringd.conf.example")
fr_strict_target(test_config)
fr_add_test(test_config LABELS quick COMMAND test_config)

add_library(fr_control STATIC producer/control_proto.c producer/control_server.c producer/control_socket.c
            producer/control_client.c)
target_link_libraries(fr_control PUBLIC fr_common)
fr_strict_target(fr_control)

add_executable(test_control_proto tests/test_control_proto.c)
target_link_libraries(test_control_proto fr_control PkgConfig::CMOCKA)
fr_strict_target(test_control_proto)
fr_add_test(test_control_proto LABELS quick COMMAND test_control_proto)

if(FR_FUZZ)
  add_executable(fuzz_control tests/fuzz_control.c producer/control_proto.c)
  target_include_directories(fuzz_control PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/producer)
  target_compile_options(fuzz_control PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  target_link_options(fuzz_control PRIVATE -fsanitize=fuzzer,address,undefined)
  fr_strict_target(fuzz_control)
  fr_add_test(fuzz_control LABELS fuzz TIMEOUT 120 COMMAND fuzz_control -runs=500000 -max_total_time=30 -max_len=4200)
endif()

# The fake daemon and server thread both control-server tests run against.
add_library(fr_control_server_fixture STATIC tests/control_server_fixture.c)
target_include_directories(fr_control_server_fixture PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/tests)
target_link_libraries(fr_control_server_fixture PUBLIC fr_control PkgConfig::CMOCKA Threads::Threads)
fr_strict_target(fr_control_server_fixture)

add_executable(test_control_server tests/test_control_server.c)
target_link_libraries(test_control_server fr_control_server_fixture fr_control PkgConfig::CMOCKA Threads::Threads)
fr_strict_target(test_control_server)
fr_add_test(test_control_server LABELS quick tsan COMMAND test_control_server)
fr_add_test(test_control_server_creds LABELS root COMMAND test_control_server --creds)

add_executable(test_control_server_limits tests/test_control_server_limits.c)
target_link_libraries(test_control_server_limits fr_control_server_fixture fr_control PkgConfig::CMOCKA
                      Threads::Threads)
fr_strict_target(test_control_server_limits)
fr_add_test(test_control_server_limits LABELS quick tsan COMMAND test_control_server_limits)

add_library(fr_nat STATIC producer/nat.c)
target_link_libraries(fr_nat PUBLIC fr_common PkgConfig::CK PkgConfig::MNL PkgConfig::NFCT)
fr_strict_target(fr_nat)

add_executable(test_nat tests/test_nat.c)
target_link_libraries(test_nat fr_nat PkgConfig::CMOCKA)
fr_strict_target(test_nat)
fr_add_test(test_nat LABELS quick COMMAND test_nat)
fr_add_test(test_nat_netns LABELS root TIMEOUT 120
            COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/nat_netns.sh $<TARGET_FILE:test_nat>)
