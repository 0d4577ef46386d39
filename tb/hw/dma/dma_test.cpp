// The DMA engine and the bus-side DMA checker: the engine copies within its
// address width and refuses (and reports) accesses beyond it instead of
// truncating, reports poison, walks scatter-gather chains it reads from
// memory (a chain beyond its width fails too), takes the time its bandwidth
// says, interrupts; the checker flags accesses outside the ranges mapped for
// the device (told through its MMIO debug channel), answers accesses beyond
// a device's width with an address error, and fails the run unless the
// scenario expects violations.
#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstring>
#include <systemc>

#include "hw/base/time.h"
#include "hw/bus/interconnect.h"
#include "hw/dma/dma_checker.h"
#include "hw/dma/dma_engine.h"
#include "hw/intc/intc.h"
#include "hw/mem/dram.h"
#include "tb/common/mmio_cpu.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

using Sink = tb::IrqRecorder;
using Cpu = tb::MmioCpu;

constexpr uint64_t kBase = 0xfed00000, kCheck = 0xfed0f000, kIntc = 0xfee00000;

DmaEngine::Params isa_params() {
  DmaEngine::Params p;
  p.info.name = "isa";
  p.info.kind = "dma";
  p.info.id = 1;
  p.info.addr_bits = 24;
  p.info.mmio_base = kBase;
  p.info.mmio_size = DmaEngine::kMmioSize;
  p.info.vector = 0x40;
  p.bandwidth = 1ull << 30;
  return p;
}

DmaChecker::Params checker_params(bool expect) {
  DmaChecker::Params p;
  p.mmio_base = kCheck;
  p.id = 2;
  p.expect_violations = expect;
  return p;
}

// Memory, an interrupt controller, a 24-bit engine behind the checker, and
// a CPU that programs both through MMIO.
struct Bench {
  explicit Bench(bool expect_violations = false, uint64_t bandwidth = 1ull << 30)
      : checker("checker", checker_params(expect_violations), &root, {isa_params().info}),
        isa(
            "isa",
            [&] {
              DmaEngine::Params p = isa_params();
              p.bandwidth = bandwidth;
              return p;
            }(),
            env()) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, 64ull << 20, "dram");
    bus.to_targets.bind(isa.mmio);
    bus.add_region(1, kBase, DmaEngine::kMmioSize, "isa");
    bus.to_targets.bind(intc.socket);
    bus.add_region(2, kIntc, InterruptController::kMmioSize, "intc");
    bus.to_targets.bind(checker.mmio);
    bus.add_region(3, kCheck, DmaChecker::kMmioSize, "checker");
    isa.master.bind(checker.port(isa.info().id));
    checker.to_bus.bind(bus.from_initiators);
    cpu.socket.bind(bus.from_initiators);
    intc.connect(0, &sink);
  }
  sim::DeviceEnv env() {
    sim::DeviceEnv e;
    e.stats_parent = &root;
    e.irq = &intc;
    e.permissions = &checker;
    return e;
  }
  // The firmware's side of the debug channel.
  void map(uint64_t addr, uint64_t size, bool unmap = false) {
    cpu.reg(kCheck + DmaChecker::kRegDevice, isa.info().id, true);
    cpu.reg(kCheck + DmaChecker::kRegAddr, addr, true);
    cpu.reg(kCheck + DmaChecker::kRegSize, size, true);
    cpu.reg(kCheck + DmaChecker::kRegCmd, unmap ? DmaChecker::kCmdUnmap : DmaChecker::kCmdMap, true);
  }
  uint64_t reg(uint64_t off) { return cpu.reg(kBase + off, 0, false); }
  void set(uint64_t off, uint64_t v) { cpu.reg(kBase + off, v, true); }
  // Programs a copy through the registers, runs until it finishes.
  uint64_t transfer(uint64_t src, uint64_t dst, uint64_t len) {
    set(DmaEngine::kRegSrc, src);
    set(DmaEngine::kRegDst, dst);
    set(DmaEngine::kRegLen, len);
    return go(DmaEngine::kCtrlStart);
  }
  uint64_t go(uint64_t ctrl) {
    set(DmaEngine::kRegIrq, 0x40);  // vector 0x40 to cpu 0
    set(DmaEngine::kRegCtrl, ctrl);
    EXPECT_TRUE(reg(DmaEngine::kRegStatus) & DmaEngine::kStatusBusy);
    sc_core::sc_start(sc_time(20, sc_core::SC_MS));
    return reg(DmaEngine::kRegStatus);
  }
  void descriptor(uint64_t at, uint64_t src, uint64_t dst, uint32_t len, bool last, uint64_t next) {
    uint8_t* d = dram.host(at);
    const uint32_t flags = last ? DmaEngine::kDescLast : 0;
    std::memcpy(d, &src, 8);
    std::memcpy(d + 8, &dst, 8);
    std::memcpy(d + 16, &len, 4);
    std::memcpy(d + 20, &flags, 4);
    std::memcpy(d + 24, &next, 8);
  }

  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, 64ull << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  InterruptController intc{"intc", kIntc, SC_ZERO_TIME, &root};
  DmaChecker checker;
  DmaEngine isa;
  Cpu cpu{"cpu"};
  Sink sink;
};

uint64_t error_of(uint64_t status) { return status >> 8; }

TEST(Dma, CopiesWithinItsWidthAndInterrupts) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  for (int i = 0; i < 8192; ++i) b.dram.host(0x100000)[i] = static_cast<uint8_t>(i * 7);
  b.map(0x100000, 8192);
  b.map(0x800000, 8192);
  const uint64_t st = b.transfer(0x100000, 0x800000, 8192);
  EXPECT_EQ(st, DmaEngine::kStatusDone);  // done, no error, nothing flagged
  EXPECT_EQ(std::memcmp(b.dram.host(0x100000), b.dram.host(0x800000), 8192), 0);
  EXPECT_EQ(b.sink.count, 1);
  EXPECT_EQ(b.sink.last, 0x40);
  EXPECT_EQ(b.isa.stats.bytes.value(), 8192u);
  EXPECT_EQ(b.reg(DmaEngine::kRegCount), 8192u);
  EXPECT_EQ(b.reg(DmaEngine::kRegWidth), 24u);
  EXPECT_EQ(b.checker.violations(), 0u);
  EXPECT_EQ(b.checker.end_of_run_problem(), "");
}

TEST(Dma, BeyondItsWidthIsAnErrorNotATruncation) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  std::memset(b.dram.host(0x0), 0xaa, 4096);
  std::memset(b.dram.host(0x1000000), 0x55, 4096);  // 16 MiB: one past a 24-bit bus
  b.map(0, 0x1000000);
  const uint64_t st = b.transfer(0x1000000, 0x0, 4096);
  EXPECT_EQ(error_of(st), static_cast<uint64_t>(DmaError::beyond_width));
  EXPECT_EQ(b.reg(DmaEngine::kRegErrAddr), 0x1000000u);
  EXPECT_EQ(b.dram.host(0x0)[0], 0xaa) << "nothing may be copied from a truncated address";
  EXPECT_EQ(b.isa.stats.beyond_width.value(), 1u);
  EXPECT_EQ(b.sink.count, 1);  // failure is reported by interrupt too
  // A transfer that ends exactly at the 16 MiB line is fine; one byte more is not.
  EXPECT_EQ(error_of(b.transfer(0xfff000, 0x0, 4096)), 0u);
  EXPECT_EQ(error_of(b.transfer(0xfff000, 0x0, 4097)), static_cast<uint64_t>(DmaError::beyond_width));
  EXPECT_EQ(b.reg(DmaEngine::kRegErrAddr), 0x1000000u);
}

TEST(Dma, PoisonedSourceIsReported) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.map(0, 0x1000000);
  b.dram.inject_poison(0x200040);
  const uint64_t st = b.transfer(0x200000, 0x300000, 4096);
  EXPECT_EQ(error_of(st), static_cast<uint64_t>(DmaError::poison));
  EXPECT_EQ(b.reg(DmaEngine::kRegErrAddr), 0x200040u);
  EXPECT_EQ(b.isa.stats.poison.value(), 1u);
  EXPECT_EQ(error_of(b.transfer(0x201000, 0x300000, 0)), static_cast<uint64_t>(DmaError::bad_length));
}

TEST(Dma, WalksAScatterGatherChainItReadsFromMemory) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.map(0, 0x1000000);
  for (int i = 0; i < 3 * 4096; ++i) b.dram.host(0x400000)[i] = static_cast<uint8_t>(i * 13 + 1);
  // Three pieces, gathered in reverse order into one buffer; the chain is not contiguous.
  b.descriptor(0x10000, 0x402000, 0x500000, 4096, false, 0x20000);
  b.descriptor(0x20000, 0x401000, 0x501000, 4096, false, 0x10040);
  b.descriptor(0x10040, 0x400000, 0x502000, 100, true, 0);
  b.set(DmaEngine::kRegDesc, 0x10000);
  const uint64_t st = b.go(DmaEngine::kCtrlStartChain);
  EXPECT_EQ(st, DmaEngine::kStatusDone);
  EXPECT_EQ(b.reg(DmaEngine::kRegNdesc), 3u);
  EXPECT_EQ(b.reg(DmaEngine::kRegCount), 8192u + 100);
  EXPECT_EQ(std::memcmp(b.dram.host(0x500000), b.dram.host(0x402000), 4096), 0);
  EXPECT_EQ(std::memcmp(b.dram.host(0x501000), b.dram.host(0x401000), 4096), 0);
  EXPECT_EQ(std::memcmp(b.dram.host(0x502000), b.dram.host(0x400000), 100), 0);
  EXPECT_EQ(b.dram.host(0x502000)[100], 0) << "no byte past the last descriptor's length";
  EXPECT_EQ(b.isa.stats.descriptors.value(), 3u);
}

TEST(Dma, ADescriptorChainBeyondItsWidthFailsToo) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.map(0, 0x1000000);
  b.descriptor(0x1000000, 0x100000, 0x200000, 64, true, 0);  // where a 24-bit engine cannot read it
  b.set(DmaEngine::kRegDesc, 0x1000000);
  EXPECT_EQ(error_of(b.go(DmaEngine::kCtrlStartChain)), static_cast<uint64_t>(DmaError::beyond_width));
  EXPECT_EQ(b.reg(DmaEngine::kRegErrAddr), 0x1000000u);
  // A chain whose second descriptor points beyond the width fails after the first.
  b.descriptor(0x30000, 0x100000, 0x200000, 64, false, 0x1000040);
  b.set(DmaEngine::kRegDesc, 0x30000);
  EXPECT_EQ(error_of(b.go(DmaEngine::kCtrlStartChain)), static_cast<uint64_t>(DmaError::beyond_width));
  EXPECT_EQ(b.reg(DmaEngine::kRegNdesc), 1u);
  // A descriptor of length zero is refused.
  b.descriptor(0x30000, 0x100000, 0x200000, 0, true, 0);
  EXPECT_EQ(error_of(b.go(DmaEngine::kCtrlStartChain)), static_cast<uint64_t>(DmaError::bad_length));
}

TEST(Dma, TakesTheTimeItsBandwidthSays) {
  Bench b(false, 64ull << 20);  // 64 MiB/s: 1 MiB in 15.625 ms
  sc_core::sc_start(SC_ZERO_TIME);
  b.map(0, 0x1000000);
  const uint64_t len = 1ull << 20;
  EXPECT_EQ(b.transfer(0x100000, 0x400000, len), DmaEngine::kStatusDone);
  const double expected_ns = 200 + 160 + 1e9 * static_cast<double>(len) / (64.0 * (1 << 20));  // setup, latency, bytes
  EXPECT_NEAR(static_cast<double>(b.isa.stats.busy_ns.value()), expected_ns, 1.0);
}

TEST(Dma, TheCheckerFlagsAccessesOutsideTheMappedRanges) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.map(0x100000, 4096);
  b.map(0x200000, 2048);  // the destination's first half only
  const uint64_t st = b.transfer(0x100000, 0x200000, 4096);
  EXPECT_EQ(st, DmaEngine::kStatusDone | DmaEngine::kStatusChecker) << "the copy goes on; the status flags it";
  EXPECT_EQ(std::memcmp(b.dram.host(0x100000), b.dram.host(0x200000), 4096), 0);
  EXPECT_EQ(b.checker.violations(), 2048u / 64);  // every write burst of the second half
  EXPECT_EQ(b.isa.stats.checker_flags.value(), 1u);
  const std::string problem = b.checker.end_of_run_problem();
  EXPECT_NE(problem.find("32 DMA violation(s)"), std::string::npos) << problem;
  EXPECT_NE(problem.find("isa write of 64 bytes at 0x200800, not mapped for it (nearest mapping [0x200000, 0x200800), "
                         "0x1 bytes below)"),
            std::string::npos)
      << problem;
  // Unmapping makes a range stale: the next transfer there is flagged; a
  // range mapped twice stays until both maps are gone.
  b.map(0x200800, 2048);
  b.map(0x100000, 4096);
  b.map(0x100000, 4096, true);
  EXPECT_EQ(b.transfer(0x100000, 0x200000, 4096), DmaEngine::kStatusDone);
  b.map(0x100000, 4096, true);
  EXPECT_EQ(b.transfer(0x100000, 0x200000, 4096), DmaEngine::kStatusDone | DmaEngine::kStatusChecker);
  b.map(0x300000, 4096, true);  // never mapped
  EXPECT_EQ(b.checker.stats.bad_unmaps.value(), 1u);
}

TEST(Dma, ExpectedViolationsPassMissingOnesFail) {
  Bench expecting(true);
  sc_core::sc_start(SC_ZERO_TIME);
  EXPECT_NE(expecting.checker.end_of_run_problem(), "") << "none found, some expected";
  EXPECT_EQ(expecting.transfer(0x100000, 0x200000, 64), DmaEngine::kStatusDone | DmaEngine::kStatusChecker);
  EXPECT_EQ(expecting.checker.end_of_run_problem(), "");
  EXPECT_NE(expecting.checker.summary().find("2 violation(s) (expected)"), std::string::npos);
}

// A device that drives addresses beyond its width (a model that truncates
// nothing itself) gets an address error from the checker.
struct RawDevice : sc_core::sc_module {
  sim::InitiatorSocket master{"master"};
  explicit RawDevice(sc_core::sc_module_name n) : sc_module(n) {}
};

TEST(Dma, TheCheckerAnswersAccessesBeyondADevicesWidth) {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, 64ull << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  RawDevice dev("dev");
  sim::DeviceInfo info;
  info.name = "raw";
  info.id = 5;
  info.addr_bits = 24;
  DmaChecker checker("checker", checker_params(false), &root, {info});
  bus.to_targets.bind(dram.socket);
  bus.add_region(0, 0, 64ull << 20, "dram");
  bus.to_targets.bind(checker.mmio);
  bus.add_region(1, kCheck, DmaChecker::kMmioSize, "checker");
  dev.master.bind(checker.port(info.id));
  checker.to_bus.bind(bus.from_initiators);
  sc_core::sc_start(SC_ZERO_TIME);
  checker.allow(5, 0, 64ull << 20);
  uint64_t v = 0;
  sc_time d = SC_ZERO_TIME;
  EXPECT_EQ(dev.master.read(0xfffff8, &v, 8, d), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(dev.master.read(0xfffffc, &v, 8, d), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(dev.master.read(0x1000000, &v, 8, d), tlm::TLM_ADDRESS_ERROR_RESPONSE);
  EXPECT_EQ(bus.stats.transactions.value(), 1u) << "refused accesses never reach the interconnect";
  const sim::stats::Stat* beyond = root.find("checker.raw.errorsBeyondWidth");
  ASSERT_NE(beyond, nullptr);
  EXPECT_EQ(static_cast<const sim::stats::Scalar*>(beyond)->value(), 2u);
  EXPECT_EQ(checker.violations(), 0u);
}

}  // namespace
}  // namespace hw
