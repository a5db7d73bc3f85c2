# run.cmake - cmake -P script behind the install_sdk_consumer test: install the build tree into a
# temporary prefix, then build consumer.c against it with pkg-config and with find_package.
string(RANDOM LENGTH 8 tag)
set(prefix /tmp/fr-install-test-${tag})
set(work /tmp/fr-install-work-${tag})
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    file(REMOVE_RECURSE ${prefix} ${work})
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix} --component sdk)
foreach(f include/flowring/flowring.h include/flowring/record.h include/flowring/region.h
          include/flowring/telemetry.h ${LIBDIR}/pkgconfig/flowring.pc ${LIBDIR}/cmake/flowring/flowringConfig.cmake)
  if(NOT EXISTS ${prefix}/${f})
    file(REMOVE_RECURSE ${prefix})
    message(FATAL_ERROR "not installed: ${prefix}/${f}")
  endif()
endforeach()

# 1. pkg-config, strict C11
file(MAKE_DIRECTORY ${work})
set(ENV{PKG_CONFIG_PATH} ${prefix}/${LIBDIR}/pkgconfig)
execute_process(COMMAND pkg-config --cflags flowring RESULT_VARIABLE rc OUTPUT_VARIABLE cflags
                OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT cflags MATCHES "include")
  file(REMOVE_RECURSE ${prefix} ${work})
  message(FATAL_ERROR "pkg-config --cflags flowring: '${cflags}' (rc ${rc})")
endif()
separate_arguments(cflags UNIX_COMMAND "${cflags}")
run(${CC} -std=c11 -pedantic -Wall -Wextra -Werror ${cflags} ${SRC_DIR}/consumer.c -o ${work}/consumer-pc)
run(${work}/consumer-pc)

# 2. find_package(flowring) -> flowring::consumer
run(${CMAKE_COMMAND} -S ${SRC_DIR} -B ${work}/cm -G ${GENERATOR} -DCMAKE_PREFIX_PATH=${prefix}
    -DCMAKE_C_COMPILER=${CC})
run(${CMAKE_COMMAND} --build ${work}/cm)
run(${work}/cm/consumer)
file(REMOVE_RECURSE ${prefix} ${work})
message(STATUS "installed SDK builds with pkg-config and find_package(flowring)")
