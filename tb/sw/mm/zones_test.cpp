// Nodes and zones against Linux's formulas: zone boundaries, spanned,
// present and managed pages, min_free_kbytes, the min/low/high/promo
// watermarks and the protection (lowmem reserve) values that Linux computes
// for the memory map, read back from proc/zoneinfo and proc/meminfo, for
// machines of 1, 4 and 64 GiB, two NUMA nodes, ZONE_MOVABLE (kernelcore,
// movablecore) and CMA. Also the zonelists, the GFP zone table and the
// per-CPU list sizes.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "sw/dma/swiotlb.h"
#include "sw/lib/bitops.h"
#include "sw/mm/pcp.h"
#include "sw/mm/slub.h"
#include "tb/sw/mm/fw_rig.h"
#include "tb/sw/mm/linux_ref.h"

using namespace fwtest;

namespace {

// The machine and its parameters as Linux's formulas see them. What the
// boot reserves is computed by linuxref from these, not read from memblock.
linuxref::Input input_of(const hal::BootInfo& bi, const fw::Params& p) {
  linuxref::Input in;
  for (unsigned i = 0; i < bi.nr_e820; ++i) {
    const linuxref::Range r{bi.e820[i].addr, bi.e820[i].addr + bi.e820[i].size};
    if (bi.e820[i].type == hal::E820Type::usable) in.usable.push_back(r);
    else in.e820_other.push_back(r);
  }
  for (unsigned n = 0; n < bi.nr_nodes; ++n) in.nodes.push_back({bi.node_start[n], bi.node_end[n]});
  in.image = {bi.image_base, bi.image_base + bi.image_size};
  in.nr_cpus = bi.nr_cpus;
  in.pcp_bytes = sizeof(fw::per_cpu_pages);
  in.slab_percpu_bytes = fw::Slab::kMaxCaches * sizeof(fw::kmem_cache_cpu);
  in.cma_bytes = p.cma;
  in.kernelcore_pages = p.kernelcore / PAGE_SIZE;
  in.movablecore_pages = p.movablecore / PAGE_SIZE;
  in.kernelcore_percent = p.kernelcore_percent;
  in.movablecore_percent = p.movablecore_percent;
  in.min_free_kbytes = p.min_free_kbytes;
  in.thp = p.transparent_hugepage != fw::THP_NEVER;
  in.watermark_scale_factor = p.watermark_scale_factor;
  in.ratio[0] = p.lowmem_reserve_ratio_dma;
  in.ratio[1] = p.lowmem_reserve_ratio_dma32;
  in.ratio[2] = p.lowmem_reserve_ratio_normal;
  linuxref::set_swiotlb(in, p.swiotlb == fw::SWIOTLB_OFF, p.swiotlb == fw::SWIOTLB_FORCE,
                        p.swiotlb >= fw::kSwiotlbSizeMin ? p.swiotlb : 0, sizeof(fw::io_tlb_area));
  return in;
}

// The firmware's memblock reservations, merged, to compare with linuxref's.
std::vector<linuxref::Range> memblock_reserved(Rig& r) {
  std::vector<linuxref::Range> out;
  const fw::MemblockType& res = r.k->memblock().reserved();
  for (unsigned i = 0; i < res.cnt; ++i) {
    const linuxref::Range x{res.regions[i].base, res.regions[i].end()};
    if (!out.empty() && x.start <= out.back().end) out.back().end = std::max(out.back().end, x.end);
    else out.push_back(x);
  }
  return out;
}

// Compares what /proc shows with the reference; returns the reference.
linuxref::Result expect_linux_values(const std::string& zoneinfo, const std::string& meminfo,
                                     const linuxref::Input& in, uint64_t min_free_kbytes_shown) {
  const linuxref::Result want = linuxref::compute(in);
  const linuxref::ProcZoneinfo zi = linuxref::parse_zoneinfo(zoneinfo);
  EXPECT_EQ(min_free_kbytes_shown, want.min_free_kbytes);
  for (unsigned n = 0; n < want.nodes.size(); ++n)
    for (unsigned z = 0; z < linuxref::kZones; ++z) {
      const linuxref::Zone& w = want.nodes[n][z];
      auto it = zi.find({n, linuxref::zone_label(z)});
      EXPECT_TRUE(it != zi.end()) << "zoneinfo lacks node " << n << " zone " << linuxref::zone_label(z);
      if (it == zi.end()) continue;
      const linuxref::ProcZone& g = it->second;
      const std::string where = "node " + std::to_string(n) + " zone " + linuxref::zone_label(z);
      EXPECT_EQ(g.spanned, w.spanned) << where;
      EXPECT_EQ(g.present, w.present) << where;
      EXPECT_EQ(g.managed, w.managed) << where;
      EXPECT_EQ(g.min, w.min) << where;
      EXPECT_EQ(g.low, w.low) << where;
      EXPECT_EQ(g.high, w.high) << where;
      EXPECT_EQ(g.promo, w.promo) << where;
      if (w.present) {
        EXPECT_EQ(g.start_pfn, w.start_pfn) << where;
      }
      EXPECT_EQ(g.protection.size(), linuxref::kZones) << where;
      for (unsigned j = 0; j < linuxref::kZones && j < g.protection.size(); ++j)
        EXPECT_EQ(g.protection[j], w.protection[j]) << where << " protection[" << j << "]";
    }
  const auto mi = linuxref::parse_meminfo(meminfo);
  EXPECT_EQ(mi.at("MemTotal"), want.total_managed * 4);
  return want;
}

void check_machine(const hal::BootInfo& bi, const fw::Params& p, const char* what) {
  SCOPED_TRACE(what);
  Rig r(bi, p);
  const linuxref::Input in = input_of(bi, p);
  const linuxref::Result want =
      expect_linux_values(r.proc("zoneinfo"), r.proc("meminfo"), in, r.stats().at("mem.min_free_kbytes"));
  // Reservation by reservation, where the firmware put them.
  const std::vector<linuxref::Range> got = memblock_reserved(r);
  ASSERT_EQ(got.size(), want.reserved.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].start, want.reserved[i].start) << "reservation " << i;
    EXPECT_EQ(got[i].end, want.reserved[i].end) << "reservation " << i;
  }
  EXPECT_EQ(r.k->nodes().memmap_bytes(), want.memmap_bytes);
}

TEST(fw_zones, one_gib_matches_linux) { check_machine(hosthal::make_boot_info(spec_mb(1024)), quiet_params(), "1 GiB"); }

TEST(fw_zones, four_gib_with_the_pci_hole_matches_linux) {
  check_machine(hosthal::make_boot_info(spec_mb(4096, 2)), quiet_params(), "4 GiB");
  Rig r(spec_mb(4096));
  const fw::pglist_data& pg = r.k->nodes().node(0);
  EXPECT_EQ(pg.node_zones[fw::ZONE_NORMAL].zone_start_pfn, fw::MAX_DMA32_PFN);
  EXPECT_EQ(pg.node_zones[fw::ZONE_NORMAL].present_pages, (1 * GiB) / PAGE_SIZE);
  EXPECT_EQ(pg.node_zones[fw::ZONE_DMA].zone_start_pfn, 1u);  // page 0 is the BIOS's
  EXPECT_EQ(pg.node_zones[fw::ZONE_DMA].spanned_pages, 4095u);
}

TEST(fw_zones, sixty_four_gib_matches_linux_and_boots_cheaply) {
  auto rss_kb = [] {
    std::ifstream f("/proc/self/statm");
    uint64_t size = 0, resident = 0;
    f >> size >> resident;
    return resident * 4;
  };
  const uint64_t rss0 = rss_kb();
  const auto t0 = std::chrono::steady_clock::now();
  fw::Params p = quiet_params();
  {
    Rig r(spec_mb(64 * 1024, 4), p);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const uint64_t rss = rss_kb() - rss0;
    const linuxref::Input in = input_of(r.m->boot_info(), p);
    expect_linux_values(r.proc("zoneinfo"), r.proc("meminfo"), in, r.stats().at("mem.min_free_kbytes"));
    const uint64_t pages = r.k->nodes().total_present_pages();
    EXPECT_GT(pages, (16ull << 20) - 70000);
    std::printf("64 GiB boot (host HAL): %.3f s, %lu MiB of host memory touched, %lu of %lu struct pages "
                "initialized, %lu max-order blocks deferred\n",
                secs, static_cast<unsigned long>(rss >> 10), static_cast<unsigned long>(r.k->nodes().memmap_pages_initialized()),
                static_cast<unsigned long>(r.k->nodes().node(0).node_spanned_pages),
                static_cast<unsigned long>(r.k->nodes().memmap_deferred_blocks()));
    // The deferred memmap keeps the host cost far below the 1 GiB a full
    // memmap would touch.
    EXPECT_LT(rss, 256u * 1024) << "KiB";
    // A process still runs, and the deferred blocks come in as needed.
    r.start_process();
    const uint64_t a = static_cast<uint64_t>(r.mmap(0, 0, 64 * MiB));
    for (uint64_t off = 0; off < 64 * MiB; off += PAGE_SIZE) ASSERT_NE(r.access(0, a + off), ~0ull);
    r.sys(0, hal::Sys::exit, 0);
    EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
  }
  // Without deferral: every struct page written at boot.
  p.deferred_struct_page_init = false;
  const auto t1 = std::chrono::steady_clock::now();
  Rig full(spec_mb(64 * 1024, 4), p);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  EXPECT_EQ(full.k->nodes().memmap_deferred_blocks(), 0u);
  std::printf("64 GiB boot without deferred struct page init: %.3f s\n", secs);
  // Same zones, watermarks and free lists either way.
  Rig deferred(spec_mb(64 * 1024, 4));
  EXPECT_EQ(full.proc("zoneinfo"), deferred.proc("zoneinfo"));
  EXPECT_EQ(full.proc("buddyinfo"), deferred.proc("buddyinfo"));
  // Reserved memory waits too (here a block of the memmap itself), and its
  // struct pages read as a full init writes them once looked at.
  fw::MmNodes& dn = deferred.k->nodes();
  const fw::pglist_data& pg = dn.node(0);
  const uint64_t b = fw::align_up(fw::PFN_UP(pg.node_mem_map_pa), fw::MAX_ORDER_NR_PAGES);
  ASSERT_LE(b + fw::MAX_ORDER_NR_PAGES, fw::PFN_DOWN(pg.node_mem_map_pa + pg.node_mem_map_bytes));
  fw::zone* z = dn.pfn_zone(b);
  ASSERT_NE(z, nullptr);
  EXPECT_TRUE(z->pfnblock_reserved_deferred(b));
  EXPECT_FALSE(full.k->nodes().pfn_zone(b)->pfnblock_reserved_deferred(b));
  const fw::page* written = dn.pfn_to_page_init(b + 5);
  EXPECT_FALSE(z->pfnblock_reserved_deferred(b));
  EXPECT_TRUE(fw::PageReserved(written));
  EXPECT_EQ(std::memcmp(dn.pfn_to_page(b), full.k->nodes().pfn_to_page(b), fw::MAX_ORDER_NR_PAGES * sizeof(fw::page)), 0);
}

TEST(fw_zones, two_numa_nodes_match_linux) {
  hosthal::MachineSpec s = spec_mb(8 * 1024, 4, 2);
  check_machine(hosthal::make_boot_info(s), quiet_params(), "2 nodes, 8 GiB");
  s.mem_bytes = 2 * GiB;  // node 1 within DMA32: DMA32 on both nodes
  check_machine(hosthal::make_boot_info(s), quiet_params(), "2 nodes, 2 GiB");
}

TEST(fw_zones, movable_zone_from_kernelcore_and_movablecore) {
  fw::Params p = quiet_params();
  p.movablecore = 2 * GiB;
  check_machine(hosthal::make_boot_info(spec_mb(8 * 1024, 2, 2)), p, "movablecore=2G, 2 nodes");
  {
    Rig r(hosthal::make_boot_info(spec_mb(8 * 1024, 2, 2)), p);
    uint64_t movable = 0;
    for (unsigned n = 0; n < 2; ++n) movable += r.k->nodes().node(n).node_zones[fw::ZONE_MOVABLE].present_pages;
    // Each node's ZONE_MOVABLE start is rounded up to a max-order block.
    EXPECT_GT(movable, 2 * GiB / PAGE_SIZE - 2 * 1024);
    EXPECT_LE(movable, 2 * GiB / PAGE_SIZE);
    // Movable allocations may use it, kernel ones may not.
    fw::page* m = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_HIGHUSER_MOVABLE, 0, 1);
    EXPECT_EQ(fw::page_zonenum(m), static_cast<unsigned>(fw::ZONE_MOVABLE));
    fw::page* k = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL, 0, 1);
    EXPECT_NE(fw::page_zonenum(k), static_cast<unsigned>(fw::ZONE_MOVABLE));
    EXPECT_NE(r.console().find("Movable zone start for Node"), std::string::npos);
  }
  p = quiet_params();
  p.kernelcore = 1 * GiB;
  check_machine(hosthal::make_boot_info(spec_mb(4 * 1024)), p, "kernelcore=1G");
  p = quiet_params();
  p.kernelcore_percent = 30;
  check_machine(hosthal::make_boot_info(spec_mb(6 * 1024, 4, 2)), p, "kernelcore=30%");
  p = quiet_params();
  p.movablecore_percent = 50;
  check_machine(hosthal::make_boot_info(spec_mb(2 * 1024)), p, "movablecore=50% below 4 GiB");
}

TEST(fw_zones, tunables_follow_the_formulas) {
  fw::Params p = quiet_params();
  p.min_free_kbytes = 65536;
  check_machine(hosthal::make_boot_info(spec_mb(4096)), p, "min_free_kbytes=65536");
  p = quiet_params();
  p.watermark_scale_factor = 200;
  check_machine(hosthal::make_boot_info(spec_mb(4096)), p, "watermark_scale_factor=200");
  p = quiet_params();
  p.lowmem_reserve_ratio_dma32 = 0;
  p.lowmem_reserve_ratio_normal = 128;
  check_machine(hosthal::make_boot_info(spec_mb(8192)), p, "lowmem_reserve_ratio");
  p = quiet_params();
  p.cma = 64 * MiB;
  check_machine(hosthal::make_boot_info(spec_mb(2048)), p, "cma=64M");
  // The clamp: tiny and huge machines.
  check_machine(hosthal::make_boot_info(spec_mb(16)), quiet_params(), "16 MiB");
}

TEST(fw_zones, formulas_on_a_known_machine) {
  // Hand-checked: a 1 GiB machine without THP (so calculate_min_free_kbytes
  // alone), every page after the boot reservations.
  fw::Params p = quiet_params();
  p.transparent_hugepage = fw::THP_NEVER;
  Rig r(spec_mb(1024), p);
  const fw::Watermark& wm = r.k->watermark();
  uint64_t lowmem = 0;
  for (unsigned z = 0; z < fw::ZONE_MOVABLE; ++z) lowmem += r.k->nodes().node(0).node_zones[z].managed_pages;
  // int_sqrt(lowmem_kbytes * 16), lowmem about 1 GiB: about 4 MiB.
  EXPECT_EQ(wm.min_free_kbytes(), linuxref::isqrt(lowmem * 4 * 16));
  EXPECT_GT(wm.min_free_kbytes(), 4000u);
  EXPECT_LT(wm.min_free_kbytes(), 4100u);
  EXPECT_EQ(fw::int_sqrt(0), 0u);
  EXPECT_EQ(fw::int_sqrt(15), 3u);
  EXPECT_EQ(fw::int_sqrt(16), 4u);
  EXPECT_EQ(fw::int_sqrt(~0ull), 4294967295u);
  const fw::zone& dma = r.k->nodes().node(0).node_zones[fw::ZONE_DMA];
  const fw::zone& dma32 = r.k->nodes().node(0).node_zones[fw::ZONE_DMA32];
  // DMA's protection against a DMA32 (or higher) request: DMA32 managed / 256.
  EXPECT_EQ(dma.lowmem_reserve[fw::ZONE_DMA32], static_cast<int64_t>(dma32.managed_pages / 256));
  EXPECT_EQ(dma.lowmem_reserve[fw::ZONE_DMA], 0);
  EXPECT_EQ(dma32.lowmem_reserve[fw::ZONE_NORMAL], 0);  // no Normal zone
}

TEST(fw_zones, thp_raises_min_free_kbytes_as_khugepaged_does) {
  // Linux 6.18 set_recommended_min_free_kbytes on an 8 GiB machine (DMA,
  // DMA32 and Normal populated): 2 free pageblocks per zone plus a pageblock
  // per pair of the 3 per-CPU migrate types, 512 * 3 * (2 + 3 * 3) = 16896
  // pages = 67584 kB, well below 5% of the buffer pages.
  fw::Params p = quiet_params();
  ASSERT_EQ(p.transparent_hugepage, fw::THP_MADVISE);
  const hal::BootInfo bi = hosthal::make_boot_info(spec_mb(8 * 1024));
  {
    Rig r(bi, p);
    EXPECT_EQ(r.k->watermark().min_free_kbytes(), 67584u);
    EXPECT_NE(r.console().find("min_free_kbytes 67584,"), std::string::npos);
  }
  check_machine(bi, p, "8 GiB, THP madvise");
  p.transparent_hugepage = fw::THP_ALWAYS;
  {
    Rig r(bi, p);
    EXPECT_EQ(r.k->watermark().min_free_kbytes(), 67584u);
  }
  // "never": calculate_min_free_kbytes alone, int_sqrt(lowmem_kbytes * 16).
  p.transparent_hugepage = fw::THP_NEVER;
  {
    Rig r(bi, p);
    uint64_t lowmem = 0;
    for (unsigned z = 0; z < fw::ZONE_MOVABLE; ++z) lowmem += r.k->nodes().node(0).node_zones[z].managed_pages;
    EXPECT_EQ(r.k->watermark().min_free_kbytes(), linuxref::isqrt(lowmem * 4 * 16));
    EXPECT_LT(r.k->watermark().min_free_kbytes(), 12000u);
  }
  check_machine(bi, p, "8 GiB, THP never");
  // Two nodes: three zones on node 0, Normal on node 1: four zones.
  p = quiet_params();
  {
    Rig r(hosthal::make_boot_info(spec_mb(16 * 1024, 2, 2)), p);
    EXPECT_EQ(r.k->watermark().min_free_kbytes(), 512u * 4 * 11 * 4);
  }
  // The 5% cap on a small machine: DMA and DMA32 would want 45056 kB.
  {
    const hal::BootInfo small = hosthal::make_boot_info(spec_mb(128));
    Rig r(small, p);
    EXPECT_LT(r.k->watermark().min_free_kbytes(), 512u * 2 * 11 * 4);
    check_machine(small, p, "128 MiB, THP madvise: the 5% cap");
  }
  // A value set as by sysctl stays.
  p.min_free_kbytes = 2048;
  {
    Rig r(bi, p);
    EXPECT_EQ(r.k->watermark().min_free_kbytes(), 2048u);
  }
}

TEST(fw_zones, reservations_are_what_linux_reserves) {
  // The whole first MiB (reserve_real_mode): none of its usable pages
  // reaches the allocator, so ZONE_DMA manages its pages above 1 MiB only.
  Rig r(spec_mb(1024));
  const hal::BootInfo& bi = r.m->boot_info();
  uint64_t usable_below_1m = 0;
  for (unsigned i = 0; i < bi.nr_e820; ++i) {
    const hal::E820Entry& e = bi.e820[i];
    if (e.type != hal::E820Type::usable) continue;
    const uint64_t s = std::max<uint64_t>(e.addr, PAGE_SIZE), end = std::min<uint64_t>(e.addr + e.size, 0xa0000);
    if (end > s) usable_below_1m += (end - s) / PAGE_SIZE;
  }
  ASSERT_GT(usable_below_1m, 100u);
  const fw::zone& dma = r.k->nodes().node(0).node_zones[fw::ZONE_DMA];
  EXPECT_EQ(dma.present_pages - dma.managed_pages, usable_below_1m);
  EXPECT_TRUE(r.k->memblock().overlaps_reserved(0x9e000, PAGE_SIZE));
  // And on every machine of this file the reservations equal linuxref's
  // (check_machine); here with CMA and two nodes as well.
  fw::Params p = quiet_params();
  p.cma = 32 * MiB;
  check_machine(hosthal::make_boot_info(spec_mb(4 * 1024, 4, 2)), p, "4 GiB, two nodes, cma=32M");
  // The firmware's memmap is flat per node (holes cost memmap); Linux's
  // sparse vmemmap takes 2 MiB per present 128 MiB section. Equal without
  // holes, 16 MiB more with the PCI hole of a 4 GiB machine.
  const linuxref::Result one = linuxref::compute(input_of(bi, quiet_params()));
  EXPECT_EQ(one.memmap_bytes, one.memmap_bytes_linux);
  const linuxref::Result four = linuxref::compute(input_of(hosthal::make_boot_info(spec_mb(4096)), quiet_params()));
  EXPECT_GT(four.memmap_bytes, four.memmap_bytes_linux);
}

TEST(fw_zones, zonelists_follow_node_distance) {
  hosthal::MachineSpec s = spec_mb(16 * 1024, 4, 4);
  hal::BootInfo bi = hosthal::make_boot_info(s);
  // A ring: 0-1 and 2-3 close, 0-3 and 1-2 far.
  const uint8_t d[4][4] = {{10, 12, 30, 20}, {12, 10, 20, 30}, {30, 20, 10, 12}, {20, 30, 12, 10}};
  for (unsigned a = 0; a < 4; ++a)
    for (unsigned b = 0; b < 4; ++b) bi.node_distance[a][b] = d[a][b];
  Rig r(bi);
  fw::zone* const* zl = r.k->nodes().node(0).zonelist;
  std::vector<int> order;
  for (; *zl; ++zl)
    if (order.empty() || order.back() != (*zl)->node) order.push_back((*zl)->node);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 3, 2}));
  // Within a node: highest zone first.
  zl = r.k->nodes().node(0).zonelist;
  EXPECT_EQ(zl[0]->idx, static_cast<unsigned>(fw::ZONE_NORMAL));
  EXPECT_EQ(zl[1]->idx, static_cast<unsigned>(fw::ZONE_DMA32));
  EXPECT_EQ(zl[2]->idx, static_cast<unsigned>(fw::ZONE_DMA));
  // __GFP_THISNODE: only the node's own zones.
  fw::page* p = r.k->page_alloc().alloc_pages(r.cpu(), fw::GFP_KERNEL | fw::__GFP_THISNODE, 0, 2);
  EXPECT_EQ(fw::page_to_nid(p), 2);
}

TEST(fw_zones, gfp_zone_table) {
  using namespace fw;
  EXPECT_EQ(gfp_zone(0), static_cast<unsigned>(ZONE_NORMAL));
  EXPECT_EQ(gfp_zone(__GFP_DMA), static_cast<unsigned>(ZONE_DMA));
  EXPECT_EQ(gfp_zone(__GFP_DMA32), static_cast<unsigned>(ZONE_DMA32));
  EXPECT_EQ(gfp_zone(__GFP_HIGHMEM), static_cast<unsigned>(ZONE_NORMAL));  // no highmem on 64-bit
  EXPECT_EQ(gfp_zone(__GFP_MOVABLE), static_cast<unsigned>(ZONE_NORMAL));
  EXPECT_EQ(gfp_zone(__GFP_MOVABLE | __GFP_HIGHMEM), static_cast<unsigned>(ZONE_MOVABLE));
  EXPECT_EQ(gfp_zone(GFP_HIGHUSER_MOVABLE), static_cast<unsigned>(ZONE_MOVABLE));
  EXPECT_EQ(gfp_zone(__GFP_DMA | __GFP_MOVABLE), static_cast<unsigned>(ZONE_DMA));
  EXPECT_EQ(gfp_zone(__GFP_DMA32 | __GFP_MOVABLE), static_cast<unsigned>(ZONE_DMA32));
  EXPECT_FALSE(gfp_zone_valid(__GFP_DMA | __GFP_DMA32));
  EXPECT_FALSE(gfp_zone_valid(__GFP_DMA | __GFP_HIGHMEM));
  EXPECT_EQ(gfp_migratetype(GFP_KERNEL), static_cast<unsigned>(MIGRATE_UNMOVABLE));
  EXPECT_EQ(gfp_migratetype(GFP_KERNEL | __GFP_RECLAIMABLE), static_cast<unsigned>(MIGRATE_RECLAIMABLE));
  EXPECT_EQ(gfp_migratetype(GFP_HIGHUSER_MOVABLE), static_cast<unsigned>(MIGRATE_MOVABLE));
  // A bad combination fails the allocation instead of guessing.
  Rig r(spec_mb(64));
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), __GFP_DMA | __GFP_DMA32, 0), nullptr);
  EXPECT_EQ(r.k->page_alloc().alloc_pages(r.cpu(), __GFP_MOVABLE | __GFP_RECLAIMABLE, 0), nullptr);
}

TEST(fw_zones, pcp_batch_and_high_follow_the_formulas) {
  Rig r(spec_mb(8 * 1024, 4, 2));
  for (unsigned n = 0; n < 2; ++n)
    for (unsigned zi = 0; zi < fw::MAX_NR_ZONES; ++zi) {
      const fw::zone& z = r.k->nodes().node(n).node_zones[zi];
      if (!z.per_cpu_pageset) continue;
      // batch: 2^n - 1 from a quarter of min(managed / 1024, 256).
      uint64_t b = std::min<uint64_t>(z.managed_pages >> 10, 256) / 4;
      if (b < 1) b = 1;
      uint64_t v = b + b / 2, pw = 1;
      while (pw * 2 <= v) pw *= 2;
      const int batch = std::max<int>(1, static_cast<int>(pw - 1));
      const unsigned cpus = r.k->nodes().node(n).nr_cpus;
      const int high_min = std::max<int>(static_cast<int>((z._watermark[fw::WMARK_LOW]) / cpus), batch * 4);
      const int high_max = std::max<int>(static_cast<int>(z.managed_pages / 8 / cpus), batch * 4);
      for (unsigned c = 0; c < 4; ++c) {
        const fw::per_cpu_pages& pcp = z.per_cpu_pageset[c];
        EXPECT_EQ(pcp.batch, batch) << z.name;
        EXPECT_EQ(pcp.high_min, high_min) << z.name;
        EXPECT_EQ(pcp.high_max, high_max) << z.name;
      }
      const std::string zi_text = r.proc("zoneinfo");
      char want[96];
      std::snprintf(want, sizeof want, "batch:    %d\n              high_min: %d", batch, high_min);
      EXPECT_NE(zi_text.find(want), std::string::npos) << want;
    }
}

}  // namespace
