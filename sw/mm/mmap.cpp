#include "sw/mm/mmap.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/memory.h"
#include "sw/mm/mman.h"
#include "sw/mm/rmap.h"
#include "sw/mm/slub.h"
#include "sw/mm/page.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/tlb.h"

namespace fw {

namespace {

constexpr uint64_t kStackRlimit = 8ull << 20;            // RLIMIT_STACK default
constexpr uint64_t kStackGuardGap = 256ull << PAGE_SHIFT;  // stack_guard_gap
constexpr uint64_t kMinGap = 128ull << 20;
// The 47-bit window mmap places into unless a hint asks for more (LA57).
constexpr uint64_t kDefaultMapWindow = (1ull << 47) - PAGE_SIZE;

uint64_t calc_vm_prot_bits(uint64_t prot) {
  return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
         ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

uint64_t vma_pages(const vm_area_struct* v) { return (v->vm_end - v->vm_start) >> PAGE_SHIFT; }

}  // namespace

mm_struct* Mmap::mm_alloc(hal::Hal& h) {
  mm_struct* mm = static_cast<mm_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->mm_cachep, GFP_KERNEL));
  if (!mm) return nullptr;
  PgTable& pt = *ctx_->pgtable;
  mm->pgd = pt.alloc_table(h, false);
  if (!mm->pgd) {
    ctx_->slab->kmem_cache_free(h, ctx_->mm_cachep, mm);
    return nullptr;
  }
  // Share the kernel half: copy the kernel root's upper entries (Linux
  // pgd_ctor). Kernel tables below them are never freed, so the copies
  // stay valid.
  const uint64_t kroot = ctx_->tlb->kernel_root();
  for (unsigned i = x86::PT_ENTRIES / 2; i < x86::PT_ENTRIES; ++i) {
    uint64_t e;
    if (pt.read_entry(h, kroot + 8ull * i, &e) && e) pt.write_entry(h, mm->pgd + 8ull * i, e);
  }
  INIT_LIST_HEAD(&mm->mmap);
  mm->pgtables = 1;
  mm->pcid = ctx_->tlb->alloc_pcid();
  mm->id = next_mm_id_++;
  mm->tlb_gen = 1;  // cpu_tlb_gen[] == 0: never loaded anywhere
  mm->task_size = pt.user_top() - PAGE_SIZE;
  // Linux's mmap_base() without randomization: below the stack rlimit plus
  // the guard gap, at least 128 MiB and at most 5/6 of the space.
  const uint64_t window = min(kDefaultMapWindow, mm->task_size);
  uint64_t gap = kStackRlimit + kStackGuardGap;
  gap = max(gap, kMinGap);
  gap = min(gap, window / 6 * 5);
  mm->mmap_base = align_up(window - gap, PAGE_SIZE);
  mm->mmap_legacy_base = align_up(window / 3, PAGE_SIZE);  // TASK_UNMAPPED_BASE
  ++stats_.mm_created;
  return mm;
}

void Mmap::mm_destroy(hal::Hal& h, mm_struct* mm) {
  // Linux exit_mmap's order: zap every page, unlink the VMAs from the
  // reverse map, then free the page tables and the VMAs.
  ctx_->tlb->drop_mm(h, mm);
  ctx_->memory->exit_mmap_tables(h, mm);
  for_each_vma(mm, [&](vm_area_struct* v) {
    ctx_->rmap->unlink_anon_vmas(h, v);
    return true;
  });
  ctx_->memory->free_all_pgtables(h, mm);
  while (!list_empty(&mm->mmap)) {
    vm_area_struct* v = list_first_entry(&mm->mmap, vm_area_struct, vm_list);
    remove_vma(h, mm, v);
  }
  ctx_->tlb->free_pcid(mm->pcid);
  ctx_->slab->kmem_cache_free(h, ctx_->mm_cachep, mm);
  ++stats_.mm_destroyed;
}

vm_area_struct* Mmap::find_vma(mm_struct* mm, uint64_t addr) {
  vm_area_struct* c = mm->mmap_cache;
  if (c && c->vm_start <= addr && addr < c->vm_end) return c;
  for (list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next) {
    vm_area_struct* v = list_entry(p, vm_area_struct, vm_list);
    if (v->vm_end > addr) {
      mm->mmap_cache = v;
      return v;
    }
  }
  return nullptr;
}

bool Mmap::intersects(mm_struct* mm, uint64_t start, uint64_t end) {
  vm_area_struct* v = find_vma(mm, start);
  return v && v->vm_start < end;
}

void Mmap::insert_vma(mm_struct* mm, vm_area_struct* vma) {
  list_head* pos = &mm->mmap;  // insert before the first VMA above
  for (list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next) {
    if (list_entry(p, vm_area_struct, vm_list)->vm_start >= vma->vm_end) {
      pos = p;
      break;
    }
  }
  list_add_tail(&vma->vm_list, pos);
  vma->vm_mm = mm;
  ++mm->map_count;
}

void Mmap::remove_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma) {
  list_del(&vma->vm_list);
  --mm->map_count;
  mm->total_vm -= vma_pages(vma);
  if (vma->vm_flags & VM_ACCOUNT) mm->committed -= vma_pages(vma);
  if (mm->mmap_cache == vma) mm->mmap_cache = nullptr;
  ctx_->rmap->unlink_anon_vmas(h, vma);  // a no-op when already unlinked
  ctx_->slab->kmem_cache_free(h, ctx_->vma_cachep, vma);
}

int Mmap::split_vma(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr) {
  if (static_cast<uint64_t>(mm->map_count) >= ctx_->params->max_map_count) return -ENOMEM;
  vm_area_struct* n = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
  if (!n) return -ENOMEM;
  INIT_LIST_HEAD(&n->anon_vma_chain);
  // The new part's pages belong to the same anon_vmas.
  if (ctx_->rmap->anon_vma_clone(h, n, vma)) {
    ctx_->slab->kmem_cache_free(h, ctx_->vma_cachep, n);
    return -ENOMEM;
  }
  n->vm_start = addr;
  n->vm_end = vma->vm_end;
  n->vm_flags = vma->vm_flags;
  n->vm_page_prot = vma->vm_page_prot;
  n->vm_pgoff = vma->vm_pgoff + ((addr - vma->vm_start) >> PAGE_SHIFT);
  n->vm_mm = mm;
  vma->vm_end = addr;
  list_add(&n->vm_list, &vma->vm_list);
  ++mm->map_count;
  ++stats_.vma_splits;
  return 0;
}

uint64_t Mmap::unmapped_area_topdown(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high) {
  // Gaps from the highest down: [prev end, next start) clipped to [low, high).
  uint64_t next_start = ~0ull;
  for (list_head* p = mm->mmap.prev;; p = p->prev) {
    const bool end_of_list = p == &mm->mmap;
    const uint64_t gap_lo = max(end_of_list ? 0 : list_entry(p, vm_area_struct, vm_list)->vm_end, low);
    const uint64_t gap_hi = min(next_start, high);
    if (gap_hi > gap_lo && gap_hi - gap_lo >= len) return gap_hi - len;
    if (end_of_list) break;
    next_start = list_entry(p, vm_area_struct, vm_list)->vm_start;
    if (next_start <= low) break;
  }
  return ~0ull;
}

uint64_t Mmap::unmapped_area_bottomup(mm_struct* mm, uint64_t len, uint64_t low, uint64_t high) {
  uint64_t prev_end = 0;
  for (list_head* p = mm->mmap.next;; p = p->next) {
    const bool end_of_list = p == &mm->mmap;
    const uint64_t gap_lo = max(prev_end, low);
    const uint64_t gap_hi = min<uint64_t>(end_of_list ? ~0ull : list_entry(p, vm_area_struct, vm_list)->vm_start, high);
    if (gap_hi > gap_lo && gap_hi - gap_lo >= len) return gap_lo;
    if (end_of_list) break;
    prev_end = list_entry(p, vm_area_struct, vm_list)->vm_end;
    if (prev_end >= high) break;
  }
  return ~0ull;
}

int64_t Mmap::get_unmapped_area(mm_struct* mm, uint64_t addr, uint64_t len, uint64_t flags) {
  const uint64_t task_size = mm->task_size;
  if (len > task_size) return -ENOMEM;
  if (!(flags & MAP_FIXED)) {
    // A hint is taken when the range there is free (x86
    // arch_get_unmapped_area_topdown).
    bool placed = false;
    if (addr) {
      addr &= PAGE_MASK;
      const bool valid = task_size - len >= addr &&
                         ((addr > kDefaultMapWindow) == (addr + len > kDefaultMapWindow));
      if (valid && !intersects(mm, addr, addr + len)) placed = true;
    }
    if (!placed) {
      addr = unmapped_area_topdown(mm, len, PAGE_SIZE, mm->mmap_base);
      if (addr == ~0ull) addr = unmapped_area_bottomup(mm, len, mm->mmap_legacy_base, min(task_size, kDefaultMapWindow));
      if (addr == ~0ull) return -ENOMEM;
    }
  }
  if (addr > task_size - len) return -ENOMEM;
  if (addr & ~PAGE_MASK) return -EINVAL;
  if (addr < ctx_->params->mmap_min_addr) return -EPERM;  // security_mmap_addr
  return static_cast<int64_t>(addr);
}

int64_t Mmap::do_mmap(hal::Hal& h, mm_struct* mm, uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags,
                      int64_t fd, uint64_t off) {
  (void)fd;
  // The checks in Linux's order: sys_mmap, ksys_mmap_pgoff, do_mmap.
  int64_t err = 0;
  if (off & ~PAGE_MASK) err = -EINVAL;
  else if (!(flags & MAP_ANONYMOUS)) err = -EBADF;  // no files yet: every fd is bad
  else if (flags & MAP_HUGETLB) err = -ENOMEM;      // no hugetlb pool yet (issue 6)
  else if (!len) err = -EINVAL;
  if (err) {
    ++stats_.mmap_failed;
    return err;
  }
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) {
    addr &= PAGE_MASK;  // round_hint_to_min
    if (addr && addr < ctx_->params->mmap_min_addr) addr = align_up(ctx_->params->mmap_min_addr, PAGE_SIZE);
  }
  const uint64_t alen = align_up(len, PAGE_SIZE);
  if (alen < len || !alen) {
    ++stats_.mmap_failed;
    return -ENOMEM;
  }
  len = alen;
  const uint64_t pgoff = off >> PAGE_SHIFT;
  if (pgoff + (len >> PAGE_SHIFT) < pgoff) {
    ++stats_.mmap_failed;
    return -EOVERFLOW;
  }

  LockGuard g(mm->mmap_lock, h);
  if (static_cast<uint64_t>(mm->map_count) > ctx_->params->max_map_count) err = -ENOMEM;
  int64_t a = err ? err : get_unmapped_area(mm, addr, len, flags);
  if (a >= 0 && (flags & MAP_FIXED_NOREPLACE) && intersects(mm, static_cast<uint64_t>(a), static_cast<uint64_t>(a) + len))
    a = -EEXIST;
  // Anonymous memory: private only for now (shared anonymous memory needs
  // shmem, issue 6).
  if (a >= 0 && (flags & MAP_TYPE) != MAP_PRIVATE) a = -EINVAL;
  if (a < 0) {
    ++stats_.mmap_failed;
    return a;
  }
  addr = static_cast<uint64_t>(a);
  const uint64_t end = addr + len;

  // MAP_FIXED replaces whatever was there.
  if (intersects(mm, addr, end)) {
    const int r = munmap_locked(h, mm, addr, end);
    if (r) {
      ++stats_.mmap_failed;
      return r;
    }
  }

  uint64_t vm_flags = calc_vm_prot_bits(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if ((vm_flags & VM_WRITE) && !(flags & MAP_NORESERVE)) vm_flags |= VM_ACCOUNT;  // private writable: committed
  const uint64_t page_prot = vm_get_page_prot(vm_flags, ctx_->pgtable->nx_bit() != 0);

  // Merge with the neighbours when they are alike (Linux vma_merge).
  vm_area_struct* prev = nullptr;
  vm_area_struct* next = nullptr;
  for (list_head* p = mm->mmap.next; p != &mm->mmap; p = p->next) {
    vm_area_struct* v = list_entry(p, vm_area_struct, vm_list);
    if (v->vm_end <= addr) prev = v;
    if (v->vm_start >= end) {
      next = v;
      break;
    }
  }
  const bool merge_prev = prev && prev->vm_end == addr && prev->vm_flags == vm_flags &&
                          prev->vm_pgoff + vma_pages(prev) == (addr >> PAGE_SHIFT);
  bool merge_next = next && next->vm_start == end && next->vm_flags == vm_flags &&
                    next->vm_pgoff == (end >> PAGE_SHIFT);
  // Pages of both must be reachable through the survivor's anon_vma
  // (Linux is_mergeable_anon_vma).
  if (merge_prev && merge_next && prev->anon_vma && next->anon_vma && prev->anon_vma != next->anon_vma)
    merge_next = false;
  if (merge_prev) {
    prev->vm_end = end;
    ++stats_.vma_merges;
    if (merge_next && !prev->anon_vma && next->anon_vma && ctx_->rmap->anon_vma_clone(h, prev, next)) merge_next = false;
    if (merge_next) {
      prev->vm_end = next->vm_end;
      // next's pages are now part of prev; remove_vma would un-count them.
      mm->total_vm += vma_pages(next);
      if (next->vm_flags & VM_ACCOUNT) mm->committed += vma_pages(next);
      remove_vma(h, mm, next);
      ++stats_.vma_merges;
    }
  } else if (merge_next) {
    next->vm_start = addr;
    next->vm_pgoff = addr >> PAGE_SHIFT;
    ++stats_.vma_merges;
  } else {
    vm_area_struct* v = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
    if (!v) {
      ++stats_.mmap_failed;
      return -ENOMEM;
    }
    INIT_LIST_HEAD(&v->anon_vma_chain);
    v->vm_start = addr;
    v->vm_end = end;
    v->vm_flags = vm_flags;
    v->vm_page_prot = page_prot;
    v->vm_pgoff = addr >> PAGE_SHIFT;
    insert_vma(mm, v);
  }
  mm->total_vm += len >> PAGE_SHIFT;
  if (vm_flags & VM_ACCOUNT) mm->committed += len >> PAGE_SHIFT;
  ++stats_.mmap_ok;
  return static_cast<int64_t>(addr);
}

int Mmap::munmap_locked(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end) {
  vm_area_struct* vma = find_vma(mm, start);
  if (!vma || vma->vm_start >= end) return 0;
  // Split the VMAs that straddle the range's ends.
  if (vma->vm_start < start) {
    // A split in the middle of one VMA leaves one more than before.
    if (vma->vm_end > end && static_cast<uint64_t>(mm->map_count) >= ctx_->params->max_map_count) return -ENOMEM;
    const int r = split_vma(h, mm, vma, start);
    if (r) return r;
    vma = list_entry(vma->vm_list.next, vm_area_struct, vm_list);
  }
  vm_area_struct* last = find_vma(mm, end - 1);
  if (last && last->vm_start < end && last->vm_end > end) {
    const int r = split_vma(h, mm, last, end);
    if (r) return r;
  }
  // Neighbours bound the page tables that may go (free_pgtables).
  const uint64_t floor =
      vma->vm_list.prev != &mm->mmap ? list_entry(vma->vm_list.prev, vm_area_struct, vm_list)->vm_end : 0;
  // Detach the VMAs of the range.
  list_head detached;
  INIT_LIST_HEAD(&detached);
  list_head* p = &vma->vm_list;
  while (p != &mm->mmap && list_entry(p, vm_area_struct, vm_list)->vm_start < end) {
    list_head* nx = p->next;
    list_del(p);
    list_add_tail(p, &detached);
    p = nx;
  }
  const uint64_t ceiling =
      p != &mm->mmap ? list_entry(p, vm_area_struct, vm_list)->vm_start : ctx_->pgtable->user_top();
  if (mm->mmap_cache && mm->mmap_cache->vm_start < end && mm->mmap_cache->vm_end > start) mm->mmap_cache = nullptr;
  // Linux's unmap_region: zap, unlink from the reverse map, free the
  // tables, flush, free the pages; then the VMAs.
  ctx_->memory->unmap_region(h, mm, start, end, floor, ceiling, &detached);
  while (!list_empty(&detached)) {
    vm_area_struct* v = list_first_entry(&detached, vm_area_struct, vm_list);
    list_del(&v->vm_list);
    --mm->map_count;
    mm->total_vm -= vma_pages(v);
    if (v->vm_flags & VM_ACCOUNT) mm->committed -= vma_pages(v);
    ctx_->slab->kmem_cache_free(h, ctx_->vma_cachep, v);
  }
  return 0;
}

int Mmap::do_munmap(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len) {
  // Linux do_vmi_munmap's checks.
  if ((start & ~PAGE_MASK) || start > mm->task_size || len > mm->task_size - start) {
    ++stats_.munmap_failed;
    return -EINVAL;
  }
  len = align_up(len, PAGE_SIZE);
  if (!len) {
    ++stats_.munmap_failed;
    return -EINVAL;
  }
  LockGuard g(mm->mmap_lock, h);
  const int r = munmap_locked(h, mm, start, start + len);
  if (r) ++stats_.munmap_failed;
  else ++stats_.munmap_ok;
  return r;
}

}  // namespace fw
