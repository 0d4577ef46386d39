#include "sw/mm/pcp.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/buddy.h"
#include "sw/mm/memblock.h"
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
      for (unsigned c = 0; c < nodes.nr_cpus(); ++c) {
        per_cpu_pages* pcp = &z.per_cpu_pageset[c];
        pcp->batch = batch;
        pcp->high_min = high_min;
        pcp->high_max = high_max;
        pcp->high = high_min;
      }
    }
}

int Pcp::rmqueue_bulk(hal::Hal& h, zone* z, unsigned order, int count, list_head* list, unsigned mt,
                      unsigned alloc_flags) {
  Buddy& b = *ctx_->buddy;
  BuddyObserver* obs = b.observer();
  rmqueue_mode mode = RMQUEUE_NORMAL;
  int i = 0;
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

page* Pcp::rmqueue_pcplist(hal::Hal& h, unsigned cpu, zone* z, unsigned order, unsigned mt, unsigned alloc_flags) {
  per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
  CpuLocalGuard g(pcp->lock, h, cpu);
  // An allocation: frees are no longer "without allocations in between".
  pcp->free_factor >>= 1;
  list_head* list = &pcp->lists[order_to_pindex(mt, order)];
  if (list_empty(list)) {
    int batch = pcp->batch;
    // Batch 1 means no caching (boot pagesets, tiny zones).
    if (batch > 1) batch = max(batch >> order, 2);
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

void Pcp::free_unref_page(hal::Hal& h, unsigned cpu, zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt) {
  per_cpu_pages* pcp = &z->per_cpu_pageset[cpu];
  CpuLocalGuard g(pcp->lock, h, cpu);
  const unsigned pindex = order_to_pindex(mt, order);
  p->private_ = order;
  list_add(&p->lru, &pcp->lists[pindex]);
  pcp->count += 1 << order;
  nr_pcp_ += 1ull << order;
  if (BuddyObserver* obs = ctx_->buddy->observer()) obs->pcp_add(z, pfn, order);
  // Freeing costly-but-cached orders while nothing allocates: give them all
  // back, they fragment memory otherwise.
  const bool free_high = pcp->free_factor && order && order <= PAGE_ALLOC_COSTLY_ORDER;
  const int high = free_high ? 0 : pcp->high;
  if (pcp->count >= high) {
    const int batch = pcp->batch;
    int nr;
    if (free_high) {
      nr = pcp->count;
    } else if (high < batch) {
      nr = 1;  // lists disabled
    } else {
      // Leave at least a batch; double what goes back each time frees
      // follow frees.
      const int min_nr = batch, max_nr = high - batch;
      int n = batch << pcp->free_factor;
      if (n < max_nr && pcp->free_factor < 16) ++pcp->free_factor;
      nr = n < min_nr ? min_nr : n > max_nr ? max_nr : n;
    }
    free_pcppages_bulk(h, z, nr, pcp, pindex);
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
