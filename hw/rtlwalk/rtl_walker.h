// The RTL page walker (rtl/walker.sv, Verilated into SystemC) behind a TLM
// transactor. A drop-in for the TLM walker (hw/mmu/walker.h): the same
// sockets (a target for walk requests carrying hw::WalkExtension, an
// initiator for 8-byte page-table reads and locked A/D writes) and the same
// semantics (docs/walker.md). Ports, timing and tracing: docs/rtl-walker.md.
//
// Timing. The RTL is clocked at `Params::clock_period`, but the clock only
// runs while a walk is in progress: each walk synchronises with the caller's
// annotated delay (waits it, or, where allowed and nothing else is due at
// or before then, starts that far ahead: allow_start_ahead()), then clocks
// the RTL until it answers. A memory
// access's latency (the delay its b_transport returns) passes with the clock
// stopped. A walk therefore takes cycles * period + the memory latencies of
// simulated time, and returns with `delay` = 0. The first walk starts with a
// short reset (Params::reset_cycles).
//
// Drive. The transactor sets the model's ports and calls its eval() itself,
// cycle by cycle. Untraced (the fast drive), a walk runs ahead of SystemC
// time: its memory accesses carry the walk's time so far as their annotated
// delay, and one wait at the end brings SystemC time to the walk's end
// (with a start ahead, a second one before its first transaction).
// It drives a model Verilated without trace support, evaluated once per
// cycle. Traced (trace(), open_trace(), which must come before the first
// walk), it drives a model Verilated with trace support instead, and every
// half cycle and every memory latency passes in SystemC time, so that the
// waveform has a time step per edge. Cycles, results, assertions and the
// walk's end time are the same either way.
//
// The Verilator headers stay out of this header (the model lives in the
// implementation), so platform code needs only SystemC and TLM to use it.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include "hw/base/config.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/base/time.h"
#include "hw/ext/memory.h"
#include "hw/ext/walk.h"

class VerilatedFstSc;

namespace hw {

// Where the walker's plain page-table reads may go without a transaction:
// lockstep's recorder, which records each one and reads memory through DMI.
// read() adds the read's latency to `t` and returns true with the value,
// or returns false (no DMI there) and the walker makes the transaction.
class WalkReadPath {
 public:
  virtual bool read(uint64_t addr, uint64_t* data, sc_core::sc_time& t) = 0;

 protected:
  ~WalkReadPath() = default;
};

// Parameters of the transactor (hw::RtlWalker::Params).
struct RtlWalkerParams {
  sc_core::sc_time clock_period = sc_core::sc_time(1, sc_core::SC_NS);  // 1 GHz
  int bus_id = 0;              // LockExtension::initiator of the locked accesses
  unsigned reset_cycles = 2;   // before the first walk
  // A walk taking more cycles than this is reported as an RTL hang (SC_REPORT_ERROR).
  uint64_t max_cycles_per_walk = 100000;
  // Verification only: at each handshake (offering the request, taking a
  // memory request, answering it, taking the result) the transactor waits
  // 1..3 extra cycles with this probability, from a generator seeded with
  // stall_seed. Results must not change; 0 (the default) never stalls.
  unsigned stall_percent = 0;
  uint64_t stall_seed = 1;
};

class RtlWalker : public sc_core::sc_module {
 public:
  // The synthesis parameters the library's model was built with (rtl/walker.sv).
  static constexpr unsigned kRtlMaxLevels = 5;    // MAX_LEVELS
  static constexpr unsigned kRtlPaBits = 52;      // PA_BITS
  static constexpr unsigned kRtlVaBits = 57;      // VA_BITS
  static constexpr unsigned kRtlRestartLimit = 8; // RESTART_LIMIT

  using Params = RtlWalkerParams;
  // Reads the RTL walker's keys of `platform.mmu` (rtl_clock). `rtl`: the
  // run has an RTL walker (--walker=rtl or lockstep); without one the keys
  // would change nothing, so they are not read (params does not list them)
  // and a scenario that gives one is refused, as --wave is.
  static Params read_params(sim::ConfigNode mmu, bool rtl);

  // The statistics group of this walker ("walker" under its MMU's group when
  // it is the MMU's walker, "rtlWalker" in lockstep).
  struct Stats : sim::stats::Group {
    Stats(sim::stats::Group* parent, const std::string& name);
    sim::stats::Scalar walks{this, "walks", "Walks performed by the RTL walker", "Count"};
    sim::stats::Scalar translations{this, "completed", "Walks that produced a translation", "Count"};
    sim::stats::Scalar page_faults{this, "pageFaults", "Walks ending in a page fault", "Count"};
    sim::stats::Scalar machine_checks{this, "machineChecks", "Walks ending in a machine check", "Count"};
    sim::stats::Scalar mem_reads{this, "ptReads", "Page-table reads, locked reads included", "Count"};
    sim::stats::Scalar mem_writes{this, "memWrites", "A/D writes and lock releases", "Count"};
    sim::stats::Scalar locked_reads{this, "lockedReads", "Locked reads (A/D updates)", "Count"};
    sim::stats::Scalar restarts{this, "restarts", "Walks restarted: an entry changed under a locked update", "Count"};
    sim::stats::Scalar cycles{this, "cycles", "Clock cycles the RTL ran (its clock runs only during walks)", "Cycle"};
    sc_core::sc_time busy_time;  // simulated time spent in walks (memory latency included)
    sim::stats::Gauge busy_ns{this, "busyTime", "Simulated time spent in walks", "ns",
                              [this] { return sim::to_ns(busy_time); }};
  };

  tlm_utils::simple_target_socket<RtlWalker> walk_socket;  // walk requests (hw::WalkExtension)
  sim::InitiatorSocket mem_socket;                         // page-table accesses: plain reads by DMI where granted

  // `stats_parent` null: the walker's statistics form a tree of their own (tests).
  explicit RtlWalker(sc_core::sc_module_name name, const Params& params = Params(),
                     sim::stats::Group* stats_parent = nullptr, const std::string& stats_name = "walker");
  ~RtlWalker() override;

  // One walk on the RTL, as b_transport does it. Must be called from an
  // SC_THREAD (it waits): first `delay` (or, started ahead, before its first
  // transaction or at its end), then the walk; returns with delay = 0.
  // Concurrent callers are served one after the other.
  void walk(const WalkRequest& req, WalkResult& res, sc_core::sc_time& delay);

  // ---- Waveforms ----
  // Attach the RTL's signals to an FST trace file the caller owns. Order, as
  // for any Verilated SystemC model: construct (Verilated::traceEverOn is set
  // by this constructor), sc_start(SC_ZERO_TIME), trace(), then tfp->open().
  // Before the first walk (SC_REPORT_ERROR otherwise): from here on the
  // walker runs the model built with trace support.
  void trace(VerilatedFstSc* tfp, int levels = 99);
  // Convenience: a trace file of this walker alone, written to `path`
  // (FST), after elaboration. Closed by close_trace() or the destructor.
  void open_trace(const std::string& path, int levels = 99);
  void close_trace();

  // Lets a walk start ahead of SystemC time by the caller's delay, without
  // waiting it, when nothing is scheduled at or before the time the walk
  // would start (untraced drive only). The walk reads and returns what it
  // would have; only the order of SystemC events due at the same instant can
  // change (the kernel's queue of timed events sees one wait fewer), which
  // on a machine of several CPUs decides whether a core notices an IPI
  // before or after its walk (vm/lockstep-races changed). On one CPU the
  // devices' processes (disk, DMA, RAS, periodic statistics) could in
  // principle meet a walk's end at the same instant too; no scenario's
  // statistics changed. The platform allows it on a machine of one CPU;
  // off by default.
  void allow_start_ahead(bool allow) { start_ahead_allowed_ = allow; }
  // Plain page-table reads try `path` (kept by pointer) instead of
  // memory's DMI; null: memory's DMI.
  void read_through(WalkReadPath* path) { read_path_ = path; }

  const Params& params() const { return params_; }
  Stats stats;

 private:
  struct Impl;
  struct MemResponse {
    uint64_t data = 0;
    bool error = false;
    bool poison = false;
  };

  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
  void check_request(const WalkRequest& req) const;
  // trace() after the first walk: reports it (SC_REPORT_ERROR), returns true.
  bool refuse_late_trace();
  // The drive, for either Verilated model (with or without trace support;
  // both are built from the same RTL, rtl_walker.cpp).
  template <class Model>
  void reset(Model& m);
  template <class Model>
  void tick(Model& m);  // one clock cycle: rising edge, then the next sample point
  template <class Model>
  void run(Model& m, const WalkRequest& req, WalkResult& res);
  // One page-table access: a plain read through DMI where granted, else transact().
  MemResponse mem_access(uint64_t addr, bool write, uint64_t wdata, bool lock);
  // The access as a transaction at `time` (the walk's time, ahead of SystemC's), which grows by its latency.
  MemResponse transact(uint64_t addr, bool write, uint64_t wdata, bool lock, sc_core::sc_time& time);
  // No SystemC process is due at or before `delay` from now.
  bool nothing_scheduled_within(const sc_core::sc_time& delay) const;
  // A walk started ahead (walk()) waits the caller's delay now; `time`, an
  // access's time ahead of SystemC's, less by as much. start_ahead_ is read
  // again after the wait: nothing can run during it (nothing was due by
  // then when the walk started, and its DMI reads schedule nothing), so no
  // other caller's walk() can have changed it. (Clearing it before the wait
  // instead made lockstep's walks 2-4% slower, by code layout alone:
  // docs/performance.md, "3. The RTL walker".)
  void catch_up(sc_core::sc_time& time);
  unsigned stall();

  Params params_;
  sc_core::sc_time first_half_;
  sc_core::sc_time second_half_;
  bool reset_done_ = false;
  bool timed_ = false;         // traced: cycles and latencies pass in SystemC time
  sc_core::sc_time ahead_;     // fast drive: the walk's time ahead of SystemC time
  bool start_ahead_allowed_ = false;
  WalkReadPath* read_path_ = nullptr;
  sc_core::sc_time start_ahead_;  // of ahead_, the caller's delay not yet waited (walk(), catch_up())
  std::minstd_rand stall_rng_;
  bool busy_ = false;
  unsigned waiting_ = 0;  // callers waiting for the walk in progress to end
  sc_core::sc_event idle_event_;

  uint64_t mem_data_ = 0;
  LockExtension lock_ext_;
  PoisonExtension poison_ext_;

  std::unique_ptr<Impl> impl_;
  VerilatedFstSc* own_trace_ = nullptr;
};

}  // namespace hw
