#include "sw/mm/buddy.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/vmstat.h"

namespace fw {

unsigned gfp_zone(gfp_t gfp) {
  // Linux's GFP_ZONE_TABLE for a 64-bit kernel: HIGHMEM alone and MOVABLE
  // alone mean NORMAL; both together mean MOVABLE.
  if (gfp & __GFP_DMA) return ZONE_DMA;
  if (gfp & __GFP_DMA32) return ZONE_DMA32;
  if ((gfp & (__GFP_MOVABLE | __GFP_HIGHMEM)) == (__GFP_MOVABLE | __GFP_HIGHMEM)) return ZONE_MOVABLE;
  return ZONE_NORMAL;
}

unsigned gfp_migratetype(gfp_t gfp) {
  if (gfp & __GFP_MOVABLE) return MIGRATE_MOVABLE;
  if (gfp & __GFP_RECLAIMABLE) return MIGRATE_RECLAIMABLE;
  return MIGRATE_UNMOVABLE;
}

namespace {
// Linux's fallback order between the per-CPU-list types.
constexpr unsigned kFallbacks[MIGRATE_PCPTYPES][MIGRATE_PCPTYPES - 1] = {
    {MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE},    // UNMOVABLE
    {MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE},  // MOVABLE
    {MIGRATE_UNMOVABLE, MIGRATE_MOVABLE},      // RECLAIMABLE
};
}  // namespace

void Buddy::add_to_free_list(page* p, zone* z, unsigned order, unsigned mt) {
  set_buddy_order(p, order);
  list_add(&p->lru, &z->free_area[order].free_list[mt]);
  ++z->free_area[order].nr_free;
}

void Buddy::del_from_free_list(page* p, zone* z, unsigned order) {
  list_del(&p->lru);
  __ClearPageBuddy(p);
  p->private_ = 0;
  --z->free_area[order].nr_free;
}

void Buddy::account_free(zone* z, int64_t delta) {
  z->free_pages += static_cast<uint64_t>(delta);
  free_pages_ += static_cast<uint64_t>(delta);
  if (booted_ && delta < 0) {
    if (free_pages_ < stats_.min_free_pages) stats_.min_free_pages = free_pages_;
    if (z->free_pages < z->min_free_pages) z->min_free_pages = z->free_pages;
  }
}

bool Buddy::page_is_buddy(const zone* z, const page* p, const page* buddy, uint64_t buddy_pfn,
                          unsigned order) const {
  // The buddy must be a free block of exactly this order in the same zone
  // (the span check keeps us inside this node's memmap).
  if (!z->spans(buddy_pfn)) return false;
  return PageBuddy(buddy) && buddy_order(buddy) == order && page_zone_id(buddy) == page_zone_id(p);
}

void Buddy::free_one_page(zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt) {
  while (order < MAX_PAGE_ORDER) {
    const uint64_t buddy_pfn = pfn ^ (1ull << order);
    page* buddy = p + (static_cast<int64_t>(buddy_pfn) - static_cast<int64_t>(pfn));
    if (!page_is_buddy(z, p, buddy, buddy_pfn, order)) break;
    del_from_free_list(buddy, z, order);
    ++stats_.merges;
    const uint64_t combined = buddy_pfn & pfn;
    p = p + (static_cast<int64_t>(combined) - static_cast<int64_t>(pfn));
    pfn = combined;
    ++order;
  }
  add_to_free_list(p, z, order, mt);
}

void Buddy::expand(zone* z, page* p, unsigned low, unsigned high, unsigned mt) {
  uint64_t size = 1ull << high;
  while (high > low) {
    --high;
    size >>= 1;
    add_to_free_list(p + size, z, high, mt);  // the upper half stays free
    ++stats_.splits;
  }
}

page* Buddy::rmqueue_smallest(zone* z, unsigned order, unsigned mt) {
  for (unsigned o = order; o < NR_PAGE_ORDERS; ++o) {
    list_head* l = &z->free_area[o].free_list[mt];
    if (list_empty(l)) continue;
    page* p = list_first_entry(l, page, lru);
    del_from_free_list(p, z, o);
    expand(z, p, order, o, mt);
    return p;
  }
  return nullptr;
}

page* Buddy::rmqueue(zone* z, unsigned order, unsigned mt) {
  page* p = rmqueue_smallest(z, order, mt);
  if (p || mt >= MIGRATE_PCPTYPES) return p;
  // Borrow from the other types without stealing pageblocks (issue 3).
  for (unsigned fb : kFallbacks[mt]) {
    p = rmqueue_smallest(z, order, fb);
    if (p) return p;
  }
  return nullptr;
}

void Buddy::prep_new_page(hal::Hal& h, page* p, unsigned order) {
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    FW_BUG_ON(*ctx_->log, h, (q->flags & PAGE_FLAGS_CHECK_AT_FREE) || PageBuddy(q) || q->_mapcount != -1 ||
                                 q->_refcount != 0 || PageHWPoison(q));
  }
  p->private_ = 0;
  set_page_count(p, 1);
}

page* Buddy::alloc_pages(hal::Hal& h, gfp_t gfp, unsigned order, int nid) {
  if (order > MAX_PAGE_ORDER) {
    ++stats_.alloc_failed;
    return nullptr;
  }
  MmNodes& nodes = *ctx_->nodes;
  if (nid < 0 || static_cast<unsigned>(nid) >= nodes.nr_nodes()) nid = nodes.cpu_to_node(h.cpu());
  const unsigned highest = gfp_zone(gfp);
  const unsigned mt = gfp_migratetype(gfp);

  // A few rounds: a block found poisoned when zeroed is taken out of use
  // and the request tried again.
  for (int round = 0; round < 8; ++round) {
    page* p = nullptr;
    zone* from = nullptr;
    for (zone* const* zl = nodes.node(nid).zonelist; *zl; ++zl) {
      zone* z = *zl;
      if (z->idx > highest || !z->managed()) continue;
      if ((gfp & __GFP_THISNODE) && z->node != nid) continue;
      LockGuard g(z->lock, h);
      p = rmqueue(z, order, mt);
      if (p) {
        account_free(z, -static_cast<int64_t>(1ull << order));
        from = z;
        break;
      }
    }
    if (!p) break;
    ctx_->charge(h, ctx_->params->cost_page_alloc_ns);
    ++stats_.alloc_calls;
    ++stats_.alloc_order[order];
    ctx_->vmstat->event[PGALLOC_DMA + from->idx] += 1ull << order;
    prep_new_page(h, p, order);
    if (!(gfp & __GFP_ZERO)) return p;

    // Zero through the HAL so poisoned memory is seen rather than handed out.
    const uint64_t pa = nodes.page_to_phys(p);
    ctx_->charge(h, ctx_->params->cost_page_zero_ns << order);
    if (h.phys_fill(pa, 0, PAGE_SIZE << order) == hal::MemStatus::ok) return p;
    // Keep the bad pages, give the good ones back, try again.
    for (uint64_t i = 0; i < (1ull << order); ++i) {
      page* q = p + i;
      set_page_count(q, 1);
      if (h.phys_fill(pa + i * PAGE_SIZE, 0, PAGE_SIZE) == hal::MemStatus::ok) {
        free_pages(h, q, 0);
      } else {
        SetPageHWPoison(q);
        ++ctx_->vmstat->gauge[NR_HWPOISON];
        ++ctx_->vmstat->event[HWPOISON_ALLOC_SKIPPED];
        ctx_->log->printk(h, LOGLEVEL_WARNING, "mm: pfn %#lx is poisoned, taken out of use",
                          static_cast<unsigned long>(nodes.page_to_pfn(q)));
      }
    }
  }
  ++stats_.alloc_failed;
  if (!(gfp & __GFP_NOWARN) && fail_reports_ < 10) {
    ++fail_reports_;
    ctx_->log->printk(h, LOGLEVEL_WARNING, "page allocation failure: order:%u, mode:%#x, nid:%d, free:%lu", order,
                      gfp, nid, static_cast<unsigned long>(free_pages_));
  }
  return nullptr;
}

bool Buddy::check_free(hal::Hal& h, page* p, unsigned order) {
  bool poisoned = false;
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    if (PageHWPoison(q)) poisoned = true;
    if ((q->flags & PAGE_FLAGS_CHECK_AT_FREE) || q->_mapcount != -1 || PageBuddy(q) || (i && q->_refcount != 0))
      ctx_->log->panic(h, "Bad page state: pfn %#lx flags %#lx mapcount %d refcount %d",
                       static_cast<unsigned long>(ctx_->nodes->page_to_pfn(q)),
                       static_cast<unsigned long>(q->flags), q->_mapcount, q->_refcount);
  }
  return poisoned;
}

void Buddy::free_pages(hal::Hal& h, page* p, unsigned order) {
  if (!put_page_testzero(p)) return;
  MmNodes& nodes = *ctx_->nodes;
  if (check_free(h, p, order)) {
    // Pages holding poison never return to the free lists (Linux
    // free_pages_prepare); the healthy rest of the block does, page by page.
    for (uint64_t i = 0; i < (1ull << order); ++i) {
      page* q = p + i;
      set_page_count(q, 1);  // a poisoned page stays owned, by nobody
      if (!PageHWPoison(q)) free_pages(h, q, 0);
    }
    return;
  }
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    q->flags &= ~PAGE_FLAGS_CLEAR_AT_FREE;
    q->mapping = 0;
    q->index = 0;
    q->private_ = 0;
  }
  const uint64_t pfn = nodes.page_to_pfn(p);
  zone* z = nodes.page_zone(p);
  {
    LockGuard g(z->lock, h);
    free_one_page(z, p, pfn, order, get_pageblock_migratetype(pfn));
    account_free(z, static_cast<int64_t>(1ull << order));
  }
  ++stats_.free_calls;
  ctx_->vmstat->event[PGFREE] += 1ull << order;
  ctx_->charge(h, ctx_->params->cost_page_alloc_ns);
}

uint64_t Buddy::alloc_phys(hal::Hal& h, gfp_t gfp, unsigned order, int nid) {
  page* p = alloc_pages(h, gfp, order, nid);
  return p ? ctx_->nodes->page_to_phys(p) : 0;
}

void Buddy::free_phys(hal::Hal& h, uint64_t pa, unsigned order) {
  page* p = ctx_->nodes->phys_to_page(pa);
  FW_BUG_ON(*ctx_->log, h, p == nullptr);
  free_pages(h, p, order);
}

void Buddy::free_boot_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  while (start_pfn < end_pfn) {
    unsigned order = start_pfn ? min(MAX_PAGE_ORDER, ffs64(start_pfn)) : MAX_PAGE_ORDER;
    while (start_pfn + (1ull << order) > end_pfn) --order;
    page* p = nodes.pfn_to_page(start_pfn);
    FW_BUG_ON(*ctx_->log, h, p == nullptr);
    zone* z = nodes.page_zone(p);
    FW_BUG_ON(*ctx_->log, h, !z->spans(start_pfn + (1ull << order) - 1));
    for (uint64_t i = 0; i < (1ull << order); ++i) {
      ClearPageReserved(p + i);
      set_page_count(p + i, 0);
    }
    z->managed_pages += 1ull << order;
    {
      LockGuard g(z->lock, h);
      free_one_page(z, p, start_pfn, order, get_pageblock_migratetype(start_pfn));
      account_free(z, static_cast<int64_t>(1ull << order));
    }
    start_pfn += 1ull << order;
  }
}

void Buddy::boot_done() {
  booted_ = true;
  stats_.boot_free_pages = free_pages_;
  stats_.min_free_pages = free_pages_;
  MmNodes& nodes = *ctx_->nodes;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      zone& zn = nodes.node(static_cast<int>(n)).node_zones[z];
      zn.min_free_pages = zn.free_pages;
    }
}

uint64_t Buddy::nr_free_blocks(unsigned order) const {
  uint64_t n = 0;
  const MmNodes& nodes = *ctx_->nodes;
  for (unsigned nd = 0; nd < nodes.nr_nodes(); ++nd)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) n += nodes.node(static_cast<int>(nd)).node_zones[z].free_area[order].nr_free;
  return n;
}

}  // namespace fw
