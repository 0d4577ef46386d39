// Address spaces (Linux mm/mmap.c, mm/vma.c, arch/x86/mm/mmap.c): creating
// and destroying an mm_struct, the VMA tree (a red-black tree by address,
// augmented with the largest free gap below each node, plus the
// address-ordered list), mmap of anonymous memory — private, or shared
// (MAP_SHARED|MAP_ANONYMOUS: a shmem object, shared across fork) — and of
// hugetlb memory (MAP_HUGETLB with MAP_HUGE_2MB/MAP_HUGE_1GB or the
// default size; reserved at mmap), with top-down placement below mmap_base,
// hints, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_POPULATE, MAP_NORESERVE and
// merging with neighbours; munmap (splitting VMAs, freeing pages and page
// tables, shooting down TLBs).
//
// Placement aligns anonymous mappings whose length is a multiple of 2 MiB
// to 2 MiB unless THP is off (Linux >= 6.7 thp_get_unmapped_area), and
// hugetlb mappings to their page size.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct file;

struct MmapStats {
  uint64_t mmap_ok = 0;
  uint64_t mmap_failed = 0;
  uint64_t munmap_ok = 0;
  uint64_t munmap_failed = 0;
  uint64_t vma_merges = 0;
  uint64_t vma_splits = 0;
  uint64_t mm_created = 0;
  uint64_t mm_destroyed = 0;
  uint64_t populate_failed = 0;  // MAP_POPULATE that could not fault everything in
};

class Mmap {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // A new address space: a root table sharing the kernel half, a PCID, the
  // layout (mmap_base etc.). nullptr when out of memory.
  mm_struct* mm_alloc(hal::Hal& h);
  // Frees everything of mm (Linux exit_mmap + mmdrop). No task uses it.
  void mm_destroy(hal::Hal& h, mm_struct* mm);

  // The mmap system call (Linux do_mmap); f: the open file of fd (nullptr:
  // none, -EBADF unless MAP_ANONYMOUS). Returns the address, or -errno.
  int64_t do_mmap(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                  int64_t fd, uint64_t off, const file* f = nullptr);
  // The msync system call: MS_SYNC writes back the dirty pages of the
  // shared file mappings of [start, start + len) and waits (MS_ASYNC does
  // nothing, as on Linux). Returns 0, -EINVAL, -ENOMEM (a hole in the
  // range) or -EIO.
  int do_msync(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len, uint64_t flags);
  // The munmap system call (Linux do_vmi_munmap's checks). Returns 0, -EINVAL
  // for a bad range, or munmap_locked's error.
  int do_munmap(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len);
  // A driver's mmap of its own memory (Linux: an mmap handler calling
  // remap_pfn_range): a shared read-write VMA over physical [pa, pa+len),
  // mapped now, VM_PFNMAP | VM_IO | VM_DONTCOPY | VM_DONTEXPAND, vm_pgoff
  // the first frame. The pages stay the driver's: it marks them
  // PG_reserved, which zapping leaves alone; ctx->pfnmap_owner hears when
  // the VMA goes (whole: such a VMA is never split). Returns the address or
  // -ENOMEM.
  int64_t mmap_pfn(hal::Hal& h, mm_struct* mm, uint64_t pa, uint64_t len);
  // munmap with mmap_lock held (also MAP_FIXED's replacement). Returns 0,
  // -EINVAL (a hugetlb range not aligned to its page size) or -ENOMEM (no
  // memory to split a VMA).
  int munmap_locked(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end);

  // The first VMA with vm_end > addr, or nullptr (Linux find_vma): O(log n).
  // The caller holds mmap_lock.
  vm_area_struct* find_vma(mm_struct* mm, uint64_t addr);
  // Returns the VMA before (after) v in address order, or nullptr;
  // vma_prev(mm, nullptr) is the last VMA.
  static vm_area_struct* vma_prev(mm_struct* mm, vm_area_struct* v);
  static vm_area_struct* vma_next(mm_struct* mm, vm_area_struct* v);
  // Calls f(vma) in address order; f returns false to stop.
  template <typename F>
  void for_each_vma(mm_struct* mm, F&& f) {
    for (list_head* p = mm->mmap.next; p != &mm->mmap;) {
      list_head* next = p->next;  // f may not remove the VMA, but keep walks robust
      if (!f(list_entry(p, vm_area_struct, vm_list))) break;
      p = next;
    }
  }

  // Splits vma at addr (Linux split_vma): vma keeps [start, addr), a new
  // VMA after it gets [addr, end). 0, -ENOMEM or -EINVAL (hugetlb: addr
  // not aligned to the page size).
  int split_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr);
  // Gives [start, end) of vma (which covers it) new vm_flags, splitting as
  // needed and merging with alike neighbours afterwards (Linux
  // vma_modify_flags). Returns the VMA now holding start, or nullptr with *err.
  vm_area_struct* vma_modify_flags(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end,
                                   uint64_t new_flags, int* err);
  // MAP_POPULATE / MADV_POPULATE_*: faults [start, end) in (mmap_lock
  // held). 0, -ENOMEM (a hole or no memory), -EFAULT, -EINVAL.
  int populate(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, bool write, bool madvise);

  // Red-black tree and gap checks, for tests: the first broken invariant, nullptr when none.
  const char* validate(mm_struct* mm);
  // Inserts a VMA (fork's copies): tree, list, gaps, map_count.
  void vma_link(mm_struct* mm, vm_area_struct* vma);

  const MmapStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // The second half of do_mmap, with mmap_lock held and [addr, addr+len)
  // free (Linux mmap_region): the VMA (merged or new), its shared object or
  // hugetlb reservation, accounting, MAP_POPULATE. Returns addr or -errno.
  int64_t mmap_region(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                      unsigned huge_shift, const file* f, uint64_t pgoff);
  // Extends the private anonymous VMA before or after [addr, end) over it
  // when alike, joining both neighbours when they become one (Linux
  // vma_merge_new_range). Returns the VMA now covering the range, or
  // nullptr when nothing could merge.
  vm_area_struct* vma_merge_new_range(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t end, uint64_t vm_flags);
  // Returns where a mapping of len bytes goes: the hint (or MAP_FIXED's
  // address) when usable, else a top-down then bottom-up search, aligned to
  // align; or -ENOMEM, -EINVAL, -EPERM (Linux get_unmapped_area). Without a
  // hint above 2^47 it stays below 2^47 even with 5-level paging; such a
  // hint opens the whole 56-bit user space (x86 LA57).
  int64_t get_unmapped_area(mm_struct* mm, uint64_t addr, uint64_t len, uint64_t flags, uint64_t align);
  // Return the highest (lowest) align-aligned start of a free gap of len
  // bytes in [low, high), or ~0 when none (Linux unmapped_area_topdown /
  // unmapped_area).
  uint64_t unmapped_area_topdown(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high, uint64_t align);
  uint64_t unmapped_area_bottomup(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high, uint64_t align);
  // Returns true when a VMA overlaps [start, end).
  bool intersects(mm_struct* mm, uint64_t start, uint64_t end);
  void vma_unlink(mm_struct* mm, vm_area_struct* vma);
  void vma_gap_update(vm_area_struct* vma);
  void vma_set_end(mm_struct* mm, vm_area_struct* vma, uint64_t end);
  void vma_set_start(mm_struct* mm, vm_area_struct* vma, uint64_t start);
  // Returns true when b directly follows a and is alike enough to become one
  // VMA with it.
  bool can_merge(const vm_area_struct* a, const vm_area_struct* b) const;
  // Merges vma's next neighbour into it when they can merge. Returns vma.
  vm_area_struct* try_merge_next(hal::Hal& h, mm_struct* mm, vm_area_struct* vma);
  void remove_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma);
  void release_vma(hal::Hal& h, vm_area_struct* vma);

  MmContext* ctx_ = nullptr;
  uint64_t next_mm_id_ = 1;
  MmapStats stats_;
};

}  // namespace fw
