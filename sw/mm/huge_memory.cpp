#include "sw/mm/huge_memory.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/khugepaged.h"
#include "sw/mm/lru.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

using namespace x86;

bool HugeMemory::vma_allowable(const vm_area_struct* vma) const {
  const uint32_t mode = ctx_->params->transparent_hugepage;
  if (mode == THP_NEVER) return false;
  if (vma->vm_flags & (VM_NOHUGEPAGE | VM_HUGETLB | VM_SHARED)) return false;
  if (vma->vm_obj) return false;  // shared memory: shmem THP is not modelled
  if (mode == THP_MADVISE && !(vma->vm_flags & VM_HUGEPAGE)) return false;
  return true;
}

gfp_t HugeMemory::vma_thp_gfp_mask(const vm_area_struct* vma) const {
  const bool madvised = vma && (vma->vm_flags & VM_HUGEPAGE);
  switch (ctx_->params->transparent_hugepage_defrag) {
    case THP_DEFRAG_ALWAYS:  // always compact directly (madvised ones may retry)
      return GFP_TRANSHUGE | (madvised ? 0 : __GFP_NORETRY);
    case THP_DEFRAG_DEFER:  // wake kcompactd, fail at once
      return GFP_TRANSHUGE_LIGHT | __GFP_KSWAPD_RECLAIM;
    case THP_DEFRAG_DEFER_MADVISE:
      return GFP_TRANSHUGE_LIGHT | (madvised ? __GFP_DIRECT_RECLAIM : __GFP_KSWAPD_RECLAIM);
    case THP_DEFRAG_MADVISE:
      return GFP_TRANSHUGE_LIGHT | (madvised ? __GFP_DIRECT_RECLAIM : 0);
    default:
      return GFP_TRANSHUGE_LIGHT;
  }
}

// ---------------------------------------------------------------- deposits

void HugeMemory::pgtable_deposit(hal::Hal& h, uint64_t pmd_pa, uint64_t pt_pa) {
  (void)h;
  page* pd = ctx_->nodes->phys_to_page(pmd_pa);
  page* pt = ctx_->nodes->phys_to_page(pt_pa);
  pt->private_ = pd->private_;  // a stack of table addresses
  pd->private_ = pt_pa;
  ++stats_.deposits;
}

uint64_t HugeMemory::pgtable_withdraw(hal::Hal& h, uint64_t pmd_pa) {
  page* pd = ctx_->nodes->phys_to_page(pmd_pa);
  const uint64_t pt_pa = pd->private_;
  FW_BUG_ON(*ctx_->log, h, pt_pa == 0);
  page* pt = ctx_->nodes->phys_to_page(pt_pa);
  pd->private_ = pt->private_;
  pt->private_ = 0;
  --stats_.deposits;
  return pt_pa;
}

// ---------------------------------------------------------------- the huge zero page

page* HugeMemory::get_huge_zero_page(hal::Hal& h) {
  if (huge_zero_page_) return huge_zero_page_;
  // Not movable: it is shared by every mapping and never migrated.
  page* p = ctx_->page_alloc->alloc_pages(h, (GFP_TRANSHUGE | __GFP_ZERO) & ~__GFP_MOVABLE, HPAGE_PMD_ORDER);
  if (!p) {
    ctx_->vmstat->count(THP_ZERO_PAGE_ALLOC_FAILED);
    return nullptr;
  }
  ctx_->vmstat->count(THP_ZERO_PAGE_ALLOC);
  huge_zero_page_ = p;
  huge_zero_pfn_ = ctx_->nodes->page_to_pfn(p);
  return p;
}

void HugeMemory::shrink_huge_zero_page(hal::Hal& h) {
  if (!huge_zero_page_ || stats_.huge_zero_mapped) return;
  page* p = huge_zero_page_;
  huge_zero_page_ = nullptr;
  huge_zero_pfn_ = ~0ull;
  ctx_->page_alloc->put_page(h, p);
}

// ---------------------------------------------------------------- faults

FaultResult HugeMemory::do_huge_pmd_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr,
                                                   uint64_t pmd_pa, bool write) {
  PgTable& pt = *ctx_->pgtable;
  ctx_->khugepaged->enter_vma(h, vma);
  if (ctx_->rmap->anon_vma_prepare(h, vma)) return {FaultKind::oom, "out of memory for an anon_vma"};
  const uint64_t prot = vma->vm_page_prot;
  if (!write && ctx_->params->transparent_hugepage_use_zero_page) {
    page* zero = get_huge_zero_page(h);
    const uint64_t table = zero ? pt.alloc_table(h, false) : 0;
    if (!table) return {FaultKind::fallback, "no huge zero page"};
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pmd_pa, &cur) || cur) {
      pt.free_table(h, table, false);
      return {FaultKind::spurious, "populated meanwhile"};
    }
    ++mm->pgtables;
    pgtable_deposit(h, pmd_pa, table);
    pt.write_entry(h, pmd_pa, (PFN_PHYS(huge_zero_pfn_) | prot | PTE_PS) & ~PTE_RW);
    ++stats_.huge_zero_mapped;
    ctx_->vmstat->count(PGFAULT_ZERO_PAGE);
    return {FaultKind::handled, "huge zero page"};
  }
  page* p = ctx_->page_alloc->alloc_pages(h, vma_thp_gfp_mask(vma) | __GFP_ZERO, HPAGE_PMD_ORDER);
  if (!p) {
    ctx_->vmstat->count(THP_FAULT_FALLBACK);
    return {FaultKind::fallback, "no huge page"};
  }
  p[1].compound_flags |= COMPOUND_THP;
  const uint64_t table = pt.alloc_table(h, false);
  if (!table) {
    ctx_->page_alloc->put_page(h, p);
    ctx_->vmstat->count(THP_FAULT_FALLBACK);
    return {FaultKind::fallback, "no page table to deposit"};
  }
  LockGuard g(mm->page_table_lock, h);
  uint64_t cur;
  if (!pt.read_entry(h, pmd_pa, &cur) || cur) {
    pt.free_table(h, table, false);
    ctx_->page_alloc->put_page(h, p);
    return {FaultKind::spurious, "populated meanwhile"};
  }
  ++mm->pgtables;
  pgtable_deposit(h, pmd_pa, table);
  ctx_->rmap->folio_add_new_anon_rmap_pmd(p, vma, haddr);
  ctx_->lru->add(h, p);
  uint64_t pmd = ctx_->nodes->page_to_phys(p) | prot | PTE_PS;
  if (vma->vm_flags & VM_WRITE) pmd |= PTE_RW | PTE_D;
  pt.write_entry(h, pmd_pa, pmd);
  mm->rss_anon += HPAGE_PMD_NR;
  if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
  ctx_->vmstat->count(THP_FAULT_ALLOC);
  ctx_->vmstat->count(PGFAULT_ANON);
  return {FaultKind::handled, "transparent huge page"};
}

FaultResult HugeMemory::do_huge_pmd_wp_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr,
                                            uint64_t pmd_pa, uint64_t pmd) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t pfn = (pmd & pt.phys_mask()) >> PAGE_SHIFT;
  page* head = is_huge_zero_pfn(pfn) ? nullptr : ctx_->nodes->pfn_to_page(pfn);
  if (head && folio_entire_mapcount(head) == 1 && page_ref_count(head) == 1 && head->_mapcount < 0) {
    // The only mapping of the folio: writable in place.
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pmd_pa, &cur) || cur != pmd) return {FaultKind::spurious, "changed meanwhile"};
    pt.write_entry(h, pmd_pa, pmd | PTE_RW | PTE_D);
    ++stats_.reuse;
    ctx_->vmstat->count(PGREUSE);
    return {FaultKind::handled, "huge page made writable"};
  }
  // The huge zero page or a shared THP: split, the PTE level copies the
  // 4 KiB page written.
  {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pmd_pa, &cur) || cur != pmd) return {FaultKind::spurious, "changed meanwhile"};
    split_huge_pmd_locked(h, vma, haddr, pmd_pa, pmd);
  }
  if (head) split_huge_page(h, head);
  return {FaultKind::fallback, "split for copy-on-write"};
}

// ---------------------------------------------------------------- splitting

void HugeMemory::split_huge_pmd_locked(hal::Hal& h, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa,
                                       uint64_t pmd) {
  PgTable& pt = *ctx_->pgtable;
  mm_struct* mm = vma->vm_mm;
  const uint64_t table = pgtable_withdraw(h, pmd_pa);
  const uint64_t pfn = (pmd & pt.phys_mask()) >> PAGE_SHIFT;
  // The PTEs keep the PMD's bits (PS and the frame aside).
  const uint64_t bits = pmd & ~pt.phys_mask() & ~PTE_PS;
  if (is_huge_zero_pfn(pfn)) {
    const uint64_t zero = PFN_PHYS(ctx_->memory->zero_pfn());
    for (unsigned i = 0; i < PT_ENTRIES; ++i) pt.write_entry(h, table + 8ull * i, zero | (bits & ~PTE_RW));
    --stats_.huge_zero_mapped;
  } else {
    page* head = ctx_->nodes->pfn_to_page(pfn);
    for (unsigned i = 0; i < PT_ENTRIES; ++i) {
      pt.write_entry(h, table + 8ull * i, PFN_PHYS(pfn + i) | bits);
      ctx_->rmap->page_add_anon_rmap(head + i);
    }
    // One reference per PTE instead of one for the PMD.
    head->_refcount += PT_ENTRIES - 1;
    ctx_->rmap->folio_remove_rmap_pmd(head);
  }
  pt.write_entry(h, pmd_pa, table | _PAGE_TABLE);
  // The 2 MiB translation must not coexist with the 4 KiB ones.
  ctx_->tlb->flush_tlb_mm_range(h, mm, haddr, haddr + HPAGE_PMD_SIZE, HPAGE_PMD_SHIFT, false);
  ctx_->vmstat->count(THP_SPLIT_PMD);
}

void HugeMemory::split_huge_pmd_address(hal::Hal& h, vm_area_struct* vma, uint64_t addr) {
  mm_struct* mm = vma->vm_mm;
  if (!mm->pgd || (vma->vm_flags & VM_HUGETLB)) return;
  const uint64_t haddr = addr & ~(HPAGE_PMD_SIZE - 1);
  PgTable& pt = *ctx_->pgtable;
  uint64_t pmd_pa, pmd;
  if (pt.walk_to(h, mm->pgd, haddr, LEVEL_PD, false, 0, false, &pmd_pa)) return;
  page* head = nullptr;
  {
    LockGuard g(mm->page_table_lock, h);
    if (!pt.read_entry(h, pmd_pa, &pmd) || !(pmd & PTE_PS) || !pmd) return;
    const uint64_t pfn = (pmd & pt.phys_mask()) >> PAGE_SHIFT;
    if (!is_huge_zero_pfn(pfn)) head = ctx_->nodes->pfn_to_page(pfn);
    if (head) get_page(head);  // kept across the lock drop
    split_huge_pmd_locked(h, vma, haddr, pmd_pa, pmd);
  }
  if (head) {
    split_huge_page(h, head);
    ctx_->page_alloc->put_page(h, head);
  }
}

namespace {

// Splits every PMD mapping of a THP found through the reverse map.
struct SplitPmds final : RmapVisitor {
  MmContext* ctx;
  HugeMemory* thp;
  uint64_t pfn;
  SplitPmds(MmContext* c, HugeMemory* t, uint64_t f) : ctx(c), thp(t), pfn(f) {}
  bool one(hal::Hal& h, vm_area_struct* vma, uint64_t address) override {
    mm_struct* mm = vma->vm_mm;
    if (!mm || !mm->pgd) return true;
    PgTable& pt = *ctx->pgtable;
    uint64_t pmd_pa, pmd;
    if (pt.walk_to(h, mm->pgd, address, LEVEL_PD, false, 0, false, &pmd_pa)) return true;
    LockGuard g(mm->page_table_lock, h);
    if (!pt.read_entry(h, pmd_pa, &pmd) || !(pmd & PTE_PS) || ((pmd & pt.phys_mask()) >> PAGE_SHIFT) != pfn)
      return true;
    thp->split_huge_pmd_locked(h, vma, address & ~(HPAGE_PMD_SIZE - 1), pmd_pa, pmd);
    return true;
  }
};

}  // namespace

int HugeMemory::split_huge_page(hal::Hal& h, page* head) {
  if (!PageTransHuge(head)) return -EINVAL;
  // The folio lock (Linux's): one split at a time. The walk below waits for
  // shootdowns, and meanwhile another CPU may want to split it too; that
  // one fails and finds the folio PTE-mapped (copy-on-write copies a
  // subpage of a compound page), then split.
  if (PageIsolated(head) || !PageAnon(head) || PageFlag(head, PG_locked)) {
    ctx_->vmstat->count(THP_SPLIT_PAGE_FAILED);
    return -EBUSY;
  }
  SetPageFlag(head, PG_locked);
  get_page(head);  // ours, for the walk
  SplitPmds v(ctx_, this, ctx_->nodes->page_to_pfn(head));
  ctx_->rmap->rmap_walk(h, head, v);
  if (folio_entire_mapcount(head) != 0 || PageIsolated(head)) {
    ClearPageFlag(head, PG_locked);
    ctx_->page_alloc->put_page(h, head);
    ctx_->vmstat->count(THP_SPLIT_PAGE_FAILED);
    return -EBUSY;
  }
  // Every reference now is a PTE's (one per mapped subpage) or a pin: the
  // pins go to the first page, which the pinners name.
  const unsigned nr = static_cast<unsigned>(compound_nr(head));
  int64_t mapped = 0;
  for (unsigned i = 0; i < nr; ++i) mapped += page_mapcount(head + i);
  const int64_t extra = page_ref_count(head) - mapped;
  FW_BUG_ON(*ctx_->log, h, extra < 1);
  const bool on_lru = PageLRU(head);
  if (on_lru) ctx_->lru->del(h, head);
  const uint64_t mapping = head->mapping, index = head->index;
  const uint64_t keep = head->flags & ((1ull << PG_swapbacked) | (1ull << PG_dirty) | (1ull << PG_uptodate) |
                                       (1ull << PG_referenced) | (1ull << PG_active));
  ClearPageFlag(head, PG_head);
  ClearPageFlag(head, PG_locked);  // no yield until every piece stands alone
  for (unsigned i = 1; i < nr; ++i) {
    page* t = head + i;
    t->compound_head = 0;
    t->lru.prev = nullptr;
    // A tail's own PG_hwpoison stays (memory_failure() marks the bad page
    // before splitting its THP).
    t->flags = (t->flags & (PAGE_FLAGS_LINKS | (1ull << PG_hwpoison))) | keep;
    t->mapping = mapping;
    t->index = index + i;
    t->private_ = 0;
  }
  for (unsigned i = 0; i < nr; ++i) set_page_count(head + i, page_mapcount(head + i));
  head->_refcount += static_cast<int>(extra);
  ctx_->vmstat->count(THP_SPLIT_PAGE);
  // Mapped pieces go back on the LRU; the unmapped ones are free.
  for (unsigned i = 0; i < nr; ++i) {
    page* p = head + i;
    if (page_ref_count(p) == 0) {
      p->mapping = 0;
      p->flags &= PAGE_FLAGS_LINKS;
      ctx_->page_alloc->free_frozen_pages(h, p, 0);
    } else if (on_lru && page_mapped(p)) {
      ctx_->lru->add(h, p);
    }
  }
  ctx_->page_alloc->put_page(h, head);  // the walk's reference
  return 0;
}

// ---------------------------------------------------------------- zap, fork, mprotect, collapse

void HugeMemory::zap_huge_pmd(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa,
                              uint64_t pmd) {
  PgTable& pt = *ctx_->pgtable;
  mm_struct* mm = vma->vm_mm;
  pt.write_entry(h, pmd_pa, 0);
  g.cleared(haddr, HPAGE_PMD_SHIFT);
  // The deposited table was never linked: no walker can hold it.
  pt.free_table(h, pgtable_withdraw(h, pmd_pa), false);
  --mm->pgtables;
  const uint64_t pfn = (pmd & pt.phys_mask()) >> PAGE_SHIFT;
  if (is_huge_zero_pfn(pfn)) {
    --stats_.huge_zero_mapped;
    return;
  }
  page* head = ctx_->nodes->pfn_to_page(pfn);
  mm->rss_anon -= HPAGE_PMD_NR;
  ctx_->rmap->folio_remove_rmap_pmd(head);
  g.defer_put(h, head);
}

int HugeMemory::copy_huge_pmd(hal::Hal& h, mm_struct* dst, mm_struct* src, uint64_t dst_pmd_pa, uint64_t src_pmd_pa,
                              uint64_t pmd, uint64_t addr, vm_area_struct* dvma) {
  (void)addr;
  (void)dvma;
  PgTable& pt = *ctx_->pgtable;
  const uint64_t table = pt.alloc_table(h, false);
  if (!table) return -ENOMEM;
  LockGuard gs(src->page_table_lock, h);
  LockGuard gd(dst->page_table_lock, h);
  uint64_t cur;
  if (!pt.read_entry(h, src_pmd_pa, &cur) || cur != pmd) {
    pt.free_table(h, table, false);
    return -EAGAIN;
  }
  ++dst->pgtables;
  pgtable_deposit(h, dst_pmd_pa, table);
  const uint64_t pfn = (pmd & pt.phys_mask()) >> PAGE_SHIFT;
  if (is_huge_zero_pfn(pfn)) {
    ++stats_.huge_zero_mapped;
    pt.write_entry(h, dst_pmd_pa, pmd);
    return 0;
  }
  page* head = ctx_->nodes->pfn_to_page(pfn);
  get_page(head);
  ctx_->rmap->folio_add_rmap_pmd(head);
  dst->rss_anon += HPAGE_PMD_NR;
  // Both copies read-only: the first write splits and copies.
  const uint64_t wp = pmd & ~PTE_RW;
  if (wp != pmd) pt.write_entry(h, src_pmd_pa, wp);
  pt.write_entry(h, dst_pmd_pa, wp);
  return 0;
}

void HugeMemory::change_huge_pmd(hal::Hal& h, vm_area_struct* vma, uint64_t pmd_pa, uint64_t pmd, uint64_t newprot) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t frame = pmd & pt.phys_mask();
  const uint64_t ad = pmd & (PTE_A | PTE_D);
  uint64_t npmd;
  if (newprot & PTE_P) {
    // A private page that was writable stays so while the mapping is; one
    // that was not is made writable by its next write fault.
    npmd = frame | newprot | ad | PTE_PS;
    if ((pmd & PTE_RW) && (vma->vm_flags & VM_WRITE)) npmd |= PTE_RW;
  } else {
    npmd = frame | _PAGE_PROTNONE | (pmd & (PTE_US | PTE_NX)) | ad | PTE_PS;
  }
  if (npmd != pmd) pt.write_entry(h, pmd_pa, npmd);
}

void HugeMemory::set_huge_pmd(hal::Hal& h, vm_area_struct* vma, uint64_t haddr, uint64_t pmd_pa, page* head,
                              uint64_t pt_pa) {
  PgTable& pt = *ctx_->pgtable;
  mm_struct* mm = vma->vm_mm;
  pgtable_deposit(h, pmd_pa, pt_pa);
  head[1].compound_flags |= COMPOUND_THP;
  ctx_->rmap->folio_add_new_anon_rmap_pmd(head, vma, haddr);
  ctx_->lru->add(h, head);
  uint64_t pmd = ctx_->nodes->page_to_phys(head) | vma->vm_page_prot | PTE_PS | PTE_A;
  if (vma->vm_flags & VM_WRITE) pmd |= PTE_RW | PTE_D;
  pt.write_entry(h, pmd_pa, pmd);
  mm->rss_anon += HPAGE_PMD_NR;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<ThpStats> thp_stat_table[] = {
    {"huge_zero_mapped", &ThpStats::huge_zero_mapped, "PMDs mapping the huge zero page", "count"},
    {"reuse", &ThpStats::reuse, "write faults that made a huge page writable in place", "count"},
    {"deposited_tables", &ThpStats::deposits, "page tables deposited for huge PMDs (so a split never fails)", "count"},
};
static_assert(stat_table_size(thp_stat_table) == sizeof(ThpStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void HugeMemory::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, thp_stat_table);
}

}  // namespace fw
