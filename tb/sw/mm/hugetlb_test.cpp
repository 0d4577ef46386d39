// hugetlbfs: boot-time pools of 2 MiB and 1 GiB pages spread
// over the nodes, reservation at mmap (ENOMEM instead of a failing fault),
// surplus pages with overcommit, PD and PDPT leaves, MADV_DONTNEED giving
// pages back (a refault reads zeros, the reservation is renewed), huge-page
// alignment for munmap and mprotect, shared and private mappings across
// fork, meminfo's HugePages_ lines; the pools' counters against their free
// lists and every page accounted after each step.
#include <gtest/gtest.h>

#include <cstdio>

#include "sw/lib/errno.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/mm_check.h"

using namespace fwtest;

namespace {

constexpr uint64_t RW = fw::PROT_READ | fw::PROT_WRITE;
constexpr uint64_t PA = fw::MAP_PRIVATE | fw::MAP_ANONYMOUS;
constexpr uint64_t H2 = fw::MAP_HUGETLB | fw::MAP_HUGE_2MB;
constexpr uint64_t H1 = fw::MAP_HUGETLB | fw::MAP_HUGE_1GB;

fw::Params huge_params(uint64_t n2m, uint64_t n1g = 0, uint64_t over2m = 0) {
  fw::Params p = quiet_params();
  p.hugepages_2m = n2m;
  p.hugepages_1g = n1g;
  p.nr_overcommit_hugepages_2m = over2m;
  return p;
}

const fw::hstate& hs2(Rig& r) { return r.k->hugetlb().hs(0); }
const fw::hstate& hs1(Rig& r) { return r.k->hugetlb().hs(1); }

TEST(fw_hugetlb, boot_pools_are_spread_over_the_nodes_and_shown) {
  Rig r(spec_mb(512, 2, 2), huge_params(5));
  const fw::hstate& h = hs2(r);
  EXPECT_EQ(h.nr_huge_pages, 5u);
  EXPECT_EQ(h.free_huge_pages, 5u);
  EXPECT_EQ(h.nr_huge_pages_node[0], 3u);  // round-robin from node 0
  EXPECT_EQ(h.nr_huge_pages_node[1], 2u);
  // The pool is not free memory: MemFree and the page allocator lack it.
  hugetlb_check(*r.k);
  full_check(*r.k, {});
  const std::string mi = r.proc("meminfo");
  EXPECT_NE(mi.find("HugePages_Total:       5\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("HugePages_Free:        5\n"), std::string::npos);
  EXPECT_NE(mi.find("HugePages_Rsvd:        0\n"), std::string::npos);
  EXPECT_NE(mi.find("HugePages_Surp:        0\n"), std::string::npos);
  EXPECT_NE(mi.find("Hugepagesize:       2048 kB\n"), std::string::npos);
  EXPECT_NE(mi.find("Hugetlb:           10240 kB\n"), std::string::npos);
  const StatMap s = r.stats();
  EXPECT_EQ(s.at("hugetlb.2M.nr_hugepages"), 5u);
  EXPECT_EQ(s.at("hugetlb.2M.node1.free_hugepages"), 2u);
  EXPECT_EQ(s.at("meminfo.HugePages_Total"), 5u);
  EXPECT_EQ(s.at("meminfo.Hugetlb"), 10240u);
  // More than memory holds: what could be had, and a warning.
  Rig big(spec_mb(64), huge_params(1000));
  EXPECT_LT(hs2(big).nr_huge_pages, 1000u);
  EXPECT_GT(hs2(big).boot_failed, 0u);
  EXPECT_NE(big.console().find("HugeTLB: allocating 1000 of page size 2048 KiB failed"), std::string::npos);
}

TEST(fw_hugetlb, pool_pages_are_movable_memory_and_leave_the_commit_limit) {
  // 6.18 htlb_alloc_mask: 2 MiB pages migrate on x86-64, so the pool takes
  // them as GFP_HIGHUSER_MOVABLE: from ZONE_MOVABLE when there is one,
  // else from movable pageblocks, which stay movable.
  fw::Params p = huge_params(8);
  p.movablecore = 256 * MiB;
  Rig r(spec_mb(1024), p);
  ASSERT_EQ(hs2(r).nr_huge_pages, 8u);
  const fw::zone& movable = r.k->nodes().node(0).node_zones[fw::ZONE_MOVABLE];
  ASSERT_TRUE(movable.managed());
  EXPECT_EQ(hs2(r).nr_huge_pages_node[0], 8u);
  EXPECT_EQ(movable.free_pages() + 8 * 512 + movable.per_cpu_pageset[0].count, movable.managed_pages);
  auto unmovable_blocks = [](Rig& m) {
    const fw::zone& dma32 = m.k->nodes().node(0).node_zones[fw::ZONE_DMA32];
    uint64_t n = 0;
    for (uint64_t pfn = dma32.zone_start_pfn; pfn < dma32.zone_end_pfn(); pfn += fw::pageblock_nr_pages)
      if (dma32.get_pfnblock_migratetype(pfn) == fw::MIGRATE_UNMOVABLE) ++n;
    return n;
  };
  Rig with_pool(spec_mb(1024), huge_params(8)), without(spec_mb(1024));
  EXPECT_EQ(unmovable_blocks(with_pool), unmovable_blocks(without)) << "the pool's pageblocks stay movable";
  full_check(*with_pool.k, {});
  // vm_commit_limit: (totalram - hugetlb pages) * overcommit_ratio (50) / 100 + swap (none).
  const auto mi = r.proc("meminfo");
  const uint64_t total = r.k->nodes().total_managed_pages();
  char want[64];
  std::snprintf(want, sizeof want, "CommitLimit:    %8lu kB\n", static_cast<unsigned long>((total - 8 * 512) / 2 * 4));
  EXPECT_NE(mi.find(want), std::string::npos) << mi;
  EXPECT_EQ(r.stats().at("meminfo.CommitLimit"), (total - 8 * 512) / 2 * 4);
}

TEST(fw_hugetlb, mmap_reserves_faults_map_pd_leaves_and_dontneed_refaults_zeros) {
  Rig r(spec_mb(256), huge_params(4));
  const int pid = r.start_process();
  // Three pages reserved; only one is left for others.
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 5 * MiB, RW, PA | H2));  // rounded up to 6 MiB
  ASSERT_GT(a, 0u);
  EXPECT_EQ(a % (2 * MiB), 0u);
  EXPECT_EQ(hs2(r).resv_huge_pages, 3u);
  EXPECT_NE(r.proc("meminfo").find("HugePages_Rsvd:        3\n"), std::string::npos);
  EXPECT_EQ(r.mmap(0, 0, 4 * MiB, RW, PA | H2), -ENOMEM) << "a fault must never find the pool empty";
  EXPECT_EQ(hs2(r).reserve_failed, 1u);
  const int64_t nores = r.mmap(0, 0, 4 * MiB, RW, PA | H2 | fw::MAP_NORESERVE);
  EXPECT_GT(nores, 0) << "MAP_NORESERVE maps without a reservation";
  ASSERT_EQ(r.munmap(0, static_cast<uint64_t>(nores), 4 * MiB), 0);
  // A fault maps a 2 MiB leaf in the PD; the bytes land where translate says.
  for (uint64_t off = 0; off < 6 * MiB; off += 2 * MiB) {
    const uint64_t pa = r.access(0, a + off + 12345);
    ASSERT_NE(pa, ~0ull);
    r.write64(pa & ~7ull, off + 1);
  }
  EXPECT_EQ(r.k->memory().stats().faults, 3u) << "one fault per huge page";
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a + 2 * MiB + 0x1fffff, &l));
  EXPECT_EQ(l.level, x86::LEVEL_PD);
  EXPECT_TRUE(l.entry & x86::PTE_PS);
  const Walk w = r.walk(0, a + 2 * MiB + 0x1fffff);
  EXPECT_EQ(w.page_size, 2 * MiB);
  EXPECT_EQ(w.pa % (2 * MiB), 0x1fffffu);
  EXPECT_EQ(hs2(r).resv_huge_pages, 0u);
  EXPECT_EQ(hs2(r).free_huge_pages, 1u);
  mapping_check(*r.k, r.cpu());
  hugetlb_check(*r.k);
  // MADV_DONTNEED: the start must be huge-aligned; the pages go back, the
  // reservation comes back, a refault reads zeros.
  EXPECT_EQ(r.madvise(0, a + PAGE_SIZE, 2 * MiB, uapi::kMadvDontneed), -EINVAL);
  EXPECT_EQ(r.madvise(0, a, 4 * MiB, uapi::kMadvDontneed), 0);
  EXPECT_EQ(hs2(r).free_huge_pages, 3u);
  EXPECT_EQ(hs2(r).resv_huge_pages, 2u);
  const uint64_t pa = r.access(0, a + 12345, x86::Access::read);
  EXPECT_EQ(r.read64(pa & ~7ull), 0u);
  EXPECT_EQ(r.read64(r.access(0, a + 4 * MiB + 12345, x86::Access::read) & ~7ull), 4 * MiB + 1) << "outside the range";
  mapping_check(*r.k, r.cpu());
  hugetlb_check(*r.k);
  // munmap must be huge-aligned: EINVAL inside a page.
  EXPECT_EQ(r.munmap(0, a + PAGE_SIZE, PAGE_SIZE), -EINVAL);
  EXPECT_EQ(r.munmap(0, a, 3 * MiB), -EINVAL) << "the end splits a huge page";
  EXPECT_EQ(r.mprotect(0, a + PAGE_SIZE, PAGE_SIZE, fw::PROT_READ), -EINVAL);
  // Page 1 is the only one not faulted in: its reservation goes with it.
  EXPECT_EQ(r.munmap(0, a + 2 * MiB, 2 * MiB), 0);
  EXPECT_EQ(hs2(r).resv_huge_pages, 0u);
  EXPECT_EQ(r.munmap(0, a, 6 * MiB), 0);
  EXPECT_EQ(hs2(r).free_huge_pages, 4u);
  EXPECT_EQ(hs2(r).resv_huge_pages, 0u);
  hugetlb_check(*r.k);
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  full_check(*r.k, {});
}

TEST(fw_hugetlb, a_refault_after_dontneed_zeroes_a_reused_page) {
  // The pool is exactly the mapping: the refault must reuse a written page.
  Rig r(spec_mb(256), huge_params(3));
  r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 6 * MiB, RW, PA | H2));
  ASSERT_GT(a, 0u);
  for (uint64_t off = 0; off < 6 * MiB; off += 2 * MiB) r.write64(r.access(0, a + off + 4096) & ~7ull, ~0ull);
  ASSERT_EQ(hs2(r).free_huge_pages, 0u);
  ASSERT_EQ(r.madvise(0, a, 6 * MiB, uapi::kMadvDontneed), 0);
  ASSERT_EQ(hs2(r).free_huge_pages, 3u);
  for (uint64_t off = 0; off < 6 * MiB; off += 2 * MiB)
    EXPECT_EQ(r.read64(r.access(0, a + off + 4096, x86::Access::read) & ~7ull), 0u) << off;
  hugetlb_check(*r.k);
}

TEST(fw_hugetlb, an_unused_shared_reservation_goes_at_munmap) {
  Rig r(spec_mb(256), huge_params(4));
  r.start_process();
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS | H2));
  ASSERT_GT(s, 0u);
  EXPECT_EQ(hs2(r).resv_huge_pages, 2u);
  // Nothing faulted: the object holds both reservations until it is freed.
  ASSERT_EQ(r.munmap(0, s, 4 * MiB), 0);
  EXPECT_EQ(hs2(r).resv_huge_pages, 0u);
  EXPECT_EQ(hs2(r).free_huge_pages, 4u);
  hugetlb_check(*r.k);
}

TEST(fw_hugetlb, mprotect_of_whole_pages_drops_and_restores_write) {
  Rig r(spec_mb(256), huge_params(2));
  const int pid = r.start_process();
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 4 * MiB, RW, PA | H2));
  ASSERT_GT(a, 0u);
  r.write64(r.access(0, a + 64), 0x1234);
  r.write64(r.access(0, a + 2 * MiB + 64), 0x5678);
  // Read-only: the mapped PD leaf loses RW (not just the VMA).
  ASSERT_EQ(r.mprotect(0, a, 4 * MiB, fw::PROT_READ), 0);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a, &l));
  ASSERT_EQ(l.level, x86::LEVEL_PD);
  EXPECT_FALSE(l.entry & x86::PTE_RW);
  EXPECT_EQ(r.read64(r.access(0, a + 64, x86::Access::read)), 0x1234u);
  // Writable again: writes work in place, the data is intact.
  ASSERT_EQ(r.mprotect(0, a, 4 * MiB, RW), 0);
  const uint64_t pa = r.access(0, a + 2 * MiB + 64);
  ASSERT_NE(pa, ~0ull);
  EXPECT_EQ(r.read64(pa), 0x5678u);
  EXPECT_EQ(hs2(r).cow, 0u);
  ASSERT_EQ(r.mprotect(0, a, 4 * MiB, fw::PROT_READ), 0);
  EXPECT_EQ(r.access(0, a + 128, x86::Access::write), ~0ull) << "read-only: SIGSEGV";
}

TEST(fw_hugetlb, surplus_pages_come_and_go_with_overcommit) {
  Rig r(spec_mb(256), huge_params(1, 0, 2));
  r.start_process();
  const uint64_t free0 = r.k->nr_free_pages();
  // Three pages wanted, one in the pool: two surplus pages from the buddy allocator.
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 6 * MiB, RW, PA | H2));
  ASSERT_GT(a, 0u);
  EXPECT_EQ(hs2(r).nr_huge_pages, 3u);
  EXPECT_EQ(hs2(r).surplus_huge_pages, 2u);
  EXPECT_EQ(r.k->vmstat().event[fw::HTLB_BUDDY_PGALLOC], 2u);
  EXPECT_EQ(r.mmap(0, 0, 2 * MiB, RW, PA | H2), -ENOMEM) << "beyond nr_overcommit_hugepages";
  for (uint64_t off = 0; off < 6 * MiB; off += 2 * MiB) ASSERT_NE(r.access(0, a + off), ~0ull);
  hugetlb_check(*r.k);
  EXPECT_NE(r.proc("meminfo").find("HugePages_Surp:        2\n"), std::string::npos);
  ASSERT_EQ(r.munmap(0, a, 6 * MiB), 0);
  // The surplus pages went back to the buddy allocator, the pool page stayed.
  EXPECT_EQ(hs2(r).nr_huge_pages, 1u);
  EXPECT_EQ(hs2(r).surplus_huge_pages, 0u);
  r.k->quiesce(r.cpu());
  EXPECT_EQ(r.k->nr_free_pages(), free0);
  hugetlb_check(*r.k);
}

TEST(fw_hugetlb, shared_mappings_are_shared_and_private_ones_copied_after_fork) {
  Rig r(spec_mb(256, 2), huge_params(6));
  const int parent = r.start_process(0, "parent");
  const uint64_t s = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB, RW, fw::MAP_SHARED | fw::MAP_ANONYMOUS | H2));
  const uint64_t p = static_cast<uint64_t>(r.mmap(0, 0, 2 * MiB, RW, PA | H2));
  r.write64(r.access(0, s + 64), 1);
  r.write64(r.access(0, p + 64), 2);
  EXPECT_NE(r.proc((std::to_string(parent) + "/maps").c_str()).find("/anon_hugepage (deleted)"), std::string::npos);
  const int child = static_cast<int>(r.fork(0, 1));
  ASSERT_EQ(r.k->schedule(r.cpu(1)).pid, child);
  mapping_check(*r.k, r.cpu());
  EXPECT_EQ(r.read64(r.access(1, s + 64, x86::Access::read)), 1u);
  EXPECT_EQ(r.read64(r.access(1, p + 64, x86::Access::read)), 2u);
  // Shared: both ways. Private: the child's write copies the huge page.
  r.write64(r.access(1, s + 128), 3);
  EXPECT_EQ(r.read64(r.access(0, s + 128, x86::Access::read)), 3u);
  const uint64_t free_before = hs2(r).free_huge_pages;
  r.write64(r.access(1, p + 128), 4);
  EXPECT_EQ(hs2(r).cow, 1u);
  EXPECT_EQ(hs2(r).free_huge_pages, free_before - 1);
  EXPECT_EQ(r.read64(r.access(0, p + 128, x86::Access::read)), 0u);
  EXPECT_EQ(r.read64(r.access(1, p + 64, x86::Access::read)), 2u) << "the copy has the old data";
  // The parent, now alone with its page, writes in place.
  r.write64(r.access(0, p + 192), 5);
  EXPECT_EQ(hs2(r).cow, 1u);
  mapping_check(*r.k, r.cpu());
  hugetlb_check(*r.k);
  r.sys(0, hal::Sys::exit, 0);
  r.sys(1, hal::Sys::exit, 0);
  EXPECT_EQ(hs2(r).free_huge_pages, 6u);
  EXPECT_EQ(hs2(r).resv_huge_pages, 0u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  hugetlb_check(*r.k);
  full_check(*r.k, {});
}

TEST(fw_hugetlb, a_gigantic_page_is_contiguous_and_mapped_by_a_pdpt_leaf) {
  Rig r(spec_mb(3072), huge_params(0, 1));
  ASSERT_EQ(hs1(r).nr_huge_pages, 1u) << r.console();
  full_check(*r.k, {});
  const int pid = r.start_process();
  EXPECT_EQ(r.mmap(0, 0x40001000ull, 1 * GiB, RW, PA | H1 | fw::MAP_FIXED), -EINVAL) << "not 1 GiB-aligned";
  const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 100 * MiB, RW, PA | H1));  // one whole page
  ASSERT_GT(a, 0u);
  EXPECT_EQ(a % GiB, 0u);
  for (uint64_t off : std::vector<uint64_t>{0, 4095, 2 * MiB + 8, 512 * MiB, GiB - 8}) {
    const uint64_t pa = r.access(0, a + off);
    ASSERT_NE(pa, ~0ull);
    EXPECT_EQ(pa % GiB, off) << "physically aligned, offset kept";
    r.write64(pa & ~7ull, off);
  }
  EXPECT_EQ(r.k->memory().stats().faults, 1u);
  fw::PteLookup l;
  ASSERT_TRUE(r.k->translate(r.cpu(), pid, a + 512 * MiB, &l));
  EXPECT_EQ(l.level, x86::LEVEL_PDPT);
  mapping_check(*r.k, r.cpu());
  r.sys(0, hal::Sys::exit, 0);
  EXPECT_EQ(hs1(r).free_huge_pages, 1u);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  hugetlb_check(*r.k);
}

TEST(fw_hugetlb, default_size_and_unsupported_sizes) {
  fw::Params p = huge_params(2);
  Rig r(spec_mb(128), p);
  r.start_process();
  // No size flag: the default size (2 MiB).
  const int64_t a = r.mmap(0, 0, 2 * MiB, RW, PA | fw::MAP_HUGETLB);
  ASSERT_GT(a, 0);
  EXPECT_EQ(hs2(r).resv_huge_pages, 1u);
  // 1 GiB pages without a pool: the reservation fails.
  EXPECT_EQ(r.mmap(0, 0, GiB, RW, PA | H1), -ENOMEM);
  // No 1 GiB pages on a CPU without them: EINVAL.
  hosthal::MachineSpec s = spec_mb(128);
  s.gbpages = false;
  Rig r2(s, p);
  r2.start_process();
  EXPECT_EQ(r2.mmap(0, 0, GiB, RW, PA | H1), -EINVAL);
  // default_hugepagesz=1G: MAP_HUGETLB alone takes 1 GiB pages, meminfo shows that pool.
  fw::Params g = huge_params(2, 1);
  g.default_hugepagesz = 1;
  Rig r3(spec_mb(3072), g);
  r3.start_process();
  const int64_t b = r3.mmap(0, 0, 2 * MiB, RW, PA | fw::MAP_HUGETLB);
  ASSERT_GT(b, 0);
  EXPECT_EQ(b % GiB, 0);
  EXPECT_EQ(hs1(r3).resv_huge_pages, 1u);
  EXPECT_EQ(hs2(r3).resv_huge_pages, 0u);
  const std::string mi = r3.proc("meminfo");
  EXPECT_NE(mi.find("HugePages_Total:       1\n"), std::string::npos) << mi;
  EXPECT_NE(mi.find("Hugepagesize:    1048576 kB\n"), std::string::npos) << mi;
}

}  // namespace
