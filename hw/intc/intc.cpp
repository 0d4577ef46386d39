#include "hw/intc/intc.h"

#include <cstring>

#include "hw/base/debug.h"
#include "hw/base/time.h"

SIM_DEBUG_FLAG(Intc, "interrupt controller: IPIs and device interrupts")

namespace hw {

InterruptController::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "intc") {}

InterruptController::InterruptController(sc_core::sc_module_name name, uint64_t base, sc_core::sc_time latency,
                                         sim::stats::Group* stats_parent)
    : sc_module(name), socket("socket"), stats(stats_parent), base_(base), latency_(latency) {
  socket.register_b_transport(this, &InterruptController::b_transport);
}

void InterruptController::connect(unsigned cpu, InterruptSink* sink) {
  if (sinks_.size() <= cpu) sinks_.resize(cpu + 1, nullptr);
  sinks_[cpu] = sink;
}

void InterruptController::device_interrupt(unsigned cpu, uint8_t vector) {
  if (cpu >= sinks_.size() || !sinks_[cpu]) {
    ++stats.bad_targets;
    return;
  }
  ++stats.device_irqs;
  sinks_[cpu]->raise_interrupt(vector);
}

void InterruptController::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
  const uint64_t off = trans.get_address() - base_;
  const unsigned len = trans.get_data_length();
  delay += latency_;
  if (len > 8) {
    trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
    return;
  }
  uint64_t value = 0;
  if (trans.is_write()) {
    std::memcpy(&value, trans.get_data_ptr(), len);
    if (off == kRegIcr && len == 8) {
      const unsigned cpu = static_cast<unsigned>(value >> 32);
      const uint8_t vector = static_cast<uint8_t>(value);
      if (cpu >= sinks_.size() || !sinks_[cpu]) {
        ++stats.bad_targets;
        trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
      }
      ++stats.ipis;
      DPRINTF(Intc, sim::now_ps(delay), who_.c_str(), "ipi vector {:#x} -> cpu{}", vector, cpu);
      sinks_[cpu]->raise_interrupt(vector);
      trans.set_response_status(tlm::TLM_OK_RESPONSE);
      return;
    }
    trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
    return;
  }
  if (off == kRegId) {
    value = sinks_.size();
    std::memcpy(trans.get_data_ptr(), &value, len);
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
    return;
  }
  trans.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
}

}  // namespace hw
