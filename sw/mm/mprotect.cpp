#include "sw/mm/mprotect.h"

#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/memory.h"
#include "sw/mm/mman.h"
#include "sw/mm/mmap.h"
#include "sw/mm/pgtable.h"
#include "sw/mm/tlb.h"

namespace fw {

using namespace x86;

uint64_t Mprotect::change_pte_table(hal::Hal& h, vm_area_struct* vma, uint64_t table, uint64_t base, uint64_t start,
                                    uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  const uint64_t newprot = vma->vm_page_prot;
  const bool may_write = (vma->vm_flags & VM_WRITE) != 0;
  uint64_t changed = 0;
  for (const PtSlot& slot : PtRange(table, LEVEL_PT, base, start, end)) {
    const uint64_t epa = slot.epa;
    uint64_t e;
    if (!pt.read_entry(h, epa, &e) || !e) continue;
    const uint64_t frame = e & pt.phys_mask();
    const bool zero = ctx_->memory->is_zero_pfn(frame >> PAGE_SHIFT);
    uint64_t ne;
    if (is_migration_entry(e)) {
      // What the entry becomes when the migration puts the page back.
      uint64_t back;
      if (newprot & PTE_P) {
        back = frame | newprot | (e & (PTE_A | PTE_D)) | ((e & PTE_RW) && may_write ? PTE_RW : 0) |
               SWP_MIGRATION_PRESENT;
      } else {
        back = frame | _PAGE_PROTNONE | (e & (PTE_US | PTE_NX | PTE_A | PTE_D));
      }
      ne = (back & ~PTE_P) | SWP_MIGRATION_MARK;
    } else if (!pte_maps_page(e)) {
      continue;
    } else if (newprot & PTE_P) {
      ne = frame | newprot | (e & (PTE_A | PTE_D));
      if (zero) ne &= ~PTE_RW;
      else if ((e & PTE_RW) && may_write) ne |= PTE_RW;
    } else {
      ne = frame | _PAGE_PROTNONE | (e & (PTE_US | PTE_NX | PTE_A | PTE_D));
    }
    if (ne != e) {
      pt.write_entry(h, epa, ne);
      ++changed;
    }
  }
  return changed;
}

uint64_t Mprotect::change_level(hal::Hal& h, vm_area_struct* vma, uint64_t table, unsigned level, uint64_t base,
                                uint64_t start, uint64_t end) {
  PgTable& pt = *ctx_->pgtable;
  uint64_t changed = 0;
  for (const PtSlot& slot : PtRange(table, level, base, start, end)) {
    uint64_t e;
    if (!pt.read_entry(h, slot.epa, &e) || !e) continue;
    if (level == LEVEL_PD && (e & PTE_PS)) {
      // The VMA splits cut huge pages at the ends: this one is inside.
      ctx_->huge_memory->change_huge_pmd(h, vma, slot.epa, e, vma->vm_page_prot);
      ++changed;
      continue;
    }
    if (!pte_present(e) || (e & PTE_PS)) continue;
    const uint64_t child = e & pt.phys_mask();
    changed += level - 1 == LEVEL_PT ? change_pte_table(h, vma, child, slot.va, slot.start, slot.end)
                                     : change_level(h, vma, child, level - 1, slot.va, slot.start, slot.end);
  }
  return changed;
}

uint64_t Mprotect::change_protection(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end) {
  mm_struct* mm = vma->vm_mm;
  if (vma->vm_flags & VM_HUGETLB) {
    ctx_->hugetlb->change_protection(h, vma, start, end, vma->vm_page_prot);
    return 1;
  }
  LockGuard g(mm->page_table_lock, h);
  return change_level(h, vma, mm->pgd, ctx_->pgtable->levels(), 0, start, end);
}

int Mprotect::do_mprotect(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len, uint64_t prot) {
  ++stats_.calls;
  // Linux do_mprotect_pkey's checks.
  if (start & ~PAGE_MASK) {
    ++stats_.failed;
    return -EINVAL;
  }
  if (!len) return 0;
  len = align_up(len, PAGE_SIZE);
  const uint64_t end = start + len;
  if (!len || end <= start) {
    ++stats_.failed;
    return -ENOMEM;
  }
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) {
    ++stats_.failed;
    return -EINVAL;
  }
  LockGuard g(mm->mmap_lock, h);
  Mmap& mmap = *ctx_->mmap;
  vm_area_struct* vma = mmap.find_vma(mm, start);
  if (!vma || vma->vm_start > start) {
    ++stats_.failed;
    return -ENOMEM;
  }
  // The whole range must be mapped, without holes, before anything changes.
  for (vm_area_struct* v = vma; v && v->vm_start < end; v = Mmap::vma_next(mm, v)) {
    vm_area_struct* nx = Mmap::vma_next(mm, v);
    if (v->vm_end < end && (!nx || nx->vm_start != v->vm_end)) {
      ++stats_.failed;
      return -ENOMEM;
    }
    const uint64_t newflags = (v->vm_flags & ~VM_ACCESS_FLAGS) | ((prot & PROT_READ) ? VM_READ : 0) |
                              ((prot & PROT_WRITE) ? VM_WRITE : 0) | ((prot & PROT_EXEC) ? VM_EXEC : 0);
    // Permissions the mapping may never have (VM_MAY*).
    if ((newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS) {
      ++stats_.failed;
      return -EACCES;
    }
    // A driver's buffer keeps its protection (departure: Linux allows it).
    if (v->vm_flags & VM_PFNMAP) {
      ++stats_.failed;
      return -EINVAL;
    }
    if (v->vm_flags & VM_HUGETLB) {
      const uint64_t mask = (1ull << v->huge_shift) - 1;
      if ((v->vm_start < start && (start & mask)) || (v->vm_end > end && (end & mask))) {
        ++stats_.failed;
        return -EINVAL;
      }
    }
  }
  uint64_t addr = start;
  bool changed = false;
  while (addr < end) {
    vma = mmap.find_vma(mm, addr);
    const uint64_t e = min(end, vma->vm_end);
    uint64_t newflags = (vma->vm_flags & ~VM_ACCESS_FLAGS) | ((prot & PROT_READ) ? VM_READ : 0) |
                        ((prot & PROT_WRITE) ? VM_WRITE : 0) | ((prot & PROT_EXEC) ? VM_EXEC : 0);
    // A private mapping becoming writable is committed memory from now on.
    const uint64_t pages = (e - addr) >> PAGE_SHIFT;
    bool charged = false;
    if ((newflags & VM_WRITE) && !(newflags & (VM_ACCOUNT | VM_SHARED | VM_NORESERVE | VM_HUGETLB))) {
      newflags |= VM_ACCOUNT;
      charged = true;
    }
    if (newflags != vma->vm_flags) {
      int err = 0;
      vm_area_struct* v = mmap.vma_modify_flags(h, mm, vma, addr, e, newflags, &err);
      if (!v) {
        ++stats_.failed;
        if (changed) ctx_->tlb->flush_tlb_mm_range(h, mm, start, end, PAGE_SHIFT, false);
        return err;
      }
      if (charged) mm->committed += pages;
      const uint64_t n = change_protection(h, v, addr, e);
      stats_.entries_changed += n;
      changed |= n != 0;
    }
    addr = e;
  }
  if (changed) ctx_->tlb->flush_tlb_mm_range(h, mm, start, end, PAGE_SHIFT, false);
  return 0;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<MprotectStats> mprotect_stat_table[] = {
    {"calls", &MprotectStats::calls, "mprotect calls", "count"},
    {"failed", &MprotectStats::failed, "mprotect calls that failed", "count"},
    {"entries_changed", &MprotectStats::entries_changed, "page-table entries given a new protection", "count"},
};
static_assert(stat_table_size(mprotect_stat_table) == sizeof(MprotectStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Mprotect::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, mprotect_stat_table);
}

}  // namespace fw
