// khugepaged (Linux mm/khugepaged.c): collapses ranges of 4 KiB pages into
// transparent huge pages. Address spaces with THP-eligible VMAs join its
// list (khugepaged_enter_vma: at a THP fault, MADV_HUGEPAGE, or mmap with
// transparent_hugepage=always). The firmware has no threads: it is deferred
// work of CPU 0's timer tick, run in lazy-TLB mode every
// khugepaged_scan_sleep_millisecs of simulated time (after a failed huge
// page allocation, khugepaged_alloc_sleep_millisecs), scanning
// khugepaged_pages_to_scan pages round-robin over the address spaces.
//
// A 2 MiB range collapses when it lies inside an eligible VMA, is mapped by
// a page table whose PTEs map exclusive anonymous 4 KiB pages (at most
// max_ptes_none empty or zero-page entries, at most max_ptes_shared pages
// shared with other processes), at least one writable and one accessed.
// The collapse holds the mm's mmap_lock (taken with a trylock: a busy mm is
// skipped), allocates an order-9 page (compacting directly with
// khugepaged_defrag), clears the PMD and shoots down every CPU using the
// mm, copies the pages, frees them and maps the huge page; the old page
// table becomes the PMD's deposit.
//
// MADV_COLLAPSE does the same synchronously for a range, independent of
// the THP mode and limits (as Linux).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

// Scan results (Linux's enum scan_result, the ones that occur here).
enum ScanResult : int {
  SCAN_FAIL,
  SCAN_SUCCEED,
  SCAN_PMD_NULL,
  SCAN_PMD_MAPPED,
  SCAN_EXCEED_NONE_PTE,
  SCAN_EXCEED_SHARED_PTE,
  SCAN_PTE_NON_PRESENT,
  SCAN_PAGE_RO,
  SCAN_LACK_REFERENCED_PAGE,
  SCAN_PAGE_NULL,
  SCAN_PAGE_LRU,
  SCAN_PAGE_ANON,
  SCAN_PAGE_COMPOUND,
  SCAN_VMA_CHECK,
  SCAN_ALLOC_HUGE_PAGE_FAIL,
  SCAN_COPY_MC,
};

struct KhugepagedStats {
  uint64_t wakeups = 0;         // scans run
  uint64_t pages_scanned = 0;   // /sys/kernel/mm/transparent_hugepage/khugepaged/pages_scanned
  uint64_t pages_collapsed = 0; // huge pages made
  uint64_t full_scans = 0;      // passes over every registered mm
  uint64_t mms = 0;             // address spaces on the list now
  uint64_t busy_mm = 0;         // scans that found the mm's mmap_lock taken
  uint64_t madvise_collapsed = 0;
};

class Khugepaged {
 public:
  void init(MmContext* ctx);

  // vma may now get huge pages: its mm joins the scan list.
  void enter_vma(hal::Hal& h, vm_area_struct* vma);
  // mm goes away.
  void exit_mm(hal::Hal& h, mm_struct* mm);
  // Deferred work (CPU 0's timer tick): scan when due.
  void tick(hal::Hal& h);
  // One scan of up to `pages` pages, now (tests). Returns the pages scanned.
  uint64_t scan(hal::Hal& h, uint64_t pages);
  // MADV_COLLAPSE over [start, end) of vma (mmap_lock held): 0 or -errno.
  int madvise_collapse(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end);

  const KhugepagedStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Checks the PTE table at haddr (Linux hpage_collapse_scan_pmd). Returns
  // SCAN_SUCCEED when it may collapse, else why not; *pmd_pa_out is the PMD's
  // address.
  ScanResult scan_pmd(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr, bool khugepaged,
                      uint64_t* pmd_pa_out);
  // Copies the range at haddr into a new huge page mapped by the PMD (Linux
  // collapse_huge_page). Returns SCAN_SUCCEED, or why it could not.
  ScanResult collapse_huge_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr, bool khugepaged);

  MmContext* ctx_ = nullptr;
  list_head mm_head_;
  mm_struct* cursor_ = nullptr;  // the mm being scanned
  uint64_t next_scan_ns_ = 0;
  SpinLock lock_;  // the list
  KhugepagedStats stats_;
};

}  // namespace fw
