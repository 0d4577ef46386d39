// The RTL walker's page-table reads through DMI (docs/rtl-walker.md,
// "Sockets"): against the platform's interconnect and DRAM, a plain read
// uses DMI where granted and costs what its transaction would (the
// interconnect's hop and the NUMA distance included); poison and locked
// reads still go through transactions.
#include <gtest/gtest.h>

#include <functional>

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

  explicit Bench(sc_core::sc_module_name n) : sc_module(n) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    rtl.mem_socket.bind(bus.from_initiators);
    bus.set_initiator_node(0, 1);
    to_rtl.bind(rtl.walk_socket);
    tables.map(kVa, 0x800000);
    SC_THREAD(driver);
  }
  void driver() {
    for (;;) {
      sc_core::wait(go);
      if (job) job();
    }
  }
  // One full walk of a read of kVa; `transactions` counts the bus's.
  WalkResult walk(uint64_t* transactions = nullptr) {
    const uint64_t before = bus.stats.transactions.value();
    WalkResult r;
    job = [&] {
      WalkRequest rq;
      rq.va = kVa;
      rq.cr3 = tables.cr3;
      sc_time d = sc_core::SC_ZERO_TIME;
      rtl.walk(rq, r, d);
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

}  // namespace
}  // namespace hw
