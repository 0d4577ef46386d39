// Memory compaction (Linux mm/compaction.c). Two scanners walk a zone by
// pageblocks: the migration scanner up from the zone's start isolating
// movable pages (anonymous pages on the LRU), the free scanner down from its
// end isolating free pages as targets; the pages are migrated (contents
// copied, every mapping updated) until the scanners meet or a free block of
// the wanted order exists. Pageblocks where nothing could be isolated get a
// skip hint; where each scanner stopped is cached per zone.
//
// Callers: the allocator's direct path (try_to_compact_pages, by order,
// async first then sync-light then sync-full, with Linux's deferral after
// failures), kcompactd (per node, woken by kswapd after boosting or a
// high-order request, and proactively when the node's fragmentation score
// passes the compaction_proactiveness watermark), compact_memory (whole
// zones), and CMA through alloc_contig_range.
//
// The firmware has no threads: kswapd and kcompactd are per-node work run
// from timer ticks (Kernel::timer_tick -> run_deferred_work), on the first
// CPU of the node (CPU 0 for nodes without CPUs); kcompactd's proactive
// check runs every 500 ms of simulated time (HPAGE_FRAG_CHECK_INTERVAL_MSEC).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/internal.h"
#include "sw/mm/mmzone.h"

namespace fw {

constexpr unsigned COMPACT_CLUSTER_MAX = 32;  // SWAP_CLUSTER_MAX
constexpr unsigned COMPACT_MAX_DEFER_SHIFT = 6;
constexpr unsigned COMPACTION_HPAGE_ORDER = 9;  // HPAGE_PMD_ORDER
constexpr uint64_t HPAGE_FRAG_CHECK_INTERVAL_NS = 500000000ull;

struct compact_control {
  list_head freepages[NR_PAGE_ORDERS];  // isolated free blocks (refcount 0), by order
  list_head migratepages;               // isolated pages to migrate
  uint64_t nr_freepages;
  uint64_t nr_migratepages;
  uint64_t free_pfn;     // where the free scanner goes on (down)
  uint64_t migrate_pfn;  // where the migration scanner goes on (up)
  uint64_t total_migrate_scanned;
  uint64_t total_free_scanned;
  zone* z;
  gfp_t gfp_mask;
  int order;             // -1: compact the whole zone
  int search_order;      // fast free-list search: the order to start at
  unsigned fast_search_fail;  // fast searches that found nothing in a row
  unsigned migratetype;  // of the request
  unsigned alloc_flags;
  unsigned highest_zoneidx;
  migrate_mode mode;
  bool ignore_skip_hint;
  bool no_set_skip_hint;
  bool ignore_block_suitable;
  bool direct_compaction;
  bool proactive_compaction;
  bool whole_zone;
  MmContext* ctx;
};

struct CompactionStats {
  uint64_t zone_runs = 0;       // compact_zone calls that scanned
  uint64_t direct_runs = 0;
  uint64_t deferred = 0;        // zones skipped because compaction was deferred there
  uint64_t kcompactd_runs = 0;
  uint64_t proactive_runs = 0;
  uint64_t result[COMPACT_SUCCESS + 1] = {};
};

class Compaction {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // The allocator's direct compaction (Linux __alloc_pages_direct_compact):
  // compacts the zonelist, then allocates. Returns the page, or nullptr
  // (always for order 0); *result says how compaction went.
  page* direct_compact(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags, const alloc_context& ac,
                       compact_priority prio, compact_result* result);
  // Compacts each zone of ac's zonelist not deferred (Linux
  // try_to_compact_pages). Returns the best result: COMPACT_SUCCESS when a
  // zone made the block, COMPACT_SKIPPED when none could.
  compact_result try_to_compact_pages(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                      const alloc_context& ac, compact_priority prio);
  // Runs both scanners over cc->z until compact_finished says so (Linux
  // compact_zone). Returns COMPACT_SUCCESS (the block exists),
  // COMPACT_COMPLETE (the scanners met), COMPACT_PARTIAL_SKIPPED or
  // COMPACT_SKIPPED.
  compact_result compact_zone(hal::Hal& h, compact_control* cc);
  // vm.compact_memory: every zone of every node, whole.
  void compact_nodes(hal::Hal& h);
  // Every zone of one node, whole; proactive: kcompactd's lighter, counted
  // pass (Linux compact_node).
  void compact_node(hal::Hal& h, pglist_data& pg, bool proactive);

  // kcompactd.
  void wakeup_kcompactd(hal::Hal& h, pglist_data& pg, unsigned order, unsigned highest_zoneidx);
  void kcompactd_do_work(hal::Hal& h, pglist_data& pg);
  // The periodic part: proactive compaction when the score is high.
  void kcompactd_tick(hal::Hal& h, pglist_data& pg);
  // Returns true when a zone of the node up to kcompactd_highest_zoneidx
  // needs compaction for kcompactd_max_order (Linux kcompactd_node_suitable).
  bool kcompactd_node_suitable(const pglist_data& pg) const;

  // Returns COMPACT_SUCCESS when z already meets the watermark for order,
  // COMPACT_SKIPPED when compaction could not help (too few free pages),
  // COMPACT_CONTINUE when it should run (Linux
  // compaction_suit_allocation_order).
  compact_result compaction_suit_allocation_order(const zone* z, unsigned order, unsigned highest_zoneidx,
                                                  unsigned alloc_flags, bool async) const;
  // Returns true when z has enough free order-0 pages above watermark for
  // compaction to make an order block, and the failure is fragmentation
  // rather than lack of memory (Linux compaction_suitable).
  bool compaction_suitable(const zone* z, unsigned order, uint64_t watermark, unsigned highest_zoneidx) const;
  // Returns true when compaction of z for order should be skipped this time
  // (Linux compaction_deferred; counts the skip).
  bool compaction_deferred(zone* z, unsigned order);
  void defer_compaction(zone* z, unsigned order);
  void compaction_defer_reset(zone* z, unsigned order, bool alloc_success);
  static void reset_isolation_suitable(zone* z);

  // Linux vmstat.c: -1000 (would succeed) or 0 (lack of memory) .. 1000 (fragmentation).
  static int fragmentation_index(const zone* z, unsigned order);
  // Percentage of free memory not in blocks of `order` or larger.
  static unsigned extfrag_for_order(const zone* z, unsigned order);
  // Returns the node's fragmentation score, 0..100: its zones'
  // extfrag_for_order(HPAGE_PMD_ORDER) weighted by their size (Linux
  // fragmentation_score_node).
  static unsigned fragmentation_score_node(const pglist_data& pg);
  // Returns the score proactive compaction starts above (high) or stops below
  // (low), from compaction_proactiveness.
  unsigned fragmentation_score_wmark(bool low) const;

  const CompactionStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  enum isolate_result { ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS };
  // Isolates the movable pages of the next suitable pageblock (Linux
  // isolate_migratepages). Returns ISOLATE_SUCCESS when some were isolated,
  // ISOLATE_NONE otherwise.
  isolate_result isolate_migratepages(hal::Hal& h, compact_control* cc);
  void isolate_migratepages_block(hal::Hal& h, compact_control* cc, uint64_t low_pfn, uint64_t end_pfn);
  void isolate_freepages(hal::Hal& h, compact_control* cc);
  void fast_isolate_freepages(hal::Hal& h, compact_control* cc);
  void fast_isolate_around(hal::Hal& h, compact_control* cc, uint64_t pfn);
  // Takes the free blocks of [*start_pfn, end_pfn) as migration targets,
  // stopping once there are as many as pages to migrate (Linux
  // isolate_freepages_block); *start_pfn moves past what was scanned. Returns
  // the pages isolated.
  uint64_t isolate_freepages_block(hal::Hal& h, compact_control* cc, uint64_t* start_pfn, uint64_t end_pfn,
                                   unsigned stride);
  // Returns COMPACT_CONTINUE while the scanners should go on, else why they
  // stop: COMPACT_SUCCESS (a suitable free block exists), COMPACT_COMPLETE or
  // COMPACT_PARTIAL_SKIPPED (Linux compact_finished).
  compact_result compact_finished(compact_control* cc);
  void release_freepages(hal::Hal& h, compact_control* cc);
  // Returns true when the pageblock may give free pages to compaction
  // (movable or CMA, no large free block already).
  bool suitable_migration_target(const compact_control* cc, uint64_t block_pfn) const;
  // Returns true when the pageblock's pages may be migrated (async direct
  // compaction: only blocks of the request's type).
  bool suitable_migration_source(const compact_control* cc, uint64_t block_pfn) const;
  // migrate_pages' target allocator: returns an isolated free page (isolating
  // more when none is left), or nullptr.
  static page* compaction_alloc(hal::Hal& h, page* src, void* priv);
  static void compaction_free(hal::Hal& h, page* dst, void* priv);
  void init_cc(compact_control* cc, zone* z) const;

  MmContext* ctx_ = nullptr;
  CompactionStats stats_;
};

}  // namespace fw
