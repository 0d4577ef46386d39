// memblock: the boot-time memory map (Linux mm/memblock.c). Two sorted,
// merged region arrays: `memory` (usable RAM from the e820 map, each region
// tagged with its NUMA node) and `reserved` (what must never reach the page
// allocator: the first page(s), the firmware image, non-usable e820 ranges,
// early allocations such as the memmap). Early allocations are top-down,
// like Linux's default.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"

namespace fw {

constexpr int NUMA_NO_NODE = -1;

struct MemblockRegion {
  uint64_t base;
  uint64_t size;
  int nid;  // NUMA node, NUMA_NO_NODE until set_node()
  uint64_t end() const { return base + size; }
};

struct MemblockType {
  static constexpr unsigned kMaxRegions = 256;
  unsigned cnt = 0;
  uint64_t total_size = 0;
  MemblockRegion regions[kMaxRegions];
};

class Memblock {
 public:
  // All return false when a region array is full (the map is too fragmented).
  bool add(uint64_t base, uint64_t size, int nid = NUMA_NO_NODE);
  bool reserve(uint64_t base, uint64_t size);
  // Gives an early reservation back (memblock_phys_free).
  bool free(uint64_t base, uint64_t size);
  // Tags the memory in [base, base+size) with node nid, splitting regions at
  // the boundaries.
  bool set_node(uint64_t base, uint64_t size, int nid);

  // Top-down allocation of `size` bytes aligned to `align` within
  // [min_addr, max_addr) on node nid (NUMA_NO_NODE: any); reserves it.
  // Returns 0 on failure (address 0 is never handed out).
  uint64_t alloc_range(uint64_t size, uint64_t align, uint64_t min_addr, uint64_t max_addr, int nid);

  bool is_memory(uint64_t base, uint64_t size) const;       // wholly inside memory
  bool overlaps_reserved(uint64_t base, uint64_t size) const;

  // Free ranges: memory minus reserved, in ascending address order.
  // Callback returns false to stop.
  template <typename F>
  void for_each_free_range(F&& f) const;

  const MemblockType& memory() const { return memory_; }
  const MemblockType& reserved() const { return reserved_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;
  uint64_t start_of_dram() const { return memory_.cnt ? memory_.regions[0].base : 0; }
  uint64_t end_of_dram() const { return memory_.cnt ? memory_.regions[memory_.cnt - 1].end() : 0; }

 private:
  static bool add_range(MemblockType& t, uint64_t base, uint64_t size, int nid);
  static bool remove_range(MemblockType& t, uint64_t base, uint64_t size);
  static bool isolate(MemblockType& t, uint64_t base, uint64_t end);
  static bool insert_at(MemblockType& t, unsigned idx, uint64_t base, uint64_t size, int nid);
  static void remove_at(MemblockType& t, unsigned idx);
  static void merge(MemblockType& t, bool by_node);

  MemblockType memory_;
  MemblockType reserved_;
};

template <typename F>
void Memblock::for_each_free_range(F&& f) const {
  for (unsigned mi = 0; mi < memory_.cnt; ++mi) {
    const MemblockRegion& m = memory_.regions[mi];
    uint64_t cur = m.base;
    for (unsigned ri = 0; ri < reserved_.cnt && cur < m.end(); ++ri) {
      const MemblockRegion& r = reserved_.regions[ri];
      if (r.end() <= cur) continue;
      if (r.base >= m.end()) break;
      if (r.base > cur && !f(cur, r.base, m.nid)) return;
      cur = r.end();
    }
    if (cur < m.end() && !f(cur, m.end(), m.nid)) return;
  }
}

}  // namespace fw
