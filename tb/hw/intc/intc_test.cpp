// The interrupt controller (hw/intc) alone: a stub CPU writes its registers,
// stub sinks stand for the cores. IPIs through the ICR, device interrupts,
// bad targets, registers and sizes, statistics.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "hw/intc/intc.h"

namespace hw {
namespace {

using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

struct Sink : InterruptSink {
  std::vector<uint8_t> vectors;
  void raise_interrupt(uint8_t v) override { vectors.push_back(v); }
};

struct Cpu : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Cpu> socket{"socket"};
  sc_time delay = SC_ZERO_TIME;
  explicit Cpu(sc_core::sc_module_name n) : sc_module(n) {}
  tlm::tlm_response_status access(uint64_t addr, uint64_t& value, bool write, unsigned len = 8) {
    uint8_t buf[16] = {};
    std::memcpy(buf, &value, 8);
    tlm::tlm_generic_payload t;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(buf);
    t.set_data_length(len);
    t.set_streaming_width(len);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(t, delay);
    std::memcpy(&value, buf, 8);
    return t.get_response_status();
  }
};

constexpr uint64_t kBase = 0xfee00000, kIcr = kBase + InterruptController::kRegIcr;
uint64_t icr(unsigned cpu, uint8_t vector) { return (uint64_t{cpu} << 32) | vector; }

// CPUs 0 and 2 are connected; 1 is a hole in the numbering.
struct Bench {
  sim::stats::Group root{nullptr, "system"};
  InterruptController intc{"intc", kBase, sc_time(10, SC_NS), &root};
  Cpu cpu{"cpu"};
  Sink sink0, sink2;
  Bench() {
    cpu.socket.bind(intc.socket);
    intc.connect(0, &sink0);
    intc.connect(2, &sink2);
    sc_core::sc_start(SC_ZERO_TIME);
  }
};

TEST(InterruptController, IpiWrittenToTheIcrReachesTheTargetWithItsVector) {
  Bench b;
  uint64_t v = icr(2, 0x42);
  EXPECT_EQ(b.cpu.access(kIcr, v, true), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(b.sink2.vectors, std::vector<uint8_t>{0x42});
  EXPECT_TRUE(b.sink0.vectors.empty());
  v = icr(0, 0xfd);
  EXPECT_EQ(b.cpu.access(kIcr, v, true), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(b.sink0.vectors, std::vector<uint8_t>{0xfd});
  EXPECT_EQ(b.cpu.delay, sc_time(20, SC_NS)) << "each register access costs the controller's latency";
}

TEST(InterruptController, IpiToACpuThatIsNotThereIsAnAddressError) {
  Bench b;
  for (unsigned cpu : {1u, 3u, 64u}) {
    uint64_t v = icr(cpu, 0x42);
    EXPECT_EQ(b.cpu.access(kIcr, v, true), tlm::TLM_ADDRESS_ERROR_RESPONSE) << "cpu" << cpu;
  }
  EXPECT_TRUE(b.sink0.vectors.empty() && b.sink2.vectors.empty());
  EXPECT_EQ(b.intc.stats.bad_targets.value(), 3u);
  EXPECT_EQ(b.intc.stats.ipis.value(), 0u);
}

TEST(InterruptController, DeviceInterruptsReachTheirCpu) {
  Bench b;
  b.intc.device_interrupt(2, 0x31);
  b.intc.device_interrupt(2, 0x32);
  b.intc.device_interrupt(0, 0x33);
  EXPECT_EQ(b.sink2.vectors, (std::vector<uint8_t>{0x31, 0x32}));
  EXPECT_EQ(b.sink0.vectors, std::vector<uint8_t>{0x33});
  b.intc.device_interrupt(1, 0x34);  // nobody there: counted, dropped
  EXPECT_EQ(b.intc.stats.device_irqs.value(), 3u);
  EXPECT_EQ(b.intc.stats.bad_targets.value(), 1u);
}

TEST(InterruptController, BadRegistersAndSizesAreRefused) {
  Bench b;
  uint64_t v = icr(0, 0x42);
  EXPECT_EQ(b.cpu.access(kIcr, v, true, 4), tlm::TLM_ADDRESS_ERROR_RESPONSE) << "the ICR takes 8-byte writes";
  EXPECT_EQ(b.cpu.access(kIcr + 8, v, true), tlm::TLM_ADDRESS_ERROR_RESPONSE) << "no register there";
  EXPECT_EQ(b.cpu.access(kIcr, v, false), tlm::TLM_ADDRESS_ERROR_RESPONSE) << "the ICR is write-only";
  EXPECT_EQ(b.cpu.access(kIcr, v, true, 16), tlm::TLM_BURST_ERROR_RESPONSE) << "wider than a register";
  EXPECT_TRUE(b.sink0.vectors.empty()) << "a refused access sends nothing";
  EXPECT_EQ(b.intc.stats.ipis.value(), 0u);
  // The ID register reads the number of CPU slots.
  uint64_t id = 0;
  EXPECT_EQ(b.cpu.access(kBase + InterruptController::kRegId, id, false), tlm::TLM_OK_RESPONSE);
  EXPECT_EQ(id, 3u);
}

TEST(InterruptController, CountsWhatItDelivers) {
  Bench b;
  for (int i = 0; i < 3; ++i) {
    uint64_t v = icr(2, static_cast<uint8_t>(0x40 + i));
    b.cpu.access(kIcr, v, true);
  }
  b.intc.device_interrupt(0, 0x30);
  uint64_t v = icr(5, 0x40);
  b.cpu.access(kIcr, v, true);
  // Under the names stats.txt shows.
  auto value = [&](const char* path) {
    const auto* s = dynamic_cast<const sim::stats::Scalar*>(b.root.find(path));
    EXPECT_NE(s, nullptr) << path;
    return s ? s->value() : ~0ull;
  };
  EXPECT_EQ(value("intc.ipis"), 3u);
  EXPECT_EQ(value("intc.deviceInterrupts"), 1u);
  EXPECT_EQ(value("intc.badTargets"), 1u);
}

}  // namespace
}  // namespace hw
