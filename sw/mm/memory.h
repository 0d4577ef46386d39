// Page-fault handling and unmapping (Linux mm/memory.c with the x86 entry
// of arch/x86/mm/fault.c): find the VMA, check the access against it,
// demand-page anonymous memory; zap PTEs, free the pages after the TLB
// flush, free page tables no longer needed.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/lib/list.h"
#include "sw/mm/mm_types.h"

namespace fw {

enum class FaultKind : uint8_t {
  handled,         // a page was mapped (or made writable)
  spurious,        // the PTE already allowed the access (stale TLB)
  sigsegv_maperr,  // no mapping at the address
  sigsegv_accerr,  // the mapping forbids the access
  sigbus,          // the page tables could not be read (memory error)
  oom,             // no memory for the page or a page table
  bad_pgtable,     // reserved bit set in a paging entry
  kernel_mode,     // a supervisor-mode fault on a user address
};

struct FaultResult {
  FaultKind kind;
  const char* reason;  // one-line explanation for the log
};

struct FaultStats {
  uint64_t faults = 0;
  uint64_t anon = 0;        // pages demand-allocated
  uint64_t spurious = 0;
  uint64_t write_upgrade = 0;
  uint64_t maperr = 0;
  uint64_t accerr = 0;
  uint64_t sigbus = 0;
  uint64_t oom = 0;
  uint64_t bad_pgtable = 0;
  uint64_t kernel_mode = 0;
  uint64_t migration_wait = 0;  // faults on a page under migration
};

// PTE bits of a mapping with these vm_flags (Linux's protection_map for
// x86: private writable mappings are read-only until written).
uint64_t vm_get_page_prot(uint64_t vm_flags, bool nx);

class Memory {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // The fault of a user access at addr with the x86 error code.
  FaultResult handle_fault(hal::Hal& h, mm_struct* mm, uint64_t addr, uint32_t error_code);

  // Unmaps [start, end) of the VMAs on `vmas` (detached from mm, linked by
  // vm_list; Linux unmap_region): clears the PTEs, unlinks the VMAs from the
  // reverse map, frees the page tables that only covered [floor, ceiling),
  // flushes the TLB once and then drops the pages. Returns the entries cleared.
  uint64_t unmap_region(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t floor, uint64_t ceiling,
                        list_head* vmas);
  // Teardown of a whole address space (mm no longer loaded anywhere):
  // zap everything; then, after the VMAs are unlinked, free every table.
  void exit_mmap_tables(hal::Hal& h, mm_struct* mm);
  void free_all_pgtables(hal::Hal& h, mm_struct* mm);

  const FaultStats& stats() const { return stats_; }

 private:
  FaultResult do_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                bool write);

  MmContext* ctx_ = nullptr;
  FaultStats stats_;
};

}  // namespace fw
