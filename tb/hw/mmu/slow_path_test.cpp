// The two ways into the MMU's slow path (hw/mmu/mmu.h) are the same access:
// a core's try_access() that goes on to the slow path in the same call (the
// L1 miss it found is not probed again) and try_access() followed by the TLM
// socket's b_transport(). Two CPUs, each with its own page tables mapping the
// same addresses to its own frames, run the same access sequence, one each
// way: every outcome, datum and time, and every statistic, must agree.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "hw/base/stats.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

constexpr unsigned kPages = 24;
constexpr uint64_t kBase = 0x0000000040000000ull;

// Page i's flags: mostly read-write and clean (a write walks to set D);
// some dirty, some read-only, one supervisor-only, one not present.
uint64_t flags(unsigned i) {
  if (i == 5) return 0;                  // not present
  if (i == 7) return P | RW | x86::PTE_A;  // supervisor-only: user accesses fault
  if (i % 6 == 1) return P | US | x86::PTE_A;  // read-only
  return P | RW | US | x86::PTE_A | (i % 3 == 0 ? D : 0);
}

struct Step {
  uint64_t va;
  x86::Access acc;
  sc_time gap;  // core time before the access: short ones leave walks in flight
};

// A fixed pseudo-random sequence: reads, writes and fetches over the pages
// (and one non-canonical address), some back to back, some 1 us apart.
std::vector<Step> sequence() {
  std::vector<Step> seq;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (unsigned n = 0; n < 600; ++n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const unsigned page = static_cast<unsigned>(x % kPages);
    const x86::Access acc = (x >> 8) % 5 == 0 ? x86::Access::write
                            : (x >> 8) % 5 == 1 ? x86::Access::fetch
                                                : x86::Access::read;
    const uint64_t va = n == 300 ? 0x0000800000000000ull : kBase + (uint64_t(page) << 12) + ((x >> 16) & 0xff8);
    seq.push_back({va, acc, (x >> 24) % 4 == 0 ? sc_time(1, sc_core::SC_US) : sc_time(1, SC_NS)});
  }
  return seq;
}

// The text dump of one CPU's statistics, under a name common to both.
std::string stats_of(const Machine& m, unsigned c) {
  std::ostringstream os;
  sim::stats::write_text_block(*m.cpus[c].stats, os, 0.0);
  std::string s = os.str();
  const std::string name = "cpu" + std::to_string(c) + ".";
  for (size_t at = s.find(name); at != std::string::npos; at = s.find(name, at)) s.replace(at, name.size(), "cpuX.");
  return s;
}

TEST(SlowPath, TheCoresDirectCallAndTheTlmSocketGiveTheSameAccesses) {
  Mmu::Params p;
  TlbArray::Geometry small;  // a small DTLB: evictions, STLB hits
  small.sets = 2;
  small.ways = 2;
  small.sizes = {0, 1, 2};
  p.dtlb = {small};
  p.window.lookahead = 4;
  Machine m(p, 2);
  m.cpus[1].direct = true;
  for (unsigned c = 0; c < 2; ++c) {
    const uint64_t root = m.alloc_table();
    for (unsigned i = 0; i < kPages; ++i)
      if (flags(i)) m.map(root, kBase + (uint64_t(i) << 12), 0x2000000 + 0x100000 * c + 0x1000 * i, flags(i));
    m.mmu(c).write_cr3(root);
  }
  const std::vector<Step> seq = sequence();
  std::vector<Machine::Result> out[2];
  std::vector<sc_time> times[2];
  for (unsigned c = 0; c < 2; ++c) {
    uint64_t n = 0;
    for (const Step& s : seq) {
      m.step = s.gap;
      out[c].push_back(m.access(c, s.va, s.acc, ++n));
      times[c].push_back(m.cpus[c].now);
    }
  }
  unsigned slow = 0, faults = 0, fast = 0;
  for (size_t i = 0; i < seq.size(); ++i) {
    SCOPED_TRACE(i);
    const Machine::Result &a = out[0][i], &b = out[1][i];
    EXPECT_EQ(a.fast, b.fast);
    EXPECT_EQ(a.outcome, b.outcome);
    EXPECT_EQ(a.data, b.data);
    EXPECT_EQ(times[0][i], times[1][i]);
    if (!a.fast) {
      EXPECT_EQ(a.ext.fault_addr, b.ext.fault_addr);
      EXPECT_EQ(a.ext.error_code, b.ext.error_code);
      EXPECT_EQ(a.ext.reason, b.ext.reason);
      EXPECT_EQ(a.ext.fault_level, b.ext.fault_level);
    }
    (a.fast ? fast : slow) += 1;
    faults += a.outcome != AccessOutcome::ok;
  }
  // The sequence exercises what it is meant to.
  EXPECT_GT(fast, 50u);
  EXPECT_GT(slow, 50u);
  EXPECT_GT(faults, 20u);
  EXPECT_GT(m.mmu(0).stats.dirty_updates.value(), 0u);
  EXPECT_GT(m.mmu(0).window().stats.merges.value(), 0u);
  const std::string stats = stats_of(m, 0);
  EXPECT_NE(stats.find("cpuX.mmu.dtlb.misses"), std::string::npos) << stats;
  EXPECT_EQ(stats, stats_of(m, 1));
}

}  // namespace
}  // namespace hw::test
