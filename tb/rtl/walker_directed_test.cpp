// Directed tests of the RTL walker (rtl/walker.sv) through its transactor
// (hw::RtlWalker), against docs/walker.md: translations of every page size,
// each fault kind at each level, Accessed/Dirty updates with the locked
// read-modify-write, restarts, machine checks, walks starting below the
// root, timing and statistics. The RTL's assertions are live in all of them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "hw/rtlwalk/wave.h"
#include "tb/common/vcd_changes.h"
#include "tb/rtl/harness.h"

namespace rtltest {
namespace {

using x86::Access;

constexpr uint64_t kRoot = 0x10000;
constexpr unsigned kPf_P = x86::PF_P, kPf_W = x86::PF_W, kPf_U = x86::PF_U, kPf_RSVD = x86::PF_RSVD,
                   kPf_I = x86::PF_I;

void expect_no_writes(const Harness& h) {
  EXPECT_EQ(h.mem.count(true, true) + h.mem.count(true, false), 0u);
  EXPECT_EQ(h.mem.count(false, true), 0u) << "no locked read on a failed walk";
}

void expect_clean_protocol(const Harness& h) {
  for (const std::string& e : h.mem.protocol_errors) ADD_FAILURE() << "memory protocol: " << e;
  EXPECT_FALSE(h.mem.locked) << "walk ended holding the bus lock";
}

// ---- Translations ----------------------------------------------------------

TEST(RtlWalker, Translates4KPage) {
  Harness h;
  const uint64_t va = 0x00007f12'3456'7abcull;
  h.map(kRoot, va, 0x2345'6000, P | RW | US | A | D | G | PWT);
  const WalkResult r = h.walk(Harness::request(kRoot, va));
  EXPECT_EQ(h.status(), tlm::TLM_OK_RESPONSE);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x2345'6abcull);
  EXPECT_EQ(r.page_size, 4096u);
  EXPECT_EQ(r.leaf_level, 1u);
  EXPECT_TRUE(r.rw);
  EXPECT_TRUE(r.us);
  EXPECT_FALSE(r.nx);
  EXPECT_TRUE(r.global);
  EXPECT_TRUE(r.dirty);
  EXPECT_EQ(r.memtype, 1u);  // PWT
  EXPECT_EQ(r.error_code, 0u);
  EXPECT_EQ(r.fault_level, 0u);
  EXPECT_EQ(r.mc_addr, 0u);
  for (unsigned l = 1; l <= 4; ++l) {
    EXPECT_TRUE(r.pte_valid[l]) << l;
    EXPECT_EQ(r.pte_addr[l], h.entry_addr(kRoot, va, l)) << l;
    EXPECT_EQ(r.pte_value[l], h.entry(kRoot, va, l)) << l;
  }
  EXPECT_FALSE(r.pte_valid[5]);
  EXPECT_EQ(r.mem_reads, 4u);
  EXPECT_EQ(r.mem_writes, 0u);
  EXPECT_EQ(r.restarts, 0u);
  expect_clean_protocol(h);
}

TEST(RtlWalker, Translates2MPageWithLargePat) {
  Harness h;
  const uint64_t va = 0x0000'4000'0000ull + 0x0060'0000 + 0x12345;
  h.map(kRoot, va, 0x8020'0000, P | RW | A | D | x86::PTE_PAT_LARGE | PCD, 2);
  const WalkResult r = h.walk(Harness::request(kRoot, va));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x8020'0000ull + 0x12345);
  EXPECT_EQ(r.page_size, 2ull << 20);
  EXPECT_EQ(r.leaf_level, 2u);
  EXPECT_FALSE(r.us);  // leaf is supervisor-only
  EXPECT_EQ(r.memtype, 6u);  // PAT (bit 12) and PCD
  EXPECT_FALSE(r.pte_valid[1]);
  EXPECT_EQ(r.mem_reads, 3u);
  expect_clean_protocol(h);
}

TEST(RtlWalker, Translates1GPage) {
  Harness h;
  const uint64_t va = 0x0000'00c0'1234'5678ull;  // 1 GiB page 3 of PML4 slot 1
  h.map(kRoot, va, 0x40'0000'0000ull, P | RW | US | A | D, 3);
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x40'0000'0000ull + (va & ((1ull << 30) - 1)));
  EXPECT_EQ(r.page_size, 1ull << 30);
  EXPECT_EQ(r.leaf_level, 3u);
  EXPECT_EQ(r.memtype, 0u);
  EXPECT_EQ(r.mem_reads, 2u);
  expect_clean_protocol(h);
}

TEST(RtlWalker, PatBitOf4KLeafIsBit7) {
  Harness h;
  const uint64_t va = 0x5000;
  h.map(kRoot, va, 0x9000, P | A | x86::PTE_PS /* PAT in a PTE */);
  const WalkResult r = h.walk(Harness::request(kRoot, va));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.memtype, 4u);
  EXPECT_EQ(r.pa, 0x9000u);
}

TEST(RtlWalker, FiveLevelWalk) {
  Harness h;
  const uint64_t va = 0x00ab'cdef'1234'5000ull;
  h.map(kRoot, va, 0x7000, P | RW | US | A | D, 1, P | RW | US | A, 5);
  WalkRequest rq = Harness::request(kRoot, va, Access::read, true);
  rq.levels = 5;
  rq.start_level = 5;
  const WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x7000u);
  EXPECT_EQ(r.mem_reads, 5u);
  EXPECT_TRUE(r.pte_valid[5]);
  EXPECT_EQ(r.pte_addr[5], kRoot + 8 * x86::pt_index(va, 5));
}

TEST(RtlWalker, FullWalkStartsAtCr3IgnoringItsLowBitsAndStartTable) {
  Harness h;
  const uint64_t va = 0x1234'5000;
  h.map(kRoot, va, 0x3000, P | A);
  WalkRequest rq = Harness::request(kRoot | 0x18 | (1ull << 63), va);  // PWT|PCD, no-flush bit
  rq.start_table = 0xdead'0000;  // ignored: start_level == levels
  const WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pte_addr[4], kRoot + 8 * x86::pt_index(va, 4));
}

TEST(RtlWalker, EffectiveRightsAccumulateOverLevels) {
  Harness h;
  const uint64_t va = 0x4000'0000;
  h.map(kRoot, va, 0x5000, P | RW | US | A | D);
  h.entry(kRoot, va, 3) &= ~RW;  // read-only at the PDPT
  h.entry(kRoot, va, 2) |= NX;   // execute-disable at the PD
  WalkRequest rq = Harness::request(kRoot, va, Access::read, true);
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_FALSE(r.rw);
  EXPECT_TRUE(r.us);
  EXPECT_TRUE(r.nx);
  // Without NXE, XD is a reserved bit.
  rq.nxe = false;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_RSVD | kPf_U);
  EXPECT_EQ(r.fault_level, 2u);
}

// ---- Not present -------------------------------------------------------------

TEST(RtlWalker, NotPresentAtEachLevel) {
  // One bench (a SystemC kernel elaborates once per process), tables rebuilt per case.
  Harness h;
  for (unsigned level = 4; level >= 1; --level) {
    SCOPED_TRACE(level);
    h.mem.words.clear();
    h.mem.log.clear();
    h.next_table = 0x100000;
    const uint64_t va = 0x0000'1234'5678'9000ull;
    h.map(kRoot, va, 0x6000, P | RW | US | D);  // A = 0 everywhere below: no writes on a fault
    const uint64_t bad = h.entry_addr(kRoot, va, level);
    h.mem.word(bad) &= ~P;
    const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
    ASSERT_EQ(r.status, WalkStatus::page_fault);
    EXPECT_EQ(r.error_code, kPf_W | kPf_U);
    EXPECT_EQ(r.fault_level, level);
    EXPECT_EQ(r.fault_pte_addr, bad);
    EXPECT_EQ(r.pa, 0u);
    EXPECT_EQ(r.page_size, 0u);
    EXPECT_EQ(r.leaf_level, 0u);
    EXPECT_FALSE(r.rw || r.us || r.nx || r.global || r.dirty);
    EXPECT_EQ(r.mem_reads, 5 - level);
    EXPECT_TRUE(r.pte_valid[level]);
    if (level > 1) {
      EXPECT_FALSE(r.pte_valid[level - 1]);
    }
    expect_no_writes(h);
    expect_clean_protocol(h);
  }
}

TEST(RtlWalker, NotPresentFetchWithNxeSetsInstructionBit) {
  Harness h;
  const WalkResult r = h.walk(Harness::request(kRoot, 0x1000, Access::fetch, false));
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_I);
  EXPECT_EQ(r.fault_level, 4u);
  EXPECT_EQ(r.pte_value[4], 0u);
}

// ---- Reserved bits -----------------------------------------------------------

struct RsvdCase {
  const char* what;
  unsigned level;       // where the bad entry sits
  unsigned leaf_level;  // the mapping built
  uint64_t set;         // bits set in that entry
  bool nxe;
  unsigned maxphyaddr;
};

TEST(RtlWalker, ReservedBitFaults) {
  const RsvdCase cases[] = {
      {"address bit above MAXPHYADDR in the PML4E", 4, 1, 1ull << 46, true, 46},
      {"address bit above MAXPHYADDR in the PTE", 1, 1, 1ull << 40, true, 39},
      {"bit 51 with MAXPHYADDR 36", 2, 1, 1ull << 51, true, 36},
      {"XD without NXE in the PDPTE", 3, 1, NX, false, 46},
      {"XD without NXE in the PTE", 1, 1, NX, false, 46},
      {"PS in a PML4E", 4, 1, PS, true, 46},
      {"misaligned 1 GiB frame (bit 13)", 3, 3, 1ull << 13, true, 46},
      {"misaligned 1 GiB frame (bit 29)", 3, 3, 1ull << 29, true, 46},
      {"misaligned 2 MiB frame (bit 13)", 2, 2, 1ull << 13, true, 46},
      {"misaligned 2 MiB frame (bit 20)", 2, 2, 1ull << 20, true, 46},
  };
  Harness h;
  const uint64_t va = 0x0000'0040'0060'1000ull;
  for (const RsvdCase& c : cases) {
    SCOPED_TRACE(c.what);
    h.mem.words.clear();
    h.mem.log.clear();
    h.next_table = 0x100000;
    h.map(kRoot, va, 0x4000'0000, P | RW | US | A, c.leaf_level);
    h.entry(kRoot, va, c.level) |= c.set;
    WalkRequest rq = Harness::request(kRoot, va, Access::fetch, true);
    rq.nxe = c.nxe;
    rq.maxphyaddr = c.maxphyaddr;
    const WalkResult r = h.walk(rq);
    ASSERT_EQ(r.status, WalkStatus::page_fault);
    EXPECT_EQ(r.error_code, kPf_P | kPf_RSVD | kPf_U | (c.nxe ? kPf_I : 0));
    EXPECT_EQ(r.fault_level, c.level);
    EXPECT_EQ(r.fault_pte_addr, h.entry_addr(kRoot, va, c.level));
    expect_no_writes(h);
  }
}

TEST(RtlWalker, PsInPml5IsReservedAndIgnoredBitsAreIgnored) {
  Harness h;
  const uint64_t va = 0x0001'0000'0000'0000ull;
  h.map(kRoot, va, 0x8000, P | A | (0x7ull << 9) | (0x7ffull << 52), 1, P | RW | US | A | (0x5ull << 9), 5);
  WalkRequest rq = Harness::request(kRoot, va);
  rq.levels = rq.start_level = 5;
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok) << "bits 9..11 and 52..62 are ignored";
  EXPECT_EQ(r.pa, 0x8000u);
  h.entry(kRoot, va, 5, 5) |= PS;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_RSVD);
  EXPECT_EQ(r.fault_level, 5u);
}

TEST(RtlWalker, AddressBitsBelowMaxphyaddrAreNotReserved) {
  Harness h;
  const uint64_t va = 0x2000;
  h.map(kRoot, va, 0xf'ffff'f000ull, P | A);  // bit 35: fine with MAXPHYADDR 36
  WalkRequest rq = Harness::request(kRoot, va);
  rq.maxphyaddr = 36;
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0xf'ffff'f000ull);
  rq.maxphyaddr = 52;
  h.entry(kRoot, va, 1) |= 1ull << 51;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0xf'ffff'f000ull | (1ull << 51));
}

// ---- Rights --------------------------------------------------------------------

TEST(RtlWalker, UserAccessToSupervisorPageAtEachLevel) {
  Harness h;
  const uint64_t va = 0x0000'7000'0000'3000ull;
  for (unsigned level = 4; level >= 1; --level) {
    SCOPED_TRACE(level);
    h.mem.words.clear();
    h.mem.log.clear();
    h.next_table = 0x100000;
    h.map(kRoot, va, 0x9000, P | RW | US);  // A = 0: no writes expected
    h.entry(kRoot, va, level) &= ~US;
    WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
    ASSERT_EQ(r.status, WalkStatus::page_fault);
    EXPECT_EQ(r.error_code, kPf_P | kPf_U);
    EXPECT_EQ(r.fault_level, 1u) << "rights faults are reported at the leaf";
    EXPECT_EQ(r.fault_pte_addr, h.entry_addr(kRoot, va, 1));
    EXPECT_EQ(r.mem_reads, 4u);
    expect_no_writes(h);
    // The supervisor may read it (A updates follow).
    r = h.walk(Harness::request(kRoot, va, Access::read, false));
    EXPECT_EQ(r.status, WalkStatus::ok);
    EXPECT_FALSE(r.us);
  }
}

TEST(RtlWalker, WriteToReadOnlyPage) {
  Harness h;
  const uint64_t va = 0x0000'0010'0000'0000ull;
  h.map(kRoot, va, 0x20'0000, P | US | A | D, 2);  // read-only 2 MiB page
  // User write: fault regardless of WP.
  for (bool wp : {true, false}) {
    WalkRequest rq = Harness::request(kRoot, va, Access::write, true);
    rq.wp = wp;
    const WalkResult r = h.walk(rq);
    ASSERT_EQ(r.status, WalkStatus::page_fault) << "wp=" << wp;
    EXPECT_EQ(r.error_code, kPf_P | kPf_W | kPf_U);
    EXPECT_EQ(r.fault_level, 2u);
  }
  // Supervisor write: fault with WP, allowed without.
  WalkRequest rq = Harness::request(kRoot, va, Access::write, false);
  rq.wp = true;
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_W);
  rq.wp = false;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_FALSE(r.rw);
  // Reads are fine either way.
  r = h.walk(Harness::request(kRoot, va, Access::read, true));
  EXPECT_EQ(r.status, WalkStatus::ok);
  expect_clean_protocol(h);
}

TEST(RtlWalker, ReadOnlyAtAnUpperLevel) {
  Harness h;
  const uint64_t va = 0x0000'0020'0040'5000ull;
  h.map(kRoot, va, 0xa000, P | RW | US | A | D);
  h.entry(kRoot, va, 4) &= ~RW;
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_W | kPf_U);
  EXPECT_EQ(r.fault_level, 1u);
}

TEST(RtlWalker, FetchFromNxPage) {
  Harness h;
  const uint64_t va = 0x0000'0030'0000'0000ull;
  h.map(kRoot, va, 0x4000'0000, P | RW | US | A | NX, 3);
  WalkRequest rq = Harness::request(kRoot, va, Access::fetch, true);
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_U | kPf_I);
  EXPECT_EQ(r.fault_level, 3u);
  // Reads of it are fine and report nx.
  r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_TRUE(r.nx);
  // Without NXE and XD clear: fetch allowed, nx reported 0 even if accumulated.
  h.entry(kRoot, va, 3) &= ~NX;
  rq.nxe = false;
  rq.start_level = 3;
  rq.start_table = h.entry_addr(kRoot, va, 3) & ~0xfffull;
  rq.acc_nx = true;  // as a paging-structure cache would carry it
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_FALSE(r.nx);
  // With NXE the carried XD denies the fetch.
  rq.nxe = true;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_U | kPf_I);
}

// ---- Accessed / Dirty ---------------------------------------------------------

TEST(RtlWalker, SetsAccessedAtEveryLevelTopDown) {
  Harness h;
  const uint64_t va = 0x0000'5555'4444'3000ull;
  h.map(kRoot, va, 0xb000, P | RW | US, 1, P | RW | US);  // A = 0 everywhere
  uint64_t before[5];
  for (unsigned l = 1; l <= 4; ++l) before[l] = h.entry(kRoot, va, l);
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.mem_reads, 8u);  // 4 reads + 4 locked reads
  EXPECT_EQ(r.mem_writes, 4u);
  EXPECT_FALSE(r.dirty);
  for (unsigned l = 1; l <= 4; ++l) {
    EXPECT_EQ(h.entry(kRoot, va, l), before[l] | A) << l;
    EXPECT_EQ(r.pte_value[l], before[l]) << "values as read, before the update";
  }
  // The locked read-modify-writes, in order PML4E .. PTE, each a locked read
  // and the releasing write of the same entry.
  ASSERT_EQ(h.mem.log.size(), 12u);
  for (unsigned i = 0; i < 4; ++i) {
    const unsigned level = 4 - i;
    const auto& rd = h.mem.log[4 + 2 * i];
    const auto& wr = h.mem.log[5 + 2 * i];
    EXPECT_TRUE(rd.lock && !rd.write);
    EXPECT_TRUE(wr.lock && wr.write);
    EXPECT_EQ(rd.addr, h.entry_addr(kRoot, va, level));
    EXPECT_EQ(wr.addr, rd.addr);
    EXPECT_EQ(wr.data, rd.data | A);
  }
  expect_clean_protocol(h);
  // A second walk finds A set: no more writes.
  const WalkResult again = h.walk(Harness::request(kRoot, va, Access::read, true));
  EXPECT_EQ(again.mem_writes, 0u);
  EXPECT_EQ(again.mem_reads, 4u);
}

TEST(RtlWalker, AccessedOnlyFromStartLevelDown) {
  Harness h;
  const uint64_t va = 0x0000'0001'0020'0000ull;
  h.map(kRoot, va, 0x40'0000, P | RW, 2, P | RW);  // 2 MiB leaf, A = 0 everywhere
  WalkRequest rq = Harness::request(kRoot, va);
  rq.start_level = 3;
  rq.start_table = h.entry_addr(kRoot, va, 3) & ~0xfffull;
  const WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.mem_writes, 2u);
  EXPECT_FALSE(h.entry(kRoot, va, 4) & A) << "the skipped PML4E is not touched";
  EXPECT_TRUE(h.entry(kRoot, va, 3) & A);
  EXPECT_TRUE(h.entry(kRoot, va, 2) & A);
  EXPECT_FALSE(r.pte_valid[4]);
}

TEST(RtlWalker, SetsDirtyOnWriteOnly) {
  Harness h;
  const uint64_t va = 0x0000'0002'0000'7000ull;
  h.map(kRoot, va, 0xc000, P | RW | US | A);  // A set, D clear
  WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_FALSE(r.dirty);
  EXPECT_EQ(r.mem_writes, 0u);
  r = h.walk(Harness::request(kRoot, va, Access::write, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_TRUE(r.dirty);
  EXPECT_EQ(r.mem_reads, 5u);
  EXPECT_EQ(r.mem_writes, 1u);
  EXPECT_EQ(h.entry(kRoot, va, 1), 0xc000 | P | RW | US | A | D);
  EXPECT_FALSE(r.pte_value[1] & D) << "reported as read, before the update";
  // Dirty is never set in a non-leaf entry.
  EXPECT_FALSE(h.entry(kRoot, va, 2) & D);
  // Now dirty: no more writes.
  r = h.walk(Harness::request(kRoot, va, Access::write, true));
  EXPECT_TRUE(r.dirty);
  EXPECT_EQ(r.mem_writes, 0u);
  expect_clean_protocol(h);
}

TEST(RtlWalker, SetsAccessedAndDirtyOnHugeLeaf) {
  Harness h;
  const uint64_t va = 0x0000'0080'4000'0000ull;
  h.map(kRoot, va, 0x80'4000'0000ull, P | RW | US, 3);
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, false));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_TRUE(r.dirty);
  EXPECT_EQ(r.mem_writes, 1u);
  EXPECT_EQ(h.entry(kRoot, va, 3), 0x80'4000'0000ull | P | RW | US | PS | A | D);
}

TEST(RtlWalker, NoWritesOnAnyFault) {
  Harness h;
  const uint64_t va = 0x0000'0003'0000'1000ull;
  h.map(kRoot, va, 0xd000, P | US, 1, P | RW | US);  // A clear everywhere, leaf read-only
  // Rights fault after all entries were found present: still nothing written.
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  expect_no_writes(h);
  for (unsigned l = 1; l <= 4; ++l) EXPECT_FALSE(h.entry(kRoot, va, l) & A) << l;
}

TEST(RtlWalker, ConcurrentAccessedDirtyChangeUnderTheLockIsKept) {
  Harness h;
  const uint64_t va = 0x0000'0004'0000'2000ull;
  h.map(kRoot, va, 0xe000, P | RW | US);  // leaf A = 0, D = 0
  const uint64_t leaf = h.entry_addr(kRoot, va, 1);
  // Someone sets D on the leaf just before the walker's locked read: only A/D
  // differ, so no restart, and the write keeps it.
  h.mem.on_locked_read = [leaf](TestMemory& m, uint64_t addr) {
    if (addr == leaf) m.word(addr) |= D;
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.restarts, 0u);
  EXPECT_EQ(h.mem.peek(leaf), 0xe000 | P | RW | US | A | D);
  EXPECT_TRUE(r.dirty) << "the leaf's D after the walk's update";
}

// ---- Restarts --------------------------------------------------------------------

TEST(RtlWalker, RestartsWhenAnEntryChangesUnderTheLock) {
  Harness h;
  const uint64_t va = 0x0000'0005'0000'3000ull;
  h.map(kRoot, va, 0xf000, P | RW | US, 1, P | RW | US | A);  // only the leaf needs A
  const uint64_t leaf = h.entry_addr(kRoot, va, 1);
  int changes = 1;
  // The first time the locked read reaches the leaf, the OS has remapped it.
  h.mem.on_locked_read = [&changes, leaf](TestMemory& m, uint64_t addr) {
    if (addr == leaf && changes-- > 0) m.word(addr) = 0x1'2000 | P | RW | US;
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.restarts, 1u);
  EXPECT_EQ(h.walker.stats.restarts.value(), 1u) << "the walker's statistic counts it";
  EXPECT_EQ(r.pa, 0x1'2000u) << "the restarted walk sees the new entry";
  // Pass 1: 4 reads, locked read, release; pass 2: 4 reads, locked read, A write.
  EXPECT_EQ(r.mem_reads, 10u);
  EXPECT_EQ(r.mem_writes, 2u);
  EXPECT_EQ(r.pte_value[1], 0x1'2000 | P | RW | US) << "entries of the final pass";
  EXPECT_EQ(h.mem.peek(leaf), 0x1'2000 | P | RW | US | A);
  // The release wrote back the changed value unchanged.
  const auto& release = h.mem.log[5];
  EXPECT_TRUE(release.write && release.lock);
  EXPECT_EQ(release.data, 0x1'2000 | P | RW | US);
  expect_clean_protocol(h);
}

TEST(RtlWalker, RestartClearsEntriesOfTheEarlierPass) {
  Harness h;
  const uint64_t va = 0x0000'0006'0000'4000ull;
  h.map(kRoot, va, 0x1'3000, P | RW, 1, P | RW);  // A clear everywhere
  const uint64_t pdpte = h.entry_addr(kRoot, va, 3);
  int changes = 1;
  // The PDPTE becomes a 1 GiB leaf while the walker locks it.
  h.mem.on_locked_read = [&changes, pdpte](TestMemory& m, uint64_t addr) {
    if (addr == pdpte && changes-- > 0) m.word(addr) = 0x4000'0000 | P | RW | PS;
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, false));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.restarts, 1u);
  EXPECT_EQ(r.leaf_level, 3u);
  EXPECT_FALSE(r.pte_valid[2]);
  EXPECT_FALSE(r.pte_valid[1]);
  EXPECT_EQ(r.pte_addr[2], 0u);
  EXPECT_EQ(r.pte_value[1], 0u);
  // Pass 1: 4 reads + locked PML4E + write + locked PDPTE + release.
  // Pass 2: 2 reads + locked PDPTE + write (PML4E now has A).
  EXPECT_EQ(r.mem_reads, 6u + 3u);
  EXPECT_EQ(r.mem_writes, 3u);
  EXPECT_EQ(h.mem.peek(pdpte), 0x4000'0000 | P | RW | PS | A | D);
}

TEST(RtlWalker, EighthRestartEndsTheWalkAsNotPresent) {
  Harness h;
  const uint64_t va = 0x0000'0007'0000'5000ull;
  h.map(kRoot, va, 0x1'4000, P | RW | US, 1, P | RW | US | A);
  const uint64_t pte = h.entry_addr(kRoot, va, 1);
  // A livelock: the entry changes every time the walker locks it.
  h.mem.on_locked_read = [pte](TestMemory& m, uint64_t addr) {
    if (addr == pte) m.word(addr) ^= 1ull << 9;  // an ignored bit: still a change
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.restarts, 8u);
  EXPECT_EQ(r.error_code, kPf_W | kPf_U) << "not present";
  EXPECT_EQ(r.fault_level, 1u);
  EXPECT_EQ(r.fault_pte_addr, pte);
  EXPECT_EQ(r.mem_reads, 8u * 5);
  EXPECT_EQ(r.mem_writes, 8u) << "every release, no A/D write";
  EXPECT_TRUE(r.pte_valid[1]);
  EXPECT_EQ(h.mem.peek(pte) & A, 0u);
  expect_clean_protocol(h);
}

TEST(RtlWalker, SeventhRestartStillTranslates) {
  Harness h;
  const uint64_t va = 0x0000'0008'0000'6000ull;
  h.map(kRoot, va, 0x1'5000, P | RW | US, 1, P | RW | US | A);
  const uint64_t pte = h.entry_addr(kRoot, va, 1);
  int changes = 7;
  h.mem.on_locked_read = [&changes, pte](TestMemory& m, uint64_t addr) {
    if (addr == pte && changes-- > 0) m.word(addr) ^= 1ull << 10;
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.restarts, 7u);
  EXPECT_EQ(r.mem_writes, 8u);
}

// ---- Machine checks ----------------------------------------------------------

TEST(RtlWalker, MachineCheckOnErrorAndPoisonAtEachLevel) {
  Harness h;
  const uint64_t va = 0x0000'0009'0000'7000ull;
  for (bool poison : {false, true}) {
    for (unsigned level = 4; level >= 1; --level) {
      SCOPED_TRACE(std::string(poison ? "poison" : "error") + " at level " + std::to_string(level));
      h.mem.words.clear();
      h.mem.log.clear();
      h.mem.error_words.clear();
      h.mem.poison_lines.clear();
      h.next_table = 0x100000;
      h.map(kRoot, va, 0x1'6000, P | RW | US, 1, P | RW | US);  // A clear: writes would follow
      const uint64_t addr = h.entry_addr(kRoot, va, level);
      if (poison) h.mem.poison(addr);
      else h.mem.error_words.insert(addr);
      const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
      ASSERT_EQ(r.status, WalkStatus::machine_check);
      EXPECT_EQ(r.mc_addr, addr);
      EXPECT_EQ(r.mc_poison, poison);
      EXPECT_EQ(r.error_code, 0u);
      EXPECT_EQ(r.fault_level, 0u);
      EXPECT_EQ(r.pa, 0u);
      EXPECT_EQ(r.mem_reads, 5 - level);
      EXPECT_TRUE(r.pte_valid[level]) << "recorded before the outcome is checked";
      EXPECT_EQ(r.pte_addr[level], addr);
      EXPECT_EQ(r.pte_value[level], 0u) << "the data of a failed read is not used";
      expect_no_writes(h);
    }
  }
}

TEST(RtlWalker, MachineCheckOnTheLockedRead) {
  Harness h;
  const uint64_t va = 0x0000'000a'0000'8000ull;
  h.map(kRoot, va, 0x1'7000, P | RW | US, 1, P | RW | US | A);
  const uint64_t pte = h.entry_addr(kRoot, va, 1);
  // The line is poisoned between the walk's read and its locked read.
  h.mem.on_locked_read = [pte](TestMemory& m, uint64_t addr) {
    if (addr == pte) m.poison(addr);
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, true));
  ASSERT_EQ(r.status, WalkStatus::machine_check);
  EXPECT_EQ(r.mc_addr, pte);
  EXPECT_TRUE(r.mc_poison);
  EXPECT_EQ(r.mem_reads, 5u);
  EXPECT_EQ(r.mem_writes, 0u) << "a failed locked read took no lock: nothing to release";
  EXPECT_EQ(h.mem.count(true, true), 0u);
  EXPECT_EQ(r.pte_value[1], 0x1'7000 | P | RW | US) << "the pass's entries, as read";
  expect_clean_protocol(h);
}

TEST(RtlWalker, MachineCheckOnLockedReadErrorAfterEarlierUpdates) {
  Harness h;
  const uint64_t va = 0x0000'000b'0000'9000ull;
  h.map(kRoot, va, 0x1'8000, P | RW | US, 1, P | RW | US);  // A clear everywhere
  const uint64_t pde = h.entry_addr(kRoot, va, 2);
  h.mem.on_locked_read = [pde](TestMemory& m, uint64_t addr) {
    if (addr == pde) m.error_words.insert(addr);
  };
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::read, false));
  ASSERT_EQ(r.status, WalkStatus::machine_check);
  EXPECT_EQ(r.mc_addr, pde);
  EXPECT_FALSE(r.mc_poison);
  EXPECT_EQ(r.mem_reads, 4u + 3u);
  EXPECT_EQ(r.mem_writes, 2u) << "PML4E and PDPTE were updated before";
  expect_clean_protocol(h);
}

// ---- Walks starting below the root (paging-structure-cache hits) ------------

TEST(RtlWalker, StartsBelowTheRootWithCarriedRights) {
  Harness h;
  const uint64_t va = 0x0000'000c'0020'a000ull;
  h.map(kRoot, va, 0x1'9000, P | RW | US | A | D);
  const uint64_t pt = h.entry_addr(kRoot, va, 1) & ~0xfffull;
  WalkRequest rq = Harness::request(kRoot, va, Access::read, true);
  rq.start_level = 1;
  rq.start_table = pt;
  WalkResult r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.mem_reads, 1u);
  EXPECT_EQ(r.pa, 0x1'9000u);
  EXPECT_TRUE(r.pte_valid[1]);
  EXPECT_FALSE(r.pte_valid[2]);
  // Rights carried from the skipped levels apply.
  rq.acc_us = false;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_U);
  rq.acc_us = true;
  rq.acc_rw = false;
  rq.access = Access::write;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.error_code, kPf_P | kPf_W | kPf_U);
  // A start table with stray low bits is a table address: bits 11..0 do not count.
  rq = Harness::request(kRoot, va, Access::read, true);
  rq.start_level = 2;
  rq.start_table = (h.entry_addr(kRoot, va, 2) & ~0xfffull) | 0x8;
  r = h.walk(rq);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pte_addr[2], h.entry_addr(kRoot, va, 2));
}

// ---- Transactor: timing, statistics, socket ----------------------------------

TEST(RtlWalker, TimingFollowsTheClockAndTheMemoryLatency) {
  hw::RtlWalker::Params p;
  p.clock_period = sc_time(2, SC_NS);  // 500 MHz
  Harness h(p);
  h.mem.latency = sc_time(50, SC_NS);
  const uint64_t va = 0x0000'000d'0000'b000ull;
  h.map(kRoot, va, 0x1'a000, P | RW | US | A | D);
  // First walk: reset cycles first.
  WalkResult r = h.walk(Harness::request(kRoot, va), sc_time(7, SC_NS));
  ASSERT_EQ(r.status, WalkStatus::ok);
  const uint64_t cycles_first = h.walker.stats.cycles;
  EXPECT_EQ(h.finished(), sc_time(7, SC_NS) + cycles_first * sc_time(2, SC_NS) + 4 * sc_time(50, SC_NS))
      << "the annotated delay is waited, then cycles and memory latency";
  // Second walk: accept, 4 x (request, response), result = 10 cycles.
  const sc_time before = sc_core::sc_time_stamp();
  r = h.walk(Harness::request(kRoot, va));
  const uint64_t cycles = h.walker.stats.cycles - cycles_first;
  EXPECT_EQ(cycles, 10u);
  EXPECT_EQ(h.finished() - before, cycles * sc_time(2, SC_NS) + 4 * sc_time(50, SC_NS));
  EXPECT_EQ(h.walker.stats.walks, 2u);
  EXPECT_EQ(h.walker.stats.mem_reads, 8u);
  EXPECT_EQ(h.walker.stats.mem_writes, 0u);
  EXPECT_EQ(h.walker.stats.translations, 2u);
  EXPECT_EQ(h.walker.stats.busy_time, h.finished() - sc_time(7, SC_NS));
}

TEST(RtlWalker, StatisticsCountOutcomes) {
  Harness h;
  const uint64_t va = 0x0000'000e'0000'c000ull;
  h.map(kRoot, va, 0x1'b000, P | RW | US);  // A clear at the leaf
  h.walk(Harness::request(kRoot, va));
  h.walk(Harness::request(kRoot, 0x0000'7fff'0000'0000ull));  // not present
  h.mem.poison(kRoot + 8 * x86::pt_index(0x0000'6000'0000'0000ull, 4));
  h.walk(Harness::request(kRoot, 0x0000'6000'0000'0000ull));
  const auto& s = h.walker.stats;
  EXPECT_EQ(s.walks, 3u);
  EXPECT_EQ(s.translations, 1u);
  EXPECT_EQ(s.page_faults, 1u);
  EXPECT_EQ(s.machine_checks, 1u);
  EXPECT_EQ(s.mem_reads, 5u + 1u + 1u);
  EXPECT_EQ(s.locked_reads, 1u);
  EXPECT_EQ(s.mem_writes, 1u);
  EXPECT_GT(s.cycles, 0u);
}

TEST(RtlWalker, ConcurrentCallersAreServedOneAfterTheOther) {
  // Two threads call walk() at the same time: one walks, the other waits
  // until that walk ends (the walker wakes it only when someone waits).
  struct Callers : sc_core::sc_module {
    SC_HAS_PROCESS(Callers);
    hw::RtlWalker& walker;
    WalkRequest rq;
    WalkResult res[2];
    sc_time done[2];
    Callers(sc_core::sc_module_name n, hw::RtlWalker& w, const WalkRequest& r) : sc_module(n), walker(w), rq(r) {
      SC_THREAD(first);
      SC_THREAD(second);
    }
    void call(int i) {
      sc_time d = SC_ZERO_TIME;
      walker.walk(rq, res[i], d);
      done[i] = sc_core::sc_time_stamp();
    }
    void first() { call(0); }
    void second() { call(1); }
  };
  Harness h;
  const uint64_t va = 0x0000'000f'0000'd000ull;
  h.map(kRoot, va, 0x1'c000, P | RW | US | A | D);
  Callers callers("callers", h.walker, Harness::request(kRoot, va));
  sc_core::sc_start();
  ASSERT_EQ(h.walker.stats.walks, 2u) << "the waiting caller was never woken";
  EXPECT_EQ(callers.res[0].pa, 0x1'c000u);
  EXPECT_EQ(callers.res[1].pa, 0x1'c000u);
  // The later walk starts when the earlier ends: 2 reset cycles, then two
  // walks of 10 cycles (4 reads, no memory latency).
  EXPECT_EQ(std::min(callers.done[0], callers.done[1]), sc_time(12, SC_NS));
  EXPECT_EQ(std::max(callers.done[0], callers.done[1]), sc_time(22, SC_NS));
}

TEST(RtlWalker, RequestWithoutWalkExtensionIsAnError) {
  struct Sender : sc_core::sc_module {
    SC_HAS_PROCESS(Sender);
    tlm_utils::simple_initiator_socket<Sender> out{"out"};
    tlm::tlm_response_status status = tlm::TLM_INCOMPLETE_RESPONSE;
    explicit Sender(sc_core::sc_module_name n) : sc_module(n) { SC_THREAD(run); }
    void run() {
      tlm::tlm_generic_payload t;
      sc_time d = SC_ZERO_TIME;
      out->b_transport(t, d);
      status = t.get_response_status();
    }
  };
  // A walker driven by a sender without the extension.
  hw::RtlWalker other("other");
  TestMemory mem("other_mem");
  Sender sender("sender");
  sender.out.bind(other.walk_socket);
  other.mem_socket.bind(mem.socket);
  sc_core::sc_start();
  EXPECT_EQ(sender.status, tlm::TLM_GENERIC_ERROR_RESPONSE);
  EXPECT_EQ(other.stats.walks, 0u);
}


TEST(RtlWalker, WritesAnFstWaveform) {
  Harness h;
  const uint64_t va = 0x0000'000f'0000'd000ull;
  h.map(kRoot, va, 0x1'c000, P | RW | US);
  // Named by the process: no other run of the suite writes or converts it.
  const std::string path = testing::TempDir() + "rtl_walker_wave-" + std::to_string(getpid()) + ".fst";
  std::filesystem::remove(path);
  sc_core::sc_start(SC_ZERO_TIME);  // end of elaboration
  h.walker.open_trace(path);
  const WalkResult r = h.walk(Harness::request(kRoot, va, Access::write, true));
  EXPECT_EQ(r.status, WalkStatus::ok);
  h.walker.close_trace();
  ASSERT_TRUE(std::filesystem::exists(path));
  // The waveform shows the walk: converted to VCD, value changes per signal.
  const std::string vcd = path.substr(0, path.size() - 4) + ".vcd";
  hw::fst_to_vcd(path, vcd);
  const std::map<std::string, int> changes = tb::vcd_changes(vcd);
  auto n = [&](const char* sig) { return changes.count(sig) ? changes.at(sig) : 0; };
  // A time step per clock edge: the clock toggles twice per cycle run.
  EXPECT_NEAR(n("walker.clk"), 2.0 * h.walker.stats.cycles.value(), 2) << "cycles " << h.walker.stats.cycles.value();
  EXPECT_GE(n("walker.state_q"), 4) << "the state machine moves";
  // Each page-table access raises the request and drops it.
  EXPECT_GE(n("walker.mem_req_valid"), static_cast<int>(2 * (r.mem_reads + r.mem_writes)));
  std::filesystem::remove(path);
  std::filesystem::remove(vcd);
}

// The first walk runs on the model without trace support, whose state
// cannot move to the traced one: a waveform attached after it is refused.
TEST(RtlWalker, RefusesAWaveformAfterTheFirstWalk) {
  Harness h;
  const uint64_t va = 0x0000'000f'0000'd000ull;
  h.map(kRoot, va, 0x1'c000, P | RW | US);
  sc_core::sc_start(SC_ZERO_TIME);
  EXPECT_EQ(h.walk(Harness::request(kRoot, va, Access::read, true)).status, WalkStatus::ok);
  const std::string path = testing::TempDir() + "rtl_walker_late_wave.fst";
  // The error is expected here: SystemC's own handler (throw), not the one
  // that fails the test on any error.
  const auto failing = sc_core::sc_report_handler::set_handler(sc_core::sc_report_handler::default_handler);
  EXPECT_THROW(h.walker.open_trace(path), sc_core::sc_report);
  sc_core::sc_report_handler::set_handler(failing);
}

}  // namespace
}  // namespace rtltest
