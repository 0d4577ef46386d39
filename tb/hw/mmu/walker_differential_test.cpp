// Randomized differential test: the TLM walker against the independent
// reference walker (tb/common/reference_walker.h), over random page tables in DRAM,
// more than a million translations. The tables are a pool of pages whose
// entries point at each other at random (so any table can serve at any
// level, cycles included), with random rights, Accessed/Dirty states, huge
// leaves (aligned or not), reserved bits, pointers outside memory and a few
// poisoned lines. Requests vary the address, access, privilege, WP, NXE,
// MAXPHYADDR, the root, 4- or 5-level paging, and start below the root as a
// paging-structure-cache hit would. Deterministic (fixed seed).
#include <gtest/gtest.h>

#include <random>

#include "tb/hw/mmu/compare.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

constexpr uint64_t kPool = 1 << 20;  // tables from 1 MiB
constexpr unsigned kTables = 96;
constexpr unsigned kTranslations = 1'200'000;
constexpr unsigned kRegenerateEvery = 40'000;

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}
  uint64_t bits() { return rng_(); }
  bool chance(unsigned percent) { return rng_() % 100 < percent; }
  uint64_t below(uint64_t n) { return rng_() % n; }
  uint64_t table() { return kPool + 4096 * below(kTables); }

  uint64_t entry() {
    uint64_t e = 0;
    if (!chance(7)) e |= P;
    if (chance(85)) e |= RW;
    if (chance(85)) e |= US;
    if (chance(20)) e |= NX;
    if (chance(50)) e |= A;
    if (chance(50)) e |= D;
    if (chance(20)) e |= G;
    if (chance(20)) e |= x86::PTE_PWT;
    if (chance(20)) e |= x86::PTE_PCD;
    e |= bits() & ((0x7ull << 9) | (0x7ffull << 52));  // ignored bits
    const bool ps = chance(25);
    if (ps) {
      e |= PS;
      // A huge frame: 1 GiB aligned, 2 MiB aligned, or misaligned; PAT at random.
      const unsigned r = static_cast<unsigned>(below(100));
      uint64_t frame = bits() & x86::phys_mask(46);
      if (r < 45) frame &= ~((1ull << 30) - 1);
      else if (r < 92) frame &= ~((1ull << 21) - 1);
      e |= frame | (chance(50) ? x86::PTE_PAT_LARGE : 0);
    } else if (chance(86)) {
      e |= table();
    } else if (chance(60)) {
      e |= bits() & x86::phys_mask(46);  // a frame anywhere (a table outside memory if used as one)
    } else {
      e |= (bits() & (Machine::kMem - 1)) & ~0xfffull;  // somewhere in memory
    }
    if (chance(4)) e |= 1ull << (36 + below(16));  // maybe above MAXPHYADDR
    return e;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(WalkerDifferential, MillionRandomTranslationsMatchTheReference) {
  Machine m(params(false, false));
  Generator gen(20240611);
  std::vector<uint64_t> poisoned;
  auto regenerate = [&] {
    for (uint64_t line : poisoned) m.dram.clear_poison(line);
    poisoned.clear();
    for (unsigned t = 0; t < kTables; ++t)
      for (unsigned i = 0; i < 512; ++i) m.word(kPool + 4096 * t + 8 * i) = gen.entry();
    for (int k = 0; k < 3; ++k) {
      const uint64_t line = (gen.table() + 64 * gen.below(64));
      m.dram.inject_poison(line);
      poisoned.push_back(line);
    }
  };

  unsigned failures = 0;
  unsigned counts[3][4] = {};  // [status][leaf level or 0]
  unsigned restarts_or_ad = 0;
  for (unsigned n = 0; n < kTranslations; ++n) {
    if (n % kRegenerateEvery == 0) regenerate();
    WalkRequest rq;
    rq.levels = gen.chance(10) ? 5 : 4;
    const unsigned va_bits = rq.levels == 5 ? 57 : 48;
    const uint64_t raw = gen.bits();
    rq.va = static_cast<uint64_t>(static_cast<int64_t>(raw << (64 - va_bits)) >> (64 - va_bits));
    const unsigned a = static_cast<unsigned>(gen.below(3));
    rq.access = a == 0 ? x86::Access::read : a == 1 ? x86::Access::write : x86::Access::fetch;
    rq.user = gen.chance(70);
    rq.wp = gen.chance(80);
    rq.nxe = gen.chance(80);
    static const unsigned widths[] = {36, 39, 46, 52};
    rq.maxphyaddr = widths[gen.below(4)];
    rq.cr3 = gen.table() | (gen.bits() & 0xfff);
    rq.start_level = rq.levels;
    rq.start_table = rq.cr3 & ~0xfffull;
    if (gen.chance(15)) {
      rq.start_level = 1 + static_cast<unsigned>(gen.below(rq.levels - 1));
      rq.start_table = gen.table();
      rq.acc_rw = gen.chance(80);
      rq.acc_us = gen.chance(80);
      rq.acc_nx = gen.chance(20);
    }

    const Expected want = reference_walk(m, rq);
    WalkResult got;
    sc_time d = SC_ZERO_TIME;
    m.walker().walk(rq, got, d);
    ++counts[static_cast<int>(got.status)][got.status == WalkStatus::ok ? got.leaf_level : 0];
    restarts_or_ad += got.mem_writes;
    const std::string diff = compare(got, want) + compare_memory(m, want);
    if (!diff.empty() && ++failures <= 10) ADD_FAILURE() << "translation " << n << ": " << describe(rq) << ":" << diff;
  }
  EXPECT_EQ(failures, 0u);
  std::printf("%u translations: ok 4K %u, 2M %u, 1G %u; page faults %u; machine checks %u; A/D writes %u\n",
              kTranslations, counts[0][1], counts[0][2], counts[0][3], counts[1][0], counts[2][0], restarts_or_ad);
  // The mix must exercise every outcome.
  for (unsigned l = 1; l <= 3; ++l) EXPECT_GT(counts[0][l], 10000u) << "translations to level " << l;
  EXPECT_GT(counts[1][0], 100000u);
  EXPECT_GT(counts[2][0], 1000u);
  EXPECT_GT(restarts_or_ad, 10000u);
}

}  // namespace
}  // namespace hw::test
