// Lockstep: two walkers on one memory, the first through a dry port. Equal
// walkers agree and the A/D bits are written once; a walker that answers
// differently stops the walk with a report of both results.
#include <gtest/gtest.h>

#include <cstring>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/mem/dram.h"
#include "hw/mmu/walker.h"
#include "hw/rtlwalk/lockstep.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US;

// Passes walks through to a walker, optionally changing one result field.
struct Corrupter : sc_core::sc_module {
  tlm_utils::simple_target_socket<Corrupter> in{"in"};
  tlm_utils::simple_initiator_socket<Corrupter> out{"out"};
  bool flip_rw = false;
  explicit Corrupter(sc_core::sc_module_name n) : sc_module(n) { in.register_b_transport(this, &Corrupter::bt); }
  void bt(tlm::tlm_generic_payload& t, sc_time& d) {
    out->b_transport(t, d);
    WalkExtension* e = nullptr;
    t.get_extension(e);
    if (flip_rw && e) e->res.rw = !e->res.rw;
  }
};

struct Driver : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Driver> socket{"socket"};
  explicit Driver(sc_core::sc_module_name n) : sc_module(n) {}
};

struct Bench {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, 16 << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  PageWalker a{"a", &root, 1}, b{"b", &root, 2};
  WritePort dry{"dry", true}, wet{"wet", false};
  Corrupter corrupt{"corrupt"};
  LockstepWalker lockstep{"lockstep", dry, wet, &root};
  Driver mmu{"mmu"};
  uint64_t cr3 = 0x100000;

  Bench() {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, 16 << 20, "dram");
    a.mem_socket.bind(dry.from_walker);
    b.mem_socket.bind(wet.from_walker);
    dry.to_memory.bind(bus.from_initiators);
    wet.to_memory.bind(bus.from_initiators);
    mmu.socket.bind(lockstep.walk_socket);
    lockstep.to_tlm.bind(a.walk_socket);
    lockstep.to_rtl.bind(corrupt.in);
    corrupt.out.bind(b.walk_socket);
    // va 0x400000 -> pa 0x800000, four levels, no A/D set yet.
    std::memset(dram.host(cr3), 0, 4 * 4096);
    entry(cr3, 0x400000, 4) = (cr3 + 0x1000) | P | RW | US;
    entry(cr3 + 0x1000, 0x400000, 3) = (cr3 + 0x2000) | P | RW | US;
    entry(cr3 + 0x2000, 0x400000, 2) = (cr3 + 0x3000) | P | RW | US;
    entry(cr3 + 0x3000, 0x400000, 1) = 0x800000 | P | RW | US;
  }
  uint64_t& entry(uint64_t table, uint64_t va, unsigned level) {
    return *reinterpret_cast<uint64_t*>(dram.host(table + 8 * x86::pt_index(va, level)));
  }
  WalkResult walk(uint64_t va, x86::Access acc) {
    tlm::tlm_generic_payload t;
    WalkExtension ext;
    ext.req.va = va;
    ext.req.access = acc;
    ext.req.user = true;
    ext.req.cr3 = cr3;
    ext.req.start_level = 4;
    t.set_extension(&ext);
    sc_time d = SC_ZERO_TIME;
    try {
      mmu.socket->b_transport(t, d);
    } catch (...) {
      t.clear_extension(&ext);
      throw;
    }
    t.clear_extension(&ext);
    return ext.res;
  }
};

TEST(Lockstep, EqualWalkersAgreeAndWriteAccessedAndDirtyOnce) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  const WalkResult r = b.walk(0x400123, x86::Access::write);
  EXPECT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x800123u);
  EXPECT_EQ(b.lockstep.stats.compared.value(), 1u);
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 0u);
  // Both recorded the same four A/D updates, but only the real walk applied them.
  EXPECT_EQ(b.dry.writes.size(), 4u);
  EXPECT_EQ(b.wet.writes.size(), 4u);
  EXPECT_TRUE(b.dry.writes == b.wet.writes);
  EXPECT_EQ(b.entry(b.cr3 + 0x3000, 0x400000, 1), 0x800000 | P | RW | US | x86::PTE_A | x86::PTE_D);
  // The second walk finds A and D set: nothing to write on either side.
  b.walk(0x400123, x86::Access::write);
  EXPECT_TRUE(b.dry.writes.empty());
  EXPECT_TRUE(b.wet.writes.empty());
}

TEST(Lockstep, DryPortAppliesNothingButSeesItsOwnWrites) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  // The dry walker alone: memory must not change.
  tlm::tlm_generic_payload t;
  WalkExtension ext;
  ext.req.va = 0x400000;
  ext.req.access = x86::Access::write;
  ext.req.user = true;
  ext.req.cr3 = b.cr3;
  ext.req.start_level = 4;
  WalkResult r;
  sc_time d = SC_ZERO_TIME;
  b.a.walk(ext.req, r, d);
  EXPECT_EQ(r.status, WalkStatus::ok);
  EXPECT_TRUE(r.dirty);
  EXPECT_EQ(b.entry(b.cr3 + 0x3000, 0x400000, 1), 0x800000 | P | RW | US) << "a dry walk wrote to memory";
  ASSERT_EQ(b.dry.writes.size(), 4u);
}

TEST(Lockstep, ADifferenceStopsWithBothResults) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.corrupt.flip_rw = true;
  try {
    b.walk(0x400008, x86::Access::read);
    FAIL() << "a mismatch went unnoticed";
  } catch (const std::runtime_error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("the TLM and RTL walkers disagree on walk 1"), std::string::npos) << m;
    EXPECT_NE(m.find("request: va=0x400008 read user cr3=0x100000"), std::string::npos) << m;
    EXPECT_NE(m.find("rw               tlm 0x1  rtl 0x0"), std::string::npos) << m;
    EXPECT_NE(m.find("  tlm: status 0"), std::string::npos) << m;
    EXPECT_NE(m.find("  rtl: status 0"), std::string::npos) << m;
    EXPECT_NE(m.find("L4 entry at 0x100000 = 0x0000000000101007"), std::string::npos) << m;
    EXPECT_NE(m.find("wrote 0x0000000000800027 at 0x103000 (unlock)"), std::string::npos) << m;
  }
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 1u);
}

}  // namespace
}  // namespace hw
