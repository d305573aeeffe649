# `cmake --install build [--prefix DIR]`: the public headers, libattnkit (static, or shared with
# -DBUILD_SHARED_LIBS=ON), the attnkit CLI, a CMake package (find_package(attnkit CONFIG) → attnkit::attnkit)
# and pkg-config's attnkit.pc. Native builds only. tests/consumer builds a project against the result.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ATTNKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/attnkit)
# libattnkit.so.0.1.0 with soname libattnkit.so.0.1: before 1.0 a minor version may change the ABI.
set_target_properties(attnkit_core PROPERTIES VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

install(TARGETS attnkit_core EXPORT attnkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/core/include/attnkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")

if(TARGET attnkit)
  # The CLI finds a shared libattnkit next to it: <prefix>/bin/../lib.
  set_target_properties(attnkit PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
  install(TARGETS attnkit RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()

install(EXPORT attnkitTargets NAMESPACE attnkit:: FILE attnkitTargets.cmake DESTINATION ${ATTNKIT_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/attnkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/attnkitConfig.cmake INSTALL_DESTINATION ${ATTNKIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/attnkitConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/attnkitConfig.cmake ${PROJECT_BINARY_DIR}/attnkitConfigVersion.cmake
  DESTINATION ${ATTNKIT_CMAKE_DIR})

# pkg-config: a static libattnkit needs the thread library on the consumer's link line; a shared one
# carries it (Libs.private).
if(BUILD_SHARED_LIBS)
  set(ATTNKIT_PC_LIBS "-L\${libdir} -lattnkit")
  set(ATTNKIT_PC_LIBS_PRIVATE "-pthread")
else()
  set(ATTNKIT_PC_LIBS "-L\${libdir} -lattnkit -pthread")
  set(ATTNKIT_PC_LIBS_PRIVATE "")
endif()
# The prefix is found from the .pc file's own place (${pcfiledir}), so `cmake --install --prefix DIR` and a
# moved prefix both work.
set(ATTNKIT_PC_PREFIX "\${pcfiledir}/..")
string(REPLACE "/" ";" _attnkit_libdir_parts "${CMAKE_INSTALL_LIBDIR}")
foreach(_part IN LISTS _attnkit_libdir_parts)
  string(APPEND ATTNKIT_PC_PREFIX "/..")
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/attnkit.pc.in ${PROJECT_BINARY_DIR}/attnkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/attnkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
