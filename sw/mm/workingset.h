// Workingset detection (Linux mm/workingset.c): when reclaim evicts a page
// it leaves a shadow entry (the node's eviction clock, the page's node and
// whether it was in the workingset) in the page's slot of the page cache or
// swap cache; a refault reads the shadow and, when the refault distance
// fits in the active list, activates the page at once. Users: reclaim
// (eviction), the page cache and the swap cache (refault).
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"

namespace fw {

class Workingset {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // p is being evicted from its node's LRU. Returns the shadow entry to
  // store in its place (nonzero, bit 0 set: never a page pointer).
  uint64_t eviction(hal::Hal& h, page* p);
  // p, newly allocated for a slot that held shadow, is being read back:
  // counts workingset_refault_*, and sets PG_active (activate) and
  // PG_workingset (restore) as the refault distance says.
  void refault(hal::Hal& h, page* p, uint64_t shadow);

 private:
  MmContext* ctx_ = nullptr;
};

}  // namespace fw
