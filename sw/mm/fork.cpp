#include "sw/mm/fork.h"

#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/lib/printk.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/khugepaged.h"
#include "sw/mm/memory.h"
#include "sw/mm/mmap.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/rmap.h"
#include "sw/mm/shmem.h"
#include "sw/mm/slub.h"
#include "sw/mm/swap.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/tlb.h"

namespace fw {

using namespace x86;

int Fork::copy_pte_table(hal::Hal& h, mm_struct* dst, mm_struct* src, uint64_t table, uint64_t base, uint64_t start,
                         uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  // The child's table first (an allocation may compact: no lock held).
  uint64_t dpte0;
  if (pt.walk_to(h, dst->pgd, start, LEVEL_PT, true, _PAGE_TABLE, false, &dpte0, &dst->pgtables)) return -ENOMEM;
  const uint64_t dtable = dpte0 & ~(PAGE_SIZE - 1);
  LockGuard gs(src->page_table_lock, h);
  LockGuard gd(dst->page_table_lock, h);
  for (const PtSlot& slot : PtRange(table, LEVEL_PT, base, start, end)) {
    uint64_t e;
    if (!pt.read_entry(h, slot.epa, &e) || !e) continue;
    const uint64_t pfn = (e & pt.phys_mask()) >> PAGE_SHIFT;
    page* p = ctx_->nodes->pfn_to_page(pfn);
    uint64_t ne = e;
    if (is_migration_entry(e)) {
      // Copied as it is, read-only on both sides: the migration's remap
      // finds the child's entry through the reverse map too.
      ne = e & ~PTE_RW;
      if (ne != e) pt.write_entry(h, slot.epa, ne);
      if (p) ++(PageAnon(p) ? dst->rss_anon : dst->rss_shmem);
    } else if (is_swap_pte(e)) {
      // Both address spaces refer to the slot (Linux copy_nonpresent_pte).
      const swp_entry_t se = pte_to_swp_entry(e);
      if (is_swap_entry(se)) {
        if (ctx_->swapfile->swap_duplicate(h, se)) return -ENOMEM;
        ++dst->swapents;
      }
    } else if (pte_maps_page(e)) {
      if (!ctx_->memory->is_zero_pfn(pfn) && p && !PageReserved(p)) {
        get_page(compound_head(p));
        if (PageAnon(p)) {
          ctx_->rmap->page_add_anon_rmap(p);
          ++dst->rss_anon;
        } else {
          ctx_->rmap->page_add_file_rmap(p);
          ++dst->rss_shmem;
        }
      }
      // Copy-on-write: read-only in both.
      ne = e & ~PTE_RW;
      if (ne != e) pt.write_entry(h, slot.epa, ne);
    } else {
      continue;
    }
    pt.write_entry(h, dtable + 8ull * slot.index, ne);
    ++stats_.ptes_copied;
  }
  return 0;
}

int Fork::copy_level(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma, uint64_t table, unsigned level,
                     uint64_t base, uint64_t start, uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  for (const PtSlot& slot : PtRange(table, level, base, start, end)) {
    const uint64_t eb = slot.va;
    uint64_t e;
    if (!pt.read_entry(h, slot.epa, &e) || !e) continue;
    if (level == LEVEL_PD && (e & PTE_PS)) {
      uint64_t dpmd;
      if (pt.walk_to(h, dst->pgd, eb, LEVEL_PD, true, _PAGE_TABLE, false, &dpmd, &dst->pgtables)) return -ENOMEM;
      int r;
      while ((r = ctx_->huge_memory->copy_huge_pmd(h, dst, src, dpmd, slot.epa, e, eb, dvma)) == -EAGAIN) {
        if (!pt.read_entry(h, slot.epa, &e) || !(e & PTE_PS)) break;
      }
      if (r == -ENOMEM) return r;
      if (r == 0) {
        ++stats_.ptes_copied;
        continue;
      }
      if (!pt.read_entry(h, slot.epa, &e) || !e || (e & PTE_PS)) continue;
      // Split meanwhile: copy its page table below.
    }
    if (!pte_present(e) || (e & PTE_PS)) continue;
    const uint64_t child = e & pt.phys_mask();
    const int r = level - 1 == LEVEL_PT ? copy_pte_table(h, dst, src, child, eb, slot.start, slot.end)
                                        : copy_level(h, dst, src, dvma, child, level - 1, eb, slot.start, slot.end);
    if (r) return r;
  }
  return 0;
}

int Fork::copy_page_range(hal::Hal& h, mm_struct* dst, mm_struct* src, vm_area_struct* dvma, vm_area_struct* svma) {
  if (svma->vm_flags & VM_HUGETLB) return ctx_->hugetlb->copy_hugetlb_page_range(h, dst, src, dvma, svma);
  // A fault fills the rest correctly (shared memory; nothing written yet).
  if (!svma->anon_vma) return 0;
  return copy_level(h, dst, src, dvma, src->pgd, ctx_->pgtable->levels(), 0, svma->vm_start, svma->vm_end);
}

mm_struct* Fork::dup_mm(hal::Hal& h, mm_struct* oldmm, int* err) {
  *err = 0;
  Mmap& mmap = *ctx_->mmap;
  mm_struct* mm = mmap.mm_alloc(h);
  if (!mm) {
    *err = -ENOMEM;
    ++stats_.failed;
    return nullptr;
  }
  LockGuard g(oldmm->mmap_lock, h);
  mm->mmap_base = oldmm->mmap_base;
  mm->mmap_legacy_base = oldmm->mmap_legacy_base;
  mm->task_size = oldmm->task_size;
  int r = 0;
  mmap.for_each_vma(oldmm, [&](vm_area_struct* v) {
    if (v->vm_flags & VM_DONTCOPY) return true;
    vm_area_struct* n = static_cast<vm_area_struct*>(ctx_->slab->kmem_cache_zalloc(h, ctx_->vma_cachep, GFP_KERNEL));
    if (!n) {
      r = -ENOMEM;
      return false;
    }
    INIT_LIST_HEAD(&n->anon_vma_chain);
    n->vm_start = v->vm_start;
    n->vm_end = v->vm_end;
    n->vm_flags = v->vm_flags;
    n->vm_page_prot = v->vm_page_prot;
    n->vm_pgoff = v->vm_pgoff;
    n->huge_shift = v->huge_shift;
    n->resv_owner = false;  // the reservation stays with the parent (Linux HPAGE_RESV_OWNER)
    n->resv_pages = 0;
    mmap.vma_link(mm, n);
    mm->total_vm += (n->vm_end - n->vm_start) >> PAGE_SHIFT;
    if (n->vm_flags & VM_ACCOUNT) mm->committed += (n->vm_end - n->vm_start) >> PAGE_SHIFT;
    if (v->vm_obj) {
      n->vm_obj = v->vm_obj;
      ctx_->shmem->get(n->vm_obj);
      ctx_->shmem->link_vma(h, n);
    } else if (ctx_->rmap->anon_vma_fork(h, n, v)) {
      r = -ENOMEM;
      return false;
    }
    ++stats_.vmas_copied;
    if ((r = copy_page_range(h, mm, oldmm, n, v))) return false;
    ctx_->khugepaged->enter_vma(h, n);
    return true;
  });
  // The parent's entries became read-only: no CPU may keep writable ones.
  ctx_->tlb->flush_tlb_mm(h, oldmm);
  if (r) {
    mm->mm_users = 0;
    mmap.mm_destroy(h, mm);
    *err = r;
    ++stats_.failed;
    return nullptr;
  }
  ++stats_.forks;
  return mm;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<ForkStats> fork_stat_table[] = {
    {"forks", &ForkStats::forks, "address spaces copied by fork", "count"},
    {"failed", &ForkStats::failed, "forks that ran out of memory", "count"},
    {"vmas_copied", &ForkStats::vmas_copied, "VMAs copied into children", "count"},
    {"ptes_copied", &ForkStats::ptes_copied, "entries shared copy-on-write (or copied) with children", "count"},
};
static_assert(stat_table_size(fork_stat_table) == sizeof(ForkStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Fork::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, fork_stat_table);
}

}  // namespace fw
