# Runs cmake/EmbedMigrations.cmake as a script on small migration directories and checks that
# a good layout embeds and each bad one fails naming the offending files.
#   cmake -DGABE_SOURCE_DIR=<repo> -DGABE_WORK_DIR=<temp dir> -P embed_migrations_test.cmake

set(_script ${GABE_SOURCE_DIR}/cmake/EmbedMigrations.cmake)
set(_function "CREATE OR REPLACE FUNCTION app.f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$\n")

# embed(<case> <ok|fail> <text the output must contain> <file name> <content> ...); contents
# without semicolons (they would split the list).
function(embed case expect needle)
  set(_dir ${GABE_WORK_DIR}/${case})
  file(REMOVE_RECURSE ${_dir})
  file(MAKE_DIRECTORY ${_dir})
  set(_files ${ARGN})
  while(_files)
    list(POP_FRONT _files _name _content)
    file(WRITE ${_dir}/${_name} "${_content}")
  endwhile()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -DGABE_MIGRATIONS_DIR=${_dir} -DGABE_EMBED_OUTPUT=${_dir}/out.cpp
            -P ${_script}
    RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
  if(expect STREQUAL "ok" AND NOT _rc EQUAL 0)
    message(FATAL_ERROR "${case}: expected success, got:\n${_out}")
  endif()
  if(expect STREQUAL "fail" AND _rc EQUAL 0)
    message(FATAL_ERROR "${case}: expected the build to fail, but it embedded the files")
  endif()
  if(expect STREQUAL "ok")
    file(READ ${_dir}/out.cpp _out)
  endif()
  # The message may be wrapped; compare without line breaks.
  string(REGEX REPLACE "[\r\n]+ *" " " _flat "${_out}")
  string(FIND "${_flat}" "${needle}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "${case}: expected '${needle}' in:\n${_out}")
  endif()
  message(STATUS "${case}: ok")
endfunction()

embed(good ok "{\"app.f\", \"migrations/functions/app/f.sql\""
  0001_a.sql "SELECT 1\n" 0002_b.sql "SELECT 2\n" functions/app/f.sql "${_function}"
  functions/README.md "not embedded\n")
embed(same_number fail "0005_one.sql and ${GABE_WORK_DIR}/same_number/0005_two.sql"
  0004_a.sql "SELECT 1\n" 0005_one.sql "SELECT 1\n" 0005_two.sql "SELECT 2\n")
embed(bad_migration_name fail "must be NNNN_name.sql (name in a-z, 0-9, _): ${GABE_WORK_DIR}/bad_migration_name/5_a.sql"
  5_a.sql "SELECT 1\n")
embed(function_not_in_schema_dir fail "${GABE_WORK_DIR}/function_not_in_schema_dir/functions/f.sql"
  functions/f.sql "${_function}")
embed(bad_function_name fail "functions/app/F-1.sql"
  functions/app/F-1.sql "${_function}")
embed(function_file_defines_another fail "must define its function with 'CREATE OR REPLACE FUNCTION app.g('"
  functions/app/g.sql "${_function}")
