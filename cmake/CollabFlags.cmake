# Compiler flags shared by every target: strict warnings, sanitizers in Debug,
# -O2 in Release. Applied through the collab_flags interface library so that
# targets opt in explicitly (see CollabTargets.cmake).
add_library(collab_flags INTERFACE)

target_compile_options(collab_flags INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wpointer-arith
  -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wundef
  -fno-common)
if(COLLAB_WERROR)
  target_compile_options(collab_flags INTERFACE -Werror)
endif()
# _GNU_SOURCE is not set: code that needs POSIX asks for it per file.
target_compile_definitions(collab_flags INTERFACE _POSIX_C_SOURCE=200809L)

set(COLLAB_SANITIZE_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined
    -fno-omit-frame-pointer)
target_compile_options(collab_flags INTERFACE
  $<$<CONFIG:Debug>:-O1 -g3 ${COLLAB_SANITIZE_FLAGS}>
  $<$<CONFIG:Release>:-O2 -g>
  $<$<CONFIG:RelWithDebInfo>:-O2 -g>)
target_link_options(collab_flags INTERFACE
  $<$<CONFIG:Debug>:${COLLAB_SANITIZE_FLAGS}>)

# libFuzzer needs clang; with gcc the fuzz targets are skipped with a notice.
if(COLLAB_FUZZ AND CMAKE_C_COMPILER_ID MATCHES "Clang")
  set(COLLAB_HAVE_LIBFUZZER ON)
  # Coverage instrumentation for the code under fuzz; harmless for other targets.
  target_compile_options(collab_flags INTERFACE $<$<CONFIG:Debug>:-fsanitize=fuzzer-no-link>)
else()
  set(COLLAB_HAVE_LIBFUZZER OFF)
  if(COLLAB_FUZZ)
    message(STATUS "fuzz targets skipped: libFuzzer needs clang (CC=clang)")
  endif()
endif()
