// The TLM page walker: x86-64 paging as specified in docs/walker.md. A TLM
// target for walk requests (hw::WalkExtension) and an initiator for its
// page-table reads and locked A/D updates, which cost the memory's latency.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>

#include "hw/base/debug.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/ext/walk.h"

// Page walks: the walker prints them, the MMU traces them on the timeline.
SIM_DECLARE_DEBUG_FLAG(Walker)

namespace hw {

// A histogram of walk latencies in the format of sim::stats::Distribution
// (samples, mean, min, max, underflows, one line per bucket, overflows), with
// power-of-two buckets so that a sample costs a shift, not a division: the
// walker samples once per walk, on the MMU's miss path.
class LatencyHistogram final : public sim::stats::Stat {
 public:
  LatencyHistogram(sim::stats::Group* parent, std::string name, std::string desc, std::string unit,
                   unsigned bucket_shift, unsigned buckets);
  void sample(uint64_t v) {
    ++samples_;
    sum_ += v;
    if (v < min_seen_) min_seen_ = v;
    if (v > max_seen_) max_seen_ = v;
    const uint64_t i = v >> shift_;
    if (i < buckets_.size()) ++buckets_[i];
    else ++overflow_;
  }
  uint64_t samples() const { return samples_; }
  double mean() const { return samples_ ? static_cast<double>(sum_) / samples_ : 0.0; }
  uint64_t min_value() const { return samples_ ? min_seen_ : 0; }
  uint64_t max_value() const { return max_seen_; }
  void emit(sim::stats::Emitter& out, const std::string& path) const override;
  void reset() override;

 private:
  unsigned shift_;
  std::vector<uint64_t> buckets_;
  uint64_t samples_ = 0, sum_ = 0, overflow_ = 0, min_seen_ = ~0ull, max_seen_ = 0;
};

// Result of one page-table memory access.
enum class PtAccess : uint8_t { ok, error, poison };

// The walker is its walk socket's forward interface (no convenience-socket
// hop on every walk); it takes blocking transport only.
class PageWalker : public sc_core::sc_module, private tlm::tlm_fw_transport_if<> {
 public:
  tlm::tlm_target_socket<> walk_socket;
  sim::InitiatorSocket mem_socket;  // page-table reads and A/D writes: DMI where granted

  PageWalker(sc_core::sc_module_name name, sim::stats::Group* stats_parent, int bus_id);

  // The walk itself; `delay` grows by the memory latency of every access.
  void walk(const WalkRequest& req, WalkResult& res, sc_core::sc_time& delay);

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar walks{this, "walks", "Walks performed", "Count"};
    sim::stats::Scalar completed{this, "completed", "Walks that produced a translation", "Count"};
    sim::stats::Scalar from_root{this, "fromRoot", "Walks that started at the root (no paging-structure-cache hit)", "Count"};
    sim::stats::Scalar pt_reads{this, "ptReads", "Page-table reads, locked reads included", "Count"};
    sim::stats::Scalar ad_writes{this, "adWrites", "Accessed/Dirty updates written", "Count"};
    sim::stats::Scalar restarts{this, "restarts", "Walks restarted: an entry changed under a locked update", "Count"};
    sim::stats::Scalar faults_not_present{this, "faultsNotPresent", "Walks ending in a not-present page fault", "Count"};
    sim::stats::Scalar faults_protection{this, "faultsProtection", "Walks ending in a rights page fault", "Count"};
    sim::stats::Scalar faults_reserved{this, "faultsReserved", "Walks ending in a reserved-bit page fault", "Count"};
    sim::stats::Scalar machine_checks{this, "machineChecks", "Walks ending in a machine check", "Count"};
    sim::stats::Scalar leaves_4k{this, "leaves4K", "Translations to 4 KiB pages", "Count"};
    sim::stats::Scalar leaves_2m{this, "leaves2M", "Translations to 2 MiB pages", "Count"};
    sim::stats::Scalar leaves_1g{this, "leaves1G", "Translations to 1 GiB pages", "Count"};
    LatencyHistogram latency{this, "latency", "Walk latency", "ns", 5, 40};  // 32 ns buckets up to 1280 ns
    sim::stats::Formula latency_mean{this, "latencyMean", "Mean walk latency", "ns",
                                     [this] { return latency.mean(); }};
  } stats;

 private:
  // The model's name in debug lines: as stats.txt names it (system.cpu0.mmu.walker),
  // not its SystemC name (system.cpu0.walker).
  const std::string who_ = stats.path();
  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) override;
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) override;
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) override { return false; }
  unsigned int transport_dbg(tlm::tlm_generic_payload&) override { return 0; }
  void translate(const WalkRequest& req, WalkResult& res, sc_core::sc_time& delay);

  PtAccess read(uint64_t pa, uint64_t& value, sc_core::sc_time& delay, bool lock);
  PtAccess write(uint64_t pa, uint64_t value, sc_core::sc_time& delay, bool unlock);
  // One page-table access as a transaction (poison seen, bus lock taken or released).
  PtAccess transact(uint64_t pa, uint64_t* value, sc_core::sc_time& delay, bool is_write, bool locked);

  int bus_id_;
  // SystemC time at the walk's first transaction (the only place a walk can
  // wait, for another initiator's bus lock); unset while it used DMI only.
  sc_core::sc_time stamp0_;
  bool stamp0_valid_ = false;
};

}  // namespace hw
