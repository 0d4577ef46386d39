#include "sw/mm/hugetlb.h"

#include "sw/hal/uapi.h"
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/page_isolation.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

using namespace x86;

namespace {
// Linux's htlb_alloc_mask: 2 MiB pages can migrate on x86-64
// (hugepage_movable_supported), so they come from movable memory, ZONE_MOVABLE
// included; gigantic pages are not movable. (Here compaction and
// alloc_contig_range leave hugetlb pages alone instead of migrating them.)
constexpr gfp_t kHtlbGfp = GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOWARN;
unsigned level_of(unsigned shift) { return shift == 30 ? LEVEL_PDPT : LEVEL_PD; }
}  // namespace

void Hugetlb::init(MmContext* ctx) {
  ctx_ = ctx;
  const unsigned shifts[HUGE_MAX_HSTATE] = {21, 30};
  const char* names[HUGE_MAX_HSTATE] = {"2M", "1G"};
  for (unsigned i = 0; i < HUGE_MAX_HSTATE; ++i) {
    hstate& hs = hstates_[i];
    hs.shift = shifts[i];
    hs.order = shifts[i] - PAGE_SHIFT;
    hs.name = names[i];
    hs.size_kb = static_cast<unsigned>((1ull << shifts[i]) >> 10);
    for (unsigned n = 0; n < hal::kMaxNodes; ++n) INIT_LIST_HEAD(&hs.hugepage_freelists[n]);
  }
}

hstate* Hugetlb::hstate_of(unsigned shift) {
  for (hstate& hs : hstates_)
    if (hs.shift == shift) return &hs;
  return nullptr;
}

unsigned Hugetlb::default_shift() const { return ctx_->params->default_hugepagesz == 1 ? 30 : 21; }

const hstate* Hugetlb::default_hstate() const { return &hstates_[ctx_->params->default_hugepagesz == 1 ? 1 : 0]; }

unsigned Hugetlb::shift_from_mmap_flags(uint64_t flags) const {
  const unsigned shift = static_cast<unsigned>((flags >> uapi::kMapHugeShift) & 0x3f);
  if (!shift) return default_shift();
  if (shift == 21) return 21;
  if (shift == 30) return ctx_->boot->gbpages ? 30 : 0;
  return 0;
}

uint64_t Hugetlb::total_kb() const {
  uint64_t kb = 0;
  for (const hstate& hs : hstates_) kb += hs.nr_huge_pages * hs.size_kb;
  return kb;
}

// ---------------------------------------------------------------- the pools

void Hugetlb::prep_new_hugetlb_folio(page* head, unsigned order) {
  head[1].compound_flags |= COMPOUND_HUGETLB;
  head[1].entire_mapcount = -1;
  (void)order;
}

void Hugetlb::enqueue(hstate* hs, page* head) {
  const int nid = page_to_nid(head);
  list_add_tail(&head->lru, &hs->hugepage_freelists[nid]);
  ++hs->free_huge_pages;
  ++hs->free_huge_pages_node[nid];
}

page* Hugetlb::dequeue(hal::Hal& h, hstate* hs, int nid, bool* skipped_poison) {
  // The local node first, then the others by number (a zonelist walk
  // would order them by distance; pools are rarely that uneven).
  const unsigned nr = ctx_->nodes->nr_nodes();
  for (unsigned k = 0; k < nr; ++k) {
    const unsigned n = (static_cast<unsigned>(nid) + k) % nr;
    list_head* l = &hs->hugepage_freelists[n];
    page* p = nullptr;
    for (list_head* e = l->next; e != l && !p; e = e->next) {
      page* c = list_entry(e, page, lru);
      if (!PageHWPoison(c)) p = c;
      else if (skipped_poison) *skipped_poison = true;
    }
    if (!p) continue;
    list_del(&p->lru);
    --hs->free_huge_pages;
    --hs->free_huge_pages_node[n];
    set_page_count(p, 1);
    return p;
  }
  (void)h;
  return nullptr;
}

page* Hugetlb::alloc_fresh(hal::Hal& h, hstate* hs, int nid, bool boot) {
  page* p = nullptr;
  if (hs->order > MAX_PAGE_ORDER) {
    // Gigantic: a contiguous range (only before memory fragments, at boot).
    if (!boot) return nullptr;
    p = ctx_->isolation->alloc_contig_pages(h, 1ull << hs->order, nid, ZONE_NORMAL);
    if (!p) return nullptr;
    for (uint64_t i = 1; i < (1ull << hs->order); ++i) set_page_count(p + i, 0);
    PageAlloc::prep_compound_page(p, hs->order);
  } else {
    p = ctx_->page_alloc->alloc_pages(h, kHtlbGfp | __GFP_THISNODE | __GFP_RETRY_MAYFAIL, hs->order, nid);
    if (!p) return nullptr;
  }
  prep_new_hugetlb_folio(p, hs->order);
  return p;
}

void Hugetlb::boot(hal::Hal& h) {
  const uint64_t want[HUGE_MAX_HSTATE] = {ctx_->params->hugepages_2m, ctx_->params->hugepages_1g};
  hstates_[0].nr_overcommit_huge_pages = ctx_->params->nr_overcommit_hugepages_2m;
  hstates_[1].nr_overcommit_huge_pages = ctx_->params->nr_overcommit_hugepages_1g;
  // Gigantic pages first: they need the largest free ranges.
  for (int i = HUGE_MAX_HSTATE - 1; i >= 0; --i) {
    hstate& hs = hstates_[i];
    hs.max_huge_pages = want[i];
    if (!want[i]) continue;
    if (hs.shift == 30 && !ctx_->boot->gbpages) {
      ctx_->log->printk(h, LOGLEVEL_WARNING, "HugeTLB: 1 GiB pages not supported by the CPU, hugepages_1g ignored");
      hs.boot_failed = want[i];
      continue;
    }
    // Round-robin over the nodes with memory, as hugepages= does.
    const unsigned nr_nodes = ctx_->nodes->nr_nodes();
    unsigned nid = 0;
    unsigned misses = 0;
    for (uint64_t done = 0; done < want[i];) {
      page* p = ctx_->nodes->node(static_cast<int>(nid)).node_present_pages ? alloc_fresh(h, &hs, static_cast<int>(nid), true)
                                                                            : nullptr;
      nid = (nid + 1) % nr_nodes;
      if (!p) {
        if (++misses >= nr_nodes) break;  // no node can give one more
        continue;
      }
      misses = 0;
      set_page_count(p, 0);
      const int pn = page_to_nid(p);
      ++hs.nr_huge_pages;
      ++hs.nr_huge_pages_node[pn];
      enqueue(&hs, p);
      ++done;
    }
    if (hs.nr_huge_pages < want[i]) {
      hs.boot_failed = want[i] - hs.nr_huge_pages;
      ctx_->log->printk(h, LOGLEVEL_WARNING, "HugeTLB: allocating %lu of page size %u KiB failed.  Only allocated %lu hugepages.",
                        static_cast<unsigned long>(want[i]), hs.size_kb, static_cast<unsigned long>(hs.nr_huge_pages));
    }
    ctx_->log->printk(h, LOGLEVEL_INFO, "HugeTLB: registered %s page size, pre-allocated %lu pages", hs.name,
                      static_cast<unsigned long>(hs.nr_huge_pages));
  }
}

page* Hugetlb::alloc_surplus(hal::Hal& h, hstate* hs, int nid) {
  if (hs->order > MAX_PAGE_ORDER) return nullptr;  // Linux: no gigantic surplus pages
  if (hs->surplus_huge_pages >= hs->nr_overcommit_huge_pages) return nullptr;
  page* p = ctx_->page_alloc->alloc_pages(h, kHtlbGfp | __GFP_RETRY_MAYFAIL, hs->order, nid);
  if (!p) {
    ctx_->vmstat->count(HTLB_BUDDY_PGALLOC_FAIL);
    return nullptr;
  }
  ctx_->vmstat->count(HTLB_BUDDY_PGALLOC);
  prep_new_hugetlb_folio(p, hs->order);
  LockGuard g(lock_, h);
  const int pn = page_to_nid(p);
  ++hs->nr_huge_pages;
  ++hs->nr_huge_pages_node[pn];
  ++hs->surplus_huge_pages;
  ++hs->surplus_huge_pages_node[pn];
  ++hs->surplus_allocs;
  return p;
}

int Hugetlb::gather_surplus_pages(hal::Hal& h, hstate* hs, uint64_t delta) {
  // Surplus pages join the free pool so the reservation can promise them.
  for (uint64_t i = 0; i < delta; ++i) {
    page* p = alloc_surplus(h, hs, ctx_->nodes->cpu_to_node(h.cpu()));
    if (!p) return -ENOMEM;
    LockGuard g(lock_, h);
    set_page_count(p, 0);
    enqueue(hs, p);
  }
  return 0;
}

void Hugetlb::return_unused_surplus_pages(hal::Hal& h, hstate* hs) {
  // Free surplus pages nobody is promised go back to the buddy allocator.
  for (;;) {
    page* p = nullptr;
    {
      LockGuard g(lock_, h);
      if (!hs->surplus_huge_pages || hs->free_huge_pages <= hs->resv_huge_pages) return;
      for (unsigned n = 0; n < ctx_->nodes->nr_nodes() && !p; ++n) {
        if (!hs->surplus_huge_pages_node[n] || list_empty(&hs->hugepage_freelists[n])) continue;
        p = list_first_entry(&hs->hugepage_freelists[n], page, lru);
        list_del(&p->lru);
        --hs->free_huge_pages;
        --hs->free_huge_pages_node[n];
        --hs->surplus_huge_pages;
        --hs->surplus_huge_pages_node[n];
        --hs->nr_huge_pages;
        --hs->nr_huge_pages_node[n];
      }
      if (!p) return;
    }
    update_and_free(h, hs, p);  // (a free page holding an error included)
  }
}

int Hugetlb::reserve(hal::Hal& h, unsigned shift, uint64_t pages) {
  hstate* hs = hstate_of(shift);
  if (!hs) return -EINVAL;
  if (!pages) return 0;
  uint64_t short_by = 0;
  {
    LockGuard g(lock_, h);
    const uint64_t avail = hs->free_huge_pages - hs->resv_huge_pages;
    if (avail >= pages) {
      hs->resv_huge_pages += pages;
      return 0;
    }
    short_by = pages - avail;
  }
  if (gather_surplus_pages(h, hs, short_by) == 0) {
    LockGuard g(lock_, h);
    if (hs->free_huge_pages - hs->resv_huge_pages >= pages) {
      hs->resv_huge_pages += pages;
      return 0;
    }
  }
  return_unused_surplus_pages(h, hs);
  ++hs->reserve_failed;
  return -ENOMEM;
}

void Hugetlb::unreserve(hal::Hal& h, unsigned shift, uint64_t pages) {
  hstate* hs = hstate_of(shift);
  if (!hs || !pages) return;
  {
    LockGuard g(lock_, h);
    FW_BUG_ON(*ctx_->log, h, hs->resv_huge_pages < pages);
    hs->resv_huge_pages -= pages;
  }
  return_unused_surplus_pages(h, hs);
}

page* Hugetlb::alloc_huge_page(hal::Hal& h, hstate* hs, bool reserved) {
  const int nid = ctx_->nodes->cpu_to_node(h.cpu());
  {
    LockGuard g(lock_, h);
    if (reserved || hs->free_huge_pages > hs->resv_huge_pages) {
      bool poisoned = false;
      page* p = dequeue(h, hs, nid, &poisoned);
      if (p) {
        if (reserved) --hs->resv_huge_pages;
        return p;
      }
      // free >= resv was broken, unless a free page holds an error that
      // could not be dissolved (every other one promised): as 6.18, it is
      // never given out.
      FW_BUG_ON(*ctx_->log, h, reserved && !poisoned);
    }
  }
  return alloc_surplus(h, hs, nid);  // refcount 1 already
}

void Hugetlb::free_huge_folio(hal::Hal& h, page* head) {
  hstate* hs = hstate_of(PAGE_SHIFT + compound_order(head));
  FW_BUG_ON(*ctx_->log, h, hs == nullptr || folio_mapped(head));
  head->mapping = 0;
  head->index = 0;
  head->flags &= PAGE_FLAGS_LINKS | (1ull << PG_head) | (1ull << PG_hwpoison);
  head[1].entire_mapcount = -1;
  const int nid = page_to_nid(head);
  bool to_buddy = false;
  if (PageHWPoison(head)) {
    // A folio holding an error leaves the pool: dissolved, its bad pages
    // kept out. (6.18 puts it on the free list, which never hands a
    // poisoned page out, and memory_failure() dissolves it from there.)
    {
      LockGuard g(lock_, h);
      remove_hugetlb_folio(hs, head, false);
    }
    update_and_free(h, hs, head);
    return;
  }
  {
    LockGuard g(lock_, h);
    if (hs->surplus_huge_pages_node[nid]) {
      // This node has more pages than its pool should: shrink it.
      --hs->surplus_huge_pages_node[nid];
      --hs->surplus_huge_pages;
      --hs->nr_huge_pages;
      --hs->nr_huge_pages_node[nid];
      to_buddy = true;
    } else {
      enqueue(hs, head);
    }
  }
  if (to_buddy) update_and_free(h, hs, head);
}

bool Hugetlb::zero_huge_page(hal::Hal& h, page* p, hstate* hs) {
  ctx_->charge(h, ctx_->params->cost_page_zero_ns << hs->order);
  return h.phys_fill(ctx_->nodes->page_to_phys(p), 0, 1ull << hs->shift) == hal::MemStatus::ok;
}

// ---------------------------------------------------------------- faults

FaultResult Hugetlb::hugetlb_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, bool write) {
  hstate* hs = hstate_of(vma->huge_shift);
  if (!hs) return {FaultKind::sigbus, "hugetlb mapping of an unknown page size"};
  PgTable& pt = *ctx_->pgtable;
  const uint64_t size = 1ull << hs->shift;
  const uint64_t haddr = addr & ~(size - 1);
  uint64_t epa;
  const int r = pt.walk_to(h, mm->pgd, haddr, level_of(hs->shift), true, _PAGE_TABLE, false, &epa, &mm->pgtables);
  if (r == -ENOMEM) return {FaultKind::oom, "out of memory for a page table"};
  if (r) return {FaultKind::sigbus, "page table unreadable (memory error)"};
  uint64_t e;
  if (!pt.read_entry(h, epa, &e)) return {FaultKind::sigbus, "page table unreadable (memory error)"};
  ctx_->vmstat->count(PGFAULT_HUGETLB);
  if (e) {
    // A leaf memory_failure() unmapped: the huge page held an error.
    if (is_swap_pte(e) && is_hwpoison_entry(pte_to_swp_entry(e)))
      return hwpoison_fault(hs, "hardware memory corruption (hugetlb)");
    if (!pte_present(e)) return {FaultKind::spurious, "PROT_NONE huge entry"};
    if (write && !(e & PTE_RW)) return hugetlb_wp(h, mm, vma, hs, haddr, epa, e);
    return {FaultKind::spurious, "huge page present"};
  }

  page* p = nullptr;
  bool in_cache = false;
  address_space* obj = vma->vm_obj;
  uint64_t index = 0;
  if (obj) {
    index = ((haddr - vma->vm_start) >> hs->shift) + (vma->vm_pgoff >> hs->order);
    p = ctx_->shmem->find_page(h, obj, index);
    // An error found while nobody mapped it (no hwpoison entry here).
    if (p && PageHWPoison(p)) return hwpoison_fault(hs, "hardware memory corruption (poisoned huge page in the object)");
    if (p) {
      get_page(p);
      in_cache = true;
    }
  }
  if (!p) {
    bool reserved = false;
    if (obj && obj->resv) {
      --obj->resv;
      reserved = true;
    } else if (!obj && vma->resv_owner && vma->resv_pages) {
      --vma->resv_pages;
      reserved = true;
    }
    p = alloc_huge_page(h, hs, reserved);
    if (!p) {
      ++hs->fault_sigbus;
      return {FaultKind::sigbus, "no free huge page (and no reservation)"};
    }
    zero_huge_page(h, p, hs);
    if (obj) {
      if (!ctx_->shmem->add_page(h, obj, index, p)) {
        // Another process added it meanwhile: use that one.
        ctx_->page_alloc->put_page(h, p);
        if (reserved && reserve(h, hs->shift, 1) == 0) ++obj->resv;
        p = ctx_->shmem->find_page(h, obj, index);
        if (!p) return {FaultKind::oom, "out of memory for a shared object"};
      }
      get_page(p);  // the mapping's; the allocation's is the object's
      in_cache = true;
    } else if (ctx_->rmap->anon_vma_prepare(h, vma)) {
      ctx_->page_alloc->put_page(h, p);
      return {FaultKind::oom, "out of memory for an anon_vma"};
    }
  }
  uint64_t leaf = ctx_->nodes->page_to_phys(p) | vma->vm_page_prot | PTE_PS | PTE_A;
  if (obj) {
    if (write) leaf |= PTE_D;
  } else if (vma->vm_flags & VM_WRITE) {
    leaf |= PTE_RW | PTE_D;  // a fresh private page: nobody else has it
  }
  LockGuard g(mm->page_table_lock, h);
  uint64_t cur;
  if (!pt.read_entry(h, epa, &cur) || cur) {
    ctx_->page_alloc->put_page(h, p);
    return {FaultKind::spurious, "populated meanwhile"};
  }
  if (in_cache) ctx_->rmap->folio_add_rmap_pmd(p);
  else ctx_->rmap->folio_add_new_anon_rmap_pmd(p, vma, haddr);
  pt.write_entry(h, epa, leaf);
  mm->rss_huge += size >> PAGE_SHIFT;
  ++hs->faults;
  return {FaultKind::handled, "hugetlb page"};
}

FaultResult Hugetlb::hugetlb_wp(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, hstate* hs, uint64_t haddr,
                                uint64_t epa, uint64_t e) {
  PgTable& pt = *ctx_->pgtable;
  page* old = ctx_->nodes->pfn_to_page((e & pt.phys_mask()) >> PAGE_SHIFT);
  if (!old) return {FaultKind::sigbus, "huge page outside the memory map"};
  if ((vma->vm_flags & VM_SHARED) || (folio_entire_mapcount(old) == 1 && page_ref_count(old) == 1)) {
    // Shared memory, or the only user of a private page: writable in place.
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, epa, &cur) || cur != e) return {FaultKind::spurious, "changed meanwhile"};
    pt.write_entry(h, epa, e | PTE_RW | PTE_D);
    ++hs->reuse;
    return {FaultKind::handled, "hugetlb write"};
  }
  // Copy-on-write after fork: a page without reservation (Linux takes the
  // owner's; a failure here is SIGBUS either way).
  page* np = alloc_huge_page(h, hs, false);
  if (!np) {
    ++hs->fault_sigbus;
    return {FaultKind::sigbus, "no free huge page for copy-on-write"};
  }
  const uint64_t size = 1ull << hs->shift;
  if (h.phys_copy(ctx_->nodes->page_to_phys(np), ctx_->nodes->page_to_phys(old), size) != hal::MemStatus::ok) {
    ctx_->page_alloc->put_page(h, np);
    // VM_FAULT_HWPOISON_LARGE: the signal carries the huge page's size.
    return {FaultKind::hwpoison, "copy-on-write of a huge page holding poison", static_cast<uint8_t>(hs->shift)};
  }
  if (ctx_->rmap->anon_vma_prepare(h, vma)) {
    ctx_->page_alloc->put_page(h, np);
    return {FaultKind::oom, "out of memory for an anon_vma"};
  }
  {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, epa, &cur) || cur != e) {
      ctx_->page_alloc->put_page(h, np);
      return {FaultKind::spurious, "changed meanwhile"};
    }
    ctx_->rmap->folio_add_new_anon_rmap_pmd(np, vma, haddr);
    pt.write_entry(h, epa, ctx_->nodes->page_to_phys(np) | (e & ~pt.phys_mask()) | PTE_RW | PTE_D);
    ctx_->rmap->folio_remove_rmap_pmd(old);
    ctx_->tlb->flush_tlb_mm_range(h, mm, haddr, haddr + size, hs->shift, false);
  }
  ctx_->page_alloc->put_page(h, old);
  ++hs->cow;
  return {FaultKind::handled, "hugetlb copy-on-write"};
}

int Hugetlb::populate(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, bool write) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t size = 1ull << vma->huge_shift;
  for (uint64_t a = start & ~(size - 1); a < end; a += size) {
    for (int tries = 0; tries < 4; ++tries) {
      PteLookup l;
      if (pt.lookup(h, mm->pgd, a, &l) && (!write || (l.entry & PTE_RW))) break;
      const FaultResult fr = hugetlb_fault(h, mm, vma, a, write);
      if (fr.kind == FaultKind::oom) return -ENOMEM;
      if (fr.kind == FaultKind::sigbus || fr.kind == FaultKind::hwpoison) return -EFAULT;
    }
  }
  return 0;
}

uint64_t Hugetlb::count_present(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end) {
  mm_struct* mm = vma->vm_mm;
  if (!mm || !mm->pgd) return 0;
  PgTable& pt = *ctx_->pgtable;
  const uint64_t size = 1ull << vma->huge_shift;
  uint64_t n = 0;
  for (uint64_t a = start & ~(size - 1); a < end; a += size) {
    uint64_t epa, e;
    if (!pt.walk_to(h, mm->pgd, a, level_of(vma->huge_shift), false, 0, false, &epa) && pt.read_entry(h, epa, &e) &&
        pte_maps_page(e))
      ++n;
  }
  return n;
}

int Hugetlb::copy_hugetlb_page_range(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma,
                                     vm_area_struct* svma) {
  PgTable& pt = *ctx_->pgtable;
  const unsigned shift = svma->huge_shift;
  const uint64_t size = 1ull << shift;
  const bool cow = !(svma->vm_flags & VM_SHARED);
  if (cow && ctx_->rmap->anon_vma_prepare(h, dvma)) return -ENOMEM;
  for (uint64_t a = svma->vm_start; a < svma->vm_end; a += size) {
    uint64_t spa, e;
    if (pt.walk_to(h, src->pgd, a, level_of(shift), false, 0, false, &spa) || !pt.read_entry(h, spa, &e) || !e)
      continue;
    uint64_t dpa;
    if (pt.walk_to(h, dst->pgd, a, level_of(shift), true, _PAGE_TABLE, false, &dpa, &dst->pgtables)) return -ENOMEM;
    LockGuard gs(src->page_table_lock, h);
    LockGuard gd(dst->page_table_lock, h);
    if (!pt.read_entry(h, spa, &e)) continue;
    if (is_swap_pte(e) && is_hwpoison_entry(pte_to_swp_entry(e))) {
      pt.write_entry(h, dpa, e);  // the child meets the poison too (6.18 copies the entry)
      continue;
    }
    if (!pte_maps_page(e)) continue;
    page* head = ctx_->nodes->pfn_to_page((e & pt.phys_mask()) >> PAGE_SHIFT);
    if (!head) continue;
    get_page(head);
    ctx_->rmap->folio_add_rmap_pmd(head);
    dst->rss_huge += size >> PAGE_SHIFT;
    uint64_t ne = e;
    if (cow && (e & PTE_RW)) {
      ne = e & ~PTE_RW;
      pt.write_entry(h, spa, ne);
    }
    pt.write_entry(h, dpa, ne);
  }
  return 0;
}

void Hugetlb::change_protection(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end, uint64_t newprot) {
  mm_struct* mm = vma->vm_mm;
  PgTable& pt = *ctx_->pgtable;
  const unsigned shift = vma->huge_shift;
  const uint64_t size = 1ull << shift;
  LockGuard g(mm->page_table_lock, h);
  for (uint64_t a = start; a < end; a += size) {
    uint64_t epa, e;
    if (pt.walk_to(h, mm->pgd, a, level_of(shift), false, 0, false, &epa) || !pt.read_entry(h, epa, &e) ||
        !pte_maps_page(e))
      continue;
    const uint64_t frame = e & pt.phys_mask();
    const uint64_t ad = e & (PTE_A | PTE_D);
    uint64_t ne;
    if (newprot & PTE_P) {
      ne = frame | newprot | ad | PTE_PS;
      if ((e & PTE_RW) && (vma->vm_flags & VM_WRITE)) ne |= PTE_RW;
    } else {
      ne = frame | _PAGE_PROTNONE | ad | PTE_PS;
    }
    if (ne != e) pt.write_entry(h, epa, ne);
  }
}


// ---------------------------------------------------------------- memory errors

FaultResult Hugetlb::hwpoison_fault(const hstate* hs, const char* why) {
  // VM_FAULT_HWPOISON_LARGE: the signal's si_addr_lsb is the page size's.
  return {FaultKind::hwpoison, why, static_cast<uint8_t>(hs->shift)};
}

void Hugetlb::remove_hugetlb_folio(hstate* hs, page* head, bool free) {
  const int nid = page_to_nid(head);
  if (free) {
    list_del(&head->lru);
    --hs->free_huge_pages;
    --hs->free_huge_pages_node[nid];
  }
  if (hs->surplus_huge_pages_node[nid]) {
    --hs->surplus_huge_pages;
    --hs->surplus_huge_pages_node[nid];
  }
  --hs->nr_huge_pages;
  --hs->nr_huge_pages_node[nid];
}

void Hugetlb::update_and_free(hal::Hal& h, hstate* hs, page* head) {
  // The error moves from the folio to its bad pages (folio_clear_hugetlb_hwpoison).
  if (!(head[1].compound_flags & COMPOUND_HWP_RAW_HEAD)) ClearPageFlag(head, PG_hwpoison);
  head[1].compound_flags = 0;
  if (hs->order <= MAX_PAGE_ORDER) {
    ctx_->page_alloc->free_frozen_pages(h, head, hs->order);
    return;
  }
  // Gigantic: no buddy block is that large; page by page, the bad ones
  // kept with one reference (as the buddy allocator's free_poisoned).
  const uint64_t n = 1ull << hs->order;
  for (uint64_t i = 1; i < n; ++i) head[i].compound_head = 0;
  head[1].compound_order = 0;
  head[1].entire_mapcount = 0;
  head[1].tail_mapping = 0;
  head[2].tail_mapping = 0;
  ClearPageFlag(head, PG_head);
  for (uint64_t i = 0; i < n; ++i) {
    set_page_count(head + i, 1);
    if (!PageHWPoison(head + i)) ctx_->page_alloc->free_pages(h, head + i, 0);
  }
}

bool Hugetlb::folio_is_free(hal::Hal& h, page* head) {
  if (!PageHuge(head)) return false;
  LockGuard g(lock_, h);
  return page_ref_count(head) == 0 && head->lru.next != nullptr;  // list_del clears the link
}

int Hugetlb::dissolve_free_hugetlb_folio(hal::Hal& h, page* head) {
  if (!PageHuge(head)) return 0;
  hstate* hs = hstate_of(PAGE_SHIFT + compound_order(head));
  {
    LockGuard g(lock_, h);
    if (page_ref_count(head) != 0) return -EBUSY;
    // Every free page promised to a mapping: this one may not go.
    if (hs->free_huge_pages <= hs->resv_huge_pages) return -EBUSY;
    remove_hugetlb_folio(hs, head, true);
  }
  update_and_free(h, hs, head);
  return 0;
}

namespace {

// The leaf of vma mapping huge page `pfn` at address (any address inside
// it); returns where it lives, 0 when no leaf maps it there.
uint64_t folio_leaf(hal::Hal& h, MmContext* ctx, vm_area_struct* vma, uint64_t address, unsigned shift, uint64_t pfn,
                    uint64_t* e) {
  mm_struct* mm = vma->vm_mm;
  if (!mm || !mm->pgd || !(vma->vm_flags & VM_HUGETLB) || vma->huge_shift != shift) return 0;
  PgTable& pt = *ctx->pgtable;
  uint64_t epa;
  const uint64_t haddr = address & ~((1ull << shift) - 1);
  if (pt.walk_to(h, mm->pgd, haddr, level_of(shift), false, 0, false, &epa) || !pt.read_entry(h, epa, e)) return 0;
  if (!pte_maps_page(*e) || ((*e & pt.phys_mask()) >> PAGE_SHIFT) != pfn) return 0;
  return epa;
}

// Calls leaf() for each leaf of the walked VMAs that maps the huge page
// `pfn`, under the mm's page_table_lock.
struct HugeLeafVisitor : RmapVisitor {
  HugeLeafVisitor(MmContext* c, unsigned sh, uint64_t p) : ctx(c), shift(sh), pfn(p) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    mm_struct* mm = vma->vm_mm;
    uint64_t e = 0;
    LockGuard g(mm->page_table_lock, h);
    const uint64_t epa = folio_leaf(h, ctx, vma, address, shift, pfn, &e);
    if (!epa) return true;
    return leaf(h, mm, epa, e, address & ~((1ull << shift) - 1));
  }
  // Returns false to stop the walk.
  virtual bool leaf(hal::Hal& h, mm_struct* mm, uint64_t epa, uint64_t e, uint64_t haddr) = 0;
  MmContext* ctx;
  unsigned shift;
  uint64_t pfn;

 protected:
  ~HugeLeafVisitor() = default;
};

// try_to_unmap_one's hugetlb hwpoison branch: one VMA's leaf becomes a
// hwpoison entry.
struct HugeUnmapVisitor final : HugeLeafVisitor {
  HugeUnmapVisitor(MmContext* c, page* hd, unsigned sh)
      : HugeLeafVisitor(c, sh, c->nodes->page_to_pfn(hd)), head(hd) {}
  bool leaf(hal::Hal& h, mm_struct* mm, uint64_t epa, uint64_t e, uint64_t haddr) override {
    if (e & x86::PTE_D) SetPageFlag(head, PG_dirty);
    ctx->pgtable->write_entry(h, epa, swp_entry_to_pte(make_hwpoison_entry(pfn)));
    ctx->tlb->flush_tlb_mm_range(h, mm, haddr, haddr + (1ull << shift), shift, false);
    mm->rss_huge -= 1ull << (shift - PAGE_SHIFT);
    ctx->rmap->folio_remove_rmap_pmd(head);
    put_page_testzero(head);  // the mapping's reference (the caller holds another)
    return folio_mapped(head);
  }
  page* head;
};

// Soft offline's first step: every leaf mapping the old page becomes a
// migration entry (a fault there retries until the move is done), and is
// remembered.
struct HugeMigrateVisitor final : HugeLeafVisitor {
  static constexpr unsigned kMax = 32;
  struct Leaf {
    mm_struct* mm;
    uint64_t epa, entry;
  };
  HugeMigrateVisitor(MmContext* c, unsigned sh, uint64_t p) : HugeLeafVisitor(c, sh, p) {}
  bool leaf(hal::Hal& h, mm_struct* mm, uint64_t epa, uint64_t e, uint64_t haddr) override {
    if (n == kMax) {
      overflow = true;
      return false;
    }
    leaves[n++] = {mm, epa, e};
    ctx->pgtable->write_entry(h, epa, (e & ~x86::PTE_P) | SWP_MIGRATION_MARK);
    ctx->tlb->flush_tlb_mm_range(h, mm, haddr, haddr + (1ull << shift), shift, false);
    return true;
  }
  Leaf leaves[kMax];
  unsigned n = 0;
  bool overflow = false;
};

}  // namespace

bool Hugetlb::unmap_poisoned_folio(hal::Hal& h, page* head) {
  if (!folio_mapped(head)) return true;
  HugeUnmapVisitor v(ctx_, head, PAGE_SHIFT + compound_order(head));
  ctx_->rmap->rmap_walk(h, head, v);
  return !folio_mapped(head);
}

int Hugetlb::migrate_hugetlb_folio(hal::Hal& h, page* head) {
  hstate* hs = hstate_of(PAGE_SHIFT + compound_order(head));
  address_space* obj = PageAnon(head) ? nullptr : page_mapping_obj(head);
  if (!hs || (!PageAnon(head) && !obj)) return -EBUSY;
  page* np = alloc_huge_page(h, hs, false);  // beyond the reservations, or a surplus page
  if (!np) return -ENOMEM;
  PgTable& pt = *ctx_->pgtable;
  const uint64_t old_pa = ctx_->nodes->page_to_phys(head), new_pa = ctx_->nodes->page_to_phys(np);
  HugeMigrateVisitor v(ctx_, hs->shift, old_pa >> PAGE_SHIFT);
  ctx_->rmap->rmap_walk(h, head, v);
  bool copied = !v.overflow && h.phys_copy(new_pa, old_pa, 1ull << hs->shift) == hal::MemStatus::ok;
  if (copied && obj) {
    // The object's slot now holds the new page, and its reference moves.
    copied = ctx_->shmem->replace_page(h, obj, head->index, head, np);
    if (copied) {
      get_page(np);
      put_page_testzero(head);  // the caller's reference keeps it
    }
  } else if (copied) {
    np->mapping = head->mapping;
    np->index = head->index;
  }
  if (copied) np->flags |= head->flags & ((1ull << PG_swapbacked) | (1ull << PG_dirty));
  // Each leaf points at the new page (or back at the old one when the
  // copy failed); a leaf zapped meanwhile is left alone.
  for (unsigned i = 0; i < v.n; ++i) {
    const HugeMigrateVisitor::Leaf& l = v.leaves[i];
    LockGuard g(l.mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, l.epa, &cur) || cur != ((l.entry & ~x86::PTE_P) | SWP_MIGRATION_MARK)) continue;
    if (!copied) {
      pt.write_entry(h, l.epa, l.entry);
      continue;
    }
    pt.write_entry(h, l.epa, new_pa | (l.entry & ~pt.phys_mask()));
    get_page(np);
    ctx_->rmap->folio_add_rmap_pmd(np);
    ctx_->rmap->folio_remove_rmap_pmd(head);
    put_page_testzero(head);  // the caller's reference keeps it
  }
  ctx_->page_alloc->put_page(h, np);  // the allocation's: the mappings hold theirs
  return copied ? 0 : -EBUSY;
}

// ---------------------------------------------------------------- statistics

void Hugetlb::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  for (unsigned i = 0; i < HUGE_MAX_HSTATE; ++i) {
    const hstate& hs = hstates_[i];
    e.fmt(hs.nr_huge_pages, "huge pages in the pool (nr_hugepages)", "count", "%s.nr_hugepages", hs.name);
    e.fmt(hs.free_huge_pages, "free huge pages (free_hugepages)", "count", "%s.free_hugepages", hs.name);
    e.fmt(hs.resv_huge_pages, "huge pages promised to mappings and not faulted in yet (resv_hugepages)", "count",
          "%s.resv_hugepages", hs.name);
    e.fmt(hs.surplus_huge_pages, "huge pages beyond the pool, from the buddy allocator (surplus_hugepages)", "count",
          "%s.surplus_hugepages", hs.name);
    e.fmt(hs.nr_overcommit_huge_pages, "surplus huge pages allowed (nr_overcommit_hugepages)", "count",
          "%s.nr_overcommit_hugepages", hs.name);
    e.fmt(hs.max_huge_pages, "huge pages asked for at boot", "count", "%s.boot_requested", hs.name);
    e.fmt(hs.boot_failed, "boot huge pages that could not be allocated", "count", "%s.boot_failed", hs.name);
    e.fmt(hs.faults, "faults that mapped a huge page", "count", "%s.faults", hs.name);
    e.fmt(hs.cow, "copy-on-write copies of huge pages", "count", "%s.cow", hs.name);
    e.fmt(hs.reuse, "write faults that made a huge page writable in place", "count", "%s.reuse", hs.name);
    e.fmt(hs.fault_sigbus, "faults with no huge page to give (SIGBUS)", "count", "%s.fault_sigbus", hs.name);
    e.fmt(hs.reserve_failed, "mmaps refused for lack of huge pages (ENOMEM)", "count", "%s.reserve_failed", hs.name);
    e.fmt(hs.surplus_allocs, "surplus huge pages allocated", "count", "%s.surplus_allocs", hs.name);
    for (unsigned n = 0; n < ctx_->nodes->nr_nodes(); ++n) {
      e.fmt(hs.nr_huge_pages_node[n], "huge pages of the node's pool", "count", "%s.node%u.nr_hugepages", hs.name, n);
      e.fmt(hs.free_huge_pages_node[n], "free huge pages of the node", "count", "%s.node%u.free_hugepages", hs.name, n);
      e.fmt(hs.surplus_huge_pages_node[n], "surplus huge pages of the node", "count", "%s.node%u.surplus_hugepages",
            hs.name, n);
    }
  }
}

}  // namespace fw
