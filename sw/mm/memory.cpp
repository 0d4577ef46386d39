#include "sw/mm/memory.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/mmap.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

using namespace x86;

uint64_t vm_get_page_prot(uint64_t vm_flags, bool nx) {
  if (!(vm_flags & VM_ACCESS_FLAGS)) return 0;  // PROT_NONE: nothing present
  uint64_t prot = PTE_P | PTE_US | PTE_A;
  if ((vm_flags & VM_WRITE) && (vm_flags & VM_SHARED)) prot |= PTE_RW;
  if (!(vm_flags & VM_EXEC) && nx) prot |= PTE_NX;
  return prot;
}

namespace {

// Linux's access_error() for x86, plus instruction fetches from
// non-executable mappings refused at once (Linux maps the page NX and
// refuses the retried fetch; the outcome is the same SIGSEGV).
const char* access_error(uint32_t ec, const vm_area_struct* vma) {
  if (ec & PF_W) return (vma->vm_flags & VM_WRITE) ? nullptr : "write to a mapping without PROT_WRITE";
  if (ec & PF_I) {
    if (!(vma->vm_flags & VM_EXEC)) return "instruction fetch from a mapping without PROT_EXEC";
  }
  if (ec & PF_P) return "protection fault on a present page";
  if (!(vma->vm_flags & VM_ACCESS_FLAGS)) return "access to a PROT_NONE mapping";
  return nullptr;
}

// Collects the pages of cleared PTEs; they are freed only after the TLB
// flush (Linux's mmu_gather), chained through page->lru.
class ZapGather final : public PteZapVisitor {
 public:
  ZapGather(MmContext* ctx, mm_struct* mm) : ctx_(ctx), mm_(mm) { INIT_LIST_HEAD(&pages_); }
  void leaf(hal::Hal& h, uint64_t va, uint64_t pte, unsigned level) override {
    const uint64_t size = level_size(level);
    if (va < start_) start_ = va;
    if (va + size > end_) end_ = va + size;
    ++count_;
    page* p = ctx_->nodes->pfn_to_page((pte & ctx_->pgtable->phys_mask()) >> PAGE_SHIFT);
    if (!p || PageReserved(p)) return;  // not RAM the allocator owns
    --p->_mapcount;
    if (PageAnon(p)) {
      --mm_->rss_anon;
      --ctx_->vmstat->gauge[NR_ANON_PAGES];
    }
    p->private_ = level;  // remembers the order to free (leaf level)
    list_add_tail(&p->lru, &pages_);
    (void)h;
  }
  void finish(hal::Hal& h) {
    while (!list_empty(&pages_)) {
      page* p = list_first_entry(&pages_, page, lru);
      list_del(&p->lru);
      const unsigned level = static_cast<unsigned>(p->private_);
      p->private_ = 0;
      p->mapping = 0;
      ctx_->buddy->free_pages(h, p, (level - 1) * LEVEL_BITS);
    }
  }
  uint64_t start_ = ~0ull, end_ = 0, count_ = 0;

 private:
  MmContext* ctx_;
  mm_struct* mm_;
  list_head pages_;
};

}  // namespace

FaultResult Memory::handle_fault(hal::Hal& h, mm_struct* mm, uint64_t addr, uint32_t ec) {
  ++stats_.faults;
  ++ctx_->vmstat->event[PGFAULT];
  if (ec & PF_RSVD) {
    ++stats_.bad_pgtable;
    return {FaultKind::bad_pgtable, "reserved bit set in a paging entry"};
  }
  if (!(ec & PF_U)) {
    ++stats_.kernel_mode;
    return {FaultKind::kernel_mode, "supervisor-mode fault on a user address"};
  }
  if (addr >= mm->task_size) {
    ++stats_.maperr;
    ++ctx_->vmstat->event[PGFAULT_SIGSEGV];
    return {FaultKind::sigsegv_maperr, "address outside the user address space"};
  }

  LockGuard g(mm->mmap_lock, h);
  vm_area_struct* vma = ctx_->mmap->find_vma(mm, addr);
  if (!vma || vma->vm_start > addr) {
    ++stats_.maperr;
    ++ctx_->vmstat->event[PGFAULT_SIGSEGV];
    return {FaultKind::sigsegv_maperr, "no mapping at the address"};
  }
  if (const char* why = access_error(ec, vma)) {
    ++stats_.accerr;
    ++ctx_->vmstat->event[PGFAULT_SIGSEGV];
    return {FaultKind::sigsegv_accerr, why};
  }

  PgTable& pt = *ctx_->pgtable;
  uint64_t pte_pa;
  const int r = pt.walk_to(h, mm->pgd, addr, LEVEL_PT, true, _PAGE_TABLE, false, &pte_pa, &mm->pgtables);
  if (r == -ENOMEM) {
    ++stats_.oom;
    ++ctx_->vmstat->event[PGFAULT_OOM];
    return {FaultKind::oom, "out of memory for a page table"};
  }
  if (r == -EEXIST) {  // a large leaf maps it (issue 6): nothing to add
    ++stats_.spurious;
    ++ctx_->vmstat->event[PGFAULT_SPURIOUS];
    return {FaultKind::spurious, "large page present"};
  }
  if (r) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, "page table unreadable (memory error)"};
  }
  uint64_t pte;
  if (!pt.read_entry(h, pte_pa, &pte)) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, "page table unreadable (memory error)"};
  }
  const bool write = (ec & PF_W) != 0;
  if (!(pte & PTE_P)) return do_anonymous_page(h, mm, vma, addr, pte_pa, write);

  if (write && !(pte & PTE_RW)) {
    // An exclusive anonymous page in a writable mapping: make it writable
    // (copy-on-write of shared pages arrives with fork, issue 6).
    pt.write_entry(h, pte_pa, pte | PTE_RW | PTE_D);
    ++stats_.write_upgrade;
    return {FaultKind::handled, "write upgrade"};
  }
  // The entry allows the access: the TLB held a stale entry. The fault
  // itself dropped it (x86 invalidates the faulting translation).
  ++stats_.spurious;
  ++ctx_->vmstat->event[PGFAULT_SPURIOUS];
  return {FaultKind::spurious, "spurious"};
}

FaultResult Memory::do_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr,
                                      uint64_t pte_pa, bool write) {
  (void)write;
  // Zeroed through the HAL (__GFP_ZERO), so a poisoned page is noticed and
  // kept out of use instead of being mapped.
  page* p = ctx_->buddy->alloc_pages(h, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0);
  if (!p) {
    ++stats_.oom;
    ++ctx_->vmstat->event[PGFAULT_OOM];
    return {FaultKind::oom, "out of memory for an anonymous page"};
  }
  p->mapping = PAGE_MAPPING_ANON;
  p->index = addr >> PAGE_SHIFT;
  p->_mapcount = 0;  // mapped once
  uint64_t pte = ctx_->nodes->page_to_phys(p) | vma->vm_page_prot;
  // As Linux's do_anonymous_page: a fresh private page of a writable
  // mapping is mapped writable and dirty (it has no copy anywhere else).
  if (vma->vm_flags & VM_WRITE) pte |= PTE_RW | PTE_D;
  if (!ctx_->pgtable->write_entry(h, pte_pa, pte)) {
    p->mapping = 0;
    p->_mapcount = -1;
    ctx_->buddy->free_pages(h, p, 0);
    ++stats_.sigbus;
    return {FaultKind::sigbus, "page table unwritable (memory error)"};
  }
  ++mm->rss_anon;
  if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
  ++ctx_->vmstat->gauge[NR_ANON_PAGES];
  ++ctx_->vmstat->event[PGFAULT_ANON];
  ++stats_.anon;
  return {FaultKind::handled, "anonymous page"};
}

uint64_t Memory::unmap_region(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t floor,
                              uint64_t ceiling) {
  PgTable& pt = *ctx_->pgtable;
  ZapGather gather(ctx_, mm);
  pt.zap_range(h, mm->pgd, start, end, &gather);
  const uint64_t tables = pt.free_range(h, mm->pgd, start, end, floor, ceiling);
  mm->pgtables -= tables;
  if (gather.count_) ctx_->tlb->flush_range(h, mm, gather.start_, gather.end_, tables != 0);
  else if (tables) ctx_->tlb->flush_range(h, mm, start, start, true);
  gather.finish(h);
  return gather.count_;
}

void Memory::exit_mmap_tables(hal::Hal& h, mm_struct* mm) {
  PgTable& pt = *ctx_->pgtable;
  ZapGather gather(ctx_, mm);
  pt.zap_range(h, mm->pgd, 0, pt.user_top(), &gather);
  // Nobody has the tables loaded any more: no flush before freeing. Stale
  // entries tagged with the PCID die when the PCID is next loaded (its
  // generation starts over).
  pt.free_user_tables(h, mm->pgd);
  mm->pgtables = 0;
  mm->pgd = 0;
  gather.finish(h);
}

}  // namespace fw
