// DRAM, interconnect, TLM walker and MMU on a small machine built in the
// test: page tables written straight into DRAM, accesses through the MMU.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/ext/memory.h"
#include "hw/ext/mmu_access.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

constexpr uint64_t kMem = 64ull << 20;
constexpr uint64_t P = x86::PTE_P, RW = x86::PTE_RW, US = x86::PTE_US, G = x86::PTE_G, PS = x86::PTE_PS;

// A stand-in for a core: an initiator for the MMU's slow path.
struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket{"socket"};
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n) {}
};

struct Machine {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, kMem, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  Mmu mmu;
  PageWalker walker{"walker", &mmu.stats, 1};
  Initiator cpu{"cpu"};
  Initiator probe{"probe"};  // reaches memory directly, through the bus
  uint64_t next_table = 1 << 20;  // page tables from 1 MiB up
  uint64_t cr3 = 0;
  sc_time now = SC_ZERO_TIME;     // the core's time: each access starts 1 us after the previous one

  static Mmu::Params params() {
    Mmu::Params p;  // default hierarchy, with a 16x4 data TLB holding every page size
    TlbArray::Geometry g;
    g.sets = 16;
    g.ways = 4;
    g.sizes = {0, 1, 2};
    p.dtlb = {g};
    return p;
  }
  Machine() : mmu("mmu", params(), &root) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, kMem, "dram");
    mmu.mem_socket.bind(bus.from_initiators);
    walker.mem_socket.bind(bus.from_initiators);
    mmu.walk_socket.bind(walker.walk_socket);
    cpu.socket.bind(mmu.cpu_socket);
    probe.socket.bind(bus.from_initiators);
    sc_core::sc_start(SC_ZERO_TIME);  // end of elaboration: sockets usable
    cr3 = alloc_table();
    mmu.set_control(true, true, true);
    mmu.write_cr3(cr3);
  }
  uint64_t alloc_table() {
    const uint64_t t = next_table;
    next_table += 4096;
    std::memset(dram.host(t), 0, 4096);
    return t;
  }
  uint64_t& pte(uint64_t table, uint64_t va, unsigned level) {
    return *reinterpret_cast<uint64_t*>(dram.host(table + 8 * x86::pt_index(va, level)));
  }
  // Maps va -> pa with a leaf at `leaf_level`; upper levels get P|RW|US.
  void map(uint64_t va, uint64_t pa, uint64_t flags, unsigned leaf_level = 1) {
    uint64_t table = cr3 & ~0xfffull;
    for (unsigned l = 4; l > leaf_level; --l) {
      uint64_t& e = pte(table, va, l);
      if (!(e & P)) e = alloc_table() | P | RW | US;
      table = e & x86::phys_mask(46);
    }
    pte(table, va, leaf_level) = pa | flags | (leaf_level > 1 ? PS : 0);
  }
  uint64_t leaf(uint64_t va, unsigned leaf_level = 1) {
    uint64_t table = cr3 & ~0xfffull;
    for (unsigned l = 4; l > leaf_level; --l) table = pte(table, va, l) & x86::phys_mask(46);
    return pte(table, va, leaf_level);
  }
  // A user access through the MMU: fast path first, the TLM path otherwise.
  // Accesses are spaced out so that earlier walks have completed.
  AccessOutcome access(uint64_t va, x86::Access acc, uint64_t& data, bool* fast = nullptr,
                       MmuAccessExtension* out = nullptr) {
    now += sc_time(1, sc_core::SC_US);
    sc_time delay = now;
    if (mmu.try_access(va, 8, acc, true, &data, delay)) {
      if (fast) *fast = true;
      return AccessOutcome::ok;
    }
    if (fast) *fast = false;
    tlm::tlm_generic_payload t;
    MmuAccessExtension ext;
    ext.access = acc;
    ext.user = true;
    t.set_extension(&ext);
    t.set_command(acc == x86::Access::write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(va);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&data));
    t.set_data_length(8);
    t.set_streaming_width(8);
    cpu.socket->b_transport(t, delay);
    t.clear_extension(&ext);
    if (out) *out = ext;
    return ext.outcome;
  }
};

TEST(Dram, DmiCoversMemoryAndStopsAtPoison) {
  Machine m;
  tlm::tlm_generic_payload t;
  tlm::tlm_dmi dmi;
  t.set_address(0x5000);
  ASSERT_TRUE(m.probe.socket->get_direct_mem_ptr(t, dmi));
  EXPECT_EQ(dmi.get_start_address(), 0u);
  EXPECT_EQ(dmi.get_end_address(), kMem - 1);
  EXPECT_EQ(dmi.get_read_latency(), sc_time(80, SC_NS));

  m.dram.inject_poison(0x200040);
  t.set_address(0x5000);
  ASSERT_TRUE(m.probe.socket->get_direct_mem_ptr(t, dmi));
  EXPECT_EQ(dmi.get_end_address(), 0x1fffffu);
  t.set_address(0x200000);
  EXPECT_FALSE(m.probe.socket->get_direct_mem_ptr(t, dmi));
  t.set_address(0x201000);
  ASSERT_TRUE(m.probe.socket->get_direct_mem_ptr(t, dmi));
  EXPECT_EQ(dmi.get_start_address(), 0x201000u);
  EXPECT_EQ(m.dram.stats.dmi_invalidations.value(), 1u);

  // A read of the poisoned line: error response, poison reported.
  uint64_t v = 0;
  PoisonExtension poison;
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_address(0x200048);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  t.set_data_length(8);
  t.set_streaming_width(8);
  t.set_extension(&poison);
  sc_time d = SC_ZERO_TIME;
  m.probe.socket->b_transport(t, d);
  t.clear_extension(&poison);
  EXPECT_EQ(t.get_response_status(), tlm::TLM_GENERIC_ERROR_RESPONSE);
  EXPECT_TRUE(poison.poisoned);
  EXPECT_EQ(poison.pa, 0x200048u);
  // The neighbouring line of the same page reads fine (through a transaction).
  t.set_address(0x200080);
  t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
  m.probe.socket->b_transport(t, d);
  EXPECT_TRUE(t.is_response_ok());

  EXPECT_TRUE(m.dram.clear_poison(0x200040));
  t.set_address(0x200000);
  EXPECT_TRUE(m.probe.socket->get_direct_mem_ptr(t, dmi));
}

TEST(Interconnect, DecodeErrorAndNumaLatency) {
  sim::stats::Group root(nullptr, "system");
  Interconnect bus("membus", sc_time(2, SC_NS), &root);
  Dram d0("d0", Dram::Params{0, 1 << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10, 20}}, &root);
  Dram d1("d1", Dram::Params{1 << 20, 1 << 20, 1, sc_time(80, SC_NS), sc_time(80, SC_NS), {20, 10}}, &root);
  Initiator a("a");
  bus.to_targets.bind(d0.socket);
  bus.to_targets.bind(d1.socket);
  bus.add_region(0, 0, 1 << 20, "d0");
  bus.add_region(1, 1 << 20, 1 << 20, "d1");
  a.socket.bind(bus.from_initiators);
  bus.set_initiator_node(0, 0);
  EXPECT_THROW(bus.add_region(1, 0x80000, 0x1000, "overlap"), std::invalid_argument);
  sc_core::sc_start(SC_ZERO_TIME);

  uint64_t v = 0;
  tlm::tlm_generic_payload t;
  t.set_command(tlm::TLM_READ_COMMAND);
  t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
  t.set_data_length(8);
  t.set_streaming_width(8);
  sc_time d = SC_ZERO_TIME;
  t.set_address(0x1000);
  a.socket->b_transport(t, d);
  EXPECT_TRUE(t.is_response_ok());
  EXPECT_EQ(d, sc_time(82, SC_NS));  // local node + the hop
  d = SC_ZERO_TIME;
  t.set_address((1 << 20) + 0x1000);
  a.socket->b_transport(t, d);
  EXPECT_EQ(d, sc_time(162, SC_NS));  // remote: distance 20 doubles the latency
  t.set_address(3 << 20);
  a.socket->b_transport(t, d);
  EXPECT_EQ(t.get_response_status(), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(bus.stats.decode_errors.value(), 1u);
}

TEST(Walker, FourKiBTranslationSetsAccessedAndDirty) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US);
  uint64_t v = 0x1122334455667788;
  ASSERT_EQ(m.access(0x400010, x86::Access::write, v), AccessOutcome::ok);
  EXPECT_EQ(*reinterpret_cast<uint64_t*>(m.dram.host(0x2000010)), 0x1122334455667788u);
  EXPECT_TRUE(m.leaf(0x400000) & x86::PTE_A);
  EXPECT_TRUE(m.leaf(0x400000) & x86::PTE_D);
  EXPECT_EQ(m.walker.stats.walks.value(), 1u);
  EXPECT_EQ(m.walker.stats.pt_reads.value(), 4u + 4u);  // four levels, then four locked A/D updates
  EXPECT_EQ(m.walker.stats.ad_writes.value(), 4u);
}

TEST(Walker, NotPresentFaultCarriesErrorCodeAndLevel) {
  Machine m;
  uint64_t v = 0;
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x7000000, x86::Access::write, v, nullptr, &ext), AccessOutcome::page_fault);
  EXPECT_EQ(ext.fault_addr, 0x7000000u);
  EXPECT_EQ(ext.error_code, x86::PF_W | x86::PF_U);
  EXPECT_EQ(ext.fault_level, 4u);
  EXPECT_EQ(ext.reason, FaultReason::not_present);
}

TEST(Walker, HugePagesAndReservedBits) {
  Machine m;
  m.map(0x40000000, 0x0, P | RW | US, 3);  // 1 GiB at 1 GiB -> pa 0
  m.map(0x80200000, 0x200000, P | RW | US, 2);
  uint64_t v = 0;
  ASSERT_EQ(m.access(0x40123458, x86::Access::read, v), AccessOutcome::ok);
  EXPECT_EQ(m.walker.stats.leaves_1g.value(), 1u);
  ASSERT_EQ(m.access(0x80200008, x86::Access::read, v), AccessOutcome::ok);
  EXPECT_EQ(m.walker.stats.leaves_2m.value(), 1u);
  // A misaligned 2 MiB frame is a reserved-bit fault.
  m.map(0x80400000, 0x202000, P | RW | US, 2);  // bit 13: misaligned (bit 12 would be PAT)
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x80400000, x86::Access::read, v, nullptr, &ext), AccessOutcome::page_fault);
  EXPECT_EQ(ext.error_code, x86::PF_P | x86::PF_RSVD | x86::PF_U);
  EXPECT_EQ(ext.fault_level, 2u);
}

TEST(Walker, PoisonedPageTableIsAMachineCheck) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US);
  uint64_t pt = m.cr3;  // the PML4 itself
  m.dram.inject_poison(pt + 8 * x86::pt_index(0x400000, 4));
  uint64_t v = 0;
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x400000, x86::Access::read, v, nullptr, &ext), AccessOutcome::machine_check);
  EXPECT_TRUE(ext.mc_in_walk);
  EXPECT_EQ(m.walker.stats.machine_checks.value(), 1u);
}

// Every access length, the inline ones (1-16) and longer: exactly len bytes
// arrive, none around them changes, at every alignment.
TEST(Mmu, AccessBytesAreCopiedExactly) {
  for (unsigned len = 0; len <= 40; ++len) {
    for (unsigned offset = 0; offset < 8; ++offset) {
      uint8_t src[64], dst[64];
      for (unsigned i = 0; i < 64; ++i) {
        src[i] = static_cast<uint8_t>(i * 7 + 1);
        dst[i] = 0xee;
      }
      hw::copy_access_bytes(dst + 8 + offset, src + offset, len);
      for (unsigned i = 0; i < 64; ++i) {
        const bool inside = i >= 8 + offset && i < 8 + offset + len;
        EXPECT_EQ(dst[i], inside ? src[i - 8] : 0xee) << "len " << len << " offset " << offset << " byte " << i;
      }
    }
  }
}

TEST(Mmu, HitsTakeTheFastPathWithoutATlmCall) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US | x86::PTE_A | x86::PTE_D);
  uint64_t v = 42;
  bool fast = true;
  ASSERT_EQ(m.access(0x400000, x86::Access::write, v, &fast), AccessOutcome::ok);
  EXPECT_FALSE(fast);
  for (int i = 0; i < 100; ++i) {
    uint64_t r = 0;
    ASSERT_EQ(m.access(0x400000 + 8 * (i % 512), x86::Access::read, r, &fast), AccessOutcome::ok);
    EXPECT_TRUE(fast);
  }
  EXPECT_EQ(m.mmu.stats.slow_accesses.value(), 1u);
  EXPECT_EQ(m.mmu.dtlb().stats.misses.value(), 1u);
  EXPECT_EQ(m.mmu.dtlb().hits(), 100u);
}

TEST(Mmu, WriteThroughCleanEntryWalksToSetDirty) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US);
  uint64_t v = 0;
  ASSERT_EQ(m.access(0x400000, x86::Access::read, v), AccessOutcome::ok);
  EXPECT_FALSE(m.leaf(0x400000) & x86::PTE_D);
  bool fast = true;
  v = 7;
  ASSERT_EQ(m.access(0x400000, x86::Access::write, v, &fast), AccessOutcome::ok);
  EXPECT_FALSE(fast);
  EXPECT_TRUE(m.leaf(0x400000) & x86::PTE_D);
  EXPECT_EQ(m.mmu.stats.dirty_updates.value(), 1u);
  ASSERT_EQ(m.access(0x400000, x86::Access::write, v, &fast), AccessOutcome::ok);
  EXPECT_TRUE(fast);
}

TEST(Mmu, ReadOnlyPageFaultsOnWriteWithProtectionCode) {
  Machine m;
  m.map(0x400000, 0x2000000, P | US);
  uint64_t v = 0;
  ASSERT_EQ(m.access(0x400000, x86::Access::read, v), AccessOutcome::ok);
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x400000, x86::Access::write, v, nullptr, &ext), AccessOutcome::page_fault);
  EXPECT_EQ(ext.error_code, x86::PF_P | x86::PF_W | x86::PF_U);
  EXPECT_EQ(ext.reason, FaultReason::protection);
}

TEST(Mmu, Cr3FlushKeepsGlobalsAndNoFlushKeepsEverything) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US | G);
  m.map(0x600000, 0x2100000, P | RW | US);
  uint64_t v = 0;
  m.access(0x400000, x86::Access::read, v);
  m.access(0x600000, x86::Access::read, v);
  bool fast = false;
  m.mmu.write_cr3(m.cr3 | x86::CR3_NOFLUSH);
  m.access(0x600000, x86::Access::read, v, &fast);
  EXPECT_TRUE(fast) << "the no-flush bit must keep this PCID's entries";
  m.mmu.write_cr3(m.cr3);
  m.access(0x400000, x86::Access::read, v, &fast);
  EXPECT_TRUE(fast) << "a global entry must survive a CR3 write";
  m.access(0x600000, x86::Access::read, v, &fast);
  EXPECT_FALSE(fast) << "a non-global entry must not survive a flushing CR3 write";
}

TEST(Mmu, InvlpgAndInvpcidRemoveWhatTheyName) {
  Machine m;
  m.map(0x400000, 0x2000000, P | RW | US);
  m.map(0x401000, 0x2001000, P | RW | US);
  m.map(0x502000, 0x2100000, P | RW | US | G);
  uint64_t v = 0;
  bool fast = false;
  // All, then all again: the second round's hits put each page in the MMU's
  // memo (no fill after them makes it stale; the pages have memo slots of
  // their own), which every invalidation must empty too.
  auto warm = [&] {
    for (int i = 0; i < 2; ++i)
      for (uint64_t va : {0x400000ull, 0x401000ull, 0x502000ull}) m.access(va, x86::Access::read, v);
  };
  auto cached = [&](uint64_t va) {
    m.access(va, x86::Access::read, v, &fast);
    return fast;
  };
  warm();
  m.mmu.invlpg(0x400000);
  // (The first access after a serialising operation bypasses the memo: the
  // second is the memo's test.)
  EXPECT_TRUE(cached(0x401000));
  EXPECT_FALSE(cached(0x400000));
  warm();
  m.mmu.invpcid(x86::InvpcidType::single_context, m.mmu.pcid(), 0);
  EXPECT_TRUE(cached(0x502000));  // globals stay
  EXPECT_FALSE(cached(0x401000));
  warm();
  m.mmu.invpcid(x86::InvpcidType::all_contexts_global, 0, 0);
  EXPECT_FALSE(cached(0x502000));
}

// Maps 0x400000 to 0x2000000 and reads it twice: the second read takes the
// fast path (DMI). Then poisons 0x2000100, which revokes DMI there.
void poison_a_mapped_page(Machine& m) {
  m.map(0x400000, 0x2000000, P | RW | US | x86::PTE_A | x86::PTE_D);
  uint64_t v = 0;
  bool fast = false;
  m.access(0x400000, x86::Access::read, v);
  m.access(0x400000, x86::Access::read, v, &fast);
  ASSERT_TRUE(fast);
  m.dram.inject_poison(0x2000100);
}

TEST(Mmu, PoisonRevokesTheHostPointerAndReadsRaiseMachineChecks) {
  Machine m;
  poison_a_mapped_page(m);
  uint64_t v = 0;
  bool fast = false;
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x400100, x86::Access::read, v, &fast, &ext), AccessOutcome::machine_check);
  EXPECT_FALSE(fast);
  EXPECT_EQ(ext.mc_pa, 0x2000100u);
  EXPECT_FALSE(ext.mc_in_walk);
  // Elsewhere in the page the data is still readable, through transactions.
  EXPECT_EQ(m.access(0x400200, x86::Access::read, v, &fast), AccessOutcome::ok);
  EXPECT_FALSE(fast);
}

// The MMU keeps the DMI region of its last fill: a revocation must drop it,
// so that a fill after it asks memory again (whose new regions stop short
// of the poisoned line).
TEST(Mmu, FillsAfterARevocationAskForDmiAgain) {
  Machine m;
  m.map(0x401000, 0x2001000, P | RW | US | x86::PTE_A | x86::PTE_D);
  poison_a_mapped_page(m);
  uint64_t v = 0;
  bool fast = false;
  m.mmu.invlpg(0x400000);  // the next access walks and fills again
  MmuAccessExtension ext;
  EXPECT_EQ(m.access(0x400100, x86::Access::read, v, &fast, &ext), AccessOutcome::machine_check);
  EXPECT_FALSE(fast);
  EXPECT_EQ(ext.mc_pa, 0x2000100u);
  // The next page is clear of the poison: its fill has a host pointer again.
  EXPECT_EQ(m.access(0x401000, x86::Access::read, v), AccessOutcome::ok);
  EXPECT_EQ(m.access(0x401008, x86::Access::read, v, &fast), AccessOutcome::ok);
  EXPECT_TRUE(fast);
}

}  // namespace
}  // namespace hw
