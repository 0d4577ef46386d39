// The page allocator (Linux mm/page_alloc.c): a binary buddy system per
// zone, orders 0..MAX_PAGE_ORDER, free lists per order and migrate type.
// Allocation takes the smallest free block that fits and splits it
// (expand); freeing merges a block with its buddy as long as the buddy is
// free and of the same order. Zones are tried in the zonelist order of the
// preferred node, from the highest zone the GFP flags allow.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"

namespace fw {

struct BuddyStats {
  uint64_t alloc_calls = 0;     // successful allocations
  uint64_t alloc_failed = 0;
  uint64_t free_calls = 0;      // blocks given back
  uint64_t splits = 0;          // blocks halved by expand()
  uint64_t merges = 0;          // buddy pairs joined on free
  uint64_t boot_free_pages = 0; // free pages when boot finished
  uint64_t min_free_pages = 0;  // lowest free count since boot finished
  uint64_t alloc_order[NR_PAGE_ORDERS] = {};
};

// Highest zone a request may use (Linux gfp_zone for x86-64).
unsigned gfp_zone(gfp_t gfp);
unsigned gfp_migratetype(gfp_t gfp);

class Buddy {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Boot: gives [start_pfn, end_pfn) (free RAM of one zone) to the
  // allocator in the largest aligned blocks (Linux __free_pages_memory).
  void free_boot_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn);
  // Boot finished: the free count now is the reference for leaks.
  void boot_done();

  // nid: preferred node, NUMA_NO_NODE for the calling CPU's node.
  // Returns the first page of a 2^order block with refcount 1, or nullptr.
  page* alloc_pages(hal::Hal& h, gfp_t gfp, unsigned order, int nid = -1);
  // Drops the reference of a block from alloc_pages; frees it at zero.
  void free_pages(hal::Hal& h, page* p, unsigned order);

  // Physical-address conveniences: 0 on failure.
  uint64_t alloc_phys(hal::Hal& h, gfp_t gfp, unsigned order, int nid = -1);
  void free_phys(hal::Hal& h, uint64_t pa, unsigned order);

  uint64_t nr_free_pages() const { return free_pages_; }
  uint64_t nr_free_blocks(unsigned order) const;
  const BuddyStats& stats() const { return stats_; }

  // The migrate type of the pageblock holding pfn. Every block is MOVABLE
  // until issue 3 adds the pageblock bitmap.
  unsigned get_pageblock_migratetype(uint64_t pfn) const {
    (void)pfn;
    return MIGRATE_MOVABLE;
  }

 private:
  page* rmqueue(zone* z, unsigned order, unsigned mt);
  page* rmqueue_smallest(zone* z, unsigned order, unsigned mt);
  void expand(zone* z, page* p, unsigned low, unsigned high, unsigned mt);
  void free_one_page(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt);
  bool page_is_buddy(const zone* z, const page* p, const page* buddy, uint64_t buddy_pfn, unsigned order) const;
  void add_to_free_list(page* p, zone* z, unsigned order, unsigned mt);
  void del_from_free_list(page* p, zone* z, unsigned order);
  bool check_free(hal::Hal& h, page* p, unsigned order);
  void prep_new_page(hal::Hal& h, page* p, unsigned order);
  void account_free(zone* z, int64_t delta);

  MmContext* ctx_ = nullptr;
  uint64_t free_pages_ = 0;
  bool booted_ = false;
  unsigned fail_reports_ = 0;
  BuddyStats stats_;
};

}  // namespace fw
