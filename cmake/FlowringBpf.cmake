# FlowringBpf.cmake - owned by the Bpf area: bpf/ programs, their skeleton, the producer tracer,
# conn_json, tools/flowring-trace, their tests and bench/bench_bpf.
#
# conn_json needs no BPF and is always built (the CLI uses it); everything that needs the BPF
# toolchain or a skeleton exists only when FR_BUILD_BPF is ON.

add_library(fr_conn_json STATIC producer/conn_json.c)
target_link_libraries(fr_conn_json PUBLIC fr_common)
fr_strict_target(fr_conn_json)

add_executable(test_conn_json tests/test_conn_json.c)
target_link_libraries(test_conn_json PRIVATE fr_conn_json PkgConfig::CMOCKA)
fr_strict_target(test_conn_json)
fr_add_test(conn_json LABELS quick COMMAND test_conn_json)

if(NOT FR_BUILD_BPF)
  return()
endif()

find_program(FR_CLANG NAMES clang clang-14 REQUIRED)
find_program(FR_BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(FR_BPF_OUT ${CMAKE_CURRENT_BINARY_DIR}/bpf)
set(FR_VMLINUX_BTF /sys/kernel/btf/vmlinux CACHE FILEPATH "BTF of the kernel the programs are built against")
file(MAKE_DIRECTORY ${FR_BPF_OUT})
if(NOT EXISTS ${FR_VMLINUX_BTF})
  message(FATAL_ERROR "flowring BPF: ${FR_VMLINUX_BTF} not found: the kernel needs CONFIG_DEBUG_INFO_BTF=y "
                      "(or configure with -DFR_BUILD_BPF=OFF)")
endif()

# vmlinux.h is generated from the build machine's BTF (see docs/BPF.md for why it is not pinned).
add_custom_command(OUTPUT ${FR_BPF_OUT}/vmlinux.h
  COMMAND ${FR_BPFTOOL} btf dump file ${FR_VMLINUX_BTF} format c > ${FR_BPF_OUT}/vmlinux.h.tmp
  COMMAND ${CMAKE_COMMAND} -E rename ${FR_BPF_OUT}/vmlinux.h.tmp ${FR_BPF_OUT}/vmlinux.h
  COMMENT "bpftool: vmlinux.h from ${FR_VMLINUX_BTF}"
  VERBATIM)

# libbpf's BPF-side headers (bpf_helpers.h, ...) come from libbpf-dev.
set(FR_BPF_CFLAGS -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
    -I${FR_BPF_OUT} -I${CMAKE_CURRENT_SOURCE_DIR}/bpf ${LIBBPF_CFLAGS})

# flowring.bpf.c includes its programs from kernel-only headers (one concern each, see the file).
set(FR_BPF_HEADERS)
foreach(h flowring.h flowring.bpf.h flowring_maps.bpf.h flowring_ports.bpf.h flowring_tcp.bpf.h
          flowring_udp.bpf.h flowring_iter.bpf.h)
  list(APPEND FR_BPF_HEADERS ${CMAKE_CURRENT_SOURCE_DIR}/bpf/${h})
endforeach()

# fr_bpf_skeleton(NAME SOURCE DEPENDS...): compile bpf/SOURCE to ${FR_BPF_OUT}/NAME.bpf.o and generate its
# skeleton ${FR_BPF_OUT}/NAME.skel.h (struct NAME_bpf).
function(fr_bpf_skeleton name src)
  add_custom_command(OUTPUT ${FR_BPF_OUT}/${name}.bpf.o
    COMMAND ${FR_CLANG} ${FR_BPF_CFLAGS} -c ${CMAKE_CURRENT_SOURCE_DIR}/bpf/${src} -o ${FR_BPF_OUT}/${name}.bpf.o
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/bpf/${src} ${ARGN} ${FR_BPF_OUT}/vmlinux.h
    COMMENT "clang -target bpf: ${name}.bpf.o"
    VERBATIM)
  add_custom_command(OUTPUT ${FR_BPF_OUT}/${name}.skel.h
    COMMAND ${FR_BPFTOOL} gen skeleton ${FR_BPF_OUT}/${name}.bpf.o name ${name}_bpf > ${FR_BPF_OUT}/${name}.skel.h.tmp
    COMMAND ${CMAKE_COMMAND} -E rename ${FR_BPF_OUT}/${name}.skel.h.tmp ${FR_BPF_OUT}/${name}.skel.h
    DEPENDS ${FR_BPF_OUT}/${name}.bpf.o
    COMMENT "bpftool gen skeleton: ${name}.skel.h"
    VERBATIM)
endfunction()

fr_bpf_skeleton(flowring flowring.bpf.c ${FR_BPF_HEADERS})
add_custom_target(fr_bpf_skel DEPENDS ${FR_BPF_OUT}/flowring.skel.h)

add_library(fr_tracer STATIC producer/tracer.c producer/tracer_drain.c producer/tracer_maps.c
                             producer/tracer_stats.c)
add_dependencies(fr_tracer fr_bpf_skel)
target_include_directories(fr_tracer PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/producer
                                     PRIVATE ${FR_BPF_OUT} ${CMAKE_CURRENT_SOURCE_DIR}/bpf)
target_link_libraries(fr_tracer PUBLIC fr_common PkgConfig::LIBBPF PkgConfig::LIBELF PkgConfig::ZLIB)
fr_strict_target(fr_tracer)

add_executable(flowring-trace tools/flowring-trace.c)
target_link_libraries(flowring-trace PRIVATE fr_tracer fr_conn_json)
fr_strict_target(flowring-trace)

# Root tests: each end of a connection runs in its own (forked) process.
add_library(fr_test_tracer_util STATIC tests/test_tracer_util.c)
target_link_libraries(fr_test_tracer_util PUBLIC fr_tracer)
target_include_directories(fr_test_tracer_util PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/tests ${CMAKE_CURRENT_SOURCE_DIR}/bpf)
fr_strict_target(fr_test_tracer_util)

add_executable(test_tracer tests/test_tracer.c)
target_link_libraries(test_tracer PRIVATE fr_test_tracer_util PkgConfig::CMOCKA)
fr_strict_target(test_tracer)
fr_add_test(tracer LABELS root COMMAND test_tracer)

add_executable(test_tracer_ports tests/test_tracer_ports.c)
target_link_libraries(test_tracer_ports PRIVATE fr_test_tracer_util PkgConfig::CMOCKA)
fr_strict_target(test_tracer_ports)
fr_add_test(tracer_ports LABELS root COMMAND test_tracer_ports)

add_executable(test_tracer_wake tests/test_tracer_wake.c)
target_link_libraries(test_tracer_wake PRIVATE fr_test_tracer_util PkgConfig::CMOCKA)
fr_strict_target(test_tracer_wake)
fr_add_test(tracer_wake LABELS root COMMAND test_tracer_wake)

add_executable(test_tracer_load tests/test_tracer_load.c)
target_link_libraries(test_tracer_load PRIVATE fr_test_tracer_util PkgConfig::CMOCKA)
fr_strict_target(test_tracer_load)
fr_add_test(tracer_load LABELS root torture COMMAND test_tracer_load TIMEOUT 300)

fr_add_test(flowring_trace_smoke LABELS root
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/tests/test_flowring_trace.sh $<TARGET_FILE:flowring-trace>)

add_executable(bench_bpf bench/bench_bpf.c)
target_link_libraries(bench_bpf PRIVATE fr_tracer Threads::Threads)
fr_strict_target(bench_bpf)
fr_add_test(bench_bpf_smoke LABELS root COMMAND bench_bpf --smoke)
