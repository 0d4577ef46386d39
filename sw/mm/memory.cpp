#include "sw/mm/memory.h"

#include "sw/mm/oom_kill.h"
#include "sw/mm/mmzone.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/lib/list.h"
#include "sw/lib/printk.h"
#include "sw/mm/filemap.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/lru.h"
#include "sw/mm/migrate.h"
#include "sw/mm/page-writeback.h"
#include "sw/mm/mmap.h"
#include "sw/mm/oom_kill.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/swap.h"
#include "sw/mm/swap_state.h"
#include "sw/mm/swapfile.h"
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

// ---------------------------------------------------------------- mmu_gather

void ZapGather::cleared(uint64_t va, unsigned shift) {
  const uint64_t size = 1ull << shift;
  if (va < start_) start_ = va;
  if (va + size > end_) end_ = va + size;
  if (shift < min_shift_) min_shift_ = shift;
  if (shift > max_shift_) max_shift_ = shift;
  ++entries;
}

void ZapGather::defer_put(hal::Hal& h, page* p) {
  if (nr_ == kBatch) flush(h);
  batch_[nr_++] = p;
}

void ZapGather::release(hal::Hal& h) {
  for (unsigned i = 0; i < nr_; ++i) {
    // An unmapped swap-cache page whose slot no PTE needs: the cache lets
    // go of both (Linux free_pages_and_swap_cache -> free_swap_cache).
    page* p = batch_[i];
    if (PageSwapCache(p) && !page_mapped(p)) ctx_->swap_cache->folio_free_swap(h, p);
    ctx_->page_alloc->put_page(h, p);
  }
  nr_ = 0;
}

void ZapGather::flush(hal::Hal& h) {
  if (end_ > start_ && !no_flush) {
    // Mixed entry sizes are flushed at 4 KiB stride (which covers all).
    const unsigned stride = min_shift_ == max_shift_ ? min_shift_ : PAGE_SHIFT;
    ctx_->tlb->flush_tlb_mm_range(h, mm_, start_, end_, stride, freed_tables);
  } else if (freed_tables && !no_flush) {
    ctx_->tlb->flush_tlb_mm_range(h, mm_, 0, 0, PAGE_SHIFT, true);
  }
  start_ = ~0ull;
  end_ = 0;
  min_shift_ = 64;
  max_shift_ = 0;
  freed_tables = false;
  release(h);
}

// ---------------------------------------------------------------- faults

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

}  // namespace

bool Memory::init_zero_page(hal::Hal& h) {
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_KERNEL | __GFP_ZERO, 0);
  if (!p) return false;
  // Reserved, as Linux's empty_zero_page (in the kernel image): a
  // memory_failure() of it is "reserved kernel page", Ignored.
  SetPageReserved(p);
  zero_pfn_ = ctx_->nodes->page_to_pfn(p);
  return true;
}

FaultResult Memory::oom(const char* why) {
  ++stats_.oom;
  ctx_->vmstat->count(PGFAULT_OOM);
  return {FaultKind::oom, why};
}

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
  return fault_locked(h, mm, vma, addr, (ec & PF_W) != 0);
}

FaultResult Memory::fault_locked(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, bool write) {
  if (vma->vm_flags & VM_HUGETLB) return ctx_->hugetlb->hugetlb_fault(h, mm, vma, addr, write);
  // A driver's frame mapping is complete from the start: nothing to fault in.
  if (vma->vm_flags & VM_PFNMAP) return {FaultKind::sigbus, "fault in a driver's frame mapping"};
  PgTable& pt = *ctx_->pgtable;
  HugeMemory& thp = *ctx_->huge_memory;

  // The PMD level: transparent huge pages.
  uint64_t pmd_pa = 0;
  int r = pt.walk_to(h, mm->pgd, addr, LEVEL_PD, true, _PAGE_TABLE, false, &pmd_pa, &mm->pgtables);
  if (r == -ENOMEM) return oom("out of memory for a page table");
  if (r) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, r == -EEXIST ? "a huge leaf above the PMD in a non-hugetlb mapping"
                                            : "page table unreadable (memory error)"};
  }
  uint64_t pmd;
  if (!pt.read_entry(h, pmd_pa, &pmd)) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, "page table unreadable (memory error)"};
  }
  const uint64_t haddr = addr & ~(SIZE_2M - 1);
  if (!pmd && thp.vma_allowable(vma) && thp.vma_suitable(vma, haddr)) {
    const FaultResult fr = thp.do_huge_pmd_anonymous_page(h, mm, vma, haddr, pmd_pa, write);
    if (fr.kind != FaultKind::fallback) return fr;
    if (!pt.read_entry(h, pmd_pa, &pmd)) pmd = 0;
  }
  if (pmd && (pmd & PTE_PS)) {
    if (!pte_present(pmd)) {
      // PROT_NONE huge entry in an accessible VMA cannot be (mprotect
      // changes both); a leftover of a race: the access retries.
      ++stats_.spurious;
      ctx_->vmstat->count(PGFAULT_SPURIOUS);
      return {FaultKind::spurious, "huge PROT_NONE entry"};
    }
    if (write && !(pmd & PTE_RW)) {
      const FaultResult fr = thp.do_huge_pmd_wp_page(h, mm, vma, haddr, pmd_pa, pmd);
      if (fr.kind != FaultKind::fallback) return fr;
      // Split into a page table: go on at the PTE level.
    } else {
      ++stats_.spurious;
      ctx_->vmstat->count(PGFAULT_SPURIOUS);
      return {FaultKind::spurious, "large page present"};
    }
  }

  // The PTE level.
  uint64_t pte_pa;
  r = pt.walk_to(h, mm->pgd, addr, LEVEL_PT, true, _PAGE_TABLE, false, &pte_pa, &mm->pgtables);
  if (r == -ENOMEM) return oom("out of memory for a page table");
  if (r == -EEXIST) {  // mapped huge meanwhile
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
  if (is_migration_entry(pte)) {
    // The page is being migrated: wait here until the migrating CPU has
    // put an entry back, then the access retries (Linux
    // migration_entry_wait sleeps until the move ends). Waiting in the
    // handler, not by faulting again: the migrating CPU may run far ahead
    // in its time quantum, so the move can look long from here.
    ++stats_.migration_wait;
    ctx_->vmstat->count(PGFAULT_MIGRATION_WAIT);
    do h.cpu_relax();
    while (pt.read_entry(h, pte_pa, &pte) && is_migration_entry(pte));
    return {FaultKind::spurious, "migration entry"};
  }
  if (is_swap_pte(pte)) return do_swap_page(h, mm, vma, addr, pte_pa, pte, write);
  if (!pte) {
    if (vma->vm_obj && vma->vm_obj->kind == MappingKind::file) return do_file_fault(h, mm, vma, addr, pte_pa, write);
    if (vma->vm_obj) return do_shared_fault(h, mm, vma, addr, pte_pa, write);
    return do_anonymous_page(h, mm, vma, addr, pte_pa, write);
  }
  if (!pte_present(pte)) {
    ++stats_.spurious;
    ctx_->vmstat->count(PGFAULT_SPURIOUS);
    return {FaultKind::spurious, "PROT_NONE entry"};
  }
  if (write && !(pte & PTE_RW)) return do_wp_page(h, mm, vma, addr, pte_pa, pte);
  // The entry allows the access: the TLB held a stale entry. The fault
  // itself dropped it (x86 invalidates the faulting translation).
  ++stats_.spurious;
  ctx_->vmstat->count(PGFAULT_SPURIOUS);
  return {FaultKind::spurious, "spurious"};
}

FaultResult Memory::do_anonymous_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr,
                                      uint64_t pte_pa, bool write) {
  PgTable& pt = *ctx_->pgtable;
  if (!write) {
    // Reads of untouched private memory share the zero page, read-only;
    // the first write copies it.
    const uint64_t pte = PFN_PHYS(zero_pfn_) | vma->vm_page_prot;
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur) return {FaultKind::spurious, "populated meanwhile"};
    pt.write_entry(h, pte_pa, pte & ~PTE_RW);
    ++stats_.zero_page;
    ctx_->vmstat->count(PGFAULT_ZERO_PAGE);
    return {FaultKind::handled, "zero page"};
  }
  // The VMA needs an anon_vma before its first page (the reverse map).
  if (ctx_->rmap->anon_vma_prepare(h, vma)) return oom("out of memory for an anon_vma");
  // Zeroed through the HAL (__GFP_ZERO), so a poisoned page is noticed and
  // kept out of use instead of being mapped.
  page* p = ctx_->page_alloc->alloc_pages(h, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0);
  if (!p) return oom("out of memory for an anonymous page");
  // As Linux's do_anonymous_page: a fresh private page of a writable
  // mapping is mapped writable and dirty (it has no copy anywhere else).
  uint64_t pte = ctx_->nodes->page_to_phys(p) | vma->vm_page_prot;
  if (vma->vm_flags & VM_WRITE) pte |= PTE_RW | PTE_D;
  {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur) {
      ctx_->page_alloc->put_page(h, p);
      return {FaultKind::spurious, "populated meanwhile"};
    }
    ctx_->rmap->folio_add_new_anon_rmap(p, vma, addr);
    ctx_->lru->add(h, p);
    if (!pt.write_entry(h, pte_pa, pte)) {
      ctx_->rmap->page_remove_rmap(p);
      ctx_->page_alloc->put_page(h, p);
      ++stats_.sigbus;
      return {FaultKind::sigbus, "page table unwritable (memory error)"};
    }
    ++mm->rss_anon;
    if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
  }
  ctx_->vmstat->count(PGFAULT_ANON);
  ++stats_.anon;
  return {FaultKind::handled, "anonymous page"};
}

bool Memory::map_object_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t pte_pa, page* p, bool write) {
  uint64_t pte = ctx_->nodes->page_to_phys(p) | vma->vm_page_prot;
  if (write) pte |= PTE_D;
  PgTable& pt = *ctx_->pgtable;
  LockGuard g(mm->page_table_lock, h);
  uint64_t cur;
  if (!pt.read_entry(h, pte_pa, &cur) || cur) {
    ctx_->page_alloc->put_page(h, p);
    return false;
  }
  ctx_->rmap->page_add_file_rmap(p);
  pt.write_entry(h, pte_pa, pte);
  ++mm->rss_shmem;
  return true;
}

FaultResult Memory::hwpoison_page(hal::Hal& h, page* p) {
  ctx_->page_alloc->put_page(h, p);
  return {FaultKind::hwpoison, "hardware memory corruption (poisoned page in the object)", PAGE_SHIFT};
}

FaultResult Memory::do_shared_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                    bool write) {
  address_space* obj = vma->vm_obj;
  const uint64_t index = linear_page_index(vma, addr);
  bool major = false;
  page* p = ctx_->shmem->get_page(h, obj, index, &major);  // with a reference: the mapping's
  if (!p) return oom("out of memory for a shared-memory page");
  if (major) ctx_->vmstat->count(PGMAJFAULT);  // read back from swap
  if (PageHWPoison(p)) return hwpoison_page(h, p);
  if (!map_object_page(h, mm, vma, pte_pa, p, write)) return {FaultKind::spurious, "populated meanwhile"};
  ++stats_.shmem;
  ctx_->vmstat->count(PGFAULT_SHMEM);
  return {FaultKind::handled, "shared memory page"};
}

FaultResult Memory::do_file_fault(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                  bool write) {
  address_space* mapping = vma->vm_obj;
  bool major = false;
  int err = 0;
  page* p = ctx_->filemap->filemap_fault(h, mapping, &mapping->host->i_mmap_ra, linear_page_index(vma, addr), &major,
                                         &err);  // with a reference: the mapping's
  if (!p) {
    if (err == -ENOMEM) return oom("out of memory for a page-cache page");
    ++stats_.sigbus;
    return {FaultKind::sigbus, err == -EIO ? "I/O error reading a mapped file" : "access beyond the end of a mapped file"};
  }
  if (PageHWPoison(p)) return hwpoison_page(h, p);
  // A write to a private mapping copies the page at once (do_cow_fault).
  if (write && !(vma->vm_flags & VM_SHARED)) {
    const FaultResult fr = wp_page_copy(h, mm, vma, addr, pte_pa, 0, nullptr, p);
    ctx_->page_alloc->put_page(h, p);
    return fr;
  }
  // File pages count with shared memory in the RSS (no MM_FILEPAGES yet).
  if (!map_object_page(h, mm, vma, pte_pa, p, write)) return {FaultKind::spurious, "populated meanwhile"};
  // A write through a shared mapping dirties the page now (Linux
  // fault_dirty_shared_page); later stores set the PTE's D bit, which
  // writeback and unmap harvest.
  if (write) {
    ctx_->filemap->folio_mark_dirty(h, p);
    ctx_->writeback->balance_dirty_pages(h);
  }
  return {FaultKind::handled, major ? "file page (major)" : "file page"};
}

FaultResult Memory::do_wp_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                               uint64_t pte) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t pfn = (pte & pt.phys_mask()) >> PAGE_SHIFT;
  if (vma->vm_flags & VM_SHARED) {
    // Shared memory is never copied: writable again (after mprotect).
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur != pte) return {FaultKind::spurious, "changed meanwhile"};
    pt.write_entry(h, pte_pa, pte | PTE_RW | PTE_D);
    ++stats_.write_upgrade;
    return {FaultKind::handled, "shared write"};
  }
  if (pfn == zero_pfn_) return wp_page_copy(h, mm, vma, addr, pte_pa, pte, nullptr, nullptr);
  page* p = ctx_->nodes->pfn_to_page(pfn);
  if (!p) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, "write to a page outside the memory map"};
  }
  // The only mapping and the only reference: keep the page (Linux
  // wp_can_reuse_anon_folio; the swap cache's reference goes first when no
  // other PTE needs the slot). A page still inside a compound page (a THP
  // whose split failed) is always copied.
  if (PageAnon(p) && !PageCompound(p) && page_mapcount(p) == 1 && PageSwapCache(p) && page_ref_count(p) == 2)
    ctx_->swap_cache->folio_free_swap(h, p);
  if (PageAnon(p) && !PageCompound(p) && page_mapcount(p) == 1 && page_ref_count(p) == 1) {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur != pte) return {FaultKind::spurious, "changed meanwhile"};
    pt.write_entry(h, pte_pa, pte | PTE_RW | PTE_D);
    ++stats_.reuse;
    ++stats_.write_upgrade;
    ctx_->vmstat->count(PGREUSE);
    return {FaultKind::handled, "write upgrade"};
  }
  return wp_page_copy(h, mm, vma, addr, pte_pa, pte, p, p);
}

FaultResult Memory::wp_page_copy(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                 uint64_t pte, page* old, page* src) {
  if (ctx_->rmap->anon_vma_prepare(h, vma)) return oom("out of memory for an anon_vma");
  PageAlloc& pa = *ctx_->page_alloc;
  page* np;
  if (!src) {
    np = pa.alloc_pages(h, GFP_HIGHUSER_MOVABLE | __GFP_ZERO, 0);
    if (!np) return oom("out of memory for a copy-on-write page");
  } else {
    np = pa.alloc_pages(h, GFP_HIGHUSER_MOVABLE, 0);
    if (!np) return oom("out of memory for a copy-on-write page");
    if (h.phys_copy(ctx_->nodes->page_to_phys(np), PFN_PHYS(ctx_->nodes->page_to_pfn(src)), PAGE_SIZE) !=
        hal::MemStatus::ok) {
      // copy_mc_user_highpage: the source is handed to memory_failure()
      // and the fault is VM_FAULT_HWPOISON (SIGBUS BUS_MCEERR_AR).
      pa.put_page(h, np);
      ++stats_.sigbus;
      ctx_->memory_failure->memory_failure_queue(h, ctx_->nodes->page_to_pfn(src), 0);
      return {FaultKind::hwpoison, "copy-on-write of a page holding poison", PAGE_SHIFT};
    }
  }
  PgTable& pt = *ctx_->pgtable;
  {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur != pte) {
      pa.put_page(h, np);
      return {FaultKind::spurious, "changed meanwhile"};
    }
    const uint64_t npte = ctx_->nodes->page_to_phys(np) | vma->vm_page_prot | PTE_RW | PTE_D;
    ctx_->rmap->folio_add_new_anon_rmap(np, vma, addr);
    ctx_->lru->add(h, np);
    pt.write_entry(h, pte_pa, npte);
    ++mm->rss_anon;
    if (old) {
      if (PageAnon(old)) --mm->rss_anon;
      else --mm->rss_shmem;
      ctx_->rmap->page_remove_rmap(old);
    }
    if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
    // Every CPU must drop the old translation before the old page can go.
    ctx_->tlb->flush_tlb_page(h, mm, addr & PAGE_MASK);
  }
  if (old) pa.put_page(h, old);
  ++stats_.cow;
  ctx_->vmstat->count(PGFAULT_COW);
  return {FaultKind::handled, "copy-on-write"};
}

FaultResult Memory::do_swap_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t addr, uint64_t pte_pa,
                                 uint64_t pte, bool write) {
  const swp_entry_t entry = pte_to_swp_entry(pte);
  Swapfile& sf = *ctx_->swapfile;
  SwapCache& sc = *ctx_->swap_cache;
  PgTable& pt = *ctx_->pgtable;
  if (is_hwpoison_entry(entry)) {
    return {FaultKind::hwpoison, "hardware memory corruption", PAGE_SHIFT};
  }
  if (!sf.swap_info(entry)) {
    ++stats_.sigbus;
    return {FaultKind::sigbus, "swap entry naming no swap area"};
  }
  ++sf.stats().swapin_faults;
  if (ctx_->rmap->anon_vma_prepare(h, vma)) return oom("out of memory for an anon_vma");
  page* p = sc.lookup(h, entry);  // with a reference: the mapping's, if it maps
  bool major = false;
  if (p) {
    ++sf.stats().swapin_cache_hits;
  } else {
    p = sc.swapin_readahead(h, entry);
    if (!p) {
      uint64_t cur;
      if (!pt.read_entry(h, pte_pa, &cur) || cur != pte) return {FaultKind::spurious, "swapped in meanwhile"};
      return oom("out of memory for a swap-in");
    }
    major = true;
    ctx_->vmstat->count(PGMAJFAULT);
  }
  if (PageHWPoison(p)) {
    // A dirty swap-cache page memory_failure() kept (Delayed): its data is
    // lost, the touch is the late kill.
    ctx_->page_alloc->put_page(h, p);
    return {FaultKind::hwpoison, "hardware memory corruption (swap cache)", PAGE_SHIFT};
  }
  if (sc.wait_on_read(h, p)) {
    ctx_->page_alloc->put_page(h, p);
    ++sf.stats().swapin_errors;
    ++stats_.sigbus;
    return {FaultKind::sigbus, "I/O error reading a swapped-out page"};
  }
  uint64_t npte;
  bool exclusive;
  {
    LockGuard g(mm->page_table_lock, h);
    uint64_t cur;
    if (!pt.read_entry(h, pte_pa, &cur) || cur != pte || !PageSwapCache(p) || p->private_ != entry.val) {
      ctx_->page_alloc->put_page(h, p);
      return {FaultKind::spurious, "swap entry changed meanwhile"};
    }
    // Only this PTE refers to the slot and nobody maps the page: it is ours
    // alone (Linux keeps that in the PTE's exclusive bit).
    exclusive = sf.swap_count(entry) == 1 && !page_mapped(p);
    if (!page_mapped(p)) {
      // Not exclusive: the family's root anon_vma, which every fork's VMA
      // is linked to (Linux __folio_set_anon).
      ctx_->rmap->folio_add_new_anon_rmap(p, vma, addr);
      if (!exclusive) p->mapping = reinterpret_cast<uint64_t>(vma->anon_vma->root) | PAGE_MAPPING_ANON;
    } else {
      ctx_->rmap->page_add_anon_rmap(p);
    }
    npte = (ctx_->nodes->page_to_phys(p) | vma->vm_page_prot) & ~PTE_RW;
    if (write && exclusive) {
      npte |= PTE_RW | PTE_D;
      ++sf.stats().swapin_reuse;
    }
    pt.write_entry(h, pte_pa, npte);
    ++mm->rss_anon;
    --mm->swapents;
    if (mm->rss_anon > mm->hiwater_rss) mm->hiwater_rss = mm->rss_anon;
    sf.swap_free(h, entry);
    // Keep the slot (a clean copy to drop later) unless swap runs short or
    // the page is being written (Linux should_try_to_free_swap; its
    // VM_LOCKED case comes with mlock).
    if (sf.vm_swap_full() || (write && page_ref_count(p) == 2))
      sc.folio_free_swap(h, p);
  }
  if (write && !exclusive) return do_wp_page(h, mm, vma, addr, pte_pa, npte);
  return {FaultKind::handled, major ? "swap-in (major)" : "swap-in"};
}

// ---------------------------------------------------------------- populate

int Memory::populate_range(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end,
                           bool write) {
  if (vma->vm_flags & VM_HUGETLB) return ctx_->hugetlb->populate(h, mm, vma, start, end, write);
  PgTable& pt = *ctx_->pgtable;
  for (uint64_t addr = start; addr < end;) {
    // Already there as asked? (Linux follow_page)
    PteLookup l;
    bool done = false;
    if (pt.lookup(h, mm->pgd, addr, &l) && (!write || (l.entry & PTE_RW))) done = true;
    if (!done) {
      // A task the OOM killer chose stops faulting in (Linux's gup sees the
      // fatal signal: -EINTR); it must not eat the reserves it was lent.
      if (ctx_->oom->current_is_victim(h)) return -EINTR;
      const FaultResult fr = fault_locked(h, mm, vma, addr, write);
      if (fr.kind == FaultKind::oom) return -ENOMEM;
      if (fr.kind == FaultKind::sigbus || fr.kind == FaultKind::hwpoison || fr.kind == FaultKind::bad_pgtable)
        return -EFAULT;
      if (fr.kind == FaultKind::handled) ++stats_.populated;
      // Check again (a huge page may now cover it; a migration entry may
      // need another round).
      if (!pt.lookup(h, mm->pgd, addr, &l) || (write && !(l.entry & PTE_RW))) {
        if (fr.kind == FaultKind::spurious) continue;
        return -EFAULT;
      }
    }
    const uint64_t size = level_size(l.level);
    addr = (addr & ~(size - 1)) + size;
  }
  return 0;
}

// ---------------------------------------------------------------- zapping

void Memory::zap_pte_table(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t table, uint64_t base,
                           uint64_t start, uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  mm_struct* mm = vma->vm_mm;
  for (const PtSlot& slot : PtRange(table, LEVEL_PT, base, start, end)) {
    uint64_t e;
    if (!pt.read_entry(h, slot.epa, &e) || !e) continue;
    pt.write_entry(h, slot.epa, 0);
    if (is_swap_pte(e)) {
      // The mapping's reference on the slot goes (and the slot with the
      // last one; Linux zap_nonpresent_ptes -> free_swap_and_cache).
      if (is_swap_entry(pte_to_swp_entry(e))) {
        --mm->swapents;
        ctx_->swapfile->free_swap_and_cache(h, pte_to_swp_entry(e));
      }
      continue;
    }
    const uint64_t pfn = (e & pt.phys_mask()) >> PAGE_SHIFT;
    page* p = ctx_->nodes->pfn_to_page(pfn);
    if (is_migration_entry(e)) {
      // The page belongs to the migration under way (which dropped this
      // mapping's reference); the entry just goes.
      if (p && PageAnon(p)) --mm->rss_anon;
      else if (p) --mm->rss_shmem;
      continue;
    }
    if (!pte_maps_page(e)) continue;
    g.cleared(slot.va, PAGE_SHIFT);
    if (pfn == zero_pfn_ || !p || PageReserved(p)) continue;  // not a page this mapping holds
    if (PageAnon(p)) --mm->rss_anon;
    else --mm->rss_shmem;
    // A store through a shared file mapping left D: the page is dirty.
    if ((e & PTE_D) && page_is_file_lru(p) && ctx_->filemap->folio_mark_dirty(h, p))
      ++ctx_->filemap->stats().pte_dirty_harvested;
    ctx_->rmap->page_remove_rmap(p);
    g.defer_put(h, p);
  }
}

void Memory::zap_level(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t table, unsigned level,
                       uint64_t base, uint64_t start, uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t size = level_size(level);
  for (const PtSlot& slot : PtRange(table, level, base, start, end)) {
    const uint64_t eb = slot.va, epa = slot.epa;
    uint64_t e;
    if (!pt.read_entry(h, epa, &e) || !e) continue;
    if (level == LEVEL_PD && (e & PTE_PS)) {
      // A transparent huge page: the caller split those straddling the ends.
      if (slot.start != eb || slot.end != eb + size) {
        ctx_->log->printk(h, LOGLEVEL_ERR, "zap: huge PMD at %#lx only partly in [%#lx, %#lx)",
                          static_cast<unsigned long>(eb), static_cast<unsigned long>(start),
                          static_cast<unsigned long>(end));
        ctx_->huge_memory->split_huge_pmd_locked(h, vma, eb, epa, e);
        if (!pt.read_entry(h, epa, &e) || (e & PTE_PS)) continue;
        zap_pte_table(h, g, vma, e & pt.phys_mask(), eb, slot.start, slot.end);
        continue;
      }
      ctx_->huge_memory->zap_huge_pmd(h, g, vma, eb, epa, e);
      continue;
    }
    if (!pte_present(e) || (e & PTE_PS)) continue;  // no table below (a 1 GiB leaf outside hugetlb: not ours)
    const uint64_t child = e & pt.phys_mask();
    if (level - 1 == LEVEL_PT) zap_pte_table(h, g, vma, child, eb, slot.start, slot.end);
    else zap_level(h, g, vma, child, level - 1, eb, slot.start, slot.end);
  }
}

uint64_t Memory::zap_vma_range(hal::Hal& h, ZapGather& g, vm_area_struct* vma, uint64_t start, uint64_t end) {
  mm_struct* mm = vma->vm_mm;
  start = max(start, vma->vm_start);
  end = min(end, vma->vm_end);
  if (start >= end || !mm->pgd) return 0;
  if (vma->vm_flags & VM_HUGETLB) {
    // Leaves of the VMA's page size (the range is aligned to it).
    PgTable& pt = *ctx_->pgtable;
    const unsigned shift = vma->huge_shift;
    const unsigned level = shift == 30 ? LEVEL_PDPT : LEVEL_PD;
    const uint64_t size = 1ull << shift;
    uint64_t present = 0;
    LockGuard lk(mm->page_table_lock, h);
    for (uint64_t a = start & ~(size - 1); a < end; a += size) {
      uint64_t epa, e;
      if (pt.walk_to(h, mm->pgd, a, level, false, 0, false, &epa) || !pt.read_entry(h, epa, &e) || !e) continue;
      pt.write_entry(h, epa, 0);
      if (!pte_maps_page(e)) continue;
      g.cleared(a, shift);
      page* head = ctx_->nodes->pfn_to_page((e & pt.phys_mask()) >> PAGE_SHIFT);
      if (!head) continue;
      ++present;
      mm->rss_huge -= size >> PAGE_SHIFT;
      ctx_->rmap->folio_remove_rmap_pmd(head);
      g.defer_put(h, head);
    }
    return present;
  }
  LockGuard lk(mm->page_table_lock, h);
  zap_level(h, g, vma, mm->pgd, ctx_->pgtable->levels(), 0, start, end);
  return 0;
}

void Memory::unmap_region(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, uint64_t floor,
                          uint64_t ceiling, list_head* vmas) {
  PgTable& pt = *ctx_->pgtable;
  ZapGather g(ctx_, mm);
  for (list_head* l = vmas->next; l != vmas; l = l->next) {
    vm_area_struct* v = list_entry(l, vm_area_struct, vm_list);
    const uint64_t present = zap_vma_range(h, g, v, start, end);
    // Private hugetlb reservations of the part that was never faulted in.
    if ((v->vm_flags & VM_HUGETLB) && v->resv_pages) {
      const uint64_t pages = (min(end, v->vm_end) - max(start, v->vm_start)) >> v->huge_shift;
      const uint64_t release = min(v->resv_pages, pages > present ? pages - present : 0);
      if (release) {
        v->resv_pages -= release;
        ctx_->hugetlb->unreserve(h, v->huge_shift, release);
      }
    }
  }
  // No rmap walk may reach the tables once they go.
  for (list_head* l = vmas->next; l != vmas; l = l->next) {
    vm_area_struct* v = list_entry(l, vm_area_struct, vm_list);
    ctx_->rmap->unlink_anon_vmas(h, v);
    ctx_->shmem->unlink_vma(h, v);
  }
  uint64_t tables;
  {
    LockGuard lk(mm->page_table_lock, h);
    tables = pt.free_range(h, mm->pgd, start, end, floor, ceiling);
  }
  mm->pgtables -= tables;
  // One flush for the entries and the freed tables (paging-structure caches).
  g.freed_tables = tables != 0;
  g.flush(h);
}

void Memory::zap_page_range(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end) {
  ZapGather g(ctx_, mm);
  zap_vma_range(h, g, vma, start, end);
  g.flush(h);
}

void Memory::exit_mmap_tables(hal::Hal& h, mm_struct* mm) {
  // Nobody has the tables loaded any more: no flush before dropping the
  // pages. Stale entries tagged with the PCID die when the PCID is next
  // loaded (its generation starts over).
  ZapGather g(ctx_, mm);
  g.no_flush = true;
  ctx_->mmap->for_each_vma(mm, [&](vm_area_struct* v) {
    zap_vma_range(h, g, v, v->vm_start, v->vm_end);
    return true;
  });
  g.flush(h);
}

void Memory::free_all_pgtables(hal::Hal& h, mm_struct* mm) {
  ctx_->pgtable->free_user_tables(h, mm->pgd);
  mm->pgtables = 0;
  mm->pgd = 0;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<FaultStats> fault_stat_table[] = {
    {"total", &FaultStats::faults, "page faults taken", "count"},
    {"anon", &FaultStats::anon, "faults that mapped a new anonymous page", "count"},
    {"zero_page", &FaultStats::zero_page, "read faults that mapped the shared zero page", "count"},
    {"cow", &FaultStats::cow, "copy-on-write copies (of shared pages and of the zero page)", "count"},
    {"reuse", &FaultStats::reuse, "write faults that made a private page writable in place (sole owner)", "count"},
    {"shmem", &FaultStats::shmem, "shared-memory pages mapped", "count"},
    {"populated", &FaultStats::populated, "pages faulted in by MAP_POPULATE and MADV_POPULATE_*", "count"},
    {"spurious", &FaultStats::spurious, "faults whose entry already allowed the access", "count"},
    {"write_upgrade", &FaultStats::write_upgrade, "write faults that made a present page writable", "count"},
    {"maperr", &FaultStats::maperr, "faults outside any mapping (SIGSEGV)", "count"},
    {"accerr", &FaultStats::accerr, "faults against a mapping's protection (SIGSEGV)", "count"},
    {"sigbus", &FaultStats::sigbus, "faults with unreadable page tables (SIGBUS)", "count"},
    {"oom", &FaultStats::oom, "faults that found no memory", "count"},
    {"bad_pgtable", &FaultStats::bad_pgtable, "faults on reserved bits", "count"},
    {"kernel_mode", &FaultStats::kernel_mode, "supervisor-mode faults", "count"},
    {"migration_wait", &FaultStats::migration_wait, "faults on a page under migration", "count"},
};
static_assert(stat_table_size(fault_stat_table) == sizeof(FaultStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Memory::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, fault_stat_table);
}

}  // namespace fw
