#include "sw/mm/rmap.h"

#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/filemap.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/lru.h"
#include "sw/mm/mlock.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/shmem.h"
#include "sw/mm/slub.h"
#include "sw/mm/swap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

bool Rmap::create_caches(hal::Hal& h) {
  Slab& slab = *ctx_->slab;
  anon_vma_cachep_ = slab.kmem_cache_create("anon_vma", sizeof(anon_vma), 0, SLAB_HWCACHE_ALIGN, nullptr);
  avc_cachep_ = slab.kmem_cache_create("anon_vma_chain", sizeof(anon_vma_chain), 0, 0, nullptr);
  if (!anon_vma_cachep_ || !avc_cachep_) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "rmap: cannot create the anon_vma caches");
    return false;
  }
  return true;
}

anon_vma* Rmap::anon_vma_alloc(hal::Hal& h) {
  anon_vma* av = static_cast<anon_vma*>(ctx_->slab->kmem_cache_zalloc(h, anon_vma_cachep_, GFP_KERNEL));
  if (!av) return nullptr;
  av->root = av;
  av->refcount = 1;
  INIT_LIST_HEAD(&av->head);
  ++stats_.anon_vmas;
  return av;
}

void Rmap::put_anon_vma(hal::Hal& h, anon_vma* av) {
  while (av && --av->refcount == 0) {
    // The last user: the parent loses a child and a reference.
    anon_vma* parent = av->parent;
    if (parent) --parent->num_children;
    ctx_->slab->kmem_cache_free(h, anon_vma_cachep_, av);
    --stats_.anon_vmas;
    av = parent;
  }
}

anon_vma_chain* Rmap::avc_alloc(hal::Hal& h) {
  anon_vma_chain* avc = static_cast<anon_vma_chain*>(ctx_->slab->kmem_cache_zalloc(h, avc_cachep_, GFP_KERNEL));
  if (avc) ++stats_.chains;
  return avc;
}

void Rmap::anon_vma_chain_link(vm_area_struct* vma, anon_vma_chain* avc, anon_vma* av) {
  avc->vma = vma;
  avc->av = av;
  list_add(&avc->same_vma, &vma->anon_vma_chain);
  list_add_tail(&avc->same_anon_vma, &av->head);
}

int Rmap::anon_vma_prepare(hal::Hal& h, vm_area_struct* vma) {
  if (vma->anon_vma) return 0;
  anon_vma_chain* avc = avc_alloc(h);
  if (!avc) return -ENOMEM;
  anon_vma* av = anon_vma_alloc(h);
  if (!av) {
    ctx_->slab->kmem_cache_free(h, avc_cachep_, avc);
    --stats_.chains;
    return -ENOMEM;
  }
  LockGuard g(av->root->lock, h);
  vma->anon_vma = av;
  anon_vma_chain_link(vma, avc, av);
  ++av->num_active_vmas;
  return 0;
}

int Rmap::anon_vma_clone(hal::Hal& h, vm_area_struct* dst, vm_area_struct* src) {
  // Walk src's chains oldest first, so dst's list keeps the same order.
  for (list_head* l = src->anon_vma_chain.prev; l != &src->anon_vma_chain; l = l->prev) {
    anon_vma_chain* pavc = list_entry(l, anon_vma_chain, same_vma);
    anon_vma_chain* avc = avc_alloc(h);
    if (!avc) {
      unlink_anon_vmas(h, dst);
      return -ENOMEM;
    }
    LockGuard g(pavc->av->root->lock, h);
    anon_vma_chain_link(dst, avc, pavc->av);
    ++pavc->av->refcount;
  }
  if (src->anon_vma) {
    dst->anon_vma = src->anon_vma;
    ++dst->anon_vma->num_active_vmas;
  }
  return 0;
}

int Rmap::anon_vma_fork(hal::Hal& h, vm_area_struct* vma, vm_area_struct* pvma) {
  if (!pvma->anon_vma) return 0;
  vma->anon_vma = nullptr;
  INIT_LIST_HEAD(&vma->anon_vma_chain);
  // The child joins every anon_vma of the parent (its pages may be shared)...
  if (int r = anon_vma_clone(h, vma, pvma)) return r;
  if (vma->anon_vma) --vma->anon_vma->num_active_vmas;
  // ... and gets its own for the pages it will create, below the parent's.
  anon_vma* av = anon_vma_alloc(h);
  anon_vma_chain* avc = av ? avc_alloc(h) : nullptr;
  if (!av || !avc) {
    if (av) put_anon_vma(h, av);
    unlink_anon_vmas(h, vma);
    return -ENOMEM;
  }
  av->root = pvma->anon_vma->root;
  av->parent = pvma->anon_vma;
  ++av->parent->refcount;
  ++av->parent->num_children;
  ++av->num_active_vmas;
  vma->anon_vma = av;
  LockGuard g(av->root->lock, h);
  anon_vma_chain_link(vma, avc, av);
  return 0;
}

void Rmap::unlink_anon_vmas(hal::Hal& h, vm_area_struct* vma) {
  if (vma->anon_vma) --vma->anon_vma->num_active_vmas;
  while (!list_empty(&vma->anon_vma_chain)) {
    anon_vma_chain* avc = list_first_entry(&vma->anon_vma_chain, anon_vma_chain, same_vma);
    anon_vma* av = avc->av;
    {
      // Under the root's lock: an rmap walk never sees a half-gone VMA,
      // and once unlinked it never touches this VMA's page tables again.
      LockGuard g(av->root->lock, h);
      list_del(&avc->same_anon_vma);
    }
    list_del(&avc->same_vma);
    ctx_->slab->kmem_cache_free(h, avc_cachep_, avc);
    --stats_.chains;
    put_anon_vma(h, av);
  }
  vma->anon_vma = nullptr;
}

void Rmap::folio_add_new_anon_rmap(page* p, vm_area_struct* vma, uint64_t address) {
  p->mapping = reinterpret_cast<uint64_t>(vma->anon_vma) | PAGE_MAPPING_ANON;
  p->index = linear_page_index(vma, address);
  SetPageFlag(p, PG_swapbacked);
  p->_mapcount = 0;
  ctx_->vmstat->mod(page_to_nid(p), NR_ANON_MAPPED, 1);
}

void Rmap::page_add_anon_rmap(page* p) {
  if (++p->_mapcount == 0) ctx_->vmstat->mod(page_to_nid(p), NR_ANON_MAPPED, 1);
}

void Rmap::page_add_file_rmap(page* p) {
  if (++p->_mapcount == 0) ctx_->vmstat->mod(page_to_nid(p), NR_FILE_MAPPED, 1);
}

bool Rmap::page_remove_rmap(page* p) {
  if (--p->_mapcount >= 0) return false;
  ctx_->vmstat->mod(page_to_nid(p), PageAnon(p) ? NR_ANON_MAPPED : NR_FILE_MAPPED, -1);
  return true;
}

void Rmap::folio_add_new_anon_rmap_pmd(page* head, vm_area_struct* vma, uint64_t haddr) {
  head->mapping = reinterpret_cast<uint64_t>(vma->anon_vma) | PAGE_MAPPING_ANON;
  head->index = linear_page_index(vma, haddr);
  SetPageFlag(head, PG_swapbacked);
  head[1].entire_mapcount = -1;
  folio_add_rmap_pmd(head);
}

void Rmap::folio_add_rmap_pmd(page* head) {
  if (++head[1].entire_mapcount != 0) return;
  // Hugetlb pages are not counted as anonymous memory (Linux neither).
  if (PageTransHuge(head)) {
    ctx_->vmstat->mod(page_to_nid(head), NR_ANON_MAPPED, static_cast<int64_t>(compound_nr(head)));
    ctx_->vmstat->mod(page_to_nid(head), NR_ANON_THPS, 1);
  }
}

bool Rmap::folio_remove_rmap_pmd(page* head) {
  if (--head[1].entire_mapcount >= 0) return false;
  if (PageTransHuge(head)) {
    ctx_->vmstat->mod(page_to_nid(head), NR_ANON_MAPPED, -static_cast<int64_t>(compound_nr(head)));
    ctx_->vmstat->mod(page_to_nid(head), NR_ANON_THPS, -1);
  }
  return true;
}

uint64_t Rmap::vma_address(const page* p, const vm_area_struct* vma) {
  // A shared hugetlb page's index counts huge pages (its object's slots).
  const uint64_t index = PageHuge(p) && !PageAnon(p) ? p->index << compound_order(p) : p->index;
  if (index < vma->vm_pgoff) return ~0ull;
  const uint64_t a = vma->vm_start + ((index - vma->vm_pgoff) << PAGE_SHIFT);
  return a < vma->vm_end ? a : ~0ull;
}

void Rmap::rmap_walk(hal::Hal& h, page* p, RmapVisitor& v) {
  if (address_space* obj = page_mapping_obj(p)) {
    ++stats_.walks;
    LockGuard g(obj->lock, h);
    for (list_head* l = obj->i_mmap.next; l != &obj->i_mmap; l = l->next) {
      vm_area_struct* vma = list_entry(l, vm_area_struct, shared_link);
      const uint64_t address = vma_address(p, vma);
      if (address == ~0ull) continue;
      if (!v.one(h, vma, address)) break;
    }
    return;
  }
  anon_vma* av = page_anon_vma(p);
  if (!av) return;
  ++stats_.walks;
  LockGuard g(av->root->lock, h);
  for (list_head* l = av->head.next; l != &av->head; l = l->next) {
    anon_vma_chain* avc = list_entry(l, anon_vma_chain, same_anon_vma);
    const uint64_t address = vma_address(p, avc->vma);
    if (address == ~0ull) continue;
    if (!v.one(h, avc->vma, address)) break;
  }
}

// ---------------------------------------------------------------- reclaim's walks

namespace {

// The address of the entry of level `level` mapping pfn at address in
// vma's page tables, 0 when none does (Linux page_vma_mapped_walk).
uint64_t mapping_entry(hal::Hal& h, MmContext* ctx, vm_area_struct* vma, uint64_t address, unsigned level,
                       uint64_t pfn, uint64_t* entry) {
  mm_struct* mm = vma->vm_mm;
  if (!mm || !mm->pgd) return 0;
  PgTable& pt = *ctx->pgtable;
  uint64_t epa = 0;
  if (pt.walk_to(h, mm->pgd, address, level, false, 0, false, &epa) || !pt.read_entry(h, epa, entry)) return 0;
  if (!pte_maps_page(*entry) || ((*entry & pt.phys_mask()) >> PAGE_SHIFT) != pfn) return 0;
  if (level != x86::LEVEL_PT && !(*entry & x86::PTE_PS)) return 0;
  return epa;
}

// folio_referenced_one: one VMA's mapping of the page.
struct ReferencedVisitor final : RmapVisitor {
  ReferencedVisitor(MmContext* c, page* pg, int mapped)
      : ctx(c), p(pg), pfn(c->nodes->page_to_pfn(pg)), mapcount(mapped) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    const bool huge = PageHead(p);
    const unsigned level = huge ? x86::LEVEL_PD : x86::LEVEL_PT;
    const uint64_t base = huge ? address & ~(HPAGE_PMD_SIZE - 1) : address;
    mm_struct* mm = vma->vm_mm;
    uint64_t e = 0;
    LockGuard g(mm->page_table_lock, h);
    const uint64_t epa = mapping_entry(h, ctx, vma, base, level, pfn, &e);
    if (!epa) return true;
    if (vma->vm_flags & VM_LOCKED) {
      mlock_folio(h, ctx, p);  // restores an mlock the fault path missed
      vm_flags |= VM_LOCKED;
      return false;  // reclaim culls it: no need to look further
    }
    if (e & x86::PTE_A) {
      // x86 Linux leaves the TLB alone here; a simulated TLB is never
      // evicted by cache pressure, so the entry is flushed or the next
      // uses would never set A again.
      ctx->pgtable->write_entry(h, epa, e & ~x86::PTE_A);
      ctx->tlb->flush_tlb_mm_range(h, mm, base, base + (huge ? HPAGE_PMD_SIZE : PAGE_SIZE),
                                   huge ? HPAGE_PMD_SHIFT : PAGE_SHIFT, false);
      ++referenced;
      vm_flags |= vma->vm_flags & ~VM_LOCKED;
    }
    return --mapcount > 0;
  }
  MmContext* ctx;
  page* p;
  uint64_t pfn;
  int mapcount;
  int referenced = 0;
  uint64_t vm_flags = 0;
};

// try_to_unmap_one: one VMA's PTE of the page becomes its swap entry, or
// (page cache) goes.
struct UnmapVisitor final : RmapVisitor {
  UnmapVisitor(MmContext* c, page* pg, unsigned flags)
      : ctx(c), p(pg), pfn(c->nodes->page_to_pfn(pg)), ttu(flags) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    mm_struct* mm = vma->vm_mm;
    uint64_t e = 0;
    LockGuard g(mm->page_table_lock, h);
    const uint64_t epa = mapping_entry(h, ctx, vma, address, x86::LEVEL_PT, pfn, &e);
    if (!epa) return true;
    if ((vma->vm_flags & VM_LOCKED) && !(ttu & TTU_IGNORE_MLOCK)) {
      mlock_folio(h, ctx, p);
      return false;  // stays mapped: the caller culls the page
    }
    const bool anon = PageAnon(p);
    const bool poison = (ttu & TTU_HWPOISON) && PageHWPoison(p);
    uint64_t npte = 0;
    if (poison) {
      // Linux try_to_unmap_one's hwpoison branch: the next touch of this
      // address faults and gets BUS_MCEERR_AR (do_swap_page).
      npte = swp_entry_to_pte(make_hwpoison_entry(pfn));
    } else if (anon) {
      const swp_entry_t entry{p->private_};
      if (!PageSwapCache(p) || ctx->swapfile->swap_duplicate(h, entry) < 0) return false;
      npte = swp_entry_to_pte(entry);
    }
    ctx->pgtable->write_entry(h, epa, npte);
    ctx->tlb->flush_tlb_page(h, mm, address);
    if (anon) {
      if (e & x86::PTE_D) SetPageFlag(p, PG_dirty);
      --mm->rss_anon;
      if (!poison) ++mm->swapents;
    } else {
      // A store through a shared file mapping left D: the page is dirty.
      if ((e & x86::PTE_D) && page_is_file_lru(p) && ctx->filemap->folio_mark_dirty(h, p))
        ++ctx->filemap->stats().pte_dirty_harvested;
      --mm->rss_shmem;
    }
    ctx->rmap->page_remove_rmap(p);
    put_page_testzero(p);  // the mapping's reference (the caller holds another)
    return page_mapped(p);
  }
  MmContext* ctx;
  page* p;
  uint64_t pfn;
  unsigned ttu;
};

}  // namespace

int Rmap::folio_referenced(hal::Hal& h, page* p, uint64_t* vm_flags) {
  *vm_flags = 0;
  const int mapped = PageHead(p) ? folio_entire_mapcount(p) : page_mapcount(p);
  if (mapped <= 0) return 0;
  ReferencedVisitor v(ctx_, p, mapped);
  rmap_walk(h, p, v);
  *vm_flags = v.vm_flags;
  return v.referenced;
}

bool Rmap::try_to_unmap(hal::Hal& h, page* p, unsigned ttu) {
  if (!page_mapped(p)) return true;
  UnmapVisitor v(ctx_, p, ttu);
  rmap_walk(h, p, v);
  return !page_mapped(p);
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<RmapStats> rmap_stat_table[] = {
    {"anon_vmas", &RmapStats::anon_vmas, "anon_vmas alive", "count"},
    {"chains", &RmapStats::chains, "anon_vma_chains alive", "count"},
    {"walks", &RmapStats::walks, "reverse-map walks", "count"},
};
static_assert(stat_table_size(rmap_stat_table) == sizeof(RmapStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Rmap::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, rmap_stat_table);
}

}  // namespace fw
