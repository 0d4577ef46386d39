#include "sw/mm/memory.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "sw/mm/lru.h"
#include "sw/mm/migrate.h"
#include "sw/mm/mmap.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/rmap.h"
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

// Collects the pages of cleared PTEs; their references are dropped only
// after the TLB flush (Linux's mmu_gather), in batches of what one page of
// pointers holds.
class ZapGather final : public PteZapVisitor {
 public:
  static constexpr unsigned kBatch = 510;  // Linux MAX_GATHER_BATCH
  ZapGather(MmContext* ctx, mm_struct* mm) : ctx_(ctx), mm_(mm) {}
  void leaf(hal::Hal& h, uint64_t va, uint64_t pte, unsigned level) override {
    const uint64_t size = level_size(level);
    if (va < start_) start_ = va;
    if (va + size > end_) end_ = va + size;
    ++count_;
    page* p = ctx_->nodes->pfn_to_page((pte & ctx_->pgtable->phys_mask()) >> PAGE_SHIFT);
    if (!p || PageReserved(p)) return;  // not RAM the allocator owns
    if (PageAnon(p)) --mm_->rss_anon;
    ctx_->rmap->page_remove_rmap(p);
    if (nr_ == kBatch) flush(h, false);
    batch_[nr_++] = p;
  }
  // Flushes what was cleared since the last flush, then drops the pages'
  // references.
  void flush(hal::Hal& h, bool freed_tables) {
    if (end_ > start_) ctx_->tlb->flush_range(h, mm_, start_, end_, freed_tables);
    start_ = ~0ull;
    end_ = 0;
    release(h);
  }
  void release(hal::Hal& h) {
    for (unsigned i = 0; i < nr_; ++i) ctx_->page_alloc->put_page(h, batch_[i]);
    nr_ = 0;
  }
  bool pending() const { return end_ > start_; }
  uint64_t count_ = 0;

 private:
  MmContext* ctx_;
  mm_struct* mm_;
  uint64_t start_ = ~0ull, end_ = 0;
  page* batch_[kBatch];
  unsigned nr_ = 0;
};

}  // namespace

FaultResult Memory::handle_fault(hal::Hal& h, mm_struct* mm, uint64_t addr, uint32_t ec) {
  ++stats_.faults;
  ctx_->vmstat->count(PGFAULT);
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
    ctx_->vmstat->count(PGFAULT_SIGSEGV);
    return {FaultKind::sigsegv_maperr, "address outside the user address space"};
  }

  LockGuard g(mm->mmap_lock, h);
  vm_area_struct* vma = ctx_->mmap->find_vma(mm, addr);
  if (!vma || vma->vm_start > addr) {
    ++stats_.maperr;
    ctx_->vmstat->count(PGFAULT_SIGSEGV);
    return {FaultKind::sigsegv_maperr, "no mapping at the address"};
  }
  if (const char* why = access_error(ec, vma)) {
    ++stats_.accerr;
    ctx_->vmstat->count(PGFAULT_SIGSEGV);
    return {FaultKind::sigsegv_accerr, why};
  }

  PgTable& pt = *ctx_->pgtable;
  uint64_t pte_pa;
  const int r = pt.walk_to(h, mm->pgd, addr, LEVEL_PT, true, _PAGE_TABLE, false, &pte_pa, &mm->pgtables);
  if (r == -ENOMEM) {
    ++stats_.oom;
    ctx_->vmstat->count(PGFAULT_OOM);
    return {FaultKind::oom, "out of memory for a page table"};
  }
  if (r == -EEXIST) {  // a large leaf maps it (issue 6): nothing to add
    ++stats_.spurious;
    ctx_->vmstat->count(PGFAULT_SPURIOUS);
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
  if (is_migration_entry(pte)) {
    // The page is being migrated: let the migrating CPU finish, then the
    // access retries (and faults again while the entry is there).
    ++stats_.migration_wait;
    ctx_->vmstat->count(PGFAULT_MIGRATION_WAIT);
    h.cpu_relax();
    return {FaultKind::spurious, "migration entry"};
  }
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
  // The VMA needs an anon_vma before its first page (the reverse map).
  if (ctx_->rmap->anon_vma_prepare(h, vma)) {
    ++stats_.oom;
    ctx_->vmstat->count(PGFAULT_OOM);
    return {FaultKind::oom, "out of memory for an anon_vma"};
  }
  // Zeroed through the HAL (__GFP_ZERO), so a poisoned page is noticed and
  // kept out of use instead of being mapped.
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0);
  if (!p) {
    ++stats_.oom;
    ctx_->vmstat->count(PGFAULT_OOM);
    return {FaultKind::oom, "out of memory for an anonymous page"};
  }
  uint64_t pte = ctx_->nodes->page_to_phys(p) | vma->vm_page_prot;
  // As Linux's do_anonymous_page: a fresh private page of a writable
  // mapping is mapped writable and dirty (it has no copy anywhere else).
  if (vma->vm_flags & VM_WRITE) pte |= PTE_RW | PTE_D;
  ctx_->rmap->folio_add_new_anon_rmap(p, vma, addr);
  ctx_->lru->add(h, p);
  if (!ctx_->pgtable->write_entry(h, pte_pa, pte)) {
    ctx_->rmap->page_remove_rmap(p);
    ctx_->page_alloc->put_page(h, p);
    ++stats_.sigbus;
    return {FaultKind::sigbus, "page table unwritable (memory error)"};
  }
  ++mm->rss_anon;
  if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
  ctx_->vmstat->count(PGFAULT_ANON);
  ++stats_.anon;
  return {FaultKind::handled, "anonymous page"};
}

uint64_t Memory::unmap_region(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t floor,
                              uint64_t ceiling, list_head* vmas) {
  PgTable& pt = *ctx_->pgtable;
  ZapGather gather(ctx_, mm);
  pt.zap_range(h, mm->pgd, start, end, &gather);
  // No rmap walk may reach the tables once they go.
  for (list_head* l = vmas->next; l != vmas; l = l->next)
    ctx_->rmap->unlink_anon_vmas(h, list_entry(l, vm_area_struct, vm_list));
  const uint64_t tables = pt.free_range(h, mm->pgd, start, end, floor, ceiling);
  mm->pgtables -= tables;
  // One flush for the entries and the freed tables (paging-structure caches).
  if (gather.pending()) gather.flush(h, tables != 0);
  else if (tables) ctx_->tlb->flush_range(h, mm, start, start, true);
  gather.release(h);
  return gather.count_;
}

void Memory::exit_mmap_tables(hal::Hal& h, mm_struct* mm) {
  PgTable& pt = *ctx_->pgtable;
  // Nobody has the tables loaded any more: no flush before dropping the
  // pages. Stale entries tagged with the PCID die when the PCID is next
  // loaded (its generation starts over).
  ZapGather gather(ctx_, mm);
  pt.zap_range(h, mm->pgd, 0, pt.user_top(), &gather);
  gather.release(h);
}

void Memory::free_all_pgtables(hal::Hal& h, mm_struct* mm) {
  ctx_->pgtable->free_user_tables(h, mm->pgd);
  mm->pgtables = 0;
  mm->pgd = 0;
}

}  // namespace fw
