// Page-fault handling and unmapping (Linux mm/memory.c with the x86 entry
// of arch/x86/mm/fault.c): find the VMA, check the access against it,
// demand-page anonymous memory (reads of untouched private memory map the
// shared zero page read-only; writes get a zeroed page), copy-on-write
// (the zero page and pages shared after fork are copied on write; a page
// with a single owner is reused in place), shared anonymous memory from its
// object, hugetlb and transparent huge pages through their subsystems;
// zapping PTEs with the pages dropped only after the TLB flush (mmu_gather),
// freeing page tables no longer needed.
//
// Locking: the caller's mmap_lock covers the VMA set; every page-table
// change holds the mm's page_table_lock, which the reverse-map side
// (migration, THP splits) takes too. Pages and tables are allocated before
// taking it (an allocation may compact, and compaction takes it).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

enum class FaultKind : uint8_t {
  handled,         // a page was mapped (or made writable)
  spurious,        // the PTE already allowed the access (stale TLB)
  sigsegv_maperr,  // no mapping at the address
  sigsegv_accerr,  // the mapping forbids the access
  sigbus,          // the page tables could not be read (memory error), no hugetlb page
  oom,             // no memory for the page or a page table
  bad_pgtable,     // reserved bit set in a paging entry
  kernel_mode,     // a supervisor-mode fault on a user address
  fallback,        // (internal) a huge-page path gave up: map 4 KiB pages
  hwpoison,        // the entry names a page memory_failure() retired (VM_FAULT_HWPOISON[_LARGE]): SIGBUS BUS_MCEERR_AR
};

struct FaultResult {
  FaultKind kind;
  const char* reason;  // one-line explanation for the log
  uint8_t lsb = 0;     // hwpoison: log2 of the poisoned extent (si_addr_lsb: 12, or a huge page's 21/30)
};

struct FaultStats {
  uint64_t faults = 0;
  uint64_t anon = 0;        // pages demand-allocated
  uint64_t zero_page = 0;   // reads that mapped the zero page
  uint64_t cow = 0;         // copy-on-write copies (of the zero page too)
  uint64_t reuse = 0;       // write faults that kept the page (sole owner)
  uint64_t shmem = 0;       // shared-memory pages mapped
  uint64_t spurious = 0;
  uint64_t write_upgrade = 0;  // write faults that made a present page writable
  uint64_t maperr = 0;
  uint64_t accerr = 0;
  uint64_t sigbus = 0;
  uint64_t oom = 0;
  uint64_t bad_pgtable = 0;
  uint64_t kernel_mode = 0;
  uint64_t migration_wait = 0;  // faults on a page under migration
  uint64_t populated = 0;       // pages faulted in by MAP_POPULATE / MADV_POPULATE_*
};

// PTE bits of a mapping with these vm_flags (Linux's protection_map for
// x86: private writable mappings are read-only until written).
uint64_t vm_get_page_prot(uint64_t vm_flags, bool nx);

// Linux's mmu_gather: entries cleared are flushed from every TLB before the
// pages they mapped are released, in batches of what one page of pointers
// holds.
class ZapGather {
 public:
  static constexpr unsigned kBatch = 510;  // Linux MAX_GATHER_BATCH
  ZapGather(MmContext* ctx, mm_struct* mm) : ctx_(ctx), mm_(mm) {}
  // An entry of 2^shift bytes at va was cleared.
  void cleared(uint64_t va, unsigned shift);
  // A reference to drop once the flush is done.
  void defer_put(hal::Hal& h, page* p);
  // Flushes what was cleared since the last flush, then drops the pages.
  void flush(hal::Hal& h);
  bool pending() const { return end_ > start_; }
  bool freed_tables = false;
  bool no_flush = false;  // teardown: the mm is loaded nowhere
  uint64_t entries = 0;

 private:
  void release(hal::Hal& h);
  MmContext* ctx_;
  mm_struct* mm_;
  uint64_t start_ = ~0ull, end_ = 0;
  unsigned min_shift_ = 64, max_shift_ = 0;
  page* batch_[kBatch];
  unsigned nr_ = 0;
};

class Memory {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot: the shared zero page. Returns false when out of memory.
  bool init_zero_page(hal::Hal& h);
  uint64_t zero_pfn() const { return zero_pfn_; }
  bool is_zero_pfn(uint64_t pfn) const { return pfn == zero_pfn_; }

  // The fault of a user access at addr with the x86 error code (Linux
  // handle_mm_fault via do_user_addr_fault). Returns what became of it:
  // handled or spurious (retry the access), or why the task gets a signal.
  FaultResult handle_fault(hal::Hal& h, mm_struct* mm, uint64_t addr, uint32_t error_code);
  // The same with mmap_lock held and vma found and checked. Returns as
  // handle_fault.
  FaultResult fault_locked(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, bool write);

  // Faults [start, end) of vma in, as a read or a write would (Linux
  // populate_vma_page_range / faultin_page_range); mmap_lock held.
  // 0, -ENOMEM (no memory) or -EFAULT (SIGBUS-like failure).
  int populate_range(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, bool write);

  // Clears the entries of [start, end) within vma (Linux zap_page_range
  // for one VMA), handing the pages to g. Huge pages straddling the ends
  // must have been split by the caller. Returns the present huge leaves
  // cleared for hugetlb VMAs (reservation accounting), else 0.
  uint64_t zap_vma_range(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t start, uint64_t end);
  // Unmaps [start, end) of the VMAs on `vmas` (detached from mm, linked by
  // vm_list; Linux unmap_region): zaps, unlinks the VMAs from the reverse
  // maps, frees the page tables that only covered [floor, ceiling), flushes
  // the TLB once and then drops the pages.
  void unmap_region(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t floor, uint64_t ceiling,
                    list_head* vmas);
  // MADV_DONTNEED: zaps [start, end) of one VMA, flushes, frees.
  void zap_page_range(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end);
  // Teardown of a whole address space (mm no longer loaded anywhere):
  // zap every VMA; then, after the VMAs are unlinked, free every table.
  void exit_mmap_tables(hal::Hal& h, mm_struct* mm);
  void free_all_pgtables(hal::Hal& h, mm_struct* mm);

  FaultStats& stats() { return stats_; }
  const FaultStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // The fault on an empty PTE of a private anonymous VMA: the zero page for a
  // read, a new zeroed page for a write (Linux do_anonymous_page). Returns
  // handled, spurious (mapped meanwhile), sigbus or oom.
  FaultResult do_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                bool write);
  // __do_fault's check: the object's page is poisoned (memory_failure()
  // kept it, as shmem does): drops the fault's reference. Returns hwpoison.
  FaultResult hwpoison_page(hal::Hal& h, page* p);
  // The fault on an empty PTE of a shared-memory VMA: maps the object's page,
  // allocating it (Linux do_shared_fault). Returns handled, spurious, sigbus
  // or oom.
  FaultResult do_shared_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                              bool write);
  // Maps p (the caller's reference becomes the mapping's) of a shared
  // object or file at the empty PTE at pte_pa; false (p released) when the
  // entry was filled meanwhile.
  bool map_object_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t pte_pa, page* p, bool write);
  // The fault on an empty PTE of a file mapping: the page-cache page
  // (filemap_fault, readahead around it), mapped as the VMA allows; a write
  // to a private mapping maps a copy (do_read_fault / do_shared_fault /
  // do_cow_fault). Returns handled, spurious, sigbus (EIO, beyond the end)
  // or oom.
  FaultResult do_file_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                            bool write);
  // A write to a present read-only PTE: makes a shared or sole-owner page
  // writable in place, else copies (Linux do_wp_page). Returns handled,
  // spurious (changed meanwhile), sigbus or wp_page_copy's result.
  FaultResult do_wp_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                         uint64_t pte);
  // Copy-on-write of src (nullptr: the zero page) into a new page mapped
  // writable in place of pte, which maps old (nullptr: the zero page or
  // nothing) (Linux wp_page_copy). Returns handled, spurious, sigbus (src
  // holds poison) or oom.
  FaultResult wp_page_copy(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                           uint64_t pte, page* old, page* src);
  // The fault on a swap PTE (Linux do_swap_page): the page from the swap
  // cache, or read with readahead (a major fault); mapped, the PTE's slot
  // reference dropped, writable at once for a write to an exclusive page,
  // the slot freed when swap is full or the page is written. Returns
  // handled, spurious (the entry changed), sigbus (read error, bad entry)
  // or oom.
  FaultResult do_swap_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                           uint64_t pte, bool write);
  // Returns an oom result with why as its reason (counted).
  FaultResult oom(const char* why);
  void zap_pte_table(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t table, uint64_t base, uint64_t start,
                     uint64_t end);
  void zap_level(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t table, unsigned level, uint64_t base,
                 uint64_t start, uint64_t end);

  MmContext* ctx_ = nullptr;
  uint64_t zero_pfn_ = ~0ull;
  FaultStats stats_;
};

}  // namespace fw
