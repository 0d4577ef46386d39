#include "sw/mm/vmalloc.h"

#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/slub.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

void Vmalloc::init(MmContext* ctx) {
  ctx_ = ctx;
  INIT_LIST_HEAD(&busy_);
}

bool Vmalloc::boot(hal::Hal& h, uint64_t kernel_root) {
  PgTable& pt = *ctx_->pgtable;
  kernel_root_ = kernel_root;
  if (pt.levels() == 5) {
    start_ = VMALLOC_START_L5;
    size_ = VMALLOC_SIZE_L5;
  }
  // One table below every root entry of the range.
  const unsigned root_level = pt.levels();
  const uint64_t step = x86::level_size(root_level);
  for (uint64_t va = start_; va - start_ < size_; va += step) {
    uint64_t epa, allocated = 0;
    if (pt.walk_to(h, kernel_root, va, root_level - 1, true, _KERNPG_TABLE, true, &epa, &allocated)) {
      ctx_->log->printk(h, LOGLEVEL_ERR, "vmalloc: cannot preallocate the tables of %#lx", static_cast<unsigned long>(va));
      return false;
    }
    stats_.table_pages_prealloc += allocated;
    if (va + step < va) break;
  }
  va_cache_ = ctx_->slab->kmem_cache_create("vmap_area", sizeof(vmap_area), 0, 0, nullptr);
  return va_cache_ != nullptr;
}

vmap_area* Vmalloc::alloc_vmap_area(hal::Hal& h, uint64_t size) {
  vmap_area* va = static_cast<vmap_area*>(ctx_->slab->kmem_cache_zalloc(h, va_cache_, GFP_KERNEL));
  if (!va) return nullptr;
  LockGuard g(lock_, h);
  // First fit between busy areas, in address order.
  uint64_t addr = start_;
  list_head* pos = &busy_;
  for (list_head* l = busy_.next; l != &busy_; l = l->next) {
    vmap_area* b = list_entry(l, vmap_area, list);
    if (b->va_start - addr >= size) {
      pos = l;
      break;
    }
    addr = b->va_end;
  }
  if (addr < start_ || end() - addr < size) {
    ctx_->slab->kmem_cache_free(h, va_cache_, va);
    return nullptr;
  }
  va->va_start = addr;
  va->va_end = addr + size;
  list_add_tail(&va->list, pos);
  return va;
}

uint64_t Vmalloc::vmalloc(hal::Hal& h, uint64_t size, gfp_t gfp) {
  Slab& slab = *ctx_->slab;
  PageAlloc& pa = *ctx_->page_alloc;
  PgTable& pt = *ctx_->pgtable;
  size = align_up(size, PAGE_SIZE);
  if (!size || size >= size_) {
    ++stats_.failed;
    return 0;
  }
  const uint64_t nr = size >> PAGE_SHIFT;
  vm_struct* vm = static_cast<vm_struct*>(slab.kzalloc(h, sizeof(vm_struct), gfp & ~__GFP_ZERO));
  page** pages = vm ? static_cast<page**>(slab.kzalloc(h, nr * sizeof(page*), gfp & ~__GFP_ZERO)) : nullptr;
  vmap_area* va = pages ? alloc_vmap_area(h, size + PAGE_SIZE) : nullptr;  // + the guard page
  if (!va) {
    slab.kfree(h, pages);
    slab.kfree(h, vm);
    ++stats_.failed;
    return 0;
  }
  vm->addr = va->va_start;
  vm->size = size + PAGE_SIZE;
  vm->pages = pages;
  va->vm = vm;
  const uint64_t prot = __PAGE_KERNEL_BASE | pt.nx_bit();
  for (uint64_t i = 0; i < nr; ++i) {
    page* p = pa.alloc_pages(h, gfp, 0);
    if (!p || pt.map(h, kernel_root_, vm->addr + i * PAGE_SIZE, ctx_->nodes->page_to_phys(p), x86::LEVEL_PT, prot,
                     _KERNPG_TABLE, true)) {
      if (p) pa.free_pages(h, p, 0);
      vfree(h, vm->addr);
      ++stats_.failed;
      return 0;
    }
    pages[i] = p;
    vm->nr_pages = static_cast<uint32_t>(i + 1);
    ctx_->vmstat->mod(page_to_nid(p), NR_VMALLOC, 1);
  }
  ++stats_.areas;
  ++stats_.allocs;
  stats_.pages += nr;
  return vm->addr;
}

void Vmalloc::unmap_area(hal::Hal& h, vm_struct* vm) {
  PgTable& pt = *ctx_->pgtable;
  for (uint32_t i = 0; i < vm->nr_pages; ++i) pt.unmap(h, kernel_root_, vm->addr + static_cast<uint64_t>(i) * PAGE_SIZE);
  ctx_->tlb->flush_tlb_kernel_range(h, vm->addr, vm->addr + static_cast<uint64_t>(vm->nr_pages) * PAGE_SIZE);
}

void Vmalloc::vfree(hal::Hal& h, uint64_t addr) {
  if (!addr) return;
  vmap_area* va = nullptr;
  {
    LockGuard g(lock_, h);
    for (list_head* l = busy_.next; l != &busy_; l = l->next) {
      vmap_area* b = list_entry(l, vmap_area, list);
      if (b->va_start == addr) {
        va = b;
        list_del(&b->list);
        break;
      }
    }
  }
  if (!va) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "vfree: Trying to vfree() nonexistent vm area (%#lx)", static_cast<unsigned long>(addr));
    return;
  }
  vm_struct* vm = va->vm;
  unmap_area(h, vm);
  for (uint32_t i = 0; i < vm->nr_pages; ++i) {
    ctx_->vmstat->mod(page_to_nid(vm->pages[i]), NR_VMALLOC, -1);
    ctx_->page_alloc->free_pages(h, vm->pages[i], 0);
  }
  stats_.pages -= vm->nr_pages;
  if (stats_.areas) --stats_.areas;
  ++stats_.frees;
  ctx_->slab->kfree(h, vm->pages);
  ctx_->slab->kfree(h, vm);
  ctx_->slab->kmem_cache_free(h, va_cache_, va);
}

const vm_struct* Vmalloc::find_vm_area(uint64_t addr) const {
  for (const list_head* l = busy_.next; l != &busy_; l = l->next) {
    const vmap_area* b = list_entry(const_cast<list_head*>(l), vmap_area, list);
    if (addr >= b->va_start && addr < b->va_end) return b->vm;
  }
  return nullptr;
}

page* Vmalloc::vmalloc_to_page(hal::Hal& h, uint64_t addr) {
  PteLookup l;
  if (!ctx_->pgtable->lookup(h, kernel_root_, addr, &l) || l.level != x86::LEVEL_PT) return nullptr;
  return ctx_->nodes->pfn_to_page((l.entry & ctx_->pgtable->phys_mask()) >> PAGE_SHIFT);
}

bool Vmalloc::vread(hal::Hal& h, uint64_t addr, void* buf, uint64_t len) {
  char* out = static_cast<char*>(buf);
  while (len) {
    page* p = vmalloc_to_page(h, addr);
    if (!p) return false;
    const uint64_t off = addr & ~PAGE_MASK, n = min(len, PAGE_SIZE - off);
    if (h.phys_read(ctx_->nodes->page_to_phys(p) + off, out, n) != hal::MemStatus::ok) return false;
    addr += n;
    out += n;
    len -= n;
  }
  return true;
}

bool Vmalloc::vwrite(hal::Hal& h, uint64_t addr, const void* buf, uint64_t len) {
  const char* in = static_cast<const char*>(buf);
  while (len) {
    page* p = vmalloc_to_page(h, addr);
    if (!p) return false;
    const uint64_t off = addr & ~PAGE_MASK, n = min(len, PAGE_SIZE - off);
    if (h.phys_write(ctx_->nodes->page_to_phys(p) + off, in, n) != hal::MemStatus::ok) return false;
    addr += n;
    in += n;
    len -= n;
  }
  return true;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<VmallocStats> vmalloc_stat_table[] = {
    {"areas", &VmallocStats::areas, "vmalloc areas alive", "count"},
    {"pages", &VmallocStats::pages, "pages mapped in vmalloc areas", "pages"},
    {"allocs", &VmallocStats::allocs, "vmalloc calls that succeeded", "count"},
    {"frees", &VmallocStats::frees, "vfree calls", "count"},
    {"failed", &VmallocStats::failed, "vmalloc calls that failed", "count"},
    {"prealloc_table_pages", &VmallocStats::table_pages_prealloc, "kernel page-table pages preallocated for the vmalloc range", "pages"},
};
static_assert(stat_table_size(vmalloc_stat_table) == sizeof(VmallocStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Vmalloc::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, vmalloc_stat_table);
}

}  // namespace fw
