// Per-CPU page lists (Linux 6.18 mm/page_alloc.c, struct per_cpu_pages):
// per zone and CPU, one list per migrate type for each order up to
// PAGE_ALLOC_COSTLY_ORDER plus two for pageblock-order (THP) pages. An
// allocation of such an order takes the first page of its list, refilling
// an empty list from the buddy lists under one zone lock; a free puts the
// page at the head of its list and, once the lists hold `high` pages or
// more, returns some to the buddy lists round-robin over the lists.
//
//   batch = rounddown_pow_of_two(b + b/2) - 1, b = max(min(managed >> 10, 256) / 4, 1)
//   high_min = max(low_watermark / CPUs of the zone's node, 4 * batch)
//   high_max = max(managed / 8 / CPUs of the node, 4 * batch)
//   (with percpu_pagelist_high_fraction f: both = max(managed / f / CPUs, 4 * batch))
//
// high itself is tuned between high_min and high_max (Linux >= 6.7): it
// starts at 0, grows by a batch at each refill (nr_pcp_alloc) and to hold
// the frees in a row (nr_pcp_high), shrinks while the zone is below its
// high watermark (ZONE_BELOW_HIGH) and decays by an eighth per second
// towards high_min (decay_pcp_high, from the vmstat refresh, which also
// drains lists of remote nodes idle for three seconds). Refills take
// batch << alloc_factor order-0 pages (doubling while allocations follow
// allocations); bulk frees give back free_count pages (growing while frees
// follow frees), at least a batch and leaving a batch; orders 1..3 freed in
// a row are given back at once (free_high).
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

constexpr unsigned PCP_BATCH_SCALE_MAX = 5;  // Linux's CONFIG_PCP_BATCH_SCALE_MAX default
// pcp flags (Linux PCPF_*).
constexpr uint8_t PCPF_PREV_FREE_HIGH_ORDER = 1;  // the last free was of order 1..3
constexpr uint8_t PCPF_FREE_HIGH_BATCH = 2;       // the CPU's cache slice holds 3 batches

struct per_cpu_pages {
  CpuLocalLock lock;
  int32_t count;     // pages on the lists
  int32_t high;      // free to the buddy lists at this count (tuned, high_min..high_max)
  int32_t high_min;
  int32_t high_max;
  int32_t batch;     // pages moved to or from the buddy lists at a time
  uint8_t flags;     // PCPF_*
  uint8_t alloc_factor;  // refills without frees in between: doubles the refill
  uint8_t expire;        // vmstat refreshes left before a remote node's list is drained
  bool stat_changed;     // pages moved to or from the buddy lists since the last refresh
  int32_t free_count;    // pages freed in a row (halved by each allocation)
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

  // The per-CPU part of Linux's vmstat refresh, once a second of simulated
  // time on each CPU (refresh_cpu_vm_stats with do_pagesets): decays high
  // and drains lists of remote zones that stayed idle. h's CPU.
  void vmstat_update(hal::Hal& h);

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
  static constexpr uint64_t kStatIntervalNs = 1000000000;  // vm.stat_interval: 1 s
  // The size of a CPU's share of its last-level cache (Linux
  // cci->per_cpu_data_slice_size; the model has no cache topology).
  static constexpr uint64_t kPerCpuDataSliceBytes = 2ull << 20;

  // Return the refill size and the high mark in effect, tuning high
  // (Linux nr_pcp_alloc, nr_pcp_high), and the bulk-free size (nr_pcp_free).
  static int nr_pcp_alloc(per_cpu_pages* pcp, const zone* z, unsigned order);
  static int nr_pcp_high(per_cpu_pages* pcp, const zone* z, int batch, bool free_high);
  static int nr_pcp_free(const per_cpu_pages* pcp, int batch, int high, bool free_high);
  // Returns whether more decay is due (Linux decay_pcp_high).
  int decay_pcp_high(hal::Hal& h, zone* z, per_cpu_pages* pcp);
  void drain_pages_zone(hal::Hal& h, unsigned cpu, zone* z);
  void free_pcppages_bulk(hal::Hal& h, zone* z, int count, per_cpu_pages* pcp, unsigned pindex);
  // Moves up to count blocks of the order from the buddy lists to list (Linux
  // rmqueue_bulk). Returns how many.
  int rmqueue_bulk(hal::Hal& h, zone* z, unsigned order, int count, list_head* list, unsigned mt, unsigned alloc_flags);

  MmContext* ctx_ = nullptr;
  uint64_t nr_pcp_ = 0;
  uint64_t percpu_bytes_ = 0;
  uint64_t next_refresh_ns_[hal::kMaxCpus] = {};
};

}  // namespace fw
