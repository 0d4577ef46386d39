// The swap cache (Linux mm/swap_state.c): anonymous pages on their way to
// or from a swap slot, found by swap entry (PG_swapcache, page->private_
// holds the entry). Reclaim adds a page before unmapping it and removes it
// (leaving a workingset shadow) once written; the fault path finds pages
// here before reading the slot, and reads a cluster of slots around a
// missing one (swapin_readahead). The pages sit in their cluster's table
// (sw/mm/swapfile.h), each holding a reference; they count in
// NR_SWAPCACHE (meminfo SwapCached) and, as on Linux, NR_FILE_PAGES.
// Users: sw/mm/vmscan, sw/mm/memory, sw/mm/madvise, sw/mm/migrate.
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

  // Returns the swap-cache page of e with a reference, or nullptr (Linux
  // swap_cache_get_folio); a page read ahead counts a readahead hit.
  page* lookup(hal::Hal& h, swp_entry_t e);
  // Returns the page for e with a reference, reading it and up to
  // 2^page_cluster - 1 neighbouring slots into the swap cache first when it
  // is not there (Linux swapin_readahead -> swap_cluster_readahead); the
  // page may still be locked (read in flight). nullptr: the slot was freed
  // meanwhile, or no memory.
  page* swapin_readahead(hal::Hal& h, swp_entry_t e);
  // Waits until p's read finished. Returns 0, or -EIO when it failed.
  int wait_on_read(hal::Hal& h, page* p);
  // Drops p from the swap cache and frees its slot when no PTE refers to
  // the slot any more and p is not under I/O (Linux folio_free_swap). The
  // caller holds its own reference. Returns true when it did.
  bool folio_free_swap(hal::Hal& h, page* p);
  // Migration moved src's contents to dst: dst takes src's place in the
  // swap cache (Linux folio_migrate_mapping for the swap cache).
  void replace_page(hal::Hal& h, page* src, page* dst);

 private:
  // The page for e from the cache, or a new locked one added to it (its
  // read not started: *allocated set). nullptr: e's slot is free, or no
  // memory (Linux __read_swap_cache_async).
  page* read_swap_cache_async(hal::Hal& h, swp_entry_t e, bool* allocated);
  // Puts p (locked, or being added by reclaim) in e's slot of the cache,
  // with the cache's reference taken from the caller's. Returns the shadow
  // the slot held (0 for none).
  uint64_t add_to_swap_cache(hal::Hal& h, page* p, swp_entry_t e);
  // Returns how many slots to read around offset (Linux swapin_nr_pages).
  uint64_t swapin_nr_pages(uint64_t offset);

  MmContext* ctx_ = nullptr;
  // swapin_nr_pages' memory (Linux keeps it in statics): the last offset
  // read without hits, the hits since, the last window.
  uint64_t prev_offset_ = 0;
  uint64_t ra_hits_ = 0;
  uint64_t last_ra_pages_ = 0;
};

}  // namespace fw
