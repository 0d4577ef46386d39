#include "sw/mm/vmscan.h"

#include "sw/mm/compaction.h"
#include "sw/mm/internal.h"
#include "sw/mm/lru.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

// ---------------------------------------------------------------- Vmscan

// Nothing is reclaimed yet: the LRU lists are not scanned.
uint64_t Vmscan::try_to_free_pages(hal::Hal&, gfp_t, unsigned, const alloc_context&) { return 0; }

uint64_t Vmscan::reclaim_pages(hal::Hal& h, list_head* pages) {
  while (!list_empty(pages)) {
    page* p = list_first_entry(pages, page, lru);
    list_del(&p->lru);
    ctx_->lru->putback(h, p);
  }
  return 0;
}

uint64_t Vmscan::zone_reclaimable_pages(const zone* z) const {
  uint64_t nr = z->vm_stat[NR_ZONE_INACTIVE_FILE] + z->vm_stat[NR_ZONE_ACTIVE_FILE];
  if (ctx_->swapfile->nr_swap_pages()) nr += z->vm_stat[NR_ZONE_INACTIVE_ANON] + z->vm_stat[NR_ZONE_ACTIVE_ANON];
  return nr;
}

// ---------------------------------------------------------------- kswapd

bool Kswapd::pgdat_balanced(const pglist_data& pg, unsigned order, unsigned highest_zoneidx) const {
  // Balanced when any usable zone meets its high watermark (boost included).
  bool any = false;
  for (unsigned zi = 0; zi <= highest_zoneidx && zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (!z->managed_pages) continue;
    any = true;
    if (ctx_->watermark->zone_watermark_ok(z, order, Watermark::high_wmark_pages(z), highest_zoneidx, 0)) return true;
  }
  return !any;
}

void Kswapd::wakeup_kswapd(hal::Hal& h, zone* z, gfp_t gfp, unsigned order, unsigned highest_zoneidx) {
  if (!z->managed_pages) return;
  pglist_data& pg = *z->zone_pgdat;
  pg.kswapd_highest_zoneidx = pg.kswapd_wait ? max(pg.kswapd_highest_zoneidx, highest_zoneidx) : highest_zoneidx;
  if (pg.kswapd_order < order) pg.kswapd_order = order;
  if (pg.kswapd_wait) return;  // already woken
  bool boosted = false;
  for (unsigned zi = 0; zi <= highest_zoneidx && zi < MAX_NR_ZONES; ++zi)
    if (pg.node_zones[zi].watermark_boost) boosted = true;
  // A hopeless or balanced node: maybe memory is just fragmented, which
  // is kcompactd's business (only for requests that cannot compact themselves).
  const bool balanced = pgdat_balanced(pg, order, highest_zoneidx);
  if (balanced) pg.kswapd_failures = 0;  // memory came back
  if (pg.kswapd_failures >= MAX_RECLAIM_RETRIES || (balanced && !boosted)) {
    if (!(gfp & __GFP_DIRECT_RECLAIM)) ctx_->compaction->wakeup_kcompactd(h, pg, order, highest_zoneidx);
    return;
  }
  pg.kswapd_wait = true;
  ++stats_.wakeups;
  ctx_->vmstat->count(KSWAPD_WAKE);
}

bool Kswapd::end_boost(hal::Hal& h, pglist_data& pg) {
  bool boosted = false;
  for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
    zone& z = pg.node_zones[zi];
    if (!z.watermark_boost) continue;
    boosted = true;
    z.watermark_boost = 0;
    ++stats_.boosts_cleared;
  }
  if (boosted) ctx_->compaction->wakeup_kcompactd(h, pg, pageblock_order, pg.nr_zones ? pg.nr_zones - 1 : 0);
  return boosted;
}

void Kswapd::run(hal::Hal& h, pglist_data& pg) {
  pg.kswapd_wait = false;
  ++stats_.runs;
  ctx_->vmstat->count(PAGEOUTRUN);
  const unsigned order = pg.kswapd_order;
  const unsigned highest = pg.kswapd_highest_zoneidx < MAX_NR_ZONES ? pg.kswapd_highest_zoneidx : MAX_NR_ZONES - 1;
  pg.kswapd_order = 0;
  pg.kswapd_highest_zoneidx = 0;
  bool boosted = false;
  for (unsigned zi = 0; zi <= highest; ++zi) {
    zone& z = pg.node_zones[zi];
    if (z.watermark_boost) {
      boosted = true;
      z.watermark_boost = 0;
      ++stats_.boosts_cleared;
    }
  }
  // Nothing to reclaim: a node still below its high watermarks failed.
  bool balanced = false;
  for (unsigned zi = 0; zi <= highest; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (z->managed_pages && ctx_->watermark->zone_watermark_ok(z, 0, z->_watermark[WMARK_HIGH], highest, 0)) balanced = true;
  }
  if (balanced) pg.kswapd_failures = 0;
  else ++pg.kswapd_failures;
  // Boosted reclaim ends by asking kcompactd for whole pageblocks; a
  // high-order wakeup asks for its order.
  if (boosted) ctx_->compaction->wakeup_kcompactd(h, pg, pageblock_order, highest);
  if (order) ctx_->compaction->wakeup_kcompactd(h, pg, order, highest);
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<KswapdStats> kswapd_stat_table[] = {
    {"wakeups", &KswapdStats::wakeups, "kswapd wakeups", "count"},
    {"runs", &KswapdStats::runs, "kswapd runs", "count"},
    {"boosts_cleared", &KswapdStats::boosts_cleared, "zone watermark boosts cleared by kswapd", "count"},
};
static_assert(stat_table_size(kswapd_stat_table) == sizeof(KswapdStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Kswapd::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, kswapd_stat_table);
}

}  // namespace fw
