// The page allocator's policy: watermarks with reserves and order, the
// lowmem reserve keeping low zones from higher-zone requests, kswapd woken
// at the low watermark, the direct path below min, clean failures,
// __GFP_NOFAIL, __GFP_THISNODE, and the per-CPU lists (batch refill, high
// and bulk free, draining).
#include <gtest/gtest.h>

#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;
using fw::page;

namespace {

std::vector<page*> exhaust(Rig& r, fw::gfp_t gfp, unsigned order = 0, int nid = -1) {
  std::vector<page*> v;
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), gfp | fw::__GFP_NOWARN, order, nid)) v.push_back(p);
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
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0), nullptr);
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

TEST(fw_page_alloc, gfp_nofail_is_honoured_then_panics_when_nothing_is_left) {
  Rig r(spec_mb(64));
  std::vector<page*> got = exhaust(r, fw::GFP_KERNEL);
  // GFP_KERNEL fails now; with __GFP_NOFAIL it gets a page from the reserves.
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOWARN, 0), nullptr);
  page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOFAIL, 0);
  ASSERT_NE(p, nullptr);
  EXPECT_GE(r.k->vmstat().event[fw::ALLOC_NOFAIL_RESERVE], 1u);
  // Without direct reclaim Linux does not honour __GFP_NOFAIL either.
  std::vector<page*> more = exhaust(r, fw::GFP_ATOMIC);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_NOWAIT | fw::__GFP_NOFAIL | fw::__GFP_NOWARN, 0), nullptr);
  // With every page gone, a __GFP_NOFAIL request panics like an OOM with
  // nothing to kill.
  EXPECT_DEATH(
      {
        for (;;) r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOFAIL, 0);
      },
      "Out of memory and no killable processes");
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
  EXPECT_EQ(r.k->vmstat().event[fw::PAGEOUTRUN], runs + 1);
  EXPECT_FALSE(pg.kswapd_wait);
  // Nothing to reclaim: the node counts a failure.
  EXPECT_EQ(pg.kswapd_failures, 1u);
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
  Rig r(spec_mb(1024, 2));
  fw::zone* z = r.k->nodes().node(0).zonelist[0];
  fw::per_cpu_pages& pcp0 = z->per_cpu_pageset[0];
  const int batch = pcp0.batch, high = pcp0.high;
  ASSERT_GT(batch, 1);
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);  // what boot left there
  const uint64_t free0 = z->free_pages();
  page* p = r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE, 0);
  ASSERT_NE(p, nullptr);
  // One refill took a batch from the zone; one page went out.
  EXPECT_EQ(free0 - z->free_pages(), static_cast<uint64_t>(batch));
  EXPECT_EQ(pcp0.count, batch - 1);
  // Frees go to the list until it holds `high`, then a bulk goes back.
  std::vector<page*> pages = {p};
  for (int i = 0; i < high + batch; ++i) pages.push_back(r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE, 0));
  for (page* q : pages) {
    r.k->page_alloc().free_pages(r.cpu(0), q, 0);
    ASSERT_LT(pcp0.count, high) << "the list never stays at high";
  }
  EXPECT_GE(pcp0.count, batch) << "a bulk free leaves at least a batch";
  // Another CPU's list is separate; drain_all_pages empties both.
  page* q = r.k->page_alloc().alloc_pages(r.cpu(1), fw::GFP_HIGHUSER_MOVABLE, 0);
  r.k->page_alloc().free_pages(r.cpu(1), q, 0);
  EXPECT_GT(z->per_cpu_pageset[1].count, 0);
  EXPECT_GT(r.k->pcp().nr_pcp_pages(), 0u);
  r.k->pcp().drain_all_pages(r.cpu(0), nullptr);
  EXPECT_EQ(pcp0.count, 0);
  EXPECT_EQ(z->per_cpu_pageset[1].count, 0);
  EXPECT_EQ(z->free_pages(), free0);
  // Order 9 (THP) has lists of its own.
  page* t = r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP, 9);
  ASSERT_NE(t, nullptr);
  r.k->page_alloc().free_pages(r.cpu(0), t, 9);
  EXPECT_EQ(pcp0.count, 512);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(0), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_COMP, 9), t);
  r.k->page_alloc().free_pages(r.cpu(0), t, 9);
  r.k->quiesce(r.cpu(0));
  full_check(*r.k, {});
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
