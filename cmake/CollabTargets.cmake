# Helpers that keep every directory's CMakeLists.txt short and alike.
#
#   collab_add_library(name SOURCES ... DEPS ...)     static library, public include dir = its folder's parent
#   collab_add_executable(name SOURCES ... DEPS ...)  lands in build/bin/
#   collab_add_test(name SOURCES ... DEPS ... LABELS unit|integration|e2e [TIMEOUT s])
#   collab_add_script_test(name COMMAND ... LABELS ... [TIMEOUT s])
#   collab_add_fuzzer(name SOURCES ... DEPS ... CORPUS dir [SECONDS n])

function(collab_add_library name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${A_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${A_DEPS} PRIVATE collab_flags)
endfunction()

function(collab_add_executable name)
  cmake_parse_arguments(A "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${A_DEPS} collab_flags)
endfunction()

function(collab_add_test name)
  cmake_parse_arguments(A "" "TIMEOUT" "SOURCES;DEPS;LABELS;ARGS" ${ARGN})
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PRIVATE ${A_DEPS} collab::cmocka collab_flags)
  add_test(NAME ${name} COMMAND ${name} ${A_ARGS})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "COLLAB_SOURCE_DIR=${PROJECT_SOURCE_DIR};COLLAB_BIN_DIR=${CMAKE_BINARY_DIR}/bin;COLLAB_DATA_DIR=${PROJECT_SOURCE_DIR}/data")
endfunction()

function(collab_add_script_test name)
  cmake_parse_arguments(A "" "TIMEOUT;WORKING_DIRECTORY" "COMMAND;LABELS" ${ARGN})
  if(NOT A_WORKING_DIRECTORY)
    set(A_WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  endif()
  add_test(NAME ${name} COMMAND ${A_COMMAND} WORKING_DIRECTORY ${A_WORKING_DIRECTORY})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 600)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT}
    ENVIRONMENT "COLLAB_SOURCE_DIR=${PROJECT_SOURCE_DIR};COLLAB_BIN_DIR=${CMAKE_BINARY_DIR}/bin;COLLAB_DATA_DIR=${PROJECT_SOURCE_DIR}/data")
endfunction()

# A libFuzzer target, run by ctest for a bounded time over its seed corpus
# (label "fuzz" plus "unit"); run longer by hand: build/fuzz/<name> -max_total_time=600 <corpus>.
function(collab_add_fuzzer name)
  cmake_parse_arguments(A "" "CORPUS;SECONDS" "SOURCES;DEPS" ${ARGN})
  if(NOT COLLAB_HAVE_LIBFUZZER)
    return()
  endif()
  if(NOT A_SECONDS)
    set(A_SECONDS 30)
  endif()
  add_executable(${name} ${A_SOURCES})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_libraries(${name} PRIVATE ${A_DEPS} collab_flags)
  set(work ${CMAKE_BINARY_DIR}/fuzz/${name}-corpus)
  add_test(NAME ${name}
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=1
      $<TARGET_FILE:${name}> -max_total_time=${A_SECONDS} -rss_limit_mb=2048 -timeout=10
      ${work} ${A_CORPUS})
  set_tests_properties(${name} PROPERTIES LABELS "unit;fuzz" TIMEOUT 900
    FIXTURES_REQUIRED ${name}_corpus)
  add_test(NAME ${name}_corpus_dir COMMAND ${CMAKE_COMMAND} -E make_directory ${work})
  set_tests_properties(${name}_corpus_dir PROPERTIES FIXTURES_SETUP ${name}_corpus LABELS "unit;fuzz")
endfunction()
