// The RAS soak (`platform.ras.random`): a long run of random memory errors
// across every page state, with an outcome oracle. At each period it picks
// random page frames, names each one's state from the firmware's page flags
// (mf_oracle.h), chooses a state by the scenario's weights and injects an
// uncorrected or correctable error into one of its pages: a hardware line
// (hw::Ras::inject, so consumption goes through #MC, the scrubber and CMCI)
// for user and free pages and every correctable error, software injection
// (hwpoison-inject's corrupt-pfn: memory_failure without a poisoned line)
// for uncorrected errors in pages the kernel itself reads. Every
// memory_failure() call is shown to its oracle, which predicts the logged
// outcome from the page's flags at entry and fails the run on a mismatch.
// Counts go to system.ras.soak.*; the run's last line sums it up.
// Built by tb/top/machine.cpp when the scenario has the key.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <systemc>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "sw/hal/debug.h"
#include "tb/top/mf_oracle.h"

namespace hw {
class Platform;
}

namespace sim {

class RasSoak : public sc_core::sc_module, public hal::MemoryFailureObserver {
 public:
  struct Params {
    uint64_t count = 1000;                             // errors to inject
    sc_core::sc_time period{10, sc_core::SC_US};       // one injection per period
    sc_core::sc_time start{100, sc_core::SC_US};       // the first one
    unsigned ce_percent = 20;                          // of the injections, correctable
    unsigned samples = 64;                             // page frames looked at per injection
    std::array<unsigned, kSoakStates> weights{};       // per SoakState; 0: never chosen
  };
  // Returns true when the scenario asks for a soak (platform.ras.random).
  static bool wanted(ConfigNode root);
  // Reads platform.ras.random; throws ConfigError (one line naming the key).
  static Params read_params(ConfigNode random);

  SC_HAS_PROCESS(RasSoak);
  RasSoak(sc_core::sc_module_name name, const Params& p, uint64_t seed, hw::Platform& pf, hal::FirmwareDebug& fw,
          stats::Group* stats_parent);
  ~RasSoak() override;

  // The oracle's mismatches, one line each (pfn, state, flags, expected,
  // got; the first kMaxReported), or "".
  const std::string& problem() const { return problem_; }
  // One line: injections by kind and state, outcomes by result, oracle
  // matches, signals and loads checked (from the caller); `clean`: the run
  // found no wrong value (a wrong value fails the run at once).
  std::string summary(uint64_t signals, uint64_t loads_checked, bool clean) const;

  // ---- hal::MemoryFailureObserver ----
  void memory_failure_entry(hal::Hal& cpu, uint64_t pfn, int flags) override;
  void memory_failure_result(hal::Hal& cpu, uint64_t pfn, const char* type, const char* result) override;

 private:
  void inject_thread();
  // Picks the page of one injection: false when no sampled page has a
  // state with a weight.
  bool pick(uint64_t& pfn, SoakState& state);
  uint64_t next_random();
  void emit_stats(stats::Emitter& out, const std::string& path) const;

  struct Pending {
    bool valid = false;
    uint64_t pfn = 0;
    SoakState state = SoakState::count;
    MfPrediction expect;
    hal::PageInfo pi{};
  };

  Params p_;
  uint64_t rng_;
  hw::Platform& pf_;
  hal::FirmwareDebug& fw_;
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;  // DRAM page frames [first, end) per node
  uint64_t frames_ = 0;
  // Per CPU: the calls in progress there, innermost last (a machine check
  // may interrupt memory_failure() while it waits for I/O).
  std::vector<std::vector<Pending>> pending_;
  // Counts.
  std::array<uint64_t, kSoakStates> uc_{}, ce_{};
  uint64_t software_ = 0, no_target_ = 0, queue_full_ = 0, injected_ = 0;
  uint64_t calls_ = 0, matches_ = 0, mismatches_ = 0, unpredicted_ = 0;
  std::array<uint64_t, kSoakStates> calls_by_state_{};
  std::map<std::string, uint64_t> rows_;      // matches per predicted row ("dirty LRU page: Recovered")
  std::map<std::string, uint64_t> results_;   // outcomes by result
  static constexpr uint64_t kMaxReported = 10;
  std::string problem_;
  std::unique_ptr<stats::Group> group_;
  std::unique_ptr<stats::Dynamic> stats_;
};

}  // namespace sim
