// CMA: the boot-time area, lent to movable allocations only, and cma_alloc
// migrating the borrowers out to hand back a contiguous range.
#include <gtest/gtest.h>

#include <vector>

#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;
using fw::page;

namespace {

fw::Params cma_params(uint64_t bytes) {
  fw::Params p = quiet_params();
  p.cma = bytes;
  return p;
}

TEST(fw_cma, the_area_is_reserved_at_boot_and_shown) {
  Rig r(spec_mb(256), cma_params(16 * MiB));
  fw::Cma& cma = r.k->cma();
  ASSERT_TRUE(cma.present());
  EXPECT_EQ(cma.count(), 4096u);
  EXPECT_EQ(cma.base_pfn() % fw::MAX_ORDER_NR_PAGES, 0u);
  fw::zone* z = r.k->nodes().pfn_zone(cma.base_pfn());
  EXPECT_EQ(z->cma_pages, 4096u);
  for (uint64_t pfn = cma.base_pfn(); pfn < cma.base_pfn() + cma.count(); pfn += fw::pageblock_nr_pages)
    EXPECT_EQ(z->get_pfnblock_migratetype(pfn), fw::MIGRATE_CMA);
  const std::string mi = r.proc("meminfo");
  EXPECT_NE(mi.find("CmaTotal:          16384 kB"), std::string::npos) << mi;
  EXPECT_NE(mi.find("CmaFree:           16384 kB"), std::string::npos) << mi;
  EXPECT_NE(r.proc("zoneinfo").find("cma      4096"), std::string::npos);
  EXPECT_NE(r.console().find("cma: Reserved 16 MiB at"), std::string::npos);
  full_check(*r.k, {});
}

TEST(fw_cma, only_movable_allocations_borrow_it) {
  Rig r(spec_mb(128), cma_params(16 * MiB));
  fw::Cma& cma = r.k->cma();
  std::vector<page*> kernel;
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_NOWARN | fw::__GFP_RETRY_MAYFAIL, 0)) {
    ASSERT_FALSE(cma.contains(r.k->nodes().page_to_pfn(p))) << "an unmovable page in CMA";
    kernel.push_back(p);
  }
  // The CMA area is still free: GFP_KERNEL's watermark check does not count it.
  fw::zone* z = r.k->nodes().pfn_zone(cma.base_pfn());
  EXPECT_GT(z->vm_stat[fw::NR_FREE_CMA_PAGES], 4000);
  uint64_t in_cma = 0;
  std::vector<page*> movable;
  while (page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE | fw::__GFP_NOWARN | fw::__GFP_RETRY_MAYFAIL, 0)) {
    in_cma += cma.contains(r.k->nodes().page_to_pfn(p));
    movable.push_back(p);
  }
  // All of the area but what the watermarks keep free.
  EXPECT_GT(in_cma, 4096u - fw::Watermark::high_wmark_pages(z));
  for (page* p : kernel) r.k->page_alloc().free_pages(r.cpu(), p, 0);
  for (page* p : movable) r.k->page_alloc().free_pages(r.cpu(), p, 0);
  r.k->quiesce(r.cpu());
  full_check(*r.k, {});
}

TEST(fw_cma, cma_alloc_migrates_the_borrowers_out) {
  Rig r(spec_mb(128), cma_params(16 * MiB));
  fw::Cma& cma = r.k->cma();
  // A process fills memory; the movable requests use the CMA area once
  // more than half of the zone's free memory is CMA. It leaves room above
  // the watermarks (min_free_kbytes 6000 here: khugepaged's 5% of the
  // buffer pages) for what cma_alloc migrates out of the area.
  const int pid = r.start_process();
  const uint64_t len = 92 * MiB;
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, len));
  uint64_t in_cma = 0;
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(0, a + off);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa, (a + off) * 3);
    in_cma += cma.contains(pa / PAGE_SIZE);
  }
  EXPECT_GT(in_cma, 1000u) << "the process borrowed the CMA area";
  r.m->clear_tlb_ops();
  page* got = cma.cma_alloc(r.cpu(), cma.count(), 0);
  ASSERT_NE(got, nullptr) << r.console();
  EXPECT_EQ(r.k->nodes().page_to_pfn(got), cma.base_pfn());
  for (uint64_t i = 0; i < cma.count(); ++i) ASSERT_EQ(got[i]._refcount, 1) << i;
  EXPECT_GE(r.k->migrate().stats().succeeded, in_cma);
  EXPECT_EQ(r.k->vmstat().event[fw::CMA_ALLOC_SUCCESS], 1u);
  // Every page of the process is still there, none in the area.
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const Walk w = r.walk(0, a + off);
    ASSERT_EQ(w.status, Walk::ok);
    ASSERT_FALSE(cma.contains(w.pa / PAGE_SIZE));
    ASSERT_EQ(r.read64(w.pa), (a + off) * 3);
  }
  // The moved translations were invalidated through the HAL.
  uint64_t invlpg = 0;
  for (const auto& op : r.m->tlb_ops()) invlpg += op.kind == hosthal::TlbOp::Kind::invlpg;
  EXPECT_GE(invlpg, in_cma);
  EXPECT_NE(r.proc("meminfo").find("CmaFree:               0 kB"), std::string::npos);
  // A second request finds nothing left.
  EXPECT_EQ(cma.cma_alloc(r.cpu(), 1, 0), nullptr);
  EXPECT_EQ(r.k->vmstat().event[fw::CMA_ALLOC_FAIL], 1u);
  EXPECT_EQ(cma.stats().alloc_failed, 1u);
  EXPECT_TRUE(cma.cma_release(r.cpu(), got, cma.count()));
  EXPECT_EQ(cma.stats().pages_allocated, 0u);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
  (void)pid;
}

TEST(fw_cma, aligned_partial_allocations_and_busy_pages) {
  Rig r(spec_mb(128, 2), cma_params(8 * MiB));
  fw::Cma& cma = r.k->cma();
  page* a = cma.cma_alloc(r.cpu(), 100, 4);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(r.k->nodes().page_to_pfn(a) % 16, 0u);
  page* b = cma.cma_alloc(r.cpu(), 300, 9);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(r.k->nodes().page_to_pfn(b) % 512, 0u);
  EXPECT_GE(r.k->nodes().page_to_pfn(b), r.k->nodes().page_to_pfn(a) + 100);
  full_check(*r.k, {{r.k->nodes().page_to_pfn(a), 0}});  // (only the heads are listed; the rest are allocated pages)
  EXPECT_TRUE(cma.cma_release(r.cpu(), a, 100));
  EXPECT_TRUE(cma.cma_release(r.cpu(), b, 300));
  // Pages of a process running on another CPU move too: the shootdown
  // reaches that CPU (its IPI is served while this one waits).
  const int pid = r.start_process(1, "runner");
  const uint64_t len = 100 * MiB;
  const uint64_t va = static_cast<uint64_t>(r.mmap(1, 0, len));
  uint64_t in_cma = 0;
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const uint64_t pa = r.access(1, va + off);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa, va + off);
    in_cma += cma.contains(pa / PAGE_SIZE);
  }
  ASSERT_GT(in_cma, 0u) << "the process borrowed the CMA area";
  page* c = cma.cma_alloc(r.cpu(0), cma.count(), 0);
  ASSERT_NE(c, nullptr) << r.console();
  EXPECT_GE(r.k->migrate().stats().succeeded, in_cma);
  EXPECT_GE(r.k->tlb().stats().ipis_received, 1u) << "CPU 1 flushed the moved pages";
  for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
    const Walk w = r.walk(1, va + off);
    ASSERT_EQ(w.status, Walk::ok);
    ASSERT_FALSE(cma.contains(w.pa / PAGE_SIZE));
    ASSERT_EQ(r.read64(w.pa), va + off);
  }
  EXPECT_TRUE(cma.cma_release(r.cpu(), c, cma.count()));
  (void)pid;
  // Nothing was left isolated.
  fw::zone* z = r.k->nodes().pfn_zone(cma.base_pfn());
  for (uint64_t pfn = cma.base_pfn(); pfn < cma.base_pfn() + cma.count(); pfn += fw::pageblock_nr_pages)
    EXPECT_EQ(z->get_pfnblock_migratetype(pfn), fw::MIGRATE_CMA);
}

TEST(fw_cma, a_busy_stretch_moves_the_search_on_by_the_alignment) {
  // Half the zone is CMA, so the first movable page comes from the area
  // (__rmqueue's ALLOC_CMA balancing). Held off the LRU it cannot move:
  // the stretch holding it is busy (-EBUSY from test_pages_isolated).
  Rig r(spec_mb(128), cma_params(64 * MiB));
  fw::Cma& cma = r.k->cma();
  page* pin = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0);
  ASSERT_NE(pin, nullptr);
  ASSERT_TRUE(cma.contains(r.k->nodes().page_to_pfn(pin)));
  // Take the stretches before the pinned page's, so the first fit the
  // next request tries is the busy one.
  const uint64_t busy = (r.k->nodes().page_to_pfn(pin) - cma.base_pfn()) & ~511ull;
  ASSERT_LE(busy + 1024, cma.count());
  page* before = busy ? cma.cma_alloc(r.cpu(), busy, 9) : nullptr;
  ASSERT_EQ(before != nullptr, busy != 0);
  EXPECT_EQ(cma.stats().alloc_retries, 0u);
  page* got = cma.cma_alloc(r.cpu(), 512, 9);
  ASSERT_NE(got, nullptr) << r.console();
  EXPECT_EQ(r.k->nodes().page_to_pfn(got), cma.base_pfn() + busy + 512);
  EXPECT_EQ(cma.stats().alloc_retries, 1u);
  EXPECT_TRUE(cma.cma_release(r.cpu(), got, 512));
  if (before) {
    EXPECT_TRUE(cma.cma_release(r.cpu(), before, busy));
  }
  r.k->page_alloc().free_pages(r.cpu(), pin, 0);
  r.k->quiesce(r.cpu());
  full_check(*r.k, {});
}

}  // namespace
