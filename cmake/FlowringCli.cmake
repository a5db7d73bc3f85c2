# FlowringCli.cmake - the CLI area: tools/flowring (the `flowring` command users watch flowringd
# with), its modules tools/cli_*.c, tests/test_cli*.c and docs/CLI.md. Needs no BPF: it is built
# whatever FR_BUILD_BPF says (the rings, control client, config, keys and JSON libraries are
# always built).

set(FR_CLI_TOP ${CMAKE_CURRENT_LIST_DIR}/..)

# The subcommand modules as a library, so the test can call the formatters directly too.
add_library(fr_cli STATIC
  ${FR_CLI_TOP}/tools/cli_common.c
  ${FR_CLI_TOP}/tools/cli_output.c
  ${FR_CLI_TOP}/tools/cli_conns.c
  ${FR_CLI_TOP}/tools/cli_conns_snap.c
  ${FR_CLI_TOP}/tools/cli_conns_view.c
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
# One test file per module (tests/test_cli_<module>.c; test_cli.c: the command itself, flowring.c).
# Those that start the fake producer run its control-server thread: label tsan too.
function(fr_cli_test name)
  cmake_parse_arguments(T "" "" "LABELS" ${ARGN})
  add_executable(${name} ${FR_CLI_TOP}/tests/${name}.c)
  target_link_libraries(${name} PRIVATE fr_cli fr_cli_test_helpers fr_rings fr_control PkgConfig::CMOCKA
                        Threads::Threads)
  target_compile_definitions(${name} PRIVATE FR_CLI_BIN="$<TARGET_FILE:flowring>")
  add_dependencies(${name} flowring)
  fr_strict_target(${name})
  fr_add_test(${name} LABELS ${T_LABELS} COMMAND ${name})
endfunction()
fr_cli_test(test_cli LABELS quick tsan)
fr_cli_test(test_cli_conns LABELS quick tsan)
fr_cli_test(test_cli_conns_snap LABELS quick tsan)
fr_cli_test(test_cli_conns_view LABELS quick)
fr_cli_test(test_cli_events LABELS quick tsan)
fr_cli_test(test_cli_stats LABELS quick tsan)
fr_cli_test(test_cli_daemon LABELS quick tsan)
fr_cli_test(test_cli_output LABELS quick)
