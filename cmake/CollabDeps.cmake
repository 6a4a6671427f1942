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

find_package(Threads REQUIRED)
