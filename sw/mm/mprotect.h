// mprotect (Linux mm/mprotect.c): new protections for [start, end): the
// VMAs are split at the ends (and merged with alike neighbours after), the
// entries rewritten (read-only, writable, or PROT_NONE: a non-present entry
// keeping its page, _PAGE_PROTNONE), and every CPU using the address space
// shot down. A private page that was writable stays writable while the
// mapping is; one that was not (copy-on-write, zero page) is made writable
// by its next write fault. Transparent huge pages across an end are split;
// hugetlb ranges must be aligned to their page size (EINVAL).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct MprotectStats {
  uint64_t calls = 0;
  uint64_t failed = 0;
  uint64_t entries_changed = 0;
};

class Mprotect {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // The mprotect system call: 0 or -errno (EINVAL, ENOMEM, EACCES).
  int do_mprotect(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t len, uint64_t prot);
  // Rewrites the entries of [start, end) of vma (its vm_flags already new)
  // with page_table_lock held per table; returns the entries changed. The
  // caller flushes.
  uint64_t change_protection(hal::Hal& h, vm_area_struct* vma, uint64_t start, uint64_t end);

  const MprotectStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Walk stages of change_protection (Linux change_pmd_range and down).
  // Return the entries changed.
  uint64_t change_level(hal::Hal& h, vm_area_struct* vma, uint64_t table, unsigned level, uint64_t base,
                        uint64_t start, uint64_t end);
  uint64_t change_pte_table(hal::Hal& h, vm_area_struct* vma, uint64_t table, uint64_t base, uint64_t start,
                            uint64_t end);

  MmContext* ctx_ = nullptr;
  MprotectStats stats_;
};

}  // namespace fw
