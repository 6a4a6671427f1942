# Compiles schemas/*.avsc into the binaries: generates a C file holding every
# schema's JSON text as a byte array, with the file name it came from, so that
# the running services need no schema files and no hand copy can drift.
#
#   collab_generate_avro_schemas(<out-var>)   sets <out-var> to the generated .c
#
# Editing or adding a .avsc re-runs the configure step (CMAKE_CONFIGURE_DEPENDS).
function(collab_generate_avro_schemas out_var)
  file(GLOB avsc_files CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/schemas/*.avsc)
  list(SORT avsc_files)
  set(CAVRO_SCHEMA_ARRAYS "")
  set(CAVRO_SCHEMA_TABLE "")
  set(index 0)
  foreach(avsc ${avsc_files})
    get_filename_component(file_name ${avsc} NAME)
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${avsc})
    # Hex keeps every byte of the JSON exact without C string escaping.
    file(READ ${avsc} hex HEX)
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
    string(APPEND CAVRO_SCHEMA_ARRAYS
      "/* ${file_name} */\nstatic const unsigned char schema_${index}[] = {${bytes}0x00};\n")
    string(APPEND CAVRO_SCHEMA_TABLE
      "    {\"${file_name}\", (const char *)schema_${index}, sizeof(schema_${index}) - 1},\n")
    math(EXPR index "${index} + 1")
  endforeach()
  if(index EQUAL 0)
    message(FATAL_ERROR "no Avro schemas found in ${PROJECT_SOURCE_DIR}/schemas")
  endif()
  set(CAVRO_SCHEMA_COUNT ${index})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/avro_schemas_generated.c)
  configure_file(${PROJECT_SOURCE_DIR}/common/avro_schemas.c.in ${out} @ONLY)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
