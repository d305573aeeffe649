# ctest version_agrees: the version is written once, in the top CMakeLists.txt's project(VERSION); package.json
# and `attnkit info` must say the same.
#   cmake -DVERSION=0.1.0 -DPACKAGE_JSON=package.json -DCLI=build/native/attnkit -P tests/version.cmake
file(READ "${PACKAGE_JSON}" package_json)
string(JSON package_version GET "${package_json}" version)
if(NOT package_version STREQUAL VERSION)
  message(FATAL_ERROR "package.json has version ${package_version}; CMakeLists.txt's project(VERSION) is ${VERSION}")
endif()
execute_process(COMMAND "${CLI}" info --format json OUTPUT_VARIABLE info RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${CLI} info --format json exited ${rc}")
endif()
string(JSON cli_version GET "${info}" version)
if(NOT cli_version STREQUAL VERSION)
  message(FATAL_ERROR "attnkit info says version ${cli_version}; CMakeLists.txt's project(VERSION) is ${VERSION}")
endif()
message(STATUS "version ${VERSION}: package.json and attnkit info agree")
