#include "sw/mm/pcp.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/memblock.h"
#include "sw/mm/vmscan.h"
#include "sw/mm/watermark.h"

namespace fw {

bool Pcp::alloc_pagesets(hal::Hal& h, Memblock& mb) {
  MmNodes& nodes = *ctx_->nodes;
  const unsigned cpus = nodes.nr_cpus();
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone& z = nodes.node(static_cast<int>(n)).node_zones[zi];
      if (!z.present_pages) continue;
      const uint64_t bytes = align_up(cpus * sizeof(per_cpu_pages), PAGE_SIZE);
      uint64_t pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, static_cast<int>(n));
      if (!pa) pa = mb.alloc_range(bytes, PAGE_SIZE, 0, ~0ull, NUMA_NO_NODE);
      void* host = pa ? h.direct_map(pa, bytes) : nullptr;
      if (!host) {
        ctx_->log->printk(h, LOGLEVEL_ERR, "mm: no memory for the per-CPU pagesets of node %u zone %s", n, z.name);
        return false;
      }
      percpu_bytes_ += bytes;
      z.per_cpu_pageset = static_cast<per_cpu_pages*>(host);
      for (unsigned c = 0; c < cpus; ++c) {
        per_cpu_pages* pcp = &z.per_cpu_pageset[c];
        *pcp = per_cpu_pages{};
        for (unsigned i = 0; i < NR_PCP_LISTS; ++i) INIT_LIST_HEAD(&pcp->lists[i]);
        pcp->batch = 1;  // the boot pageset: no caching until update_all()
      }
    }
  return true;
}

int Pcp::zone_batchsize(const zone* z) {
  // About 0.1% of the zone or 1 MiB, whichever is smaller, divided by four
  // (high is four batches), then 2^n - 1 for better cache colouring.
  int64_t batch = static_cast<int64_t>(min<uint64_t>(z->managed_pages >> 10, (1ull << 20) / PAGE_SIZE));
  batch /= 4;
  if (batch < 1) batch = 1;
  const uint64_t v = static_cast<uint64_t>(batch + batch / 2);
  return static_cast<int>((1ull << fls64(v)) - 1);
}

int Pcp::zone_highsize(const zone* z, int batch, unsigned high_fraction) const {
  // By default high follows the low watermark, so full lists never start
  // background reclaim early; split over the CPUs of the zone's node.
  const uint64_t total = high_fraction ? z->managed_pages / high_fraction : Watermark::low_wmark_pages(z);
  unsigned split = z->zone_pgdat->nr_cpus;
  if (!split) split = ctx_->nodes->nr_cpus();
  const int64_t high = static_cast<int64_t>(total / split);
  return static_cast<int>(max<int64_t>(high, static_cast<int64_t>(batch) << 2));
}

void Pcp::update_all() {
  MmNodes& nodes = *ctx_->nodes;
  const unsigned frac = ctx_->params->percpu_pagelist_high_fraction;
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone& z = nodes.node(static_cast<int>(n)).node_zones[zi];
      if (!z.per_cpu_pageset) continue;
      const int batch = max(1, zone_batchsize(&z));
      int high_min, high_max;
      if (frac) {
        high_min = high_max = zone_highsize(&z, batch, max(frac, MIN_PERCPU_PAGELIST_HIGH_FRACTION));
      } else {
        high_min = zone_highsize(&z, batch, 0);
        high_max = zone_highsize(&z, batch, MIN_PERCPU_PAGELIST_HIGH_FRACTION);
      }
      // pageset_update: high itself is left to the tuning; then
      // zone_pcp_update_cacheinfo.
      const bool free_high_batch = (kPerCpuDataSliceBytes >> PAGE_SHIFT) > 3 * static_cast<uint64_t>(batch);
      for (unsigned c = 0; c < nodes.nr_cpus(); ++c) {
        per_cpu_pages* pcp = &z.per_cpu_pageset[c];
        pcp->batch = batch;
        pcp->high_min = high_min;
        pcp->high_max = high_max;
        if (free_high_batch) pcp->flags |= PCPF_FREE_HIGH_BATCH;
        else pcp->flags &= static_cast<uint8_t>(~PCPF_FREE_HIGH_BATCH);
      }
    }
}

int Pcp::rmqueue_bulk(hal::Hal& h, zone* z, unsigned order, int count, list_head* list, unsigned mt,
                      unsigned alloc_flags) {
  Buddy& b = *ctx_->buddy;
  BuddyObserver* obs = b.observer();
  rmqueue_mode mode = RMQUEUE_NORMAL;
  int i = 0;
  z->per_cpu_pageset[h.cpu()].stat_changed = true;
  LockGuard g(z->lock, h);
  for (; i < count; ++i) {
    page* p = b.rmqueue(z, order, mt, alloc_flags, &mode);
    if (!p) break;
    p->private_ = order;
    list_add_tail(&p->lru, list);
    if (obs) obs->pcp_add(z, ctx_->nodes->page_to_pfn(p), order);
  }
  return i;
}

int Pcp::nr_pcp_alloc(per_cpu_pages* pcp, const zone* z, unsigned order) {
  const int base_batch = pcp->batch, high_min = pcp->high_min, high_max = pcp->high_max;
  int high = pcp->high = clamp(pcp->high, high_min, high_max);
  // Boot pagesets and tiny zones: no caching.
  if (high < base_batch) return 1;
  int batch = order ? base_batch : base_batch << pcp->alloc_factor;
  // A larger high would have spared this trip to the zone.
  if (high_min != high_max && !(z->flags & (1ull << ZONE_BELOW_HIGH))) high = pcp->high = min(high + batch, high_max);
  if (!order) {
    const int max_nr_alloc = max(high - pcp->count - base_batch, base_batch);
    // Double the refill while allocations follow allocations.
    if (batch <= max_nr_alloc && pcp->alloc_factor < PCP_BATCH_SCALE_MAX) ++pcp->alloc_factor;
    batch = min(batch, max_nr_alloc);
  }
  if (batch > 1) batch = max(batch >> order, 2);
  return batch;
}

page* Pcp::rmqueue_pcplist(hal::Hal& h, unsigned cpu, zone* z, unsigned order, unsigned mt, unsigned alloc_flags) {
  per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
  CpuLocalGuard g(pcp->lock, h, cpu);
  // An allocation: the frees before it no longer count as a row.
  pcp->free_count >>= 1;
  list_head* list = &pcp->lists[order_to_pindex(mt, order)];
  if (list_empty(list)) {
    const int batch = nr_pcp_alloc(pcp, z, order);
    const int got = rmqueue_bulk(h, z, order, batch, list, mt, alloc_flags);
    pcp->count += got << order;
    nr_pcp_ += static_cast<uint64_t>(got) << order;
    if (list_empty(list)) return nullptr;
  }
  page* p = list_first_entry(list, page, lru);
  list_del(&p->lru);
  p->private_ = 0;
  pcp->count -= 1 << order;
  nr_pcp_ -= 1ull << order;
  if (BuddyObserver* obs = ctx_->buddy->observer()) obs->pcp_del(z, ctx_->nodes->page_to_pfn(p), order);
  return p;
}

void Pcp::free_pcppages_bulk(hal::Hal& h, zone* z, int count, per_cpu_pages* pcp, unsigned pindex) {
  count = min(pcp->count, count);
  pcp->stat_changed = true;
  Buddy& b = *ctx_->buddy;
  BuddyObserver* obs = b.observer();
  MmNodes& nodes = *ctx_->nodes;
  LockGuard g(z->lock, h);
  // The requested list first, then round-robin over the others.
  unsigned pi = pindex == 0 ? NR_PCP_LISTS - 1 : pindex - 1;
  while (count > 0) {
    list_head* list;
    do {
      if (++pi > NR_PCP_LISTS - 1) pi = 0;
      list = &pcp->lists[pi];
    } while (list_empty(list));
    const unsigned order = pindex_to_order(pi);
    const int nr = 1 << order;
    do {
      page* p = list_last_entry(list, page, lru);
      const uint64_t pfn = nodes.page_to_pfn(p);
      list_del(&p->lru);
      count -= nr;
      pcp->count -= nr;
      nr_pcp_ -= static_cast<uint64_t>(nr);
      if (obs) obs->pcp_del(z, pfn, order);
      // The pageblock's current type: it may have become isolated.
      b.free_one_page(z, p, pfn, order, z->get_pfnblock_migratetype(pfn));
    } while (count > 0 && !list_empty(list));
  }
}

int Pcp::nr_pcp_free(const per_cpu_pages* pcp, int batch, int high, bool free_high) {
  // Orders 1..3 freed in a row: as much as possible.
  if (free_high) return min(pcp->count, batch << PCP_BATCH_SCALE_MAX);
  if (high < batch) return 1;  // boot pageset or lists disabled
  // The pages freed in a row, leaving at least a batch.
  return clamp(pcp->free_count, batch, high - batch);
}

int Pcp::nr_pcp_high(per_cpu_pages* pcp, const zone* z, int batch, bool free_high) {
  const int high_min = pcp->high_min, high_max = pcp->high_max;
  int high = pcp->high = clamp(pcp->high, high_min, high_max);
  if (!high) return 0;
  if (free_high) {
    pcp->high = max(high - (batch << PCP_BATCH_SCALE_MAX), high_min);
    return 0;
  }
  // Reclaim running: keep few pages here.
  if (z->flags & (1ull << ZONE_RECLAIM_ACTIVE)) {
    pcp->high = max(high - max(pcp->free_count, batch), high_min);
    return min(batch << 2, pcp->high);
  }
  if (high_min == high_max) return high;
  if (z->flags & (1ull << ZONE_BELOW_HIGH)) {
    // Memory is short: shrink, and give back what exceeds high_min.
    pcp->high = max(high - max(pcp->free_count, batch), high_min);
    high = max(pcp->count, high_min);
  } else if (pcp->count >= high) {
    // Room for the frees in a row plus a batch.
    const int need_high = pcp->free_count + batch;
    if (pcp->high < need_high) pcp->high = clamp(need_high, high_min, high_max);
  }
  return high;
}

void Pcp::free_unref_page(hal::Hal& h, unsigned cpu, zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt) {
  per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
  CpuLocalGuard g(pcp->lock, h, cpu);
  // A free: the allocations before it no longer count as a row.
  pcp->alloc_factor >>= 1;
  const unsigned pindex = order_to_pindex(mt, order);
  p->private_ = order;
  list_add(&p->lru, &pcp->lists[pindex]);
  pcp->count += 1 << order;
  nr_pcp_ += 1ull << order;
  if (BuddyObserver* obs = ctx_->buddy->observer()) obs->pcp_add(z, pfn, order);
  const int batch = pcp->batch;
  // Orders 1..3 freed in a row fragment memory when kept: give them back
  // once the row is long (and, when the cache slice is large, a batch is here).
  bool free_high = false;
  if (order && order <= PAGE_ALLOC_COSTLY_ORDER) {
    free_high = pcp->free_count >= batch + pcp->high_min / 2 && (pcp->flags & PCPF_PREV_FREE_HIGH_ORDER) &&
                (!(pcp->flags & PCPF_FREE_HIGH_BATCH) || pcp->count >= batch);
    pcp->flags |= PCPF_PREV_FREE_HIGH_ORDER;
  } else {
    pcp->flags &= static_cast<uint8_t>(~PCPF_PREV_FREE_HIGH_ORDER);
  }
  if (pcp->free_count < (batch << PCP_BATCH_SCALE_MAX)) pcp->free_count += 1 << order;
  const int high = nr_pcp_high(pcp, z, batch, free_high);
  if (pcp->count < high) return;
  free_pcppages_bulk(h, z, nr_pcp_free(pcp, batch, high, free_high), pcp, pindex);
  // Back above the high watermark: the pressure is gone, and a node given
  // up on may be worth kswapd's effort again when another node has memory.
  if ((z->flags & (1ull << ZONE_BELOW_HIGH)) &&
      ctx_->watermark->zone_watermark_ok(z, 0, Watermark::high_wmark_pages(z), ZONE_MOVABLE, 0)) {
    z->flags &= ~(1ull << ZONE_BELOW_HIGH);
    pglist_data& pg = *z->zone_pgdat;
    bool later_memory_node = false;
    for (unsigned n = static_cast<unsigned>(pg.node_id) + 1; n < ctx_->nodes->nr_nodes(); ++n)
      if (ctx_->nodes->node(static_cast<int>(n)).node_present_pages) later_memory_node = true;
    if (pg.kswapd_failures >= MAX_RECLAIM_RETRIES && later_memory_node) pg.kswapd_failures = 0;
  }
}

int Pcp::decay_pcp_high(hal::Hal& h, zone* z, per_cpu_pages* pcp) {
  int todo = 0;
  const int high_min = pcp->high_min, batch = pcp->batch;
  // An eighth less each time (at most the bulk-free cap below the count),
  // freeing what idles above it, in bounded steps.
  if (pcp->high > high_min) {
    pcp->high = max(max(pcp->count - (batch << PCP_BATCH_SCALE_MAX), pcp->high - (pcp->high >> 3)), high_min);
    if (pcp->high > high_min) ++todo;
  }
  const int to_drain = pcp->count - pcp->high;
  if (to_drain > 0) {
    free_pcppages_bulk(h, z, to_drain, pcp, 0);
    ++todo;
  }
  return todo;
}

void Pcp::vmstat_update(hal::Hal& h) {
  const unsigned cpu = h.cpu();
  const uint64_t now = h.now_ns();
  if (cpu >= hal::kMaxCpus) return;
  // The first refresh comes an interval after the CPU's first tick.
  if (!next_refresh_ns_[cpu]) next_refresh_ns_[cpu] = now + kStatIntervalNs;
  if (now < next_refresh_ns_[cpu]) return;
  next_refresh_ns_[cpu] = now + kStatIntervalNs;
  MmNodes& nodes = *ctx_->nodes;
  const int cpu_nid = nodes.cpu_to_node(cpu);
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone* z = &nodes.node(static_cast<int>(n)).node_zones[zi];
      if (!z->populated() || !z->per_cpu_pageset) continue;
      per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
      CpuLocalGuard g(pcp->lock, h, cpu);
      // Counters this CPU changed in the zone: three seconds of grace.
      if (pcp->stat_changed) {
        pcp->stat_changed = false;
        pcp->expire = 3;
      }
      decay_pcp_high(h, z, pcp);
      if (!pcp->expire || !pcp->count) continue;
      // Lists of the CPU's own node are never drained here.
      if (z->node == cpu_nid) {
        pcp->expire = 0;
        continue;
      }
      if (--pcp->expire) continue;
      // drain_zone_pages: a batch at a time.
      free_pcppages_bulk(h, z, min(pcp->count, pcp->batch), pcp, 0);
    }
}

void Pcp::drain_pages_zone(hal::Hal& h, unsigned cpu, zone* z) {
  per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
  CpuLocalGuard g(pcp->lock, h, h.cpu());
  if (pcp->count) free_pcppages_bulk(h, z, pcp->count, pcp, 0);
}

void Pcp::drain_local_pages(hal::Hal& h, zone* z) {
  MmNodes& nodes = *ctx_->nodes;
  if (z) {
    if (z->per_cpu_pageset) drain_pages_zone(h, h.cpu(), z);
    return;
  }
  for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
    for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
      zone* zz = &nodes.node(static_cast<int>(n)).node_zones[zi];
      if (zz->per_cpu_pageset) drain_pages_zone(h, h.cpu(), zz);
    }
}

void Pcp::drain_all_pages(hal::Hal& h, zone* z) {
  MmNodes& nodes = *ctx_->nodes;
  ctx_->vmstat->count(PCP_DRAIN);
  for (unsigned c = 0; c < nodes.nr_cpus(); ++c) {
    if (z) {
      if (z->per_cpu_pageset) drain_pages_zone(h, c, z);
      continue;
    }
    for (unsigned n = 0; n < nodes.nr_nodes(); ++n)
      for (unsigned zi = 0; zi < MAX_NR_ZONES; ++zi) {
        zone* zz = &nodes.node(static_cast<int>(n)).node_zones[zi];
        if (zz->per_cpu_pageset) drain_pages_zone(h, c, zz);
      }
  }
}


// ---------------------------------------------------------------- statistics

void Pcp::visit_stats(StatVisitor& v, const char* prefix) const {
  StatEmitter(v, prefix)("percpu_bytes", percpu_bytes(), "per-CPU page list structures", "bytes");
}

}  // namespace fw
