// Stand-ins for a CPU in device tests (tb/hw/dma, tb/hw/block): MmioCpu
// reads and writes a device's 64-bit registers through the bus as a driver
// would; IrqRecorder is the interrupt controller's CPU side, noting each
// interrupt (how many, the last vector, when).
#pragma once

#include <gtest/gtest.h>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdint>
#include <systemc>

#include "hw/intc/intc.h"

namespace tb {

struct IrqRecorder : hw::InterruptSink {
  int count = 0;
  uint8_t last = 0;
  sc_core::sc_time last_at;
  void raise_interrupt(uint8_t v) override {
    ++count;
    last = v;
    last_at = sc_core::sc_time_stamp();
  }
};

struct MmioCpu : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<MmioCpu> socket{"socket"};
  explicit MmioCpu(sc_core::sc_module_name n) : sc_module(n) {}
  // Writes v to the register at addr (write), or returns its value.
  uint64_t reg(uint64_t addr, uint64_t v, bool write) {
    tlm::tlm_generic_payload t;
    t.set_command(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND);
    t.set_address(addr);
    t.set_data_ptr(reinterpret_cast<unsigned char*>(&v));
    t.set_data_length(8);
    t.set_streaming_width(8);
    sc_core::sc_time d = sc_core::SC_ZERO_TIME;
    socket->b_transport(t, d);
    EXPECT_TRUE(t.is_response_ok());
    return v;
  }
};

}  // namespace tb
