// Per-CPU page lists (Linux mm/page_alloc.c, struct per_cpu_pages): per
// zone and CPU, one list per migrate type for each order up to
// PAGE_ALLOC_COSTLY_ORDER plus two for pageblock-order (THP) pages. An
// allocation of such an order takes the first page of its list, refilling
// it with `batch` (order 0) or max(batch >> order, 2) blocks from the buddy
// lists under one zone lock; a free puts the page at the head of its list
// and, once the lists hold `high` pages or more, returns a growing share
// (batch << free_factor, clamped to [batch, high - batch]) to the buddy
// lists round-robin over the lists (Linux 6.6's scheme; 6.7 added
// auto-tuning of high between high_min and high_max, which we compute and
// report but do not apply).
//
//   batch = rounddown_pow_of_two(b + b/2) - 1, b = max(min(managed >> 10, 256) / 4, 1)
//   high_min = max(low_watermark / CPUs of the zone's node, 4 * batch)
//   high_max = max(managed / 8 / CPUs of the node, 4 * batch)
//   (with percpu_pagelist_high_fraction f: both = max(managed / f / CPUs, 4 * batch))
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"
#include "sw/mm/context.h"
#include "sw/mm/internal.h"
#include "sw/mm/mmzone.h"

namespace fw {

constexpr unsigned NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);
constexpr unsigned NR_PCP_THP = 2;  // pageblock order: movable and the rest
constexpr unsigned NR_PCP_LISTS = NR_LOWORDER_PCP_LISTS + NR_PCP_THP;
constexpr unsigned MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8;

struct per_cpu_pages {
  CpuLocalLock lock;
  int32_t count;     // pages on the lists
  int32_t high;      // free to the buddy lists at this count
  int32_t high_min;
  int32_t high_max;
  int32_t batch;     // pages moved to or from the buddy lists at a time
  uint8_t free_factor;  // frees without allocations in between: doubles the bulk free
  list_head lists[NR_PCP_LISTS];
};

// Returns true when blocks of this order go through the per-CPU lists.
inline bool pcp_allowed_order(unsigned order) {
  return order <= PAGE_ALLOC_COSTLY_ORDER || order == pageblock_order;
}
// Returns the per-CPU list of a migrate type and order; pindex_to_order the
// order of a list.
inline unsigned order_to_pindex(unsigned mt, unsigned order) {
  if (order > PAGE_ALLOC_COSTLY_ORDER) return NR_LOWORDER_PCP_LISTS + (mt == MIGRATE_MOVABLE ? 1 : 0);
  return MIGRATE_PCPTYPES * order + mt;
}
inline unsigned pindex_to_order(unsigned pindex) {
  return pindex >= NR_LOWORDER_PCP_LISTS ? pageblock_order : pindex / MIGRATE_PCPTYPES;
}

class Memblock;

class Pcp {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  // Boot: the per-CPU structures of every managed zone, from memblock.
  // Returns false (after logging) when memblock has no room.
  bool alloc_pagesets(hal::Hal& h, Memblock& mb);
  // Linux zone_pcp_update: batch and high of every CPU of every zone,
  // from the current watermarks.
  void update_all();
  // Return a zone's per-CPU batch and high (Linux zone_batchsize,
  // zone_highsize).
  static int zone_batchsize(const zone* z);
  int zone_highsize(const zone* z, int batch, unsigned high_fraction) const;

  // Returns a block from this CPU's list of z, refilling it from the buddy
  // lists first when empty, or nullptr when both came up empty (Linux
  // rmqueue_pcplist). cpu: h's.
  page* rmqueue_pcplist(hal::Hal& h, unsigned cpu, zone* z, unsigned order, unsigned mt, unsigned alloc_flags);
  // Puts a freed block (already prepared) on this CPU's list of its zone.
  void free_unref_page(hal::Hal& h, unsigned cpu, zone* z, page* p, uint64_t pfn, unsigned order, unsigned mt);

  // Empties this CPU's lists (of one zone, or of all with nullptr).
  void drain_local_pages(hal::Hal& h, zone* z);
  // Every CPU's lists. The firmware has no per-CPU work queues: the lists
  // of other CPUs are emptied from here, under their locks.
  void drain_all_pages(hal::Hal& h, zone* z);

  uint64_t nr_pcp_pages() const { return nr_pcp_; }
  uint64_t percpu_bytes() const { return percpu_bytes_; }
  // The per-CPU structures under "<prefix>." (the pages on the lists are
  // the page allocator's statistics).
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  void drain_pages_zone(hal::Hal& h, unsigned cpu, zone* z);
  void free_pcppages_bulk(hal::Hal& h, zone* z, int count, per_cpu_pages* pcp, unsigned pindex);
  // Moves up to count blocks of the order from the buddy lists to list (Linux
  // rmqueue_bulk). Returns how many.
  int rmqueue_bulk(hal::Hal& h, zone* z, unsigned order, int count, list_head* list, unsigned mt, unsigned alloc_flags);

  MmContext* ctx_ = nullptr;
  uint64_t nr_pcp_ = 0;
  uint64_t percpu_bytes_ = 0;
};

}  // namespace fw
