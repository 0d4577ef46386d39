// memblock: region bookkeeping, free ranges, top-down allocation, and the
// memory map the Kernel builds from e820 at boot.
#include <gtest/gtest.h>

#include <vector>

#include "sw/mm/memblock.h"
#include "tb/sw/mm/fw_rig.h"

using fw::Memblock;
using namespace fwtest;

namespace {

std::vector<std::pair<uint64_t, uint64_t>> free_ranges(const Memblock& mb) {
  std::vector<std::pair<uint64_t, uint64_t>> v;
  mb.for_each_free_range([&](uint64_t s, uint64_t e, int) {
    v.emplace_back(s, e);
    return true;
  });
  return v;
}

TEST(fw_memblock, add_merges_adjacent_and_overlapping) {
  auto mb = std::make_unique<Memblock>();
  EXPECT_TRUE(mb->add(0x1000, 0x1000, 0));
  EXPECT_TRUE(mb->add(0x3000, 0x1000, 0));
  EXPECT_TRUE(mb->add(0x2000, 0x1000, 0));  // fills the gap: one region
  ASSERT_EQ(mb->memory().cnt, 1u);
  EXPECT_EQ(mb->memory().regions[0].base, 0x1000u);
  EXPECT_EQ(mb->memory().regions[0].size, 0x3000u);
  EXPECT_TRUE(mb->add(0x2800, 0x2000, 0));  // overlaps: only the new part counts
  EXPECT_EQ(mb->memory().cnt, 1u);
  EXPECT_EQ(mb->memory().total_size, 0x3800u);
  EXPECT_TRUE(mb->add(0x10000, 0x1000, 1));
  EXPECT_TRUE(mb->add(0x11000, 0x1000, 0));  // touches but another node: kept apart
  EXPECT_EQ(mb->memory().cnt, 3u);
  EXPECT_EQ(mb->memory().total_size, 0x5800u);
}

TEST(fw_memblock, set_node_splits_regions) {
  auto mb = std::make_unique<Memblock>();
  mb->add(0, 0x100000, 0);
  EXPECT_TRUE(mb->set_node(0x40000, 0x20000, 1));
  ASSERT_EQ(mb->memory().cnt, 3u);
  EXPECT_EQ(mb->memory().regions[0].nid, 0);
  EXPECT_EQ(mb->memory().regions[1].base, 0x40000u);
  EXPECT_EQ(mb->memory().regions[1].size, 0x20000u);
  EXPECT_EQ(mb->memory().regions[1].nid, 1);
  EXPECT_EQ(mb->memory().regions[2].base, 0x60000u);
  EXPECT_EQ(mb->memory().regions[2].nid, 0);
  EXPECT_EQ(mb->memory().total_size, 0x100000u);
}

TEST(fw_memblock, free_ranges_are_memory_minus_reserved) {
  auto mb = std::make_unique<Memblock>();
  mb->add(0x0, 0x10000, 0);
  mb->add(0x20000, 0x10000, 0);
  mb->reserve(0x0, 0x1000);
  mb->reserve(0x8000, 0x2000);
  mb->reserve(0x1f000, 0x2000);  // straddles the hole
  mb->reserve(0x2f000, 0x5000);  // runs past the end
  const auto v = free_ranges(*mb);
  const std::vector<std::pair<uint64_t, uint64_t>> want = {
      {0x1000, 0x8000}, {0xa000, 0x10000}, {0x21000, 0x2f000}};
  EXPECT_EQ(v, want);
  EXPECT_TRUE(mb->free(0x8000, 0x2000));
  EXPECT_EQ(free_ranges(*mb).size(), 2u);
  EXPECT_TRUE(mb->overlaps_reserved(0x0, 0x10));
  EXPECT_FALSE(mb->overlaps_reserved(0x1000, 0x1000));
  EXPECT_TRUE(mb->is_memory(0x20000, 0x10000));
  EXPECT_FALSE(mb->is_memory(0x10000, 0x1000));
}

TEST(fw_memblock, alloc_is_top_down_aligned_and_node_local) {
  auto mb = std::make_unique<Memblock>();
  mb->add(0x100000, 0x100000, 0);  // [1M, 2M) node 0
  mb->add(0x200000, 0x100000, 1);  // [2M, 3M) node 1
  mb->reserve(0x2f0000, 0x10000);
  // Highest fit below the top reservation of node 1.
  EXPECT_EQ(mb->alloc_range(0x1000, 0x1000, 0, ~0ull, 1), 0x2ef000u);
  EXPECT_EQ(mb->alloc_range(0x1000, 0x1000, 0, ~0ull, 1), 0x2ee000u);
  // Alignment: 64 KiB.
  EXPECT_EQ(mb->alloc_range(0x1000, 0x10000, 0, ~0ull, 1), 0x2e0000u);
  // Node 0 only gets node 0 memory; max_addr limits.
  EXPECT_EQ(mb->alloc_range(0x2000, 0x1000, 0, 0x180000, 0), 0x17e000u);
  // Any node: the very top free range.
  EXPECT_EQ(mb->alloc_range(0x1000, 0x1000, 0, ~0ull, fw::NUMA_NO_NODE), 0x2ed000u);
  // Too big for any gap.
  EXPECT_EQ(mb->alloc_range(0x200000, 0x1000, 0, ~0ull, fw::NUMA_NO_NODE), 0u);
  // Allocations are reserved: the free total dropped by what was handed out.
  uint64_t free_bytes = 0;
  for (auto& r : free_ranges(*mb)) free_bytes += r.second - r.first;
  EXPECT_EQ(free_bytes, 0x200000u - 0x10000 - 0x1000 * 3 - 0x1000 - 0x2000);
}

TEST(fw_memblock, boot_builds_the_map_from_e820) {
  Rig r(spec_mb(256));
  const hal::BootInfo& bi = r.m->boot_info();
  Memblock& mb = r.k->memblock();
  // Every usable byte (page-trimmed) is memory, but the first page (the
  // BIOS's, as Linux's trim_bios_range decides); nothing else is.
  uint64_t usable = 0;
  for (unsigned i = 0; i < bi.nr_e820; ++i) {
    const hal::E820Entry& e = bi.e820[i];
    const uint64_t s = std::max<uint64_t>((e.addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1), PAGE_SIZE), end = (e.addr + e.size) & ~(PAGE_SIZE - 1);
    if (e.type == hal::E820Type::usable) {
      usable += end - s;
      EXPECT_TRUE(mb.is_memory(s, end - s));
    } else {
      EXPECT_TRUE(mb.overlaps_reserved(e.addr, e.size)) << std::hex << e.addr;
      EXPECT_FALSE(mb.is_memory(e.addr, 1)) << std::hex << e.addr;
    }
  }
  EXPECT_EQ(mb.memory().total_size, usable);
  EXPECT_FALSE(mb.is_memory(0, PAGE_SIZE));                              // the first page
  EXPECT_TRUE(mb.overlaps_reserved(bi.image_base, bi.image_size));  // the image
  // The memmap came from memblock: reserved, node-local, 64 bytes per page.
  const fw::pglist_data& pg = r.k->nodes().node(0);
  EXPECT_TRUE(mb.overlaps_reserved(pg.node_mem_map_pa, pg.node_mem_map_bytes));
  EXPECT_EQ(pg.node_mem_map_bytes, (pg.node_spanned_pages * 64 + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
  // The pages memblock keeps are exactly those the buddy allocator never got.
  uint64_t reserved_in_memory = 0;
  for (unsigned i = 0; i < mb.memory().cnt; ++i) {
    const auto& m = mb.memory().regions[i];
    for (unsigned j = 0; j < mb.reserved().cnt; ++j) {
      const auto& rs = mb.reserved().regions[j];
      const uint64_t s = std::max(m.base, rs.base), e = std::min(m.end(), rs.end());
      if (e > s) reserved_in_memory += e - s;
    }
  }
  EXPECT_EQ(r.k->nodes().total_managed_pages() * PAGE_SIZE, usable - reserved_in_memory);
}

TEST(fw_memblock, reserve_low_kb_parameter) {
  // The default is Linux's: reserve_real_mode keeps the whole first MiB.
  Rig r(spec_mb(64));
  EXPECT_TRUE(r.k->memblock().overlaps_reserved(0x9e000, PAGE_SIZE));
  fw::Params p = quiet_params();
  p.reserve_low_kb = 4;  // only the BIOS page, as Linux before 5.13 could be told
  Rig d(spec_mb(64), p);
  EXPECT_FALSE(d.k->memblock().overlaps_reserved(0x9e000, PAGE_SIZE));
  EXPECT_EQ(d.k->nodes().total_managed_pages() - r.k->nodes().total_managed_pages(), 0x9f000 / PAGE_SIZE - 1);
}

TEST(fw_memblock, the_pc_bios_area_is_never_ram) {
  // A map claiming 640 KiB - 1 MiB usable: Linux's trim_bios_range takes
  // it out of RAM (it is not even present).
  hal::BootInfo bi = hosthal::make_boot_info(spec_mb(64));
  ASSERT_EQ(bi.e820[0].addr, 0u);
  // One usable range over the BIOS area instead of the first three entries.
  bi.e820[0].size = 0x100000;
  for (unsigned i = 1; i + 2 < bi.nr_e820; ++i) bi.e820[i] = bi.e820[i + 2];
  bi.nr_e820 -= 2;
  ASSERT_EQ(bi.e820[1].addr, 0x100000u);
  Rig r(bi);
  EXPECT_FALSE(r.k->memblock().is_memory(0xa0000, PAGE_SIZE));
  EXPECT_FALSE(r.k->memblock().is_memory(0xff000, PAGE_SIZE));
  EXPECT_TRUE(r.k->memblock().is_memory(0x9f000, PAGE_SIZE));
}

}  // namespace
