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
