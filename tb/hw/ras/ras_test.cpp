// The RAS model (hw/ras) alone: one DRAM, a stub interrupt controller and
// stub CPUs. Bank layout as the SDM gives it, the overwrite rules, the
// corrected-error count and CMCI threshold, the patrol scrubber's rate and
// reports, injection and unpoison revoking and restoring DMI.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/ext/memory.h"
#include "hw/mem/dram.h"
#include "hw/ras/mca.h"
#include "hw/ras/ras.h"

namespace hw {
namespace {

using namespace x86;
using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

McaError srar_load(uint64_t pa) {
  McaError e;
  e.uc = e.s = e.ar = true;
  e.mcacod = MCACOD_DATA;
  e.addr = pa;
  e.addrv = true;
  return e;
}

McaError corrected(uint64_t pa) {
  McaError e;
  e.mcacod = MCACOD_MEM_READ;
  e.addr = pa;
  e.addrv = true;
  return e;
}

TEST(McaBank, DataLoadRecordIsLaidOutAsTheSdmSays) {
  McaBank b;
  b.log(srar_load(0x1234040));
  // VAL UC EN MISCV ADDRV S AR, MCACOD 0x134: what a Linux log shows for an SRAR load.
  EXPECT_EQ(b.status, 0xbd80000000000134ull);
  EXPECT_EQ(b.addr, 0x1234040ull);
  EXPECT_EQ(b.misc & MCI_MISC_ADDR_LSB_MASK, 6u);                      // a 64-byte line
  EXPECT_EQ((b.misc >> MCI_MISC_ADDR_MODE_SHIFT) & 7, MCI_MISC_ADDR_PHYS);  // physical address
  EXPECT_EQ(MCI_STATUS_VAL, 1ull << 63);
  EXPECT_EQ(MCI_STATUS_PCC, 1ull << 57);
  EXPECT_EQ(MCI_STATUS_CEC_MASK, 0x7fffull << 38);
  EXPECT_EQ(msr_mc_status(2), 0x409u);
  EXPECT_EQ(msr_mc_ctl2(1), 0x281u);
}

TEST(McaBank, OverwriteRulesKeepTheFirstUncorrectedAndSetOver) {
  McaBank b;
  // UCR then UCR: the first stays, OVER set, S/AR sticky.
  McaError ucna = srar_load(0x1000);
  ucna.s = ucna.ar = false;
  b.log(ucna);
  b.log(srar_load(0x2000));
  EXPECT_EQ(b.addr, 0x1000u);
  EXPECT_TRUE(b.status & MCI_STATUS_OVER);
  EXPECT_TRUE(b.status & MCI_STATUS_AR);
  EXPECT_TRUE(b.status & MCI_STATUS_S);
  // A corrected error never overwrites it, but counts.
  b.log(corrected(0x3000));
  EXPECT_EQ(b.addr, 0x1000u);
  EXPECT_EQ(b.corrected_count(), 1u);
  // A PCC=1 error overwrites a recoverable one.
  McaError fatal = srar_load(0x4000);
  fatal.pcc = true;
  b.log(fatal);
  EXPECT_EQ(b.addr, 0x4000u);
  EXPECT_TRUE(b.status & MCI_STATUS_PCC);
  EXPECT_TRUE(b.status & MCI_STATUS_OVER);

  // CE then UCR: the uncorrected one overwrites.
  McaBank c;
  c.log(corrected(0x5000));
  EXPECT_FALSE(c.status & MCI_STATUS_OVER);
  c.log(srar_load(0x6000));
  EXPECT_EQ(c.addr, 0x6000u);
  EXPECT_TRUE(c.status & MCI_STATUS_UC);
  EXPECT_TRUE(c.status & MCI_STATUS_OVER);
  // Clearing (a write of 0 to MCi_STATUS) frees the bank.
  c.clear();
  EXPECT_FALSE(c.valid());
  c.log(corrected(0x7000));
  EXPECT_FALSE(c.status & MCI_STATUS_OVER);
}

TEST(McaBank, CmciFiresWhenTheCountReachesTheThreshold) {
  McaBank b;
  b.ctl2 = MCI_CTL2_CMCI_EN | 3;
  EXPECT_FALSE(b.log(corrected(0x40)));
  EXPECT_FALSE(b.log(corrected(0x80)));
  EXPECT_TRUE(b.log(corrected(0xc0)));
  EXPECT_EQ(b.corrected_count(), 3u);
  EXPECT_FALSE(b.log(corrected(0x100)));  // past the threshold: no new CMCI until cleared
  b.ctl2 = 3;                             // CMCI_EN clear: never
  b.clear();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(b.log(corrected(0x40)));
}

struct Irqs : sim::IrqSink {
  std::vector<std::pair<unsigned, uint8_t>> raised;
  void raise_irq(unsigned cpu, uint8_t vector) override { raised.push_back({cpu, vector}); }
};

struct Cpu : MachineCheckSink {
  std::vector<sc_time> raised;
  void raise_machine_check() override { raised.push_back(sc_core::sc_time_stamp()); }
};

// A bus master on the DRAM: reads, DMI requests, invalidations seen.
struct Master : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Master> socket{"socket"};
  unsigned invalidations = 0;
  explicit Master(sc_core::sc_module_name n) : sc_module(n) {
    socket.register_invalidate_direct_mem_ptr(this, &Master::invalidate);
  }
  void invalidate(sc_dt::uint64, sc_dt::uint64) { ++invalidations; }
  tlm::tlm_response_status read(uint64_t pa, uint8_t* buf, unsigned len, PoisonExtension* poison = nullptr) {
    tlm::tlm_generic_payload t;
    t.set_command(tlm::TLM_READ_COMMAND);
    t.set_address(pa);
    t.set_data_ptr(buf);
    t.set_data_length(len);
    t.set_streaming_width(len);
    if (poison) t.set_extension(poison);
    sc_time d = SC_ZERO_TIME;
    socket->b_transport(t, d);
    if (poison) t.clear_extension(poison);
    return t.get_response_status();
  }
  bool dmi(uint64_t pa, tlm::tlm_dmi& region) {
    tlm::tlm_generic_payload t;
    t.set_command(tlm::TLM_READ_COMMAND);
    t.set_address(pa);
    return socket->get_direct_mem_ptr(t, region);
  }
};

struct Rig {
  sim::stats::Group root{nullptr, "system"};
  Dram dram;
  Master master{"master"};
  Irqs irqs;
  Cpu cpu0, cpu1;
  Ras ras;
  Rig(const Ras::Params& p, uint64_t size = 1ull << 20)
      : dram("dram", Dram::Params{0, size, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root),
        ras("ras", p, 2, {&dram}, &irqs, &root) {
    master.socket.bind(dram.socket);
    ras.connect(0, &cpu0);
    ras.connect(1, &cpu1);
  }
};

TEST(Ras, CorrectedReadsReturnGoodDataAndRaiseCmciAtTheThreshold) {
  Ras::Params p;
  p.cmci_threshold = 2;
  Rig r(p);
  std::memset(r.dram.host(0x1000), 0xab, 64);
  r.dram.inject_corrected(0x1010);
  uint8_t buf[8] = {};
  ASSERT_EQ(r.master.read(0x1008, buf, 8), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(buf[0], 0xab);
  EXPECT_TRUE(r.irqs.raised.empty());
  ASSERT_EQ(r.master.read(0x1000, buf, 8), tlm::TLM_OK_RESPONSE);
  ASSERT_EQ(r.irqs.raised.size(), 1u);
  EXPECT_EQ(r.irqs.raised[0].second, VEC_CMCI);
  uint64_t status = 0, addr = 0;
  ASSERT_TRUE(r.ras.rdmsr(1, msr_mc_status(Ras::kBankMemory), status));  // shared by every CPU
  ASSERT_TRUE(r.ras.rdmsr(0, msr_mc_addr(Ras::kBankMemory), addr));
  EXPECT_FALSE(status & MCI_STATUS_UC);
  EXPECT_EQ((status & MCI_STATUS_CEC_MASK) >> MCI_STATUS_CEC_SHIFT, 2u);
  EXPECT_EQ(addr, 0x1000u);
  EXPECT_EQ(r.dram.stats.ce_reads.value(), 2u);
  // Software clears the bank; a non-zero write is refused as on hardware.
  EXPECT_FALSE(r.ras.wrmsr(0, msr_mc_status(Ras::kBankMemory), 1));
  EXPECT_TRUE(r.ras.wrmsr(0, msr_mc_status(Ras::kBankMemory), 0));
  EXPECT_FALSE(r.ras.bank(0, Ras::kBankMemory).valid());
  uint64_t cap = 0;
  ASSERT_TRUE(r.ras.rdmsr(0, MSR_IA32_MCG_CAP, cap));
  EXPECT_EQ(cap & MCG_BANKCNT_MASK, Ras::kBanks);
  EXPECT_TRUE(cap & MCG_CMCI_P);
  EXPECT_TRUE(cap & MCG_SER_P);
  EXPECT_FALSE(r.ras.rdmsr(0, 0x10, cap));  // not an MCA MSR
}

TEST(Ras, ConsumedErrorsAreLoggedPerCpuWithMcgStatus) {
  Rig r(Ras::Params{});
  const McaRecord load = r.ras.consume(1, 0x2040, Consumer::data_load);
  EXPECT_EQ(load.bank, Ras::kBankData);
  EXPECT_EQ(load.status, 0xbd80000000000134ull);
  EXPECT_EQ(load.mcg_status, MCG_STATUS_MCIP | MCG_STATUS_EIPV | MCG_STATUS_RIPV);
  EXPECT_FALSE(r.ras.bank(0, Ras::kBankData).valid());  // CPU 0's bank is its own
  const McaRecord fetch = r.ras.consume(0, 0x3000, Consumer::instruction_fetch);
  EXPECT_EQ(fetch.bank, Ras::kBankFetch);
  EXPECT_EQ(fetch.status & MCI_STATUS_MCACOD_MASK, MCACOD_INSTR);
  // A second error in CPU 1's uncleared bank: the first is kept, OVER set.
  const McaRecord again = r.ras.consume(1, 0x4000, Consumer::page_walk);
  EXPECT_EQ(again.addr, 0x2040u);
  EXPECT_TRUE(again.status & MCI_STATUS_OVER);
  EXPECT_EQ(r.ras.stats.overflows.value(), 1u);
  EXPECT_EQ(r.ras.stats.nested_mc.value(), 1u);  // MCIP was still set
}

TEST(Ras, ScrubberFindsAnInjectedUncorrectedLineAtItsRateWithoutConsumingIt) {
  Ras::Params p;
  p.scrub_period = sc_time(2, SC_NS);
  p.signal_cpu = 1;
  Rig r(p);  // 1 MiB: 16384 lines, a pass in 32768 ns
  const uint64_t line = 1000;
  r.dram.inject_poison(line * 64 + 8);
  sc_core::sc_start(sc_time(10, sc_core::SC_US));
  ASSERT_EQ(r.cpu1.raised.size(), 1u);
  EXPECT_TRUE(r.cpu0.raised.empty());
  EXPECT_EQ(r.cpu1.raised[0], sc_time(2 * line, SC_NS));  // reached at line * period
  McaRecord rec;
  ASSERT_TRUE(r.ras.take_pending(1, rec));
  EXPECT_FALSE(r.ras.take_pending(1, rec));
  EXPECT_EQ(rec.bank, Ras::kBankMemory);
  EXPECT_EQ(rec.addr, line * 64);
  // SRAO: VAL UC EN MISCV ADDRV S, no AR, MCACOD 0xC0 (memory scrubbing).
  EXPECT_EQ(rec.status, 0xbd000000000000c0ull);
  EXPECT_EQ(rec.mcg_status, MCG_STATUS_MCIP | MCG_STATUS_RIPV);
  // Found, not consumed: the line is still poisoned and nothing read it.
  EXPECT_TRUE(r.dram.is_poisoned(line * 64, 64));
  EXPECT_EQ(r.dram.stats.poison_consumed.value(), 0u);
  EXPECT_EQ(r.ras.stats.scrub_uc.value(), 1u);
  // A correctable error injected later is corrected by the scrubber when it
  // gets there (its line is written back) and counted in the memory bank.
  r.ras.wrmsr(1, msr_mc_status(Ras::kBankMemory), 0);
  const uint64_t ce_line = 8000;
  r.dram.inject_corrected(ce_line * 64);
  sc_core::sc_start(sc_time(10, sc_core::SC_US));
  EXPECT_FALSE(r.dram.is_corrected(ce_line * 64, 64));
  EXPECT_EQ(r.ras.stats.scrub_ce.value(), 1u);
  EXPECT_EQ(r.ras.bank(1, Ras::kBankMemory).addr, ce_line * 64);
  ASSERT_EQ(r.irqs.raised.size(), 1u);  // threshold 1: CMCI
  EXPECT_EQ(r.irqs.raised[0].first, 1u);
  EXPECT_GE(r.ras.stats.scrub_lines.value(), ce_line);
}

TEST(Ras, ScheduledInjectionsHappenAtTheirTime) {
  Ras::Params p;
  p.inject.push_back({0x8000, true, sc_time(3, sc_core::SC_US)});
  p.inject.push_back({0x9000, false, sc_time(1, sc_core::SC_US)});
  Rig r(p);
  sc_core::sc_start(sc_time(2, sc_core::SC_US));
  EXPECT_TRUE(r.dram.is_corrected(0x9000, 1));
  EXPECT_FALSE(r.dram.is_poisoned(0x8000, 1));
  sc_core::sc_start(sc_time(2, sc_core::SC_US));
  EXPECT_TRUE(r.dram.is_poisoned(0x8000, 1));
  EXPECT_EQ(r.ras.stats.injected.value(), 2u);
}

TEST(Dram, InjectionRevokesDmiAndUnpoisonRestoresIt) {
  sim::stats::Group root{nullptr, "system"};
  Dram dram("dram", Dram::Params{0, 1ull << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root);
  Master m("master");
  m.socket.bind(dram.socket);
  tlm::tlm_dmi region;
  ASSERT_TRUE(m.dmi(0x5000, region));
  for (const bool uc : {true, false}) {
    const unsigned before = m.invalidations;
    uc ? dram.inject_poison(0x5040) : dram.inject_corrected(0x5040);
    EXPECT_EQ(m.invalidations, before + 1);  // every initiator drops the page
    tlm::tlm_dmi none;
    EXPECT_FALSE(m.dmi(0x5000, none));
    EXPECT_EQ(none.get_granted_access(), tlm::tlm_dmi::DMI_ACCESS_NONE);
    ASSERT_TRUE(m.dmi(0x4000, region));  // its neighbours keep DMI, stopping short of it
    EXPECT_EQ(region.get_end_address(), 0x4fffu);
    uint8_t buf[8];
    PoisonExtension poison;
    const auto rsp = m.read(0x5040, buf, 8, &poison);
    EXPECT_EQ(rsp == tlm::TLM_OK_RESPONSE, !uc);
    EXPECT_EQ(poison.poisoned, uc);
    EXPECT_TRUE(dram.clear_poison(0x5040));
    EXPECT_FALSE(dram.clear_poison(0x5040));
    ASSERT_TRUE(m.dmi(0x5000, region));  // restored
    EXPECT_LE(region.get_start_address(), 0x5000u);
    EXPECT_GE(region.get_end_address(), 0x5fffu);
  }
  // An uncorrected error replaces a correctable one in its line.
  dram.inject_corrected(0x6000);
  dram.inject_poison(0x6000);
  EXPECT_TRUE(dram.is_poisoned(0x6000, 1));
  EXPECT_FALSE(dram.is_corrected(0x6000, 1));
}

}  // namespace
}  // namespace hw
