// The page allocator's policy: watermarks with reserves and order, the
// lowmem reserve keeping low zones from higher-zone requests, kswapd woken
// at the low watermark, the direct path below min, clean failures,
// __GFP_NOFAIL, __GFP_THISNODE, and the per-CPU lists (batch refill, high
// and bulk free, draining).
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;
using fw::page;

namespace {

// Allocates until the allocator says no. __GFP_RETRY_MAYFAIL: these rigs
// run no process, so an OOM kill would find nobody and panic (as 6.18's
// out_of_memory does); such a request fails instead.
std::vector<page*> exhaust(Rig& r, fw::gfp_t gfp, unsigned order = 0, int nid = -1) {
  std::vector<page*> v;
  const fw::gfp_t g = gfp | fw::__GFP_NOWARN | fw::__GFP_RETRY_MAYFAIL;
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), g, order, nid)) v.push_back(p);
  return v;
}

void release(Rig& r, std::vector<page*>& v, unsigned order = 0) {
  for (page* p : v) r.k->page_alloc().free_pages(r.cpu(), p, order);
  v.clear();
}

TEST(fw_page_alloc, allocations_stop_at_the_min_watermark_and_fail_cleanly) {
  Rig r(spec_mb(64));
  fw::pglist_data& pg = r.k->nodes().node(0);
  std::vector<page*> got = exhaust(r, fw::GFP_HIGHUSER_MOVABLE);
  EXPECT_GT(got.size(), 14000u);
  for (unsigned zi : {fw::ZONE_DMA, fw::ZONE_DMA32}) {
    const fw::zone& z = pg.node_zones[zi];
    // Below min + reserve for the request's highest zone: no more.
    const uint64_t floor = z._watermark[fw::WMARK_MIN] + static_cast<uint64_t>(z.lowmem_reserve[fw::ZONE_MOVABLE]);
    EXPECT_LE(z.free_pages(), floor + 1) << z.name;
    EXPECT_GT(z.free_pages() + 64, floor) << z.name << " stopped well above its floor";
  }
  EXPECT_GT(r.k->page_alloc().stats().alloc_failed, 0u);
  EXPECT_GT(r.k->page_alloc().stats().direct_path, 0u) << "below min the request entered the direct path";
  // A failure without __GFP_NOWARN says so, once per failure, rate-limited.
  r.m->clear_console();
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_RETRY_MAYFAIL, 0), nullptr);
  EXPECT_NE(r.console().find("page allocation failure: order:0"), std::string::npos) << r.console();
  // Atomic requests may use part of the min reserve.
  std::vector<page*> atomic = exhaust(r, fw::GFP_ATOMIC);
  EXPECT_GT(atomic.size(), 0u);
  const fw::zone& dma32 = pg.node_zones[fw::ZONE_DMA32];
  EXPECT_LT(dma32.free_pages(), dma32._watermark[fw::WMARK_MIN]);
  // Everything back; every page accounted.
  release(r, got);
  release(r, atomic);
  r.k->quiesce(r.cpu());
  full_check(*r.k, {});
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

// 6.18 __zone_watermark_ok: __GFP_HIGH (ALLOC_MIN_RESERVE) may use half of
// min, and a non-blocking one (ALLOC_NON_BLOCK) a quarter of the rest too;
// a request without __GFP_HIGH gets no share, blocking or not. Order-0
// requests check before their per-CPU refill, so the zone may end up to a
// refill (a batch, doubling up to 32 batches while allocations follow each
// other) below.
// Exhausts DMA32 with `gfp` and expects its free pages at `floor` (of its
// min mark), give or take a refill.
void expect_exhaustion_stops_at(fw::gfp_t gfp, uint64_t (*floor_of)(uint64_t min)) {
  Rig r(spec_mb(64));
  fw::zone& z = r.k->nodes().node(0).node_zones[fw::ZONE_DMA32];
  ASSERT_EQ(z.lowmem_reserve[fw::ZONE_NORMAL], 0);
  std::vector<page*> got = exhaust(r, gfp);
  const uint64_t floor = floor_of(z._watermark[fw::WMARK_MIN]);
  EXPECT_LE(z.free_pages(), floor + 1);
  const uint64_t refill = static_cast<uint64_t>(z.per_cpu_pageset[0].batch) << fw::PCP_BATCH_SCALE_MAX;
  EXPECT_GT(z.free_pages() + refill, floor);
  release(r, got);
}

TEST(fw_page_alloc, atomic_requests_stop_a_quarter_below_half_of_min) {
  expect_exhaustion_stops_at(fw::GFP_ATOMIC, [](uint64_t min) { return (min - min / 2) - (min - min / 2) / 4; });
}

TEST(fw_page_alloc, nowait_requests_stop_at_min) {
  expect_exhaustion_stops_at(fw::GFP_NOWAIT, [](uint64_t min) { return min; });
}

// The order-0 fast path (6.18 zone_watermark_fast) wants free pages above
// the mark plus the lowmem reserve: at exactly that, no.
TEST(fw_page_alloc, watermark_fast_needs_more_than_mark_plus_reserve) {
  Rig r(spec_mb(64));
  fw::zone* z = &r.k->nodes().node(0).node_zones[fw::ZONE_DMA];
  r.k->pcp().drain_all_pages(r.cpu(), nullptr);
  const uint64_t mark = fw::Watermark::low_wmark_pages(z);
  const int64_t reserve = z->lowmem_reserve[fw::ZONE_DMA32];
  ASSERT_GT(reserve, 0);
  ASSERT_EQ(z->nr_free_highatomic, 0u);
  HeldPages held;
  ASSERT_TRUE(take_free_pages_until(r, z, mark + static_cast<uint64_t>(reserve), held));
  const fw::Watermark& wm = r.k->watermark();
  EXPECT_FALSE(wm.zone_watermark_fast(z, 0, mark, fw::ZONE_DMA32, fw::ALLOC_WMARK_LOW, fw::GFP_KERNEL));
  give_back(r, z, {held.back()});
  held.pop_back();
  EXPECT_TRUE(wm.zone_watermark_fast(z, 0, mark, fw::ZONE_DMA32, fw::ALLOC_WMARK_LOW, fw::GFP_KERNEL));
  give_back(r, z, held);
}

TEST(fw_page_alloc, gfp_nofail_without_reclaim_fails_and_with_nobody_to_kill_panics) {
  Rig r(spec_mb(64));
  std::vector<page*> got = exhaust(r, fw::GFP_KERNEL);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_RETRY_MAYFAIL | fw::__GFP_NOWARN, 0),
            nullptr);
  // Without direct reclaim Linux does not honour __GFP_NOFAIL.
  std::vector<page*> more = exhaust(r, fw::GFP_ATOMIC);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_NOWAIT | fw::__GFP_NOFAIL | fw::__GFP_NOWARN, 0), nullptr);
  // With it, the OOM killer runs; with no process to kill, 6.18 panics.
  EXPECT_DEATH(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOFAIL, 0),
               "System is deadlocked on memory");
}

TEST(fw_page_alloc, lowmem_reserve_keeps_dma_from_normal_requests) {
  Rig r(spec_mb(5 * 1024));
  fw::pglist_data& pg = r.k->nodes().node(0);
  fw::zone& dma = pg.node_zones[fw::ZONE_DMA];
  const uint64_t dma_free = dma.free_pages();
  // DMA's protection against Normal requests exceeds its size here:
  // (DMA32 + Normal managed) / 256.
  EXPECT_GT(static_cast<uint64_t>(dma.lowmem_reserve[fw::ZONE_NORMAL]), dma.managed_pages);
  std::vector<page*> got = exhaust(r, fw::GFP_KERNEL, 4);
  EXPECT_EQ(dma.free_pages(), dma_free) << "GFP_KERNEL took pages from ZONE_DMA";
  // DMA requests still get them.
  page* d = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_DMA, 0);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(fw::page_zonenum(d), static_cast<unsigned>(fw::ZONE_DMA));
  r.k->page_alloc().free_pages(r.cpu(), d, 0);
  release(r, got, 4);
}

TEST(fw_page_alloc, crossing_low_wakes_kswapd_which_runs_as_deferred_work) {
  fw::Params prm = quiet_params();
  prm.watermark_boost_factor = 0;  // only the low watermark wakes kswapd here
  Rig r(spec_mb(64), prm);
  fw::pglist_data& pg = r.k->nodes().node(0);
  // Allocations move from zone to zone while one is above its low
  // watermark; the slow path (and kswapd) starts when none is.
  std::vector<page*> got;
  while (r.k->page_alloc().stats().slowpath == 0) {
    EXPECT_FALSE(pg.kswapd_wait) << r.proc("vmstat");
    page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0);
    ASSERT_NE(p, nullptr);
    got.push_back(p);
  }
  for (unsigned zi : {fw::ZONE_DMA, fw::ZONE_DMA32}) {
    const fw::zone& z = pg.node_zones[zi];
    // The low watermark plus the zone's reserve against the request's
    // highest zone (Movable for GFP_HIGHUSER_MOVABLE).
    EXPECT_LE(z.free_pages(), fw::Watermark::low_wmark_pages(&z) + static_cast<uint64_t>(z.lowmem_reserve[fw::ZONE_MOVABLE]) + 1)
        << z.name;
  }
  EXPECT_TRUE(pg.kswapd_wait) << "below low: kswapd woken";
  EXPECT_GE(r.k->vmstat().event[fw::KSWAPD_WAKE], 1u);
  const uint64_t runs = r.k->vmstat().event[fw::PAGEOUTRUN];
  r.k->timer_tick(r.cpu());  // deferred work runs from the tick
  // Nothing to reclaim: each run counts a failure and kswapd, still below
  // high, goes again at once until it gives up on the node.
  EXPECT_EQ(r.k->vmstat().event[fw::PAGEOUTRUN], runs + fw::MAX_RECLAIM_RETRIES);
  EXPECT_EQ(pg.kswapd_failures, fw::MAX_RECLAIM_RETRIES);
  EXPECT_FALSE(pg.kswapd_wait);
  for (page* p : got)
    if (p) r.k->page_alloc().free_pages(r.cpu(), p, 0);
}

TEST(fw_page_alloc, thisnode_does_not_fall_back) {
  Rig r(spec_mb(512, 2, 2));
  std::vector<page*> n1 = exhaust(r, fw::GFP_KERNEL | fw::__GFP_THISNODE, 0, 1);
  EXPECT_GT(n1.size(), 50000u);
  for (page* p : n1) ASSERT_EQ(fw::page_to_nid(p), 1);
  // Without __GFP_THISNODE node 1's requests spill to node 0.
  page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(fw::page_to_nid(p), 0);
  const fw::zone* z = r.k->nodes().page_zone(p);
  EXPECT_GT(z->numa_event[fw::NUMA_MISS], 0u);
  EXPECT_GT(r.k->nodes().node(1).node_zones[fw::ZONE_DMA32].numa_event[fw::NUMA_FOREIGN], 0u);
  r.k->page_alloc().free_pages(r.cpu(), p, 0);
  release(r, n1);
}

TEST(fw_page_alloc, per_cpu_lists_refill_in_batches_and_free_in_bulk) {
  // Linux 6.18's rules, step by step (mm/page_alloc.c nr_pcp_alloc,
  // nr_pcp_high, nr_pcp_free, free_frozen_page_commit, decay_pcp_high).
  Rig r(spec_mb(1024, 2));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  fw::per_cpu_pages& pcp0 = z->per_cpu_pageset[0];
  const int batch = pcp0.batch, hmin = pcp0.high_min, hmax = pcp0.high_max;
  ASSERT_GT(batch, 1);
  ASSERT_GT(hmax, hmin + 8 * batch);
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);  // what boot left there
  // A pageset as setup_zone_pageset leaves it: high 0, nothing in a row.
  pcp0.high = 0;
  pcp0.alloc_factor = 0;
  pcp0.free_count = 0;
  pcp0.flags &= static_cast<uint8_t>(~fw::PCPF_PREV_FREE_HIGH_ORDER);
  const uint64_t free0 = z->free_pages();
  auto alloc = [&] { return r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE, 0); };
  std::vector<page*> pages = {alloc()};
  ASSERT_NE(pages[0], nullptr);
  // First refill: high starts at high_min and grows by the refill; a batch
  // comes in (alloc_factor 0), one page goes out.
  EXPECT_EQ(free0 - z->free_pages(), static_cast<uint64_t>(batch));
  EXPECT_EQ(pcp0.count, batch - 1);
  EXPECT_EQ(pcp0.high, hmin + batch);
  EXPECT_EQ(pcp0.alloc_factor, 1);
  // Allocations in a row double the refill: the next one takes 2 batches
  // and high grows by them.
  for (int i = 0; i < batch; ++i) pages.push_back(alloc());
  EXPECT_EQ(free0 - z->free_pages(), static_cast<uint64_t>(3 * batch));
  EXPECT_EQ(pcp0.count, 2 * batch - 1);
  EXPECT_EQ(pcp0.high, hmin + 3 * batch);
  EXPECT_EQ(pcp0.alloc_factor, 2);
  // Frees go to the list until it holds high, then what was freed in a row
  // goes back (at least a batch, leaving a batch); high grows to hold the
  // row plus a batch.
  for (int i = 0; i < 3 * hmin; ++i) pages.push_back(alloc());
  bool bulk = false;
  for (page* q : pages) {
    const int before = pcp0.count;
    r.k->page_alloc().free_pages(r.cpu(0), q, 0);
    ASSERT_LT(pcp0.count, pcp0.high) << "the list never stays at high";
    if (pcp0.count < before) {
      bulk = true;
      ASSERT_GE(pcp0.count, batch) << "a bulk free leaves at least a batch";
    }
  }
  EXPECT_TRUE(bulk);
  EXPECT_EQ(pcp0.alloc_factor, 0);
  EXPECT_EQ(pcp0.free_count, batch << fw::PCP_BATCH_SCALE_MAX);  // capped
  EXPECT_GT(pcp0.high, hmin + 3 * batch);
  EXPECT_LE(pcp0.high, hmax);
  // The vmstat refresh, once a second: high decays by an eighth (not below
  // count - 32 batches) and what lies above it goes back.
  r.k->run_deferred_work(r.cpu(0));  // arms the refresh: due a second later
  const int high = pcp0.high, count = pcp0.count;
  r.cpu(0).advance_ns(1000000000);
  r.k->run_deferred_work(r.cpu(0));
  const int decayed = std::max({count - (batch << fw::PCP_BATCH_SCALE_MAX), high - (high >> 3), hmin});
  EXPECT_EQ(pcp0.high, decayed);
  EXPECT_EQ(pcp0.count, std::min(count, decayed));
  // Below the zone's high watermark (ZONE_BELOW_HIGH) a free shrinks high
  // by the row and gives back what exceeds high_min.
  z->flags |= 1ull << fw::ZONE_BELOW_HIGH;
  page* q = alloc();
  const int h1 = pcp0.high, row = pcp0.free_count;
  r.k->page_alloc().free_pages(r.cpu(0), q, 0);
  EXPECT_EQ(pcp0.high, std::max(h1 - std::max(row + 1, batch), hmin));
  // The next bulk free finds the zone far above its high watermark and
  // clears the flag.
  std::vector<page*> more;
  for (int i = 0; i < hmin + batch; ++i) more.push_back(alloc());
  for (page* m : more) r.k->page_alloc().free_pages(r.cpu(0), m, 0);
  EXPECT_FALSE(z->flags & (1ull << fw::ZONE_BELOW_HIGH));
  // Another CPU's list is separate; drain_all_pages empties both.
  q = r.k->page_alloc().alloc_pages(r.cpu(1), fw::GFP_HIGHUSER_MOVABLE, 0);
  r.k->page_alloc().free_pages(r.cpu(1), q, 0);
  EXPECT_GT(z->per_cpu_pageset[1].count, 0);
  EXPECT_GT(r.k->pcp().nr_pcp_pages(), 0u);
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);
  EXPECT_EQ(pcp0.count, 0);
  EXPECT_EQ(z->per_cpu_pageset[1].count, 0);
  EXPECT_EQ(z->free_pages(), free0);
  // Order 9 (THP) has lists of its own.
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);
  page* t = r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP, 9);
  ASSERT_NE(t, nullptr);
  r.k->page_alloc().free_pages(r.cpu(0), t, 9);
  // A refill of max(batch >> 9, 2) blocks, one handed out and freed back
  // below high.
  ASSERT_GT(pcp0.high, 1024);
  EXPECT_EQ(pcp0.count, 1024);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP, 9), t);
  r.k->page_alloc().free_pages(r.cpu(0), t, 9);
  r.k->quiesce(r.cpu(0));
  full_check(*r.k, {});
}

TEST(fw_page_alloc, per_cpu_lists_give_back_orders_1_to_3_freed_in_a_row) {
  // free_high: once free_count >= batch + high_min / 2 with the previous
  // free of order 1..3 too, the list goes back (up to 32 batches). The row
  // is capped at 32 batches, so high_min must be small: a manual
  // percpu_pagelist_high_fraction.
  fw::Params p = quiet_params();
  p.percpu_pagelist_high_fraction = 64;
  Rig r(spec_mb(1024, 2), p);
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  fw::per_cpu_pages& pcp0 = z->per_cpu_pageset[0];
  const int batch = pcp0.batch, hmin = pcp0.high_min;
  ASSERT_EQ(pcp0.high_min, pcp0.high_max);
  ASSERT_LT(batch + hmin / 2, batch << fw::PCP_BATCH_SCALE_MAX);
  ASSERT_TRUE(pcp0.flags & fw::PCPF_FREE_HIGH_BATCH);
  std::vector<page*> o2;
  for (int i = 0; i < (batch + hmin / 2) / 4 + 8; ++i)
    o2.push_back(r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE, 2));
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);
  pcp0.free_count = 0;
  int emptied_at = -1;
  for (size_t i = 0; i < o2.size(); ++i) {
    r.k->page_alloc().free_pages(r.cpu(0), o2[i], 2);
    if (emptied_at < 0 && pcp0.count == 0) emptied_at = static_cast<int>(i);
  }
  // The free that made the row long enough (count >= batch too) emptied the list.
  const int row_at = (batch + hmin / 2 + 3) / 4;  // frees of 4 pages to reach the row
  EXPECT_EQ(emptied_at, std::max(row_at, (batch + 3) / 4 - 1));
  r.k->quiesce(r.cpu(0));
  full_check(*r.k, {});
}

TEST(fw_page_alloc, remote_per_cpu_lists_drain_after_three_idle_seconds) {
  // Linux's vmstat refresh drains, a batch at a time, the lists a CPU
  // keeps for another node's zones once they stayed idle 3 refreshes.
  Rig r(spec_mb(2048, 2, 2));
  fw::zone* remote = &r.k->nodes().node(1).node_zones[fw::ZONE_DMA32];
  ASSERT_TRUE(remote->managed());
  ASSERT_EQ(r.k->nodes().cpu_to_node(0), 0);
  fw::per_cpu_pages& pcp = remote->per_cpu_pageset[0];
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);
  page* p = r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_KERNEL | fw::__GFP_THISNODE, 0, 1);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(fw::page_to_nid(p), 1);
  r.k->page_alloc().free_pages(r.cpu(0), p, 0);
  const int count = pcp.count;
  ASSERT_GT(count, 0);
  r.k->run_deferred_work(r.cpu(0));
  for (int s = 1; s <= 3; ++s) {
    r.cpu(0).advance_ns(1000000000);
    r.k->run_deferred_work(r.cpu(0));
    if (s < 3) {
      EXPECT_EQ(pcp.count, count) << "second " << s;
    }
  }
  EXPECT_EQ(pcp.count, std::max(0, count - pcp.batch));
}

TEST(fw_page_alloc, idle_machine_gives_everything_back) {
  // The last exit drains the per-CPU lists and shrinks the slab caches, so
  // the end-of-run free count shows leaks exactly.
  Rig r(spec_mb(256, 2));
  for (unsigned c = 0; c < 2; ++c) {
    r.start_process(c);
    const uint64_t a = static_cast<uint64_t>(r.mmap(c, 0, 4 * MiB));
    for (uint64_t off = 0; off < 4 * MiB; off += PAGE_SIZE) r.access(c, a + off);
  }
  EXPECT_LT(r.k->nr_free_pages(), r.k->boot_free_pages());
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_LT(r.k->nr_free_pages(), r.k->boot_free_pages());
  r.sys(1, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  EXPECT_EQ(r.k->pcp().nr_pcp_pages(), 0u);
  EXPECT_EQ(r.stats().at("vmstat.nr_slab_unreclaimable"), 0u);
  full_check(*r.k, {});
}

}  // namespace
