#include "sw/mm/buddy.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/internal.h"
#include "sw/mm/vmstat.h"

namespace fw {

namespace {
// Linux's fallback order between the per-CPU-list types.
constexpr unsigned kFallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] = {
    {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE},    // UNMOVABLE
    {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE},  // MOVABLE
    {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE},      // RECLAIMABLE
};

// Linux should_try_claim_block: whole pageblocks, blocks of at least half a
// pageblock, and every unmovable or reclaimable request may try to claim.
bool should_try_claim_block(unsigned order, unsigned start_mt) {
  if (order >= pageblock_order / 2) return true;
  return start_mt == MIGRATE_RECLAIMABLE || start_mt == MIGRATE_UNMOVABLE;
}

inline page* pfn_page(page* p, uint64_t pfn, uint64_t to) {
  return p + (static_cast<int64_t>(to) - static_cast<int64_t>(pfn));
}
}  // namespace

void Buddy::account_freepages(zone* z, int64_t nr, unsigned mt) {
  if (mt == MIGRATE_ISOLATE) return;  // isolated free pages are nobody's
  z->vm_stat[NR_FREE_PAGES] += nr;
  nr_free_ += static_cast<uint64_t>(nr);
  if (mt == MIGRATE_CMA) z->vm_stat[NR_FREE_CMA_PAGES] += nr;
  else if (mt == MIGRATE_HIGHATOMIC) z->nr_free_highatomic += static_cast<uint64_t>(nr);
  if (nr < 0) {
    if (nr_free_ < min_free_) min_free_ = nr_free_;
    if (z->free_pages() < z->min_free_pages) z->min_free_pages = z->free_pages();
  }
}

void Buddy::add_to_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt, bool tail) {
  set_buddy_order(p, order);
  free_area& a = z->free_area[order];
  if (tail) list_add_tail(&p->lru, &a.free_list[mt]);
  else list_add(&p->lru, &a.free_list[mt]);
  count_added(z, pfn, order, mt);
}

void Buddy::count_added(zone* z, uint64_t pfn, unsigned order, unsigned mt) {
  free_area& a = z->free_area[order];
  ++a.nr_free;
  ++a.nr_free_mt[mt];
  account_freepages(z, static_cast<int64_t>(1ull << order), mt);
  if (order >= pageblock_order && mt != MIGRATE_ISOLATE) z->vm_stat[NR_FREE_PAGES_BLOCKS] += 1ll << order;
  if (observer_) observer_->free_add(z, pfn, order, mt);
}

void Buddy::add_lazy_block(zone* z, uint64_t pfn, unsigned mt) {
  free_area& a = z->free_area[MAX_PAGE_ORDER];
  list_head* l = &a.free_list[mt];
  // The segment can take the block only where a list_add would put it: at
  // the head, above every block already in the segment (boot frees in
  // ascending order). Otherwise the block is written and linked at once.
  const bool at_head = z->lazy_free[mt] ? l->next == &z->lazy_mark[mt] && pfn > z->lazy_cursor[mt] : true;
  if (!at_head) {
    add_to_free_list(z, ctx_->nodes->memmap_write_head(z, pfn), pfn, MAX_PAGE_ORDER, mt);
    return;
  }
  if (!z->lazy_free[mt]++) list_add(&z->lazy_mark[mt], l);
  z->lazy_cursor[mt] = pfn;
  z->set_block_flags(pfn, PB_free_lazy, true);
  count_added(z, pfn, MAX_PAGE_ORDER, mt);
}

page* Buddy::leave_lazy(zone* z, uint64_t pfn, unsigned mt) {
  page* p = ctx_->nodes->memmap_write_head(z, pfn);
  z->set_block_flags(pfn, PB_free_lazy, false);
  if (!--z->lazy_free[mt]) list_del(&z->lazy_mark[mt]);
  return p;
}

page* Buddy::take_lazy(zone* z, unsigned mt) {
  // The segment's next block: the highest lazy block of this type left.
  uint64_t pfn = z->lazy_cursor[mt];
  while (!z->pfnblock_lazy(pfn) || z->get_pfnblock_migratetype(pfn) != mt) pfn -= MAX_ORDER_NR_PAGES;
  z->lazy_cursor[mt] = pfn;
  page* p = leave_lazy(z, pfn, mt);
  // The segment was at the head of the list: the block now is.
  list_add(&p->lru, &z->free_area[MAX_PAGE_ORDER].free_list[mt]);
  return p;
}

void Buddy::del_page_from_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt) {
  if (order == MAX_PAGE_ORDER && z->pfnblock_lazy(pfn)) leave_lazy(z, pfn, mt);
  else list_del(&p->lru);
  __ClearPageBuddy(p);
  p->private_ = 0;
  free_area& a = z->free_area[order];
  --a.nr_free;
  --a.nr_free_mt[mt];
  account_freepages(z, -static_cast<int64_t>(1ull << order), mt);
  if (order >= pageblock_order && mt != MIGRATE_ISOLATE) z->vm_stat[NR_FREE_PAGES_BLOCKS] -= 1ll << order;
  if (observer_) observer_->free_del(z, pfn, order, mt);
}

void Buddy::move_to_free_list(zone* z, page* p, uint64_t pfn, unsigned order, unsigned old_mt, unsigned new_mt) {
  free_area& a = z->free_area[order];
  if (order == MAX_PAGE_ORDER && z->pfnblock_lazy(pfn)) list_add_tail(&leave_lazy(z, pfn, old_mt)->lru, &a.free_list[new_mt]);
  else list_move_tail(&p->lru, &a.free_list[new_mt]);
  --a.nr_free_mt[old_mt];
  ++a.nr_free_mt[new_mt];
  account_freepages(z, -static_cast<int64_t>(1ull << order), old_mt);
  account_freepages(z, static_cast<int64_t>(1ull << order), new_mt);
  // Whole blocks count in NR_FREE_PAGES_BLOCKS unless isolated.
  if (order >= pageblock_order && (old_mt == MIGRATE_ISOLATE) != (new_mt == MIGRATE_ISOLATE))
    z->vm_stat[NR_FREE_PAGES_BLOCKS] += new_mt == MIGRATE_ISOLATE ? -(1ll << order) : (1ll << order);
  if (observer_) {
    observer_->free_del(z, pfn, order, old_mt);
    observer_->free_add(z, pfn, order, new_mt);
  }
}

bool Buddy::page_is_buddy(const zone* z, const page* p, const page* buddy, uint64_t buddy_pfn,
                          unsigned order) const {
  // The buddy must be a free block of exactly this order in the same zone
  // (the span check keeps us inside this node's memmap).
  if (!z->spans(buddy_pfn)) return false;
  return PageBuddy(buddy) && buddy_order(buddy) == order && page_zone_id(buddy) == page_zone_id(p);
}

// Linux buddy_merge_likely: a block whose buddy one order up is free will
// probably merge soon; keep it at the tail so allocations take others first.
bool Buddy::buddy_merge_likely(const zone* z, uint64_t pfn, uint64_t buddy_pfn, const page* p,
                               unsigned order) const {
  if (order >= MAX_PAGE_ORDER - 1) return false;
  const uint64_t higher_pfn = buddy_pfn & pfn;
  const uint64_t higher_buddy_pfn = higher_pfn ^ (1ull << (order + 1));
  const page* hb = p + (static_cast<int64_t>(higher_buddy_pfn) - static_cast<int64_t>(pfn));
  return page_is_buddy(z, p, hb, higher_buddy_pfn, order + 1);
}

void Buddy::free_one_page(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt, bool to_tail) {
  const unsigned orig_order = order;
  uint64_t buddy_pfn = 0;
  while (order < MAX_PAGE_ORDER) {
    buddy_pfn = pfn ^ (1ull << order);
    page* buddy = pfn_page(p, pfn, buddy_pfn);
    if (!page_is_buddy(z, p, buddy, buddy_pfn, order)) break;
    unsigned buddy_mt = mt;
    if (order >= pageblock_order) {
      // No merging of isolated, CMA or high-atomic blocks with others: their
      // accounting would break (Linux >= 6.10).
      buddy_mt = z->get_pfnblock_migratetype(buddy_pfn);
      if (mt != buddy_mt && (!migratetype_is_mergeable(mt) || !migratetype_is_mergeable(buddy_mt))) break;
    }
    del_page_from_free_list(z, buddy, buddy_pfn, order, buddy_mt);
    // The merged block has one type: make the buddy's pageblocks match.
    if (buddy_mt != mt)
      for (uint64_t b = buddy_pfn; b < buddy_pfn + (1ull << order); b += pageblock_nr_pages)
        z->set_pfnblock_migratetype(b, mt);
    ++stats_.merges;
    const uint64_t combined = buddy_pfn & pfn;
    p = pfn_page(p, pfn, combined);
    pfn = combined;
    ++order;
  }
  (void)orig_order;
  const bool tail = to_tail || (order < MAX_PAGE_ORDER && buddy_merge_likely(z, pfn, pfn ^ (1ull << order), p, order));
  add_to_free_list(z, p, pfn, order, mt, tail);
}

uint64_t Buddy::expand(zone* z, page* p, uint64_t pfn, unsigned low, unsigned high, unsigned mt) {
  // A max-order block free since boot may still have uninitialized tails.
  if (high == MAX_PAGE_ORDER && z->pfnblock_deferred(pfn)) ctx_->nodes->init_deferred_block(z, pfn);
  uint64_t size = 1ull << high;
  uint64_t added = 0;
  while (high > low) {
    --high;
    size >>= 1;
    add_to_free_list(z, p + size, pfn + size, high, mt);  // the upper half stays free
    added += size;
    ++stats_.splits;
  }
  return added;
}

page* Buddy::rmqueue_smallest(zone* z, unsigned order, unsigned mt) {
  for (unsigned o = order; o < NR_PAGE_ORDERS; ++o) {
    if (list_empty(&z->free_area[o].free_list[mt])) continue;
    page* p = free_list_first(z, o, mt);
    const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
    del_page_from_free_list(z, p, pfn, o, mt);
    expand(z, p, pfn, order, o, mt);
    return p;
  }
  return nullptr;
}

int Buddy::find_suitable_fallback(const free_area* area, unsigned order, unsigned mt, bool claimable) const {
  if (claimable && !should_try_claim_block(order, mt)) return -2;
  if (area->nr_free == 0) return -1;
  for (unsigned fb : kFallbacks[mt])
    if (!list_empty(&area->free_list[fb])) return static_cast<int>(fb);
  return -1;
}

bool Buddy::boost_watermark(zone* z) {
  const uint64_t factor = ctx_->params->watermark_boost_factor;
  if (!factor) return false;
  // Not in zones too small to gain from it (Linux: four pageblocks).
  if (pageblock_nr_pages * 4 > z->managed_pages) return false;
  const uint64_t high = z->_watermark[WMARK_HIGH];
  uint64_t max_boost = (high / 10000) * factor + ((high % 10000) * factor) / 10000;  // mult_frac
  if (!max_boost) return false;  // watermarks not set up yet
  max_boost = max(pageblock_nr_pages, max_boost);
  z->watermark_boost = min(z->watermark_boost + pageblock_nr_pages, max_boost);
  ctx_->vmstat->count(WATERMARK_BOOST);
  return true;
}

int64_t Buddy::move_freepages_block(zone* z, uint64_t pfn, unsigned old_mt, unsigned new_mt) {
  const uint64_t start = pageblock_start_pfn(pfn), end = pageblock_end_pfn(pfn);
  if (!z->spans(start) || !z->spans(end - 1)) return -1;
  MmNodes& nodes = *ctx_->nodes;
  int64_t moved = 0;
  if (z->pfnblock_deferred(start)) nodes.init_deferred_block(z, start);
  else if (z->pfnblock_reserved_deferred(start)) nodes.init_reserved_block(z, start);
  for (uint64_t q = start; q < end;) {
    page* p = nodes.pfn_to_page(q);
    if (!PageBuddy(p)) {
      ++q;
      continue;
    }
    const unsigned order = buddy_order(p);
    move_to_free_list(z, p, q, order, old_mt, new_mt);
    // A free block larger than the pageblock takes its other pageblocks along.
    for (uint64_t b = q + pageblock_nr_pages; b < q + (1ull << order); b += pageblock_nr_pages)
      z->set_pfnblock_migratetype(b, new_mt);
    q += 1ull << order;
    moved += static_cast<int64_t>(1ull << order);
  }
  z->set_pfnblock_migratetype(start, new_mt);
  ++stats_.moved_blocks;
  return moved;
}

page* Buddy::find_free_block(zone* z, uint64_t pfn, uint64_t* head_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  if (z->pfnblock_deferred(pfn)) {
    // A deferred block is one free block: its head (written now) is the block.
    const uint64_t h = pfn & ~(MAX_ORDER_NR_PAGES - 1);
    *head_pfn = h;
    return nodes.memmap_write_head(z, h);
  }
  if (z->pfnblock_reserved_deferred(pfn)) return nullptr;  // reserved pages, not written yet
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
    const uint64_t h = pfn & ~((1ull << o) - 1);
    if (!z->spans(h)) break;
    page* hp = nodes.pfn_to_page(h);
    if (PageBuddy(hp) && buddy_order(hp) >= o) {
      if (h + (1ull << buddy_order(hp)) <= pfn) return nullptr;
      *head_pfn = h;
      return hp;
    }
  }
  return nullptr;
}

void Buddy::split_large_buddy(zone* z, page* head, uint64_t head_pfn) {
  const unsigned order = buddy_order(head);
  if (order <= pageblock_order) return;
  const unsigned mt = z->get_pfnblock_migratetype(head_pfn);
  del_page_from_free_list(z, head, head_pfn, order, mt);
  if (z->pfnblock_deferred(head_pfn)) ctx_->nodes->init_deferred_block(z, head_pfn);
  for (uint64_t pfn = head_pfn; pfn < head_pfn + (1ull << order); pfn += pageblock_nr_pages)
    add_to_free_list(z, pfn_page(head, head_pfn, pfn), pfn, pageblock_order, z->get_pfnblock_migratetype(pfn));
}

void Buddy::count_extfrag(unsigned order, unsigned fallback_order, bool claimed) {
  (void)order;
  VmStat& vs = *ctx_->vmstat;
  vs.count(EXTFRAG_FALLBACK);
  if (fallback_order < pageblock_order) vs.count(EXTFRAG_FRAGMENTING);
  if (claimed) vs.count(EXTFRAG_CLAIMED);
}

// Linux try_to_claim_block: take the pageblock for the request's type when
// the block is whole, or when at least half of it is free or alike.
page* Buddy::try_to_claim_block(zone* z, page* p, uint64_t pfn, unsigned current_order, unsigned order,
                                unsigned start_type, unsigned block_type, unsigned alloc_flags) {
  if (current_order >= pageblock_order) {
    del_page_from_free_list(z, p, pfn, current_order, block_type);
    for (uint64_t b = pfn; b < pfn + (1ull << current_order); b += pageblock_nr_pages)
      z->set_pfnblock_migratetype(b, start_type);
    expand(z, p, pfn, order, current_order, start_type);
    return p;
  }
  // A fragmenting fallback: boost the watermarks so kswapd (and through it
  // kcompactd) makes room before the next one.
  if (boost_watermark(z) && (alloc_flags & ALLOC_KSWAPD)) z->flags |= 1ull << ZONE_BOOSTED_WATERMARK;

  const uint64_t start = pageblock_start_pfn(pfn), end = pageblock_end_pfn(pfn);
  if (!z->spans(start) || !z->spans(end - 1)) return nullptr;
  MmNodes& nodes = *ctx_->nodes;
  uint64_t free_pages = 0, movable_pages = 0;
  for (uint64_t q = start; q < end;) {
    page* b = nodes.pfn_to_page(q);
    if (PageBuddy(b)) {
      free_pages += 1ull << buddy_order(b);
      q += 1ull << buddy_order(b);
      continue;
    }
    if (PageLRU(b)) ++movable_pages;  // isolatable for migration: movable
    ++q;
  }
  uint64_t alike = 0;
  if (start_type == MIGRATE_MOVABLE) alike = movable_pages;
  else if (block_type == MIGRATE_MOVABLE) alike = pageblock_nr_pages - (free_pages + movable_pages);
  if (free_pages + alike >= (1ull << (pageblock_order - 1))) {
    move_freepages_block(z, start, block_type, start_type);
    return rmqueue_smallest(z, order, start_type);
  }
  return nullptr;
}

page* Buddy::rmqueue_claim(zone* z, unsigned order, unsigned mt, unsigned alloc_flags) {
  // ALLOC_NOFRAGMENT: only whole pageblocks may change hands.
  unsigned min_order = order;
  if (order < pageblock_order && (alloc_flags & ALLOC_NOFRAGMENT)) min_order = pageblock_order;
  // The largest free block first: roughly the pageblock with the most free pages.
  for (int co = MAX_PAGE_ORDER; co >= static_cast<int>(min_order); --co) {
    const unsigned current_order = static_cast<unsigned>(co);
    free_area* area = &z->free_area[current_order];
    const int fb = find_suitable_fallback(area, current_order, mt, true);
    if (fb == -1) continue;
    if (fb == -2) break;
    page* p = free_list_first(z, current_order, static_cast<unsigned>(fb));
    const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
    page* got = try_to_claim_block(z, p, pfn, current_order, order, mt, static_cast<unsigned>(fb), alloc_flags);
    if (got) {
      count_extfrag(order, current_order, true);
      return got;
    }
  }
  return nullptr;
}

page* Buddy::rmqueue_steal(zone* z, unsigned order, unsigned mt) {
  // The smallest block that fits; its pageblock keeps its type.
  for (unsigned co = order; co < NR_PAGE_ORDERS; ++co) {
    free_area* area = &z->free_area[co];
    const int fb = find_suitable_fallback(area, co, mt, false);
    if (fb < 0) continue;
    page* p = free_list_first(z, co, static_cast<unsigned>(fb));
    const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
    del_page_from_free_list(z, p, pfn, co, static_cast<unsigned>(fb));
    expand(z, p, pfn, order, co, static_cast<unsigned>(fb));
    count_extfrag(order, co, false);
    return p;
  }
  return nullptr;
}

page* Buddy::rmqueue(zone* z, unsigned order, unsigned mt, unsigned alloc_flags, rmqueue_mode* mode) {
  // Movable requests use CMA first when more than half of the zone's free
  // memory is CMA (Linux's balance between regular and CMA areas).
  if ((alloc_flags & ALLOC_CMA) && z->vm_stat[NR_FREE_CMA_PAGES] > z->vm_stat[NR_FREE_PAGES] / 2) {
    if (page* p = rmqueue_smallest(z, order, MIGRATE_CMA)) return p;
  }
  page* p = nullptr;
  switch (*mode) {
    case RMQUEUE_NORMAL:
      if ((p = rmqueue_smallest(z, order, mt))) return p;
      [[fallthrough]];
    case RMQUEUE_CMA:
      if (alloc_flags & ALLOC_CMA) {
        if ((p = rmqueue_smallest(z, order, MIGRATE_CMA))) {
          *mode = RMQUEUE_CMA;
          return p;
        }
      }
      [[fallthrough]];
    case RMQUEUE_CLAIM:
      if (mt < MIGRATE_PCPTYPES && (p = rmqueue_claim(z, order, mt, alloc_flags))) {
        *mode = RMQUEUE_NORMAL;  // the preferred list was replenished
        return p;
      }
      [[fallthrough]];
    case RMQUEUE_STEAL:
      if (mt < MIGRATE_PCPTYPES && !(alloc_flags & ALLOC_NOFRAGMENT)) {
        if ((p = rmqueue_steal(z, order, mt))) {
          *mode = RMQUEUE_STEAL;
          return p;
        }
      }
  }
  return nullptr;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<BuddyStats> buddy_stat_table[] = {
    {"splits", &BuddyStats::splits, "blocks split in two on allocation", "count"},
    {"merges", &BuddyStats::merges, "buddy pairs merged on free", "count"},
    {"moved_blocks", &BuddyStats::moved_blocks, "pageblocks whose free pages changed migrate type", "count"},
};
static_assert(stat_table_size(buddy_stat_table) == sizeof(BuddyStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void Buddy::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, buddy_stat_table);
}

}  // namespace fw
