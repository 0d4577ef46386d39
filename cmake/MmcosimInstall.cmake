# `cmake --install`: mmcosim as a library for other SystemC platforms
# (docs/embedding.md). Installs the program (bin/mmcosim with its plotting
# script and gdb auto-load script beside it), the headers under
# include/mmcosim (included as "hw/mmu/mmu.h", the same as in this tree), the
# static libraries of the models, the firmware and the workload engine, and
# a CMake package:
#
#   find_package(mmcosim REQUIRED)
#   target_link_libraries(my_platform PRIVATE mmcosim::mmu mmcosim::mem mmcosim::bus)
#
# Targets: mmcosim::sim (configuration, statistics, debug flags, the
# initiator socket), mmcosim::mem, ::bus, ::mmu, ::intc, ::ras, ::cpu, ::dma,
# ::block, ::rtlwalk, ::platform (the models), mmcosim::firmware, mmcosim::workload.
# SystemC comes from pkg-config in the package's config file, as here.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MMCOSIM_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/mmcosim)
set(MMCOSIM_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/mmcosim)

# Exported name (mmcosim::<name>) of each library target.
set(_mmcosim_exports
  mmcosim_hw_base=hw_base mmcosim_sim=sim mmcosim_mem=mem mmcosim_bus=bus mmcosim_mmu=mmu mmcosim_intc=intc
  mmcosim_ras=ras mmcosim_cpu=cpu mmcosim_dma=dma mmcosim_block=block mmcosim_rtlwalk=rtlwalk mmcosim_platform=platform mmcosim_fw=firmware
  mmcosim_workload=workload)
set(_mmcosim_targets)
foreach(pair ${_mmcosim_exports})
  string(REPLACE "=" ";" pair ${pair})
  list(GET pair 0 target)
  list(GET pair 1 name)
  set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
  list(APPEND _mmcosim_targets ${target})
endforeach()

# verilate() gives mmcosim_rtlwalk its generated folders (in the build tree)
# as public include directories; only the build needs them (the installed
# headers do not include the Verilated classes).
get_target_property(_dirs mmcosim_rtlwalk INTERFACE_INCLUDE_DIRECTORIES)
set(_kept)
foreach(d ${_dirs})
  string(FIND "${d}" "${CMAKE_BINARY_DIR}" at)
  if(at EQUAL 0)
    list(APPEND _kept "$<BUILD_INTERFACE:${d}>")
  else()
    list(APPEND _kept "${d}")
  endif()
endforeach()
set_target_properties(mmcosim_rtlwalk PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_kept}")

install(TARGETS ${_mmcosim_targets} EXPORT mmcosimTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${MMCOSIM_INSTALL_INCLUDEDIR})
foreach(dir hw sw tb/workload)
  install(DIRECTORY ${MMCOSIM_ROOT}/${dir}/ DESTINATION ${MMCOSIM_INSTALL_INCLUDEDIR}/${dir}
    FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT mmcosimTargets NAMESPACE mmcosim:: DESTINATION ${MMCOSIM_INSTALL_CMAKEDIR})
configure_package_config_file(${MMCOSIM_ROOT}/cmake/mmcosimConfig.cmake.in
  ${CMAKE_BINARY_DIR}/mmcosimConfig.cmake INSTALL_DESTINATION ${MMCOSIM_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/mmcosimConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/mmcosimConfig.cmake ${CMAKE_BINARY_DIR}/mmcosimConfigVersion.cmake
  DESTINATION ${MMCOSIM_INSTALL_CMAKEDIR})

# The program, and the scripts it finds beside itself.
install(TARGETS mmcosim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${MMCOSIM_ROOT}/scripts/mmcosim-plot.py DESTINATION ${CMAKE_INSTALL_DATADIR}/mmcosim)
install(FILES ${MMCOSIM_ROOT}/scripts/gdb/mmcosim-gdb.py DESTINATION ${CMAKE_INSTALL_BINDIR})
