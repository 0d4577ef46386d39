#include "sw/mm/mlock.h"

#include "sw/lib/errno.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmap.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {

void mod_mlock(MmContext* ctx, page* p, int64_t nr) { ctx->nodes->page_zone(p)->vm_stat[NR_MLOCK] += nr; }

// Does any VM_LOCKED VMA map p (the rmap walk munlock needs)?
struct LockedVisitor final : RmapVisitor {
  LockedVisitor(MmContext* c, page* pg) : ctx(c), pfn(c->nodes->page_to_pfn(pg)) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    if (!(vma->vm_flags & VM_LOCKED) || !vma->vm_mm || !vma->vm_mm->pgd) return true;
    PteLookup l;
    if (!ctx->pgtable->lookup(h, vma->vm_mm->pgd, address, &l) || !l.present) return true;
    if (((l.entry & ctx->pgtable->phys_mask()) >> PAGE_SHIFT) != pfn) return true;
    locked = true;
    return false;
  }
  MmContext* ctx;
  uint64_t pfn;
  bool locked = false;
};

// The pages mapped in [start, end) of vma, mlocked or munlocked (Linux
// mlock_vma_pages_range).
void lock_range(hal::Hal& h, MmContext* ctx, vm_area_struct* vma, uint64_t start, uint64_t end, bool lock) {
  mm_struct* mm = vma->vm_mm;
  for (uint64_t a = start; a < end;) {
    PteLookup l;
    uint64_t step = PAGE_SIZE;
    if (ctx->pgtable->lookup(h, mm->pgd, a, &l) && l.present) {
      step = x86::level_size(l.level);
      page* p = ctx->nodes->pfn_to_page((l.entry & ctx->pgtable->phys_mask()) >> PAGE_SHIFT);
      if (p && !PageReserved(p) && (PageAnon(p) || page_mapping_obj(p)) && !PageHuge(p)) {
        if (lock) mlock_folio(h, ctx, compound_head(p));
        else munlock_folio(h, ctx, compound_head(p));
      }
    }
    a = (a & ~(step - 1)) + step;
  }
}

}  // namespace

void mlock_folio(hal::Hal& h, MmContext* ctx, page* p) {
  const uint64_t nr = compound_nr(p);
  if (!PageFlag(p, PG_mlocked)) {
    SetPageFlag(p, PG_mlocked);
    mod_mlock(ctx, p, static_cast<int64_t>(nr));
    ctx->vmstat->count(UNEVICTABLE_PGMLOCKED, nr);
  }
  pglist_data& pg = ctx->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  if (!PageLRU(p) || PageFlag(p, PG_unevictable)) return;
  ctx->lru->del_locked(pg, p);
  ClearPageFlag(p, PG_active);
  SetPageFlag(p, PG_unevictable);
  ctx->lru->add_locked(pg, p, false);
  ctx->vmstat->count(UNEVICTABLE_PGCULLED, nr);
}

void munlock_folio(hal::Hal& h, MmContext* ctx, page* p) {
  if (!PageFlag(p, PG_mlocked)) return;
  LockedVisitor v(ctx, p);
  ctx->rmap->rmap_walk(h, p, v);
  if (v.locked) return;  // another locked mapping keeps it
  const uint64_t nr = compound_nr(p);
  ClearPageFlag(p, PG_mlocked);
  mod_mlock(ctx, p, -static_cast<int64_t>(nr));
  pglist_data& pg = ctx->nodes->node(page_to_nid(p));
  LockGuard g(pg.lru_lock, h);
  ctx->vmstat->count(UNEVICTABLE_PGMUNLOCKED, nr);
  if (!PageLRU(p) || !PageFlag(p, PG_unevictable)) return;
  ctx->lru->del_locked(pg, p);
  ClearPageFlag(p, PG_unevictable);
  ctx->lru->add_locked(pg, p, false);
  ctx->vmstat->count(UNEVICTABLE_PGRESCUED, nr);
}

void mlock_clear_at_free(MmContext* ctx, page* p) {
  if (!PageFlag(p, PG_mlocked)) return;
  const uint64_t nr = compound_nr(p);
  ClearPageFlag(p, PG_mlocked);
  mod_mlock(ctx, p, -static_cast<int64_t>(nr));
  ctx->vmstat->count(UNEVICTABLE_PGCLEARED, nr);
}

int do_mlock(hal::Hal& h, MmContext* ctx, mm_struct* mm, uint64_t start, uint64_t len, bool lock) {
  // Linux do_mlock/sys_munlock: the range grows to whole pages.
  len = PAGE_ALIGN(len + (start & ~PAGE_MASK));
  start &= PAGE_MASK;
  const uint64_t end = start + len;
  if (end < start) return -EINVAL;
  if (!len) return 0;
  Mmap& mmap = *ctx->mmap;
  LockGuard g(mm->mmap_lock, h);
  // apply_vma_lock_flags: the range must be mapped without holes.
  vm_area_struct* vma = mmap.find_vma(mm, start);
  if (!vma || vma->vm_start > start) return -ENOMEM;
  for (vm_area_struct* v = vma; v && v->vm_start < end; v = Mmap::vma_next(mm, v)) {
    vm_area_struct* nx = Mmap::vma_next(mm, v);
    if (v->vm_end < end && (!nx || nx->vm_start != v->vm_end)) return -ENOMEM;
  }
  for (uint64_t addr = start; addr < end;) {
    vma = mmap.find_vma(mm, addr);
    const uint64_t e = min(end, vma->vm_end);
    const uint64_t newflags = lock ? vma->vm_flags | VM_LOCKED : vma->vm_flags & ~(VM_LOCKED | VM_LOCKONFAULT);
    // mlock_fixup leaves special and hugetlb mappings alone.
    if (newflags != vma->vm_flags && !(vma->vm_flags & (VM_PFNMAP | VM_IO | VM_HUGETLB))) {
      int err = 0;
      vm_area_struct* v = mmap.vma_modify_flags(h, mm, vma, addr, e, newflags, &err);
      if (!v) return err;
      if (!lock) lock_range(h, ctx, v, addr, e, false);
    }
    addr = e;
  }
  if (!lock) return 0;
  // __mm_populate, then the pages to the unevictable list.
  if (int r = mmap.populate(h, mm, start, end, false, false)) return r;
  for (uint64_t addr = start; addr < end;) {
    vma = mmap.find_vma(mm, addr);
    if (!vma || vma->vm_start >= end) break;
    const uint64_t e = min(end, vma->vm_end);
    if (vma->vm_flags & VM_LOCKED) lock_range(h, ctx, vma, max(addr, vma->vm_start), e, true);
    addr = e;
  }
  return 0;
}

}  // namespace fw
