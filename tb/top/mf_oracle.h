// The RAS soak's view of a page: its state as the soak names it (which
// injection it gets, what it counts), and the outcome oracle — what Linux
// 6.18's memory_failure() (mm/memory-failure.c) does with a page in that
// state, predicted from the page's flags at entry (hal::PageInfo, Linux's
// /proc/kpageflags bits) independently of the firmware's own classifier.
// Used by tb/top/ras_soak.cpp; unit-tested by tb/top/mf_oracle_test.cpp.
#pragma once

#include <cstdint>

#include "sw/hal/debug.h"

namespace sim {

// The page states the soak tells apart, by the first test that holds (see
// classify_page). The kernel's (slab, page table, reserved, other kernel)
// get software injection; the others hardware lines.
enum class SoakState : uint8_t {
  anon,          // private anonymous page mapped once
  anon_shared,   // anonymous page mapped by several processes (shared after fork)
  anon_mlocked,  // anonymous page of an mlocked VMA
  anon_thp,      // a page of a transparent huge page
  shmem,         // shared-memory page (swap-backed, not anonymous)
  file_clean,    // clean page-cache page of a file nobody maps
  file_mapped,   // clean page-cache page of a file some process maps
  file_dirty,    // dirty page-cache page
  swapcache,     // anonymous page in the swap cache
  hugetlb,       // a hugetlb page, free or in use
  free,          // free: buddy allocator or a per-CPU list
  slab,          // slab page
  pgtable,       // page-table page
  reserved,      // reserved (memblock, firmware image)
  kernel_other,  // any other page the kernel holds (not on an LRU list)
  poisoned,      // already PG_hwpoison
  count,
};
constexpr unsigned kSoakStates = static_cast<unsigned>(SoakState::count);

// Returns the state's name, as the scenario key `weights` and the
// statistics spell it ("anon_thp", "file_clean", ...).
const char* soak_state_name(SoakState s);
// Returns true for the states whose injection is software (memory_failure
// without a poisoned line): pages the kernel itself reads.
bool soak_state_kernel(SoakState s);
// Returns the state of a page from its flags.
SoakState classify_page(const hal::PageInfo& pi);

// What memory_failure() must log for a page: 6.18's action_page_types[]
// name and action_name[] result.
struct MfPrediction {
  const char* type = nullptr;    // e.g. "dirty LRU page"; nullptr: no action_result expected
  const char* result = nullptr;  // "Ignored", "Failed", "Delayed", "Recovered"
  // A page under writeback at entry: 6.18 waits for the I/O
  // (folio_wait_writeback), and a write that fails (the device read the
  // poisoned line) leaves the page dirty: the dirty row is the other outcome.
  const char* alt_type = nullptr;
  const char* alt_result = nullptr;
};

// Linux's MF_COUNT_INCREASED (enum mf_flags): the caller holds a reference,
// get_hwpoison_page is skipped.
constexpr int kMfCountIncreased = 1 << 0;

// Returns 6.18's outcome for memory_failure(pfn, flags) on a page whose
// flags at entry are `pi`; pte_dirty: a page-table entry mapping it is
// dirty (the unmap moves that to the page). Written from 6.18's
// memory_failure(), get_hwpoison_page(), try_to_split_thp_page(),
// hwpoison_user_mappings() and error_states[].
MfPrediction predict_memory_failure(const hal::PageInfo& pi, bool pte_dirty, int flags);

}  // namespace sim
