// Page isolation and contiguous ranges (Linux mm/page_isolation.c and
// alloc_contig_range in mm/page_alloc.c). Isolating a pageblock sets its
// migrate type to MIGRATE_ISOLATE and moves its free pages to the ISOLATE
// lists, where no allocation finds them and pages freed later land too
// (they leave NR_FREE_PAGES). It fails when the block holds unmovable
// pages. alloc_contig_range isolates a range, migrates its movable pages
// out, checks that every page is free, takes them off the lists as
// order-0 pages and undoes the isolation: what cma_alloc (and gigantic
// hugetlb pages, issue 6) build on.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"

namespace fw {

struct IsolationStats {
  uint64_t isolated_blocks = 0;   // pageblocks isolated (cumulative)
  uint64_t busy_blocks = 0;       // isolation refused: unmovable pages
  uint64_t contig_success = 0;
  uint64_t contig_failed = 0;
};

class PageIsolation {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // [start, end) pageblock-aligned. 0 or -EBUSY (nothing stays isolated).
  // mt: the type the range has (CMA ranges may be isolated whatever they hold).
  int start_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt);
  void undo_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt);
  // 0 when every page of the isolated range is free, -EBUSY otherwise.
  int test_pages_isolated(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn);

  // Hands out [start, end) as order-0 pages of refcount 1, migrating what
  // is in the way. 0, -EBUSY or -ENOMEM.
  int alloc_contig_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt, gfp_t gfp);
  void free_contig_range(hal::Hal& h, uint64_t pfn, uint64_t nr_pages);
  // A naturally aligned run of nr_pages (a power of two) within one zone
  // no higher than max_zone of node nid (any node when nid < 0), from the
  // top of the zone down (Linux alloc_contig_pages): order-0 pages of
  // refcount 1, nullptr when no range could be emptied.
  page* alloc_contig_pages(hal::Hal& h, uint64_t nr_pages, int nid, unsigned max_zone);

  const IsolationStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  bool has_unmovable_pages(zone* z, uint64_t block_pfn, unsigned mt);
  int set_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt);
  void unset_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt);
  int migrate_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn);
  uint64_t isolate_freepages_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn, uint64_t* outer_start);
  bool range_valid_contig(zone* z, uint64_t start_pfn, uint64_t nr_pages);

  MmContext* ctx_ = nullptr;
  IsolationStats stats_;
};

}  // namespace fw
