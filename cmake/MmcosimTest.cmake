# Test helpers. Every test binary is registered with gtest_discover_tests, so
# each test case runs in its own process (a SystemC kernel elaborates once per
# process).

# Test sources are compiled for debugging rather than for speed: -Og (with
# the build type's -g) halves their compile time against -O2, and test
# sources are most of what `make test` compiles. The code under test is in
# the libraries, built with the build type's flags (bench_* binaries too).
# A Debug build keeps its -O0.
if(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(_mmcosim_test_flags_default "")
else()
  set(_mmcosim_test_flags_default "-Og")
endif()
set(MMCOSIM_TEST_CXX_FLAGS "${_mmcosim_test_flags_default}" CACHE STRING
  "Extra compile options for test sources, after the build type's (-Og unless Debug)")
separate_arguments(_mmcosim_test_flags UNIX_COMMAND "${MMCOSIM_TEST_CXX_FLAGS}")

# Precompiled headers, built once and reused by every test of a kind (the
# owners, mmcosim_unit_test_pch and mmcosim_sc_test_pch, are in tb/): a test
# source otherwise spends a third of its compile time parsing GoogleTest,
# SystemC and TLM. Only headers every test of the kind may see: no fmt,
# whose FMT_SHARED differs between tests. MMCOSIM_TEST_PCH=OFF goes without.
option(MMCOSIM_TEST_PCH "Precompile the headers test sources share" ON)
set(MMCOSIM_TEST_PCH_HEADERS <gtest/gtest.h> <algorithm> <cstring> <map> <memory> <set> <sstream> <string> <vector>)

# mmcosim_test_compile_options(TARGET KIND): TARGET's sources get KIND's (unit or sc)
# precompiled headers and the test compile options.
function(mmcosim_test_compile_options target kind)
  target_compile_options(${target} PRIVATE ${_mmcosim_test_flags})
  if(MMCOSIM_TEST_PCH)
    target_precompile_headers(${target} REUSE_FROM mmcosim_${kind}_test_pch)
  endif()
endfunction()

# mmcosim_sc_test(NAME SOURCES a.cpp b.cpp LIBS lib1 lib2 [LABEL l])
# Tests are named NAME.Suite.Case, so `ctest -R NAME` selects a binary.
# A SystemC test: sc_main from tb/common initialises GoogleTest, turns
# sc_report warnings and errors into test failures and runs RUN_ALL_TESTS().
function(mmcosim_sc_test name)
  cmake_parse_arguments(T "" "TIMEOUT;LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE mmcosim_sc_gtest_main ${T_LIBS})
  mmcosim_test_compile_options(${name} sc)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABEL)
    set(T_LABEL systemc)
  endif()
  # One label only: gtest_discover_tests would split a list into properties.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120 TEST_PREFIX "${name}."
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS ${T_LABEL})
endfunction()

# mmcosim_unit_test(NAME SOURCES ... LIBS ...): a plain GoogleTest binary
# (firmware on the host HAL, infrastructure), no SystemC.
function(mmcosim_unit_test name)
  cmake_parse_arguments(T "" "TIMEOUT;LABEL" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE GTest::gtest_main GTest::gmock ${T_LIBS})
  mmcosim_test_compile_options(${name} unit)
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABEL)
    set(T_LABEL unit)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120 TEST_PREFIX "${name}."
    PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS ${T_LABEL})
endfunction()
