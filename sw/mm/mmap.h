// Address spaces (Linux mm/mmap.c, mm/vma.c, arch/x86/mm/mmap.c): creating
// and destroying an mm_struct, the VMA list, mmap of anonymous private
// memory (top-down placement below mmap_base, hints, MAP_FIXED,
// MAP_FIXED_NOREPLACE, merging with neighbours) and munmap (splitting VMAs,
// freeing pages and page tables, flushing the TLB).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct MmapStats {
  uint64_t mmap_ok = 0;
  uint64_t mmap_failed = 0;
  uint64_t munmap_ok = 0;
  uint64_t munmap_failed = 0;
  uint64_t vma_merges = 0;
  uint64_t vma_splits = 0;
  uint64_t mm_created = 0;
  uint64_t mm_destroyed = 0;
};

class Mmap {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A new address space: a root table sharing the kernel half, a PCID, the
  // layout (mmap_base etc.). nullptr when out of memory.
  mm_struct* mm_alloc(hal::Hal& h);
  // Frees everything of mm (Linux exit_mmap + mmdrop).
  void mm_destroy(hal::Hal& h, mm_struct* mm);

  // The mmap and munmap system calls: address or -errno.
  int64_t do_mmap(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                  int64_t fd, uint64_t off);
  int do_munmap(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len);

  // The first VMA with vm_end > addr, or nullptr (Linux find_vma). The
  // caller holds mmap_lock.
  vm_area_struct* find_vma(mm_struct* mm, uint64_t addr);
  // Calls f(vma) in address order; f returns false to stop.
  template <typename F>
  void for_each_vma(mm_struct* mm, F&& f) {
    for (list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next)
      if (!f(list_entry(p, vm_area_struct, vm_list))) break;
  }

  const MmapStats& stats() const { return stats_; }

 private:
  int64_t get_unmapped_area(mm_struct* mm, uint64_t addr, uint64_t len, uint64_t flags);
  uint64_t unmapped_area_topdown(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high);
  uint64_t unmapped_area_bottomup(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high);
  bool intersects(mm_struct* mm, uint64_t start, uint64_t end);
  int munmap_locked(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end);
  int split_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr);
  void insert_vma(mm_struct* mm, vm_area_struct* vma);
  void remove_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma);

  MmContext* ctx_ = nullptr;
  uint64_t next_mm_id_ = 1;
  MmapStats stats_;
};

}  // namespace fw
