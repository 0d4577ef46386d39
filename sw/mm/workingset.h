// Workingset detection (Linux mm/workingset.c, classic LRU): when reclaim
// evicts a page it leaves a shadow entry (the node's eviction clock, the
// page's node and whether it was in the workingset) in the page's slot of
// the page cache or swap cache; a refault reads the shadow and, when the
// refault distance (evictions and activations since) fits in the pages
// the refaulting type competes with (workingset_test_recent), activates
// the page at once. The clock is the node's nonresident_age, aged by
// evictions and activations (sw/mm/lru). Users: reclaim (eviction), the
// page cache (sw/mm/filemap) and the swap cache (refault).
//
// The shadow-node shrinker ("mm-shadow", sw/mm/shrinker): leaves of the
// page cache's trees holding only shadows count in workingset_nodes; above
// node_present_pages >> 6 of them (Linux's bound of pages >> 3 for its
// 64-slot nodes, kept for our 512-slot ones: a worst-case density of 1/8
// still covers every page the node could cache) the excess is freed,
// counting workingset_nodereclaim. Swap-cache shadows live in the swap
// table's clusters and go with them (6.18's swap table), not through the
// shrinker.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"
#include "sw/mm/shrinker.h"

namespace fw {

class Workingset {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // After the page allocator knows the memory's size: the clock's
  // granularity (Linux workingset_init, with its log line).
  void boot_init(hal::Hal& h);

  // p is being evicted from its node's LRU. Returns the shadow entry to
  // store in its place (nonzero, bit 0 set: never a page pointer).
  uint64_t eviction(hal::Hal& h, page* p);
  // p, newly allocated for a slot that held shadow, is being read back:
  // counts workingset_refault_*, and sets PG_active (activate) and
  // PG_workingset (restore) as the refault distance says.
  void refault(hal::Hal& h, page* p, uint64_t shadow);
  // Returns true when the page evicted with shadow was recently used
  // enough to activate on refault; *workingset: it was in the workingset
  // when evicted (Linux workingset_test_recent).
  bool test_recent(uint64_t shadow, bool file, bool* workingset) const;

  // Returns the shadow-only leaves of node nid beyond what the node needs
  // (0 up to the bound), SHRINK_EMPTY when there are none (Linux
  // count_shadow_nodes).
  uint64_t count_shadow_nodes(int nid) const;
  // Frees up to nr_to_scan shadow-only leaves of node nid, file by file.
  // Returns how many (Linux scan_shadow_nodes).
  uint64_t scan_shadow_nodes(hal::Hal& h, int nid, uint64_t nr_to_scan);

  // Shadow-only leaves a node may keep: its present pages >> kShadowNodeShift.
  static constexpr unsigned kShadowNodeShift = 9 - 3;
  // Leaves per scan_objects call: Linux's 128 nodes of 64 slots, in our 512-slot leaves.
  static constexpr uint64_t kShadowBatch = SHRINK_BATCH / 8;

 private:
  MmContext* ctx_ = nullptr;
  shrinker shadow_shrinker_ = {};
  unsigned bucket_order_ = 0;
};

}  // namespace fw
