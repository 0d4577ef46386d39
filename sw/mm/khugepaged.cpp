#include "sw/mm/khugepaged.h"

#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/memory_failure.h"
#include "sw/mm/memory.h"
#include "sw/mm/mmap.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/tlb.h"
#include "sw/mm/vmstat.h"

namespace fw {

using namespace x86;

void Khugepaged::init(MmContext* ctx) {
  ctx_ = ctx;
  INIT_LIST_HEAD(&mm_head_);
}

void Khugepaged::enter_vma(hal::Hal& h, vm_area_struct* vma) {
  mm_struct* mm = vma->vm_mm;
  if (!mm || mm->khugepaged_registered || !ctx_->huge_memory->vma_allowable(vma)) return;
  LockGuard g(lock_, h);
  mm->khugepaged_registered = true;
  mm->khugepaged_scan_address = 0;
  list_add_tail(&mm->khugepaged_link, &mm_head_);
  ++stats_.mms;
}

void Khugepaged::exit_mm(hal::Hal& h, mm_struct* mm) {
  if (!mm->khugepaged_registered) return;
  LockGuard g(lock_, h);
  if (cursor_ == mm) {
    list_head* next = mm->khugepaged_link.next;
    cursor_ = next == &mm_head_ ? nullptr : list_entry(next, mm_struct, khugepaged_link);
  }
  list_del(&mm->khugepaged_link);
  mm->khugepaged_registered = false;
  --stats_.mms;
}

void Khugepaged::tick(hal::Hal& h) {
  const uint64_t now = h.now_ns();
  if (now < next_scan_ns_ || list_empty(&mm_head_)) return;
  const uint64_t failed = ctx_->vmstat->event[THP_COLLAPSE_ALLOC_FAILED];
  scan(h, ctx_->params->khugepaged_pages_to_scan);
  const bool alloc_failed = ctx_->vmstat->event[THP_COLLAPSE_ALLOC_FAILED] != failed;
  next_scan_ns_ = h.now_ns() + 1000000ull * (alloc_failed ? ctx_->params->khugepaged_alloc_sleep_millisecs
                                                           : ctx_->params->khugepaged_scan_sleep_millisecs);
}

ScanResult Khugepaged::scan_pmd(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr, bool khugepaged,
                                uint64_t* pmd_pa_out) {
  (void)vma;
  PgTable& pt = *ctx_->pgtable;
  uint64_t pmd_pa, pmd;
  if (pt.walk_to(h, mm->pgd, haddr, LEVEL_PD, false, 0, false, &pmd_pa) || !pt.read_entry(h, pmd_pa, &pmd) || !pmd)
    return SCAN_PMD_NULL;
  if (pmd & PTE_PS) return SCAN_PMD_MAPPED;
  if (!pte_present(pmd)) return SCAN_PMD_NULL;
  *pmd_pa_out = pmd_pa;
  const unsigned max_none = khugepaged ? ctx_->params->khugepaged_max_ptes_none : PT_ENTRIES - 1;
  const unsigned max_shared = khugepaged ? ctx_->params->khugepaged_max_ptes_shared : PT_ENTRIES;
  const uint64_t table = pmd & pt.phys_mask();
  unsigned none = 0, shared = 0, writable = 0, referenced = 0;
  for (unsigned i = 0; i < PT_ENTRIES; ++i) {
    uint64_t e;
    if (!pt.read_entry(h, table + 8ull * i, &e)) return SCAN_FAIL;
    const uint64_t pfn = (e & pt.phys_mask()) >> PAGE_SHIFT;
    if (!e || (pte_present(e) && ctx_->memory->is_zero_pfn(pfn))) {
      if (++none > max_none) {
        ctx_->vmstat->count(THP_SCAN_EXCEED_NONE_PTE);
        return SCAN_EXCEED_NONE_PTE;
      }
      continue;
    }
    // PROT_NONE, under migration, or swapped out: Linux swaps up to
    // max_ptes_swap (64) entries back in first; here such a range waits.
    if (!pte_present(e)) return SCAN_PTE_NON_PRESENT;
    page* p = ctx_->nodes->pfn_to_page(pfn);
    if (!p) return SCAN_PAGE_NULL;
    if (PageCompound(p)) return SCAN_PAGE_COMPOUND;
    if (!PageAnon(p)) return SCAN_PAGE_ANON;
    if (!PageLRU(p)) return SCAN_PAGE_LRU;  // isolated for migration
    if (page_mapcount(p) > 1 && ++shared > max_shared) {
      ctx_->vmstat->count(THP_SCAN_EXCEED_SHARED_PTE);
      return SCAN_EXCEED_SHARED_PTE;
    }
    if (e & PTE_RW) ++writable;
    if (e & PTE_A) ++referenced;
  }
  if (!writable) return SCAN_PAGE_RO;
  if (khugepaged && !referenced) return SCAN_LACK_REFERENCED_PAGE;
  return SCAN_SUCCEED;
}

ScanResult Khugepaged::collapse_huge_page(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t haddr,
                                          bool khugepaged) {
  PgTable& pt = *ctx_->pgtable;
  uint64_t pmd_pa = 0;
  ScanResult r = scan_pmd(h, mm, vma, haddr, khugepaged, &pmd_pa);
  if (r != SCAN_SUCCEED) return r;
  if (ctx_->rmap->anon_vma_prepare(h, vma)) return SCAN_FAIL;
  const gfp_t gfp = (!khugepaged || ctx_->params->khugepaged_defrag) ? GFP_TRANSHUGE : GFP_TRANSHUGE_LIGHT;
  page* hp = ctx_->page_alloc->alloc_pages(h, gfp | __GFP_ZERO, HPAGE_PMD_ORDER);
  if (!hp) {
    ctx_->vmstat->count(THP_COLLAPSE_ALLOC_FAILED);
    return SCAN_ALLOC_HUGE_PAGE_FAIL;
  }
  ctx_->vmstat->count(THP_COLLAPSE_ALLOC);
  // The allocation may have compacted (and moved pages of this range):
  // look again, under the lock this time.
  LockGuard g(mm->page_table_lock, h);
  uint64_t pmd_pa2 = 0;
  r = scan_pmd(h, mm, vma, haddr, khugepaged, &pmd_pa2);
  if (r != SCAN_SUCCEED || pmd_pa2 != pmd_pa) {
    ctx_->page_alloc->put_page(h, hp);
    return r == SCAN_SUCCEED ? SCAN_FAIL : r;
  }
  uint64_t pmd;
  pt.read_entry(h, pmd_pa, &pmd);
  const uint64_t table = pmd & pt.phys_mask();
  // Nobody may use the old translations while the pages are copied: clear
  // the PMD and shoot down every CPU with the mm (lazy ones too: the table
  // leaves the tree).
  pt.write_entry(h, pmd_pa, 0);
  ctx_->tlb->flush_tlb_mm_range(h, mm, haddr, haddr + HPAGE_PMD_SIZE, PAGE_SHIFT, true);
  const uint64_t dst = ctx_->nodes->page_to_phys(hp);
  for (unsigned i = 0; i < PT_ENTRIES; ++i) {
    uint64_t e;
    pt.read_entry(h, table + 8ull * i, &e);
    if (!e) continue;
    const uint64_t pfn = (e & pt.phys_mask()) >> PAGE_SHIFT;
    if (ctx_->memory->is_zero_pfn(pfn)) continue;  // the huge page is zeroed already
    if (h.phys_copy(dst + PAGE_SIZE * i, PFN_PHYS(pfn), PAGE_SIZE) != hal::MemStatus::ok) {
      // A poisoned source: give up, the old table goes back, and the page
      // goes to memory_failure() (copy_mc_user_highpage's queue).
      pt.write_entry(h, pmd_pa, pmd);
      ctx_->page_alloc->put_page(h, hp);
      ctx_->memory_failure->memory_failure_queue(h, pfn, 0);
      return SCAN_COPY_MC;
    }
  }
  // The old pages go; their table becomes the huge PMD's deposit.
  for (unsigned i = 0; i < PT_ENTRIES; ++i) {
    uint64_t e;
    pt.read_entry(h, table + 8ull * i, &e);
    if (!e) continue;
    pt.write_entry(h, table + 8ull * i, 0);
    const uint64_t pfn = (e & pt.phys_mask()) >> PAGE_SHIFT;
    if (ctx_->memory->is_zero_pfn(pfn)) continue;
    page* p = ctx_->nodes->pfn_to_page(pfn);
    --mm->rss_anon;
    ctx_->rmap->page_remove_rmap(p);
    ctx_->page_alloc->put_page(h, p);
  }
  ctx_->huge_memory->set_huge_pmd(h, vma, haddr, pmd_pa, hp, table);
  ++stats_.pages_collapsed;
  return SCAN_SUCCEED;
}

uint64_t Khugepaged::scan(hal::Hal& h, uint64_t pages) {
  ++stats_.wakeups;
  uint64_t progress = 0;
  unsigned mms_visited = 0;
  const unsigned mm_limit = static_cast<unsigned>(stats_.mms) + 1;
  while (progress < pages && !list_empty(&mm_head_) && mms_visited < mm_limit) {
    mm_struct* mm;
    {
      LockGuard g(lock_, h);
      if (!cursor_) cursor_ = list_first_entry(&mm_head_, mm_struct, khugepaged_link);
      mm = cursor_;
    }
    ++mms_visited;
    bool done_mm = true;
    if (!mm->mmap_lock.try_lock(h)) {
      ++stats_.busy_mm;
    } else {
      uint64_t addr = mm->khugepaged_scan_address;
      ctx_->mmap->for_each_vma(mm, [&](vm_area_struct* vma) {
        if (vma->vm_end <= addr) return true;
        if (!ctx_->huge_memory->vma_allowable(vma)) {
          progress += 1;
          return true;
        }
        uint64_t hstart = (max(vma->vm_start, addr) + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);
        const uint64_t hend = vma->vm_end & ~(HPAGE_PMD_SIZE - 1);
        for (; hstart < hend; hstart += HPAGE_PMD_SIZE) {
          if (progress >= pages) {
            done_mm = false;
            addr = hstart;
            return false;
          }
          collapse_huge_page(h, mm, vma, hstart, true);
          progress += HPAGE_PMD_NR;
          addr = hstart + HPAGE_PMD_SIZE;
        }
        return true;
      });
      mm->khugepaged_scan_address = done_mm ? 0 : addr;
      mm->mmap_lock.unlock();
    }
    if (done_mm) {
      LockGuard g(lock_, h);
      if (cursor_ == mm) {
        list_head* next = mm->khugepaged_link.next;
        if (next == &mm_head_) {
          ++stats_.full_scans;
          cursor_ = nullptr;
        } else {
          cursor_ = list_entry(next, mm_struct, khugepaged_link);
        }
      }
    }
  }
  stats_.pages_scanned += progress;
  return progress;
}

int Khugepaged::madvise_collapse(hal::Hal& h, mm_struct* mm, vm_area_struct* vma, uint64_t start, uint64_t end) {
  if ((vma->vm_flags & (VM_NOHUGEPAGE | VM_HUGETLB | VM_SHARED)) || vma->vm_obj) return -EINVAL;
  const uint64_t hstart = (max(start, vma->vm_start) + HPAGE_PMD_SIZE - 1) & ~(HPAGE_PMD_SIZE - 1);
  const uint64_t hend = min(end, vma->vm_end) & ~(HPAGE_PMD_SIZE - 1);
  int err = 0;
  for (uint64_t a = hstart; a < hend; a += HPAGE_PMD_SIZE) {
    const ScanResult r = collapse_huge_page(h, mm, vma, a, false);
    switch (r) {
      case SCAN_SUCCEED:
        ++stats_.madvise_collapsed;
        break;
      case SCAN_PMD_MAPPED:
        break;
      case SCAN_ALLOC_HUGE_PAGE_FAIL:
        err = -ENOMEM;
        break;
      case SCAN_PAGE_LRU:
      case SCAN_COPY_MC:
        if (!err) err = -EAGAIN;
        break;
      default:
        if (!err) err = -EINVAL;
        break;
    }
  }
  return err;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<KhugepagedStats> khugepaged_stat_table[] = {
    {"wakeups", &KhugepagedStats::wakeups, "khugepaged scans", "count"},
    {"pages_scanned", &KhugepagedStats::pages_scanned, "pages scanned by khugepaged", "pages"},
    {"pages_collapsed", &KhugepagedStats::pages_collapsed, "huge pages made by khugepaged and MADV_COLLAPSE", "count"},
    {"full_scans", &KhugepagedStats::full_scans, "passes over every registered address space", "count"},
    {"mms", &KhugepagedStats::mms, "address spaces on khugepaged's list", "count"},
    {"busy_mm", &KhugepagedStats::busy_mm, "scans that skipped an address space whose mmap_lock was taken", "count"},
    {"madvise_collapsed", &KhugepagedStats::madvise_collapsed, "huge pages made by MADV_COLLAPSE", "count"},
};
static_assert(stat_table_size(khugepaged_stat_table) == sizeof(KhugepagedStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Khugepaged::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, khugepaged_stat_table);
}

}  // namespace fw
