// Scenario-level checks: MMU geometry read from scenario text through
// read_mmu_params (the path the platform uses), driving the real MMU.
//
// FullyAssociativeLru: a single fully associative LRU data TLB of N entries
// (no STLB, no paging-structure caches) replays a known access sequence and
// must miss exactly as often as an independent LRU model of N entries.
// Several cores: each MMU translates with its own CR3/PCID, and TLB
// maintenance issued on one core reaches only that core. The platform test
// builds `cores: 2` through hw::Platform itself.
#include <gtest/gtest.h>

#include <list>
#include <random>
#include <unordered_map>

#include "hw/mmu/mmu_config.h"
#include "hw/platform/platform.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

Mmu::Params from_scenario(const std::string& yaml, uint64_t seed = 1) {
  sim::Config cfg = sim::Config::load_string(yaml, "scenario.yaml");
  Mmu::Params p = read_mmu_params(cfg.root().child("platform").child("mmu"), 46, 4, seed);
  cfg.check_unused();
  return p;
}

// The access sequence: a hot set, a cold sweep and random pages, from a
// fixed-seed generator (the same sequence on every run).
std::vector<uint64_t> sequence(unsigned n, unsigned length) {
  std::mt19937_64 rng(1234);
  std::vector<uint64_t> pages;
  for (unsigned i = 0; i < length; ++i) {
    const unsigned r = static_cast<unsigned>(rng() % 100);
    if (r < 60) pages.push_back(rng() % (n / 2 + 1));            // hot
    else if (r < 80) pages.push_back(i % (3 * n));                // sweep
    else pages.push_back(rng() % (4 * n));                        // anywhere
  }
  return pages;
}

uint64_t lru_misses(const std::vector<uint64_t>& pages, unsigned capacity) {
  std::list<uint64_t> order;  // most recent first
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> where;
  uint64_t misses = 0;
  for (uint64_t p : pages) {
    auto it = where.find(p);
    if (it != where.end()) {
      order.erase(it->second);
    } else {
      ++misses;
      if (order.size() == capacity) {
        where.erase(order.back());
        order.pop_back();
      }
    }
    order.push_front(p);
    where[p] = order.begin();
  }
  return misses;
}

class FullyAssociativeLru : public ::testing::TestWithParam<unsigned> {};

TEST_P(FullyAssociativeLru, MissesExactlyAsAnLruOfNEntries) {
  const unsigned n = GetParam();
  const Mmu::Params p = from_scenario(fmt::format(
      "platform:\n  mmu:\n    dtlb: {{sets: 1, ways: {}, replacement: lru}}\n    stlb: {{enabled: false}}\n"
      "    pwc: {{enabled: false}}\n",
      n));
  ASSERT_EQ(p.dtlb.size(), 1u);
  ASSERT_EQ(p.dtlb[0].sets * p.dtlb[0].ways, n);
  Machine m(p);
  const uint64_t root = m.alloc_table();
  m.mmu().write_cr3(root);
  const uint64_t base = 0x0000400000000000;
  for (unsigned i = 0; i < 4 * n; ++i) m.map(root, base + 0x1000ull * i, 0x2000000 + 0x1000ull * i, P | RW | US);
  const std::vector<uint64_t> pages = sequence(n, 30000);
  for (uint64_t pg : pages)
    ASSERT_EQ(m.access(0, base + 0x1000 * pg + 8 * (pg % 512), x86::Access::read).outcome, AccessOutcome::ok);
  const uint64_t want = lru_misses(pages, n);
  EXPECT_EQ(m.mmu().dtlb().stats.misses.value(), want);
  EXPECT_EQ(m.mmu().dtlb().hits(), pages.size() - want);
  EXPECT_EQ(m.walker().stats.walks.value(), want) << "each miss walks once";
  EXPECT_EQ(m.mmu().dtlb().size_stats(0).misses.value(), want);
  EXPECT_GT(want, pages.size() / 10) << "the sequence must not fit the TLB";
}

INSTANTIATE_TEST_SUITE_P(Sizes, FullyAssociativeLru, ::testing::Values(8u, 64u, 1536u));

TEST(Scenario, ASmallerLruMissesMore) {
  // The same sequence through a set-associative TLB of the same capacity
  // differs from the fully associative LRU (conflict misses): the model
  // honours associativity.
  const Mmu::Params p = from_scenario(
      "platform:\n  mmu:\n    dtlb: {sets: 16, ways: 4, page_sizes: [4KiB]}\n    stlb: {enabled: false}\n");
  Machine m(p);
  const uint64_t root = m.alloc_table();
  m.mmu().write_cr3(root);
  const uint64_t base = 0x0000400000000000;
  for (unsigned i = 0; i < 256; ++i) m.map(root, base + 0x1000ull * i, 0x2000000 + 0x1000ull * i, P | RW | US);
  const std::vector<uint64_t> pages = sequence(64, 20000);
  for (uint64_t pg : pages) m.access(0, base + 0x1000 * pg, x86::Access::read);
  EXPECT_NE(m.mmu().dtlb().stats.misses.value(), lru_misses(pages, 64));
}

// pwc.pml5e: the PML5E cache's geometry, used with 5 levels; with 4 it is
// checked and ignored (one geometry serves a sweep over both modes).
TEST(Scenario, Pml5eKeyIsReadWithEitherPagingMode) {
  const std::string yaml = "platform:\n  mmu:\n    pwc: {pml5e: {sets: 2, ways: 8}}\n";
  for (unsigned levels : {4u, 5u}) {
    sim::Config cfg = sim::Config::load_string(yaml, "scenario.yaml");
    const Mmu::Params p = read_mmu_params(cfg.root().child("platform").child("mmu"), 46, levels);
    EXPECT_NO_THROW(cfg.check_unused()) << levels << " levels";
    EXPECT_EQ(p.pwc.level[5].sets, 2u);
    EXPECT_EQ(p.pwc.level[5].ways, 8u);
    sim::stats::Group g(nullptr, "g");
    sim::stats::Scalar walks(&g, "walks", "", "Count");
    Pwc pwc(&g, "pwc", levels, p.pwc, 1, walks);
    if (levels == 5) {
      ASSERT_NE(pwc.level(5), nullptr);
      EXPECT_EQ(pwc.level(5)->capacity(), 16u);
    } else {
      EXPECT_EQ(pwc.level(5), nullptr);
    }
  }
  // The default with 5 levels: a 4-entry PML5E cache.
  EXPECT_EQ(Mmu::Params().pwc.level[5].ways, 4u);
  sim::Config bad = sim::Config::load_string("platform:\n  mmu:\n    pwc: {pml5e: {sets: 3}}\n", "s.yaml");
  EXPECT_THROW(read_mmu_params(bad.root().child("platform").child("mmu"), 46, 5), sim::ConfigError);
  // paging_levels is 4 or 5.
  for (const char* levels : {"3", "6"}) {
    sim::Config c = sim::Config::load_string(std::string("platform:\n  paging_levels: ") + levels + "\n", "s.yaml");
    try {
      read_platform_params(c.root().child("platform"), 1);
      ADD_FAILURE() << "paging_levels " << levels << " accepted";
    } catch (const sim::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("paging_levels: must be 4 or 5"), std::string::npos) << e.what();
    }
  }
  sim::Config five = sim::Config::load_string("platform:\n  paging_levels: 5\n", "s.yaml");
  const PlatformParams pp = read_platform_params(five.root().child("platform"), 1);
  EXPECT_EQ(pp.levels, 5u);
  EXPECT_EQ(pp.mmu.levels, 5u);
}

// ---- Several cores ----
TEST(Cores, EachMmuTranslatesWithItsOwnCr3AndMaintenanceStaysLocal) {
  Machine m(Mmu::Params(), 2);
  const uint64_t va = 0x00007f0000001000;
  const uint64_t root0 = m.alloc_table(), root1 = m.alloc_table();
  m.map(root0, va, 0x3000000, P | RW | US);
  m.map(root1, va, 0x3100000, P | RW | US);
  m.word(0x3000000) = 0xc0;
  m.word(0x3100000) = 0xc1;
  for (unsigned c = 0; c < 2; ++c) {
    m.mmu(c).set_control(true, true, true);
    m.mmu(c).write_cr3((c ? root1 : root0) | (c + 1));
  }
  EXPECT_EQ(m.access(0, va, x86::Access::read).data, 0xc0u);
  EXPECT_EQ(m.access(1, va, x86::Access::read).data, 0xc1u);
  EXPECT_EQ(m.mmu(0).pcid(), 1);
  EXPECT_EQ(m.mmu(1).pcid(), 2);
  // Writes through each core land in its own page.
  m.access(0, va + 8, x86::Access::write, 0xaa);
  m.access(1, va + 8, x86::Access::write, 0xbb);
  EXPECT_EQ(m.word(0x3000008), 0xaau);
  EXPECT_EQ(m.word(0x3100008), 0xbbu);

  // Maintenance on core 0 leaves core 1's TLBs and PWC alone.
  const unsigned entries1 = m.mmu(1).dtlb().valid_entries() + m.mmu(1).stlb()->valid_entries();
  ASSERT_GT(entries1, 0u);
  ASSERT_TRUE(m.mmu(1).pwc().holds(2, va, 2));
  m.mmu(0).invlpg(va);
  m.mmu(0).invpcid(x86::InvpcidType::all_contexts_global, 0, 0);
  m.mmu(0).write_cr3(root0 | 1);
  EXPECT_EQ(m.mmu(0).dtlb().valid_entries(), 0u);
  EXPECT_FALSE(m.mmu(0).pwc().holds(2, va, 1));
  EXPECT_EQ(m.mmu(1).dtlb().valid_entries() + m.mmu(1).stlb()->valid_entries(), entries1);
  EXPECT_TRUE(m.mmu(1).pwc().holds(2, va, 2));
  EXPECT_EQ(m.mmu(1).dtlb().stats.invalidations.value(), 0.0);
  const Machine::Result r = m.access(1, va, x86::Access::read);
  EXPECT_TRUE(r.fast) << "core 1 still hits";
  EXPECT_EQ(r.data, 0xc1u);
  EXPECT_FALSE(m.access(0, va, x86::Access::read).fast) << "core 0 walks again";
  // Core 0: the read, the write through a clean entry (to set D), the read again.
  EXPECT_EQ(m.walker(0).stats.walks.value(), 3u);
  EXPECT_EQ(m.walker(1).stats.walks.value(), 2u);
}

TEST(Cores, RandomReplacementSeedsDifferPerCore) {
  const Mmu::Params p = from_scenario(
      "platform:\n  mmu:\n    dtlb: {sets: 1, ways: 8, replacement: random}\n    stlb: {enabled: false}\n", 77);
  Machine m(p, 2);
  const uint64_t root = m.alloc_table();
  const uint64_t base = 0x0000400000000000;
  for (unsigned i = 0; i < 16; ++i) m.map(root, base + 0x1000ull * i, 0x2000000, P | RW | US);
  for (unsigned c = 0; c < 2; ++c) m.mmu(c).write_cr3(root);
  std::mt19937 rng(5);
  std::vector<uint64_t> pages;
  for (int i = 0; i < 2000; ++i) pages.push_back(rng() % 16);
  for (unsigned c = 0; c < 2; ++c)
    for (uint64_t pg : pages) m.access(c, base + 0x1000 * pg, x86::Access::read);
  // Same sequence, different victims: the counts differ (for this seed).
  EXPECT_NE(m.mmu(0).dtlb().stats.misses.value(), m.mmu(1).dtlb().stats.misses.value());
}

// ---- The platform builds one MMU per core from the scenario ----
struct StubFirmware : hal::Firmware {
  bool boot(hal::Hal&, const hal::BootInfo&) override { return true; }
  void start_secondary(hal::Hal&) override {}
  int spawn(hal::Hal&, const char*, unsigned, void*) override { return -1; }
  hal::RunTask schedule(hal::Hal&) override { return {-1, nullptr}; }
  void timer_tick(hal::Hal&) override {}
  hal::TrapOutcome page_fault(hal::Hal&, hal::vaddr_t, uint32_t) override { return hal::TrapOutcome::task_killed; }
  hal::TrapOutcome machine_check(hal::Hal&, const hal::MachineCheck&) override {
    return hal::TrapOutcome::task_killed;
  }
  hal::TrapOutcome general_protection(hal::Hal&, hal::vaddr_t) override { return hal::TrapOutcome::task_killed; }
  void interrupt(hal::Hal&, uint8_t) override {}
  int64_t syscall(hal::Hal&, const hal::SyscallArgs&) override { return -1; }
};

TEST(Platform, TwoCoresEachWithTheScenariosMmu) {
  sim::Config cfg = sim::Config::load_string(
      "platform:\n  cores: 2\n  memory: {size: 1GiB}\n  mmu:\n    dtlb: {sets: 1, ways: 32}\n"
      "    walks_in_flight: 2\n",
      "scenario.yaml");
  StubFirmware fw;
  Platform pf("system", cfg.root().child("platform"), 11, fw);
  sc_core::sc_start(SC_ZERO_TIME);
  ASSERT_EQ(pf.nr_cpus(), 2u);
  for (unsigned c = 0; c < 2; ++c) {
    Mmu& mmu = pf.cpu(c).mmu;
    EXPECT_EQ(mmu.params().cpu, c);
    EXPECT_EQ(mmu.params().seed, 11u);
    EXPECT_EQ(mmu.dtlb().capacity(), 32u);
    EXPECT_EQ(mmu.window().params().slots, 2u);
    EXPECT_NE(pf.stats_root().find(fmt::format("cpu{}.mmu.dtlb.misses", c)), nullptr);
    EXPECT_NE(pf.stats_root().find(fmt::format("cpu{}.mmu.walker.walks", c)), nullptr);
    EXPECT_NE(pf.stats_root().find(fmt::format("cpu{}.mmu.pwc.pde.hits", c)), nullptr);
    EXPECT_NE(pf.stats_root().find(fmt::format("cpu{}.mmu.stlb.4k.hits", c)), nullptr);
    EXPECT_NE(pf.stats_root().find(fmt::format("cpu{}.mmu.walkWindow.merges", c)), nullptr);
  }
  // A translation through core 1's MMU, over page tables in the platform's DRAM.
  Dram& dram = pf.dram(0);
  const uint64_t root = 0x10000000, pdpt = 0x10001000, pd = 0x10002000, pt = 0x10003000, frame = 0x10004000;
  auto w = [&](uint64_t pa) -> uint64_t& { return *reinterpret_cast<uint64_t*>(dram.host(pa)); };
  const uint64_t va = 0x0000000000401000;
  w(root + 8 * x86::pt_index(va, 4)) = pdpt | P | RW | US;
  w(pdpt + 8 * x86::pt_index(va, 3)) = pd | P | RW | US;
  w(pd + 8 * x86::pt_index(va, 2)) = pt | P | RW | US;
  w(pt + 8 * x86::pt_index(va, 1)) = frame | P | RW | US;
  w(frame) = 0x5a5a;
  pf.cpu(1).mmu.write_cr3(root);
  uint64_t data = 0;
  tlm::tlm_generic_payload t;
  MmuAccessExtension ext;
  ext.access = x86::Access::read;
  t.set_extension(&ext);
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_address(va);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
  t.set_data_length(8);
  t.set_streaming_width(8);
  sc_time delay = SC_ZERO_TIME;
  pf.cpu(1).core.mmu_socket->b_transport(t, delay);
  t.clear_extension(&ext);
  EXPECT_EQ(ext.outcome, AccessOutcome::ok);
  EXPECT_EQ(data, 0x5a5au);
  auto walks = [&](unsigned c) {
    const auto* s = dynamic_cast<const sim::stats::Scalar*>(pf.stats_root().find(fmt::format("cpu{}.mmu.walker.walks", c)));
    return s ? s->value() : ~0ull;
  };
  EXPECT_EQ(walks(1), 1u);
  EXPECT_EQ(walks(0), 0u);
}

}  // namespace
}  // namespace hw::test
