// Firmware parameters: the `firmware.<key>` entries of a scenario. Params is
// plain data the Kernel receives before boot; kParamTable describes every
// field (key, type, offset, default, range, description, unit) so the
// simulator's config layer can read, type-check and report them without
// knowing the struct. Freestanding: constexpr tables, no allocation.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace fw {

struct Params {
  // Scheduling.
  uint64_t timeslice_us = 4000;
  // Console.
  uint32_t loglevel = 7;
  // MMU use.
  bool pcid = true;
  // Memory layout and limits.
  uint64_t reserve_low_kb = 4;
  uint64_t mmap_min_addr = 65536;
  uint64_t max_map_count = 65530;
  uint64_t tlb_single_page_flush_ceiling = 33;
  // Simulated cost of firmware work (charged with Hal::charge_ns).
  uint64_t cost_fault_entry_ns = 150;
  uint64_t cost_fault_exit_ns = 100;
  uint64_t cost_syscall_ns = 100;
  uint64_t cost_context_switch_ns = 800;
  uint64_t cost_pte_update_ns = 5;
  uint64_t cost_page_alloc_ns = 60;
  uint64_t cost_page_zero_ns = 0;
};

enum class ParamType : uint8_t { u32, u64, boolean };

struct ParamDesc {
  const char* key;  // scenario key below "firmware."
  ParamType type;
  uint32_t offset;  // of the field in Params
  uint64_t def;     // default (equals Params{}'s field; a unit test checks)
  uint64_t min;     // inclusive range accepted by param_set
  uint64_t max;
  const char* desc;
  const char* unit;
};

// clang-format off
inline constexpr ParamDesc kParamTable[] = {
  {"timeslice_us", ParamType::u64, offsetof(Params, timeslice_us), 4000, 1, 10000000,
   "round-robin timeslice: a timer tick after this much time on a CPU preempts the task", "us"},
  {"loglevel", ParamType::u32, offsetof(Params, loglevel), 7, 0, 8,
   "console log level: kernel messages with a lower level reach the console (Linux console_loglevel)", "level"},
  {"pcid", ParamType::boolean, offsetof(Params, pcid), 1, 0, 1,
   "use PCIDs when the CPU has them (0 is Linux's nopcid)", "bool"},
  {"reserve_low_kb", ParamType::u64, offsetof(Params, reserve_low_kb), 4, 4, 1024,
   "memory kept from the allocator at the bottom of physical memory (Linux >= 5.13 reserves 1024)", "KiB"},
  {"mmap_min_addr", ParamType::u64, offsetof(Params, mmap_min_addr), 65536, 0, 1ull << 32,
   "lowest address a process may map (vm.mmap_min_addr)", "bytes"},
  {"max_map_count", ParamType::u64, offsetof(Params, max_map_count), 65530, 1, 1ull << 31,
   "most VMAs a process may have (vm.max_map_count)", "count"},
  {"tlb_single_page_flush_ceiling", ParamType::u64, offsetof(Params, tlb_single_page_flush_ceiling), 33, 0, 1ull << 20,
   "ranges of more pages than this are flushed with a full TLB flush instead of INVLPG per page", "pages"},
  {"cost_fault_entry_ns", ParamType::u64, offsetof(Params, cost_fault_entry_ns), 150, 0, 1000000,
   "simulated time of page-fault entry (exception delivery, handler dispatch, VMA lookup)", "ns"},
  {"cost_fault_exit_ns", ParamType::u64, offsetof(Params, cost_fault_exit_ns), 100, 0, 1000000,
   "simulated time of returning from a page fault to the user task", "ns"},
  {"cost_syscall_ns", ParamType::u64, offsetof(Params, cost_syscall_ns), 100, 0, 1000000,
   "simulated time of system-call entry and exit", "ns"},
  {"cost_context_switch_ns", ParamType::u64, offsetof(Params, cost_context_switch_ns), 800, 0, 1000000,
   "simulated time of a context switch (besides the CR3 write)", "ns"},
  {"cost_pte_update_ns", ParamType::u64, offsetof(Params, cost_pte_update_ns), 5, 0, 1000000,
   "simulated time of one page-table entry write", "ns"},
  {"cost_page_alloc_ns", ParamType::u64, offsetof(Params, cost_page_alloc_ns), 60, 0, 1000000,
   "simulated time of one buddy-allocator allocation or free", "ns"},
  {"cost_page_zero_ns", ParamType::u64, offsetof(Params, cost_page_zero_ns), 0, 0, 1000000,
   "CPU time of zeroing one 4 KiB page on top of what the HAL charges for the fill itself (0: the HAL's charge only)", "ns"},
};
// clang-format on
inline constexpr size_t kParamCount = sizeof(kParamTable) / sizeof(kParamTable[0]);

// The descriptor of `key`, nullptr when there is none.
const ParamDesc* param_find(const char* key);
uint64_t param_get(const Params& p, const ParamDesc& d);
// Stores v; false (nothing stored) when v is outside [min, max].
bool param_set(Params& p, const ParamDesc& d, uint64_t v);

}  // namespace fw
