// madvise (Linux mm/madvise.c): MADV_DONTNEED (drops the pages: private
// memory reads zero again, shared memory keeps its data in its object,
// hugetlb pages go back to the pool and a private mapping reserves them
// again), MADV_FREE (private anonymous pages may be reclaimed lazily: their
// dirty bits are cleared; there is no reclaim, so the data stays),
// MADV_HUGEPAGE / MADV_NOHUGEPAGE (VMA flags for THP and khugepaged),
// MADV_COLD / MADV_PAGEOUT (deactivate, or reclaim now through
// Vmscan::reclaim_pages), MADV_POPULATE_READ / MADV_POPULATE_WRITE (fault the range in; EINVAL on
// a mapping without the permission), MADV_COLLAPSE (khugepaged's collapse,
// now), the hints NORMAL, RANDOM, SEQUENTIAL, WILLNEED (accepted, no
// effect on anonymous memory), and MADV_HWPOISON / MADV_SOFT_OFFLINE (the
// selftests' error injection, Linux madvise_inject_error: each page of the
// range, faulted in, goes to memory_failure() or soft_offline_page(); see
// sw/mm/memory_failure.h). Errors as Linux: EINVAL for bad arguments or
// advice, ENOMEM when part of the range is unmapped.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct MadviseStats {
  uint64_t calls = 0;
  uint64_t failed = 0;
  uint64_t dontneed = 0;
  uint64_t free = 0;
  uint64_t populate = 0;
  uint64_t hugepage = 0;
  uint64_t collapse = 0;
  uint64_t hwpoison = 0;      // pages given to memory_failure() by MADV_HWPOISON
  uint64_t soft_offline = 0;  // pages given to soft_offline_page() by MADV_SOFT_OFFLINE
};

class Madvise {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // The madvise system call: 0 or -errno.
  int do_madvise(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len, uint64_t advice);

  const MadviseStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Applies advice to [start, end) of one VMA (Linux madvise_vma_behavior).
  // Returns 0 or -errno.
  int apply(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, uint64_t advice);
  // MADV_DONTNEED on one VMA (Linux madvise_dontneed_single_vma). Returns 0,
  // or -EINVAL for a hugetlb range not aligned to its page size.
  int dontneed(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end);
  // MADV_FREE on one VMA (Linux madvise_free_single_vma). Returns 0, or
  // -EINVAL for shared or hugetlb memory.
  int free(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end);
  // MADV_COLD (pageout false: the pages' accessed bits cleared, the pages
  // deactivated) and MADV_PAGEOUT (isolated and handed to reclaim) on one
  // VMA (Linux madvise_cold_or_pageout_pte_range); pages mapped by more
  // than one process are left alone, a THP is split for pageout. Returns
  // 0, or -EINVAL for hugetlb and driver (VM_PFNMAP) mappings.
  int cold_or_pageout(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, bool pageout);

  // MADV_HWPOISON and MADV_SOFT_OFFLINE on [start, end) (Linux
  // madvise_inject_error): page by page, each faulted in (as
  // get_user_pages_fast) and handed over with a reference. Returns 0, or
  // the first error (a fault's, or memory_failure's / soft_offline_page's).
  int inject_error(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t advice);

  MmContext* ctx_ = nullptr;
  MadviseStats stats_;
};

}  // namespace fw
