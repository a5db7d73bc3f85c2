# FlowringCli.cmake - the CLI area: tools/flowring (the `flowring` command users watch flowringd
# with), its modules tools/cli_*.c, tests/test_cli.c and docs/CLI.md. Needs no BPF: it is built
# whatever FR_BUILD_BPF says (the rings, control client, config, keys and JSON libraries are
# always built).

set(FR_CLI_TOP ${CMAKE_CURRENT_LIST_DIR}/..)

# The subcommand modules as a library, so the test can call the formatters directly too.
add_library(fr_cli STATIC
  ${FR_CLI_TOP}/tools/cli_common.c
  ${FR_CLI_TOP}/tools/cli_output.c
  ${FR_CLI_TOP}/tools/cli_conns.c
  ${FR_CLI_TOP}/tools/cli_events.c
  ${FR_CLI_TOP}/tools/cli_stats.c
  ${FR_CLI_TOP}/tools/cli_daemon.c)
target_include_directories(fr_cli PUBLIC ${FR_CLI_TOP}/tools)
target_link_libraries(fr_cli PUBLIC flowring_consumer fr_control fr_config fr_conn_json fr_state fr_common)
fr_strict_target(fr_cli)

add_executable(flowring ${FR_CLI_TOP}/tools/flowring.c)
target_link_libraries(flowring PRIVATE fr_cli)
target_compile_definitions(flowring PRIVATE FR_VERSION_STRING="${PROJECT_VERSION}")
fr_strict_target(flowring)
install(TARGETS flowring RUNTIME DESTINATION bin)

# End to end: a fake producer (events region, snapshot regions, control server) inside the test
# process (a control-server thread: label tsan too), the real binary run against it with
# --shm-dir/--control/--instance.
# Test helpers, kept apart from the tests: the fake producer and JSON checker (cli_fake.c), and
# running the binary and reading what it printed (cli_run.c).
add_library(fr_cli_test_helpers STATIC ${FR_CLI_TOP}/tests/cli_fake.c ${FR_CLI_TOP}/tests/cli_run.c)
target_include_directories(fr_cli_test_helpers PUBLIC ${FR_CLI_TOP}/tests)
target_link_libraries(fr_cli_test_helpers PUBLIC fr_rings fr_control PkgConfig::CMOCKA Threads::Threads)
target_compile_definitions(fr_cli_test_helpers PRIVATE FR_CLI_BIN="$<TARGET_FILE:flowring>")
fr_strict_target(fr_cli_test_helpers)
add_executable(test_cli ${FR_CLI_TOP}/tests/test_cli.c)
target_link_libraries(test_cli PRIVATE fr_cli fr_cli_test_helpers fr_rings fr_control PkgConfig::CMOCKA
                      Threads::Threads)
target_compile_definitions(test_cli PRIVATE FR_CLI_BIN="$<TARGET_FILE:flowring>")
add_dependencies(test_cli flowring)
fr_strict_target(test_cli)
fr_add_test(test_cli LABELS quick tsan COMMAND test_cli)
