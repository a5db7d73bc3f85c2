# fr_require_pkg(PREFIX module debian-package): find a pkg-config module or stop with a message that
# names the Debian package to install. Sets PREFIX_* as pkg_check_modules does and an IMPORTED target
# PkgConfig::PREFIX.
find_package(PkgConfig QUIET)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

function(fr_require_pkg prefix module debpkg)
  pkg_check_modules(${prefix} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${prefix}_FOUND)
    message(FATAL_ERROR "flowring needs ${module} (pkg-config module '${module}' not found). "
                        "On Debian 12: apt-get install ${debpkg}  (or run scripts/dev.sh deps)")
  endif()
  message(STATUS "flowring: ${module} ${${prefix}_VERSION}")
endfunction()
