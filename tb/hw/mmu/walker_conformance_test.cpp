// Conformance of the TLM walker with docs/walker.md.
//
// HandWrittenTable: one row per situation, every expected value written out
// by hand (error codes, levels, addresses, counts).
// The sweeps then cover every combination of present, writable, user and
// execute-disable bits at every level, with WP, NXE, the three page sizes,
// all Accessed/Dirty states and each reserved-bit condition at each level,
// checking each walk against the independent reference walker
// (tb/common/reference_walker.h).
// Restart and livelock use a memory whose entries change under the walker.
#include <gtest/gtest.h>

#include <functional>
#include <map>

#include <tlm_utils/simple_target_socket.h>

#include "tb/hw/mmu/compare.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

constexpr uint64_t T5 = 0x104000, T4 = 0x100000, T3 = 0x101000, T2 = 0x102000, T1 = 0x103000;
constexpr unsigned I5 = 1, I4 = 255, I3 = 1, I2 = 3, I1 = 5;
constexpr uint64_t kVa = (uint64_t{I4} << 39) | (uint64_t{I3} << 30) | (uint64_t{I2} << 21) | (uint64_t{I1} << 12) | 0xabc;
constexpr uint64_t kVa5 = kVa | (uint64_t{I5} << 48);
constexpr uint64_t kFrame4k = 0x234567000, kFrame2m = 0x400200000, kFrame1g = 0x180000000;
constexpr uint64_t E5 = T5 + 8 * I5, E4 = T4 + 8 * I4, E3 = T3 + 8 * I3, E2 = T2 + 8 * I2, E1 = T1 + 8 * I1;
constexpr uint64_t U = P | RW | US | A;  // an accessed, fully permissive upper entry
constexpr uint64_t PAT_L = x86::PTE_PAT_LARGE, PCD = x86::PTE_PCD, PWT = x86::PTE_PWT;
constexpr uint64_t IGNORED = (0x7ull << 9) | (0x7ffull << 52);
constexpr auto R = x86::Access::read, W = x86::Access::write, F = x86::Access::fetch;

struct Case {
  std::string name;
  // Flags of the entry at each level (1..5); the address part is filled in.
  uint64_t f[6] = {0, P | RW | US | A | D, U, U, U, U};
  unsigned leaf = 1;
  uint64_t next[6] = {};  // a level's address part, when not the default
  x86::Access acc = R;
  bool user = true, wp = true, nxe = true;
  unsigned maxphy = 46, levels = 4, start = 0;  // start 0: full walk
  uint64_t start_table = 0;
  bool acc_rw = true, acc_us = true, acc_nx = false;
  unsigned poison_level = 0;
  // Expected.
  WalkStatus st = WalkStatus::ok;
  uint32_t ec = 0;
  unsigned level = 1;  // leaf level, or fault level
  uint64_t pa = kFrame4k | 0xabc;
  bool rw = true, us = true, nx = false, g = false, dirty = true;
  uint8_t mt = 0;
  unsigned reads = 4, writes = 0;
  uint64_t mc_addr = 0;
  bool mc_poison = false;
};

struct Row {
  const char* name;
  std::function<void(Case&)> set;
};

// Page-fault error code bits.
constexpr uint32_t eP = 1, eW = 2, eU = 4, eRSVD = 8, eI = 16;

const std::vector<Row>& rows() {
  static const std::vector<Row> r = {
      // ---- translations ----
      {"4K user read, all accessed", [](Case&) {}},
      {"4K user write through a clean leaf sets D", [](Case& c) {
         c.f[1] = P | RW | US | A;
         c.acc = W;
         c.reads = 5;
         c.writes = 1;
       }},
      {"4K read with nothing accessed sets A at every level", [](Case& c) {
         c.f[4] = c.f[3] = c.f[2] = P | RW | US;
         c.f[1] = P | RW | US;
         c.dirty = false;
         c.reads = 8;
         c.writes = 4;
       }},
      {"4K write with nothing accessed sets A everywhere and D", [](Case& c) {
         c.f[4] = c.f[3] = c.f[2] = P | RW | US;
         c.f[1] = P | RW | US;
         c.acc = W;
         c.reads = 8;
         c.writes = 4;
       }},
      {"4K read of an unaccessed leaf sets A, not D", [](Case& c) {
         c.f[1] = P | RW | US;
         c.dirty = false;
         c.reads = 5;
         c.writes = 1;
       }},
      {"2M user read", [](Case& c) {
         c.leaf = 2;
         c.f[2] = P | RW | US | A | D | PS;
         c.level = 2;
         c.pa = kFrame2m | 0x5abc;
         c.reads = 3;
       }},
      {"1G user read", [](Case& c) {
         c.leaf = 3;
         c.f[3] = P | RW | US | A | D | PS;
         c.level = 3;
         c.pa = kFrame1g | 0x605abc;
         c.reads = 2;
       }},
      {"2M write through a clean leaf sets D on the PDE", [](Case& c) {
         c.leaf = 2;
         c.f[2] = P | RW | US | A | PS;
         c.acc = W;
         c.level = 2;
         c.pa = kFrame2m | 0x5abc;
         c.reads = 4;
         c.writes = 1;
       }},
      {"1G leaf: PAT (bit 12) is not part of the frame", [](Case& c) {
         c.leaf = 3;
         c.f[3] = P | RW | US | A | D | PS | PAT_L;
         c.level = 3;
         c.pa = kFrame1g | 0x605abc;
         c.mt = 4;
         c.reads = 2;
       }},
      {"2M leaf: PAT, PCD, PWT give memtype 7", [](Case& c) {
         c.leaf = 2;
         c.f[2] = P | RW | US | A | D | PS | PAT_L | PCD | PWT;
         c.level = 2;
         c.pa = kFrame2m | 0x5abc;
         c.mt = 7;
         c.reads = 3;
       }},
      {"4K leaf: PAT is bit 7", [](Case& c) {
         c.f[1] = P | RW | US | A | D | PS | PWT;
         c.mt = 5;
       }},
      {"global leaf", [](Case& c) {
         c.f[1] |= G;
         c.g = true;
       }},
      {"G on a PML4E is ignored", [](Case& c) { c.f[4] |= G; }},
      {"ignored bits 9-11 and 52-62 everywhere", [](Case& c) {
         for (unsigned l = 1; l <= 4; ++l) c.f[l] |= IGNORED;
       }},
      {"supervisor write to a read-only page with WP=0", [](Case& c) {
         c.f[1] = P | US | A | D;
         c.acc = W;
         c.user = false;
         c.wp = false;
         c.rw = false;
       }},
      {"supervisor read of a user page", [](Case& c) { c.user = false; }},
      {"supervisor read of supervisor-only tables", [](Case& c) {
         for (unsigned l = 1; l <= 4; ++l) c.f[l] &= ~US;
         c.user = false;
         c.us = false;
       }},
      {"user fetch from an executable page", [](Case& c) { c.acc = F; }},
      {"read of an NX page", [](Case& c) {
         c.f[1] |= NX;
         c.nx = true;
       }},
      {"NX on the PML4E applies to the page", [](Case& c) {
         c.f[4] |= NX;
         c.nx = true;
       }},
      {"fetch with NXE=0 and no XD bit", [](Case& c) {
         c.acc = F;
         c.nxe = false;
       }},
      {"bit 45 is an address bit with MAXPHYADDR 46", [](Case& c) {
         c.f[1] |= 1ull << 45;
         c.pa = (1ull << 45) | kFrame4k | 0xabc;
       }},
      {"MAXPHYADDR 52: bit 51 is an address bit", [](Case& c) {
         c.maxphy = 52;
         c.f[1] |= 1ull << 51;
         c.pa = (1ull << 51) | kFrame4k | 0xabc;
       }},
      // ---- not present ----
      {"PML4E not present, user read", [](Case& c) {
         c.f[4] = RW | US | A;
         c.st = WalkStatus::page_fault;
         c.ec = eU;
         c.level = 4;
         c.reads = 1;
       }},
      {"PDPTE not present, user write", [](Case& c) {
         c.f[3] = RW | US;
         c.acc = W;
         c.st = WalkStatus::page_fault;
         c.ec = eW | eU;
         c.level = 3;
         c.reads = 2;
       }},
      {"PDE not present, supervisor fetch with NXE", [](Case& c) {
         c.f[2] = 0;
         c.acc = F;
         c.user = false;
         c.st = WalkStatus::page_fault;
         c.ec = eI;
         c.level = 2;
         c.reads = 3;
       }},
      {"PTE not present, user fetch without NXE: no I/D bit", [](Case& c) {
         c.f[1] = 0;
         c.acc = F;
         c.nxe = false;
         c.st = WalkStatus::page_fault;
         c.ec = eU;
         c.level = 1;
       }},
      {"not present wins over reserved bits", [](Case& c) {
         c.f[2] = RW | US | (1ull << 51) | PS | NX;
         c.nxe = false;
         c.st = WalkStatus::page_fault;
         c.ec = eU;
         c.level = 2;
         c.reads = 3;
       }},
      // ---- reserved bits ----
      {"PS on a PML4E is reserved", [](Case& c) {
         c.f[4] = U | PS;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 4;
         c.reads = 1;
       }},
      {"1G frame misaligned at bit 13", [](Case& c) {
         c.leaf = 3;
         c.f[3] = P | RW | US | A | PS | (1ull << 13);
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 3;
         c.reads = 2;
       }},
      {"1G frame misaligned at bit 29", [](Case& c) {
         c.leaf = 3;
         c.f[3] = P | RW | US | A | PS | (1ull << 29);
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 3;
         c.reads = 2;
       }},
      {"2M frame misaligned at bit 20", [](Case& c) {
         c.leaf = 2;
         c.f[2] = P | RW | US | A | PS | (1ull << 20);
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 2;
         c.reads = 3;
       }},
      {"bit 51 in a PTE with MAXPHYADDR 46", [](Case& c) {
         c.f[1] |= 1ull << 51;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
       }},
      {"bit 46 (= MAXPHYADDR) in a PDPTE", [](Case& c) {
         c.f[3] |= 1ull << 46;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 3;
         c.reads = 2;
       }},
      {"bit 36 in a PTE with MAXPHYADDR 36", [](Case& c) {
         c.maxphy = 36;
         c.f[1] |= 1ull << 36;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
       }},
      {"XD with NXE=0 is reserved (PDE)", [](Case& c) {
         c.f[2] |= NX;
         c.nxe = false;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 2;
         c.reads = 3;
       }},
      {"XD with NXE=0 on a fetch: reserved, no I/D bit", [](Case& c) {
         c.f[1] |= NX;
         c.acc = F;
         c.nxe = false;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
       }},
      {"a reserved bit wins over rights", [](Case& c) {
         c.f[1] = P | US | A | (1ull << 51);
         c.acc = W;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW | eU | eRSVD;
       }},
      // ---- rights (found at the leaf) ----
      {"user read below a supervisor PDPTE", [](Case& c) {
         c.f[3] = P | RW | A;
         c.f[1] = P | RW | US;  // unaccessed: a fault writes nothing
         c.st = WalkStatus::page_fault;
         c.ec = eP | eU;
       }},
      {"user write below a read-only PDE, WP=0", [](Case& c) {
         c.f[2] = P | US | A;
         c.acc = W;
         c.wp = false;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW | eU;
       }},
      {"supervisor write to a read-only PTE, WP=1", [](Case& c) {
         c.f[1] = P | US | A | D;
         c.acc = W;
         c.user = false;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW;
       }},
      {"user fetch from an NX page", [](Case& c) {
         c.f[1] |= NX;
         c.acc = F;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eU | eI;
       }},
      {"supervisor fetch below an NX PML4E", [](Case& c) {
         c.f[4] |= NX;
         c.acc = F;
         c.user = false;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eI;
       }},
      {"user fetch of a supervisor page", [](Case& c) {
         c.f[1] &= ~US;
         c.acc = F;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eU | eI;
       }},
      {"rights fault on a 2M leaf is at level 2", [](Case& c) {
         c.leaf = 2;
         c.f[2] = P | US | A | PS;
         c.acc = W;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW | eU;
         c.level = 2;
         c.reads = 3;
       }},
      {"rights fault on a 1G leaf is at level 3", [](Case& c) {
         c.leaf = 3;
         c.f[3] = P | RW | A | PS;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eU;
         c.level = 3;
         c.reads = 2;
       }},
      {"a rights fault sets no A bit", [](Case& c) {
         c.f[4] = c.f[3] = c.f[2] = P | RW | US;
         c.f[1] = P | US;
         c.acc = W;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW | eU;
       }},
      // ---- machine checks ----
      {"PDPT outside memory: error response", [](Case& c) {
         c.next[4] = 0x100000000;
         c.st = WalkStatus::machine_check;
         c.mc_addr = 0x100000000 + 8 * I3;
         c.reads = 2;
       }},
      {"poisoned PTE", [](Case& c) {
         c.poison_level = 1;
         c.st = WalkStatus::machine_check;
         c.mc_addr = E1;
         c.mc_poison = true;
       }},
      {"poisoned PML4E", [](Case& c) {
         c.poison_level = 4;
         c.st = WalkStatus::machine_check;
         c.mc_addr = E4;
         c.mc_poison = true;
         c.reads = 1;
       }},
      // ---- starting below the root (paging-structure-cache hits) ----
      {"start at L1 with R/W cleared above", [](Case& c) {
         c.start = 1;
         c.start_table = T1;
         c.acc_rw = false;
         c.acc = W;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eW | eU;
         c.reads = 1;
       }},
      {"start at L2 with XD set above, fetch", [](Case& c) {
         c.start = 2;
         c.start_table = T2;
         c.acc_nx = true;
         c.acc = F;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eU | eI;
         c.reads = 2;
       }},
      {"start at L2: A set only on the levels walked", [](Case& c) {
         c.start = 2;
         c.start_table = T2;
         c.f[4] = c.f[3] = c.f[2] = P | RW | US;
         c.f[1] = P | RW | US;
         c.dirty = false;
         c.reads = 4;
         c.writes = 2;
       }},
      {"start at L3 with U/S cleared above: us reported 0", [](Case& c) {
         c.start = 3;
         c.start_table = T3;
         c.acc_us = false;
         c.user = false;
         c.us = false;
         c.reads = 3;
       }},
      // ---- 5-level paging ----
      {"5-level walk", [](Case& c) {
         c.levels = 5;
         c.reads = 5;
       }},
      {"5-level: PS on the PML5E is reserved", [](Case& c) {
         c.levels = 5;
         c.f[5] = U | PS;
         c.st = WalkStatus::page_fault;
         c.ec = eP | eRSVD | eU;
         c.level = 5;
         c.reads = 1;
       }},
  };
  return r;
}

class WalkerConformance : public ::testing::Test {
 protected:
  Machine m{params(false, false)};

  void clear_tables() {
    for (uint64_t t : {T5, T4, T3, T2, T1}) std::memset(m.dram.host(t), 0, 4096);
  }
  WalkResult walk(const WalkRequest& rq) {
    WalkResult r;
    sc_time d = SC_ZERO_TIME;
    m.walker().walk(rq, r, d);
    return r;
  }
};

TEST_F(WalkerConformance, HandWrittenTable) {
  for (const Row& row : rows()) {
    Case c;
    row.set(c);
    SCOPED_TRACE(row.name);
    clear_tables();
    // Entries: address part (next table, or the frame at the leaf) | flags.
    auto addr = [&](unsigned l) -> uint64_t {
      if (c.next[l]) return c.next[l];
      if (l == 5) return T4;
      if (l == 4) return T3;
      if (l == 3) return c.leaf == 3 ? kFrame1g : T2;
      if (l == 2) return c.leaf == 2 ? kFrame2m : T1;
      return kFrame4k;
    };
    const uint64_t entry_at[6] = {0, E1, E2, E3, E4, E5};
    for (unsigned l = c.leaf; l <= c.levels; ++l) m.word(entry_at[l]) = addr(l) | c.f[l];
    if (c.poison_level) m.dram.inject_poison(entry_at[c.poison_level]);
    std::map<uint64_t, uint64_t> before;
    for (unsigned l = 1; l <= 5; ++l) before[entry_at[l]] = m.word(entry_at[l]);

    WalkRequest rq;
    rq.va = c.levels == 5 ? kVa5 : kVa;
    rq.access = c.acc;
    rq.user = c.user;
    rq.wp = c.wp;
    rq.nxe = c.nxe;
    rq.levels = c.levels;
    rq.maxphyaddr = c.maxphy;
    rq.cr3 = (c.levels == 5 ? T5 : T4) | 0x18;  // PWT/PCD in CR3 do not matter
    rq.start_level = c.start ? c.start : c.levels;
    rq.start_table = c.start ? c.start_table : (rq.cr3 & ~0xfffull);
    rq.acc_rw = c.acc_rw;
    rq.acc_us = c.acc_us;
    rq.acc_nx = c.acc_nx;
    // The walker counts each walk under its outcome: one of these moves by one.
    auto& ws = m.walker().stats;
    sim::stats::Scalar* const counters[] = {&ws.completed, &ws.faults_not_present, &ws.faults_protection,
                                            &ws.faults_reserved, &ws.machine_checks};
    uint64_t counted[5];
    for (int i = 0; i < 5; ++i) counted[i] = counters[i]->value();
    const WalkResult r = walk(rq);
    if (c.poison_level) m.dram.clear_poison(entry_at[c.poison_level]);
    const int outcome = c.st == WalkStatus::ok            ? 0
                        : c.st == WalkStatus::machine_check ? 4
                        : (c.ec & eRSVD)                    ? 3
                        : (c.ec & eP)                       ? 2
                                                            : 1;
    for (int i = 0; i < 5; ++i)
      EXPECT_EQ(counters[i]->value() - counted[i], i == outcome ? 1u : 0u) << counters[i]->name();

    EXPECT_EQ(static_cast<int>(r.status), static_cast<int>(c.st));
    EXPECT_EQ(r.mem_reads, c.reads);
    EXPECT_EQ(r.mem_writes, c.writes);
    EXPECT_EQ(r.restarts, 0u);
    if (c.st == WalkStatus::ok) {
      EXPECT_EQ(r.leaf_level, c.level);
      EXPECT_EQ(r.page_size, x86::level_size(c.level));
      EXPECT_EQ(r.pa, c.pa);
      EXPECT_EQ(r.rw, c.rw);
      EXPECT_EQ(r.us, c.us);
      EXPECT_EQ(r.nx, c.nx);
      EXPECT_EQ(r.global, c.g);
      EXPECT_EQ(r.dirty, c.dirty);
      EXPECT_EQ(r.memtype, c.mt);
      EXPECT_EQ(r.error_code, 0u);
      // Every level walked is now accessed; the leaf dirty iff the result says so.
      for (unsigned l = rq.start_level; l >= c.level; --l) {
        EXPECT_TRUE(m.word(entry_at[l]) & A) << "level " << l;
        EXPECT_EQ(m.word(entry_at[l]) & ~(A | D), before[entry_at[l]] & ~(A | D)) << "level " << l;
      }
      EXPECT_EQ(bool(m.word(entry_at[c.level]) & D), c.dirty);
      // Levels above the start are not touched.
      for (unsigned l = rq.start_level + 1; l <= c.levels; ++l) EXPECT_EQ(m.word(entry_at[l]), before[entry_at[l]]);
    } else {
      EXPECT_EQ(r.pa, 0u);
      EXPECT_EQ(r.page_size, 0u);
      EXPECT_FALSE(r.rw || r.us || r.nx || r.global || r.dirty);
      for (const auto& [a, v] : before) EXPECT_EQ(m.word(a), v) << "a failed walk wrote " << std::hex << a;
    }
    if (c.st == WalkStatus::page_fault) {
      EXPECT_EQ(r.error_code, c.ec);
      EXPECT_EQ(r.fault_level, c.level);
      EXPECT_EQ(r.fault_pte_addr, entry_at[c.level]);
    }
    if (c.st == WalkStatus::machine_check) {
      EXPECT_EQ(r.mc_addr, c.mc_addr);
      EXPECT_EQ(r.mc_poison, c.mc_poison);
    }
  }
}

// ---- Sweeps against the reference --------------------------------------------------

class WalkerSweep : public WalkerConformance {
 protected:
  unsigned walks = 0, failures = 0;
  std::map<std::string, unsigned> outcomes;

  // Writes entries (flags per level, address parts as in the table above),
  // walks, and compares with the reference.
  void run(unsigned leaf, const uint64_t f[5], const WalkRequest& rq) {
    clear_tables();
    const uint64_t entry_at[5] = {0, E1, E2, E3, E4};
    const uint64_t addr[5] = {0, kFrame4k, leaf == 2 ? kFrame2m : T1, leaf == 3 ? kFrame1g : T2, T3};
    for (unsigned l = leaf; l <= 4; ++l) m.word(entry_at[l]) = addr[l] | f[l];
    const Expected want = reference_walk(m, rq);
    const WalkResult got = walk(rq);
    ++walks;
    ++outcomes[got.status == WalkStatus::ok ? fmt::format("ok L{}", got.leaf_level)
                                            : fmt::format("status {} ec {:#x}", static_cast<int>(got.status),
                                                          got.error_code)];
    const std::string d = compare(got, want) + compare_memory(m, want);
    if (!d.empty() && ++failures <= 10) ADD_FAILURE() << describe(rq) << " entries " << std::hex << f[4] << " " << f[3]
                                                    << " " << f[2] << " " << f[1] << ":" << d;
  }
  WalkRequest request(x86::Access acc, bool user, bool wp, bool nxe) {
    WalkRequest rq;
    rq.va = kVa;
    rq.access = acc;
    rq.user = user;
    rq.wp = wp;
    rq.nxe = nxe;
    rq.cr3 = T4;
    rq.start_level = 4;
    rq.start_table = T4;
    return rq;
  }
  void TearDown() override {
    EXPECT_EQ(failures, 0u) << "of " << walks << " walks";
    std::string summary;
    for (const auto& [k, n] : outcomes) summary += fmt::format("  {}: {}\n", k, n);
    RecordProperty("walks", static_cast<int>(walks));
    std::printf("%u walks:\n%s", walks, summary.c_str());
  }
};

// Every combination of P, R/W, U/S and XD at each level used, for the three
// page sizes, with WP, NXE, access type and privilege.
TEST_F(WalkerSweep, PresentWritableUserNxAtEachLevel) {
  for (unsigned leaf = 1; leaf <= 3; ++leaf) {
    const unsigned used = 5 - leaf;  // levels 4..leaf
    for (uint32_t bits = 0; bits < (1u << (4 * used)); ++bits) {
      uint64_t f[5] = {};
      for (unsigned i = 0; i < used; ++i) {
        const unsigned l = 4 - i, b = (bits >> (4 * i)) & 15;
        f[l] = ((b & 1) ? P : 0) | ((b & 2) ? RW : 0) | ((b & 4) ? US : 0) | ((b & 8) ? NX : 0) | A;
        if (l == leaf) f[l] |= D | (leaf > 1 ? PS : 0);
      }
      // A not-present level hides everything below it: one pattern per prefix.
      bool redundant = false;
      for (unsigned l = 4; l > leaf; --l)
        if (!(f[l] & P) && (f[l - 1] & (P | RW | US | NX))) redundant = true;
      if (redundant) continue;
      for (x86::Access acc : {R, W, F})
        for (bool user : {false, true})
          for (bool wp : {false, true})
            for (bool nxe : {false, true}) run(leaf, f, request(acc, user, wp, nxe));
    }
  }
  EXPECT_GT(walks, 100000u);
}

// Every Accessed/Dirty state of the levels used, for each page size and
// access type: which entries get a locked update, and the counts.
TEST_F(WalkerSweep, AccessedDirtyStates) {
  for (unsigned leaf = 1; leaf <= 3; ++leaf) {
    const unsigned used = 5 - leaf;
    for (uint32_t bits = 0; bits < (1u << (used + 1)); ++bits) {
      uint64_t f[5] = {};
      for (unsigned i = 0; i < used; ++i) {
        const unsigned l = 4 - i;
        f[l] = P | RW | US | (((bits >> i) & 1) ? A : 0);
        if (l == leaf) f[l] |= (((bits >> used) & 1) ? D : 0) | (leaf > 1 ? PS : 0);
      }
      for (x86::Access acc : {R, W, F})
        for (bool user : {false, true}) run(leaf, f, request(acc, user, true, true));
    }
  }
}

// Each reserved-bit condition at each level: bits [51:MAXPHYADDR] for several
// widths, XD without NXE, PS at the PML4E, misaligned 1G and 2M frames.
TEST_F(WalkerSweep, ReservedBitsAtEachLevel) {
  for (unsigned leaf = 1; leaf <= 3; ++leaf) {
    for (unsigned at = leaf; at <= 4; ++at) {
      std::vector<std::pair<uint64_t, unsigned>> extra;  // (bits, maxphyaddr)
      for (unsigned maxphy : {36u, 39u, 46u, 52u})
        for (unsigned b = 33; b <= 51; ++b) extra.push_back({1ull << b, maxphy});
      extra.push_back({NX, 46});
      extra.push_back({PS, 46});
      for (unsigned b = 12; b <= 30; ++b) extra.push_back({1ull << b, 46});  // frame alignment
      for (const auto& [bits, maxphy] : extra) {
        uint64_t f[5] = {};
        for (unsigned l = leaf; l <= 4; ++l) f[l] = P | RW | US | A | ((l == leaf) ? D | (leaf > 1 ? PS : 0) : 0);
        f[at] |= bits;
        for (bool nxe : {false, true})
          for (x86::Access acc : {R, W, F}) {
            WalkRequest rq = request(acc, true, true, nxe);
            rq.maxphyaddr = maxphy;
            run(leaf, f, rq);
          }
      }
    }
  }
}

// ---- Restart and livelock: entries that change under the walker ----------------

// A memory without DMI that calls a hook before each access.
struct HookMemory : sc_core::sc_module {
  tlm_utils::simple_target_socket<HookMemory> socket{"socket"};
  std::vector<uint8_t> mem = std::vector<uint8_t>(1 << 20);
  std::function<void(uint64_t addr, bool write, bool locked)> hook;
  std::function<int(uint64_t addr, bool locked)> fail;  // 0 ok, 1 error, 2 poison
  explicit HookMemory(sc_core::sc_module_name n) : sc_module(n) {
    socket.register_b_transport(this, &HookMemory::b_transport);
  }
  uint64_t& word(uint64_t a) { return *reinterpret_cast<uint64_t*>(&mem[a]); }
  void b_transport(tlm::tlm_generic_payload& t, sc_time& delay) {
    LockExtension* lock = nullptr;
    t.get_extension(lock);
    const bool write = t.is_write();
    const bool locked = lock != nullptr;
    if (hook) hook(t.get_address(), write, locked);
    if (fail && !write) {
      if (const int f = fail(t.get_address(), locked)) {
        PoisonExtension* p = nullptr;
        t.get_extension(p);
        if (f == 2 && p) {
          p->poisoned = true;
          p->pa = t.get_address();
        }
        t.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
      }
    }
    if (write) std::memcpy(&mem[t.get_address()], t.get_data_ptr(), t.get_data_length());
    else std::memcpy(t.get_data_ptr(), &mem[t.get_address()], t.get_data_length());
    delay += sc_time(10, SC_NS);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

struct HookFixture {
  sim::stats::Group root{nullptr, "system"};
  PageWalker walker{"walker", &root, 7};
  HookMemory memory{"memory"};
  Initiator mmu{"mmu"};  // the walk socket must be bound; walks are called directly
  HookFixture() {
    walker.mem_socket.bind(memory.socket);
    mmu.socket.bind(walker.walk_socket);
    sc_core::sc_start(SC_ZERO_TIME);
    // 4-level tables in the hook memory: everything accessed except the leaf.
    memory.word(E4) = T3 | U;
    memory.word(E3) = T2 | U;
    memory.word(E2) = T1 | U;
    memory.word(E1) = kFrame4k | P | RW | US;
  }
  WalkResult walk(x86::Access acc = R) {
    WalkRequest rq;
    rq.va = kVa;
    rq.access = acc;
    rq.user = true;
    rq.cr3 = T4;
    rq.start_table = T4;
    WalkResult r;
    sc_time d = SC_ZERO_TIME;
    walker.walk(rq, r, d);
    return r;
  }
};

TEST(WalkerRestart, EntryChangedUnderTheLockRestartsTheWalk) {
  HookFixture f;
  int changes = 1;
  f.memory.hook = [&](uint64_t addr, bool write, bool locked) {
    // Another agent changes an ignored bit of the PTE just before the locked read.
    if (addr == E1 && locked && !write && changes-- > 0) f.memory.word(E1) ^= 1ull << 9;
  };
  const WalkResult r = f.walk();
  EXPECT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.restarts, 1u);
  EXPECT_EQ(r.mem_reads, 4u + 1u + 4u + 1u);  // pass, locked read, pass, locked read
  EXPECT_EQ(r.mem_writes, 2u);                // release unchanged, then the A update
  EXPECT_EQ(r.pte_value[1], kFrame4k | P | RW | US | (1ull << 9));  // the final pass's value
  EXPECT_EQ(f.memory.word(E1), kFrame4k | P | RW | US | A | (1ull << 9));
  EXPECT_EQ(f.walker.stats.restarts.value(), 1u);
  EXPECT_EQ(f.walker.stats.ad_writes.value(), 1u);
}

TEST(WalkerRestart, EightRestartsEndTheWalkAsNotPresent) {
  HookFixture f;
  f.memory.hook = [&](uint64_t addr, bool write, bool locked) {
    if (addr == E1 && locked && !write) f.memory.word(E1) ^= 1ull << 10;
  };
  const WalkResult r = f.walk(W);
  EXPECT_EQ(r.status, WalkStatus::page_fault);
  EXPECT_EQ(r.restarts, 8u);
  EXPECT_EQ(r.error_code, uint32_t{eW | eU});  // not present: no P bit
  EXPECT_EQ(r.fault_level, 1u);
  EXPECT_EQ(r.fault_pte_addr, E1);
  EXPECT_EQ(r.mem_reads, 8u * 5u);
  EXPECT_EQ(r.mem_writes, 8u);  // each restart released the lock; nothing else written
  EXPECT_FALSE(f.memory.word(E1) & A);
}

TEST(WalkerRestart, ErrorOnTheLockedReadIsAMachineCheckWithoutAWrite) {
  HookFixture f;
  f.memory.fail = [](uint64_t addr, bool locked) { return addr == E1 && locked ? 2 : 0; };
  const WalkResult r = f.walk();
  EXPECT_EQ(r.status, WalkStatus::machine_check);
  EXPECT_EQ(r.mc_addr, E1);
  EXPECT_TRUE(r.mc_poison);
  EXPECT_EQ(r.mem_reads, 5u);
  EXPECT_EQ(r.mem_writes, 0u);
  EXPECT_FALSE(f.memory.word(E1) & A);
}

TEST(WalkerRestart, LockedReadAndWriteCarryTheLockExtension) {
  HookFixture f;
  std::vector<std::string> log;
  f.memory.hook = [&](uint64_t addr, bool write, bool locked) {
    log.push_back(fmt::format("{}{}@{:#x}", locked ? "locked-" : "", write ? "write" : "read", addr));
  };
  f.walk();
  const std::vector<std::string> want = {fmt::format("read@{:#x}", E4), fmt::format("read@{:#x}", E3),
                                         fmt::format("read@{:#x}", E2), fmt::format("read@{:#x}", E1),
                                         fmt::format("locked-read@{:#x}", E1),
                                         fmt::format("locked-write@{:#x}", E1)};
  EXPECT_EQ(log, want);
}

}  // namespace
}  // namespace hw::test
