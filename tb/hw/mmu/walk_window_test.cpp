// The timing of walks in flight (hw/mmu/walk_window.h, docs/mmu.md): walk
// latency from the memory's per-node latency per page-table read; walks
// overlapping up to the number of walkers; merges; the lookahead bound;
// precise faults and serialising operations waiting for walks in flight.
//
// DRAM answers in 80 ns; every entry is pre-accessed, so a 4-level walk is
// four reads: 320 ns. The core issues one access per ns; an access costs it
// 1 ns (the access latency) and L1 hits and misses cost nothing more.
#include <gtest/gtest.h>

#include <cstring>

#include "hw/base/time.h"
#include "tb/hw/mmu/machine.h"

namespace hw::test {
namespace {

constexpr uint64_t kFlags = P | RW | US | A | D;

sc_time ns(double v) { return sc_time(v, SC_NS); }

Mmu::Params window_params(unsigned lookahead = 128, unsigned slots = 4) {
  Mmu::Params p = params(false, false);  // no STLB, no PWC: every miss walks 4 levels
  p.window.lookahead = lookahead;
  p.window.slots = slots;
  return p;
}

struct WindowTest : ::testing::Test {
  std::unique_ptr<Machine> m;
  uint64_t root = 0;
  void make(const Mmu::Params& p, unsigned distance = 10) {
    m = std::make_unique<Machine>(p, 1, ns(80), Machine::kMem, distance);
    root = m->alloc_table();
    m->mmu().write_cr3(root);
    for (int i = 0; i < 16; ++i) m->map(root, page(i), 0x2000000 + 0x1000 * i, kFlags, 1, A);
    m->step = ns(1);
  }
  // Pages under separate page directories, in separate DTLB sets.
  static uint64_t page(int i) { return 0x0000100000000000ull + (uint64_t(i) << 30) + (uint64_t(i) << 12); }
  Machine::Result access(uint64_t va, x86::Access acc = x86::Access::read) { return m->access(0, va, acc); }
  sc_time now() const { return m->cpus[0].now; }
  // Walks va's page long before the next access (and hits it once), so that
  // its accesses take the fast path; the core then issues one access a ns.
  void warm(uint64_t va) {
    access(va);
    m->step = ns(1000);
    access(va);
    m->step = ns(1);
  }
  WalkWindow::Stats& ws() { return m->mmu().window().stats; }
};

TEST_F(WindowTest, WalkLatencyIsTheMemoryLatencyOfEachRead) {
  make(window_params());
  access(page(0));
  EXPECT_EQ(m->walker().stats.latency.samples(), 1u);
  EXPECT_EQ(m->walker().stats.latency.mean(), 320.0);
}

TEST_F(WindowTest, WalkLatencyFollowsTheNumaDistance) {
  make(window_params(), 20);  // the DRAM is remote: distance 20 doubles its latency
  access(page(0));
  EXPECT_EQ(m->walker().stats.latency.mean(), 640.0);
}

TEST_F(WindowTest, WalksOverlapUpToTheNumberOfWalkers) {
  make(window_params());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(access(page(i)).outcome, AccessOutcome::ok);
  // Issued at 1, 3, 5, 7 ns; each costs the core 1 ns; none waited.
  EXPECT_EQ(now(), ns(8));
  EXPECT_EQ(m->mmu().window().in_flight(), 4u);
  EXPECT_EQ(ws().full_stalls.value(), 0u);
  EXPECT_EQ(ws().max_concurrency.value(), 4u);
  EXPECT_EQ(ws().overlapped.value(), 3u);
  EXPECT_EQ(ws().concurrency.value(), (0 + 1 + 2 + 3) / 4.0);
  // A fifth walk at 9 ns waits for the first walker: free at 1 + 320 ns.
  access(page(4));
  EXPECT_EQ(ws().full_stalls.value(), 1u);
  EXPECT_EQ(ws().stall_time.value(), 312000u);  // ps: from 9 to 321 ns
  EXPECT_EQ(now(), ns(322));
  EXPECT_EQ(m->walker().stats.walks.value(), 5u);
}

TEST_F(WindowTest, OneWalkerSerialisesWalks) {
  make(window_params(128, 1));
  access(page(0));
  access(page(1));  // waits for the first walk: 1 + 320 ns
  EXPECT_EQ(now(), ns(322));
  access(page(2));
  EXPECT_EQ(now(), ns(642));
  EXPECT_EQ(ws().full_stalls.value(), 2u);
}

TEST_F(WindowTest, AnAccessToAPageBeingWalkedJoinsTheWalk) {
  make(window_params());
  access(page(0));
  const uint64_t slow = m->mmu().stats.slow_accesses.value();
  const Machine::Result r = access(page(0) + 8);
  EXPECT_TRUE(r.fast) << "joining a walk in flight needs no TLM call";
  EXPECT_EQ(m->mmu().stats.slow_accesses.value(), slow);
  EXPECT_EQ(ws().merges.value(), 1u);
  EXPECT_EQ(m->walker().stats.walks.value(), 1u) << "no second walk";
  EXPECT_EQ(now(), ns(4)) << "the core did not wait for the walk";
  // Once the walk is over, the page's accesses complete on the fast path.
  m->step = ns(400);
  EXPECT_TRUE(access(page(0) + 16).fast);
}

// The core's loop (try_memo with its time): an access to a page whose walk
// is in flight joins the walk from the memo, as through complete_hit; once
// the walk has ended the memo sends the access back to the TLB, which makes
// the entry usable.
TEST_F(WindowTest, MemoHitsOfAPageBeingWalkedJoinTheWalkUntilItEnds) {
  make(window_params());
  access(page(0));      // walks until about 321 ns
  access(page(0) + 8);  // joins it through the TLB, and the memo keeps the page
  ASSERT_EQ(ws().merges.value(), 1u);
  Mmu& mmu = m->mmu();
  const uint64_t hits = mmu.dtlb().hits(0);
  uint64_t local_ps = 0, v = 0;
  Mmu::FastState fs = mmu.fast_begin();
  EXPECT_FALSE(mmu.try_memo(page(0) + 16, 8, x86::Access::read, true, &v, fs, local_ps)) << "only a join can";
  ASSERT_TRUE(mmu.try_memo_join(page(0) + 16, 8, x86::Access::read, true, &v, fs, local_ps, sim::to_ps(now())));
  EXPECT_EQ(ws().merges.value(), 2u) << "a memo hit on the page joins its walk";
  mmu.fast_end(fs);
  EXPECT_EQ(mmu.dtlb().hits(0), hits + 1) << "and counts as a hit of the entry";
  // After the walk's end: not from the memo, and the TLB's hit makes the
  // entry usable (no join).
  fs = mmu.fast_begin();
  const uint64_t after_ps = sim::to_ps(now() + ns(400));
  EXPECT_FALSE(mmu.try_memo_join(page(0) + 32, 8, x86::Access::read, true, &v, fs, local_ps, after_ps));
  mmu.fast_end(fs);
  m->step = ns(400);
  EXPECT_TRUE(access(page(0) + 40).fast);
  EXPECT_EQ(ws().merges.value(), 2u);
  EXPECT_EQ(mmu.dtlb().find(page(0), 0)->pending, false);
}

TEST_F(WindowTest, AFetchJoinsTheDataWalkOfItsPage) {
  make(window_params());
  access(page(0));
  access(page(0) + 64, x86::Access::fetch);  // ITLB miss, no STLB: joins the walk in flight
  EXPECT_EQ(ws().merges.value(), 1u);
  EXPECT_EQ(m->walker().stats.walks.value(), 1u);
  EXPECT_NE(m->mmu().itlb().find(page(0), 0), nullptr);
}

// Memory revokes DMI for a page whose walk is in flight: the entry in the
// walk window loses its host pointer with the TLBs', so an access that
// joins the walk later reads through memory (and meets the poison).
TEST_F(WindowTest, AJoinAfterDmiIsRevokedReadsThroughMemory) {
  make(window_params());
  access(page(0));
  ASSERT_EQ(m->mmu().window().in_flight(), 1u);
  m->dram.inject_poison(0x2000040);
  const Machine::Result r = access(page(0) + 0x40, x86::Access::fetch);  // ITLB miss, no STLB: joins
  EXPECT_EQ(ws().merges.value(), 1u);
  EXPECT_EQ(m->walker().stats.walks.value(), 1u);
  EXPECT_EQ(r.outcome, AccessOutcome::machine_check);
  EXPECT_EQ(r.ext.mc_pa, 0x2000040u);
}

TEST_F(WindowTest, HitsCompleteOnTheFastPathWhileWalksAreInFlight) {
  make(window_params());
  warm(page(9));
  access(page(0));  // a walk in flight
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(access(page(9) + 8 * i).fast) << i;
  EXPECT_EQ(m->mmu().window().in_flight(), 1u);
}

TEST_F(WindowTest, TheCoreWaitsForAWalkBeyondTheLookahead) {
  make(window_params(3));
  warm(page(9));
  const sc_time start = now();
  access(page(0));  // walk: issued at start + 1 ns, done 320 ns later
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(access(page(9)).fast) << "within the lookahead";
  const Machine::Result r = access(page(9));
  EXPECT_FALSE(r.fast) << "the fourth younger access waits for the walk";
  EXPECT_EQ(ws().lookahead_stalls.value(), 1u);
  EXPECT_EQ(now(), start + ns(1 + 320 + 1));
}

// The bound is the same on the slow path: a miss that is the lookahead's
// last younger access walks without waiting; the access after it waits.
TEST_F(WindowTest, AMissAtTheLookaheadDoesNotWait) {
  make(window_params(3));
  warm(page(9));
  access(page(0));  // a walk in flight
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(access(page(9)).fast) << i;
  const Machine::Result r = access(page(1));  // the third younger access: a miss
  EXPECT_EQ(r.outcome, AccessOutcome::ok);
  EXPECT_EQ(ws().lookahead_stalls.value(), 0u) << "within the lookahead";
  EXPECT_EQ(m->mmu().window().in_flight(), 2u);
  EXPECT_FALSE(access(page(9)).fast) << "the fourth waits";
  EXPECT_EQ(ws().lookahead_stalls.value(), 1u);
}

TEST_F(WindowTest, LookaheadZeroIsABlockingCore) {
  make(window_params(0));
  access(page(0));
  access(page(1));  // waits for the first walk before it issues
  EXPECT_EQ(now(), ns(322));
  access(page(2));
  EXPECT_EQ(now(), ns(642));
  EXPECT_EQ(ws().lookahead_stalls.value(), 2u);
}

TEST_F(WindowTest, AFaultWaitsForEveryWalkInFlight) {
  make(window_params());
  const uint64_t unmapped = 0x0000200000000000;  // its PML4E is not present: a one-read walk
  access(page(0));                                // done at 321 ns
  access(page(1));                                // done at 323 ns
  const Machine::Result r = access(unmapped);     // faults at 85 ns
  EXPECT_EQ(r.outcome, AccessOutcome::page_fault);
  EXPECT_EQ(ws().drain_stalls.value(), 1u);
  EXPECT_EQ(now(), ns(323)) << "precise: after the older walks complete";
  EXPECT_EQ(m->mmu().window().in_flight(), 0u);
}

// Each walker has one slot, reused walk after walk, and a walk's page entry
// is built over the slot's last one: every field must be the new walk's. Here
// the slot's last walk was to a page with DMI; the next one, to a page whose
// first line is poisoned (no DMI), must not keep that host pointer, or a read
// of the page would complete from the other page's memory.
TEST_F(WindowTest, AWalkInAReusedSlotKeepsNothingOfTheLastOne) {
  make(window_params(128, 1));  // one walker: one slot
  const uint64_t mine = 0x2222222222222222, other = 0x1111111111111111;
  std::memcpy(m->dram.host(0x2000800), &other, 8);
  std::memcpy(m->dram.host(0x2001800), &mine, 8);
  access(page(0));  // in flight after the access, its host pointer withheld in the slot
  ASSERT_EQ(m->mmu().window().in_flight(), 1u);
  m->dram.inject_poison(0x2001000);
  m->step = ns(1000);  // page(0)'s walk is over: page(1)'s takes the same slot
  EXPECT_EQ(access(page(1)).outcome, AccessOutcome::machine_check);
  const TlbEntry* e = m->mmu().dtlb().find(page(1), 0);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->host, nullptr);
  EXPECT_EQ(e->pending_host, nullptr);
  const Machine::Result r = access(page(1) + 0x800);
  EXPECT_EQ(r.outcome, AccessOutcome::ok);
  EXPECT_FALSE(r.fast) << "no DMI for the page: a transaction";
  EXPECT_EQ(r.data, mine);
}

TEST_F(WindowTest, SerialisingOperationsWaitForWalksInFlight) {
  make(window_params());
  access(page(0));                           // done at 321 ns
  m->mmu().invpcid(x86::InvpcidType::all_contexts, 0, 0);
  access(page(1));                           // issues only at 321 ns
  EXPECT_EQ(ws().serialize_stalls.value(), 1u);
  EXPECT_EQ(now(), ns(322));
}

}  // namespace
}  // namespace hw::test
