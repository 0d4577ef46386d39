// Page isolation and contiguous ranges (Linux mm/page_isolation.c and
// alloc_contig_range in mm/page_alloc.c). Isolating a pageblock sets its
// migrate type to MIGRATE_ISOLATE and moves its free pages to the ISOLATE
// lists, where no allocation finds them and pages freed later land too
// (they leave NR_FREE_PAGES). It fails when the block holds unmovable
// pages. alloc_contig_range isolates a range, migrates its movable pages
// out, checks that every page is free, takes them off the lists as
// order-0 pages and undoes the isolation: what cma_alloc and gigantic
// hugetlb pages build on.
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

  // Isolates every pageblock of [start, end) (pageblock-aligned) (Linux
  // start_isolate_page_range). Returns 0, or -EBUSY with nothing left
  // isolated. mt: the type the range has (CMA ranges may be isolated whatever
  // they hold).
  int start_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt);
  void undo_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt);
  // Returns 0 when every page of the isolated range is free, -EBUSY otherwise
  // (Linux test_pages_isolated).
  int test_pages_isolated(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn);

  // Hands out [start, end) as order-0 pages of refcount 1, migrating what is
  // in the way (Linux alloc_contig_range). Returns 0, -EBUSY or -ENOMEM.
  int alloc_contig_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt, gfp_t gfp);
  void free_contig_range(hal::Hal& h, uint64_t pfn, uint64_t nr_pages);
  // Returns a naturally aligned run of nr_pages (a power of two) as order-0
  // pages of refcount 1, within one zone no higher than max_zone of node nid
  // (any node when nid < 0), from the top of the zone down (Linux
  // alloc_contig_pages); nullptr when no range could be emptied.
  page* alloc_contig_pages(hal::Hal& h, uint64_t nr_pages, int nid, unsigned max_zone);

  const IsolationStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns true when the pageblock holds pages that cannot be migrated for a
  // range of type mt (Linux has_unmovable_pages).
  bool has_unmovable_pages(zone* z, uint64_t block_pfn, unsigned mt);
  // Isolates one pageblock (Linux set_migratetype_isolate). Returns 0, or
  // -EBUSY when it holds unmovable pages.
  int set_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt);
  void unset_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt);
  // Migrates the in-use movable pages of [start, end) away, splitting THPs in
  // the way (Linux __alloc_contig_migrate_range). Returns 0, -EBUSY (pages
  // kept failing) or -ENOMEM.
  int migrate_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn);
  // Takes the free blocks covering [start, end) off the lists as order-0
  // pages (Linux isolate_freepages_range); *outer_start is the first block's
  // head. Returns the end pfn reached, or 0 (nothing taken) when a page is
  // not free.
  uint64_t isolate_freepages_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn, uint64_t* outer_start);
  // Returns true when [start, start + nr_pages) lies in z and holds nothing
  // alloc_contig_range could not move (Linux pfn_range_valid_contig).
  bool range_valid_contig(zone* z, uint64_t start_pfn, uint64_t nr_pages);

  MmContext* ctx_ = nullptr;
  IsolationStats stats_;
};

}  // namespace fw
