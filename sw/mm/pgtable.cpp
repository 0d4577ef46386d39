#include "sw/mm/pgtable.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/memblock.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/vmstat.h"

namespace fw {

using namespace x86;

namespace {
bool is_leaf(uint64_t e, unsigned level) { return level == LEVEL_PT || (e & PTE_PS); }
}  // namespace

void PgTable::init(MmContext* ctx, unsigned levels, unsigned maxphyaddr, bool nx) {
  ctx_ = ctx;
  levels_ = levels;
  maxphyaddr_ = maxphyaddr;
  nx_ = nx;
}

uint64_t PgTable::alloc_table(hal::Hal& h, bool kernel) {
  page* p = ctx_->page_alloc->alloc_pages(h, kernel ? GFP_PGTABLE_KERNEL : GFP_PGTABLE_USER, 0);
  if (!p) return 0;
  __SetPageTable(p);
  ++stats_.pages;
  ++stats_.allocs;
  if (kernel) {
    ++stats_.kernel_pages;
    ctx_->vmstat->mod(page_to_nid(p), NR_KERNEL_PAGETABLE, 1);
  } else {
    ctx_->vmstat->mod(page_to_nid(p), NR_PAGETABLE, 1);
  }
  return ctx_->nodes->page_to_phys(p);
}

void PgTable::free_table(hal::Hal& h, uint64_t table_pa, bool kernel) {
  page* p = ctx_->nodes->phys_to_page(table_pa);
  FW_BUG_ON(*ctx_->log, h, p == nullptr || !PageTable(p));
  __ClearPageTable(p);
  --stats_.pages;
  ++stats_.frees;
  if (kernel) {
    --stats_.kernel_pages;
    ctx_->vmstat->mod(page_to_nid(p), NR_KERNEL_PAGETABLE, -1);
  } else {
    ctx_->vmstat->mod(page_to_nid(p), NR_PAGETABLE, -1);
  }
  ctx_->page_alloc->free_pages(h, p, 0);
}

bool PgTable::read_entry(hal::Hal& h, uint64_t entry_pa, uint64_t* value) {
  if (void* p = h.direct_map(entry_pa, 8)) {
    *value = __atomic_load_n(static_cast<uint64_t*>(p), __ATOMIC_RELAXED);
    return true;
  }
  if (h.phys_read(entry_pa, value, 8) == hal::MemStatus::ok) return true;
  ++stats_.read_errors;
  *value = 0;
  return false;
}

bool PgTable::write_entry(hal::Hal& h, uint64_t entry_pa, uint64_t value) {
  ++stats_.updates;
  ctx_->charge(h, ctx_->params->cost_pte_update_ns);
  if (void* p = h.direct_map(entry_pa, 8)) {
    __atomic_store_n(static_cast<uint64_t*>(p), value, __ATOMIC_RELAXED);
    return true;
  }
  return h.phys_write(entry_pa, &value, 8) == hal::MemStatus::ok;
}

int PgTable::walk_to(hal::Hal& h, uint64_t root, uint64_t va, unsigned level, bool alloc, uint64_t table_flags,
                     bool kernel, uint64_t* entry_pa, uint64_t* allocated) {
  uint64_t table = root;
  for (unsigned l = levels_;; --l) {
    const uint64_t epa = table + 8ull * pt_index(va, l);
    if (l == level) {
      *entry_pa = epa;
      return 0;
    }
    uint64_t e;
    if (!read_entry(h, epa, &e)) return -EIO;
    if (!(e & PTE_P)) {
      // A non-present entry that is not empty maps a page (PROT_NONE huge
      // page): a leaf in the way, never overwritten by a table.
      if (e) return -EEXIST;
      if (!alloc) return -ENOENT;
      const uint64_t t = alloc_table(h, kernel);
      if (!t) return -ENOMEM;
      if (allocated) ++*allocated;
      e = t | table_flags;
      if (!write_entry(h, epa, e)) return -EIO;
    } else if (is_leaf(e, l)) {
      return -EEXIST;
    }
    table = e & phys_mask();
  }
}

int PgTable::map(hal::Hal& h, uint64_t root, uint64_t va, uint64_t pa, unsigned level, uint64_t leaf_flags,
                 uint64_t table_flags, bool kernel) {
  uint64_t epa;
  int r = walk_to(h, root, va, level, true, table_flags, kernel, &epa);
  if (r) return r;
  uint64_t old;
  if (!read_entry(h, epa, &old)) return -EIO;
  if (old & PTE_P) return -EEXIST;
  uint64_t e = (pa & phys_mask()) | leaf_flags;
  if (level > LEVEL_PT) e |= PTE_PS;
  return write_entry(h, epa, e) ? 0 : -EIO;
}

uint64_t PgTable::unmap(hal::Hal& h, uint64_t root, uint64_t va) {
  uint64_t epa, old;
  if (walk_to(h, root, va, LEVEL_PT, false, 0, false, &epa)) return 0;
  if (!read_entry(h, epa, &old) || !(old & PTE_P)) return 0;
  write_entry(h, epa, 0);
  return old;
}

bool PgTable::lookup(hal::Hal& h, uint64_t root, uint64_t va, PteLookup* out) {
  *out = PteLookup{};
  uint64_t table = root;
  for (unsigned l = levels_; l >= LEVEL_PT; --l) {
    const uint64_t epa = table + 8ull * pt_index(va, l);
    uint64_t e;
    if (!read_entry(h, epa, &e)) return false;
    out->level = l;
    out->entry = e;
    out->entry_pa = epa;
    if (!(e & PTE_P)) return false;
    if (is_leaf(e, l)) {
      out->present = true;
      return true;
    }
    table = e & phys_mask();
  }
  return false;
}

uint64_t PgTable::zap_level(hal::Hal& h, uint64_t table, unsigned level, uint64_t base, uint64_t start, uint64_t end,
                            PteZapVisitor* v) {
  uint64_t n = 0;
  for (const PtSlot& slot : PtRange(table, level, base, start, end)) {
    uint64_t e;
    if (!read_entry(h, slot.epa, &e)) continue;
    if (!(e & PTE_P)) {
      // A non-present entry that is not empty (a migration entry): its page
      // belongs to the migration under way, the entry just goes.
      if (e && level == LEVEL_PT) write_entry(h, slot.epa, 0);
      continue;
    }
    if (is_leaf(e, level)) {
      // Large user leaves (huge pages) are cleared whole.
      write_entry(h, slot.epa, 0);
      if (v) v->leaf(h, slot.va, e, level);
      ++n;
    } else {
      n += zap_level(h, e & phys_mask(), level - 1, slot.va, slot.start, slot.end, v);
    }
  }
  return n;
}

uint64_t PgTable::zap_range(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, PteZapVisitor* v) {
  end = min(end, user_top());
  if (start >= end) return 0;
  return zap_level(h, root, levels_, 0, start, end, v);
}

uint64_t PgTable::free_subtree(hal::Hal& h, uint64_t table, unsigned level) {
  uint64_t n = 1;
  for (unsigned i = 0; i < PT_ENTRIES; ++i) {
    uint64_t e;
    // An unreadable (poisoned) table loses what hangs below it: those pages
    // stay allocated for good, as the data to find them is gone.
    if (!read_entry(h, table + 8ull * i, &e) || !(e & PTE_P)) continue;
    if (!is_leaf(e, level)) {
      n += free_subtree(h, e & phys_mask(), level - 1);
    } else {
      // A mapping left behind would leak its page: the caller zaps first.
      ctx_->log->printk(h, LOGLEVEL_ERR, "pgtable: freeing a level-%u table with a live entry %#lx", level,
                        static_cast<unsigned long>(e));
    }
  }
  free_table(h, table, false);
  return n;
}

uint64_t PgTable::free_level(hal::Hal& h, uint64_t table, unsigned level, uint64_t base, uint64_t start,
                             uint64_t end, uint64_t floor, uint64_t ceiling) {
  const uint64_t size = level_size(level);
  uint64_t n = 0;
  for (const PtSlot& slot : PtRange(table, level, base, start, end)) {
    uint64_t e;
    if (!read_entry(h, slot.epa, &e) || !(e & PTE_P) || is_leaf(e, level)) continue;
    const uint64_t child = e & phys_mask();
    if (slot.va >= floor && slot.va + size <= ceiling) {
      // Everything this child covers is unmapped: drop it whole.
      write_entry(h, slot.epa, 0);
      n += free_subtree(h, child, level - 1);
    } else if (level - 1 > LEVEL_PT) {
      n += free_level(h, child, level - 1, slot.va, slot.start, slot.end, floor, ceiling);
    }
  }
  return n;
}

uint64_t PgTable::free_range(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, uint64_t floor,
                             uint64_t ceiling) {
  end = min(end, user_top());
  ceiling = min(ceiling, user_top());
  if (start >= end) return 0;
  return free_level(h, root, levels_, 0, start, end, floor, ceiling);
}

void PgTable::free_user_tables(hal::Hal& h, uint64_t root) {
  for (unsigned i = 0; i < PT_ENTRIES / 2; ++i) {
    uint64_t e;
    if (!read_entry(h, root + 8ull * i, &e) || !(e & PTE_P) || is_leaf(e, levels_)) continue;
    free_subtree(h, e & phys_mask(), levels_ - 1);
  }
  free_table(h, root, false);
}

int PgTable::map_direct(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, bool gbpages) {
  const uint64_t flags = __PAGE_KERNEL_BASE | nx_bit();
  uint64_t pa = start;
  unsigned cap = LEVEL_PDPT;  // lowered while a table from an earlier call covers pa
  while (pa < end) {
    unsigned level = LEVEL_PT;
    if (cap >= LEVEL_PDPT && gbpages && is_aligned(pa, SIZE_1G) && end - pa >= SIZE_1G) level = LEVEL_PDPT;
    else if (cap >= LEVEL_PD && is_aligned(pa, SIZE_2M) && end - pa >= SIZE_2M) level = LEVEL_PD;
    const uint64_t size = level_size(level);
    const int r = map(h, root, page_offset() + pa, pa, level, flags, _KERNPG_TABLE, true);
    if (r == -EEXIST && level > LEVEL_PT) {
      // A table is there (Linux phys_pud_init/phys_pmd_init keep it):
      // smaller pages for this piece.
      cap = level - 1;
      continue;
    }
    if (r && r != -EEXIST) return r;
    if (!r) stats_.direct_map_bytes[level] += size;
    pa += size;
    cap = LEVEL_PDPT;
  }
  return 0;
}

int PgTable::init_mem_mapping(hal::Hal& h, uint64_t root, const MemblockType& mem, bool gbpages) {
  constexpr uint64_t kIsaEnd = 1ull << 20;
  // The ISA range is always mapped, holes included.
  if (int r = map_direct(h, root, 0, kIsaEnd, gbpages)) return r;
  // The RAM of `mem` within [s, e), as init_range_memory_mapping; *mapped
  // grows by what it covered.
  auto map_ranges = [&](uint64_t s, uint64_t e, uint64_t* mapped) {
    for (unsigned i = 0; i < mem.cnt; ++i) {
      const uint64_t a = max(mem.regions[i].base, s), b = min(mem.regions[i].end(), e);
      if (a >= b) continue;
      if (int r = map_direct(h, root, a, b, gbpages)) return r;
      *mapped += b - a;
    }
    return 0;
  };
  const uint64_t end = mem.cnt ? mem.regions[mem.cnt - 1].end() : 0;
  // Linux starts below the highest free 2 MiB block memblock finds; the
  // top of RAM is free that early, so: the highest aligned 2 MiB of RAM.
  uint64_t real_end = 0;
  for (unsigned i = mem.cnt; i-- > 0 && !real_end;) {
    const uint64_t top = align_down(mem.regions[i].end(), SIZE_2M);
    if (top >= SIZE_2M && top - SIZE_2M >= max(mem.regions[i].base, kIsaEnd)) real_end = top;
  }
  if (!real_end) real_end = SIZE_2M;
  uint64_t step = SIZE_2M, mapped = 0, last_start = real_end;
  while (last_start > kIsaEnd) {
    const uint64_t start = last_start > step ? max(align_down(last_start - 1, step), kIsaEnd) : kIsaEnd;
    if (int r = map_ranges(start, last_start, &mapped)) return r;
    last_start = start;
    // get_new_step_size: << (PMD_SHIFT - PAGE_SHIFT - 1), capped so it never wraps.
    if (mapped >= step && step < (1ull << 52)) step <<= 8;
  }
  uint64_t rest = 0;
  return real_end < end ? map_ranges(real_end, end, &rest) : 0;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<PgTableStats> pgtable_stat_table[] = {
    {"pages", &PgTableStats::pages, "page-table pages in use (kernel and processes)", "pages"},
    {"kernel_pages", &PgTableStats::kernel_pages, "page-table pages of the kernel's own tables", "pages"},
    {"allocs", &PgTableStats::allocs, "page-table pages allocated", "count"},
    {"frees", &PgTableStats::frees, "page-table pages freed", "count"},
    {"updates", &PgTableStats::updates, "page-table entry writes", "count"},
    {"read_errors", &PgTableStats::read_errors, "page-table reads that hit poison or an error", "count"},
};
// direct_map_bytes[] (by level) follows the table.
static_assert(stat_table_size(pgtable_stat_table) == sizeof(PgTableStats) / sizeof(uint64_t) - 4, "one entry per counter");

}  // namespace

void PgTable::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, pgtable_stat_table);
  e("direct_map_4k_bytes", stats_.direct_map_bytes[1], "direct map covered by 4 KiB pages", "bytes");
  e("direct_map_2m_bytes", stats_.direct_map_bytes[2], "direct map covered by 2 MiB pages", "bytes");
  e("direct_map_1g_bytes", stats_.direct_map_bytes[3], "direct map covered by 1 GiB pages", "bytes");
}

}  // namespace fw
