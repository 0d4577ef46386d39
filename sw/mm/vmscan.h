// kswapd, the per-node background hook (Linux mm/vmscan.c wakeup_kswapd,
// balance_pgdat). An allocation that finds a zone below its low watermark,
// or a fragmenting fallback that boosted a zone's watermarks, wakes its
// node's kswapd. There is no page cache or swap to reclaim yet: a kswapd
// run counts the node as unreclaimable while it stays below the high
// watermark, clears watermark boosts and wakes kcompactd (pageblock order
// after a boost, the waking request's order otherwise), which is how
// Linux's boosted reclaim ends. Runs as deferred work from a timer tick of
// a CPU of the node.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"
#include "sw/mm/mmzone.h"

namespace fw {

constexpr unsigned MAX_RECLAIM_RETRIES = 16;

struct alloc_context;
struct list_head;

// Reclaim proper (Linux mm/vmscan.c shrink_node and its callers): what the
// allocator's slow path, madvise and kswapd ask of it.
class Vmscan {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  // Direct reclaim for an allocation of 2^order pages that failed below
  // the min watermark (Linux try_to_free_pages). Returns the pages reclaimed.
  uint64_t try_to_free_pages(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac);
  // MADV_PAGEOUT: reclaims the isolated pages on `pages` (linked by
  // page->lru, each holding the isolation reference), putting back what
  // cannot be reclaimed (Linux reclaim_pages). Returns the pages reclaimed.
  uint64_t reclaim_pages(hal::Hal& h, list_head* pages);
  // Returns the pages of z reclaim could free: file LRU pages, and
  // anonymous ones while swap has room (Linux zone_reclaimable_pages).
  uint64_t zone_reclaimable_pages(const zone* z) const;

 private:
  MmContext* ctx_ = nullptr;
};

struct KswapdStats {
  uint64_t wakeups = 0;
  uint64_t runs = 0;
  uint64_t boosts_cleared = 0;
};

class Kswapd {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }

  void wakeup_kswapd(hal::Hal& h, zone* z, gfp_t gfp, unsigned order, unsigned highest_zoneidx);
  // balance_pgdat's firmware equivalent.
  void run(hal::Hal& h, pglist_data& pg);
  // Returns true when a usable zone of the node up to highest_zoneidx meets
  // its high watermark for order (or none is usable) (Linux pgdat_balanced).
  bool pgdat_balanced(const pglist_data& pg, unsigned order, unsigned highest_zoneidx) const;
  // The direct path's share of kswapd's work: Linux's direct reclaim would
  // reclaim up to the boosted watermarks; with nothing to reclaim the boost
  // ends at once (and kcompactd is asked for pageblocks). True when a
  // boost was cleared.
  bool end_boost(hal::Hal& h, pglist_data& pg);

  const KswapdStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  MmContext* ctx_ = nullptr;
  KswapdStats stats_;
};

}  // namespace fw
