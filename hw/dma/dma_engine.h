// A DMA engine: the firmware programs it through MMIO registers; it copies
// memory through its own initiator socket, limited by its address width (a
// 24-bit ISA-style device, a 32-bit PCI device, a 64-bit one). A transfer
// that reaches beyond the width fails with an address error reported in its
// status register, never silently truncated; a read of poisoned memory
// fails likewise. Completion (or failure) raises an interrupt.
//
// Registers (64-bit, at offsets from the engine's MMIO base):
//   0x00 SRC   source bus address          0x08 DST   destination bus address
//   0x10 LEN   bytes to copy               0x18 CTRL  write 1: start
//   0x20 STATUS (read): bit 0 busy, bit 1 done, bits 8..15 error (DmaError)
//   0x28 IRQ   bits 0..7 vector, bits 32..47 target CPU (vector 0: no interrupt)
//   0x30 WIDTH (read): the engine's address width in bits
#pragma once

#include <cstdint>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/intc/intc.h"

namespace hw {

enum class DmaError : uint8_t {
  none = 0,
  beyond_width = 1,   // an address of the transfer needs more bits than the engine has
  bus_error = 2,      // nothing answered at an address
  poison = 3,         // the source holds an uncorrected memory error
  busy = 4,           // started while a transfer was in progress
  bad_length = 5,     // zero length
};
const char* dma_error_name(DmaError e);

class DmaEngine : public sc_core::sc_module {
 public:
  static constexpr uint64_t kRegSrc = 0x00, kRegDst = 0x08, kRegLen = 0x10, kRegCtrl = 0x18, kRegStatus = 0x20,
                            kRegIrq = 0x28, kRegWidth = 0x30;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kStatusBusy = 1, kStatusDone = 2;

  struct Params {
    uint64_t mmio_base = 0;
    unsigned addr_bits = 32;
    uint64_t burst = 64;                                           // bytes per bus transaction
    sc_core::sc_time setup = sc_core::sc_time(200, sc_core::SC_NS);  // from start to the first transaction
  };

  // Reads `platform.dma`, a list of engines (a 24-bit and a 32-bit one when
  // absent); mmio_base is the platform's to set.
  static std::vector<Params> read_params(sim::ConfigNode platform);

  tlm_utils::simple_target_socket<DmaEngine> mmio;  // registers
  sim::InitiatorSocket master;                      // its bus accesses

  SC_HAS_PROCESS(DmaEngine);
  DmaEngine(sc_core::sc_module_name name, const Params& p, InterruptController* intc, sim::stats::Group* stats_parent);

  const Params& params() const { return p_; }
  // Programs and starts a transfer as a driver's register writes would (for
  // the monitor and tests); false when busy.
  bool start(uint64_t src, uint64_t dst, uint64_t len);
  bool busy() const { return busy_; }
  DmaError last_error() const { return error_; }

  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name);
    sim::stats::Scalar transfers{this, "transfers", "Transfers started", "Count"};
    sim::stats::Scalar completed{this, "completed", "Transfers completed", "Count"};
    sim::stats::Scalar bytes{this, "bytes", "Bytes copied", "Byte"};
    sim::stats::Scalar beyond_width{this, "errorsBeyondWidth", "Transfers refused: an address beyond the engine's width", "Count"};
    sim::stats::Scalar bus_errors{this, "errorsBus", "Transfers failed on a bus error", "Count"};
    sim::stats::Scalar poison{this, "errorsPoison", "Transfers failed on poisoned memory", "Count"};
    sim::stats::Scalar busy_starts{this, "errorsBusy", "Starts while busy", "Count"};
  } stats;

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void run();
  void finish(DmaError e);
  bool fits(uint64_t addr, uint64_t len) const;

  Params p_;
  InterruptController* intc_;
  uint64_t src_ = 0, dst_ = 0, len_ = 0, irq_ = 0;
  bool busy_ = false, done_ = false;
  DmaError error_ = DmaError::none;
  sc_core::sc_event start_;
  unsigned track_;                  // its track on the timeline (hw/base/trace.h)
  uint64_t transfer_start_ps_ = 0;  // when the running transfer was started
  void register_commands();  // the monitor's `dma`: hw/dma/dma_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
