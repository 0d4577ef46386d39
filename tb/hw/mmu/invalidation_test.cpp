// Invalidation with x86's semantics, for the TLBs (ITLB, DTLB, STLB) and the
// paging-structure caches: CR3 writes with and without PCIDE and the no-flush
// bit, INVLPG, INVPCID types 0-3, page faults. Each test fills every
// structure with entries of two PCIDs and a global page, applies one
// operation, and checks that exactly the entries x86 names are gone, using
// an expectation written from the SDM rules (not from the MMU's code).
#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

// Three pages: A and G share the PML4E and PDPTE (different PDEs); B is
// under another PML4E. G is global.
constexpr uint64_t kA = 0x0000000000400000, kG = 0x0000000000601000, kB = 0x0000008000202000;
constexpr uint16_t kP1 = 1, kP2 = 2;

struct Item {
  bool pwc;               // a paging-structure-cache entry (else a TLB entry)
  std::string structure;  // itlb, dtlb, stlb; or the PWC level name
  unsigned level;         // PWC: 2..4
  uint64_t va;
  int owner;              // PCID, or -1 for a global TLB entry
  bool operator<(const Item& o) const {
    return std::tie(pwc, structure, level, va, owner) < std::tie(o.pwc, o.structure, o.level, o.va, o.owner);
  }
  bool operator==(const Item& o) const { return !(*this < o) && !(o < *this); }
};

std::string show(const std::set<Item>& s) {
  std::string out;
  for (const Item& i : s)
    out += fmt::format("  {} {} va={:#x} {}\n", i.pwc ? "pwc" : i.structure.c_str(),
                       i.pwc ? fmt::format("L{}", i.level) : std::string(), i.va,
                       i.owner < 0 ? std::string("global") : fmt::format("pcid {}", i.owner));
  return out;
}

// The PWC tag of va at a level: the linear-address bits 47:shift(level).
uint64_t tag(uint64_t va, unsigned level) { return (va & ((1ull << 48) - 1)) >> (12 + 9 * (level - 1)); }

class Invalidation : public ::testing::Test {
 protected:
  Machine m{Mmu::Params()};
  uint64_t root = 0;

  void SetUp() override {
    root = m.alloc_table();
    m.map(root, kA, 0x2000000, P | RW | US);
    m.map(root, kB, 0x2100000, P | RW | US);
    m.map(root, kG, 0x2200000, P | RW | US | G);
  }
  Mmu& mmu() { return m.mmu(); }
  // Fills every structure: reads and fetches of A, B, G under PCIDs 1 and 2.
  void populate(bool pcide = true) {
    mmu().set_control(true, true, pcide);
    for (uint16_t p : {kP1, kP2}) {
      if (!pcide && p == kP2) break;
      mmu().write_cr3(root | (pcide ? p : 0) | (pcide ? x86::CR3_NOFLUSH : 0));
      for (uint64_t va : {kA, kB, kG})
        for (x86::Access acc : {x86::Access::read, x86::Access::fetch})
          ASSERT_EQ(m.access(0, va, acc).outcome, AccessOutcome::ok);
    }
  }
  std::set<Item> state() {
    std::set<Item> s;
    Tlb* tlbs[] = {&mmu().itlb(), &mmu().dtlb(), mmu().stlb()};
    for (Tlb* t : tlbs)
      for (uint64_t va : {kA, kB, kG})
        for (uint16_t p : {uint16_t{0}, kP1, kP2})
          if (const TlbEntry* e = t->find(va, p)) s.insert({false, t->name(), 0, va, e->global ? -1 : int(e->pcid)});
    for (unsigned l = 2; l <= 4; ++l)
      for (uint64_t va : {kA, kB, kG})
        for (uint16_t p : {uint16_t{0}, kP1, kP2})
          if (mmu().pwc().holds(l, va, p)) s.insert({true, pwc_level_name(l), l, va, p});
    return s;
  }
  // Applies `op` and checks that exactly the items `removed` selects went.
  template <typename Op, typename Pred>
  void expect(Op op, Pred removed) {
    const std::set<Item> before = state();
    std::set<Item> want;
    unsigned gone = 0;
    for (const Item& i : before) {
      if (removed(i)) ++gone;
      else want.insert(i);
    }
    op();
    const std::set<Item> after = state();
    EXPECT_TRUE(after == want) << "before:\n" << show(before) << "expected:\n" << show(want) << "got:\n" << show(after);
    // The test must be able to see both a removal and a survivor.
    EXPECT_GT(gone, 0u) << "nothing to remove:\n" << show(before);
  }
};

TEST_F(Invalidation, PopulatedStateHasEveryKindOfEntry) {
  populate();
  const std::set<Item> s = state();
  for (const char* t : {"itlb", "dtlb", "stlb"}) {
    for (uint64_t va : {kA, kB})
      for (int p : {1, 2}) EXPECT_EQ(s.count({false, t, 0, va, p}), 1u) << t << " " << std::hex << va << " " << p;
    EXPECT_EQ(s.count({false, t, 0, kG, -1}), 1u) << t << " global";
  }
  for (unsigned l = 2; l <= 4; ++l)
    for (uint64_t va : {kA, kB})
      for (int p : {1, 2}) EXPECT_EQ(s.count({true, pwc_level_name(l), l, va, p}), 1u) << l << " " << std::hex << va;
}

TEST_F(Invalidation, Cr3WriteWithoutPcideKeepsGlobalsAndDropsEverythingElse) {
  populate(false);
  // PCID 000H is the only one: non-global TLB entries and the whole PWC go.
  expect([&] { mmu().write_cr3(root); },
         [](const Item& i) { return i.pwc || i.owner >= 0; });
  EXPECT_TRUE(state().count({false, "dtlb", 0, kG, -1}));
  EXPECT_TRUE(m.access(0, kG, x86::Access::read).fast) << "a global page survives a CR3 write";
  EXPECT_FALSE(m.access(0, kA, x86::Access::read).fast);
}

TEST_F(Invalidation, Cr3WriteDropsOnlyTheNewPcidsNonGlobalEntries) {
  populate();  // current PCID: 2
  expect([&] { mmu().write_cr3(root | kP1); },
         [](const Item& i) { return i.owner == kP1; });  // TLB entries and PWC entries of PCID 1
  EXPECT_TRUE(m.access(0, kG, x86::Access::read).fast) << "global pages survive";
}

TEST_F(Invalidation, Cr3NoFlushKeepsEveryPcidsEntries) {
  populate();
  const std::set<Item> before = state();
  mmu().write_cr3(root | kP1 | x86::CR3_NOFLUSH);
  EXPECT_TRUE(state() == before) << show(state());
  EXPECT_EQ(mmu().pcid(), kP1);
  EXPECT_EQ(mmu().cr3(), root | kP1) << "the no-flush bit is not part of CR3";
  EXPECT_TRUE(m.access(0, kA, x86::Access::read).fast) << "PCID 1's entries are still usable";
  mmu().write_cr3(root | kP2 | x86::CR3_NOFLUSH);
  EXPECT_TRUE(m.access(0, kB, x86::Access::read).fast) << "and so are PCID 2's";
}

TEST_F(Invalidation, InvlpgDropsThePageAndTheCurrentPcidsPwcEntries) {
  populate();
  mmu().write_cr3(root | kP1 | x86::CR3_NOFLUSH);
  // TLB: the page's entries of the current PCID and global ones; PWC: every
  // entry of the current PCID, whatever its address (SDM 4.10.4.1).
  expect([&] { mmu().invlpg(kA); },
         [](const Item& i) { return i.pwc ? i.owner == kP1 : (i.va == kA && (i.owner == kP1 || i.owner < 0)); });
  EXPECT_TRUE(state().count({false, "dtlb", 0, kA, kP2})) << "PCID 2's entry for the page stays";
}

TEST_F(Invalidation, InvlpgDropsAGlobalPageWhateverThePcid) {
  populate();
  mmu().write_cr3(root | kP1 | x86::CR3_NOFLUSH);
  expect([&] { mmu().invlpg(kG); },
         [](const Item& i) { return i.pwc ? i.owner == kP1 : (i.va == kG && (i.owner == kP1 || i.owner < 0)); });
}

TEST_F(Invalidation, InvlpgOfANonCanonicalAddressIsANop) {
  populate();
  const std::set<Item> before = state();
  mmu().invlpg(0x0000800000000000ull | kA);
  EXPECT_TRUE(state() == before);
}

TEST(InvalidationOptions, InvlpgCanDropEveryPcidsPwcEntries) {
  Mmu::Params p;
  p.pwc.invlpg_all_pcids = true;
  Machine m(p);
  const uint64_t root = m.alloc_table();
  m.map(root, kA, 0x2000000, P | RW | US);
  m.mmu().set_control(true, true, true);
  for (uint16_t pcid : {kP1, kP2}) {
    m.mmu().write_cr3(root | pcid | x86::CR3_NOFLUSH);
    m.access(0, kA, x86::Access::read);
  }
  ASSERT_TRUE(m.mmu().pwc().holds(2, kA, kP1) && m.mmu().pwc().holds(2, kA, kP2));
  m.mmu().invlpg(kA);
  EXPECT_FALSE(m.mmu().pwc().holds(2, kA, kP1) || m.mmu().pwc().holds(2, kA, kP2));
  EXPECT_FALSE(m.mmu().pwc().holds(4, kA, kP1) || m.mmu().pwc().holds(4, kA, kP2));
}

TEST_F(Invalidation, InvpcidIndividualAddress) {
  populate();
  // Type 0: non-global mappings of (PCID 1, A): its TLB entries, and the PWC
  // entries of PCID 1 that would translate A (the PML4E and PDPTE entries it
  // shares with G included).
  expect([&] { mmu().invpcid(x86::InvpcidType::individual_address, kP1, kA); },
         [](const Item& i) {
           if (i.owner != kP1) return false;
           return i.pwc ? tag(i.va, i.level) == tag(kA, i.level) : i.va == kA;
         });
  EXPECT_TRUE(state().count({true, "pdpte", 3, kB, kP1})) << "PCID 1's entries for other addresses stay";
  EXPECT_TRUE(state().count({true, "pde", 2, kG, kP1}));
}

TEST_F(Invalidation, InvpcidIndividualAddressKeepsGlobalPages) {
  populate();
  expect([&] { mmu().invpcid(x86::InvpcidType::individual_address, kP2, kG); },
         [](const Item& i) {
           if (i.owner != kP2) return false;
           return i.pwc ? tag(i.va, i.level) == tag(kG, i.level) : i.va == kG;
         });
  EXPECT_TRUE(state().count({false, "dtlb", 0, kG, -1}));
}

TEST_F(Invalidation, InvpcidSingleContext) {
  populate();
  expect([&] { mmu().invpcid(x86::InvpcidType::single_context, kP1, 0); },
         [](const Item& i) { return i.owner == kP1; });
}

TEST_F(Invalidation, InvpcidAllContextsIncludingGlobals) {
  populate();
  expect([&] { mmu().invpcid(x86::InvpcidType::all_contexts_global, 0, 0); }, [](const Item&) { return true; });
  EXPECT_TRUE(state().empty());
}

TEST_F(Invalidation, InvpcidAllContextsKeepsGlobals) {
  populate();
  expect([&] { mmu().invpcid(x86::InvpcidType::all_contexts, 0, 0); },
         [](const Item& i) { return i.pwc || i.owner >= 0; });
  EXPECT_TRUE(state().count({false, "itlb", 0, kG, -1}));
}

TEST_F(Invalidation, TurningPcideOffFlushesEverything) {
  populate();
  expect([&] { mmu().set_control(true, true, false); }, [](const Item&) { return true; });
}

TEST_F(Invalidation, PageFaultDropsTheFaultingAddressOfTheCurrentPcid) {
  populate();
  mmu().write_cr3(root | kP1 | x86::CR3_NOFLUSH);
  // Make A read-only, then write it: the write through the clean entry walks, and faults.
  m.entry(root, kA, 1) &= ~RW;
  expect([&] { EXPECT_EQ(m.access(0, kA, x86::Access::write).outcome, AccessOutcome::page_fault); },
         [](const Item& i) {
           if (i.owner != kP1 && i.owner >= 0) return false;
           return i.pwc ? tag(i.va, i.level) == tag(kA, i.level) : i.va == kA;
         });
}

TEST(InvalidationFractured, InvlpgDropsEveryPieceOfAHugePage) {
  // The ITLB has no 1 GiB array: a 1 GiB page is held as 2 MiB pieces.
  Machine m;
  const uint64_t root = m.alloc_table();
  m.map(root, 0x40000000, 0, P | RW | US, 3);  // frame 0: the test touches its first 64 MiB
  m.mmu().write_cr3(root);
  // Each piece reads its own part of the page: through the slow path that
  // makes it, then on the fast path.
  for (uint64_t off : {0x0ull, 0x200000ull, 0x3e00000ull}) {
    const uint64_t word = 0x5100000000000000ull | off;
    std::memcpy(m.dram.host(off + 0x88), &word, 8);
  }
  for (uint64_t off : {0x0ull, 0x200000ull, 0x3e00000ull}) {
    const Machine::Result slow = m.access(0, 0x40000000 + off + 0x88, x86::Access::fetch);
    ASSERT_EQ(slow.outcome, AccessOutcome::ok);
    EXPECT_FALSE(slow.fast);
    EXPECT_EQ(slow.data, 0x5100000000000000ull | off) << std::hex << off;
    const Machine::Result fast = m.access(0, 0x40000000 + off + 0x88, x86::Access::fetch);
    EXPECT_TRUE(fast.fast);
    EXPECT_EQ(fast.data, 0x5100000000000000ull | off) << std::hex << off;
  }
  EXPECT_EQ(m.mmu().itlb().valid_entries(), 3u);
  EXPECT_EQ(m.mmu().itlb().find(0x40200000, 0)->size, 1u);
  EXPECT_EQ(m.mmu().itlb().find(0x40200000, 0)->page_size, 2u);
  m.mmu().invlpg(0x40000000 + 0x123456);
  EXPECT_EQ(m.mmu().itlb().valid_entries(), 0u) << "INVLPG drops all TLB entries for a larger page";
}

}  // namespace
}  // namespace hw::test
