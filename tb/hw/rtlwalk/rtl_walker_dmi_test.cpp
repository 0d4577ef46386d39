// The RTL walker's page-table reads through DMI (docs/rtl-walker.md,
// "Sockets"): against the platform's interconnect and DRAM, a plain read
// uses DMI where granted and costs what its transaction would (the
// interconnect's hop and the NUMA distance included); poison and locked
// reads still go through transactions. A walk allowed to start ahead of
// SystemC time (RtlWalker::allow_start_ahead) ends when a waited one does,
// and waits when another process is due before it would start.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/mem/dram.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "tb/common/bench_page_tables.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;

constexpr uint64_t kMem = 16ull << 20;
constexpr uint64_t kVa = 0x400000;
// The walker sits on node 1, the memory on node 0 at distance 21: a read
// costs the hop plus 80 ns * 2.1.
const sc_time kHop(3, SC_NS);
const sc_time kRead = kHop + sc_time(168, SC_NS);

struct Bench : sc_core::sc_module {
  SC_HAS_PROCESS(Bench);
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", kHop, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10, 21}}, &root};
  RtlWalker rtl{"rtl", RtlWalker::Params{}, &root, "rtlWalker"};
  tlm_utils::simple_initiator_socket<Bench> to_rtl{"to_rtl"};
  tb::BenchPageTables tables{dram, 1 << 20};
  std::function<void()> job;
  sc_core::sc_event go;
  // Another process: runs `poke` at `poke_at` after a walk is asked for.
  std::function<void()> poke;
  sc_time poke_at;
  sc_core::sc_event poke_event;

  explicit Bench(sc_core::sc_module_name n) : sc_module(n) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    rtl.mem_socket.bind(bus.from_initiators);
    bus.set_initiator_node(0, 1);
    to_rtl.bind(rtl.walk_socket);
    tables.map(kVa, 0x800000);
    SC_THREAD(driver);
    SC_THREAD(poker);
  }
  void driver() {
    for (;;) {
      sc_core::wait(go);
      if (job) job();
    }
  }
  void poker() {
    for (;;) {
      sc_core::wait(poke_event);
      poke();
    }
  }
  // One full walk of a read of kVa, asked for with the caller `delay` ahead
  // of SystemC time; `transactions` counts the bus's, `asked` and `ended`
  // are the SystemC times of the call and of the return.
  WalkResult walk(uint64_t* transactions = nullptr, sc_time delay = sc_core::SC_ZERO_TIME, sc_time* asked = nullptr,
                  sc_time* ended = nullptr) {
    const uint64_t before = bus.stats.transactions.value();
    WalkResult r;
    job = [&] {
      WalkRequest rq;
      rq.va = kVa;
      rq.cr3 = tables.cr3;
      if (poke) poke_event.notify(poke_at);
      if (asked) *asked = sc_core::sc_time_stamp();
      sc_time d = delay;
      rtl.walk(rq, r, d);
      if (ended) *ended = sc_core::sc_time_stamp();
    };
    if (sc_core::sc_get_status() == sc_core::SC_ELABORATION) sc_core::sc_start(sc_core::SC_ZERO_TIME);
    go.notify(sc_core::SC_ZERO_TIME);
    sc_core::sc_start();
    if (transactions) *transactions = bus.stats.transactions.value() - before;
    return r;
  }
  // The walk's simulated time less its cycles: what its memory accesses cost.
  sc_time memory_time_of_next_walk(WalkResult& r, uint64_t* transactions) {
    const sc_time busy0 = rtl.stats.busy_time;
    const uint64_t cycles0 = rtl.stats.cycles.value();
    r = walk(transactions);
    return rtl.stats.busy_time - busy0 - static_cast<double>(rtl.stats.cycles.value() - cycles0) * sc_time(1, SC_NS);
  }
  uint64_t leaf_entry_addr() const { return tables.tables[1] + 8 * x86::pt_index(kVa, 1); }
};

TEST(RtlWalkerDmi, PlainReadsCostWhatTheirTransactionsCost) {
  Bench b("bench");
  WalkResult first, second;
  uint64_t tx_first = 0, tx_second = 0;
  // The first walk reads through transactions, and asks for DMI.
  const sc_time mem_first = b.memory_time_of_next_walk(first, &tx_first);
  const sc_time mem_second = b.memory_time_of_next_walk(second, &tx_second);
  ASSERT_EQ(first.status, WalkStatus::ok);
  EXPECT_EQ(first.pa, 0x800000u);
  EXPECT_EQ(first.mem_reads, 4u);
  EXPECT_EQ(tx_first, 1u) << "the first read's transaction brings DMI for the rest";
  EXPECT_EQ(tx_second, 0u) << "every read of the second walk through DMI";
  EXPECT_EQ(mem_first, 4 * kRead);
  EXPECT_EQ(mem_second, 4 * kRead) << "a DMI read costs the hop and the NUMA distance, as a transaction";
  EXPECT_EQ(b.rtl.stats.mem_reads.value(), 8u);
  for (unsigned l = 1; l <= 4; ++l) {
    EXPECT_EQ(second.pte_addr[l], first.pte_addr[l]);
    EXPECT_EQ(second.pte_value[l], first.pte_value[l]);
  }
}

TEST(RtlWalkerDmi, PoisonInjectedAfterTheGrantIsStillReported) {
  Bench b("bench");
  ASSERT_EQ(b.walk().status, WalkStatus::ok);
  // Memory takes the poisoned page out of the grant: the read of the leaf
  // entry goes through a transaction, which reports the poison.
  b.dram.inject_poison(b.leaf_entry_addr());
  uint64_t tx = 0;
  const WalkResult poisoned = b.walk(&tx);
  EXPECT_EQ(poisoned.status, WalkStatus::machine_check);
  EXPECT_TRUE(poisoned.mc_poison);
  EXPECT_EQ(poisoned.mc_addr, b.leaf_entry_addr());
  EXPECT_GE(tx, 1u);
  b.dram.clear_poison(b.leaf_entry_addr());
  EXPECT_EQ(b.walk().status, WalkStatus::ok);
}

TEST(RtlWalkerDmi, LockedReadsAndTheirWritesStayTransactions) {
  Bench b("bench");
  ASSERT_EQ(b.walk().status, WalkStatus::ok);
  uint64_t& leaf = *reinterpret_cast<uint64_t*>(b.dram.host(b.leaf_entry_addr()));
  leaf &= ~(x86::PTE_A | x86::PTE_D);
  const uint64_t locked0 = b.dram.stats.locked_rmw.value();
  uint64_t tx = 0;
  const WalkResult r = b.walk(&tx);
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.mem_reads, 5u);
  EXPECT_EQ(r.mem_writes, 1u);
  EXPECT_EQ(tx, 2u) << "the locked read and the write that releases the lock";
  EXPECT_EQ(b.dram.stats.locked_rmw.value(), locked0 + 1);
  EXPECT_TRUE(leaf & x86::PTE_A);
}

// The walker's plain reads through a read path that notes SystemC's time
// and the read's own at each, and then reads by DMI (`dmi`) or declines, so
// that the read is a transaction.
struct SpyPath : WalkReadPath {
  sim::InitiatorSocket* socket = nullptr;
  bool dmi = true;
  std::vector<sc_time> now, at;
  bool read(uint64_t addr, uint64_t* data, sc_time& t) override {
    now.push_back(sc_core::sc_time_stamp());
    at.push_back(t);
    return dmi && socket->dmi_read(addr, data, 8, t);
  }
};

// One walk asked for `delay` ahead of SystemC time, waited (ahead = false)
// or allowed to start ahead: what it took and what its reads saw.
struct Timed {
  WalkResult r;
  sc_time took, busy, first_read_now, first_read_at;
  uint64_t cycles = 0, transactions = 0;
};
Timed timed_walk(Bench& b, SpyPath& spy, bool ahead, sc_time delay) {
  b.rtl.allow_start_ahead(ahead);
  spy.now.clear();
  spy.at.clear();
  const sc_time busy0 = b.rtl.stats.busy_time;
  const uint64_t cycles0 = b.rtl.stats.cycles.value();
  Timed t;
  sc_time asked, ended;
  t.r = b.walk(&t.transactions, delay, &asked, &ended);
  t.took = ended - asked;
  t.busy = b.rtl.stats.busy_time - busy0;
  t.cycles = b.rtl.stats.cycles.value() - cycles0;
  if (!spy.now.empty()) {
    t.first_read_now = spy.now[0] - asked;
    t.first_read_at = spy.at[0];
  }
  return t;
}

// What a walk asked for 50 ns ahead of SystemC time takes, waited or
// started ahead: the same result, cycles and busy time, and the same end;
// started ahead, its reads come before SystemC time reaches the walk's start.
TEST(RtlWalkerDmi, AWalkStartedAheadEndsWhenAWaitedOneDoes) {
  Bench b("bench");
  SpyPath spy;
  spy.socket = &b.rtl.mem_socket;
  b.rtl.read_through(&spy);
  spy.dmi = false;
  ASSERT_EQ(b.walk().status, WalkStatus::ok);  // a transaction: memory grants DMI
  spy.dmi = true;
  const sc_time delay(50, SC_NS);
  const Timed waited = timed_walk(b, spy, false, delay), ahead = timed_walk(b, spy, true, delay);
  ASSERT_EQ(ahead.r.status, WalkStatus::ok);
  EXPECT_EQ(ahead.r.pa, waited.r.pa);
  EXPECT_EQ(ahead.cycles, waited.cycles);
  EXPECT_EQ(ahead.busy, waited.busy);
  EXPECT_EQ(waited.took, delay + waited.busy);
  EXPECT_EQ(ahead.took, waited.took);
  EXPECT_EQ(waited.transactions + ahead.transactions, 0u) << "every read through DMI";
  EXPECT_EQ(waited.first_read_now, delay) << "waited: SystemC time at the walk's start";
  EXPECT_EQ(ahead.first_read_now, sc_core::SC_ZERO_TIME) << "started ahead: no wait before its reads";
  EXPECT_EQ(ahead.first_read_at, waited.first_read_at + delay);
}

// Started ahead, a walk whose reads are transactions (the read path
// declines them) waits the caller's delay before the first: it then reads
// and ends exactly as a waited walk.
TEST(RtlWalkerDmi, AWalkStartedAheadWaitsBeforeItsFirstTransaction) {
  Bench b("bench");
  SpyPath spy;
  spy.socket = &b.rtl.mem_socket;
  spy.dmi = false;
  b.rtl.read_through(&spy);
  ASSERT_EQ(b.walk().status, WalkStatus::ok);  // the reset's cycles
  const sc_time delay(50, SC_NS);
  const Timed waited = timed_walk(b, spy, false, delay), ahead = timed_walk(b, spy, true, delay);
  ASSERT_EQ(ahead.r.status, WalkStatus::ok);
  EXPECT_EQ(ahead.r.pa, waited.r.pa);
  EXPECT_EQ(waited.transactions, 4u);
  EXPECT_EQ(ahead.transactions, 4u);
  EXPECT_EQ(ahead.cycles, waited.cycles);
  EXPECT_EQ(ahead.busy, waited.busy);
  EXPECT_EQ(waited.busy - static_cast<double>(waited.cycles) * sc_time(1, SC_NS), 4 * kRead);
  EXPECT_EQ(ahead.took, waited.took);
  EXPECT_EQ(ahead.took, delay + ahead.busy);
  EXPECT_EQ(ahead.first_read_now, sc_core::SC_ZERO_TIME) << "asked of the read path before the wait";
}

// A process due 10 ns into the caller's 50 ns remaps the page: the walk,
// which starts at 50 ns, must read the new entry, allowed to start ahead
// or not.
TEST(RtlWalkerDmi, AWalkDoesNotStartAheadOfAProcessDueBeforeIt) {
  Bench b("bench");
  ASSERT_EQ(b.walk().status, WalkStatus::ok);
  b.rtl.allow_start_ahead(true);
  uint64_t& leaf = *reinterpret_cast<uint64_t*>(b.dram.host(b.leaf_entry_addr()));
  b.poke = [&] { leaf = (leaf & ~0x000ffffffffff000ull) | 0x900000; };  // a new frame
  b.poke_at = sc_time(10, SC_NS);
  const WalkResult r = b.walk(nullptr, sc_time(50, SC_NS));
  ASSERT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x900000u);
}

}  // namespace
}  // namespace hw
