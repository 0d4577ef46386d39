#include "sw/mm/compaction.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/gup.h"
#include "sw/mm/lru.h"
#include "sw/mm/migrate.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pcp.h"
#include "sw/mm/shmem.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

namespace {
constexpr uint64_t compact_gap(unsigned order) { return 2ull << order; }
}  // namespace

// ---------------------------------------------------------------- indices

int Compaction::fragmentation_index(const zone* z, unsigned order) {
  uint64_t free_blocks_total = 0, free_pages = 0, free_blocks_suitable = 0;
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
    const uint64_t blocks = z->free_area[o].nr_free;
    free_blocks_total += blocks;
    free_pages += blocks << o;
    if (o >= order) free_blocks_suitable += blocks << (o - order);
  }
  if (!free_blocks_total) return 0;
  if (free_blocks_suitable) return -1000;  // only makes sense when a request would fail
  const uint64_t requested = 1ull << order;
  return static_cast<int>(1000 - (1000 + free_pages * 1000 / requested) / free_blocks_total);
}

unsigned Compaction::extfrag_for_order(const zone* z, unsigned order) {
  uint64_t free_pages = 0, suitable = 0;
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
    const uint64_t blocks = z->free_area[o].nr_free;
    free_pages += blocks << o;
    if (o >= order) suitable += blocks << (o - order);
  }
  if (!free_pages) return 0;
  return static_cast<unsigned>((free_pages - (suitable << order)) * 100 / free_pages);
}

unsigned Compaction::fragmentation_score_node(const pglist_data& pg) {
  // Each zone's score weighted by its share of the node.
  uint64_t score = 0;
  for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
    const zone& z = pg.node_zones[zi];
    if (!z.populated()) continue;
    score += z.present_pages * extfrag_for_order(&z, COMPACTION_HPAGE_ORDER) / (pg.node_present_pages + 1);
  }
  return static_cast<unsigned>(score);
}

unsigned Compaction::fragmentation_score_wmark(bool low) const {
  // Capped so that proactiveness near 100 does not compact nonstop.
  const unsigned p = ctx_->params->compaction_proactiveness;
  const unsigned wmark_low = max(100u - p, 5u);
  return low ? wmark_low : min(wmark_low + 10, 100u);
}

// ---------------------------------------------------------------- suitability and deferral

bool Compaction::compaction_suitable(const zone* z, unsigned order, uint64_t watermark, unsigned highest_zoneidx) const {
  // Enough free base pages for migration targets: the request's watermark
  // plus twice the order's size, plus the gap between the low and min
  // watermarks for costly orders (Linux __compaction_suitable).
  watermark += compact_gap(order);
  if (order > PAGE_ALLOC_COSTLY_ORDER) watermark += Watermark::low_wmark_pages(z) - Watermark::min_wmark_pages(z);
  if (!ctx_->watermark->zone_watermark_ok(z, 0, watermark, highest_zoneidx, ALLOC_CMA)) return false;
  // Costly orders only when a failure would be due to fragmentation rather
  // than to a lack of memory (vm.extfrag_threshold).
  if (order > PAGE_ALLOC_COSTLY_ORDER) {
    const int fragindex = fragmentation_index(z, order);
    if (fragindex >= 0 && fragindex <= static_cast<int>(ctx_->params->extfrag_threshold)) return false;
  }
  return true;
}

compact_result Compaction::compaction_suit_allocation_order(const zone* z, unsigned order, unsigned highest_zoneidx,
                                                            unsigned alloc_flags, bool async) const {
  const uint64_t watermark = Watermark::wmark_pages(z, alloc_flags & ALLOC_WMARK_MASK);
  if (ctx_->watermark->zone_watermark_ok(z, order, watermark, highest_zoneidx, alloc_flags)) return COMPACT_SUCCESS;
  // Costly async compaction for requests that cannot use CMA: the block
  // must not end up formed in a CMA area.
  if (order > PAGE_ALLOC_COSTLY_ORDER && async && !(alloc_flags & ALLOC_CMA)) {
    if (!ctx_->watermark->zone_watermark_ok(z, 0, watermark + compact_gap(order), highest_zoneidx, 0))
      return COMPACT_SKIPPED;
  }
  if (!compaction_suitable(z, order, watermark, highest_zoneidx)) return COMPACT_SKIPPED;
  return COMPACT_CONTINUE;
}

bool Compaction::compaction_deferred(zone* z, unsigned order) {
  const uint64_t defer_limit = 1ull << z->compact_defer_shift;
  if (static_cast<int>(order) < z->compact_order_failed) return false;
  if (++z->compact_considered >= defer_limit) {
    z->compact_considered = static_cast<unsigned>(defer_limit);
    return false;
  }
  return true;
}

void Compaction::defer_compaction(zone* z, unsigned order) {
  z->compact_considered = 0;
  ++z->compact_defer_shift;
  if (static_cast<int>(order) < z->compact_order_failed) z->compact_order_failed = static_cast<int>(order);
  if (z->compact_defer_shift > COMPACT_MAX_DEFER_SHIFT) z->compact_defer_shift = COMPACT_MAX_DEFER_SHIFT;
}

void Compaction::compaction_defer_reset(zone* z, unsigned order, bool alloc_success) {
  if (alloc_success) {
    z->compact_considered = 0;
    z->compact_defer_shift = 0;
  }
  if (static_cast<int>(order) >= z->compact_order_failed) z->compact_order_failed = static_cast<int>(order) + 1;
}

namespace {
bool compaction_restarting(const zone* z, unsigned order) {
  if (static_cast<int>(order) < z->compact_order_failed) return false;
  return z->compact_defer_shift == COMPACT_MAX_DEFER_SHIFT && z->compact_considered >= 1u << z->compact_defer_shift;
}

void reset_cached_positions(zone* z) {
  z->compact_cached_migrate_pfn[0] = z->compact_cached_migrate_pfn[1] = z->zone_start_pfn;
  z->compact_cached_free_pfn = pageblock_start_pfn(z->zone_end_pfn() - 1);
}
}  // namespace

void Compaction::reset_isolation_suitable(zone* z) {
  if (!z->spanned_pages) return;
  for (uint64_t pfn = z->zone_start_pfn; pfn < z->zone_end_pfn(); pfn = pageblock_end_pfn(pfn)) z->set_pfnblock_skip(pfn, false);
  reset_cached_positions(z);
  // Where a pass over the zone starts (the fast free search searches
  // deeper from there).
  z->compact_init_migrate_pfn = z->compact_cached_migrate_pfn[0];
  z->compact_init_free_pfn = z->compact_cached_free_pfn;
  z->compact_blockskip_flush = false;
}

// ---------------------------------------------------------------- the scanners

bool Compaction::suitable_migration_source(const compact_control* cc, uint64_t block_pfn) const {
  if (cc->mode != MIGRATE_ASYNC || !cc->direct_compaction) return true;
  // Async direct compaction only looks at blocks of the request's type.
  const unsigned mt = cc->z->get_pfnblock_migratetype(block_pfn);
  if (cc->migratetype == MIGRATE_MOVABLE) return is_migrate_movable(mt);
  return mt == cc->migratetype;
}

bool Compaction::suitable_migration_target(const compact_control* cc, uint64_t block_pfn) const {
  const zone* z = cc->z;
  if (z->pfnblock_deferred(block_pfn)) return false;  // one big free block: nothing to gain
  const page* p = ctx_->nodes->pfn_to_page(max(block_pfn, z->zone_start_pfn));
  // A block that already is a large free page is left alone (reserved
  // pages not written yet are no free page).
  if (!z->pfnblock_reserved_deferred(block_pfn) && PageBuddy(p)) {
    const unsigned order = cc->order > 0 ? static_cast<unsigned>(cc->order) : pageblock_order;
    if (buddy_order(p) >= order) return false;
  }
  if (cc->ignore_block_suitable) return true;
  return is_migrate_movable(z->get_pfnblock_migratetype(block_pfn));
}

void Compaction::isolate_migratepages_block(hal::Hal& h, compact_control* cc, uint64_t low_pfn, uint64_t end_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  Lru& lru = *ctx_->lru;
  uint64_t nr_scanned = 0, isolated = 0;
  const uint64_t block_start = pageblock_start_pfn(low_pfn);
  // Reserved pages whose struct pages are not written yet: none to isolate,
  // each one scanned.
  if (cc->z->pfnblock_reserved_deferred(block_start)) {
    nr_scanned = end_pfn - low_pfn;
    low_pfn = end_pfn;
  }
  for (; low_pfn < end_pfn; ++low_pfn) {
    ++nr_scanned;
    page* p = nodes.pfn_to_page(low_pfn);
    if (PageBuddy(p)) {
      const uint64_t n = 1ull << buddy_order(p);
      low_pfn += n - 1;
      nr_scanned += n - 1;
      continue;
    }
    // Huge pages (THP, hugetlb) already fill a pageblock: left alone.
    if (PageHead(p)) {
      low_pfn += compound_nr(p) - 1;
      continue;
    }
    if (PageTail(p)) continue;
    if (!PageLRU(p) || (!PageAnon(p) && !page_mapping_obj(p))) continue;
    // Pinned for DMA: migration would fail; not worth isolating (Linux's racy check).
    if (page_maybe_dma_pinned(p)) continue;
    if (!lru.isolate(h, p)) continue;
    list_add_tail(&p->lru, &cc->migratepages);
    ++cc->nr_migratepages;
    ++isolated;
    if (cc->nr_migratepages >= COMPACT_CLUSTER_MAX) {
      ++low_pfn;
      break;
    }
  }
  cc->total_migrate_scanned += nr_scanned;
  ctx_->vmstat->count(COMPACTISOLATED, isolated);
  // A whole block scanned without finding anything: skip it next time.
  if (low_pfn >= end_pfn && !isolated) {
    if (!cc->no_set_skip_hint) cc->z->set_pfnblock_skip(block_start, true);
    zone* z = cc->z;
    if (low_pfn > z->compact_cached_migrate_pfn[0]) z->compact_cached_migrate_pfn[0] = low_pfn;
    if (cc->mode != MIGRATE_ASYNC && low_pfn > z->compact_cached_migrate_pfn[1]) z->compact_cached_migrate_pfn[1] = low_pfn;
  }
  cc->migrate_pfn = low_pfn;
}

Compaction::isolate_result Compaction::isolate_migratepages(hal::Hal& h, compact_control* cc) {
  zone* z = cc->z;
  uint64_t low_pfn = cc->migrate_pfn;
  uint64_t block_start = max(pageblock_start_pfn(low_pfn), z->zone_start_pfn);
  uint64_t block_end = pageblock_end_pfn(low_pfn);
  // Whole pageblocks until the first suitable one, never past the free scanner.
  for (; block_end <= cc->free_pfn;
       cc->migrate_pfn = low_pfn = block_end, block_start = block_end, block_end += pageblock_nr_pages) {
    const uint64_t end = min(block_end, z->zone_end_pfn());
    if (z->pfnblock_deferred(block_start)) continue;  // free since boot
    if ((pageblock_aligned(low_pfn) || low_pfn == z->zone_start_pfn) && !cc->ignore_skip_hint &&
        z->pfnblock_skip(block_start))
      continue;
    if (!suitable_migration_source(cc, block_start)) {
      if (block_end > z->compact_cached_migrate_pfn[0]) z->compact_cached_migrate_pfn[0] = block_end;
      if (cc->mode != MIGRATE_ASYNC && block_end > z->compact_cached_migrate_pfn[1])
        z->compact_cached_migrate_pfn[1] = block_end;
      continue;
    }
    isolate_migratepages_block(h, cc, max(low_pfn, z->zone_start_pfn), end);
    break;
  }
  return cc->nr_migratepages ? ISOLATE_SUCCESS : ISOLATE_NONE;
}

uint64_t Compaction::isolate_freepages_block(hal::Hal& h, compact_control* cc, uint64_t* start_pfn, uint64_t end_pfn,
                                             unsigned stride) {
  MmNodes& nodes = *ctx_->nodes;
  PageAlloc& pa = *ctx_->page_alloc;
  zone* z = cc->z;
  uint64_t nr_scanned = 0, total = 0;
  uint64_t pfn = *start_pfn;
  while (pfn < end_pfn) {
    if (z->pfnblock_reserved_deferred(pfn)) {
      // Reserved pages whose struct pages are not written yet: no free page
      // here, every step of the stride scanned.
      const uint64_t steps = (min(end_pfn, pageblock_end_pfn(pfn)) - pfn + stride - 1) / stride;
      nr_scanned += steps;
      pfn += steps * stride;
      continue;
    }
    ++nr_scanned;
    page* p = nodes.pfn_to_page(pfn);
    if (!PageBuddy(p)) {
      pfn += stride;
      continue;
    }
    unsigned order;
    {
      LockGuard g(z->lock, h);
      if (!PageBuddy(p)) {
        pfn += stride;
        continue;
      }
      order = buddy_order(p);
      if (!pa.isolate_free_page(z, p, pfn, order, true)) break;  // the zone is at its min watermark
    }
    p->private_ = order;
    list_add_tail(&p->lru, &cc->freepages[order]);
    cc->nr_freepages += 1ull << order;
    total += 1ull << order;
    nr_scanned += (1ull << order) - 1;
    pfn += 1ull << order;
    if (cc->nr_migratepages <= cc->nr_freepages) break;
  }
  *start_pfn = min(pfn, end_pfn);
  cc->total_free_scanned += nr_scanned;
  ctx_->vmstat->count(COMPACTISOLATED, total);
  return total;
}

namespace {
// Free-list entries a fast search looks at: fewer after each search that
// found nothing.
unsigned freelist_scan_limit(const compact_control* cc) {
  return (COMPACT_CLUSTER_MAX >> min(63u, cc->fast_search_fail)) + 1;
}

// The order to search next, down and round from cc->order - 1; -1 once
// round to where the search started (which starts one lower next time).
int next_search_order(compact_control* cc, int order) {
  if (--order < 0) order = cc->order - 1;
  if (order == cc->search_order) {
    if (--cc->search_order < 0) cc->search_order = cc->order - 1;
    return -1;
  }
  return order;
}
}  // namespace

void Compaction::fast_isolate_around(hal::Hal& h, compact_control* cc, uint64_t pfn) {
  zone* z = cc->z;
  if (cc->nr_freepages >= cc->nr_migratepages) return;
  // Async direct compaction scans as little as it can.
  if (cc->direct_compaction && cc->mode == MIGRATE_ASYNC) return;
  uint64_t start = max(pageblock_start_pfn(pfn), z->zone_start_pfn);
  const uint64_t end = min(pageblock_end_pfn(pfn), z->zone_end_pfn());
  if (z->pfnblock_deferred(start)) return;
  isolate_freepages_block(h, cc, &start, end, 1);
  // Scanned whole: full, or nearly; not worth a look soon.
  if (start == end && !cc->no_set_skip_hint) z->set_pfnblock_skip(pfn, true);
}

void Compaction::fast_isolate_freepages(hal::Hal& h, compact_control* cc) {
  // Linux's fast_isolate_freepages: a target from the movable free lists of
  // the orders below the request's, preferably in the top quarter of the
  // space between the scanners, else the highest one in its top half.
  if (cc->order <= 0) return;                   // whole-zone compaction: the linear scan only
  if (cc->free_pfn <= cc->migrate_pfn) return;  // the scanners met: nothing between them
  zone* z = cc->z;
  MmNodes& nodes = *ctx_->nodes;
  PageAlloc& pa = *ctx_->page_alloc;
  unsigned limit = max(1u, freelist_scan_limit(cc) >> 1);
  uint64_t nr_scanned = 0, highest = 0;
  bool scan_start = false;
  // At the start of a pass: a deeper search, and the highest block with a
  // free page is where the linear scan goes on when nothing suits.
  if (cc->free_pfn >= z->compact_init_free_pfn) {
    limit = pageblock_nr_pages >> 1;
    scan_start = true;
  }
  const uint64_t distance = cc->free_pfn - cc->migrate_pfn;
  uint64_t low_pfn = pageblock_start_pfn(cc->free_pfn - (distance >> 2));
  const uint64_t min_pfn = pageblock_start_pfn(cc->free_pfn - (distance >> 1));
  if (min_pfn > low_pfn) low_pfn = min_pfn;
  // From the order that last gave a target.
  cc->search_order = min(cc->order - 1, cc->search_order);
  page* p = nullptr;
  for (int order = cc->search_order; !p && order >= 0; order = next_search_order(cc, order)) {
    free_area& area = z->free_area[order];
    if (!area.nr_free) continue;
    list_head* freelist = &area.free_list[MIGRATE_MOVABLE];
    unsigned order_scanned = 0;
    uint64_t high_pfn = 0;
    LockGuard g(z->lock, h);
    // From the tail: the blocks freed longest ago, past those seen before.
    list_head* last = nullptr;
    for (list_head* l = freelist->prev; l != freelist; l = l->prev) {
      last = l;
      ++order_scanned;
      ++nr_scanned;
      const uint64_t pfn = nodes.page_to_pfn(list_entry(l, page, lru));
      if (pfn >= highest) highest = max(pageblock_start_pfn(pfn), z->zone_start_pfn);
      if (pfn >= low_pfn) {
        cc->fast_search_fail = 0;
        cc->search_order = order;
        p = list_entry(l, page, lru);
        break;
      }
      if (pfn >= min_pfn && pfn > high_pfn) {
        high_pfn = pfn;
        limit >>= 1;  // a candidate: shorten the search
      }
      if (order_scanned >= limit) break;
    }
    // None in the top quarter: the highest seen in the top half.
    if (!p && high_pfn) {
      p = nodes.pfn_to_page(high_pfn);
      last = &p->lru;
    }
    // The entries looked at go behind the others: the next search starts
    // with those it has not seen.
    if (last && freelist->next != last) list_move_tail(freelist, last);
    if (p) {
      const uint64_t pfn = nodes.page_to_pfn(p);
      if (pa.isolate_free_page(z, p, pfn, static_cast<unsigned>(order), true)) {
        const uint64_t n = 1ull << order;
        p->private_ = static_cast<unsigned>(order);
        list_add_tail(&p->lru, &cc->freepages[order]);
        cc->nr_freepages += n;
        nr_scanned += n - 1;
        ctx_->vmstat->count(COMPACTISOLATED, n);
      } else {
        // At the watermark: no more searching.
        order = cc->search_order + 1;
        p = nullptr;
      }
    }
    if (cc->nr_freepages >= cc->nr_migratepages) break;
    if (order_scanned >= limit) limit = max(1u, limit >> 1);
  }
  if (!p) {
    ++cc->fast_search_fail;
    if (scan_start) {
      // The linear scan goes on from the highest block seen with a free
      // page, else (direct compaction) from the bottom of the top half.
      if (highest >= min_pfn) {
        p = nodes.pfn_to_page(highest);
        cc->free_pfn = highest;
      } else if (cc->direct_compaction) {
        p = nodes.pfn_to_page(min_pfn);
        cc->free_pfn = min_pfn;
      }
    }
  }
  if (highest && highest >= z->compact_cached_free_pfn) {
    highest -= pageblock_nr_pages;
    z->compact_cached_free_pfn = highest;
  }
  cc->total_free_scanned += nr_scanned;
  if (p) fast_isolate_around(h, cc, nodes.page_to_pfn(p));
}

void Compaction::isolate_freepages(hal::Hal& h, compact_control* cc) {
  zone* z = cc->z;
  // The free lists first.
  fast_isolate_freepages(h, cc);
  if (cc->nr_freepages) return;
  uint64_t isolate_start = cc->free_pfn;
  uint64_t block_start = pageblock_start_pfn(isolate_start);
  uint64_t block_end = min(block_start + pageblock_nr_pages, z->zone_end_pfn());
  const uint64_t low_pfn = pageblock_end_pfn(cc->migrate_pfn);
  // Async steps through a block with a stride of 32, back to 1 after a
  // block that gave targets and doubling again while blocks give none
  // (Linux). Powers of two: a free block is found only at its head, which
  // is aligned to its order, so from a pageblock's start a stride of 2^k
  // meets every free block of order >= k (an odd stride meets almost none,
  // and the block gets a skip hint while holding free pages). Order-0 pages
  // between used ones are missed here: the free lists (above) give those.
  unsigned stride = cc->mode == MIGRATE_ASYNC ? COMPACT_CLUSTER_MAX : 1;
  // Down from the top, block by block, until there are enough targets or
  // the migration scanner is reached.
  for (;;) {
    if (block_start < low_pfn) break;
    if (suitable_migration_target(cc, block_start) && (cc->ignore_skip_hint || !z->pfnblock_skip(block_start))) {
      uint64_t s = max(max(isolate_start, block_start), z->zone_start_pfn);
      const uint64_t nr = isolate_freepages_block(h, cc, &s, block_end, stride);
      isolate_start = s;
      if (s >= block_end && !cc->no_set_skip_hint) {
        // Scanned whole: no need to look again soon.
        if (!nr) z->set_pfnblock_skip(block_start, true);
        if (block_start < z->compact_cached_free_pfn) z->compact_cached_free_pfn = block_start;
      }
      if (cc->nr_freepages >= cc->nr_migratepages) {
        // Used up: start at the block below next time.
        if (s >= block_end) isolate_start = block_start >= pageblock_nr_pages ? block_start - pageblock_nr_pages : 0;
        break;
      }
      if (s < block_end) break;  // isolation failed early (watermark)
      stride = nr ? 1 : min<unsigned>(COMPACT_CLUSTER_MAX, stride << 1);
    }
    if (block_start < pageblock_nr_pages) {
      isolate_start = 0;
      break;
    }
    block_end = block_start;
    block_start -= pageblock_nr_pages;
    isolate_start = block_start;
  }
  cc->free_pfn = isolate_start;
}

page* Compaction::compaction_alloc(hal::Hal& h, page* src, void* priv) {
  (void)src;
  compact_control* cc = static_cast<compact_control*>(priv);
  Compaction& self = *cc->ctx->compaction;
  unsigned o = 0;
  for (; o < NR_PAGE_ORDERS && list_empty(&cc->freepages[o]); ++o) {
  }
  if (o == NR_PAGE_ORDERS) {
    self.isolate_freepages(h, cc);
    for (o = 0; o < NR_PAGE_ORDERS && list_empty(&cc->freepages[o]); ++o) {
    }
    if (o == NR_PAGE_ORDERS) return nullptr;
  }
  page* p = list_first_entry(&cc->freepages[o], page, lru);
  list_del(&p->lru);
  // Split: the upper halves stay as targets.
  while (o > 0) {
    --o;
    page* upper = p + (1ull << o);
    upper->private_ = o;
    list_add(&upper->lru, &cc->freepages[o]);
  }
  --cc->nr_freepages;
  p->private_ = 0;
  set_page_count(p, 1);
  return p;
}

void Compaction::compaction_free(hal::Hal& h, page* dst, void* priv) {
  (void)h;
  compact_control* cc = static_cast<compact_control*>(priv);
  set_page_count(dst, 0);
  dst->private_ = 0;
  list_add(&dst->lru, &cc->freepages[0]);
  ++cc->nr_freepages;
}

void Compaction::release_freepages(hal::Hal& h, compact_control* cc) {
  uint64_t lowest = ~0ull;
  MmNodes& nodes = *ctx_->nodes;
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    while (!list_empty(&cc->freepages[o])) {
      page* p = list_first_entry(&cc->freepages[o], page, lru);
      list_del(&p->lru);
      p->private_ = 0;
      lowest = min(lowest, nodes.page_to_pfn(p));
      set_page_count(p, 1);
      ctx_->page_alloc->free_pages(h, p, o);
    }
  cc->nr_freepages = 0;
  // Only ever move the free scanner's cache back up.
  if (lowest != ~0ull) {
    const uint64_t f = pageblock_start_pfn(lowest);
    if (f > cc->z->compact_cached_free_pfn) cc->z->compact_cached_free_pfn = f;
  }
}

compact_result Compaction::compact_finished(compact_control* cc) {
  zone* z = cc->z;
  // The scanners met.
  if ((cc->free_pfn >> pageblock_order) <= (cc->migrate_pfn >> pageblock_order)) {
    reset_cached_positions(z);
    if (cc->direct_compaction) z->compact_blockskip_flush = true;
    return cc->whole_zone ? COMPACT_COMPLETE : COMPACT_PARTIAL_SKIPPED;
  }
  if (cc->proactive_compaction) {
    if (z->zone_pgdat->kswapd_wait) return COMPACT_PARTIAL_SKIPPED;
    return extfrag_for_order(z, COMPACTION_HPAGE_ORDER) > fragmentation_score_wmark(true) ? COMPACT_CONTINUE
                                                                                           : COMPACT_SUCCESS;
  }
  if (cc->order < 0) return COMPACT_CONTINUE;
  // Finish the pageblock: fewer fallbacks later.
  if (!pageblock_aligned(cc->migrate_pfn)) return COMPACT_CONTINUE;
  // Is a suitable page free now?
  const Buddy& b = *ctx_->buddy;
  for (unsigned o = static_cast<unsigned>(cc->order); o < NR_PAGE_ORDERS; ++o) {
    const free_area& a = z->free_area[o];
    if (a.nr_free_mt[cc->migratetype]) return COMPACT_SUCCESS;
    if (cc->migratetype == MIGRATE_MOVABLE && a.nr_free_mt[MIGRATE_CMA]) return COMPACT_SUCCESS;
    if (cc->migratetype < MIGRATE_PCPTYPES && b.find_suitable_fallback(&a, o, cc->migratetype, true) >= 0)
      return COMPACT_SUCCESS;
  }
  return COMPACT_CONTINUE;
}

void Compaction::init_cc(compact_control* cc, zone* z) const {
  *cc = compact_control{};
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) INIT_LIST_HEAD(&cc->freepages[o]);
  INIT_LIST_HEAD(&cc->migratepages);
  cc->z = z;
  cc->ctx = ctx_;
}

compact_result Compaction::compact_zone(hal::Hal& h, compact_control* cc) {
  zone* z = cc->z;
  const uint64_t start_pfn = z->zone_start_pfn, end_pfn = z->zone_end_pfn();
  const bool sync = cc->mode != MIGRATE_ASYNC;
  cc->migratetype = gfp_migratetype(cc->gfp_mask);
  cc->search_order = cc->order;
  if (cc->order >= 0) {
    const compact_result r = compaction_suit_allocation_order(z, static_cast<unsigned>(cc->order), cc->highest_zoneidx,
                                                              cc->alloc_flags, !sync);
    if (r != COMPACT_CONTINUE) return r;
    // Failures piled up and compaction is about to be retried: forget the hints.
    if (compaction_restarting(z, static_cast<unsigned>(cc->order))) reset_isolation_suitable(z);
  }
  if (cc->whole_zone) {
    cc->migrate_pfn = start_pfn;
    cc->free_pfn = pageblock_start_pfn(end_pfn - 1);
  } else {
    cc->migrate_pfn = z->compact_cached_migrate_pfn[sync];
    cc->free_pfn = z->compact_cached_free_pfn;
    if (cc->free_pfn < start_pfn || cc->free_pfn >= end_pfn) {
      cc->free_pfn = pageblock_start_pfn(end_pfn - 1);
      z->compact_cached_free_pfn = cc->free_pfn;
    }
    if (cc->migrate_pfn < start_pfn || cc->migrate_pfn >= end_pfn) {
      cc->migrate_pfn = start_pfn;
      z->compact_cached_migrate_pfn[0] = z->compact_cached_migrate_pfn[1] = start_pfn;
    }
    if (cc->migrate_pfn <= start_pfn) cc->whole_zone = true;
  }
  ++stats_.zone_runs;
  Migrate& mig = *ctx_->migrate;
  uint64_t last_migrated_pfn = 0;
  compact_result ret;
  while ((ret = compact_finished(cc)) == COMPACT_CONTINUE) {
    switch (isolate_migratepages(h, cc)) {
      case ISOLATE_ABORT:
        ret = COMPACT_CONTENDED;
        mig.putback_movable_pages(h, &cc->migratepages);
        cc->nr_migratepages = 0;
        goto out;
      case ISOLATE_NONE:
        break;
      case ISOLATE_SUCCESS: {
        last_migrated_pfn = max(start_pfn, pageblock_start_pfn(cc->migrate_pfn - 1));
        unsigned nr_succeeded = 0;
        const int err = mig.migrate_pages(h, &cc->migratepages, compaction_alloc, compaction_free, cc, cc->mode,
                                          &nr_succeeded);
        cc->nr_migratepages = 0;
        if (err) {
          mig.putback_movable_pages(h, &cc->migratepages);
          // No targets left although the scanners have not met: give up.
          if (err == -ENOMEM && (cc->free_pfn >> pageblock_order) > (cc->migrate_pfn >> pageblock_order)) {
            ret = COMPACT_CONTENDED;
            goto out;
          }
        }
        break;
      }
    }
    // The migration scanner left the order-aligned block it migrated from:
    // the freed pages wait on this CPU's lists; let them merge now.
    if (cc->order > 0 && last_migrated_pfn) {
      const uint64_t current_block_start = cc->migrate_pfn & ~((1ull << cc->order) - 1);
      if (last_migrated_pfn < current_block_start) {
        ctx_->pcp->drain_local_pages(h, z);
        last_migrated_pfn = 0;
      }
    }
  }
out:
  release_freepages(h, cc);
  ctx_->pcp->drain_local_pages(h, z);
  ctx_->vmstat->count(COMPACTMIGRATE_SCANNED, cc->total_migrate_scanned);
  ctx_->vmstat->count(COMPACTFREE_SCANNED, cc->total_free_scanned);
  ++stats_.result[ret];
  return ret;
}

// ---------------------------------------------------------------- callers

compact_result Compaction::try_to_compact_pages(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                                const alloc_context& ac, compact_priority prio) {
  if (!(gfp & __GFP_IO)) return COMPACT_SKIPPED;
  compact_result rc = COMPACT_SKIPPED;
  for (zone* const* zl = ac.zonelist; *zl; ++zl) {
    zone* z = *zl;
    if (z->idx > ac.highest_zoneidx || !z->managed_pages) continue;
    if (prio > MIN_COMPACT_PRIORITY && compaction_deferred(z, order)) {
      ++stats_.deferred;
      rc = max(COMPACT_DEFERRED, rc);
      continue;
    }
    compact_control cc;
    init_cc(&cc, z);
    cc.order = static_cast<int>(order);
    cc.gfp_mask = gfp;
    cc.mode = prio == COMPACT_PRIO_ASYNC ? MIGRATE_ASYNC : MIGRATE_SYNC_LIGHT;
    cc.alloc_flags = alloc_flags;
    cc.highest_zoneidx = ac.highest_zoneidx;
    cc.direct_compaction = true;
    cc.whole_zone = prio == MIN_COMPACT_PRIORITY;
    cc.ignore_skip_hint = prio == MIN_COMPACT_PRIORITY;
    cc.ignore_block_suitable = prio == MIN_COMPACT_PRIORITY;
    const compact_result status = compact_zone(h, &cc);
    rc = max(status, rc);
    if (status == COMPACT_SUCCESS) {
      // Probably, not certainly: the caller resets for good on success.
      compaction_defer_reset(z, order, false);
      break;
    }
    if (prio != COMPACT_PRIO_ASYNC && (status == COMPACT_COMPLETE || status == COMPACT_PARTIAL_SKIPPED))
      defer_compaction(z, order);
  }
  return rc;
}

page* Compaction::direct_compact(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags, const alloc_context& ac,
                                 compact_priority prio, compact_result* result) {
  if (!order) return nullptr;
  ++stats_.direct_runs;
  *result = try_to_compact_pages(h, gfp, order, alloc_flags, ac, prio);
  if (*result == COMPACT_SKIPPED) return nullptr;
  ctx_->vmstat->count(COMPACTSTALL);
  page* p = ctx_->page_alloc->get_page_from_freelist(h, gfp, order, alloc_flags, ac);
  if (p) {
    zone* z = ctx_->nodes->page_zone(p);
    z->compact_blockskip_flush = false;
    compaction_defer_reset(z, order, true);
    ctx_->vmstat->count(COMPACTSUCCESS);
    return p;
  }
  ctx_->vmstat->count(COMPACTFAIL);
  return nullptr;
}

void Compaction::compact_node(hal::Hal& h, pglist_data& pg, bool proactive) {
  for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
    zone* z = &pg.node_zones[zi];
    if (!z->populated() || !z->managed_pages) continue;
    compact_control cc;
    init_cc(&cc, z);
    cc.order = -1;
    cc.gfp_mask = GFP_KERNEL;
    cc.mode = proactive ? MIGRATE_SYNC_LIGHT : MIGRATE_SYNC;
    cc.ignore_skip_hint = true;
    cc.whole_zone = true;
    cc.proactive_compaction = proactive;
    compact_zone(h, &cc);
    if (proactive) {
      ctx_->vmstat->count(KCOMPACTD_MIGRATE_SCANNED, cc.total_migrate_scanned);
      ctx_->vmstat->count(KCOMPACTD_FREE_SCANNED, cc.total_free_scanned);
    }
  }
}

void Compaction::compact_nodes(hal::Hal& h) {
  // Linux drains the LRU caches first; the per-CPU page lists matter here.
  ctx_->pcp->drain_all_pages(h, nullptr);
  for (unsigned n = 0; n < ctx_->nodes->nr_nodes(); ++n) compact_node(h, ctx_->nodes->node(static_cast<int>(n)), false);
}

bool Compaction::kcompactd_node_suitable(const pglist_data& pg) const {
  for (unsigned zi = 0; zi <= pg.kcompactd_highest_zoneidx && zi < MAX_NR_ZONES; ++zi) {
    const zone* z = &pg.node_zones[zi];
    if (!z->populated() || !z->managed_pages) continue;
    if (compaction_suit_allocation_order(z, pg.kcompactd_max_order, pg.kcompactd_highest_zoneidx, ALLOC_WMARK_MIN,
                                         false) == COMPACT_CONTINUE)
      return true;
  }
  return false;
}

void Compaction::wakeup_kcompactd(hal::Hal& h, pglist_data& pg, unsigned order, unsigned highest_zoneidx) {
  (void)h;
  if (!order) return;
  if (pg.kcompactd_max_order < order) pg.kcompactd_max_order = order;
  if (pg.kcompactd_highest_zoneidx > highest_zoneidx) pg.kcompactd_highest_zoneidx = highest_zoneidx;
  if (!kcompactd_node_suitable(pg)) return;
  pg.kcompactd_wait = true;  // runs at the node's next timer tick
}

void Compaction::kcompactd_do_work(hal::Hal& h, pglist_data& pg) {
  pg.kcompactd_wait = false;
  ++stats_.kcompactd_runs;
  ctx_->vmstat->count(KCOMPACTD_WAKE);
  const unsigned order = pg.kcompactd_max_order;
  const unsigned highest = pg.kcompactd_highest_zoneidx;
  for (unsigned zi = 0; zi <= highest && zi < MAX_NR_ZONES; ++zi) {
    zone* z = &pg.node_zones[zi];
    if (!z->populated() || !z->managed_pages) continue;
    if (compaction_deferred(z, order)) continue;
    if (compaction_suit_allocation_order(z, order, highest, ALLOC_WMARK_MIN, false) != COMPACT_CONTINUE) continue;
    compact_control cc;
    init_cc(&cc, z);
    cc.order = static_cast<int>(order);
    cc.highest_zoneidx = highest;
    cc.mode = MIGRATE_SYNC_LIGHT;
    cc.gfp_mask = GFP_KERNEL;
    cc.alloc_flags = ALLOC_WMARK_MIN;
    const compact_result status = compact_zone(h, &cc);
    if (status == COMPACT_SUCCESS) compaction_defer_reset(z, order, false);
    else if (status == COMPACT_PARTIAL_SKIPPED || status == COMPACT_COMPLETE) defer_compaction(z, order);
    ctx_->vmstat->count(KCOMPACTD_MIGRATE_SCANNED, cc.total_migrate_scanned);
    ctx_->vmstat->count(KCOMPACTD_FREE_SCANNED, cc.total_free_scanned);
  }
  // Requests that came in meanwhile keep their order.
  if (pg.kcompactd_max_order <= order) pg.kcompactd_max_order = 0;
  if (pg.kcompactd_highest_zoneidx >= highest) pg.kcompactd_highest_zoneidx = pg.nr_zones ? pg.nr_zones - 1 : 0;
}

void Compaction::kcompactd_tick(hal::Hal& h, pglist_data& pg) {
  if (pg.kcompactd_wait) kcompactd_do_work(h, pg);
  const uint64_t now = h.now_ns();
  if (now < pg.kcompactd_next_proactive_ns) return;
  pg.kcompactd_next_proactive_ns = now + HPAGE_FRAG_CHECK_INTERVAL_NS;
  // Proactive compaction: when the node's score passes the high mark,
  // compact until it is below the low one.
  if (!ctx_->params->compaction_proactiveness || pg.kswapd_wait) return;
  if (fragmentation_score_node(pg) <= fragmentation_score_wmark(false)) return;
  ++stats_.proactive_runs;
  compact_node(h, pg, true);
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<CompactionStats> compaction_stat_table[] = {
    {"zone_runs", &CompactionStats::zone_runs, "zone compactions that scanned", "count"},
    {"direct_runs", &CompactionStats::direct_runs, "direct compactions", "count"},
    {"deferred", &CompactionStats::deferred, "zones skipped because compaction was deferred", "count"},
    {"kcompactd_runs", &CompactionStats::kcompactd_runs, "kcompactd runs", "count"},
    {"proactive_runs", &CompactionStats::proactive_runs, "proactive compactions", "count"},
};
// result[] (by compact_result) follows the table.
static_assert(stat_table_size(compaction_stat_table) + COMPACT_SUCCESS + 1 == sizeof(CompactionStats) / sizeof(uint64_t),
              "one entry per counter");

}  // namespace

void Compaction::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, compaction_stat_table);
  e("result_complete", stats_.result[COMPACT_COMPLETE], "zone compactions that met the scanners over the whole zone", "count");
  e("result_success", stats_.result[COMPACT_SUCCESS], "zone compactions that made the wanted block", "count");
  e("result_skipped", stats_.result[COMPACT_SKIPPED], "zone compactions skipped (not enough free pages)", "count");
}

}  // namespace fw
