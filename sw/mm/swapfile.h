// Swap areas (Linux mm/swapfile.c): block devices used whole as swap
// (firmware.swapon), their slots and the per-slot reference counts (the
// swap map: one per PTE holding the entry, plus SWAP_HAS_CACHE while the
// swap cache holds the page). Users: reclaim (how much swap is free,
// references taken when PTEs become swap entries), the fault path and every
// page-table walker (references dropped), /proc/swaps and meminfo.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/swap.h"

namespace fw {

class Swapfile {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Slots free in every area (Linux nr_swap_pages; get_nr_swap_pages).
  uint64_t nr_swap_pages() const { return nr_swap_pages_; }
  // Slots of every area (Linux total_swap_pages).
  uint64_t total_swap_pages() const { return total_swap_pages_; }

  // One more PTE holds entry e (try_to_unmap, fork). Returns 0, or -ENOENT
  // when e names no slot in use.
  int swap_duplicate(hal::Hal& h, swp_entry_t e);
  // A PTE holding e went (zap, swap-in): drops its reference; the slot is
  // freed with the last one (Linux swap_free / free_swap_and_cache).
  void swap_free(hal::Hal& h, swp_entry_t e);

 private:
  MmContext* ctx_ = nullptr;
  uint64_t nr_swap_pages_ = 0;
  uint64_t total_swap_pages_ = 0;
};

}  // namespace fw
