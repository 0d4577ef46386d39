// The bus-side DMA checker: a model between the devices that master memory
// and the interconnect. Every transaction a device initiates passes through
// its port here and is checked against the device's address width (one
// beyond it is answered with an address error, never forwarded) and against
// the ranges the firmware's DMA API currently has mapped for that device. A
// transaction outside them is a violation: counted, logged with the device,
// the address and the nearest mapping, flagged in the transaction's
// DmaCheckExtension (the device reports it in its status), and forwarded —
// the checker observes, as the kernel's dma-debug does, rather than blocking
// like an IOMMU. The run fails on violations unless the scenario expects
// them (`platform.dma_checker.expect_violations`).
//
// The firmware tells the checker what it maps through a small debug channel,
// the checker's MMIO window (a device of the boot information, kind
// dma_checker), as dma-debug keeps its own table:
//   0x00 DEVICE  boot-information index of the device the next command is for
//   0x08 ADDR    bus address of a range
//   0x10 SIZE    bytes of the range
//   0x18 CMD     write 1: map [ADDR, ADDR+SIZE); 2: unmap it; 3: unmap everything of DEVICE
//   0x20 VIOLATIONS (read) violations so far, every device
//   0x28 RANGES  (read) ranges mapped for DEVICE now
// Ranges are counted: a range mapped twice needs two unmaps.
#pragma once

#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <map>
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

class DmaChecker : public sc_core::sc_module, public sim::BusPermissions {
 public:
  static constexpr uint64_t kRegDevice = 0x00, kRegAddr = 0x08, kRegSize = 0x10, kRegCmd = 0x18, kRegViolations = 0x20,
                            kRegRanges = 0x28;
  static constexpr uint64_t kCmdMap = 1, kCmdUnmap = 2, kCmdUnmapAll = 3;
  static constexpr uint64_t kMmioSize = 0x1000;
  static constexpr size_t kKeptViolations = 8;  // shown by `dmacheck`; the first in the run's error

  struct Params {
    bool expect_violations = false;
    uint64_t mmio_base = 0;
    unsigned id = 0;  // its entry in the boot information
  };
  // Reads `platform.dma_checker`.
  static Params read_params(sim::ConfigNode checker);

  tlm_utils::simple_target_socket<DmaChecker> mmio;  // the debug channel
  sim::InitiatorSocket to_bus;                       // every device's transactions, on to the interconnect

  // masters: the devices that master memory, one port each (made here:
  // sockets belong to the module that is being constructed).
  DmaChecker(sc_core::sc_module_name name, const Params& p, sim::stats::Group* stats_parent,
             const std::vector<sim::DeviceInfo>& masters);
  ~DmaChecker() override;

  // The socket the master of device `device_id` binds to.
  tlm::tlm_target_socket<>& port(unsigned device_id);

  // ---- sim::BusPermissions (also the debug channel's commands) ----
  void allow(unsigned device_id, uint64_t base, uint64_t size) override;
  void revoke(unsigned device_id, uint64_t base, uint64_t size) override;

  uint64_t violations() const;
  // "" when the run went as the scenario expects: no violation, or some
  // when they were expected; else one line per problem.
  std::string end_of_run_problem() const;
  // One line: the violations and whether they were expected ("" when none
  // and none were expected).
  std::string summary() const;

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar map_requests{this, "mapRequests", "Ranges the firmware reported mapped", "Count"};
    sim::stats::Scalar unmap_requests{this, "unmapRequests", "Ranges the firmware reported unmapped", "Count"};
    sim::stats::Scalar bad_unmaps{this, "badUnmaps", "Unmaps of a range not mapped for the device", "Count"};
  } stats;

 private:
  // The model's name in debug lines: as stats.txt names it (system.dma.checker),
  // not its SystemC name (system.dma_checker).
  const std::string who_ = stats.path();
  struct Port;
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  unsigned transport_dbg(int id, tlm::tlm_generic_payload& trans);
  void channel(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void command(uint64_t cmd);
  Port* port_of(unsigned device_id);
  // Records a violation of port p: [addr, addr+len), read or write.
  void violation(Port& p, bool write, uint64_t addr, unsigned len, const sc_core::sc_time& delay);

  Params p_;
  std::vector<std::unique_ptr<Port>> ports_;
  uint64_t reg_device_ = 0, reg_addr_ = 0, reg_size_ = 0;
  std::vector<std::string> kept_;  // the first violations, described
  void register_commands();        // the monitor's `dmacheck`: hw/dma/dma_checker.cpp
  sim::Commands commands_;
};

}  // namespace hw
