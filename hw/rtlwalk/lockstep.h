// Lockstep: every walk runs on both the TLM walker and the RTL walker, and
// any difference in any result field, or in the A/D writes they make, stops
// the run with an error that shows the request, both results, the
// page-table entries read and both writes.
//
// Both walkers write A/D bits, so they cannot both act on the real memory.
// The TLM walker runs first, against a dry view (a WritePort in dry mode:
// its reads see memory, its writes are recorded but not applied); then the
// RTL walker runs for real, through a recording WritePort. Both therefore
// see the same page tables. The RTL walker's timing is the walk's timing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/ext/walk.h"

namespace hw {

// Sits between a walker and the bus and records the walker's writes. Dry: the
// writes are not applied (reads see them, as the walker would), locks are not
// taken, and DMI is refused so nothing bypasses the port.
class WritePort : public sc_core::sc_module {
 public:
  struct Write {
    uint64_t addr = 0, value = 0;
    bool unlock = false;
    bool operator==(const Write& o) const { return addr == o.addr && value == o.value && unlock == o.unlock; }
  };

  tlm_utils::simple_target_socket<WritePort> from_walker;
  sim::InitiatorSocket to_memory;  // forwards the walker's transactions (no DMI: see above)

  WritePort(sc_core::sc_module_name name, bool dry);
  std::vector<Write> writes;  // since the last clear

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }
  bool dry_;
};

class LockstepWalker : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<LockstepWalker> walk_socket;  // from the MMU
  sim::InitiatorSocket to_tlm;  // the TLM walker (its own request, tlm_ext_)
  sim::InitiatorSocket to_rtl;  // the RTL walker's transactor (the MMU's request, forwarded)

  LockstepWalker(sc_core::sc_module_name name, WritePort& tlm_port, WritePort& rtl_port,
                 sim::stats::Group* stats_parent);

  // Host time spent in each walker, for the run's summary (walks per second).
  double tlm_host_seconds() const { return tlm_host_.count(); }
  double rtl_host_seconds() const { return rtl_host_.count(); }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar compared{this, "walksCompared", "Walks run on both walkers and compared", "Count"};
    sim::stats::Scalar mismatches{this, "mismatches", "Walks whose results or writes differed", "Count"};
  } stats;

  // The differences between two walks, one line each ("" when they agree).
  static std::string differences(const WalkResult& tlm, const WalkResult& rtl, const std::vector<WritePort::Write>& tw,
                                 const std::vector<WritePort::Write>& rw);
  static std::string describe(const WalkRequest& req);

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

  WritePort& tlm_port_;
  WritePort& rtl_port_;
  WalkExtension tlm_ext_;  // attached to every request to the TLM walker
  std::chrono::duration<double> tlm_host_{0}, rtl_host_{0};
};

}  // namespace hw
