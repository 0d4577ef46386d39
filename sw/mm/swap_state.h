// The swap cache (Linux mm/swap_state.c): anonymous pages on their way to
// or from a swap slot, found by swap entry (PG_swapcache, page->private_
// holds the entry). Reclaim adds a page before unmapping it and removes it
// (leaving a workingset shadow) once written; the fault path finds pages
// here before reading the slot. Users: sw/mm/vmscan, sw/mm/memory,
// sw/mm/madvise.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/page.h"
#include "sw/mm/swap.h"

namespace fw {

class SwapCache {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Gives the locked anonymous page p a swap slot and puts it in the swap
  // cache, dirty (Linux folio_alloc_swap + add_to_swap_cache). Returns false
  // when no slot is free (or p is a compound page: the caller splits it).
  bool add_to_swap(hal::Hal& h, page* p);
  // Starts writing the swap-cache page p to its slot (Linux pageout ->
  // swap_writepage): PG_writeback until the write completes. Returns 0 or
  // -errno (the page stays dirty).
  int swap_writepage(hal::Hal& h, page* p);
  // Takes the clean, unmapped page p out of the swap cache, leaving shadow
  // (from Workingset::eviction, 0 for none) in its place, and drops the
  // cache's hold on the slot (Linux __delete_from_swap_cache +
  // put_swap_folio). The caller owns the cache's page reference after.
  void delete_from_swap_cache(hal::Hal& h, page* p, uint64_t shadow);

 private:
  MmContext* ctx_ = nullptr;
};

}  // namespace fw
