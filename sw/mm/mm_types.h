// The address-space types (Linux include/linux/mm_types.h): mm_struct per
// process and vm_area_struct per mapping. Both are allocated from object
// caches in simulated DRAM.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
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
constexpr uint64_t VM_NORESERVE = 0x200000;
constexpr uint64_t VM_ACCOUNT = 0x100000;
constexpr uint64_t VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;

struct mm_struct;
struct anon_vma;

struct vm_area_struct {
  uint64_t vm_start;  // first address
  uint64_t vm_end;    // first address after
  list_head vm_list;  // in mm->mmap, sorted by address
  mm_struct* vm_mm;
  uint64_t vm_flags;
  uint64_t vm_page_prot;  // PTE bits for pages of this mapping (no frame)
  uint64_t vm_pgoff;      // anonymous: vm_start >> PAGE_SHIFT (keeps merges honest)
  // Reverse map (mm/rmap.c): the anon_vma new anonymous pages of this VMA
  // point to, and the chain linking this VMA to every anon_vma its pages
  // may belong to (its own and, after fork, its ancestors').
  fw::anon_vma* anon_vma;
  list_head anon_vma_chain;
};

struct mm_struct {
  list_head mmap;       // VMAs in address order (issue 6: an ordered tree)
  vm_area_struct* mmap_cache;  // last find_vma hit
  int map_count;
  uint64_t pgd;         // physical address of the root table
  uint16_t pcid;        // 0 when PCIDs are off or exhausted
  uint64_t id;          // unique per Kernel, never reused

  // TLB generation: bumped whenever this mm's translations change in a way
  // that needs a flush. cpu_tlb_gen[c] is the generation CPU c's TLB holds
  // for this PCID (0: never loaded there), so a switch may keep the TLB
  // (CR3 NOFLUSH) exactly when they match.
  uint64_t tlb_gen;
  uint64_t cpu_tlb_gen[hal::kMaxCpus];
  uint64_t cpu_mask;    // CPUs with this mm loaded in CR3

  uint64_t mmap_base;       // top of the top-down mmap area
  uint64_t mmap_legacy_base;  // bottom-up fallback base
  uint64_t task_size;       // end of the user address space

  uint64_t total_vm;        // pages mapped by VMAs
  uint64_t rss_anon;        // anonymous pages present
  uint64_t hiwater_rss;
  uint64_t committed;       // pages of private writable mappings (Committed_AS)
  uint64_t pgtables;        // page-table pages (root included)

  SpinLock mmap_lock;
};

}  // namespace fw
