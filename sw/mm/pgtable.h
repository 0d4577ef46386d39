// x86-64 page tables in simulated DRAM (Linux arch/x86/mm + mm/memory.c
// page-table parts). Tables are pages from the buddy allocator, zeroed
// through the HAL; entries are read and written through the direct map (or
// the HAL's transactions where there is no direct map). The level count is
// a parameter (4, or 5 with LA57). Also the kernel's direct map of all RAM
// at PAGE_OFFSET with the largest pages alignment allows.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/hal/x86.h"
#include "sw/lib/compiler.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

// Linux's PAGE_OFFSET (the direct map) for 4- and 5-level paging.
constexpr uint64_t PAGE_OFFSET_L4 = 0xffff888000000000ull;
constexpr uint64_t PAGE_OFFSET_L5 = 0xff11000000000000ull;

// Entry flags (Linux pgtable_types.h).
constexpr uint64_t _PAGE_TABLE = x86::PTE_P | x86::PTE_RW | x86::PTE_US | x86::PTE_A | x86::PTE_D;
constexpr uint64_t _KERNPG_TABLE = x86::PTE_P | x86::PTE_RW | x86::PTE_A | x86::PTE_D;
// PAGE_KERNEL without NX (added when EFER.NXE is on).
constexpr uint64_t __PAGE_KERNEL_BASE = x86::PTE_P | x86::PTE_RW | x86::PTE_A | x86::PTE_D | x86::PTE_G;

// Software bits of non-present entries (Linux's x86 pgtable_types.h and
// swapops.h). A PROT_NONE mapping keeps its page in a non-present entry
// marked _PAGE_PROTNONE (the global bit, meaningless in user entries). A
// migration entry is the old entry with bit 9 set (and bit 10 when the old
// entry was present).
constexpr uint64_t _PAGE_PROTNONE = x86::PTE_G;
constexpr uint64_t SWP_MIGRATION_MARK = 1ull << 9;
constexpr uint64_t SWP_MIGRATION_PRESENT = 1ull << 10;
inline bool is_migration_entry(uint64_t pte) { return !(pte & x86::PTE_P) && (pte & SWP_MIGRATION_MARK); }
inline bool pte_present(uint64_t e) { return e & x86::PTE_P; }
inline bool pte_protnone(uint64_t e) {
  return !(e & x86::PTE_P) && (e & _PAGE_PROTNONE) && !(e & SWP_MIGRATION_MARK);
}
// The entry holds a reference to a page: present, or PROT_NONE.
inline bool pte_maps_page(uint64_t e) { return pte_present(e) || pte_protnone(e); }

// One entry met by a PtRange walk.
struct PtSlot {
  unsigned index;  // in its table
  uint64_t epa;    // where the entry lives
  uint64_t va;     // first address the entry covers
  uint64_t start;  // the walked range clipped to what the entry covers: [start, end)
  uint64_t end;
};

// The entries of the level-`level` table at `table`, which covers from
// `base`, that overlap [start, end) (start inside the table's span), in
// order: the loop of every recursive range walker (zap, free, mprotect, fork).
class PtRange {
 public:
  PtRange(uint64_t table, unsigned level, uint64_t base, uint64_t start, uint64_t end)
      : table_(table),
        base_(base),
        start_(start),
        end_(end),
        size_(x86::level_size(level)),
        first_(static_cast<unsigned>((start - base) >> x86::level_shift(level))) {}

  struct End {};
  class Iter {
   public:
    Iter(const PtRange& r, unsigned i) : r_(r), i_(i) {}
    bool operator!=(End) const { return i_ < x86::PT_ENTRIES && va() < r_.end_; }
    Iter& operator++() {
      ++i_;
      return *this;
    }
    PtSlot operator*() const {
      return PtSlot{i_, r_.table_ + 8ull * i_, va(), max(r_.start_, va()), min(r_.end_, va() + r_.size_)};
    }

   private:
    uint64_t va() const { return r_.base_ + i_ * r_.size_; }
    const PtRange& r_;
    unsigned i_;
  };
  Iter begin() const { return Iter(*this, first_); }
  End end() const { return End{}; }

 private:
  uint64_t table_, base_, start_, end_, size_;
  unsigned first_;
};

struct PteLookup {
  bool present = false;     // a leaf maps the address
  unsigned level = 0;       // leaf level, or the level where the walk stopped
  uint64_t entry = 0;       // the leaf (or the non-present entry found)
  uint64_t entry_pa = 0;    // where that entry lives
};

// Called for every present leaf cleared by zap_range.
struct PteZapVisitor {
  virtual void leaf(hal::Hal& h, uint64_t va, uint64_t pte, unsigned level) = 0;

 protected:
  ~PteZapVisitor() = default;
};

struct PgTableStats {
  uint64_t pages = 0;         // page-table pages in use (kernel + user)
  uint64_t kernel_pages = 0;  // of which the kernel's own tables
  uint64_t allocs = 0;
  uint64_t frees = 0;
  uint64_t updates = 0;       // entry writes
  uint64_t read_errors = 0;   // table reads that hit poison or an error
  uint64_t direct_map_bytes[4] = {};  // by leaf level 1..3 (4K, 2M, 1G)
};

struct MemblockType;

class PgTable {
 public:
  void init(MmContext* ctx, unsigned levels, unsigned maxphyaddr, bool nx);

  unsigned levels() const { return levels_; }
  uint64_t phys_mask() const { return x86::phys_mask(maxphyaddr_); }
  uint64_t nx_bit() const { return nx_ ? x86::PTE_NX : 0; }
  uint64_t page_offset() const { return levels_ == 5 ? PAGE_OFFSET_L5 : PAGE_OFFSET_L4; }
  // First address above the user half (where the root's entry 256 starts).
  uint64_t user_top() const { return 1ull << (x86::level_shift(levels_) + x86::LEVEL_BITS - 1); }

  // A zeroed table page; 0 when memory is exhausted.
  uint64_t alloc_table(hal::Hal& h, bool kernel);
  void free_table(hal::Hal& h, uint64_t table_pa, bool kernel);

  // Entry access; false when the memory holding it reports an error.
  bool read_entry(hal::Hal& h, uint64_t entry_pa, uint64_t* value);
  bool write_entry(hal::Hal& h, uint64_t entry_pa, uint64_t value);

  // The address of the entry for va at `level`, allocating missing tables
  // above it when alloc is set (with table_flags). 0 ok, -ENOMEM,
  // -ENOENT (missing and !alloc), -EEXIST (a large leaf is in the way), -EIO.
  // *allocated (if given) grows by the tables allocated.
  int walk_to(hal::Hal& h, uint64_t root, uint64_t va, unsigned level, bool alloc, uint64_t table_flags,
              bool kernel, uint64_t* entry_pa, uint64_t* allocated = nullptr);

  // Maps one page of size level_size(level) (4K, 2M or 1G). The entry must be
  // empty (-EEXIST otherwise). leaf_flags must not hold the frame.
  int map(hal::Hal& h, uint64_t root, uint64_t va, uint64_t pa, unsigned level, uint64_t leaf_flags,
          uint64_t table_flags, bool kernel);
  // Clears the 4K leaf for va; returns the old entry (0 if none).
  uint64_t unmap(hal::Hal& h, uint64_t root, uint64_t va);
  // Walks root's tables for va, filling *out. Returns true when a leaf maps
  // va; false when the walk stops at a non-present entry or an unreadable
  // table.
  bool lookup(hal::Hal& h, uint64_t root, uint64_t va, PteLookup* out);

  // Clears every present leaf in [start, end) (user half), calling v for
  // each. Returns the number cleared.
  uint64_t zap_range(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, PteZapVisitor* v);
  // Frees the tables that only served [start, end), keeping any table that
  // also covers addresses outside [floor, ceiling) (Linux free_pgd_range).
  // The root is never freed here. Returns the number of table pages freed.
  uint64_t free_range(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, uint64_t floor,
                      uint64_t ceiling);
  // Teardown: frees every table of the user half and then the root.
  void free_user_tables(hal::Hal& h, uint64_t root);

  // Maps physical [start, end) at page_offset() + start with the largest
  // pages alignment allows (1 GiB only with gbpages) and that no table
  // already mapped in part forbids, supervisor, global, NX. Returns 0 or
  // -ENOMEM.
  int map_direct(hal::Hal& h, uint64_t root, uint64_t start, uint64_t end, bool gbpages);
  // The direct map of all RAM in Linux's order and pieces (x86
  // init_mem_mapping with memblock top-down): the ISA range [0, 1 MiB)
  // whole, then memory_map_top_down: the highest 2 MiB block of RAM first,
  // then downwards in steps growing 256-fold once as much is mapped, each
  // step mapping the RAM ranges of `mem` it covers. A GiB that a step
  // boundary cuts is mapped with 2 MiB pages, as on Linux (the top GiB of
  // RAM always is). Returns 0 or -ENOMEM.
  int init_mem_mapping(hal::Hal& h, uint64_t root, const MemblockType& mem, bool gbpages);

  const PgTableStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Levels of zap_range, free_range and free_user_tables. Return the leaves
  // cleared / table pages freed.
  uint64_t zap_level(hal::Hal& h, uint64_t table, unsigned level, uint64_t base, uint64_t start, uint64_t end,
                     PteZapVisitor* v);
  uint64_t free_level(hal::Hal& h, uint64_t table, unsigned level, uint64_t base, uint64_t start, uint64_t end,
                      uint64_t floor, uint64_t ceiling);
  uint64_t free_subtree(hal::Hal& h, uint64_t table, unsigned level);

  MmContext* ctx_ = nullptr;
  unsigned levels_ = 4;
  unsigned maxphyaddr_ = 46;
  bool nx_ = true;
  PgTableStats stats_;
};

}  // namespace fw
