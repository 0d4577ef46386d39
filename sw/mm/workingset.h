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
// Not modelled: the shadow-node shrinker (workingset_nodes,
// workingset_nodereclaim): shadows stay until their slot is reused or the
// file is truncated or freed.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

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

 private:
  MmContext* ctx_ = nullptr;
  unsigned bucket_order_ = 0;
};

}  // namespace fw
