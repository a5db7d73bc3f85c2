# Compiler flags for our own code: -Wall -Wextra -Werror on every target we own (fr_strict_target),
# and the sanitizer selected by FR_SANITIZE on everything, tests and benches included.
if(FR_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
elseif(FR_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
elseif(NOT FR_SANITIZE STREQUAL "")
  message(FATAL_ERROR "FR_SANITIZE must be '', 'address' or 'thread', not '${FR_SANITIZE}'")
endif()

function(fr_strict_target tgt)
  target_compile_options(${tgt} PRIVATE -Wall -Wextra -Werror)
endfunction()

# fr_add_test(name LABELS l1 l2 ... COMMAND cmd args...): a ctest test with labels. Labels in use:
#   quick    - seconds, no privileges
#   torture  - long-running concurrency or soak tests (still run in CI)
#   root     - needs root and the real kernel (BPF, namespaces); skips with exit 77 and a reason otherwise
#   tsan     - also run in the TSan build (in-process concurrent tests)
#   fuzz     - a bounded libFuzzer run (FR_FUZZ builds only)
function(fr_add_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "LABELS;COMMAND" ${ARGN})
  add_test(NAME ${name} COMMAND ${T_COMMAND})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT} SKIP_RETURN_CODE 77)
endfunction()
