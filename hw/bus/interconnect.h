// The address-decoding interconnect: initiators (cores, walkers, DMA
// engines) on one side, memory and MMIO targets on the other, routed by the
// physical address map from the scenario. Addresses pass through unchanged
// (targets know their own base). Tags each transaction with the initiator's
// NUMA node, forwards DMI requests and broadcasts DMI invalidations.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "hw/base/command.h"
#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/ext/memory.h"

namespace hw {

class Interconnect : public sc_core::sc_module {
 public:
  // Initiators bind here (one binding each).
  tlm_utils::multi_passthrough_target_socket<Interconnect> from_initiators;
  // Targets bind here (one binding each), in the order of add_target().
  tlm_utils::multi_passthrough_initiator_socket<Interconnect> to_targets;

  struct Params {
    sc_core::sc_time latency = sc_core::SC_ZERO_TIME;  // per transaction (and added to DMI grants)
  };
  // Reads `platform.membus`.
  static Params read_params(sim::ConfigNode membus);

  Interconnect(sc_core::sc_module_name name, sc_core::sc_time latency, sim::stats::Group* stats_parent);

  // Declares a target region; call once per target, in binding order.
  // A target may own several regions (call again with the same index).
  void add_region(unsigned target, uint64_t base, uint64_t size, std::string name);
  // The NUMA node of the initiator bound at `initiator` (binding order).
  void set_initiator_node(unsigned initiator, unsigned node);

  // Which region decodes `pa`, or nullptr.
  struct Region {
    uint64_t base, size;
    unsigned target;
    std::string name;
  };
  const Region* decode(uint64_t pa) const;
  const std::vector<Region>& regions() const { return regions_; }

  // Debug access (no timing) through the map, for monitors and tests.
  unsigned debug_read(uint64_t pa, void* dst, unsigned len);
  unsigned debug_write(uint64_t pa, const void* src, unsigned len);

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar transactions{this, "transactions", "Transactions routed", "Count"};
    sim::stats::Scalar decode_errors{this, "decodeErrors", "Transactions to an address nothing decodes", "Count"};
    sim::stats::Scalar dmi_requests{this, "dmiRequests", "DMI requests forwarded", "Count"};
  } stats;

 private:
  void b_transport(int id, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(int id, tlm::tlm_generic_payload& trans, tlm::tlm_dmi& dmi);
  unsigned int transport_dbg(int id, tlm::tlm_generic_payload& trans);
  void invalidate_direct_mem_ptr(int id, sc_dt::uint64 start, sc_dt::uint64 end);

  sc_core::sc_time latency_;
  std::vector<Region> regions_;       // sorted by base
  std::vector<unsigned> initiator_node_;
  mutable const Region* last_ = nullptr;
  void register_commands();  // the monitor's `x`: hw/bus/interconnect_monitor.cpp
  sim::Commands commands_;
};

}  // namespace hw
