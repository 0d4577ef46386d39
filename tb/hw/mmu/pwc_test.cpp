// Paging-structure caches: walks skip the levels a hit covers, entries come
// only from walks that produced a translation, rights accumulate over the
// skipped levels, skipped entries are not touched, stale entries are used
// until invalidated (as x86 allows), and statistics per level.
#include <gtest/gtest.h>

#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

// TLB lookups must miss for these tests to see walks: no STLB and a DTLB of
// one entry.
Mmu::Params tiny_tlb(bool pwc = true) {
  Mmu::Params p = params(false, pwc);
  TlbArray::Geometry g;
  g.sets = 1;
  g.ways = 1;
  g.sizes = {0, 1, 2};
  p.dtlb = {g};
  return p;
}

struct PwcTest : ::testing::Test {
  Machine m{tiny_tlb()};
  uint64_t root = 0;
  void SetUp() override {
    root = m.alloc_table();
    m.mmu().write_cr3(root);
  }
  // Page-table reads of the next access (a TLB miss).
  unsigned reads_of(uint64_t va, x86::Access acc = x86::Access::read, AccessOutcome want = AccessOutcome::ok) {
    const uint64_t before = m.walker().stats.pt_reads.value();
    EXPECT_EQ(m.access(0, va, acc).outcome, want) << std::hex << va;
    return static_cast<unsigned>(m.walker().stats.pt_reads.value() - before);
  }
  PwcLevel& level(unsigned l) { return *m.mmu().pwc().level(l); }
};

TEST_F(PwcTest, WalksSkipTheLevelsAHitCovers) {
  // Pre-accessed entries: walks read only.
  const uint64_t base = 0x0000123440000000;
  m.map(root, base, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, base + 0x1000, 0x2001000, P | RW | US | A | D, 1, A);                  // same PT
  m.map(root, base + 0x200000, 0x2002000, P | RW | US | A | D, 1, A);                // same PD
  m.map(root, base + 0x40000000, 0x2003000, P | RW | US | A | D, 1, A);              // same PDPT
  m.map(root, base + 0x8000000000, 0x2004000, P | RW | US | A | D, 1, A);            // another PML4E
  EXPECT_EQ(reads_of(base), 4u);
  EXPECT_EQ(reads_of(base + 0x1000), 1u) << "PDE-cache hit: the walk reads the PTE only";
  EXPECT_EQ(reads_of(base + 0x200000), 2u) << "PDPTE-cache hit: PDE and PTE";
  EXPECT_EQ(reads_of(base + 0x40000000), 3u) << "PML4E-cache hit: PDPTE, PDE, PTE";
  EXPECT_EQ(reads_of(base + 0x8000000000), 4u);
  EXPECT_EQ(level(2).stats.hits.value(), 1u);
  EXPECT_EQ(level(3).stats.hits.value(), 1u);
  EXPECT_EQ(level(4).stats.hits.value(), 1u);
  EXPECT_EQ(m.walker().stats.from_root.value(), 2u);
  EXPECT_EQ(m.mmu().pwc().stats.skipped_levels.value(), 3u + 2u + 1u);
  EXPECT_EQ(m.mmu().pwc().stats.lookups.value(), 5u) << "one per walk";
  // The statistics are where a user would look for them.
  EXPECT_NE(m.root.find("cpu0.mmu.pwc.pde.hits"), nullptr);
  EXPECT_NE(m.root.find("cpu0.mmu.pwc.pml4e.misses"), nullptr);
}

TEST_F(PwcTest, OnlyTranslationsCreateEntries) {
  const uint64_t va = 0x0000000500000000;
  m.map(root, va, 0x2000000, P | RW | US);
  m.entry(root, va, 1) = 0;  // the PTE is not present
  EXPECT_EQ(reads_of(va, x86::Access::read, AccessOutcome::page_fault), 4u);
  EXPECT_FALSE(m.mmu().pwc().holds(2, va, 0)) << "a faulting walk caches nothing";
  EXPECT_FALSE(m.mmu().pwc().holds(4, va, 0));
  EXPECT_FALSE(m.entry(root, va, 4) & A) << "and sets no A bit";
  m.entry(root, va, 1) = 0x2000000 | P | RW | US;
  EXPECT_EQ(reads_of(va), 4u + 4u) << "four reads and four A updates";
  EXPECT_TRUE(m.mmu().pwc().holds(2, va, 0));
  EXPECT_TRUE(m.mmu().pwc().holds(3, va, 0));
  EXPECT_TRUE(m.mmu().pwc().holds(4, va, 0));
  EXPECT_TRUE(m.entry(root, va, 2) & A) << "cached entries have A set in memory";
}

TEST_F(PwcTest, HugeLeavesAreNotCachedAsTables) {
  const uint64_t va = 0x0000000640000000;
  m.map(root, va, 0, P | RW | US | A | D, 3, A);  // a 1 GiB page (frame 0: its start is in DRAM)
  EXPECT_EQ(reads_of(va), 2u);
  EXPECT_TRUE(m.mmu().pwc().holds(4, va, 0));
  EXPECT_FALSE(m.mmu().pwc().holds(3, va, 0)) << "a PDPTE that maps a page is not a PDPTE-cache entry";
  m.map(root, va + 0x40000000, 0, P | RW | US | A | D, 3, A);  // the next 1 GiB page
  EXPECT_EQ(reads_of(va + 0x40000000), 1u) << "PML4E hit, then the leaf PDPTE";
}

TEST_F(PwcTest, RightsAccumulateOverSkippedLevels) {
  const uint64_t va = 0x0000000700000000;
  m.map(root, va, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, va + 0x1000, 0x2001000, P | RW | US | A | D, 1, A);
  m.entry(root, va, 3) &= ~RW;  // the PDPTE is read-only
  EXPECT_EQ(reads_of(va), 4u);
  // A write to the other page walks from the PDE cache and still sees the
  // PDPTE's R/W = 0: a protection fault at the PTE, as a full walk gives.
  const Machine::Result r = m.access(0, va + 0x1000, x86::Access::write);
  EXPECT_EQ(r.outcome, AccessOutcome::page_fault);
  EXPECT_EQ(r.ext.error_code, x86::PF_P | x86::PF_W | x86::PF_U);
  EXPECT_EQ(r.ext.fault_level, 1u);
  EXPECT_EQ(level(2).stats.hits.value(), 1u);
}

TEST_F(PwcTest, SkippedLevelsAreNotTouched) {
  const uint64_t va = 0x0000000800000000;
  m.map(root, va, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, va + 0x1000, 0x2001000, P | RW | US | D, 1, A);
  EXPECT_EQ(reads_of(va), 4u);
  m.entry(root, va, 4) &= ~A;  // software clears the PML4E's A bit (no invalidation)
  m.entry(root, va, 3) &= ~A;
  EXPECT_EQ(reads_of(va + 0x1000), 1u + 1u) << "the PTE, and its A update";
  EXPECT_FALSE(m.entry(root, va, 4) & A) << "a PDE-cache hit does not touch the PML4E";
  EXPECT_FALSE(m.entry(root, va, 3) & A);
}

TEST_F(PwcTest, StaleEntriesAreUsedUntilInvalidated) {
  const uint64_t va = 0x0000000900000000;
  m.map(root, va, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, va + 0x1000, 0x2001000, P | RW | US | A | D, 1, A);
  EXPECT_EQ(m.access(0, va, x86::Access::read).outcome, AccessOutcome::ok);
  // Software moves the page table (a new PT with another frame for va+4K)
  // but does not invalidate: the PDE cache still names the old table.
  const uint64_t new_pt = m.alloc_table();
  m.word(new_pt + 8 * x86::pt_index(va + 0x1000, 1)) = 0x3000000 | P | RW | US | A | D;
  m.entry(root, va, 2) = new_pt | P | RW | US | A;
  *reinterpret_cast<uint64_t*>(m.dram.host(0x2001000)) = 0x1111;
  *reinterpret_cast<uint64_t*>(m.dram.host(0x3000000)) = 0x2222;
  EXPECT_EQ(m.access(0, va + 0x1000, x86::Access::read).data, 0x1111u) << "the old table, through the PDE cache";
  m.mmu().invlpg(va + 0x1000);  // the page's TLB entries, and every PWC entry of the PCID
  EXPECT_EQ(m.access(0, va + 0x1000, x86::Access::read).data, 0x2222u) << "the new table after INVLPG";
}

// 5-level paging: walks from the root read five entries, and a PML5E-cache
// hit (same 256 TiB region, another PML4E) lets a walk start at the PML4.
TEST(Pwc5Level, APml5eHitSkipsTheRoot) {
  Mmu::Params p = tiny_tlb();
  p.levels = 5;
  Machine m(p);
  const uint64_t root = m.alloc_table();
  m.mmu().write_cr3(root);
  auto reads_of = [&](uint64_t va) {
    const uint64_t before = m.walker().stats.pt_reads.value();
    EXPECT_EQ(m.access(0, va, x86::Access::read).outcome, AccessOutcome::ok) << std::hex << va;
    return m.walker().stats.pt_reads.value() - before;
  };
  const uint64_t base = 0x0012340000000000;  // above 2^47: a 57-bit address
  m.map(root, base, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, base + (1ull << 39), 0x2001000, P | RW | US | A | D, 1, A);  // another PML4E, same PML5E
  m.map(root, base + (1ull << 48), 0x2002000, P | RW | US | A | D, 1, A);  // another PML5E
  EXPECT_EQ(reads_of(base), 5u);
  EXPECT_EQ(reads_of(base + (1ull << 39)), 4u) << "PML5E-cache hit: the walk starts at the PML4";
  EXPECT_EQ(reads_of(base + (1ull << 48)), 5u);
  PwcLevel* pml5e = m.mmu().pwc().level(5);
  ASSERT_NE(pml5e, nullptr);
  EXPECT_EQ(pml5e->stats.hits.value(), 1u);
  EXPECT_EQ(pml5e->stats.misses.value(), 2u);
  EXPECT_EQ(pml5e->capacity(), 4u);
  EXPECT_TRUE(m.mmu().pwc().holds(5, base + (1ull << 48), 0));
  EXPECT_NE(m.root.find("cpu0.mmu.pwc.pml5e.hits"), nullptr);
  // Worked out when dumped: one lookup a walk; the PML5E hit skipped one level.
  EXPECT_EQ(m.mmu().pwc().stats.lookups.value(), 3u);
  EXPECT_EQ(m.mmu().pwc().stats.skipped_levels.value(), 1u);
  // Not canonical in 57 bits: #GP, no walk.
  const uint64_t walks = m.walker().stats.walks.value();
  EXPECT_EQ(m.access(0, 1ull << 56, x86::Access::read).outcome, AccessOutcome::general_protection);
  EXPECT_EQ(m.walker().stats.walks.value(), walks);
}

TEST(PwcDisabled, EveryWalkStartsAtTheRoot) {
  Machine m(tiny_tlb(false));
  const uint64_t root = m.alloc_table();
  m.mmu().write_cr3(root);
  m.map(root, 0x400000, 0x2000000, P | RW | US | A | D, 1, A);
  m.map(root, 0x401000, 0x2001000, P | RW | US | A | D, 1, A);
  for (int i = 0; i < 10; ++i) m.access(0, 0x400000 + 0x1000 * (i % 2), x86::Access::read);
  EXPECT_EQ(m.walker().stats.walks.value(), 10u);
  EXPECT_EQ(m.walker().stats.from_root.value(), 10u);
  EXPECT_EQ(m.walker().stats.pt_reads.value(), 40u);
  EXPECT_EQ(m.mmu().pwc().level(2), nullptr);
  EXPECT_EQ(m.mmu().pwc().stats.lookups.value(), 0u) << "no cache, no lookups";
  EXPECT_EQ(m.mmu().pwc().stats.skipped_levels.value(), 0u);
}

// A lookup tries the way of the last hit first: it must still answer only
// for that way's current key (after an invalidation, a refill of the way by
// another entry, another PCID).
TEST(PwcLevelHint, TheLastHitsWayAnswersOnlyForItsKey) {
  sim::stats::Group root(nullptr, "system");
  PwcLevel pde(&root, 2, 4, PwcGeometry{1, 2, ReplacementPolicy::lru}, 1);
  auto entry = [&](uint64_t va, uint64_t table, uint16_t pcid = 0) {
    PwcLevel::Entry e;
    e.tag = pde.tag_of(va);
    e.table = table;
    e.pcid = pcid;
    return e;
  };
  const uint64_t a = 0x400000, b = 0x600000, c = 0x800000;
  pde.insert(entry(a, 0x1000));
  pde.insert(entry(b, 0x2000));
  ASSERT_NE(pde.find(a, 0), nullptr);  // the hint is now a's way
  EXPECT_EQ(pde.find(a, 0)->table, 0x1000u);
  EXPECT_EQ(pde.find(a, 1), nullptr) << "another PCID";
  EXPECT_EQ(pde.find(b, 0)->table, 0x2000u);
  EXPECT_EQ(pde.find(a, 0)->table, 0x1000u);
  EXPECT_EQ(pde.flush_va(a, 0), 1u);
  EXPECT_EQ(pde.find(a, 0), nullptr) << "invalidated";
  pde.insert(entry(c, 0x3000));  // into a's old way
  EXPECT_EQ(pde.find(a, 0), nullptr);
  ASSERT_NE(pde.find(c, 0), nullptr);
  EXPECT_EQ(pde.find(c, 0)->table, 0x3000u);
  pde.insert(entry(a, 0x4000, 1));  // a again, PCID 1: evicts b (LRU)
  EXPECT_EQ(pde.find(a, 0), nullptr);
  EXPECT_EQ(pde.find(a, 1)->table, 0x4000u);
  EXPECT_EQ(pde.find(b, 0), nullptr);
}

TEST(PwcReplacement, CapacityAndEvictionPerLevel) {
  Mmu::Params p = tiny_tlb();
  p.pwc.level[2] = {1, 2, ReplacementPolicy::lru};  // a 2-entry PDE cache
  Machine m(p);
  const uint64_t root = m.alloc_table();
  m.mmu().write_cr3(root);
  // Three page tables (three PDEs), touched round robin: LRU keeps missing.
  for (int i = 0; i < 3; ++i) m.map(root, 0x400000 + 0x200000ull * i, 0x2000000, P | RW | US | A | D, 1, A);
  for (int i = 0; i < 9; ++i) m.access(0, 0x400000 + 0x200000ull * (i % 3), x86::Access::read);
  PwcLevel& pde = *m.mmu().pwc().level(2);
  EXPECT_EQ(pde.stats.hits.value(), 0u);
  EXPECT_EQ(pde.stats.fills.value(), 9u);
  EXPECT_EQ(pde.stats.evictions.value(), 7u);
  EXPECT_EQ(pde.capacity(), 2u);
}

}  // namespace
}  // namespace hw::test
