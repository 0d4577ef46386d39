// Page tables: map/lookup/unmap checked by the reference walker, freeing of
// tables, the kernel direct map, and 5-level paging.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "sw/mm/pgtable.h"
#include "tb/sw/mm/fw_rig.h"

using namespace fwtest;

namespace {

constexpr uint64_t kUserFlags = x86::PTE_P | x86::PTE_RW | x86::PTE_US | x86::PTE_A | x86::PTE_D;

WalkCtl ctl_for(Rig& r, uint64_t root) {
  WalkCtl c = r.ctl();
  c.cr3 = root;
  c.set_ad = false;
  return c;
}

TEST(fw_pgtable, map_lookup_unmap_agree_with_the_walker) {
  Rig r(spec_mb(128));
  fw::PgTable& pt = r.k->pgtable();
  hal::Hal& h = r.cpu();
  const uint64_t root = pt.alloc_table(h, false);
  ASSERT_NE(root, 0u);
  const uint64_t pages_before = pt.stats().pages;

  std::mt19937_64 rng(7);
  std::map<uint64_t, uint64_t> mapped;  // va -> pa
  // Boundary addresses of every level plus random ones.
  std::vector<uint64_t> vas = {0x10000, 0x1ff000, 0x200000, 0x3ffff000, 0x40000000, 0x7fffffffe000,
                               0x7ffff7ffe000, 0x8000000000, 0x7fbffffff000};
  for (int i = 0; i < 300; ++i) vas.push_back((rng() % (1ull << 47)) & ~(PAGE_SIZE - 1));
  for (uint64_t va : vas) {
    if (mapped.count(va)) continue;
    const uint64_t pa = ((rng() % (1ull << 34)) & ~(PAGE_SIZE - 1)) | 0;
    const uint64_t flags = kUserFlags | ((rng() & 1) ? x86::PTE_NX : 0);
    ASSERT_EQ(pt.map(h, root, va, pa, 1, flags, fw::_PAGE_TABLE, false), 0);
    mapped[va] = pa;
    // Mapping the same page again is refused.
    ASSERT_EQ(pt.map(h, root, va, pa, 1, flags, fw::_PAGE_TABLE, false), -EEXIST);
  }
  for (auto& [va, pa] : mapped) {
    const Walk w = ref_walk(*r.m, ctl_for(r, root), va + 0x123, x86::Access::write, true);
    ASSERT_EQ(w.status, Walk::ok) << std::hex << va;
    EXPECT_EQ(w.pa, pa + 0x123);
    EXPECT_EQ(w.page_size, PAGE_SIZE);
    EXPECT_TRUE(w.rw && w.us);
    fw::PteLookup l;
    ASSERT_TRUE(pt.lookup(h, root, va, &l));
    EXPECT_EQ(l.level, 1u);
    EXPECT_EQ(l.entry & x86::phys_mask(46), pa);
  }
  // An address never mapped is not present, and lookup agrees.
  fw::PteLookup l;
  EXPECT_FALSE(pt.lookup(h, root, 0x5000, &l));
  EXPECT_EQ(ref_walk(*r.m, ctl_for(r, root), 0x5000, x86::Access::read, true).status, Walk::page_fault);
  // Every intermediate entry carries the user table flags.
  EXPECT_GT(pt.stats().pages, pages_before);

  // Unmap half; the rest still translates.
  size_t i = 0;
  for (auto& [va, pa] : mapped) {
    if (i++ % 2) continue;
    const uint64_t old = pt.unmap(h, root, va);
    EXPECT_EQ(old & x86::phys_mask(46), pa);
    EXPECT_EQ(pt.unmap(h, root, va), 0u);
    const Walk w = ref_walk(*r.m, ctl_for(r, root), va, x86::Access::read, true);
    EXPECT_EQ(w.status, Walk::page_fault);
    EXPECT_EQ(w.error_code & x86::PF_P, 0u);
  }
  i = 0;
  for (auto& [va, pa] : mapped)
    if (i++ % 2) {
      EXPECT_EQ(ref_walk(*r.m, ctl_for(r, root), va, x86::Access::read, true).pa, pa);
    }

  // Teardown: zap everything and free every table, root included.
  struct Count final : fw::PteZapVisitor {
    uint64_t n = 0;
    void leaf(hal::Hal&, uint64_t, uint64_t, unsigned) override { ++n; }
  } count;
  EXPECT_EQ(pt.zap_range(h, root, 0, pt.user_top(), &count), mapped.size() / 2);
  EXPECT_EQ(count.n, mapped.size() / 2);
  pt.free_user_tables(h, root);
  EXPECT_EQ(pt.stats().pages, pages_before - 1);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

TEST(fw_pgtable, free_range_keeps_tables_that_still_serve_neighbours) {
  Rig r(spec_mb(64));
  fw::PgTable& pt = r.k->pgtable();
  hal::Hal& h = r.cpu();
  const uint64_t root = pt.alloc_table(h, false);
  const uint64_t base = 0x40000000;  // 1 GiB: a fresh PDPT entry
  // Pages in two PTs (2 MiB apart) under one PD.
  for (uint64_t va : {base, base + PAGE_SIZE, base + 2 * MiB})
    ASSERT_EQ(pt.map(h, root, va, 0x100000, 1, kUserFlags, fw::_PAGE_TABLE, false), 0);
  const uint64_t pages = pt.stats().pages;  // root + PDPT + PD + 2 PT
  // Unmap the first PT's pages with a neighbour at base + 2 MiB: only that PT goes.
  pt.zap_range(h, root, base, base + 2 * PAGE_SIZE, nullptr);
  EXPECT_EQ(pt.free_range(h, root, base, base + 2 * PAGE_SIZE, 0, base + 2 * MiB), 1u);
  EXPECT_EQ(pt.stats().pages, pages - 1);
  EXPECT_EQ(ref_walk(*r.m, ctl_for(r, root), base + 2 * MiB, x86::Access::read, true).status, Walk::ok);
  // A neighbour inside the same PT keeps it.
  ASSERT_EQ(pt.map(h, root, base, 0x100000, 1, kUserFlags, fw::_PAGE_TABLE, false), 0);
  ASSERT_EQ(pt.map(h, root, base + 8 * PAGE_SIZE, 0x100000, 1, kUserFlags, fw::_PAGE_TABLE, false), 0);
  pt.zap_range(h, root, base, base + PAGE_SIZE, nullptr);
  EXPECT_EQ(pt.free_range(h, root, base, base + PAGE_SIZE, 0, base + 8 * PAGE_SIZE), 0u);
  // The last mapping gone with no neighbours: PT, PD and PDPT all go.
  pt.zap_range(h, root, 0, pt.user_top(), nullptr);
  const uint64_t before = pt.stats().pages;
  EXPECT_EQ(pt.free_range(h, root, base, base + 4 * MiB, 0, pt.user_top()), 4u);  // 2 PTs, the PD, the PDPT
  EXPECT_EQ(pt.stats().pages, before - 4);
  pt.free_user_tables(h, root);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

void check_direct_map(Rig& r, bool gbpages, bool expect_1g) {
  fw::PgTable& pt = r.k->pgtable();
  WalkCtl c = r.ctl();
  c.cr3 = r.k->kernel_root();
  c.set_ad = false;
  const fw::Memblock& mb = r.k->memblock();
  uint64_t bytes = 0;
  std::set<unsigned> sizes;
  for (unsigned i = 0; i < mb.memory().cnt; ++i) {
    const auto& m = mb.memory().regions[i];
    bytes += m.size;
    for (uint64_t pa = m.base; pa < m.end(); pa += std::max<uint64_t>(PAGE_SIZE, m.size / 64)) {
      const uint64_t va = pt.page_offset() + pa;
      const Walk w = ref_walk(*r.m, c, va, x86::Access::write, false);
      ASSERT_EQ(w.status, Walk::ok) << std::hex << pa;
      EXPECT_EQ(w.pa, pa);
      EXPECT_FALSE(w.us);
      EXPECT_TRUE(w.nx);
      EXPECT_TRUE(w.leaf & x86::PTE_G);
      sizes.insert(w.leaf_level);
      // Supervisor only: a user access faults with P set.
      const Walk u = ref_walk(*r.m, c, va, x86::Access::read, true);
      EXPECT_EQ(u.status, Walk::page_fault);
      EXPECT_EQ(u.error_code, x86::PF_P | x86::PF_U);
      // Aligned as large as possible.
      if (w.leaf_level == 3) {
        EXPECT_TRUE(gbpages);
      }
    }
  }
  // RAM, and the whole ISA range [0, 1 MiB) with its holes (x86
  // init_mem_mapping maps it first, whatever e820 says).
  uint64_t isa_ram = 0;
  for (unsigned i = 0; i < mb.memory().cnt; ++i) {
    const auto& m = mb.memory().regions[i];
    if (m.base < MiB) isa_ram += std::min<uint64_t>(m.end(), MiB) - m.base;
  }
  const fw::PgTableStats& s = pt.stats();
  EXPECT_EQ(s.direct_map_bytes[1] + s.direct_map_bytes[2] + s.direct_map_bytes[3], bytes + MiB - isa_ram);
  if (expect_1g) {
    EXPECT_GT(s.direct_map_bytes[3], 0u);
  } else {
    EXPECT_EQ(s.direct_map_bytes[3], 0u);
  }
  EXPECT_TRUE(sizes.count(2));
}

TEST(fw_pgtable, direct_map_uses_1g_pages_when_allowed) {
  Rig r(spec_mb(6 * 1024));
  check_direct_map(r, true, true);
  // [4 GiB, 7 GiB) is 1 GiB-aligned RAM: three 1 GiB leaves at least.
  EXPECT_GE(r.k->pgtable().stats().direct_map_bytes[3], 3 * GiB);
}

TEST(fw_pgtable, direct_map_without_gbpages_uses_2m) {
  hosthal::MachineSpec s = spec_mb(2 * 1024);
  s.gbpages = false;
  Rig r(s);
  check_direct_map(r, false, false);
  // Only the low megabytes need 4 KiB pages: the ISA range and 1-2 MiB.
  EXPECT_EQ(r.k->pgtable().stats().direct_map_bytes[1], 2 * MiB);
}

TEST(fw_pgtable, user_roots_share_the_kernel_half) {
  Rig r(spec_mb(64));
  r.start_process();
  const uint64_t kroot = r.k->kernel_root();
  const uint64_t uroot = r.cpu().read_cr3() & x86::phys_mask(46);
  ASSERT_NE(uroot, kroot);
  for (unsigned i = 0; i < 512; ++i) {
    const uint64_t ke = r.read64(kroot + 8 * i), ue = r.read64(uroot + 8 * i);
    if (i < 256) EXPECT_EQ(ue, 0u) << i;
    else EXPECT_EQ(ue, ke) << i;
  }
  EXPECT_NE(r.read64(kroot + 8 * x86::pt_index(fw::PAGE_OFFSET_L4, 4)), 0u);
  // The direct map translates through the process's root too.
  const Walk w = r.walk(0, fw::PAGE_OFFSET_L4 + 0x200000, x86::Access::read, false);
  EXPECT_EQ(w.status, Walk::ok);
  EXPECT_EQ(w.pa, 0x200000u);
}

TEST(fw_pgtable, five_level_paging) {
  hosthal::MachineSpec s = spec_mb(128);
  s.paging_levels = 5;
  Rig r(s);
  fw::PgTable& pt = r.k->pgtable();
  EXPECT_EQ(pt.levels(), 5u);
  EXPECT_EQ(pt.page_offset(), fw::PAGE_OFFSET_L5);
  EXPECT_EQ(pt.user_top(), 1ull << 56);
  check_direct_map(r, true, false);  // 128 MiB: nothing 1 GiB-aligned
  r.start_process();
  const int64_t a = r.mmap(0, 0, 4 * PAGE_SIZE);
  ASSERT_GT(a, 0);
  // mmap stays in the 47-bit window unless asked (as Linux with LA57).
  EXPECT_LT(static_cast<uint64_t>(a), 1ull << 47);
  const uint64_t pa = r.access(0, static_cast<uint64_t>(a) + 16);
  ASSERT_NE(pa, ~0ull);
  const Walk w = r.walk(0, static_cast<uint64_t>(a) + 16);
  EXPECT_EQ(w.pa, pa);
  // A 5-level-only address works with MAP_FIXED.
  const uint64_t high = 1ull << 52;
  EXPECT_EQ(r.mmap(0, high, PAGE_SIZE, fw::PROT_READ | fw::PROT_WRITE,
                   fw::MAP_PRIVATE | fw::MAP_ANONYMOUS | fw::MAP_FIXED),
            static_cast<int64_t>(high));
  EXPECT_NE(r.access(0, high), ~0ull);
  EXPECT_EQ(r.sys(0, hal::Sys::exit, 0), 0);
  EXPECT_EQ(r.k->nr_free_pages(), r.k->boot_free_pages());
}

}  // namespace
