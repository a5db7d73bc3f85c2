# FlowringBench.cmake - cross-transport benches: bench/bench_fanout (flowring's events ring against
# ZeroMQ PUB/SUB over ipc:// and iceoryx's C binding, 1/4/16 reader processes; docs/benchmarks/fanout.md).
#
# The peers are optional: each is built in only if its package is found (pkg-config libzmq from
# libzmq3-dev; CMake package iceoryx_binding_c from libiceoryx-binding-c-dev, whose broker iox-roudi
# comes with the `iceoryx` package). A missing peer is a status line here and a clear
# "UNAVAILABLE: ..." line from the bench at run time, never a build failure.

set(FR_BENCH_TOP ${CMAKE_CURRENT_LIST_DIR}/..)

add_executable(bench_fanout
  ${FR_BENCH_TOP}/bench/bench_fanout.c
  ${FR_BENCH_TOP}/bench/fanout_common.c
  ${FR_BENCH_TOP}/bench/fanout_flowring.c
  ${FR_BENCH_TOP}/bench/fanout_zmq.c
  ${FR_BENCH_TOP}/bench/fanout_iceoryx.c)
target_link_libraries(bench_fanout PRIVATE fr_rings)
fr_strict_target(bench_fanout)

pkg_check_modules(FR_ZMQ QUIET IMPORTED_TARGET libzmq)
if(FR_ZMQ_FOUND)
  message(STATUS "flowring bench_fanout: ZeroMQ peer: libzmq ${FR_ZMQ_VERSION}")
  target_compile_definitions(bench_fanout PRIVATE FANOUT_HAVE_ZMQ=1)
  target_link_libraries(bench_fanout PRIVATE PkgConfig::FR_ZMQ)
else()
  message(STATUS "flowring bench_fanout: ZeroMQ peer NOT built (pkg-config libzmq not found; "
                 "apt-get install libzmq3-dev)")
endif()

find_package(iceoryx_binding_c QUIET)
if(iceoryx_binding_c_FOUND)
  find_program(FR_IOX_ROUDI iox-roudi)
  message(STATUS "flowring bench_fanout: iceoryx peer: iceoryx_binding_c ${iceoryx_binding_c_VERSION}, "
                 "broker ${FR_IOX_ROUDI} (started by the bench)")
  if(NOT FR_IOX_ROUDI)
    message(STATUS "flowring bench_fanout: iox-roudi not found (apt-get install iceoryx): the bench will "
                   "report iceoryx as unavailable")
  endif()
  target_compile_definitions(bench_fanout PRIVATE FANOUT_HAVE_ICEORYX=1)
  target_link_libraries(bench_fanout PRIVATE iceoryx_binding_c::iceoryx_binding_c)
else()
  message(STATUS "flowring bench_fanout: iceoryx peer NOT built (CMake package iceoryx_binding_c not found; "
                 "apt-get install libiceoryx-binding-c-dev iceoryx)")
endif()

# Seconds-long smoke run so the bench cannot rot; passes without the peers (flowring alone, and it
# says which peers are missing). Checks flowring's exact loss accounting (SDK lap count == sequence
# gaps) and that every reader of every transport received records.
fr_add_test(bench_fanout_smoke LABELS quick TIMEOUT 120 COMMAND bench_fanout --smoke)
