#include "sw/mm/madvise.h"

#include "sw/hal/uapi.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/khugepaged.h"
#include "sw/mm/lru.h"
#include "sw/mm/memory.h"
#include "sw/mm/mman.h"
#include "sw/mm/mmap.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/filemap.h"
#include "sw/mm/readahead.h"
#include "sw/mm/rmap.h"

namespace fw {

using namespace x86;

namespace {
// MADV_WILLNEED, RANDOM, SEQUENTIAL, NORMAL on a file mapping (readahead);
// nothing for other mappings. Returns 0.
int file_advice(MmContext* ctx, hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end, uint64_t advice) {
  address_space* obj = vma->vm_obj;
  if (!obj || obj->kind != MappingKind::file) return 0;
  inode* ino = obj->host;
  if (advice == uapi::kMadvWillneed) {
    // madvise_willneed: read the range's pages now (within the file).
    const uint64_t first = linear_page_index(vma, start);
    const uint64_t last = min(linear_page_index(vma, end), PFN_UP(ino->i_size));
    if (first < last) ctx->readahead->force_page_cache_ra(h, obj, first, last - first);
  } else if (advice == uapi::kMadvNormal || advice == uapi::kMadvRandom || advice == uapi::kMadvSequential) {
    // VM_RAND_READ / VM_SEQ_READ: the fault window of the file (MADV_* and
    // POSIX_FADV_* share these values). Departure: per file, not per VMA.
    ctx->readahead->advise(&ino->i_mmap_ra, advice);
  }
  return 0;
}

// Returns the page the present PTE at epa maps when this process alone maps
// it (4 KiB, not the zero page), else nullptr: madvise leaves pages mapped
// shared alone (Linux folio_maybe_mapped_shared). *e gets the entry.
page* sole_mapped_page(hal::Hal& h, MmContext* ctx, uint64_t epa, uint64_t* e) {
  PgTable& pt = *ctx->pgtable;
  if (!pt.read_entry(h, epa, e) || !pte_present(*e)) return nullptr;
  const uint64_t pfn = (*e & pt.phys_mask()) >> PAGE_SHIFT;
  if (ctx->memory->is_zero_pfn(pfn)) return nullptr;
  page* p = ctx->nodes->pfn_to_page(pfn);
  return p && !PageCompound(p) && page_mapcount(p) == 1 ? p : nullptr;
}

// THPs straddling the ends of [start, end) are split: the advice covers
// whole 4 KiB pages there.
void split_range_ends(MmContext* ctx, hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end) {
  if (start & (HPAGE_PMD_SIZE - 1)) ctx->huge_memory->split_huge_pmd_address(h, vma, start);
  if (end & (HPAGE_PMD_SIZE - 1)) ctx->huge_memory->split_huge_pmd_address(h, vma, end);
}

// Reads the PMD covering a into *pmd (its address in *pmd_pa). Returns
// false when there is none or it is not present (nothing mapped below).
bool read_pmd(MmContext* ctx, hal::Hal& h, mm_struct* mm, uint64_t a, uint64_t* pmd_pa, uint64_t* pmd) {
  PgTable& pt = *ctx->pgtable;
  return !pt.walk_to(h, mm->pgd, a, LEVEL_PD, false, 0, false, pmd_pa) && pt.read_entry(h, *pmd_pa, pmd) &&
         pte_present(*pmd);
}

bool advice_valid(uint64_t a) {
  switch (a) {
    case uapi::kMadvNormal:
    case uapi::kMadvRandom:
    case uapi::kMadvSequential:
    case uapi::kMadvWillneed:
    case uapi::kMadvDontneed:
    case uapi::kMadvFree:
    case uapi::kMadvHugepage:
    case uapi::kMadvNohugepage:
    case uapi::kMadvCold:
    case uapi::kMadvPageout:
    case uapi::kMadvPopulateRead:
    case uapi::kMadvPopulateWrite:
    case uapi::kMadvCollapse:
      return true;
    default:
      return false;
  }
}
}  // namespace

int Madvise::dontneed(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end) {
  ++stats_.dontneed;
  if (vma->vm_flags & VM_HUGETLB) {
    // Linux: the start aligned to the huge page size, the end rounded down.
    const uint64_t size = 1ull << vma->huge_shift;
    if (start & (size - 1)) return -EINVAL;
    end = align_down(end, size);
    if (end <= start) return 0;
    const bool priv = !vma->vm_obj;
    const uint64_t present = priv ? ctx_->hugetlb->count_present(h, vma, start, end) : 0;
    ctx_->memory->zap_page_range(h, mm, vma, start, end);
    // A private mapping keeps its promise: the pages freed are reserved
    // again (Linux >= 6.9), unless the pool cannot give them.
    if (present && vma->resv_owner && ctx_->hugetlb->reserve(h, vma->huge_shift, present) == 0)
      vma->resv_pages += present;
    return 0;
  }
  split_range_ends(ctx_, h, vma, start, end);
  ctx_->memory->zap_page_range(h, mm, vma, start, end);
  return 0;
}

int Madvise::free(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end) {
  ++stats_.free;
  // Only private anonymous memory (Linux: vma_is_anonymous).
  if ((vma->vm_flags & (VM_HUGETLB | VM_SHARED)) || vma->vm_obj) return -EINVAL;
  split_range_ends(ctx_, h, vma, start, end);
  PgTable& pt = *ctx_->pgtable;
  uint64_t lazy = 0;
  bool changed = false;
  {
    LockGuard g(mm->page_table_lock, h);
    for (uint64_t a = start; a < end;) {
      uint64_t pmd_pa, pmd;
      if (!read_pmd(ctx_, h, mm, a, &pmd_pa, &pmd)) {
        a = (a | (HPAGE_PMD_SIZE - 1)) + 1;
        continue;
      }
      const uint64_t next = min(end, (a | (HPAGE_PMD_SIZE - 1)) + 1);
      if (pmd & PTE_PS) {
        // A whole huge page (the ends were split): clean, lazily freeable.
        page* head = ctx_->nodes->pfn_to_page((pmd & pt.phys_mask()) >> PAGE_SHIFT);
        if (head && PageTransHuge(head) && folio_entire_mapcount(head) == 1 && (pmd & PTE_D)) {
          pt.write_entry(h, pmd_pa, pmd & ~PTE_D);
          ClearPageFlag(head, PG_dirty);
          lazy += HPAGE_PMD_NR;
          changed = true;
        }
        a = next;
        continue;
      }
      const uint64_t table = pmd & pt.phys_mask();
      for (; a < next; a += PAGE_SIZE) {
        const uint64_t epa = table + 8ull * pt_index(a, LEVEL_PT);
        uint64_t e;
        page* p = sole_mapped_page(h, ctx_, epa, &e);
        if (!p || !PageAnon(p)) continue;
        if (e & PTE_D) {
          pt.write_entry(h, epa, e & ~PTE_D);
          changed = true;
        }
        ClearPageFlag(p, PG_dirty);
        ++lazy;
      }
    }
  }
  ctx_->vmstat->count(PGLAZYFREE, lazy);
  if (changed) ctx_->tlb->flush_tlb_mm_range(h, mm, start, end, PAGE_SHIFT, false);
  return 0;
}

int Madvise::cold_or_pageout(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end,
                             bool pageout) {
  // Linux can_madv_lru_vma (VM_LOCKED comes with mlock).
  if (vma->vm_flags & (VM_HUGETLB | VM_PFNMAP)) return -EINVAL;
  split_range_ends(ctx_, h, vma, start, end);
  PgTable& pt = *ctx_->pgtable;
  list_head pages;
  INIT_LIST_HEAD(&pages);
  bool flush = false;
  for (uint64_t a = start; a < end;) {
    uint64_t pmd_pa, pmd;
    if (!read_pmd(ctx_, h, mm, a, &pmd_pa, &pmd)) {
      a = (a | (HPAGE_PMD_SIZE - 1)) + 1;
      continue;
    }
    // A whole THP: reclaim takes 4 KiB pages, so pageout splits it.
    if ((pmd & PTE_PS) && pageout) ctx_->huge_memory->split_huge_pmd_address(h, vma, a);
    if (!pt.read_entry(h, pmd_pa, &pmd) || (pmd & PTE_PS)) {
      a = (a | (HPAGE_PMD_SIZE - 1)) + 1;  // a cold THP (or the huge zero page) keeps its PMD
      continue;
    }
    const uint64_t next = min(end, (a | (HPAGE_PMD_SIZE - 1)) + 1);
    const uint64_t table = pmd & pt.phys_mask();
    for (; a < next; a += PAGE_SIZE) {
      const uint64_t epa = table + 8ull * pt_index(a, LEVEL_PT);
      uint64_t e;
      page* p = sole_mapped_page(h, ctx_, epa, &e);
      if (!p) continue;
      {
        LockGuard g(mm->page_table_lock, h);
        if (e & PTE_A) {  // ptep_test_and_clear_young
          pt.write_entry(h, epa, e & ~PTE_A);
          flush = true;
        }
      }
      ClearPageFlag(p, PG_referenced);
      if (!pageout) {  // folio_deactivate: an active page to the inactive list (pgdeactivate)
        ctx_->lru->deactivate(h, p);
        continue;
      }
      if (ctx_->lru->isolate(h, p)) list_add_tail(&p->lru, &pages);
    }
  }
  if (flush) ctx_->tlb->flush_tlb_mm_range(h, mm, start, end, PAGE_SHIFT, false);
  if (pageout && !list_empty(&pages)) ctx_->vmscan->reclaim_pages(h, &pages);
  return 0;
}

int Madvise::apply(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end, uint64_t advice) {
  switch (advice) {
    case uapi::kMadvDontneed:
      return dontneed(h, mm, vma, start, end);
    case uapi::kMadvFree:
      return free(h, mm, vma, start, end);
    case uapi::kMadvHugepage:
    case uapi::kMadvNohugepage: {
      ++stats_.hugepage;
      const uint64_t nf = advice == uapi::kMadvHugepage ? ((vma->vm_flags & ~VM_NOHUGEPAGE) | VM_HUGEPAGE)
                                                  : ((vma->vm_flags & ~VM_HUGEPAGE) | VM_NOHUGEPAGE);
      if (nf == vma->vm_flags) return 0;
      int err = 0;
      vm_area_struct* v = ctx_->mmap->vma_modify_flags(h, mm, vma, start, end, nf, &err);
      if (!v) return err;
      if (advice == uapi::kMadvHugepage) ctx_->khugepaged->enter_vma(h, v);
      return 0;
    }
    case uapi::kMadvCold:
    case uapi::kMadvPageout:
      return cold_or_pageout(h, mm, vma, start, end, advice == uapi::kMadvPageout);
    case uapi::kMadvCollapse:
      ++stats_.collapse;
      return ctx_->khugepaged->madvise_collapse(h, mm, vma, start, end);
    default:  // hints without effect on anonymous memory
      return file_advice(ctx_, h, vma, start, end, advice);
  }
}


int Madvise::do_madvise(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len_in, uint64_t advice) {
  ++stats_.calls;
  // Linux's checks, in its order.
  if (!advice_valid(advice) || (start & ~PAGE_MASK)) {
    ++stats_.failed;
    return -EINVAL;
  }
  const uint64_t len = align_up(len_in, PAGE_SIZE);
  if (len_in && !len) {
    ++stats_.failed;
    return -EINVAL;
  }
  const uint64_t end = start + len;
  if (end < start) {
    ++stats_.failed;
    return -EINVAL;
  }
  if (end == start) return 0;
  LockGuard g(mm->mmap_lock, h);
  Mmap& mmap = *ctx_->mmap;
  if (advice == uapi::kMadvPopulateRead || advice == uapi::kMadvPopulateWrite) {
    ++stats_.populate;
    const int r = mmap.populate(h, mm, start, end, advice == uapi::kMadvPopulateWrite, true);
    if (r) ++stats_.failed;
    return r;
  }
  // The mapped parts get the advice; a hole makes the call fail with ENOMEM
  // afterwards.
  int unmapped = 0;
  for (uint64_t addr = start; addr < end;) {
    vm_area_struct* vma = mmap.find_vma(mm, addr);
    if (!vma) {
      unmapped = -ENOMEM;
      break;
    }
    if (vma->vm_start > addr) {
      unmapped = -ENOMEM;
      addr = vma->vm_start;
      if (addr >= end) break;
    }
    const uint64_t e = min(end, vma->vm_end);
    // Drivers' frame mappings take no advice (Linux: VM_PFNMAP is EINVAL to most).
    const int r = (vma->vm_flags & VM_PFNMAP) ? -EINVAL : apply(h, mm, vma, addr, e, advice);
    if (r) {
      ++stats_.failed;
      return r;
    }
    addr = e;
  }
  if (unmapped) ++stats_.failed;
  return unmapped;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<MadviseStats> madvise_stat_table[] = {
    {"calls", &MadviseStats::calls, "madvise calls", "count"},
    {"failed", &MadviseStats::failed, "madvise calls that failed", "count"},
    {"dontneed", &MadviseStats::dontneed, "MADV_DONTNEED ranges (per VMA)", "count"},
    {"free", &MadviseStats::free, "MADV_FREE ranges (per VMA)", "count"},
    {"populate", &MadviseStats::populate, "MADV_POPULATE_READ/WRITE calls", "count"},
    {"hugepage", &MadviseStats::hugepage, "MADV_HUGEPAGE/NOHUGEPAGE ranges (per VMA)", "count"},
    {"collapse", &MadviseStats::collapse, "MADV_COLLAPSE ranges (per VMA)", "count"},
};
static_assert(stat_table_size(madvise_stat_table) == sizeof(MadviseStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Madvise::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, madvise_stat_table);
}

}  // namespace fw
