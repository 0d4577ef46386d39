#include "sw/mm/swap_state.h"

#include "sw/block/blk_mq.h"
#include "sw/kernel/params.h"
#include "sw/lib/errno.h"
#include "sw/mm/lru.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "sw/mm/page_io.h"
#include "sw/mm/swapfile.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/workingset.h"

namespace fw {

namespace {

bool is_shadow(uint64_t v) { return v & 1; }

}  // namespace

uint64_t SwapCache::add_to_swap_cache(hal::Hal&, page* p, swp_entry_t e) {
  uint64_t* slot = ctx_->swapfile->cache_slot(e);
  const uint64_t old = *slot;
  *slot = reinterpret_cast<uint64_t>(p);
  SetPageFlag(p, PG_swapcache);
  SetPageFlag(p, PG_swapbacked);
  p->private_ = e.val;
  const int nid = page_to_nid(p);
  ctx_->vmstat->mod(nid, NR_SWAPCACHE, 1);
  ctx_->vmstat->mod(nid, NR_FILE_PAGES, 1);  // Linux counts swap-cache pages there too
  ++ctx_->swapfile->stats().cache_adds;
  return is_shadow(old) ? old : 0;
}

bool SwapCache::add_to_swap(hal::Hal& h, page* p) {
  if (PageSwapCache(p)) return true;
  if (PageCompound(p)) return false;
  const swp_entry_t e = ctx_->swapfile->get_swap_page(h);
  if (!e.val) return false;
  get_page(p);  // the cache's reference
  add_to_swap_cache(h, p, e);
  SetPageFlag(p, PG_uptodate);  // its contents are what the slot will hold
  // The PTEs' D bits move to the page at unmap; a page reclaim found clean
  // (MADV_FREE aside) must still reach the slot once.
  SetPageFlag(p, PG_dirty);
  return true;
}

int SwapCache::swap_writepage(hal::Hal& h, page* p) {
  if (!PageSwapCache(p)) return -EINVAL;
  return swap_write_folio(h, ctx_, p);
}

void SwapCache::delete_from_swap_cache(hal::Hal& h, page* p, uint64_t shadow) {
  const swp_entry_t e{p->private_};
  if (uint64_t* slot = ctx_->swapfile->cache_slot(e)) {
    *slot = shadow;
    if (shadow) ++ctx_->swapfile->stats().shadows_stored;
  }
  ClearPageFlag(p, PG_swapcache);
  p->private_ = 0;
  const int nid = page_to_nid(p);
  ctx_->vmstat->mod(nid, NR_SWAPCACHE, -1);
  ctx_->vmstat->mod(nid, NR_FILE_PAGES, -1);
  ++ctx_->swapfile->stats().cache_deletes;
  // With no PTE left on the slot this frees it (and the shadow with it).
  ctx_->swapfile->put_swap_cache(h, e);
}

bool SwapCache::folio_free_swap(hal::Hal& h, page* p) {
  if (!PageSwapCache(p) || PageFlag(p, PG_writeback) || PageFlag(p, PG_locked)) return false;
  if (ctx_->swapfile->swap_count(swp_entry_t{p->private_})) return false;
  delete_from_swap_cache(h, p, 0);
  ++ctx_->swapfile->stats().cache_freed;
  ctx_->page_alloc->put_page(h, p);  // the cache's reference
  return true;
}

void SwapCache::replace_page(hal::Hal&, page* src, page* dst) {
  const swp_entry_t e{src->private_};
  if (uint64_t* slot = ctx_->swapfile->cache_slot(e)) *slot = reinterpret_cast<uint64_t>(dst);
  SetPageFlag(dst, PG_swapcache);
  dst->private_ = e.val;
  ClearPageFlag(src, PG_swapcache);
  src->private_ = 0;
  // The cache's reference moves with the slot; NR_SWAPCACHE follows the node.
  get_page(dst);
  put_page_testzero(src);
  if (page_to_nid(src) != page_to_nid(dst)) {
    ctx_->vmstat->mod(page_to_nid(src), NR_SWAPCACHE, -1);
    ctx_->vmstat->mod(page_to_nid(src), NR_FILE_PAGES, -1);
    ctx_->vmstat->mod(page_to_nid(dst), NR_SWAPCACHE, 1);
    ctx_->vmstat->mod(page_to_nid(dst), NR_FILE_PAGES, 1);
  }
}

page* SwapCache::lookup(hal::Hal&, swp_entry_t e) {
  const uint64_t* slot = ctx_->swapfile->cache_slot(e);
  if (!slot || !*slot || is_shadow(*slot)) return nullptr;
  page* p = reinterpret_cast<page*>(*slot);
  get_page(p);
  // A page read ahead of its fault: the window was worth it.
  if (PageFlag(p, PG_readahead)) {
    ClearPageFlag(p, PG_readahead);
    ctx_->vmstat->count(SWAP_RA_HIT);
    ++ra_hits_;
  }
  return p;
}

page* SwapCache::read_swap_cache_async(hal::Hal& h, swp_entry_t e, bool* allocated) {
  *allocated = false;
  Swapfile& sf = *ctx_->swapfile;
  for (;;) {
    const uint64_t* slot = sf.cache_slot(e);
    if (slot && *slot && !is_shadow(*slot)) {
      page* p = reinterpret_cast<page*>(*slot);
      get_page(p);
      return p;
    }
    if (!sf.swap_count(e)) return nullptr;  // freed meanwhile
    page* p = ctx_->page_alloc->alloc_pages(h, GFP_HIGHUSER_MOVABLE, 0);
    if (!p) return nullptr;
    const int r = sf.swapcache_prepare(e);
    if (r) {
      ctx_->page_alloc->put_page(h, p);
      if (r == -EEXIST) continue;  // another CPU added it while we allocated
      return nullptr;
    }
    SetPageFlag(p, PG_locked);
    // The allocation's reference becomes the cache's; this one the caller's.
    const uint64_t shadow = add_to_swap_cache(h, p, e);
    get_page(p);
    if (shadow) {
      ++sf.stats().shadows_refaulted;
      ctx_->workingset->refault(h, p, shadow);
    }
    ctx_->lru->add(h, p);
    *allocated = true;
    return p;
  }
}

uint64_t SwapCache::swapin_nr_pages(uint64_t offset) {
  const uint32_t cluster = ctx_->params->page_cluster;
  const uint64_t max_pages = cluster >= 31 ? 1ull << 31 : 1ull << cluster;
  if (max_pages <= 1) return 1;
  // Linux __swapin_nr_pages: hits + 2, rounded up to a power of two from 4;
  // with no hits, one page unless the offset continues the last one.
  const uint64_t hits = ra_hits_;
  ra_hits_ = 0;
  uint64_t pages = hits + 2;
  if (pages == 2) {
    if (offset != prev_offset_ + 1 && offset + 1 != prev_offset_) pages = 1;
  } else {
    uint64_t roundup = 4;
    while (roundup < pages) roundup <<= 1;
    pages = roundup;
  }
  if (pages > max_pages) pages = max_pages;
  if (pages < last_ra_pages_ / 2) pages = last_ra_pages_ / 2;  // shrink no faster than by half
  if (!hits) prev_offset_ = offset;
  last_ra_pages_ = pages;
  return pages;
}

page* SwapCache::swapin_readahead(hal::Hal& h, swp_entry_t e) {
  const swap_info_struct* si = ctx_->swapfile->swap_info(e);
  if (!si) return nullptr;
  const uint64_t offset = swp_offset(e);
  const uint64_t mask = swapin_nr_pages(offset) - 1;
  bool allocated;
  if (mask) {
    // An aligned cluster around the slot (the first slot is the header).
    uint64_t start = offset & ~mask, end = offset | mask;
    if (!start) start = 1;
    if (end >= si->max) end = si->max - 1;
    ++ctx_->swapfile->stats().ra_windows;
    ctx_->swapfile->trace(h, "swap: readahead %u:%lu-%lu for %lu", swp_type(e), static_cast<unsigned long>(start),
                          static_cast<unsigned long>(end), static_cast<unsigned long>(offset));
    blk_plug plug;
    blk_start_plug(h, &plug);
    for (uint64_t o = start; o <= end; ++o) {
      const swp_entry_t oe = swp_entry(swp_type(e), o);
      if (o != offset && !ctx_->swapfile->swap_count(oe)) continue;  // a free slot: nothing to read
      page* p = read_swap_cache_async(h, oe, &allocated);
      if (!p) continue;
      if (allocated) {
        swap_read_folio(h, ctx_, p);
        if (o != offset) {
          SetPageFlag(p, PG_readahead);
          ctx_->vmstat->count(SWAP_RA);
          ++ctx_->swapfile->stats().ra_pages;
        }
      }
      ctx_->page_alloc->put_page(h, p);
    }
    blk_finish_plug(h, &plug);
  }
  page* p = read_swap_cache_async(h, e, &allocated);
  if (p && allocated) swap_read_folio(h, ctx_, p);
  return p;
}

int SwapCache::wait_on_read(hal::Hal& h, page* p) {
  while (PageFlag(p, PG_locked)) h.cpu_relax();
  return PageFlag(p, PG_uptodate) ? 0 : -EIO;
}

}  // namespace fw
