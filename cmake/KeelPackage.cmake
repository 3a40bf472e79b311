# Installed package description: find_package(Keel) gives Keel::cgc (shared) and
# Keel::cgc_static; pkg-config keel-cgc gives the same flags to plain Makefiles.
include(CMakePackageConfigHelpers)

set_target_properties(keel_cgc_shared PROPERTIES EXPORT_NAME cgc)
set_target_properties(keel_cgc_static PROPERTIES EXPORT_NAME cgc_static)

install(EXPORT KeelTargets NAMESPACE Keel:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/KeelConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/KeelConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/KeelConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/KeelConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/KeelConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)

set(KEEL_PC_VARIANT cgc)
set(KEEL_PC_DESCRIPTION "Keel runtime, conservative collector (CGC)")
set(KEEL_PC_CFLAGS "")
configure_file(${CMAKE_CURRENT_LIST_DIR}/keel.pc.in ${CMAKE_CURRENT_BINARY_DIR}/keel-cgc.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/keel-cgc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
