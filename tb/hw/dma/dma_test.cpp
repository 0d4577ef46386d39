// The DMA engine: copies within its address width, refuses (and reports)
// transfers beyond it instead of truncating, reports poison, interrupts.
#include <gtest/gtest.h>

#include <cstring>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/bus/interconnect.h"
#include "hw/dma/dma_engine.h"
#include "hw/intc/intc.h"
#include "hw/mem/dram.h"

namespace hw {
namespace {

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

struct Sink : InterruptSink {
  int count = 0;
  uint8_t last = 0;
  void raise_interrupt(uint8_t v) override {
    ++count;
    last = v;
  }
};

struct Cpu : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Cpu> socket{"socket"};
  explicit Cpu(sc_core::sc_module_name n) : sc_module(n) {}
  uint64_t reg(uint64_t addr, uint64_t v, bool write) {
    tlm::tlm_generic_payload t;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    t.set_data_length(8);
    t.set_streaming_width(8);
    sc_time d = SC_ZERO_TIME;
    socket->b_transport(t, d);
    EXPECT_TRUE(t.is_response_ok());
    return v;
  }
};

constexpr uint64_t kBase = 0xfed00000;

struct Bench {
  sim::stats::Group root{nullptr, "system"};
  Interconnect bus{"membus", SC_ZERO_TIME, &root};
  Dram dram{"dram", Dram::Params{0, 64ull << 20, 0, sc_time(80, SC_NS), sc_time(80, SC_NS), {10}}, &root};
  InterruptController intc{"intc", 0xfee00000, SC_ZERO_TIME, &root};
  DmaEngine isa;
  Cpu cpu{"cpu"};
  Sink sink;
  Bench() : isa("isa", DmaEngine::Params{kBase, 24, 64, sc_time(200, SC_NS)}, &intc, &root) {
    bus.to_targets.bind(dram.socket);
    bus.add_region(0, 0, 64ull << 20, "dram");
    bus.to_targets.bind(isa.mmio);
    bus.add_region(1, kBase, DmaEngine::kMmioSize, "isa");
    bus.to_targets.bind(intc.socket);
    bus.add_region(2, 0xfee00000, InterruptController::kMmioSize, "intc");
    isa.master.bind(bus.from_initiators);
    cpu.socket.bind(bus.from_initiators);
    intc.connect(0, &sink);
  }
  // Programs a transfer through the registers, runs until it finishes.
  uint64_t transfer(uint64_t src, uint64_t dst, uint64_t len) {
    cpu.reg(kBase + DmaEngine::kRegSrc, src, true);
    cpu.reg(kBase + DmaEngine::kRegDst, dst, true);
    cpu.reg(kBase + DmaEngine::kRegLen, len, true);
    cpu.reg(kBase + DmaEngine::kRegIrq, 0x40, true);  // vector 0x40 to cpu 0
    cpu.reg(kBase + DmaEngine::kRegCtrl, 1, true);
    EXPECT_TRUE(cpu.reg(kBase + DmaEngine::kRegStatus, 0, false) & DmaEngine::kStatusBusy);
    sc_core::sc_start(sc_time(1, sc_core::SC_MS));
    return cpu.reg(kBase + DmaEngine::kRegStatus, 0, false);
  }
};

TEST(Dma, CopiesWithinItsWidthAndInterrupts) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  for (int i = 0; i < 8192; ++i) b.dram.host(0x100000)[i] = static_cast<uint8_t>(i * 7);
  const uint64_t st = b.transfer(0x100000, 0x800000, 8192);
  EXPECT_EQ(st, DmaEngine::kStatusDone);  // done, no error
  EXPECT_EQ(std::memcmp(b.dram.host(0x100000), b.dram.host(0x800000), 8192), 0);
  EXPECT_EQ(b.sink.count, 1);
  EXPECT_EQ(b.sink.last, 0x40);
  EXPECT_EQ(b.isa.stats.bytes.value(), 8192u);
  EXPECT_EQ(b.cpu.reg(kBase + DmaEngine::kRegWidth, 0, false), 24u);
}

TEST(Dma, BeyondItsWidthIsAnErrorNotATruncation) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  std::memset(b.dram.host(0x0), 0xaa, 4096);
  std::memset(b.dram.host(0x1000000), 0x55, 4096);  // 16 MiB: one past a 24-bit bus
  const uint64_t st = b.transfer(0x1000000, 0x0, 4096);
  EXPECT_EQ(st >> 8, static_cast<uint64_t>(DmaError::beyond_width));
  EXPECT_EQ(b.dram.host(0x0)[0], 0xaa) << "nothing may be copied from a truncated address";
  EXPECT_EQ(b.isa.stats.beyond_width.value(), 1u);
  EXPECT_EQ(b.sink.count, 1);  // failure is reported by interrupt too
  // A transfer that ends exactly at the 16 MiB line is fine; one byte more is not.
  EXPECT_EQ(b.transfer(0xfff000, 0x0, 4096) >> 8, 0u);
  EXPECT_EQ(b.transfer(0xfff000, 0x0, 4097) >> 8, static_cast<uint64_t>(DmaError::beyond_width));
}

TEST(Dma, PoisonedSourceIsReported) {
  Bench b;
  sc_core::sc_start(SC_ZERO_TIME);
  b.dram.inject_poison(0x200040);
  const uint64_t st = b.transfer(0x200000, 0x300000, 4096);
  EXPECT_EQ(st >> 8, static_cast<uint64_t>(DmaError::poison));
  EXPECT_EQ(b.isa.stats.poison.value(), 1u);
  EXPECT_EQ(b.transfer(0x201000, 0x300000, 0) >> 8, static_cast<uint64_t>(DmaError::bad_length));
}

}  // namespace
}  // namespace hw
