// The contiguous memory allocator (Linux mm/cma.c). At boot a CMA area is
// reserved from memblock (aligned to max(MAX_ORDER_NR_PAGES, pageblock),
// within one zone, top-down); once the page allocator runs, its pageblocks
// become MIGRATE_CMA and its pages are freed into the buddy lists, where
// only movable allocations may use them (ALLOC_CMA; a movable request takes
// CMA first when more than half of the zone's free memory is CMA).
// cma_alloc finds a free stretch of the area's bitmap and claims it with
// alloc_contig_range, which migrates the movable pages out; cma_release
// gives the pages back.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

class Memblock;

struct CmaStats {
  uint64_t alloc_success = 0;
  uint64_t alloc_failed = 0;
  uint64_t alloc_retries = 0;   // stretches that were busy, next one tried
  uint64_t pages_allocated = 0; // now
  uint64_t release = 0;
};

class Cma {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Boot, while memblock allocates: reserves `bytes` (0: no area). Returns
  // false (after logging) when memblock has no room.
  bool declare(hal::Hal& h, Memblock& mb, uint64_t bytes);
  // Boot, after the page allocator: the area's pages go to the buddy lists as
  // MIGRATE_CMA (Linux cma_activate_area). Returns true.
  bool activate(hal::Hal& h);

  // Returns a 2^align_order-aligned run of `count` pages with refcount 1, or
  // nullptr when none could be emptied (Linux cma_alloc).
  page* cma_alloc(hal::Hal& h, uint64_t count, unsigned align_order);
  // Gives pages from cma_alloc back (Linux cma_release). Returns false when
  // they are not in the area.
  bool cma_release(hal::Hal& h, page* pages, uint64_t count);

  bool present() const { return count_ != 0; }
  uint64_t base_pfn() const { return base_pfn_; }
  uint64_t count() const { return count_; }
  bool contains(uint64_t pfn) const { return pfn - base_pfn_ < count_; }
  const CmaStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  bool bit(uint64_t i) const { return (bitmap_[i / 64] >> (i % 64)) & 1; }
  void set_bits(uint64_t start, uint64_t n, bool v);

  MmContext* ctx_ = nullptr;
  uint64_t base_pfn_ = 0;
  uint64_t count_ = 0;
  uint64_t* bitmap_ = nullptr;  // one bit per page: handed out by cma_alloc
  CmaStats stats_;
};

}  // namespace fw
