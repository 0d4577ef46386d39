# rtl_sampled_signals (ctest): the conditions under which hw::RtlWalker
# evaluates the untraced walker once per cycle (hw/rtlwalk/rtl_walker.cpp,
# RtlWalker::tick) still hold for the Verilated model in HEADER (its root
# class header):
#  - Verilator keeps the clock's last evaluated value in
#    __Vtrigrprev__TOP__clk (otherwise the drive falls back to two
#    evaluations per cycle, correct but slower);
#  - no assertion samples an internal signal ($past, $stable): Verilator
#    samples before it settles new inputs, so an internal signal computed
#    from an input would be sampled stale by the one evaluation per cycle.
#    walker.sv keeps its assertions' history in registers of its own
#    (chk_history) instead. (Sampled ports are right: the drive sets them
#    before the evaluation.)
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
if(names)
  message(FATAL_ERROR "${HEADER}: the assertions sample the internal signals '${names}' "
                      "with $past/$stable, which the one-evaluation drive in hw/rtlwalk/rtl_walker.cpp "
                      "would sample stale: keep their history in registers (walker.sv, chk_history)")
endif()
message(STATUS "no sampled internal signals; clock memo present")
