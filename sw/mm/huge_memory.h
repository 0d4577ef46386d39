// Transparent huge pages (Linux mm/huge_memory.c): anonymous private memory
// mapped by 2 MiB PMD leaves.
//
// Policy (transparent_hugepage): always (every anonymous private VMA not
// MADV_NOHUGEPAGE), madvise (MADV_HUGEPAGE VMAs only; the default, so the
// default scenario's mapping gets 4 KiB pages), never. A fault on an empty
// PMD whose aligned 2 MiB range lies inside an eligible VMA allocates an
// order-9 page with the defrag setting's GFP mask (Linux
// vma_thp_gfp_mask: direct compaction for always, or for madvised VMAs with
// madvise and defer+madvise; kcompactd woken for defer and defer+madvise),
// falling back to 4 KiB pages when none is available (thp_fault_fallback).
// A read fault maps the huge zero page (use_zero_page), allocated on first
// use and freed when the machine idles without mapping it.
//
// Each PMD mapping deposits a preallocated page table (Linux's
// pgtable_trans_huge_deposit), so splitting a PMD never fails for memory.
//
// Splits: a PMD is split into a page table of 4 KiB PTEs (thp_split_pmd)
// when an operation covers part of it (munmap, mprotect, MADV_DONTNEED,
// MADV_FREE, a VMA split), and at once the huge page itself is split into
// 4 KiB pages (thp_split_page): every other PMD mapping of it (after fork)
// is split first through the reverse map. There is no deferred split queue
// (thp_deferred_split_page stays 0). Copy-on-write of a THP shared after
// fork splits it (as Linux does) and copies the 4 KiB page written; a THP
// with a single mapping is made writable in place.
//
// Compaction leaves THPs alone (they already fill a pageblock);
// alloc_contig_range splits the ones in its way and migrates the pieces.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/memory.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

constexpr unsigned HPAGE_PMD_SHIFT = 21;
constexpr uint64_t HPAGE_PMD_SIZE = 1ull << HPAGE_PMD_SHIFT;
constexpr unsigned HPAGE_PMD_ORDER = 9;
constexpr uint64_t HPAGE_PMD_NR = 1ull << HPAGE_PMD_ORDER;

struct ThpStats {
  uint64_t huge_zero_mapped = 0;  // PMDs mapping the huge zero page now
  uint64_t reuse = 0;             // write faults that made a THP writable in place
  uint64_t deposits = 0;          // page tables deposited now
};

class HugeMemory {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Returns true when vma may get huge pages (the mode,
  // MADV_HUGEPAGE/NOHUGEPAGE, anonymous private).
  bool vma_allowable(const vm_area_struct* vma) const;
  // Returns true when the aligned 2 MiB range at haddr lies inside vma.
  static bool vma_suitable(const vm_area_struct* vma, uint64_t haddr) {
    return haddr >= vma->vm_start && haddr + HPAGE_PMD_SIZE <= vma->vm_end;
  }
  // Returns the gfp flags of a THP allocation for vma under
  // transparent_hugepage_defrag (Linux vma_thp_gfp_mask).
  gfp_t vma_thp_gfp_mask(const vm_area_struct* vma) const;

  // A fault on an empty PMD of an eligible VMA (Linux
  // do_huge_pmd_anonymous_page). Returns handled, oom, or fallback (map 4 KiB
  // pages instead).
  FaultResult do_huge_pmd_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr,
                                         uint64_t pmd_pa, bool write);
  // A write fault on a read-only huge PMD (Linux do_huge_pmd_wp_page).
  // Returns handled (made writable in place) or fallback (split: the PTE
  // level copies).
  FaultResult do_huge_pmd_wp_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa,
                                  uint64_t pmd);

  bool is_huge_zero_pfn(uint64_t pfn) const { return huge_zero_pfn_ != ~0ull && pfn == huge_zero_pfn_; }
  // Frees the huge zero page when nothing maps it (idle machine).
  void shrink_huge_zero_page(hal::Hal& h);

  // Splits the PMD at haddr into a page table (the caller holds the mm's
  // page_table_lock). The folio stays compound.
  void split_huge_pmd_locked(hal::Hal& h, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa, uint64_t pmd);
  // Splits the huge page mapped at addr (if any): its PMD here, then the
  // folio. mmap_lock held, no other lock.
  void split_huge_pmd_address(hal::Hal& h, vm_area_struct* vma, uint64_t addr);
  // Splits a THP into 4 KiB pages, splitting every PMD mapping it still has
  // first. No lock held. Returns 0, or -EBUSY when it is isolated or pinned.
  int split_huge_page(hal::Hal& h, page* head);

  // munmap & co.: clears a huge PMD wholly inside the range (page_table_lock held).
  void zap_huge_pmd(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa, uint64_t pmd);
  // fork: copies a huge PMD (write-protected in both). 0 or -ENOMEM.
  int copy_huge_pmd(hal::Hal& h, mm_struct* dst, mm_struct* src, uint64_t dst_pmd_pa, uint64_t src_pmd_pa,
                    uint64_t pmd, uint64_t addr, vm_area_struct* dvma);
  // mprotect: the PMD with new protection bits (page_table_lock held).
  void change_huge_pmd(hal::Hal& h, vm_area_struct* vma, uint64_t pmd_pa, uint64_t pmd, uint64_t newprot);
  // Installs a freshly collapsed THP (khugepaged): the caller holds the
  // page_table_lock and gives the deposit.
  void set_huge_pmd(hal::Hal& h, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa, page* head, uint64_t pt_pa);

  // Deposited page tables, kept in the PD table's struct page: deposit one
  // for the PMD at pmd_pa; withdraw returns the last one deposited (one must
  // be there).
  void pgtable_deposit(hal::Hal& h, uint64_t pmd_pa, uint64_t pt_pa);
  uint64_t pgtable_withdraw(hal::Hal& h, uint64_t pmd_pa);

  const ThpStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns the huge zero page, allocating it on first use, or nullptr.
  page* get_huge_zero_page(hal::Hal& h);

  MmContext* ctx_ = nullptr;
  page* huge_zero_page_ = nullptr;
  uint64_t huge_zero_pfn_ = ~0ull;
  ThpStats stats_;
};

}  // namespace fw
