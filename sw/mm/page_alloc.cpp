#include "sw/mm/page_alloc.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/compaction.h"
#include "sw/mm/hugetlb.h"
#include "sw/mm/lru.h"
#include "sw/mm/memblock.h"
#include "sw/mm/oom_kill.h"
#include "sw/mm/pcp.h"
#include "sw/mm/mlock.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/vmstat.h"
#include "sw/mm/watermark.h"

namespace fw {

namespace {
// Linux's GFP_ZONE_TABLE on x86-64 (no highmem): index = the four zone
// modifier bits DMA, HIGHMEM, DMA32, MOVABLE.
constexpr uint8_t kZoneTable[16] = {
    ZONE_NORMAL,   // none
    ZONE_DMA,      // DMA
    ZONE_NORMAL,   // HIGHMEM (no highmem: Normal)
    kGfpZoneBad,   // DMA | HIGHMEM
    ZONE_DMA32,    // DMA32
    kGfpZoneBad,   // DMA | DMA32
    kGfpZoneBad,   // HIGHMEM | DMA32
    kGfpZoneBad,   // DMA | HIGHMEM | DMA32
    ZONE_NORMAL,   // MOVABLE
    ZONE_DMA,      // MOVABLE | DMA
    ZONE_MOVABLE,  // MOVABLE | HIGHMEM
    kGfpZoneBad,   // MOVABLE | DMA | HIGHMEM
    ZONE_DMA32,    // MOVABLE | DMA32
    kGfpZoneBad, kGfpZoneBad, kGfpZoneBad,
};
constexpr int MAX_COMPACT_RETRIES = 16;
}  // namespace

unsigned gfp_zone(gfp_t gfp) {
  const uint8_t z = kZoneTable[gfp & GFP_ZONEMASK];
  return z == kGfpZoneBad ? static_cast<unsigned>(ZONE_NORMAL) : z;
}

bool gfp_zone_valid(gfp_t gfp) { return kZoneTable[gfp & GFP_ZONEMASK] != kGfpZoneBad; }

// ---------------------------------------------------------------- boot

void PageAlloc::free_boot_range(hal::Hal& h, uint64_t start_pfn, uint64_t end_pfn) {
  MmNodes& nodes = *ctx_->nodes;
  Buddy& b = *ctx_->buddy;
  while (start_pfn < end_pfn) {
    unsigned order = start_pfn ? min(MAX_PAGE_ORDER, ffs64(start_pfn)) : MAX_PAGE_ORDER;
    while (start_pfn + (1ull << order) > end_pfn) --order;
    zone* z = nodes.pfn_zone(start_pfn);
    FW_BUG_ON(*ctx_->log, h, z == nullptr || !z->spans(start_pfn + (1ull << order) - 1));
    z->managed_pages += 1ull << order;
    if (z->pfnblock_deferred(start_pfn)) {
      // A deferred block, untouched so far: free without writing its struct pages.
      FW_BUG_ON(*ctx_->log, h, order != MAX_PAGE_ORDER);
      LockGuard g(z->lock, h);
      b.add_lazy_block(z, start_pfn, z->get_pfnblock_migratetype(start_pfn));
      start_pfn += 1ull << order;
      continue;
    }
    page* p = nodes.pfn_to_page(start_pfn);
    for (uint64_t i = 0; i < (1ull << order); ++i) {
      ClearPageReserved(p + i);
      set_page_count(p + i, 0);
    }
    {
      LockGuard g(z->lock, h);
      b.free_one_page(z, p, start_pfn, order, z->get_pfnblock_migratetype(start_pfn));
    }
    start_pfn += 1ull << order;
  }
}

void PageAlloc::free_bootmem(hal::Hal& h, const Memblock& mb) {
  MmNodes& nodes = *ctx_->nodes;
  mb.for_each_free_range([&](uint64_t s, uint64_t e, int) {
    uint64_t spfn = PFN_UP(s);
    const uint64_t epfn = PFN_DOWN(e);
    while (spfn < epfn) {
      zone* z = nodes.pfn_zone(spfn);
      if (!z) {
        ++spfn;
        continue;
      }
      const uint64_t cut = min(epfn, z->zone_end_pfn());
      free_boot_range(h, spfn, cut);
      spfn = cut;
    }
    return true;
  });
}

void PageAlloc::boot_done() {
  booted_ = true;
  stats_.boot_free_pages = nr_free_pages();
  ctx_->buddy->reset_min_free();
  MmNodes& nodes = *ctx_->nodes;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) {
      zone& zn = nodes.node(static_cast<int>(n)).node_zones[z];
      zn.min_free_pages = zn.free_pages();
    }
}

uint64_t PageAlloc::nr_free_pages() const { return ctx_->buddy->nr_free_pages() + ctx_->pcp->nr_pcp_pages(); }

uint64_t PageAlloc::min_free_pages() const { return ctx_->buddy->min_free_pages(); }

uint64_t PageAlloc::nr_free_blocks(unsigned order) const {
  uint64_t n = 0;
  const MmNodes& nodes = *ctx_->nodes;
  for (unsigned nd = 0; nd < nodes.nr_nodes(); ++nd)
    for (unsigned z = 0; z < MAX_NR_ZONES; ++z) n += nodes.node(static_cast<int>(nd)).node_zones[z].free_area[order].nr_free;
  return n;
}

// ---------------------------------------------------------------- allocation

bool PageAlloc::prepare_alloc(hal::Hal& h, gfp_t gfp, int nid, alloc_context* ac) const {
  MmNodes& nodes = *ctx_->nodes;
  ac->cpu = h.cpu();
  ac->cpu_nid = nodes.cpu_to_node(ac->cpu);
  if (nid < 0 || static_cast<unsigned>(nid) >= nodes.nr_nodes()) nid = ac->cpu_nid;
  if (!gfp_zone_valid(gfp) || gfp_migratetype(gfp) >= MIGRATE_PCPTYPES) return false;
  ac->preferred_nid = nid;
  ac->highest_zoneidx = gfp_zone(gfp);
  ac->migratetype = gfp_migratetype(gfp);
  pglist_data& pg = nodes.node(nid);
  ac->zonelist = (gfp & __GFP_THISNODE) ? pg.zonelist_nofallback : pg.zonelist;
  ac->preferred_zone = nullptr;
  for (zone* const* z = ac->zonelist; *z; ++z)
    if ((*z)->idx <= ac->highest_zoneidx) {
      ac->preferred_zone = *z;
      break;
    }
  return ac->preferred_zone != nullptr;
}

unsigned PageAlloc::alloc_flags_nofragment(const zone* z, gfp_t gfp) const {
  unsigned flags = (gfp & __GFP_KSWAPD_RECLAIM) ? ALLOC_KSWAPD : 0;
  if (!ctx_->params->alloc_nofragment || !z || z->idx != ZONE_NORMAL) return flags;
  // Linux assumes DMA32 sits below Normal on the same node; with several
  // nodes it must really be populated.
  if (ctx_->nodes->nr_nodes() > 1 && !z->zone_pgdat->node_zones[ZONE_DMA32].populated()) return flags;
  return flags | ALLOC_NOFRAGMENT;
}

unsigned PageAlloc::gfp_to_alloc_flags(gfp_t gfp, unsigned order) const {
  unsigned flags = ALLOC_WMARK_MIN | ALLOC_CPUSET;
  if (gfp & __GFP_HIGH) flags |= ALLOC_MIN_RESERVE;
  if (gfp & __GFP_KSWAPD_RECLAIM) flags |= ALLOC_KSWAPD;
  if (!(gfp & __GFP_DIRECT_RECLAIM)) {
    // Cannot block: a bit more of the reserves, and high-order atomic
    // requests may use (and create) MIGRATE_HIGHATOMIC blocks.
    if (!(gfp & __GFP_NOMEMALLOC)) {
      flags |= ALLOC_NON_BLOCK;
      if (order > 0) flags |= ALLOC_HIGHATOMIC;
    }
    if (flags & ALLOC_MIN_RESERVE) flags &= ~ALLOC_CPUSET;
  }
  if (gfp_migratetype(gfp) == MIGRATE_MOVABLE) flags |= ALLOC_CMA;
  return flags;
}

void PageAlloc::zone_statistics(const zone* preferred, zone* z, unsigned cpu_nid) {
  if (z->node == preferred->node) {
    ++z->numa_event[NUMA_HIT];
  } else {
    ++z->numa_event[NUMA_MISS];
    ++const_cast<zone*>(preferred)->numa_event[NUMA_FOREIGN];
  }
  ++z->numa_event[static_cast<unsigned>(z->node) == cpu_nid ? NUMA_LOCAL : NUMA_OTHER];
}

page* PageAlloc::rmqueue_buddy(hal::Hal& h, zone* z, unsigned order, unsigned alloc_flags, unsigned mt) {
  Buddy& b = *ctx_->buddy;
  LockGuard g(z->lock, h);
  page* p = nullptr;
  if (alloc_flags & ALLOC_HIGHATOMIC) p = b.rmqueue_smallest(z, order, MIGRATE_HIGHATOMIC);
  if (!p) {
    rmqueue_mode mode = RMQUEUE_NORMAL;
    p = b.rmqueue(z, order, mt, alloc_flags, &mode);
    // Failing now is worse than failing a high-order atomic request later.
    if (!p && (alloc_flags & (ALLOC_OOM | ALLOC_NON_BLOCK))) p = b.rmqueue_smallest(z, order, MIGRATE_HIGHATOMIC);
  }
  return p;
}

page* PageAlloc::rmqueue(hal::Hal& h, const alloc_context& ac, zone* z, unsigned order, gfp_t gfp,
                         unsigned alloc_flags) {
  page* p = nullptr;
  const unsigned mt = ac.migratetype;
  if (pcp_allowed_order(order) && z->per_cpu_pageset) p = ctx_->pcp->rmqueue_pcplist(h, ac.cpu, z, order, mt, alloc_flags);
  if (!p) p = rmqueue_buddy(h, z, order, alloc_flags, mt);
  // A fragmenting fallback boosted the watermarks: wake kswapd now, the
  // node may look balanced otherwise.
  if ((alloc_flags & ALLOC_KSWAPD) && (z->flags & (1ull << ZONE_BOOSTED_WATERMARK))) {
    z->flags &= ~(1ull << ZONE_BOOSTED_WATERMARK);
    ctx_->kswapd->wakeup_kswapd(h, z, gfp, 0, z->idx);
  }
  if (p) {
    ctx_->vmstat->count(PGALLOC_DMA + z->idx, 1ull << order);
    zone_statistics(ac.preferred_zone, z, static_cast<unsigned>(ac.cpu_nid));
  }
  return p;
}

page* PageAlloc::get_page_from_freelist(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                        const alloc_context& ac) {
  const Watermark& wm = *ctx_->watermark;
  const bool multi_node = ctx_->nodes->nr_nodes() > 1;
  for (;;) {
    const bool no_fallback = alloc_flags & ALLOC_NOFRAGMENT;
    bool retry = false;
    for (zone* const* zl = ac.zonelist; *zl; ++zl) {
      zone* z = *zl;
      if (z->idx > ac.highest_zoneidx || !z->managed_pages) continue;
      // Locality matters more than fragmentation: before leaving the
      // preferred node, try the local zones again allowing fallbacks.
      if (no_fallback && multi_node && z != ac.preferred_zone && z->node != ac.preferred_zone->node) {
        alloc_flags &= ~ALLOC_NOFRAGMENT;
        ctx_->vmstat->count(NOFRAGMENT_RETRY);
        retry = true;
        break;
      }
      // Below the high watermark the per-CPU lists shrink (ZONE_BELOW_HIGH,
      // cleared by a free that finds the zone above it again).
      bool ok = false;
      if (!(z->flags & (1ull << ZONE_BELOW_HIGH))) {
        ok = wm.zone_watermark_fast(z, order, Watermark::high_wmark_pages(z), ac.highest_zoneidx, alloc_flags, gfp);
        if (!ok) z->flags |= 1ull << ZONE_BELOW_HIGH;
      }
      const uint64_t mark = Watermark::wmark_pages(z, alloc_flags & ALLOC_WMARK_MASK);
      if (!ok && !wm.zone_watermark_fast(z, order, mark, ac.highest_zoneidx, alloc_flags, gfp) &&
          !(alloc_flags & ALLOC_NO_WATERMARKS))
        continue;
      page* p = rmqueue(h, ac, z, order, gfp, alloc_flags);
      if (p) {
        prep_new_page(h, p, order, gfp);
        if ((alloc_flags & ALLOC_HIGHATOMIC) && order) reserve_highatomic_pageblock(h, p, z);
        return p;
      }
    }
    if (retry) continue;
    // Every zone looked fragmented: allow fallbacks and go round again.
    if (no_fallback) {
      alloc_flags &= ~ALLOC_NOFRAGMENT;
      ctx_->vmstat->count(NOFRAGMENT_RETRY);
      continue;
    }
    return nullptr;
  }
}

void PageAlloc::prep_compound_page(page* p, unsigned order) {
  SetPageFlag(p, PG_head);
  const uint64_t head = reinterpret_cast<uint64_t>(p) | 1;
  for (uint64_t i = 1; i < (1ull << order); ++i) p[i].compound_head = head;
  p[1].compound_order = static_cast<uint8_t>(order);
  p[1].compound_flags = 0;
  p[1].entire_mapcount = -1;
}

void PageAlloc::prep_new_page(hal::Hal& h, page* p, unsigned order, gfp_t gfp) {
  // Linux check_new_pages: a free page with state left over is a bug.
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    const page* q = p + i;
    if ((q->flags & PAGE_FLAGS_CHECK_AT_FREE) || PageBuddy(q) || q->_mapcount != -1 || q->_refcount != 0 ||
        PageHWPoison(q) || (q->compound_head & 1))
      ctx_->log->panic(h, "Bad page state at allocation: pfn %#lx flags %#lx mapcount %d refcount %d",
                       static_cast<unsigned long>(ctx_->nodes->page_to_pfn(q)), static_cast<unsigned long>(q->flags),
                       q->_mapcount, q->_refcount);
  }
  p->private_ = 0;
  set_page_count(p, 1);
  if (gfp & __GFP_COMP && order) prep_compound_page(p, order);
}

void PageAlloc::warn_alloc(hal::Hal& h, gfp_t gfp, unsigned order, int nid) {
  if ((gfp & __GFP_NOWARN) || fail_reports_ >= 10) return;
  ++fail_reports_;
  ctx_->log->printk(h, LOGLEVEL_WARNING, "page allocation failure: order:%u, mode:%#x, nid:%d, free:%lu", order, gfp,
                    nid, static_cast<unsigned long>(ctx_->buddy->nr_free_pages()));
}

void PageAlloc::wake_all_kswapds(hal::Hal& h, unsigned order, gfp_t gfp, const alloc_context& ac) {
  int last_nid = -1;
  for (zone* const* zl = ac.zonelist; *zl; ++zl) {
    zone* z = *zl;
    if (z->idx > ac.highest_zoneidx || z->node == last_nid) continue;
    last_nid = z->node;
    ctx_->kswapd->wakeup_kswapd(h, z, gfp, order, ac.highest_zoneidx);
  }
}

bool PageAlloc::should_reclaim_retry(hal::Hal& h, unsigned order, const alloc_context& ac, unsigned alloc_flags,
                                     bool did_some_progress, int* no_progress_loops) {
  // A costly order may make progress without ever getting its block:
  // those always count as a loop without progress.
  if (did_some_progress && order <= PAGE_ALLOC_COSTLY_ORDER) *no_progress_loops = 0;
  else ++*no_progress_loops;
  bool ret = false;
  if (*no_progress_loops <= static_cast<int>(MAX_RECLAIM_RETRIES)) {
    // Would the request pass the min watermark of some zone if reclaim
    // freed everything it could there?
    for (zone* const* zl = ac.zonelist; *zl && !ret; ++zl) {
      const zone* z = *zl;
      if (z->idx > ac.highest_zoneidx || !z->managed_pages) continue;
      const int64_t available =
          static_cast<int64_t>(ctx_->vmscan->zone_reclaimable_pages(z) + z->vm_stat[NR_FREE_PAGES]);
      ret = ctx_->watermark->zone_watermark_ok(z, order, Watermark::min_wmark_pages(z), ac.highest_zoneidx,
                                               alloc_flags, available);
    }
  }
  // Before the OOM killer, the high-atomic reserves go.
  if (!ret) return unreserve_highatomic_pageblock(h, ac, true);
  return true;
}

bool PageAlloc::should_compact_retry(unsigned order, compact_result cresult, compact_priority* prio,
                                     int* compaction_retries) const {
  // Linux's should_compact_retry, without its reclaim-progress gate: the
  // firmware's compaction retries did not wait for reclaim before there
  // was any, and the high-order workloads rely on them.
  const bool costly = order > PAGE_ALLOC_COSTLY_ORDER;
  if (cresult == COMPACT_SKIPPED) return false;  // not enough free base pages: only reclaim could help
  if (cresult == COMPACT_SUCCESS) {
    const int max_retries = costly ? MAX_COMPACT_RETRIES / 4 : MAX_COMPACT_RETRIES;
    if (++*compaction_retries <= max_retries) return true;
  }
  const int min_prio = costly ? MIN_COMPACT_COSTLY_PRIORITY : MIN_COMPACT_PRIORITY;
  if (*prio > min_prio) {
    *prio = static_cast<compact_priority>(*prio - 1);
    *compaction_retries = 0;
    return true;
  }
  return false;
}

void PageAlloc::reclaim_throttle(hal::Hal& h, const alloc_context& ac) {
  // The nodes of the zonelist: their pages under writeback.
  auto writeback = [&] {
    int64_t n = 0;
    int last_nid = -1;
    for (zone* const* zl = ac.zonelist; *zl; ++zl)
      if ((*zl)->node != last_nid) {
        last_nid = (*zl)->node;
        n += ctx_->vmstat->node[last_nid][NR_WRITEBACK];
      }
    return n;
  };
  const int64_t start = writeback();
  if (start <= 0) return;
  // Until a batch of it completed, or HZ/10 (Linux's timeout for
  // VMSCAN_THROTTLE_WRITEBACK) of simulated time passed.
  const int64_t target = start > static_cast<int64_t>(SWAP_CLUSTER_MAX) ? start - SWAP_CLUSTER_MAX : 0;
  const uint64_t t0 = h.now_ns();
  while (writeback() > target && h.now_ns() - t0 < 100'000'000ull) h.cpu_relax();
}

page* PageAlloc::direct_reclaim(hal::Hal& h, gfp_t gfp, unsigned order, unsigned alloc_flags,
                                const alloc_context& ac, bool* drained, uint64_t* progress) {
  // Reclaim for this CPU's allocation; allocations reclaim itself makes
  // use the reserves and never recurse into it (Linux PF_MEMALLOC).
  const unsigned cpu = h.cpu() < hal::kMaxCpus ? h.cpu() : 0;
  in_reclaim_[cpu] = true;
  *progress = ctx_->vmscan->try_to_free_pages(h, gfp, order, ac);
  in_reclaim_[cpu] = false;
  // Nothing freed while pages wait for their write: wait for some of
  // them, the next round can free them.
  if (!*progress) reclaim_throttle(h, ac);
  // Pages parked on per-CPU lists and in high-atomic reserves: Linux
  // gives them back after reclaim made progress; the first round gives
  // them back in any case, so that the OOM killer is not called while
  // free pages wait there.
  if (page* p = *progress ? get_page_from_freelist(h, gfp, order, alloc_flags, ac) : nullptr) return p;
  if (*drained && !*progress) return nullptr;
  unreserve_highatomic_pageblock(h, ac, false);
  ctx_->pcp->drain_all_pages(h, nullptr);
  if (!*drained) {
    // Boosted watermarks would keep asking for more than the request
    // needs; kswapd ends them after its reclaim, and so does this.
    int last_nid = -1;
    for (zone* const* zl = ac.zonelist; *zl; ++zl)
      if ((*zl)->node != last_nid) {
        last_nid = (*zl)->node;
        ctx_->kswapd->end_boost(h, *(*zl)->zone_pgdat);
      }
  }
  *drained = true;
  return get_page_from_freelist(h, gfp, order, alloc_flags, ac);
}

page* PageAlloc::may_oom(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac, bool* progress) {
  *progress = false;
  // Only a parallel kill could have helped: insist on the high watermark.
  if (page* p = get_page_from_freelist(h, (gfp | __GFP_HARDWALL) & ~__GFP_DIRECT_RECLAIM, order,
                                       ALLOC_WMARK_HIGH | ALLOC_CPUSET, ac))
    return p;
  // Requests the OOM killer does not serve: costly orders (killing will
  // not make contiguous memory), callers with a fallback, one node only,
  // the low zones (killing frees Normal memory), and no-fs/no-io ones.
  if (order > PAGE_ALLOC_COSTLY_ORDER) return nullptr;
  if (gfp & (__GFP_RETRY_MAYFAIL | __GFP_THISNODE)) return nullptr;
  if (ac.highest_zoneidx < ZONE_NORMAL) return nullptr;
  if (ctx_->oom->out_of_memory(h, gfp, order, ac)) {
    *progress = true;
    // A __GFP_NOFAIL request now takes the reserves.
    if (gfp & __GFP_NOFAIL) return get_page_from_freelist(h, gfp, order, ALLOC_NO_WATERMARKS, ac);
  }
  return nullptr;
}

page* PageAlloc::nofail_fallback(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac) {
  // Some of the reserves normally kept for atomic requests, then (as
  // Linux's OOM path does for __GFP_NOFAIL) all of them.
  Compaction& comp = *ctx_->compaction;
  compact_result cresult = COMPACT_SKIPPED;
  const unsigned cma = gfp_migratetype(gfp) == MIGRATE_MOVABLE ? ALLOC_CMA : 0;
  for (int round = 0; round < 4; ++round) {
    page* p = get_page_from_freelist(h, gfp, order, ALLOC_MIN_RESERVE | cma, ac);
    if (!p) p = get_page_from_freelist(h, gfp, order, ALLOC_NO_WATERMARKS | cma, ac);
    if (p) {
      ctx_->vmstat->count(ALLOC_NOFAIL_RESERVE);
      return p;
    }
    // Everything that might free a block: drains and a full compaction.
    ctx_->pcp->drain_all_pages(h, nullptr);
    unreserve_highatomic_pageblock(h, ac, true);
    if (order) comp.direct_compact(h, gfp, order, ALLOC_NO_WATERMARKS | cma, ac, COMPACT_PRIO_SYNC_FULL, &cresult);
  }
  ctx_->log->panic(h, "Out of memory and no killable processes: __GFP_NOFAIL order %u mode %#x", order, gfp);
  return nullptr;
}

// Mirrors Linux __alloc_pages_slowpath: kswapd, the min watermark, early
// compaction for costly orders, then rounds of direct reclaim and
// compaction while should_reclaim_retry / should_compact_retry allow, and
// the OOM killer as the last resort.
page* PageAlloc::alloc_slowpath(hal::Hal& h, gfp_t gfp, unsigned order, alloc_context& ac) {
  ++stats_.slowpath;
  const bool can_direct = gfp & __GFP_DIRECT_RECLAIM;
  const bool can_compact = gfp & __GFP_IO;
  const bool costly = order > PAGE_ALLOC_COSTLY_ORDER;
  Compaction& comp = *ctx_->compaction;
  compact_priority prio = DEF_COMPACT_PRIORITY;
  compact_result cresult = COMPACT_SKIPPED;
  int compaction_retries = 0, no_progress_loops = 0;
  bool drained = false;
  const unsigned cpu = h.cpu() < hal::kMaxCpus ? h.cpu() : 0;

  unsigned alloc_flags = gfp_to_alloc_flags(gfp, order);
  // Crossing the low watermark wakes the node's kswapd.
  if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(h, order, gfp, ac);
  // The min watermark may already be enough.
  if (page* p = get_page_from_freelist(h, gfp, order, alloc_flags, ac)) return p;

  // Below min. Costly and non-movable high-order requests try compaction
  // before anything else: there may be enough base pages.
  if (can_direct && can_compact && !in_reclaim_[cpu] &&
      (costly || (order > 0 && ac.migratetype != MIGRATE_MOVABLE))) {
    ++stats_.direct_path;
    page* p = comp.direct_compact(h, gfp, order, alloc_flags, ac, INIT_COMPACT_PRIORITY, &cresult);
    if (p) return p;
    if (costly && (gfp & __GFP_NORETRY)) {
      if (cresult == COMPACT_SKIPPED || cresult == COMPACT_DEFERRED) goto nopage;
      prio = INIT_COMPACT_PRIORITY;
    }
  }

  for (;;) {
    if (alloc_flags & ALLOC_KSWAPD) wake_all_kswapds(h, order, gfp, ac);
    // Reclaim's own allocations and the OOM killer's victim may use the
    // reserves (Linux __gfp_pfmemalloc_flags).
    unsigned reserve = 0;
    if (!(gfp & __GFP_NOMEMALLOC)) {
      if (in_reclaim_[cpu]) reserve = ALLOC_NO_WATERMARKS;
      else if (ctx_->oom->current_is_victim(h)) reserve = ALLOC_OOM | ALLOC_NO_WATERMARKS;
    }
    if (reserve)
      alloc_flags = reserve | (alloc_flags & ALLOC_KSWAPD) | (gfp_migratetype(gfp) == MIGRATE_MOVABLE ? ALLOC_CMA : 0);
    if (page* p = get_page_from_freelist(h, gfp, order, alloc_flags, ac)) return p;
    // Not allowed to block, or already reclaiming: nothing more to try.
    if (!can_direct || in_reclaim_[cpu]) goto nopage;
    ++stats_.direct_path;

    uint64_t progress = 0;
    if (page* p = direct_reclaim(h, gfp, order, alloc_flags, ac, &drained, &progress)) return p;
    if (can_compact && order) {
      page* p = comp.direct_compact(h, gfp, order, alloc_flags, ac, prio, &cresult);
      if (p) return p;
    }
    if (gfp & __GFP_NORETRY) goto nopage;
    if (costly && (!can_compact || !(gfp & __GFP_RETRY_MAYFAIL))) goto nopage;
    if (should_reclaim_retry(h, order, ac, alloc_flags, progress > 0, &no_progress_loops)) continue;
    if (order && can_compact && should_compact_retry(order, cresult, &prio, &compaction_retries)) continue;

    // Reclaim has failed: the OOM killer.
    bool oom_progress = false;
    if (page* p = may_oom(h, gfp, order, ac, &oom_progress)) return p;
    // A victim that already used the reserves must not loop for ever.
    if (ctx_->oom->current_is_victim(h) && (alloc_flags & ALLOC_OOM || (gfp & __GFP_NOMEMALLOC))) goto nopage;
    if (!oom_progress) goto nopage;
    no_progress_loops = 0;
  }

nopage:
  // Without direct reclaim Linux returns NULL even for __GFP_NOFAIL.
  if ((gfp & __GFP_NOFAIL) && can_direct) return nofail_fallback(h, gfp, order, ac);
  warn_alloc(h, gfp, order, ac.preferred_nid);
  return nullptr;
}

page* PageAlloc::alloc_pages(hal::Hal& h, gfp_t gfp, unsigned order, int nid) {
  alloc_context ac;
  if (order > MAX_PAGE_ORDER || !prepare_alloc(h, gfp, nid, &ac)) {
    ++stats_.alloc_failed;
    return nullptr;
  }
  // A few rounds: a block found poisoned when zeroed is taken out of use
  // and the request tried again.
  for (int round = 0; round < 8; ++round) {
    unsigned alloc_flags = ALLOC_WMARK_LOW | alloc_flags_nofragment(ac.preferred_zone, gfp);
    if (ac.migratetype == MIGRATE_MOVABLE) alloc_flags |= ALLOC_CMA;
    page* p = get_page_from_freelist(h, gfp, order, alloc_flags, ac);
    if (!p) p = alloc_slowpath(h, gfp, order, ac);
    if (!p) break;
    ctx_->charge(h, ctx_->params->cost_page_alloc_ns);
    ++stats_.alloc_calls;
    ++stats_.alloc_order[order];
    if (!(gfp & __GFP_ZERO)) return p;

    // Zero through the HAL so poisoned memory is seen rather than handed out.
    const uint64_t pa = ctx_->nodes->page_to_phys(p);
    ctx_->charge(h, ctx_->params->cost_page_zero_ns << order);
    if (h.phys_fill(pa, 0, PAGE_SIZE << order) == hal::MemStatus::ok) return p;
    // Keep the bad pages, give the good ones back, try again.
    if (PageHead(p)) {
      for (uint64_t i = 1; i < (1ull << order); ++i) p[i].compound_head = 0;
      p[1].compound_order = 0;
      p[1].compound_flags = 0;
      p[1].entire_mapcount = 0;
      ClearPageFlag(p, PG_head);
    }
    for (uint64_t i = 0; i < (1ull << order); ++i) {
      page* q = p + i;
      set_page_count(q, 1);
      if (h.phys_fill(pa + i * PAGE_SIZE, 0, PAGE_SIZE) == hal::MemStatus::ok) {
        free_pages(h, q, 0);
      } else {
        SetPageHWPoison(q);
        ctx_->vmstat->mod(page_to_nid(q), NR_HWPOISON, 1);
        ctx_->vmstat->count(HWPOISON_ALLOC_SKIPPED);
        ctx_->log->printk(h, LOGLEVEL_WARNING, "mm: pfn %#lx is poisoned, taken out of use",
                          static_cast<unsigned long>(ctx_->nodes->page_to_pfn(q)));
      }
    }
  }
  ++stats_.alloc_failed;
  return nullptr;
}

// ---------------------------------------------------------------- freeing

void PageAlloc::free_poisoned(hal::Hal& h, page* p, unsigned order) {
  // Pages holding poison never return to the free lists (Linux
  // free_pages_prepare); the healthy rest of the block does, page by page.
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    set_page_count(q, 1);  // a poisoned page stays owned, by nobody
    if (!PageHWPoison(q)) free_pages(h, q, 0);
  }
}

bool PageAlloc::free_pages_prepare(hal::Hal& h, page* p, unsigned order) {
  // A compound page comes apart first.
  if (PageHead(p)) {
    if (compound_order(p) != order)
      ctx_->log->panic(h, "Bad page state: freeing a compound page of order %u as order %u", compound_order(p), order);
    for (uint64_t i = 1; i < (1ull << order); ++i) {
      page* t = p + i;
      if (compound_head(t) != p || t->_refcount != 0)
        ctx_->log->panic(h, "Bad page state: corrupted compound tail at pfn %#lx",
                         static_cast<unsigned long>(ctx_->nodes->page_to_pfn(t)));
      t->compound_head = 0;
    }
    if (p[1].entire_mapcount != -1 && p[1].entire_mapcount != 0)
      ctx_->log->panic(h, "Bad page state: freeing a folio still mapped whole (entire mapcount %d)",
                       p[1].entire_mapcount + 1);
    p[1].compound_order = 0;
    p[1].compound_flags = 0;
    p[1].entire_mapcount = 0;
    p[1].tail_mapping = 0;
    p[2 < (1ull << order) ? 2 : 1].tail_mapping = 0;
    ClearPageFlag(p, PG_head);
  }
  bool poisoned = false;
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    if (PageHWPoison(q)) poisoned = true;
    if ((q->flags & PAGE_FLAGS_CHECK_AT_FREE) || q->_mapcount != -1 || PageBuddy(q) || (i && q->_refcount != 0) ||
        (q->compound_head & 1))
      ctx_->log->panic(h, "Bad page state: pfn %#lx flags %#lx mapcount %d refcount %d",
                       static_cast<unsigned long>(ctx_->nodes->page_to_pfn(q)), static_cast<unsigned long>(q->flags),
                       q->_mapcount, q->_refcount);
  }
  if (poisoned) {
    free_poisoned(h, p, order);
    return false;
  }
  for (uint64_t i = 0; i < (1ull << order); ++i) {
    page* q = p + i;
    q->flags &= ~PAGE_FLAGS_CLEAR_AT_FREE;
    q->mapping = 0;
    q->index = 0;
    q->private_ = 0;
  }
  return true;
}

void PageAlloc::free_frozen_pages(hal::Hal& h, page* p, unsigned order) {
  // The last reference of an LRU page: off its list first (Linux __folio_put).
  if (PageLRU(p)) ctx_->lru->del(h, p);
  mlock_clear_at_free(ctx_, p);
  if (!free_pages_prepare(h, p, order)) return;
  MmNodes& nodes = *ctx_->nodes;
  const uint64_t pfn = nodes.page_to_pfn(p);
  zone* z = nodes.page_zone(p);
  unsigned mt = z->get_pfnblock_migratetype(pfn);
  if (pcp_allowed_order(order) && z->per_cpu_pageset && mt != MIGRATE_ISOLATE) {
    // High-atomic and CMA pages wait on the movable list; their real type
    // counts again when they reach the buddy lists.
    if (mt >= MIGRATE_PCPTYPES) mt = MIGRATE_MOVABLE;
    ctx_->pcp->free_unref_page(h, h.cpu(), z, p, pfn, order, mt);
  } else {
    LockGuard g(z->lock, h);
    ctx_->buddy->free_one_page(z, p, pfn, order, mt);
  }
  ++stats_.free_calls;
  ctx_->vmstat->count(PGFREE, 1ull << order);
  ctx_->charge(h, ctx_->params->cost_page_alloc_ns);
}

void PageAlloc::free_pages(hal::Hal& h, page* p, unsigned order) {
  if (!put_page_testzero(p)) return;
  free_frozen_pages(h, p, order);
}

void PageAlloc::put_page(hal::Hal& h, page* p) {
  p = compound_head(p);
  if (!put_page_testzero(p)) return;
  // A hugetlb page goes back to its pool (Linux's folio destructor).
  if (PageHuge(p)) {
    ctx_->hugetlb->free_huge_folio(h, p);
    return;
  }
  free_frozen_pages(h, p, compound_order(p));
}

uint64_t PageAlloc::alloc_phys(hal::Hal& h, gfp_t gfp, unsigned order, int nid) {
  page* p = alloc_pages(h, gfp, order, nid);
  return p ? ctx_->nodes->page_to_phys(p) : 0;
}

void PageAlloc::free_phys(hal::Hal& h, uint64_t pa, unsigned order) {
  page* p = ctx_->nodes->phys_to_page(pa);
  FW_BUG_ON(*ctx_->log, h, p == nullptr);
  free_pages(h, p, order);
}

// ---------------------------------------------------------------- isolation helpers

bool PageAlloc::isolate_free_page(zone* z, page* p, uint64_t pfn, unsigned order, bool check_wmark) {
  const unsigned mt = z->get_pfnblock_migratetype(pfn);
  if (check_wmark && mt != MIGRATE_ISOLATE) {
    // Compaction must not push the zone below min to make a high order.
    const uint64_t mark = z->_watermark[WMARK_MIN] + (1ull << order);
    if (!ctx_->watermark->zone_watermark_ok(z, 0, mark, 0, ALLOC_CMA)) return false;
  }
  ctx_->buddy->del_page_from_free_list(z, p, pfn, order, mt);
  if (order == MAX_PAGE_ORDER && z->pfnblock_deferred(pfn)) ctx_->nodes->init_deferred_block(z, pfn);
  // At least half a pageblock taken: the pageblock(s) become movable, the
  // type of what will be migrated into them.
  if (order >= pageblock_order - 1) {
    for (uint64_t b = pfn; b < pfn + (1ull << order) - 1; b += pageblock_nr_pages) {
      const unsigned bmt = z->get_pfnblock_migratetype(b);
      if (migratetype_is_mergeable(bmt)) ctx_->buddy->move_freepages_block(z, b, bmt, MIGRATE_MOVABLE);
    }
  }
  return true;
}

bool PageAlloc::is_free_buddy_page(hal::Hal& h, page* p) {
  const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
  zone* z = ctx_->nodes->pfn_zone(pfn);
  if (!z) return false;
  LockGuard g(z->lock, h);
  uint64_t hp = 0;
  return ctx_->buddy->find_free_block(z, pfn, &hp) != nullptr;
}

bool PageAlloc::take_page_off_buddy(hal::Hal& h, page* p) {
  const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
  zone* z = ctx_->nodes->pfn_zone(pfn);
  if (!z) return false;
  Buddy& b = *ctx_->buddy;
  LockGuard g(z->lock, h);
  uint64_t cur = 0;
  page* head = b.find_free_block(z, pfn, &cur);
  if (!head) return false;
  unsigned order = buddy_order(head);
  const unsigned mt = z->get_pfnblock_migratetype(cur);
  b.del_page_from_free_list(z, head, cur, order, mt);
  if (order == MAX_PAGE_ORDER && z->pfnblock_deferred(cur)) ctx_->nodes->init_deferred_block(z, cur);
  // Halve the block down to p (Linux break_down_buddy_pages): each half
  // without p goes back free.
  while (order > 0) {
    --order;
    const uint64_t half = 1ull << order;
    if (pfn >= cur + half) {
      b.add_to_free_list(z, ctx_->nodes->pfn_to_page(cur), cur, order, mt);
      cur += half;
    } else {
      b.add_to_free_list(z, ctx_->nodes->pfn_to_page(cur + half), cur + half, order, mt);
    }
  }
  set_page_count(p, 1);
  return true;
}

void PageAlloc::reserve_highatomic_pageblock(hal::Hal& h, page* p, zone* z) {
  // At most 1% of the zone plus a pageblock.
  const uint64_t max_managed = z->managed_pages / 100 + pageblock_nr_pages;
  if (z->nr_reserved_highatomic >= max_managed) return;
  LockGuard g(z->lock, h);
  if (z->nr_reserved_highatomic >= max_managed) return;
  const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
  const unsigned mt = z->get_pfnblock_migratetype(pfn);
  if (!migratetype_is_mergeable(mt)) return;
  if (ctx_->buddy->move_freepages_block(z, pfn, mt, MIGRATE_HIGHATOMIC) < 0) return;
  z->nr_reserved_highatomic += pageblock_nr_pages;
  ctx_->vmstat->count(HIGHATOMIC_RESERVED);
}

bool PageAlloc::unreserve_highatomic_pageblock(hal::Hal& h, const alloc_context& ac, bool force) {
  bool ret = false;
  Buddy& b = *ctx_->buddy;
  for (zone* const* zl = ac.zonelist; *zl; ++zl) {
    zone* z = *zl;
    if (z->idx > ac.highest_zoneidx) continue;
    // Keep a pageblock reserved unless out of memory.
    if (!force && z->nr_reserved_highatomic <= pageblock_nr_pages) continue;
    LockGuard g(z->lock, h);
    for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) {
      list_head* l = &z->free_area[o].free_list[MIGRATE_HIGHATOMIC];
      if (list_empty(l)) continue;
      page* p = list_first_entry(l, page, lru);
      const uint64_t pfn = ctx_->nodes->page_to_pfn(p);
      if (z->get_pfnblock_migratetype(pfn) != MIGRATE_HIGHATOMIC) continue;
      // A whole block (or more) changes type in one go; smaller ones take
      // their pageblock along.
      const uint64_t size = o >= pageblock_order ? (1ull << o) : pageblock_nr_pages;
      z->nr_reserved_highatomic -= min(size, z->nr_reserved_highatomic);
      if (b.move_freepages_block(z, pfn, MIGRATE_HIGHATOMIC, ac.migratetype) >= 0) {
        ret = true;
        break;
      }
    }
    if (ret) break;
  }
  return ret;
}


// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<PageAllocStats> page_alloc_stat_table[] = {
    {"alloc_calls", &PageAllocStats::alloc_calls, "successful block allocations", "count"},
    {"alloc_failed", &PageAllocStats::alloc_failed, "failed block allocations", "count"},
    {"free_calls", &PageAllocStats::free_calls, "blocks freed", "count"},
    {"slowpath", &PageAllocStats::slowpath, "allocations that entered the slow path (below the low watermark)", "count"},
    {"direct_path", &PageAllocStats::direct_path, "slow-path rounds below the min watermark (direct path)", "count"},
};
// boot_free_pages comes first, alloc_order[] last.
static_assert(stat_table_size(page_alloc_stat_table) + 1 + NR_PAGE_ORDERS == sizeof(PageAllocStats) / sizeof(uint64_t),
              "one entry per counter");

}  // namespace

void PageAlloc::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e("free_pages", nr_free_pages(), "free pages in the page allocator (buddy and per-CPU lists)", "pages");
  e("boot_free_pages", stats_.boot_free_pages, "free pages when boot finished", "pages");
  e("min_free_pages", min_free_pages(), "lowest NR_FREE_PAGES since boot", "pages");
  e("pcp_pages", ctx_->pcp->nr_pcp_pages(), "free pages on per-CPU lists", "pages");
  e.table(stats_, page_alloc_stat_table);
  ctx_->buddy->visit_stats(v, prefix);
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o)
    e.fmt(nr_free_blocks(o), "free blocks of this order, all zones", "count", "order%u.free_blocks", o);
  for (unsigned o = 0; o < NR_PAGE_ORDERS; ++o) e.fmt(stats_.alloc_order[o], "allocations of this order", "count", "order%u.allocs", o);
}

}  // namespace fw
