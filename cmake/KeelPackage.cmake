# Installed package description: find_package(Keel) gives Keel::cgc and Keel::3m (shared) and
# Keel::cgc_static and Keel::3m_static (Keel::3m* add -DMZ_PRECISE_GC to their clients);
# pkg-config keel-cgc and keel-3m give the same flags to plain Makefiles.
include(CMakePackageConfigHelpers)

set_target_properties(keel_cgc_shared PROPERTIES EXPORT_NAME cgc)
set_target_properties(keel_cgc_static PROPERTIES EXPORT_NAME cgc_static)
set_target_properties(keel_3m_shared PROPERTIES EXPORT_NAME 3m)
set_target_properties(keel_3m_static PROPERTIES EXPORT_NAME 3m_static)

install(EXPORT KeelTargets NAMESPACE Keel:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/KeelConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/KeelConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/KeelConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/KeelConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/KeelConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Keel)

foreach(variant cgc 3m)
  set(KEEL_PC_VARIANT ${variant})
  if(variant STREQUAL "cgc")
    set(KEEL_PC_DESCRIPTION "Keel runtime, conservative collector (CGC)")
    set(KEEL_PC_CFLAGS "")
  else()
    set(KEEL_PC_DESCRIPTION "Keel runtime, precise moving collector (3m)")
    set(KEEL_PC_CFLAGS "-DMZ_PRECISE_GC")
  endif()
  configure_file(${CMAKE_CURRENT_LIST_DIR}/keel.pc.in ${CMAKE_CURRENT_BINARY_DIR}/keel-${variant}.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/keel-${variant}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
