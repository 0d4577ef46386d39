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

  // The allocator's direct compaction (Linux __alloc_pages_direct_compact).
  page* direct_compact(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags, const alloc_context& ac,
                       compact_priority prio, compact_result* result);
  compact_result try_to_compact_pages(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                      const alloc_context& ac, compact_priority prio);
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
  bool kcompactd_node_suitable(const pglist_data& pg) const;

  compact_result compaction_suit_allocation_order(const zone* z, unsigned order, unsigned highest_zoneidx,
                                                  unsigned alloc_flags, bool async) const;
  bool compaction_suitable(const zone* z, unsigned order, uint64_t watermark, unsigned highest_zoneidx) const;
  bool compaction_deferred(zone* z, unsigned order);
  void defer_compaction(zone* z, unsigned order);
  void compaction_defer_reset(zone* z, unsigned order, bool alloc_success);
  static void reset_isolation_suitable(zone* z);

  // Linux vmstat.c: -1000 (would succeed) or 0 (lack of memory) .. 1000 (fragmentation).
  static int fragmentation_index(const zone* z, unsigned order);
  // Percentage of free memory not in blocks of `order` or larger.
  static unsigned extfrag_for_order(const zone* z, unsigned order);
  static unsigned fragmentation_score_node(const pglist_data& pg);
  unsigned fragmentation_score_wmark(bool low) const;

  const CompactionStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  enum isolate_result { ISOLATE_ABORT, ISOLATE_NONE, ISOLATE_SUCCESS };
  isolate_result isolate_migratepages(hal::Hal& h, compact_control* cc);
  void isolate_migratepages_block(hal::Hal& h, compact_control* cc, uint64_t low_pfn, uint64_t end_pfn);
  void isolate_freepages(hal::Hal& h, compact_control* cc);
  void fast_isolate_freepages(hal::Hal& h, compact_control* cc);
  void fast_isolate_around(hal::Hal& h, compact_control* cc, uint64_t pfn);
  uint64_t isolate_freepages_block(hal::Hal& h, compact_control* cc, uint64_t* start_pfn, uint64_t end_pfn,
                                   unsigned stride);
  compact_result compact_finished(compact_control* cc);
  void release_freepages(hal::Hal& h, compact_control* cc);
  bool suitable_migration_target(const compact_control* cc, uint64_t block_pfn) const;
  bool suitable_migration_source(const compact_control* cc, uint64_t block_pfn) const;
  static page* compaction_alloc(hal::Hal& h, page* src, void* priv);
  static void compaction_free(hal::Hal& h, page* dst, void* priv);
  void init_cc(compact_control* cc, zone* z) const;

  MmContext* ctx_ = nullptr;
  CompactionStats stats_;
};

}  // namespace fw
