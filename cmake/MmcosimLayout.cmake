# mmcosim_add_subdirectories(): adds every subdirectory of the current source
# directory that has a CMakeLists.txt, in name order. Each part of the tree
# (hw/mmu, tb/fw, ...) owns its own build file; parents only assemble them.
function(mmcosim_add_subdirectories)
  file(GLOB subdirs LIST_DIRECTORIES true RELATIVE ${CMAKE_CURRENT_SOURCE_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/*)
  list(SORT subdirs)
  foreach(d ${subdirs})
    if(IS_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${d} AND EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/${d}/CMakeLists.txt)
      add_subdirectory(${d})
    endif()
  endforeach()
endfunction()
