# Finds every third-party library through pkg-config and turns each into an
# imported target collab::<name>. A missing library stops the configure step
# with the Debian package that provides it.
find_package(PkgConfig)
if(NOT PKG_CONFIG_FOUND)
  message(FATAL_ERROR "pkg-config not found: apt-get install pkg-config")
endif()

# collab_require_pkg(<target> <pkg-config module> <debian package>)
function(collab_require_pkg name module debian)
  pkg_check_modules(${name} QUIET IMPORTED_TARGET GLOBAL ${module})
  if(NOT ${name}_FOUND)
    message(FATAL_ERROR
      "missing dependency '${module}' (pkg-config): apt-get install ${debian}\n"
      "or run deploy/local/install-deps.sh, which installs every dependency.")
  endif()
  add_library(collab::${name} ALIAS PkgConfig::${name})
  message(STATUS "found ${module} ${${name}_VERSION}")
endfunction()

collab_require_pkg(rdkafka   rdkafka         librdkafka-dev)
collab_require_pkg(avro      avro-c          libavro-dev)
collab_require_pkg(mongoc    libmongoc-1.0   libmongoc-dev)
collab_require_pkg(bson      libbson-1.0     libbson-dev)
collab_require_pkg(hiredis   hiredis         libhiredis-dev)
collab_require_pkg(lws       libwebsockets   libwebsockets-dev)
collab_require_pkg(jwt       libjwt          libjwt-dev)
collab_require_pkg(jansson   jansson         libjansson-dev)
collab_require_pkg(sodium    libsodium       libsodium-dev)
collab_require_pkg(cmocka    cmocka          libcmocka-dev)

# libev ships no pkg-config file: found by header and library. lws runs on it
# (common/ws_server.c gives lws a libev loop of ours; lws loads its libev glue,
# the Debian package libwebsockets-evlib-ev, at run time).
find_path(COLLAB_EV_INCLUDE_DIR ev.h)
find_library(COLLAB_EV_LIBRARY ev)
if(NOT COLLAB_EV_INCLUDE_DIR OR NOT COLLAB_EV_LIBRARY)
  message(FATAL_ERROR
    "missing dependency 'libev' (ev.h, libev.so): apt-get install libev-dev\n"
    "or run deploy/local/install-deps.sh, which installs every dependency.")
endif()
add_library(collab::ev INTERFACE IMPORTED GLOBAL)
target_include_directories(collab::ev INTERFACE ${COLLAB_EV_INCLUDE_DIR})
target_link_libraries(collab::ev INTERFACE ${COLLAB_EV_LIBRARY})
message(STATUS "found libev ${COLLAB_EV_LIBRARY}")

find_package(Threads REQUIRED)
