// hugetlbfs (Linux mm/hugetlb.c): pools of 2 MiB and 1 GiB pages per node,
// made at boot (hugepages_2m / hugepages_1g, spread round-robin over the
// nodes as Linux's hugepages= does; 1 GiB pages by a contiguous-range
// allocation, alloc_contig_pages, before memory fragments), mapped by PD or
// PDPT leaves.
//
// Counters as Linux's: nr (pages in the pool), free, resv (promised to
// mappings, not yet faulted) and surplus (taken from the buddy allocator
// beyond the pool, up to nr_overcommit_hugepages; never for 1 GiB pages).
// free >= resv always. A mapping reserves its pages at mmap (gathering
// surplus pages when the pool is short, else mmap fails with ENOMEM), so
// its faults never fail for lack of a page:
// - private mappings: the VMA counts its reserved pages (resv_pages); a
//   fault consumes one; MADV_DONTNEED gives the page back and reserves
//   again (Linux >= 6.9); munmap releases what the range held. A fork's
//   copy has no reservation (its faults and copy-on-write may fail with
//   SIGBUS, as on Linux).
// - shared mappings: the object (sw/mm/shmem.h) holds the reservation.
//
// Pages are compound (order 9 or 18) with COMPOUND_HUGETLB; a free page
// has refcount 0 and sits on its node's free list; a page whose last
// reference goes returns to the pool (or to the buddy allocator when the
// node has surplus pages).
//
// Memory errors (sw/mm/memory_failure*.cpp): a folio holding an error has
// PG_hwpoison on its head, and each bad 4 KiB page is marked too (a tail
// by its own PG_hwpoison, the head by COMPOUND_HWP_RAW_HEAD). Such a folio
// leaves the pool when it is freed: it is dissolved into the buddy
// allocator, whose free path keeps the bad pages out (PageAlloc's
// free_poisoned), and the pool shrinks by one.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/memory.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

constexpr unsigned HUGE_MAX_HSTATE = 2;

struct hstate {
  unsigned shift;   // 21 or 30
  unsigned order;   // shift - PAGE_SHIFT
  const char* name; // "2M", "1G" (statistics)
  unsigned size_kb;
  uint64_t max_huge_pages;  // asked for at boot
  uint64_t nr_huge_pages;
  uint64_t free_huge_pages;
  uint64_t resv_huge_pages;
  uint64_t surplus_huge_pages;
  uint64_t nr_overcommit_huge_pages;
  uint64_t nr_huge_pages_node[hal::kMaxNodes];
  uint64_t free_huge_pages_node[hal::kMaxNodes];
  uint64_t surplus_huge_pages_node[hal::kMaxNodes];
  list_head hugepage_freelists[hal::kMaxNodes];
  // Statistics.
  uint64_t faults = 0;          // faults that mapped a page
  uint64_t cow = 0;             // copy-on-write copies
  uint64_t reuse = 0;           // write faults on a private page that kept it
  uint64_t fault_sigbus = 0;    // faults with no page to give
  uint64_t reserve_failed = 0;  // mmaps refused (ENOMEM)
  uint64_t boot_failed = 0;     // boot pages that could not be allocated
  uint64_t surplus_allocs = 0;
};

class Hugetlb {
 public:
  void init(MmContext* ctx);

  // Boot, once the page allocator runs: the pools from the parameters.
  void boot(hal::Hal& h);

  // The hstate of a page size (log2), nullptr when there is none.
  hstate* hstate_of(unsigned shift);
  const hstate& hs(unsigned i) const { return hstates_[i]; }
  // Every pool's counters under "<prefix>.<size>." (2M, 1G), with
  // the per-node pools.
  void visit_stats(StatVisitor& v, const char* prefix) const;
  // Returns the default size (default_hugepagesz) as a shift.
  unsigned default_shift() const;
  // Returns the shift MAP_HUGETLB's size bits (MAP_HUGE_2MB...) ask for, the
  // default size's without them, 0 when unsupported.
  unsigned shift_from_mmap_flags(uint64_t flags) const;

  // Reservations (Linux hugetlb_acct_memory): 0 or -ENOMEM.
  int reserve(hal::Hal& h, unsigned shift, uint64_t pages);
  void unreserve(hal::Hal& h, unsigned shift, uint64_t pages);

  // A huge page with refcount 1 (not zeroed): from the reservation (which
  // must be there), or else from what is free beyond the reservations, or
  // as a surplus page. nullptr when none.
  page* alloc_huge_page(hal::Hal& h, hstate* hs, bool reserved);
  // The last reference went (PageAlloc::put_page): back to the pool.
  void free_huge_folio(hal::Hal& h, page* head);

  // A fault on a hugetlb VMA (Linux hugetlb_fault). Returns handled,
  // spurious, sigbus (no huge page to give, poison) or oom.
  FaultResult hugetlb_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, bool write);
  // Faults [start, end) in (MAP_POPULATE, MADV_POPULATE_*): 0 or -errno.
  int populate(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, bool write);
  // Returns the present huge leaves of vma in [start, end).
  uint64_t count_present(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end);
  // fork: copies the leaves of a private or shared hugetlb VMA (private
  // ones write-protected in both). 0 or -ENOMEM.
  int copy_hugetlb_page_range(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma,
                              vm_area_struct* svma);
  // mprotect: new protection bits on every leaf of [start, end).
  void change_protection(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end, uint64_t newprot);

  // ---- memory errors (Linux mm/hugetlb.c and mm/memory-failure.c) ----
  // Returns true when head is a free pool page (Linux folio_test_hugetlb_freed).
  bool folio_is_free(hal::Hal& h, page* head);
  // Dissolves a free pool page into the buddy allocator: the pool shrinks
  // by one (nr_hugepages, the boot count), bad 4 KiB pages stay out.
  // Returns 0 when dissolved or head is no hugetlb page, -EBUSY when it is
  // in use or every free page is promised to a reservation (Linux
  // dissolve_free_hugetlb_folio).
  int dissolve_free_hugetlb_folio(hal::Hal& h, page* head);
  // Unmaps every mapping of a poisoned folio: each leaf becomes a hwpoison
  // entry naming the head's pfn, whose next touch is SIGBUS BUS_MCEERR_AR
  // with lsb 21 or 30; a dirty leaf marks the folio dirty. Returns true
  // when no mapping is left (Linux try_to_unmap with TTU_HWPOISON).
  bool unmap_poisoned_folio(hal::Hal& h, page* head);
  // Soft offline: copies an in-use folio (private, or in a shared object,
  // whose slot it takes) to a new huge page and points every mapping at
  // it, invisibly to its users; the old folio keeps only the caller's
  // reference. Returns 0, -ENOMEM (no huge page to move to),
  // or -EBUSY (copying met poison, or the page changed meanwhile) (Linux
  // migrate_pages of a hugetlb folio, MR_MEMORY_FAILURE).
  int migrate_hugetlb_folio(hal::Hal& h, page* head);

  // Returns the memory of every size's pool in KiB (meminfo Hugetlb).
  uint64_t total_kb() const;
  // Returns the default size's hstate.
  const hstate* default_hstate() const;

 private:
  // Returns a free pool page with refcount 1, node nid's first, or nullptr
  // (Linux dequeue_hugetlb_folio_node_exact); a poisoned free page is
  // never given (*skipped_poison set). lock_ held.
  page* dequeue(hal::Hal& h, hstate* hs, int nid, bool* skipped_poison = nullptr);
  // Takes head out of the pool's counters (Linux remove_hugetlb_folio);
  // `free`: it was on a free list. lock_ held.
  void remove_hugetlb_folio(hstate* hs, page* head, bool free);
  // Gives a page out of the pool to the buddy allocator, its bad pages kept
  // out (Linux update_and_free_hugetlb_folio with folio_clear_hugetlb_hwpoison).
  void update_and_free(hal::Hal& h, hstate* hs, page* head);
  // A hwpoison leaf, or a poisoned page in the object: the fault's answer
  // (VM_FAULT_HWPOISON_LARGE).
  static FaultResult hwpoison_fault(const hstate* hs, const char* why);
  void enqueue(hstate* hs, page* head);
  // Returns a new huge page from the page allocator (gigantic ones only at
  // boot, from alloc_contig_pages), not yet in the pool, or nullptr (Linux
  // alloc_fresh_hugetlb_folio).
  page* alloc_fresh(hal::Hal& h, hstate* hs, int nid, bool boot);
  // Returns a surplus huge page within nr_overcommit_hugepages, counted, or
  // nullptr (Linux alloc_surplus_hugetlb_folio).
  page* alloc_surplus(hal::Hal& h, hstate* hs, int nid);
  // Adds delta surplus pages to the free pool for a reservation (Linux
  // gather_surplus_pages). Returns 0 or -ENOMEM.
  int gather_surplus_pages(hal::Hal& h, hstate* hs, uint64_t delta);
  void return_unused_surplus_pages(hal::Hal& h, hstate* hs);
  void prep_new_hugetlb_folio(page* head, unsigned order);
  // A write to a read-only huge leaf: reuse in place or copy (Linux
  // hugetlb_wp). Returns handled, spurious, sigbus or oom.
  FaultResult hugetlb_wp(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, hstate* hs, uint64_t haddr,
                         uint64_t entry_pa, uint64_t entry);
  // Zeroes a huge page through the HAL. Returns false when it holds poison.
  bool zero_huge_page(hal::Hal& h, page* p, hstate* hs);

  MmContext* ctx_ = nullptr;
  hstate hstates_[HUGE_MAX_HSTATE] = {};
  SpinLock lock_;  // hugetlb_lock: the pools and counters
};

}  // namespace fw
