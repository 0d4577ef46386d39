// The interrupt controller: delivers inter-processor interrupts and device
// interrupts to cores. Cores send IPIs by writing its ICR register over MMIO
// (like a local APIC's ICR): value = (destination cpu << 32) | vector.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <systemc>
#include <tlm>
#include <vector>

#include "hw/base/debug.h"
#include "hw/base/device.h"
#include "hw/base/stats.h"

// IPIs and device interrupts; the cores trace theirs under it too.
SIM_DECLARE_DEBUG_FLAG(Intc)

namespace hw {

// Anything that can take an interrupt (a core).
class InterruptSink {
 public:
  virtual ~InterruptSink() = default;
  virtual void raise_interrupt(uint8_t vector) = 0;
};

class InterruptController : public sc_core::sc_module, public sim::IrqSink {
 public:
  static constexpr uint64_t kRegIcr = 0x300;   // write: send an IPI
  static constexpr uint64_t kRegId = 0x20;     // read: number of cpus
  static constexpr uint64_t kMmioSize = 0x1000;

  tlm_utils::simple_target_socket<InterruptController> socket;

  InterruptController(sc_core::sc_module_name name, uint64_t base, sc_core::sc_time latency,
                      sim::stats::Group* stats_parent);

  void connect(unsigned cpu, InterruptSink* sink);
  // A device raises `vector` at `cpu`.
  void device_interrupt(unsigned cpu, uint8_t vector);
  void raise_irq(unsigned cpu, uint8_t vector) override { device_interrupt(cpu, vector); }
  uint64_t base() const { return base_; }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar ipis{this, "ipis", "Inter-processor interrupts delivered", "Count"};
    sim::stats::Scalar device_irqs{this, "deviceInterrupts", "Device interrupts delivered", "Count"};
    sim::stats::Scalar bad_targets{this, "badTargets", "IPIs to a cpu that does not exist", "Count"};
  } stats;
  const std::string who_ = stats.path();  // debug lines name the model by its statistics' path

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  uint64_t base_;
  sc_core::sc_time latency_;
  std::vector<InterruptSink*> sinks_;
};

}  // namespace hw
