// Lockstep: the second walker ("rtl") walks memory through a recorder, the
// first ("tlm") walks the record replayed. Equal walkers agree and the A/D
// bits are written once; the replay answers with what the recorded walk read
// even when memory has changed since; a walker that answers or accesses
// memory differently stops the walk with a report of both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <string>
#include <utility>

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
  WalkReplay replay{"replay"};
  WalkRecorder recorder{"recorder"};
  Corrupter corrupt{"corrupt"};
  LockstepWalker lockstep{"lockstep", recorder, replay, &root};
  Driver mmu{"mmu"};
  uint64_t cr3 = 0x100000;

  Bench() {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, 16 << 20, "dram");
    a.mem_socket.bind(replay.from_walker);
    b.mem_socket.bind(recorder.from_walker);
    recorder.to_memory.bind(bus.from_initiators);
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
  // (A returned walk agreed: any difference throws.) Four plain reads, then
  // a locked read and its unlocking write for each level, top down: A on
  // the tables, A|D on the leaf.
  const uint64_t at[] = {b.cr3 + 8 * x86::pt_index(0x400000, 4), b.cr3 + 0x1000 + 8 * x86::pt_index(0x400000, 3),
                         b.cr3 + 0x2000 + 8 * x86::pt_index(0x400000, 2),
                         b.cr3 + 0x3000 + 8 * x86::pt_index(0x400000, 1)};
  const uint64_t was[] = {(b.cr3 + 0x1000) | P | RW | US, (b.cr3 + 0x2000) | P | RW | US,
                          (b.cr3 + 0x3000) | P | RW | US, 0x800000 | P | RW | US};
  const std::vector<WalkAccess>& acc = b.recorder.accesses;
  ASSERT_EQ(acc.size(), 12u);
  for (int i = 0; i < 4; ++i) {
    const WalkAccess& plain = acc[i];
    const WalkAccess &locked = acc[4 + 2 * i], &unlock = acc[5 + 2 * i];
    EXPECT_TRUE(!plain.write && !plain.lock && plain.addr == at[i] && plain.value == was[i]) << "read " << i;
    EXPECT_TRUE(!locked.write && locked.lock && locked.addr == at[i] && locked.value == was[i]) << "lock " << i;
    EXPECT_TRUE(unlock.write && unlock.lock && unlock.addr == at[i]) << "unlock " << i;
    EXPECT_EQ(unlock.value, was[i] | x86::PTE_A | (i == 3 ? x86::PTE_D : 0)) << "unlock " << i;
  }
  EXPECT_EQ(b.entry(b.cr3 + 0x3000, 0x400000, 1), 0x800000 | P | RW | US | x86::PTE_A | x86::PTE_D);
  // The second walk finds A and D set: four plain reads, nothing to write.
  b.walk(0x400123, x86::Access::write);
  ASSERT_EQ(acc.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(!acc[i].write && !acc[i].lock && acc[i].addr == at[i]) << i;
}

TEST(Lockstep, ReplayAnswersWithTheRecordedValuesAndAppliesNothing) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.walk(0x400000, x86::Access::read);
  const std::vector<WalkAccess> record = b.recorder.accesses;
  // Memory changes after the recorded walk (another core unmapped the
  // page): the replayed walk still sees the recorded tables.
  b.entry(b.cr3 + 0x3000, 0x400000, 1) = 0;
  b.replay.start(record);
  WalkRequest req;
  req.va = 0x400000;
  req.user = true;
  req.cr3 = b.cr3;
  WalkResult r;
  sc_time d = SC_ZERO_TIME;
  b.a.walk(req, r, d);
  EXPECT_EQ(r.status, WalkStatus::ok);
  EXPECT_EQ(r.pa, 0x800000u);
  EXPECT_EQ(r.pte_value[1], 0x800000 | P | RW | US) << "as the recorded walk read it, before its A update";
  EXPECT_TRUE(b.replay.accesses == record);
  // Four reads and four locked read/write pairs, 80 ns each.
  EXPECT_EQ(d, sc_time(12 * 80, SC_NS)) << "the replay passes on the recorded latencies";
  // A write walk replayed against the read walk's record: the same reads,
  // but its last write also sets D, so the accesses differ.
  b.replay.start(record);
  req.access = x86::Access::write;
  b.a.walk(req, r, d);
  EXPECT_EQ(r.status, WalkStatus::ok);
  EXPECT_TRUE(r.dirty);
  ASSERT_EQ(b.replay.accesses.size(), record.size());
  EXPECT_TRUE(b.replay.accesses.back() != record.back());
  EXPECT_EQ(b.replay.accesses.back().value, 0x800000 | P | RW | US | x86::PTE_A | x86::PTE_D);
  // One access more than the record holds: an error response, a machine check.
  std::vector<WalkAccess> shorter(record.begin(), record.begin() + 3);
  b.replay.start(shorter);
  req.access = x86::Access::read;
  b.a.walk(req, r, d);
  EXPECT_EQ(r.status, WalkStatus::machine_check);
  EXPECT_EQ(r.mc_addr, record[3].addr);
  // The access the record lacks is listed, failed, for the comparison to see.
  ASSERT_EQ(b.replay.accesses.size(), 4u);
  EXPECT_EQ(b.replay.accesses[3].addr, record[3].addr);
  EXPECT_EQ(b.replay.accesses[3].outcome, WalkAccess::Outcome::error);
}

TEST(Lockstep, EqualResultsWithDifferentAccessesDiffer) {
  WalkResult r;
  r.pa = 0x800000;
  std::vector<WalkAccess> rtl(2), tlm(2);
  rtl[0].addr = tlm[0].addr = 0x100000;
  rtl[1].addr = tlm[1].addr = 0x101000;
  EXPECT_EQ(LockstepWalker::differences(r, r, tlm, rtl), "");
  for (int field = 0; field < 6; ++field) {
    std::vector<WalkAccess> t = tlm;
    switch (field) {
      case 0: t[1].addr += 8; break;                       // another entry read
      case 1: t[1].value = x86::PTE_A; break;              // another value (read or written)
      case 2: t[1].lock = true; break;                     // a locked read for a plain one
      case 3: t[1].outcome = WalkAccess::Outcome::poison; break;
      case 4: t.pop_back(); break;                         // one access fewer
      case 5: t[1].write = true; break;                    // a write for a read
    }
    EXPECT_NE(LockstepWalker::differences(r, r, t, rtl).find("the page-table accesses differ"), std::string::npos)
        << "field " << field;
  }
}

TEST(Lockstep, AnEntryThatDiffersIsNamedWithItsLevel) {
  WalkResult t, r;
  t.pte_valid[3] = r.pte_valid[3] = true;
  t.pte_addr[3] = 0x101000;
  r.pte_addr[3] = 0x101008;
  const std::vector<WalkAccess> none;
  EXPECT_EQ(LockstepWalker::differences(t, r, none, none), "  pte_addr[3]      tlm 0x101000  rtl 0x101008\n");
}

TEST(Lockstep, EveryResultFieldThatDiffersIsNamed) {
  // One field changed at a time: differences() names it, and only it.
  std::vector<std::pair<std::string, std::function<void(WalkResult&)>>> rows = {
      {"status", [](WalkResult& r) { r.status = WalkStatus::page_fault; }},
      {"pa", [](WalkResult& r) { r.pa ^= 0x1000; }},
      {"page_size", [](WalkResult& r) { r.page_size = 0x200000; }},
      {"leaf_level", [](WalkResult& r) { r.leaf_level = 2; }},
      {"rw", [](WalkResult& r) { r.rw = !r.rw; }},
      {"us", [](WalkResult& r) { r.us = !r.us; }},
      {"nx", [](WalkResult& r) { r.nx = !r.nx; }},
      {"global", [](WalkResult& r) { r.global = !r.global; }},
      {"dirty", [](WalkResult& r) { r.dirty = !r.dirty; }},
      {"memtype", [](WalkResult& r) { r.memtype = 6; }},
      {"error_code", [](WalkResult& r) { r.error_code = x86::PF_P; }},
      {"fault_level", [](WalkResult& r) { r.fault_level = 2; }},
      {"fault_pte_addr", [](WalkResult& r) { r.fault_pte_addr = 0x102008; }},
      {"mc_addr", [](WalkResult& r) { r.mc_addr = 0x102008; }},
      {"mc_poison", [](WalkResult& r) { r.mc_poison = !r.mc_poison; }},
      {"mem_reads", [](WalkResult& r) { ++r.mem_reads; }},
      {"mem_writes", [](WalkResult& r) { ++r.mem_writes; }},
      {"restarts", [](WalkResult& r) { ++r.restarts; }},
  };
  for (unsigned l = 1; l <= kMaxLevels; ++l) {
    const std::string n = "[" + std::to_string(l) + "]";
    rows.push_back({"pte_valid" + n, [l](WalkResult& r) { r.pte_valid[l] = !r.pte_valid[l]; }});
    rows.push_back({"pte_addr" + n, [l](WalkResult& r) { r.pte_addr[l] += 8; }});
    rows.push_back({"pte_value" + n, [l](WalkResult& r) { r.pte_value[l] ^= x86::PTE_A; }});
  }
  WalkResult base;
  base.pa = 0x800000;
  base.page_size = 0x1000;
  base.leaf_level = 1;
  for (unsigned l = 1; l <= 4; ++l) {
    base.pte_valid[l] = true;
    base.pte_addr[l] = 0x100000 + 0x1000 * (4 - l);
    base.pte_value[l] = 0x101007 + 0x1000 * (4 - l);
  }
  const std::vector<WalkAccess> none;
  for (const auto& [name, change] : rows) {
    WalkResult t = base;
    change(t);
    const std::string d = LockstepWalker::differences(t, base, none, none);
    EXPECT_EQ(d.rfind("  " + name + std::string(16 - name.size(), ' ') + " tlm ", 0), 0u) << name << ": " << d;
    EXPECT_EQ(std::count(d.begin(), d.end(), '\n'), 1) << name << ": " << d;
  }
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
    EXPECT_NE(m.find("read  0x0000000000800007 at 0x103000"), std::string::npos) << m;
    EXPECT_NE(m.find("wrote 0x0000000000800027 at 0x103000 (unlock)"), std::string::npos) << m;
  }
  EXPECT_EQ(b.lockstep.stats.mismatches.value(), 1u);
}

}  // namespace
}  // namespace hw
