#include "sw/mm/page_isolation.h"

#include "sw/lib/bitops.h"
#include "sw/lib/errno.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/huge_memory.h"
#include "sw/mm/internal.h"
#include "sw/mm/lru.h"
#include "sw/mm/migrate.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/pcp.h"

namespace fw {

bool PageIsolation::has_unmovable_pages(zone* z, uint64_t block_pfn, unsigned mt) {
  // CMA blocks only ever hold movable pages: movable for CMA's own use.
  const unsigned bmt = z->get_pfnblock_migratetype(block_pfn);
  if (bmt == MIGRATE_CMA) return mt != MIGRATE_CMA;
  if (z->pfnblock_deferred(block_pfn)) return false;  // wholly free
  if (z->pfnblock_reserved_deferred(block_pfn)) return true;  // wholly reserved (struct pages not written yet)
  MmNodes& nodes = *ctx_->nodes;
  const uint64_t end = min(pageblock_end_pfn(block_pfn), z->zone_end_pfn());
  for (uint64_t pfn = max(block_pfn, z->zone_start_pfn); pfn < end;) {
    page* p = nodes.pfn_to_page(pfn);
    if (PageBuddy(p)) {
      pfn += 1ull << buddy_order(p);
      continue;
    }
    if (PageReserved(p)) return true;
    // On the LRU or already isolated for migration: movable. No
    // references: on its way to the free lists (per-CPU lists).
    if (PageLRU(p) || PageIsolated(p) || page_ref_count(p) == 0 || PageHWPoison(p)) {
      ++pfn;
      continue;
    }
    return true;
  }
  return false;
}

int PageIsolation::set_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt) {
  Buddy& b = *ctx_->buddy;
  LockGuard g(z->lock, h);
  const unsigned cur = z->get_pfnblock_migratetype(block_pfn);
  if (cur == MIGRATE_ISOLATE || has_unmovable_pages(z, block_pfn, mt)) {
    ++stats_.busy_blocks;
    return -EBUSY;
  }
  // A free block larger than a pageblock would carry its neighbours along.
  uint64_t hp = 0;
  if (page* head = b.find_free_block(z, block_pfn, &hp))
    if (buddy_order(head) > pageblock_order) b.split_large_buddy(z, head, hp);
  if (b.move_freepages_block(z, block_pfn, cur, MIGRATE_ISOLATE) < 0) {
    ++stats_.busy_blocks;
    return -EBUSY;
  }
  ++stats_.isolated_blocks;
  return 0;
}

void PageIsolation::unset_migratetype_isolate(hal::Hal& h, zone* z, uint64_t block_pfn, unsigned mt) {
  Buddy& b = *ctx_->buddy;
  MmNodes& nodes = *ctx_->nodes;
  LockGuard g(z->lock, h);
  if (z->get_pfnblock_migratetype(block_pfn) != MIGRATE_ISOLATE) return;
  b.move_freepages_block(z, block_pfn, MIGRATE_ISOLATE, mt);
  // Whole free pageblocks could not merge with their neighbours while
  // isolated: free them again so they do now.
  page* p = nodes.pfn_to_page(block_pfn);
  if (z->spans(block_pfn) && PageBuddy(p) && buddy_order(p) >= pageblock_order && buddy_order(p) < MAX_PAGE_ORDER) {
    const unsigned order = buddy_order(p);
    b.del_page_from_free_list(z, p, block_pfn, order, mt);
    b.free_one_page(z, p, block_pfn, order, mt);
  }
}

int PageIsolation::start_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt) {
  MmNodes& nodes = *ctx_->nodes;
  for (uint64_t pfn = start_pfn; pfn < end_pfn; pfn += pageblock_nr_pages) {
    zone* z = nodes.pfn_zone(pfn);
    if (!z || set_migratetype_isolate(h, z, pfn, mt)) {
      undo_isolate_page_range(h, start_pfn, pfn, mt);
      return -EBUSY;
    }
  }
  return 0;
}

void PageIsolation::undo_isolate_page_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt) {
  MmNodes& nodes = *ctx_->nodes;
  for (uint64_t pfn = start_pfn; pfn < end_pfn; pfn += pageblock_nr_pages)
    if (zone* z = nodes.pfn_zone(pfn)) unset_migratetype_isolate(h, z, pfn, mt);
}

int PageIsolation::test_pages_isolated(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  Buddy& b = *ctx_->buddy;
  for (uint64_t pfn = pageblock_start_pfn(start_pfn); pfn < end_pfn; pfn += pageblock_nr_pages) {
    zone* z = nodes.pfn_zone(pfn);
    if (!z || z->get_pfnblock_migratetype(pfn) != MIGRATE_ISOLATE) return -EBUSY;
  }
  for (uint64_t pfn = start_pfn; pfn < end_pfn;) {
    zone* z = nodes.pfn_zone(pfn);
    LockGuard g(z->lock, h);
    uint64_t hp = 0;
    page* head = b.find_free_block(z, pfn, &hp);
    if (!head) return -EBUSY;
    pfn = hp + (1ull << buddy_order(head));
  }
  return 0;
}

uint64_t PageIsolation::isolate_freepages_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn,
                                                uint64_t* outer_start) {
  Buddy& b = *ctx_->buddy;
  MmNodes& nodes = *ctx_->nodes;
  list_head taken;
  INIT_LIST_HEAD(&taken);
  uint64_t pfn = start_pfn;
  *outer_start = start_pfn;
  bool ok = true;
  {
    LockGuard g(z->lock, h);
    while (pfn < end_pfn) {
      uint64_t hp = 0;
      page* head = b.find_free_block(z, pfn, &hp);
      if (!head) {
        ok = false;
        break;
      }
      const unsigned order = buddy_order(head);
      b.del_page_from_free_list(z, head, hp, order, z->get_pfnblock_migratetype(hp));
      if (order == MAX_PAGE_ORDER && z->pfnblock_deferred(hp)) nodes.init_deferred_block(z, hp);
      if (pfn == start_pfn) *outer_start = hp;
      head->private_ = order;
      list_add_tail(&head->lru, &taken);
      pfn = hp + (1ull << order);
    }
    if (!ok) {
      while (!list_empty(&taken)) {
        page* p = list_first_entry(&taken, page, lru);
        list_del(&p->lru);
        const unsigned order = static_cast<unsigned>(p->private_);
        p->private_ = 0;
        const uint64_t ppfn = nodes.page_to_pfn(p);
        b.free_one_page(z, p, ppfn, order, z->get_pfnblock_migratetype(ppfn));
      }
      return 0;
    }
  }
  // Every page of the blocks becomes an allocated order-0 page.
  while (!list_empty(&taken)) {
    page* p = list_first_entry(&taken, page, lru);
    list_del(&p->lru);
    const unsigned order = static_cast<unsigned>(p->private_);
    p->private_ = 0;
    for (uint64_t i = 0; i < (1ull << order); ++i) set_page_count(p + i, 1);
  }
  return pfn;
}

int PageIsolation::migrate_range(hal::Hal& h, zone* z, uint64_t start_pfn, uint64_t end_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  Lru& lru = *ctx_->lru;
  Migrate& mig = *ctx_->migrate;
  list_head pages;
  INIT_LIST_HEAD(&pages);
  uint64_t pfn = start_pfn;
  int tries = 0;
  int ret = 0;
  int split_tries = 0;
  while (pfn < end_pfn || !list_empty(&pages)) {
    if (list_empty(&pages)) {
      unsigned n = 0;
      for (; pfn < end_pfn && n < 32;) {
        if (z->pfnblock_deferred(pfn)) {
          pfn = align_up(pfn + 1, MAX_ORDER_NR_PAGES);
          continue;
        }
        if (z->pfnblock_reserved_deferred(pfn)) {  // reserved pages (not written yet): nothing to move
          split_tries = 0;                         // as each of them would have reset it
          pfn = align_up(pfn + 1, MAX_ORDER_NR_PAGES);
          continue;
        }
        page* p = nodes.pfn_to_page(pfn);
        if (PageBuddy(p)) {
          pfn += 1ull << buddy_order(p);
          continue;
        }
        // A transparent huge page in the way: split it, then its pieces move.
        page* head = compound_head(p);
        if (PageTransHuge(head) && PageLRU(head) && split_tries < 4) {
          ++split_tries;
          get_page(head);
          ctx_->huge_memory->split_huge_page(h, head);
          ctx_->page_alloc->put_page(h, head);
          continue;
        }
        split_tries = 0;
        if (PageLRU(p) && lru.isolate(h, p)) {
          list_add_tail(&p->lru, &pages);
          ++n;
        }
        ++pfn;
      }
      tries = 0;
      if (!n) continue;
    } else if (++tries == 5) {
      ret = -EBUSY;
      break;
    }
    ret = mig.migrate_pages(h, &pages, Migrate::alloc_migration_target, Migrate::free_migration_target, ctx_,
                            MIGRATE_SYNC, nullptr);
    if (ret == -ENOMEM) break;
    ret = 0;
  }
  if (!list_empty(&pages)) {
    mig.putback_movable_pages(h, &pages);
    if (!ret) ret = -EBUSY;
  }
  return ret;
}

int PageIsolation::alloc_contig_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn, unsigned mt, gfp_t gfp) {
  (void)gfp;
  MmNodes& nodes = *ctx_->nodes;
  zone* z = nodes.pfn_zone(start_pfn);
  if (!z || end_pfn <= start_pfn || !z->spans(end_pfn - 1)) return -EINVAL;
  const uint64_t iso_start = pageblock_start_pfn(start_pfn);
  const uint64_t iso_end = align_up(end_pfn, pageblock_nr_pages);
  int ret = start_isolate_page_range(h, iso_start, iso_end, mt);
  if (ret) {
    ++stats_.contig_failed;
    return ret;
  }
  // Free pages parked on per-CPU lists belong to the range too.
  ctx_->pcp->drain_all_pages(h, z);
  ret = migrate_range(h, z, start_pfn, end_pfn);
  if (!ret) {
    ctx_->pcp->drain_all_pages(h, z);
    ret = test_pages_isolated(h, start_pfn, end_pfn);
  }
  uint64_t outer_start = start_pfn, outer_end = 0;
  if (!ret) {
    outer_end = isolate_freepages_range(h, z, start_pfn, end_pfn, &outer_start);
    if (!outer_end) ret = -EBUSY;
  }
  if (!ret) {
    // What the free blocks held beyond the range goes back (to the
    // isolated lists, then with the undo to where it belongs).
    if (outer_start < start_pfn) free_contig_range(h, outer_start, start_pfn - outer_start);
    if (outer_end > end_pfn) free_contig_range(h, end_pfn, outer_end - end_pfn);
  }
  undo_isolate_page_range(h, iso_start, iso_end, mt);
  if (ret) ++stats_.contig_failed;
  else ++stats_.contig_success;
  return ret;
}

void PageIsolation::free_contig_range(hal::Hal& h, uint64_t pfn, uint64_t nr_pages) {
  MmNodes& nodes = *ctx_->nodes;
  for (uint64_t i = 0; i < nr_pages; ++i) ctx_->page_alloc->free_pages(h, nodes.pfn_to_page(pfn + i), 0);
}

bool PageIsolation::range_valid_contig(zone* z, uint64_t start_pfn, uint64_t nr_pages) {
  const uint64_t end = start_pfn + nr_pages;
  if (!z->spans(start_pfn) || !z->spans(end - 1)) return false;
  MmNodes& nodes = *ctx_->nodes;
  for (uint64_t pfn = start_pfn; pfn < end;) {
    if (z->pfnblock_deferred(pfn)) {  // one free max-order block
      pfn = align_up(pfn + 1, MAX_ORDER_NR_PAGES);
      continue;
    }
    const unsigned mt = z->get_pfnblock_migratetype(pfn);
    if (mt == MIGRATE_CMA || mt == MIGRATE_ISOLATE) return false;
    if (z->pfnblock_reserved_deferred(pfn)) return false;  // reserved (struct pages not written yet)
    page* p = nodes.pfn_to_page(pfn);
    if (PageBuddy(p)) {
      pfn += 1ull << buddy_order(p);
      continue;
    }
    if (PageReserved(p) || PageHuge(compound_head(p)) || PageSlab(p) || PageTable(p)) return false;
    ++pfn;
  }
  return true;
}

page* PageIsolation::alloc_contig_pages(hal::Hal& h, uint64_t nr_pages, int nid, unsigned max_zone) {
  MmNodes& nodes = *ctx_->nodes;
  for (unsigned k = 0; k < nodes.nr_nodes(); ++k) {
    const int n = nid < 0 ? static_cast<int>(k) : nid;
    if (nid >= 0 && k) break;
    pglist_data& pg = nodes.node(n);
    for (int zi = static_cast<int>(min<unsigned>(max_zone, MAX_NR_ZONES - 1)); zi >= 0; --zi) {
      zone* z = &pg.node_zones[zi];
      if (!z->populated() || z->spanned_pages < nr_pages || z->zone_end_pfn() < nr_pages) continue;
      for (uint64_t pfn = align_down(z->zone_end_pfn() - nr_pages, nr_pages); pfn >= z->zone_start_pfn;
           pfn -= nr_pages) {
        if (range_valid_contig(z, pfn, nr_pages) &&
            alloc_contig_range(h, pfn, pfn + nr_pages, MIGRATE_MOVABLE, GFP_KERNEL) == 0)
          return nodes.pfn_to_page(pfn);
        if (pfn < nr_pages) break;
      }
    }
  }
  return nullptr;
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<IsolationStats> isolation_stat_table[] = {
    {"isolated_blocks", &IsolationStats::isolated_blocks, "pageblocks isolated", "count"},
    {"busy_blocks", &IsolationStats::busy_blocks, "pageblocks not isolated: unmovable pages", "count"},
    {"contig_success", &IsolationStats::contig_success, "alloc_contig_range calls that succeeded", "count"},
    {"contig_failed", &IsolationStats::contig_failed, "alloc_contig_range calls that failed", "count"},
};
static_assert(stat_table_size(isolation_stat_table) == sizeof(IsolationStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void PageIsolation::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, isolation_stat_table);
}

}  // namespace fw
