// Randomized test of the RTL walker (through its transactor) against the
// reference walker (tb/common/reference_walker.h): random page tables (huge
// pages, every fault kind, reserved bits, error words and poisoned lines),
// random requests, and entries that change, get poisoned or fail at the
// moment the walker's locked read reaches them. Every result field and every
// memory word either side wrote must match. Deterministic (fixed seeds).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "tb/common/reference_walker.h"
#include "tb/rtl/harness.h"
#include "tb/rtl/random_tables.h"

namespace rtltest {
namespace {

constexpr unsigned kRegenerateEvery = 1500;

// `stall_percent`: the transactor's handshake stalls (hw::RtlWalker::Params).
void run_random(unsigned walks, uint64_t seed, unsigned stall_percent, uint64_t pool) {
  hw::RtlWalker::Params params;
  params.stall_percent = stall_percent;
  params.stall_seed = seed;
  Harness h(params);
  reference::SparseMemory ref;
  RandomTables gen(seed, pool);
  const unsigned kWalks = walks;

  auto regenerate = [&] {
    h.mem.words.clear();
    h.mem.error_words.clear();
    h.mem.poison_lines.clear();
    for (unsigned t = 0; t < RandomTables::kTables; ++t)
      for (unsigned i = 0; i < 512; ++i) h.mem.words[pool + 4096 * t + 8 * i] = gen.entry();
    for (int k = 0; k < 4; ++k) h.mem.poison(gen.pool_word());
    for (int k = 0; k < 4; ++k) h.mem.error_words.insert(gen.pool_word());
    ref.words = h.mem.words;
    ref.error_words = h.mem.error_words;
    ref.poison_lines = h.mem.poison_lines;
  };

  uint64_t walk_seed = 0;
  bool livelock = false;
  unsigned rtl_ordinal = 0, ref_ordinal = 0;
  h.mem.on_locked_read = [&](TestMemory& m, uint64_t addr) { meddle(m, addr, walk_seed, rtl_ordinal++, livelock, pool); };
  ref.on_locked_read = [&](reference::SparseMemory& m, uint64_t addr) { meddle(m, addr, walk_seed, ref_ordinal++, livelock, pool); };

  unsigned failures = 0;
  unsigned outcomes[3] = {}, leaves[4] = {}, restarts = 0, livelocks = 0, ad_writes = 0;
  unsigned faults_np = 0, faults_rsvd = 0, faults_rights = 0, mc_poison = 0, mc_error = 0;
  const auto host_start = std::chrono::steady_clock::now();
  for (unsigned n = 0; n < kWalks; ++n) {
    if (n % kRegenerateEvery == 0) regenerate();
    const WalkRequest rq = gen.request();
    walk_seed = gen.bits();
    livelock = gen.chance(1);
    rtl_ordinal = ref_ordinal = 0;
    h.mem.log.clear();
    ref.written.clear();

    const reference::Result want = reference::walk(reference::request_from(rq), ref);
    const WalkResult got = h.walk(rq);

    std::string diff = reference::diff(got, want, "rtl", "reference");
    for (const TestMemory::Access& a : h.mem.log)
      if (a.write && h.mem.peek(a.addr) != ref.peek(a.addr))
        diff += fmt::format(" memory@{:#x}: rtl {:#x}, reference {:#x};", a.addr, h.mem.peek(a.addr), ref.peek(a.addr));
    for (uint64_t a : ref.written)
      if (h.mem.peek(a) != ref.peek(a))
        diff += fmt::format(" memory@{:#x}: rtl {:#x}, reference {:#x};", a, h.mem.peek(a), ref.peek(a));
    for (const std::string& e : h.mem.protocol_errors) diff += " protocol: " + e + ";";
    h.mem.protocol_errors.clear();
    if (!diff.empty() && ++failures <= 10) ADD_FAILURE() << "walk " << n << ": " << reference::describe(rq) << ":" << diff;

    ++outcomes[static_cast<int>(want.status)];
    if (want.status == reference::Status::ok) ++leaves[want.leaf_level];
    if (want.status == reference::Status::page_fault) {
      if (want.restarts == 8) ++livelocks;
      else if (want.error_code & x86::PF_RSVD) ++faults_rsvd;
      else if (want.error_code & x86::PF_P) ++faults_rights;
      else ++faults_np;
    }
    if (want.status == reference::Status::machine_check) ++(want.mc_poison ? mc_poison : mc_error);
    restarts += want.restarts;
    ad_writes += want.mem_writes;
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();
  EXPECT_EQ(failures, 0u);
  std::printf(
      "%u walks (stalls %u%%) in %.2f s host time (%.0f walks/s, %.1f cycles/walk): 4K %u, 2M %u, 1G %u; "
      "faults: not present %u, reserved %u, rights %u, livelock %u; machine checks: poison %u, error %u; "
      "restarts %u; writes %u\n",
      kWalks, stall_percent, secs, kWalks / secs, double(h.walker.stats.cycles) / kWalks, leaves[1], leaves[2],
      leaves[3], faults_np, faults_rsvd, faults_rights, livelocks, mc_poison, mc_error, restarts, ad_writes);
  // The mix must exercise every outcome.
  for (unsigned l = 1; l <= 3; ++l) EXPECT_GT(leaves[l], 300u) << "translations to level " << l;
  EXPECT_GT(faults_np, 300u);
  EXPECT_GT(faults_rsvd, 300u);
  EXPECT_GT(faults_rights, 300u);
  EXPECT_GT(livelocks, 3u);
  EXPECT_GT(mc_poison, 30u);
  EXPECT_GT(mc_error, 30u);
  EXPECT_GT(restarts, 300u);
}

TEST(RtlWalkerRandom, MatchesTheReferenceTranslator) { run_random(30000, 0x5eed'2026, 0, RandomTables::kPool); }

// The same with the transactor stalling every handshake at random: the
// walker's results do not depend on its environment's timing (and the
// handshake assertions see waiting valids and readies). Tables high in the
// physical address space this time.
TEST(RtlWalkerRandom, MatchesTheReferenceTranslatorUnderBackpressure) {
  run_random(30000, 0xbac4'2026, 30, 0xa'bcd0'0000ull);
}

}  // namespace
}  // namespace rtltest

namespace rtltest {
namespace {

// Not a timed test (speed targets belong to benchmarks): reports how fast
// the RTL walks through the transactor, for full 4-level walks that find
// their entries' A/D bits set (10 clock cycles each) and for walks that set
// A at every level (26 cycles each).
TEST(RtlWalkerRandom, ReportsWalksPerSecond) {
  Harness h;
  constexpr uint64_t kRoot = 0x10000;
  constexpr unsigned kPages = 512;
  for (unsigned i = 0; i < kPages; ++i)
    h.map(kRoot, 0x4000'0000ull + 0x1000ull * i, 0x100'0000ull + 0x1000ull * i, P | RW | US | A | D);
  for (bool set_a : {false, true}) {
    constexpr unsigned kWalks = 50000;
    const uint64_t cycles_before = h.walker.stats.cycles;
    const auto start = std::chrono::steady_clock::now();
    for (unsigned n = 0; n < kWalks; ++n) {
      const uint64_t va = 0x4000'0000ull + 0x1000ull * (n % kPages);
      if (set_a)
        for (unsigned l = 1; l <= 4; ++l) h.entry(kRoot, va, l) &= ~A;
      const WalkResult r = h.walk(Harness::request(kRoot, va, x86::Access::read, true));
      ASSERT_EQ(r.status, WalkStatus::ok);
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cycles = double(h.walker.stats.cycles - cycles_before);
    std::printf("RTL walker through the transactor, %s: %.0f walks/s, %.1f cycles/walk, %.2f M cycles/s\n",
                set_a ? "4-level walks setting A at every level" : "4-level walks, A/D already set",
                kWalks / secs, cycles / kWalks, cycles / secs / 1e6);
  }
}

}  // namespace
}  // namespace rtltest
