// A DMA engine: a memory-to-memory copy engine, the `dma` kind of
// `platform.devices`. The firmware's driver (sw/drivers/dma) programs it
// through MMIO registers; it copies memory through its own initiator socket
// (bound to the DMA checker), limited by its address width: an access beyond
// the width is never driven onto the bus (the engine has no such address
// lines) and fails the transfer with an address error in its status, never
// silently truncated. A read of poisoned memory fails likewise. It copies
// one buffer (SRC, DST, LEN) or a chain of scatter-gather descriptors it
// reads from memory itself (so the chain, too, must be reachable by the
// device and mapped for it). Completion or failure raises its interrupt.
//
// Timing: `setup` from the start to the first access; then per descriptor
// the latency of its first accesses, and its bytes at `bandwidth` (later
// bursts overlap in the engine's pipeline).
//
// Registers (64-bit, at offsets from the engine's MMIO base):
//   0x00 SRC     source bus address          0x08 DST   destination bus address
//   0x10 LEN     bytes to copy                0x18 CTRL  write 1: start SRC->DST; 2: start the chain at DESC
//   0x20 STATUS  (read) bit 0 busy, bit 1 done, bit 2 the DMA checker flagged an access of this transfer,
//                bits 8..15 error (DmaError)
//   0x28 IRQ     bits 0..7 vector, bits 32..47 target CPU (vector 0: no interrupt)
//   0x30 WIDTH   (read) the address width in bits
//   0x38 DESC    bus address of the first descriptor
//   0x40 ERRADDR (read) bus address of the access that failed
//   0x48 COUNT   (read) bytes copied by the current or last transfer
//   0x50 NDESC   (read) descriptors completed by the current or last transfer
//
// A descriptor (32 bytes, little-endian): SRC (u64), DST (u64), LEN (u32),
// FLAGS (u32: bit 0 LAST, the end of the chain), NEXT (u64: bus address of
// the next descriptor).
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>
#include <vector>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/device.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"

namespace hw {

enum class DmaError : uint8_t {
  none = 0,
  beyond_width = 1,    // an address of the transfer needs more bits than the engine has
  bus_error = 2,       // nothing answered at an address
  poison = 3,          // the source holds an uncorrected memory error
  busy = 4,            // started while a transfer was in progress
  bad_length = 5,      // zero length (a descriptor's too)
  bad_descriptor = 6,  // a chain longer than kMaxChain (a loop)
};
const char* dma_error_name(DmaError e);

// The `dma` kind of platform.devices.
extern const sim::DeviceKind kDmaEngineKind;

class DmaEngine : public sc_core::sc_module, public sim::Device {
 public:
  static constexpr uint64_t kRegSrc = 0x00, kRegDst = 0x08, kRegLen = 0x10, kRegCtrl = 0x18, kRegStatus = 0x20,
                            kRegIrq = 0x28, kRegWidth = 0x30, kRegDesc = 0x38, kRegErrAddr = 0x40, kRegCount = 0x48,
                            kRegNdesc = 0x50;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr uint64_t kCtrlStart = 1, kCtrlStartChain = 2;
  static constexpr uint64_t kStatusBusy = 1, kStatusDone = 2, kStatusChecker = 4;
  static constexpr unsigned kDescSize = 32;
  static constexpr uint32_t kDescLast = 1;
  static constexpr uint64_t kMaxChain = 1u << 20;

  struct Params : sim::DeviceParams {
    uint64_t burst = 64;                                             // bytes per bus transaction
    uint64_t bandwidth = 1ull << 30;                                 // bytes per second
    sc_core::sc_time setup = sc_core::sc_time(200, sc_core::SC_NS);  // from start to the first access
  };
  // Reads the `dma` keys of one platform.devices entry.
  static std::unique_ptr<sim::DeviceParams> read_params(sim::ConfigNode& d, const sim::DeviceInfo& info);

  tlm_utils::simple_target_socket<DmaEngine> mmio;  // registers
  sim::InitiatorSocket master;                      // its bus accesses

  SC_HAS_PROCESS(DmaEngine);
  DmaEngine(sc_core::sc_module_name name, const Params& p, const sim::DeviceEnv& env);

  // ---- sim::Device ----
  const sim::DeviceInfo& info() const override { return p_.info; }
  tlm::tlm_target_socket<>* registers() override { return &mmio; }
  sim::InitiatorSocket* bus_master() override { return &master; }

  const Params& params() const { return p_; }
  // Programs and starts a copy as a driver's register writes would (for
  // the monitor and tests), declaring its ranges to the bus side as a
  // driver's mapping would; false when busy.
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
    sim::stats::Scalar descriptors{this, "descriptors", "Scatter-gather descriptors fetched", "Count"};
    sim::stats::Scalar checker_flags{this, "checkerFlagged", "Transfers with an access the DMA checker flagged",
                                     "Count"};
    sim::stats::Scalar busy_ns{this, "busyTime", "Time from a transfer's start to its end", "ns"};
  } stats;

 private:
  // The model's name in debug lines: as stats.txt names it (system.dma.dma0),
  // not its SystemC name (system.dma0).
  const std::string who_ = stats.path();
  // One piece of work: a buffer to copy (from a register start or a descriptor).
  struct Segment {
    uint64_t src, dst, len;
  };
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool write_register(uint64_t off, uint64_t v, const sc_core::sc_time& delay);
  bool read_register(uint64_t off, uint64_t& v) const;
  void begin(bool chain, const sc_core::sc_time& delay);
  void run();
  // Runs the current transfer; returns how it ended.
  DmaError transfer(sc_core::sc_time& delay);
  // Copies one segment; `first` charges its accesses' latency.
  DmaError copy(const Segment& s, sc_core::sc_time& delay);
  // Reads the descriptor at `at` into s, *last and *next.
  DmaError fetch(uint64_t at, Segment& s, bool* last, uint64_t* next, sc_core::sc_time& delay);
  // One bus access of the engine: refused when beyond its width.
  DmaError access(bool read, uint64_t addr, void* buf, unsigned len, sc_core::sc_time& delay);
  void finish(DmaError e);
  bool fits(uint64_t addr, uint64_t len) const;

  Params p_;
  sim::IrqSink* irq_sink_;
  sim::BusPermissions* permissions_;
  uint64_t src_ = 0, dst_ = 0, len_ = 0, irq_ = 0, desc_ = 0;
  uint64_t err_addr_ = 0, count_ = 0, ndesc_ = 0;
  bool busy_ = false, done_ = false, chain_ = false, flagged_ = false;
  bool by_hand_ = false;  // started by start(): its ranges were declared
  DmaError error_ = DmaError::none;
  sc_core::sc_time started_;
  sc_core::sc_event start_;
  std::vector<uint8_t> buf_;
  void register_commands();  // the monitor's `dma`: hw/dma/dma_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
