# FlowringInstall.cmake - what `cmake --install` puts on a system: the consumer SDK (header only:
# consumer-sdk/include/flowring/flowring.h + the wire-format headers include/flowring/*.h), a
# pkg-config file flowring.pc, and a CMake package so find_package(flowring) gives the INTERFACE
# target flowring::consumer. Plus a test that installs into a temporary prefix and builds a tiny
# consumer against it both ways.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FR_INSTALL_TOP ${CMAKE_CURRENT_LIST_DIR}/..)
set(FR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/flowring)

install(FILES ${FR_INSTALL_TOP}/consumer-sdk/include/flowring/flowring.h
              ${FR_INSTALL_TOP}/include/flowring/record.h
              ${FR_INSTALL_TOP}/include/flowring/region.h
              ${FR_INSTALL_TOP}/include/flowring/telemetry.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/flowring COMPONENT sdk)

install(TARGETS flowring_consumer EXPORT flowringTargets)
install(EXPORT flowringTargets NAMESPACE flowring:: DESTINATION ${FR_CMAKE_DIR} COMPONENT sdk)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/flowringConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/flowringConfig.cmake INSTALL_DESTINATION ${FR_CMAKE_DIR})
# The SDK version follows the project; a consumer asking for 0.1 accepts any 0.x.
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/flowringConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/flowringConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/flowringConfigVersion.cmake
        DESTINATION ${FR_CMAKE_DIR} COMPONENT sdk)

# relocatable: the prefix is found from the .pc file's own directory, so --prefix at install works
file(RELATIVE_PATH FR_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${CMAKE_CURRENT_LIST_DIR}/flowring.pc.in ${CMAKE_CURRENT_BINARY_DIR}/flowring.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/flowring.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT sdk)

# install -> build a consumer with pkg-config and with find_package (cmake/install-test/).
fr_add_test(install_sdk_consumer LABELS quick TIMEOUT 300
  COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -DSRC_DIR=${CMAKE_CURRENT_LIST_DIR}/install-test
          -DCC=${CMAKE_C_COMPILER} -DGENERATOR=${CMAKE_GENERATOR} -DLIBDIR=${CMAKE_INSTALL_LIBDIR}
          -P ${CMAKE_CURRENT_LIST_DIR}/install-test/run.cmake)
