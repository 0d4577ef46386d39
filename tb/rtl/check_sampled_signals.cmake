# rtl_sampled_signals (ctest): the conditions under which hw::RtlWalker
# evaluates the untraced walker once per cycle (hw/rtlwalk/rtl_walker.cpp,
# RtlWalker::tick) still hold for the Verilated model in HEADER (its root
# class header):
#  - Verilator keeps the clock's last evaluated value in
#    __Vtrigrprev__TOP__clk (otherwise the drive falls back to two
#    evaluations per cycle, correct but slower);
#  - the only internal signal the assertions sample ($past, $stable) is
#    rsp_fire. Verilator samples before it settles new inputs, so the drive
#    settles them first whenever an input an internal sampled signal depends
#    on changed: it knows rsp_ready only. An assertion sampling another
#    internal signal must be added there (and here).
# Usage: cmake -DHEADER=<Vwalker_untraced___024root.h> -P check_sampled_signals.cmake
file(STRINGS "${HEADER}" clock_memo REGEX "__Vtrigrprev__TOP__clk;")
if(NOT clock_memo)
  message(FATAL_ERROR "${HEADER}: no __Vtrigrprev__TOP__clk: the walker is evaluated twice per cycle")
endif()
file(STRINGS "${HEADER}" lines REGEX "__Vsampled__TOP__walker__DOT__")
set(names "")
foreach(line IN LISTS lines)
  string(REGEX MATCHALL "__Vsampled__TOP__walker__DOT__[A-Za-z0-9_]+" found "${line}")
  list(APPEND names ${found})
endforeach()
list(REMOVE_DUPLICATES names)
if(NOT names STREQUAL "__Vsampled__TOP__walker__DOT__rsp_fire")
  message(FATAL_ERROR "${HEADER}: the assertions sample the internal signals '${names}', "
                      "the one-evaluation drive in hw/rtlwalk/rtl_walker.cpp knows rsp_fire only")
endif()
message(STATUS "sampled internal signals: ${names}; clock memo present")
