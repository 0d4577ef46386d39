// Lockstep: every walk runs on both the RTL walker and the TLM walker, and
// any difference in any result field, or in the page-table accesses they
// make (addresses in order, locks, the A/D values written), stops the run
// with an error that shows the request, both results and both access lists.
//
// Both walkers must be judged on the same page-table contents, even while
// other cores change the tables. So the RTL walker runs first, for real,
// through a WalkRecorder that notes every access and what memory answered
// (its timing is the walk's timing); then the TLM walker walks against a
// WalkReplay, which answers its reads with exactly the values the RTL walk
// read, in the same order, and applies none of its writes. The TLM walk
// takes no simulated time and touches no memory. (docs/rtl-walker.md,
// "Lockstep".)
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
#include "hw/rtlwalk/rtl_walker.h"

namespace hw {

// One page-table access of a walk: what the walker asked for and what it got.
struct WalkAccess {
  enum class Outcome : uint8_t { ok, error, poison };
  uint64_t addr = 0;
  uint64_t value = 0;  // the value read (ok reads) or written
  bool write = false;
  bool lock = false;   // a locked read, or the write that releases the lock
  Outcome outcome = Outcome::ok;
  sc_core::sc_time latency;  // what memory annotated (compared by no one)
  bool operator==(const WalkAccess& o) const {
    return addr == o.addr && value == o.value && write == o.write && lock == o.lock && outcome == o.outcome;
  }
  bool operator!=(const WalkAccess& o) const { return !(*this == o); }
};

// Between the RTL walker and the bus: forwards every access and records it.
// DMI is refused to the walker, so that nothing bypasses the record; the
// recorder itself answers plain reads through DMI where memory grants it.
class WalkRecorder : public sc_core::sc_module, public WalkReadPath {
 public:
  tlm_utils::simple_target_socket<WalkRecorder> from_walker;
  sim::InitiatorSocket to_memory;  // plain reads by DMI where granted

  explicit WalkRecorder(sc_core::sc_module_name name);
  std::vector<WalkAccess> accesses;  // since the last clear

  // The RTL walker's plain reads without a transaction (RtlWalker::read_through):
  // recorded as the transaction would be, where memory grants DMI.
  bool read(uint64_t addr, uint64_t* data, sc_core::sc_time& t) override;

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  // The access to memory: a plain read through DMI where granted, else the transaction.
  void forward(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }
};

// The TLM walker's memory in lockstep: the n-th access is answered from the
// n-th recorded one when it is the same access (read or write, address,
// lock); a read gets the recorded value, outcome and latency, a write is
// noted and dropped. An access the record does not have gets an error
// response (the walks already differ; the comparison reports it).
class WalkReplay : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<WalkReplay> from_walker;

  explicit WalkReplay(sc_core::sc_module_name name);
  // Starts a replay of `record` (kept by reference until the next start).
  void start(const std::vector<WalkAccess>& record);
  std::vector<WalkAccess> accesses;  // what the walker did since start()

 private:
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) { return false; }
  const std::vector<WalkAccess>* record_ = nullptr;
};

class LockstepWalker : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<LockstepWalker> walk_socket;  // from the MMU
  sim::InitiatorSocket to_tlm;  // the TLM walker (its own request, tlm_ext_)
  sim::InitiatorSocket to_rtl;  // the RTL walker's transactor (the MMU's request, forwarded)

  LockstepWalker(sc_core::sc_module_name name, WalkRecorder& recorder, WalkReplay& replay,
                 sim::stats::Group* stats_parent);

  // Host time spent in each walker, for the run's summary (walks per second).
  double tlm_host_seconds() const { return tlm_host_.count(); }
  double rtl_host_seconds() const { return rtl_host_.count(); }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar compared{this, "walksCompared", "Walks run on both walkers and compared", "Count"};
    sim::stats::Scalar mismatches{this, "mismatches", "Walks whose results or page-table accesses differed", "Count"};
  } stats;

  // The differences between two walks, one line each ("" when they agree).
  static std::string differences(const WalkResult& tlm, const WalkResult& rtl, const std::vector<WalkAccess>& ta,
                                 const std::vector<WalkAccess>& ra);
  static std::string describe(const WalkRequest& req);

 private:
  // The model's name in debug lines: as stats.txt names it (system.cpu0.mmu.lockstep),
  // not its SystemC name (system.cpu0.lockstep).
  const std::string who_ = stats.path();
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  [[noreturn]] void report(const WalkRequest& req, const WalkResult& rtl, const std::string& diff);

  WalkRecorder& recorder_;
  WalkReplay& replay_;
  WalkExtension tlm_ext_;  // attached to every request to the TLM walker
  std::chrono::duration<double> tlm_host_{0}, rtl_host_{0};
};

}  // namespace hw
