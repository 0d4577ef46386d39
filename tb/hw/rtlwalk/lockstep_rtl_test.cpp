// Lockstep of the TLM walker against the Verilated RTL walker, both built
// from this file: linked with the RTL walker (rtl/walker.sv) every walk
// agrees; linked with a mutant of it (MMCOSIM_RTL_MUTANT: one of the formal
// flow's bug injections, rtl/formal/mutants/ad_before_checks.patch, whose leaf
// rights check forgets CR0.WP), lockstep must stop at the walk the mutant
// gets wrong, so the comparison can catch a real difference in the RTL.
#include <gtest/gtest.h>

#include <cstring>
#include <stdexcept>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/mem/dram.h"
#include "hw/mmu/walker.h"
#include "hw/rtlwalk/lockstep.h"
#include "hw/rtlwalk/rtl_walker.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US, A = x86::PTE_A, D = x86::PTE_D;

struct Bench : sc_core::sc_module {
  SC_HAS_PROCESS(Bench);
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, 16 << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  PageWalker tlm{"tlm", &root, 0};
  RtlWalker rtl{"rtl", RtlWalker::Params{}, &root, "rtlWalker"};
  WalkRecorder recorder{"recorder"};
  WalkReplay replay{"replay"};
  LockstepWalker lockstep{"lockstep", recorder, replay, &root};
  tlm_utils::simple_initiator_socket<Bench> mmu{"mmu"};
  uint64_t cr3 = 0x100000;
  std::vector<WalkRequest> requests;
  std::vector<WalkResult> results;
  std::vector<std::vector<WalkAccess>> records;  // the recorder's list of each walk
  std::vector<uint64_t> transactions;            // the bus's transactions of each walk
  std::vector<sc_time> took, busy;                 // each walk's, from its call, and the RTL walker's busy time
  std::vector<uint64_t> cycles;                    // the RTL walker's cycles in each walk
  sc_time delay = SC_ZERO_TIME;                    // the caller's, ahead of SystemC time, at each walk
  std::string error;

  explicit Bench(sc_core::sc_module_name n) : sc_module(n) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, 16 << 20, "dram");
    tlm.mem_socket.bind(replay.from_walker);
    rtl.mem_socket.bind(recorder.from_walker);
    recorder.to_memory.bind(bus.from_initiators);
    mmu.bind(lockstep.walk_socket);
    lockstep.to_tlm.bind(tlm.walk_socket);
    lockstep.to_rtl.bind(rtl.walk_socket);
    // va 0x400000 -> pa 0x800000 (user, writable), va 0x401000 -> pa
    // 0x801000 (supervisor, read-only); A and D already set, so walks only
    // read.
    std::memset(dram.host(cr3), 0, 4 * 4096);
    entry(cr3, 0x400000, 4) = (cr3 + 0x1000) | P | RW | US | A;
    entry(cr3 + 0x1000, 0x400000, 3) = (cr3 + 0x2000) | P | RW | US | A;
    entry(cr3 + 0x2000, 0x400000, 2) = (cr3 + 0x3000) | P | RW | US | A;
    entry(cr3 + 0x3000, 0x400000, 1) = 0x800000 | P | RW | US | A | D;
    entry(cr3 + 0x3000, 0x401000, 1) = 0x801000 | P | A | D;
    SC_THREAD(drive);
  }
  uint64_t& entry(uint64_t table, uint64_t va, unsigned level) {
    return *reinterpret_cast<uint64_t*>(dram.host(table + 8 * x86::pt_index(va, level)));
  }
  WalkRequest request(uint64_t va, x86::Access access, bool user) const {
    WalkRequest r;
    r.va = va;
    r.access = access;
    r.user = user;
    r.cr3 = cr3;
    r.wp = true;
    return r;
  }
  // Walks `requests` in order through lockstep, until one throws.
  void drive() {
    for (const WalkRequest& req : requests) {
      tlm::tlm_generic_payload t;
      WalkExtension ext;
      ext.req = req;
      t.set_extension(&ext);
      sc_time d = delay;
      const uint64_t tx0 = bus.stats.transactions.value();
      const sc_time asked = sc_core::sc_time_stamp(), busy0 = rtl.stats.busy_time;
      const uint64_t cycles0 = rtl.stats.cycles.value();
      try {
        mmu->b_transport(t, d);
      } catch (const std::runtime_error& e) {
        error = e.what();
      }
      t.clear_extension(&ext);
      if (!error.empty()) return;
      results.push_back(ext.res);
      records.push_back(recorder.accesses);
      transactions.push_back(bus.stats.transactions.value() - tx0);
      took.push_back(sc_core::sc_time_stamp() + d - asked);
      busy.push_back(rtl.stats.busy_time - busy0);
      cycles.push_back(rtl.stats.cycles.value() - cycles0);
    }
  }
};

TEST(LockstepRtl, SupervisorWriteToAReadOnlyPageWithWp) {
  Bench b("bench");
  b.requests = {b.request(0x400010, x86::Access::read, true), b.request(0x400010, x86::Access::write, true),
                b.request(0x401010, x86::Access::read, false), b.request(0x401010, x86::Access::write, false)};
  sc_core::sc_start();
#ifndef MMCOSIM_RTL_MUTANT
  ASSERT_EQ(b.error, "");
  ASSERT_EQ(b.results.size(), 4u);
  EXPECT_EQ(b.results[0].pa, 0x800010u);
  EXPECT_EQ(b.results[2].pa, 0x801010u);
  EXPECT_EQ(b.results[3].status, WalkStatus::page_fault);
  EXPECT_EQ(b.results[3].error_code, x86::PF_P | x86::PF_W);
  EXPECT_EQ(b.lockstep.stats.compared.value(), 4u);
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 0u);
#else
  // The first three walks agree; the fourth is where the mutant lets the
  // write through.
  EXPECT_EQ(b.results.size(), 3u);
  EXPECT_EQ(b.lockstep.stats.compared.value(), 4u);
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 1u);
  EXPECT_NE(b.error.find("the TLM and RTL walkers disagree on walk 4"), std::string::npos) << b.error;
  EXPECT_NE(b.error.find("status           tlm 0x1  rtl 0x0"), std::string::npos) << b.error;
#endif
}

// The recorder answers plain reads through DMI once memory granted it, and
// records them as it recorded their transactions (latency included).
TEST(LockstepRtl, TheRecorderReadsThroughDmiAndRecordsTheSame) {
  Bench b("bench");
  b.requests = {b.request(0x400010, x86::Access::read, true), b.request(0x400010, x86::Access::read, true)};
  sc_core::sc_start();
  ASSERT_EQ(b.error, "");
  ASSERT_EQ(b.records.size(), 2u);
  EXPECT_EQ(b.transactions[0], 1u) << "the first read's transaction brings DMI for the rest";
  EXPECT_EQ(b.transactions[1], 0u);
  ASSERT_EQ(b.records[0].size(), 4u);
  EXPECT_EQ(b.records[1], b.records[0]);
  for (size_t i = 0; i < b.records[0].size(); ++i) {
    EXPECT_EQ(b.records[0][i].latency, sc_time(80, SC_NS)) << i;
    EXPECT_EQ(b.records[1][i].latency, sc_time(80, SC_NS)) << i;
  }
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 0u);
}

// The RTL walker's plain reads through the recorder as its read path
// (RtlWalker::read_through), started ahead by the caller's 50 ns, as the
// platform of one CPU connects them: the first read, before memory granted
// DMI, is declined and becomes a transaction after the wait; the rest are
// calls. Recorded as their transactions were, latency included; each walk
// takes the caller's delay, its cycles and four reads of 80 ns; the walkers
// agree.
TEST(LockstepRtl, TheRecorderAsTheRtlWalkersReadPathRecordsTheSame) {
  Bench b("bench");
  b.rtl.read_through(&b.recorder);
  b.rtl.allow_start_ahead(true);
  b.delay = sc_time(50, SC_NS);
  b.requests = {b.request(0x400010, x86::Access::read, true), b.request(0x400010, x86::Access::read, true),
                b.request(0x400010, x86::Access::read, true)};
  sc_core::sc_start();
  ASSERT_EQ(b.error, "");
  ASSERT_EQ(b.records.size(), 3u);
  ASSERT_EQ(b.records[0].size(), 4u);
  EXPECT_EQ(b.transactions[0], 1u) << "the first read's transaction brings DMI for the rest";
  EXPECT_EQ(b.transactions[1], 0u);
  EXPECT_EQ(b.records[1], b.records[0]);
  EXPECT_EQ(b.records[2], b.records[0]);
  EXPECT_EQ(b.records[0][3].addr, b.cr3 + 0x3000 + 8 * x86::pt_index(0x400010, 1));
  EXPECT_EQ(b.records[0][3].value, b.entry(b.cr3 + 0x3000, 0x400000, 1));
  for (size_t w = 0; w < 3; ++w) {
    for (size_t i = 0; i < 4; ++i) EXPECT_EQ(b.records[w][i].latency, sc_time(80, SC_NS)) << w << " " << i;
    EXPECT_EQ(b.busy[w], static_cast<double>(b.cycles[w]) * sc_time(1, SC_NS) + 4 * sc_time(80, SC_NS)) << w;
    EXPECT_EQ(b.took[w], b.delay + b.busy[w]) << w;
  }
  EXPECT_EQ(b.cycles[2], b.cycles[1]);
  EXPECT_EQ(b.results[2].pa, 0x800010u);
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 0u);
}

}  // namespace
}  // namespace hw
