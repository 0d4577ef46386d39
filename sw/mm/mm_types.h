// The address-space types (Linux include/linux/mm_types.h): mm_struct per
// process (shared by its threads) and vm_area_struct per mapping. Both are
// allocated from object caches in simulated DRAM.
//
// VMAs of an mm sit in a red-black tree by address (find_vma in O(log n)),
// augmented with the largest free gap below each node (get_unmapped_area
// in O(log n), Linux's rb_subtree_gap before the maple tree), and on an
// address-ordered list for walks (Linux's vm_next/vm_prev).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/rbtree.h"
#include "sw/lib/spinlock.h"

namespace fw {

// vm_flags (Linux's values).
constexpr uint64_t VM_NONE = 0x0;
constexpr uint64_t VM_READ = 0x1;
constexpr uint64_t VM_WRITE = 0x2;
constexpr uint64_t VM_EXEC = 0x4;
constexpr uint64_t VM_SHARED = 0x8;
constexpr uint64_t VM_MAYREAD = 0x10;
constexpr uint64_t VM_MAYWRITE = 0x20;
constexpr uint64_t VM_MAYEXEC = 0x40;
constexpr uint64_t VM_MAYSHARE = 0x80;
constexpr uint64_t VM_GROWSDOWN = 0x100;
constexpr uint64_t VM_PFNMAP = 0x400;  // a driver's memory mapped by frame (remap_pfn_range): no struct page use
constexpr uint64_t VM_LOCKED = 0x2000;  // mlock: pages stay resident (unevictable)
constexpr uint64_t VM_IO = 0x4000;
constexpr uint64_t VM_DONTCOPY = 0x20000;
constexpr uint64_t VM_DONTEXPAND = 0x40000;
constexpr uint64_t VM_LOCKONFAULT = 0x80000;  // mlock2(MLOCK_ONFAULT): lock pages as they fault in
constexpr uint64_t VM_ACCOUNT = 0x100000;
constexpr uint64_t VM_NORESERVE = 0x200000;
constexpr uint64_t VM_HUGETLB = 0x400000;
constexpr uint64_t VM_HUGEPAGE = 0x20000000;    // MADV_HUGEPAGE
constexpr uint64_t VM_NOHUGEPAGE = 0x40000000;  // MADV_NOHUGEPAGE
constexpr uint64_t VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

struct mm_struct;
struct anon_vma;
struct address_space;

struct vm_area_struct {
  uint64_t vm_start;  // first address
  uint64_t vm_end;    // first address after
  rb_node vm_rb;      // in mm->mm_rb, by address
  uint64_t rb_subtree_gap;  // the largest gap before any VMA of this subtree
  list_head vm_list;  // in mm->mmap, sorted by address
  mm_struct* vm_mm;
  uint64_t vm_flags;
  uint64_t vm_page_prot;  // PTE bits for pages of this mapping (no frame)
  // Anonymous: vm_start >> PAGE_SHIFT at creation (keeps merges honest).
  // Shared object: the offset into it, in 4 KiB pages.
  uint64_t vm_pgoff;
  // Reverse map (mm/rmap.c): the anon_vma new anonymous pages of this VMA
  // point to, and the chain linking this VMA to every anon_vma its pages
  // may belong to (its own and, after fork, its ancestors').
  fw::anon_vma* anon_vma;
  list_head anon_vma_chain;
  // MAP_SHARED anonymous memory and hugetlb mappings: the object behind the
  // mapping (Linux's vm_file->f_mapping), with this VMA on its i_mmap list.
  address_space* vm_obj;
  list_head shared_link;
  // hugetlb: the huge page size (log2), and for private mappings the pages
  // reserved at mmap and not yet faulted in (Linux's resv_map, as a count),
  // and whether this VMA owns them (the one mmap made, not a fork's copy).
  uint8_t huge_shift;
  bool resv_owner;
  uint64_t resv_pages;
};

struct mm_struct {
  rb_root mm_rb;        // VMAs by address
  list_head mmap;       // VMAs in address order
  vm_area_struct* mmap_cache;  // last find_vma hit
  int map_count;
  uint64_t highest_vm_end;
  uint64_t pgd;         // physical address of the root table
  uint16_t pcid;        // 0 when PCIDs are off or exhausted
  uint64_t id;          // unique per Kernel, never reused
  int mm_users;         // tasks (threads) using it; the last one tears it down

  // TLB generation: bumped whenever this mm's translations change in a way
  // that needs a flush. cpu_tlb_gen[c] is the generation CPU c's TLB holds
  // for this PCID (0: never loaded there), so a switch may keep the TLB
  // (CR3 NOFLUSH) exactly when they match.
  uint64_t tlb_gen;
  uint64_t cpu_tlb_gen[hal::kMaxCpus];
  uint64_t cpu_mask;    // CPUs with this mm loaded in CR3 (running or lazy)

  uint64_t mmap_base;       // top of the top-down mmap area
  uint64_t mmap_legacy_base;  // bottom-up fallback base
  uint64_t task_size;       // end of the user address space

  uint64_t total_vm;        // pages mapped by VMAs
  uint64_t rss_anon;        // anonymous pages present (4 KiB units)
  uint64_t rss_shmem;       // shared-memory pages present
  uint64_t rss_huge;        // hugetlb memory present, 4 KiB units
  uint64_t swapents;        // swap entries in its page tables (Linux MM_SWAPENTS: VmSwap, oom_badness)
  uint64_t hiwater_rss;
  uint64_t committed;       // pages of private writable mappings (Committed_AS)
  uint64_t pgtables;        // page-table pages (root and deposits included)

  // khugepaged: on its scan list (Linux's mm_slot), and where the scan of
  // this mm stopped.
  list_head khugepaged_link;
  bool khugepaged_registered;
  uint8_t oom_flags;  // MMF_OOM_* (sw/mm/oom_kill.h)
  uint64_t khugepaged_scan_address;

  // mmap_lock: the VMA set and the faults of this mm (Linux takes it shared
  // for faults; here it is exclusive). page_table_lock: every change to the
  // page tables, also by those who reach them through the reverse map
  // (migration, THP splits) without mmap_lock.
  SpinLock mmap_lock;
  SpinLock page_table_lock;
};

}  // namespace fw
