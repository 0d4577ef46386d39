// fork's memory side (Linux kernel/fork.c dup_mm/dup_mmap and mm/memory.c
// copy_page_range): the child gets a copy of every VMA; private anonymous
// VMAs join the parent's anon_vmas (anon_vma_fork) and their present pages
// are shared copy-on-write: the PTE (or THP PMD, or hugetlb leaf) is made
// read-only in both, the page gains a mapping and a reference, and the
// first write on either side copies it (sw/mm/memory.cpp do_wp_page).
// Shared memory VMAs take a reference on their object and are left for the
// child's faults to fill (Linux does not copy those PTEs either). The
// parent's TLBs are shot down once at the end: its other threads may hold
// writable entries.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct ForkStats {
  uint64_t forks = 0;
  uint64_t failed = 0;
  uint64_t ptes_copied = 0;   // PTEs (and huge leaves) shared with a child
  uint64_t vmas_copied = 0;
};

class Fork {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A copy of oldmm for a child; nullptr (and -ENOMEM in *err) when memory
  // ran out (everything half-built is freed).
  mm_struct* dup_mm(hal::Hal& h, mm_struct* oldmm, int* err);

  const ForkStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Copies svma's page tables into dst's for dvma, sharing pages
  // copy-on-write (Linux copy_page_range and its levels). Return 0 or
  // -ENOMEM.
  int copy_page_range(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma, vm_area_struct* svma);
  int copy_level(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma, uint64_t table, unsigned level,
                 uint64_t base, uint64_t start, uint64_t end);
  int copy_pte_table(hal::Hal& h, mm_struct* dst, mm_struct* src, uint64_t table, uint64_t base, uint64_t start,
                     uint64_t end);

  MmContext* ctx_ = nullptr;
  ForkStats stats_;
};

}  // namespace fw
