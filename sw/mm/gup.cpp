// Pinning user pages (sw/mm/gup.h; Linux mm/gup.c).
#include "sw/mm/gup.h"

#include "sw/lib/errno.h"
#include "sw/mm/memory.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/mmap.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pgtable.h"

namespace fw {

page* Gup::follow_page(hal::Hal& h, mm_struct* mm, uint64_t va, bool write, int* err) {
  vm_area_struct* vma = ctx_->mmap->find_vma(mm, va);
  // Linux check_vma_flags: no pinning of VM_IO / VM_PFNMAP memory (it has no struct page to pin).
  if (!vma || va < vma->vm_start || (vma->vm_flags & (VM_IO | VM_PFNMAP)) ||
      !(vma->vm_flags & (write ? VM_WRITE : VM_READ))) {
    *err = -EFAULT;
    return nullptr;
  }
  PteLookup pte;
  // Present and, for a write, writable (a COW page is broken first).
  auto mapped = [&] {
    return ctx_->pgtable->lookup(h, mm->pgd, va, &pte) && pte.present && (!write || (pte.entry & x86::PTE_RW));
  };
  if (!mapped()) {
    const int rc = ctx_->memory->populate_range(h, mm, vma, va & PAGE_MASK, (va & PAGE_MASK) + PAGE_SIZE, write);
    if (rc || !mapped()) {
      *err = rc ? rc : -EFAULT;
      return nullptr;
    }
  }
  const uint64_t size = x86::level_size(pte.level);
  const uint64_t pa = (pte.entry & x86::phys_mask(ctx_->boot->maxphyaddr) & ~(size - 1)) + (va & (size - 1));
  page* p = ctx_->nodes->phys_to_page(pa);
  if (!p) *err = -EFAULT;
  return p;
}

long Gup::pin_user_pages(hal::Hal& h, mm_struct* mm, uint64_t start, unsigned long nr_pages, unsigned gup_flags,
                         page** pages) {
  LockGuard g(mm->mmap_lock, h);
  for (unsigned long i = 0; i < nr_pages; ++i) {
    int err = 0;
    page* p = follow_page(h, mm, start + i * PAGE_SIZE, gup_flags & FOLL_WRITE, &err);
    if (!p) {
      unpin_user_pages(h, pages, i, false);
      ++stats_.pin_failed;
      return err;
    }
    compound_head(p)->_refcount += GUP_PIN_COUNTING_BIAS;
    pages[i] = p;
    ++stats_.pin_acquired;
  }
  return static_cast<long>(nr_pages);
}

void Gup::unpin_user_pages(hal::Hal& h, page** pages, unsigned long nr_pages, bool dirty) {
  (void)h;
  for (unsigned long i = 0; i < nr_pages; ++i) {
    page* head = compound_head(pages[i]);
    if (dirty) head->flags |= 1ull << PG_dirty;
    head->_refcount -= GUP_PIN_COUNTING_BIAS;
    ++stats_.pin_released;
  }
}

void Gup::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("nr_foll_pin_acquired", stats_.pin_acquired, "pages pinned (FOLL_PIN)", "pages");
  e("nr_foll_pin_released", stats_.pin_released, "pins dropped", "pages");
  e("pin_failed", stats_.pin_failed, "pin_user_pages calls that failed", "count");
}

}  // namespace fw
