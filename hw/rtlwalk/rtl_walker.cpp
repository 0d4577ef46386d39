#include "hw/rtlwalk/rtl_walker.h"

#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>

#include <unistd.h>

// verilated.h, seeing SystemC, expects sc_time_stamp() at global scope (as
// <systemc.h> would provide it); this file includes <systemc>.
using sc_core::sc_time_stamp;

#include "Vmmu_probe.h"
#include "Vwalker.h"
#include "Vwalker___024root.h"
#include "Vwalker_untraced.h"
#include "Vwalker_untraced___024root.h"
#include "verilated.h"
#include "verilated_fst_sc.h"
#if VM_COVERAGE
#include "verilated_cov.h"
#endif

namespace hw {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

constexpr unsigned kLevels = RtlWalker::kRtlMaxLevels;
constexpr unsigned kPaBits = RtlWalker::kRtlPaBits;
constexpr uint64_t kVaMask = (1ull << RtlWalker::kRtlVaBits) - 1;
constexpr uint64_t kPaMask = (1ull << kPaBits) - 1;

#if VM_COVERAGE
// Coverage builds (scripts/coverage.sh): when a walker is destroyed it writes
// the coverage counted so far to $MMCOSIM_RTL_COVERAGE_DIR/rtl_walker_<pid>_<n>.dat
// and clears the points (they refer into the model about to be freed).
void write_coverage() {
  static unsigned sequence = 0;
  VerilatedCovContext* cov = Verilated::threadContextp()->coveragep();
  const char* dir = std::getenv("MMCOSIM_RTL_COVERAGE_DIR");
  if (dir && *dir) {
    const std::string file = std::string(dir) + "/rtl_walker_" + std::to_string(::getpid()) + "_" +
                             std::to_string(sequence++) + ".dat";
    cov->write(file.c_str());
  }
  cov->clear();
}
#endif

// Bits [lo, lo + width) of a wide Verilated port (32-bit words), width <= 64.
uint64_t wide_bits(const uint32_t* words, unsigned lo, unsigned width) {
  const unsigned w = lo / 32, shift = lo % 32;
  // Up to three words hold the field; gather them, then cut it out.
  unsigned __int128 v = words[w];
  v |= static_cast<unsigned __int128>(words[w + 1]) << 32;
  if (shift + width > 64) v |= static_cast<unsigned __int128>(words[w + 2]) << 64;
  v >>= shift;
  return static_cast<uint64_t>(width == 64 ? v : v & ((1ull << width) - 1));
}

// Request inputs for `req` (offered until the RTL accepts it).
template <class Model>
void drive_request(Model& rtl, const WalkRequest& req) {
  rtl.req_va = req.va & kVaMask;
  rtl.req_access = static_cast<uint8_t>(req.access);
  rtl.req_user = req.user;
  rtl.req_cr3 = req.cr3;
  rtl.req_wp = req.wp;
  rtl.req_nxe = req.nxe;
  rtl.req_levels = static_cast<uint8_t>(req.levels);
  rtl.req_maxphyaddr = static_cast<uint8_t>(req.maxphyaddr);
  rtl.req_start_level = static_cast<uint8_t>(req.start_level);
  rtl.req_start_table = req.start_table & kPaMask;
  rtl.req_acc_rw = req.acc_rw;
  rtl.req_acc_us = req.acc_us;
  rtl.req_acc_nx = req.acc_nx;
}

// The result the RTL offers (read while rsp_valid is 1).
template <class Model>
void read_result(const Model& rtl, WalkResult& r) {
  // Copied from a constant (a few vector moves) rather than value-initialised
  // in place, which GCC does with a slow-starting `rep stos`.
  static const WalkResult kNone{};
  r = kNone;
  r.status = static_cast<WalkStatus>(rtl.rsp_status);
  r.pa = rtl.rsp_pa;
  r.leaf_level = rtl.rsp_leaf_level;
  r.page_size = (r.leaf_level >= 1 && r.leaf_level <= 3) ? 1ull << (12 + 9 * (r.leaf_level - 1)) : 0;
  r.rw = rtl.rsp_rw;
  r.us = rtl.rsp_us;
  r.nx = rtl.rsp_nx;
  r.global = rtl.rsp_global;
  r.dirty = rtl.rsp_dirty;
  r.memtype = rtl.rsp_memtype;
  r.error_code = rtl.rsp_error_code;
  r.fault_level = rtl.rsp_fault_level;
  r.fault_pte_addr = rtl.rsp_fault_pte_addr;
  r.mc_addr = rtl.rsp_mc_addr;
  r.mc_poison = rtl.rsp_mc_poison;
  // Only the levels the final pass read: the others' address and value are
  // 0 (a pass starts with nothing recorded), as in r already.
  const uint32_t valid = rtl.rsp_pte_valid;
  for (unsigned l = 1; l <= kLevels && l <= kMaxLevels; ++l) {
    if (!((valid >> (l - 1)) & 1)) continue;
    r.pte_valid[l] = true;
    r.pte_addr[l] = wide_bits(rtl.rsp_pte_addr.data(), (l - 1) * kPaBits, kPaBits);
    r.pte_value[l] = wide_bits(rtl.rsp_pte_value.data(), (l - 1) * 64, 64);
  }
  r.mem_reads = rtl.rsp_mem_reads;
  r.mem_writes = rtl.rsp_mem_writes;
  r.restarts = rtl.rsp_restarts;
}

// One evaluation per cycle. Verilator 5.006 finds a rising edge by
// comparing clk with its value at the last evaluation, kept in the root's
// __Vtrigrprev__TOP__clk. Writing 0 there after the edge's evaluation lets
// the model see the clock low without evaluating it again: that evaluation
// would only recompute, from unchanged inputs and registers, what the
// edge's evaluation left. A Verilator without that member gets the
// evaluation (the model is then evaluated twice per cycle).
template <class Root, class = void>
struct HasClockMemo : std::false_type {};
template <class Root>
struct HasClockMemo<Root, std::void_t<decltype(std::declval<Root&>().__Vtrigrprev__TOP__clk)>> : std::true_type {};
constexpr bool kOneEvalPerCycle = HasClockMemo<Vwalker_untraced___024root>::value;

}  // namespace

// The Verilated models, C++ rather than SystemC: the transactor sets their
// ports and calls eval() itself, so a cycle costs no SystemC scheduling.
// The walker exists twice, Verilated from the same RTL (assertions
// included), without and with trace support: trace support keeps every
// signal in the model and records its activity at every evaluation, which
// a run without a waveform does not need (hw/rtlwalk/CMakeLists.txt). Their
// names are the waveform scopes (<walker>.rtl.walker, <walker>.mmu.mmu_probe).
struct RtlWalker::Impl {
  std::string rtl_name;
  Vwalker_untraced fast;
  std::unique_ptr<Vwalker> traced;  // once trace() was called
  Vmmu_probe mmu;  // MMU-level signals for waveforms (rtl/mmu_probe.sv)

  explicit Impl(const std::string& base)
      : rtl_name(base + ".rtl"), fast(rtl_name.c_str()), mmu((base + ".mmu").c_str()) {
    // Settle the models' combinational outputs from their initial inputs
    // (as SystemC's initialisation did when they were SystemC modules), so
    // that a waveform starts from settled values.
    fast.eval();
    mmu.eval();
  }

  // Before the first walk: the model with trace support takes over, in the
  // same initial state. (The untraced one stays, unused: a coverage build's
  // points refer into it until the walker is destroyed.)
  Vwalker& use_traced() {
    if (!traced) {
      traced = std::make_unique<Vwalker>(rtl_name.c_str());
      traced->eval();
    }
    return *traced;
  }

  // Calls fn with the model in use.
  template <class Fn>
  void with_model(Fn&& fn) {
    if (traced) fn(*traced);
    else fn(fast);
  }

  // The MMU-level view: a miss starts a walk...
  void probe_start(const WalkRequest& req, uint64_t count) {
    mmu.tlb_miss = 1;
    mmu.miss_va = req.va;
    mmu.miss_access = static_cast<uint8_t>(req.access);
    mmu.walk_ok = 0;
    mmu.page_fault = 0;
    mmu.machine_check = 0;
    mmu.walk_count = static_cast<uint32_t>(count);
  }
  // ...and ends one way, shown until the next walk starts.
  void probe_end(const WalkResult& r) {
    mmu.tlb_miss = 0;
    mmu.walk_ok = r.status == WalkStatus::ok;
    mmu.walk_pa = r.status == WalkStatus::ok ? r.pa : 0;
    mmu.page_fault = r.status == WalkStatus::page_fault;
    mmu.fault_code = static_cast<uint8_t>(r.status == WalkStatus::page_fault ? r.error_code : 0);
    mmu.machine_check = r.status == WalkStatus::machine_check;
  }
};

RtlWalker::Params RtlWalker::read_params(sim::ConfigNode mmu, bool rtl) {
  Params p;
  if (!rtl) {
    if (mmu.has("rtl_clock"))
      mmu.fail("rtl_clock", "the TLM walker has no clock (this key is for --walker=rtl or lockstep)");
    return p;
  }
  const sim::Frequency clock =
      mmu.get<sim::Frequency>("rtl_clock", {1000000000}, "Clock of the RTL walker (it runs only during walks)");
  p.clock_period = sim::period_of(clock.hz);
  return p;
}

RtlWalker::Stats::Stats(sim::stats::Group* parent, const std::string& name) : sim::stats::Group(parent, name) {}

RtlWalker::RtlWalker(sc_core::sc_module_name name, const Params& params, sim::stats::Group* stats_parent,
                     const std::string& stats_name)
    : sc_module(name), walk_socket("walk_socket"), mem_socket("mem_socket"), stats(stats_parent, stats_name),
      params_(params) {
  if (params_.clock_period < 2 * sc_core::sc_get_time_resolution())
    SC_REPORT_ERROR(this->name(), "clock period shorter than two time-resolution steps");
  first_half_ = params_.clock_period / 2;
  second_half_ = params_.clock_period - first_half_;
  lock_ext_.initiator = params_.bus_id;

  // Before the model exists, so that it can be traced later.
  Verilated::traceEverOn(true);
  impl_ = std::make_unique<Impl>(this->name());

  walk_socket.register_b_transport(this, &RtlWalker::b_transport);
}

RtlWalker::~RtlWalker() {
  close_trace();
#if VM_COVERAGE
  write_coverage();
#endif
}

bool RtlWalker::refuse_late_trace() {
  if (!reset_done_ || impl_->traced) return false;
  SC_REPORT_ERROR(name(), "trace() after the first walk: attach waveforms before the simulation runs");
  return true;
}

void RtlWalker::trace(VerilatedFstSc* tfp, int levels) {
  if (refuse_late_trace()) return;
  impl_->use_traced().trace(tfp, levels);
  impl_->mmu.trace(tfp, levels);
  // A trace samples the models at SystemC time steps: from now on every
  // half cycle passes in SystemC time.
  timed_ = true;
}

void RtlWalker::open_trace(const std::string& path, int levels) {
  close_trace();
  if (refuse_late_trace()) return;
  own_trace_ = new VerilatedFstSc;
  trace(own_trace_, levels);
  own_trace_->open(path.c_str());
}

void RtlWalker::close_trace() {
  if (!own_trace_) return;
  own_trace_->close();
  delete own_trace_;
  own_trace_ = nullptr;
}

void RtlWalker::b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) { serve_walk(*this, trans, delay); }

void RtlWalker::check_request(const WalkRequest& req) const {
  const char* bad = nullptr;
  if (req.levels < 4 || req.levels > kRtlMaxLevels) bad = "levels";
  else if (req.start_level < 1 || req.start_level > req.levels) bad = "start_level";
  else if (req.maxphyaddr < 36 || req.maxphyaddr > kRtlPaBits) bad = "maxphyaddr";
  else if (static_cast<unsigned>(req.access) > 2) bad = "access";
  if (bad) SC_REPORT_ERROR(name(), (std::string("walk request with an unsupported ") + bad).c_str());
}

void RtlWalker::walk(const WalkRequest& req, WalkResult& res, sc_time& delay) {
  check_request(req);
  // Catch up with the caller's local time: the RTL runs in simulated time.
  // Where allowed, the fast drive skips the wait when nothing else is
  // scheduled before the walk would start: the walk then starts ahead of
  // SystemC time by the caller's delay, and waits it at its first
  // transaction (catch_up()) or with its own time at the end. Plain reads
  // through DMI change nothing and schedule nothing, so the walk reads what
  // it would have read; a SystemC wait costs about as much host time as the
  // TLM walker's whole walk (docs/rtl-walker.md, "Host speed").
  start_ahead_ = delay != SC_ZERO_TIME && start_ahead_allowed_ && !timed_ && !busy_ && nothing_scheduled_within(delay)
                     ? delay
                     : SC_ZERO_TIME;
  if (delay != SC_ZERO_TIME && start_ahead_ == SC_ZERO_TIME) sc_core::wait(delay);
  delay = SC_ZERO_TIME;
  while (busy_) {
    ++waiting_;
    sc_core::wait(idle_event_);
    --waiting_;
  }
  busy_ = true;
  const sc_time start = sc_core::sc_time_stamp() + start_ahead_;
  ahead_ = start_ahead_;
  if (!reset_done_) impl_->with_model([this](auto& m) { reset(m); });
  // The MMU probe is for waveforms only (timed_: a trace is attached).
  if (timed_) {
    impl_->probe_start(req, stats.walks + 1);
    impl_->mmu.eval();
  }
  impl_->with_model([&](auto& m) { run(m, req, res); });
  // The fast drive ran ahead of SystemC time: the walk ends when its
  // cycles and memory latencies have passed.
  if (ahead_ != SC_ZERO_TIME) sc_core::wait(ahead_);
  ahead_ = start_ahead_ = SC_ZERO_TIME;
  if (timed_) {
    impl_->probe_end(res);
    impl_->mmu.eval();
  }
  stats.busy_time += sc_core::sc_time_stamp() - start;
  ++stats.walks;
  stats.restarts += res.restarts;
  switch (res.status) {
    case WalkStatus::ok: ++stats.translations; break;
    case WalkStatus::page_fault: ++stats.page_faults; break;
    case WalkStatus::machine_check: ++stats.machine_checks; break;
  }
  busy_ = false;
  // Only a waiting caller needs the notification; with none (every walk but
  // concurrent ones) it would cost the scheduler a delta notification per walk.
  if (waiting_ > 0) idle_event_.notify(SC_ZERO_TIME);
}

template <class Model>
void RtlWalker::tick(Model& m) {
  // Inputs were set at this sample point (the clock is low); the rising
  // edge comes half a period later, and the next sample point half a
  // period after it.
  if (timed_) {
    // Each half cycle passes in SystemC time, so that the trace, which
    // samples at the end of each time step, shows the clock high and low:
    // the new inputs settle, the edge, the clock low again.
    m.eval();
    sc_core::wait(first_half_);
    m.clk = 1;
    m.eval();
    sc_core::wait(second_half_);
    m.clk = 0;
    m.eval();
  } else {
    // The edge's evaluation settles the new inputs first, then clocks the
    // registers. (That needs no assertion to sample, with $past or $stable,
    // an internal signal computed from an input: the model samples before
    // it settles the inputs. The test rtl_sampled_signals keeps it so.)
    if constexpr (!kOneEvalPerCycle) m.eval();
    m.clk = 1;
    m.eval();
    m.clk = 0;
    if constexpr (kOneEvalPerCycle) m.rootp->__Vtrigrprev__TOP__clk = 0;
    ahead_ += params_.clock_period;
  }
  ++stats.cycles;
}

template <class Model>
void RtlWalker::reset(Model& m) {
  m.rst_n = 0;
  m.req_valid = 0;
  m.mem_req_ready = 0;
  m.mem_rsp_valid = 0;
  m.rsp_ready = 0;
  stall_rng_.seed(params_.stall_seed);
  for (unsigned i = 0; i < params_.reset_cycles; ++i) tick(m);
  m.rst_n = 1;
  reset_done_ = true;
}

RtlWalker::MemResponse RtlWalker::mem_access(uint64_t addr, bool write, uint64_t wdata, bool lock) {
  // Timed: the access happens now. Fast: at the walk's time ahead of
  // SystemC's, annotated as a loosely-timed initiator does (a target that
  // must wait, for another initiator's bus lock, synchronises first and
  // returns only its latency).
  sc_time time = ahead_;
  MemResponse r;
  // A plain read through DMI where memory granted it (or through the read
  // path, lockstep's recorder, which reads by DMI too): the value and the
  // latency a transaction would bring. Memory withholds DMI from lines
  // under a bus lock and from pages with an injected error, so those reads
  // still wait for the lock or report the poison. Locked reads and their
  // writes stay transactions: they take the bus lock, which the traced
  // drive holds while SystemC time passes between the two.
  const bool plain_read = !write && !lock;
  const bool direct =
      plain_read && (read_path_ ? read_path_->read(addr, &r.data, time) : mem_socket.dmi_read(addr, &r.data, 8, time));
  if (!direct) {
    catch_up(time);  // a transaction may schedule others: SystemC time reaches the walk's start first
    r = transact(addr, write, wdata, lock, time);
  }
  if (write) ++stats.mem_writes;
  else ++stats.mem_reads;
  if (lock && !write) ++stats.locked_reads;
  // The memory's latency passes with the clock stopped.
  if (!timed_) ahead_ = time;
  else if (time != SC_ZERO_TIME) sc_core::wait(time);
  return r;
}

bool RtlWalker::nothing_scheduled_within(const sc_time& delay) const {
  return !sc_core::sc_pending_activity_at_current_time() && sc_core::sc_time_to_pending_activity() > delay;
}

void RtlWalker::catch_up(sc_time& time) {
  if (start_ahead_ == SC_ZERO_TIME) return;
  sc_core::wait(start_ahead_);
  ahead_ -= start_ahead_;
  time -= start_ahead_;
  start_ahead_ = SC_ZERO_TIME;
}

RtlWalker::MemResponse RtlWalker::transact(uint64_t addr, bool write, uint64_t wdata, bool lock, sc_time& time) {
  MemResponse r;
  mem_data_ = write ? wdata : 0;  // a failed read leaves zeros, as in the TLM walker
  const tlm::tlm_command cmd = write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND;
  poison_ext_.clear();
  tlm::tlm_response_status rsp;
  if (lock) {
    lock_ext_.op = write ? LockExtension::Op::unlock_write : LockExtension::Op::lock_read;
    rsp = mem_socket.transport(cmd, addr, &mem_data_, 8, time, lock_ext_, poison_ext_);
  } else {
    rsp = mem_socket.transport(cmd, addr, &mem_data_, 8, time, poison_ext_);
    // Memory says DMI would do for this line: ask for the region once.
    if (!write) mem_socket.request_dmi_if_allowed(mem_socket.last());
  }
  r.poison = poison_ext_.poisoned;
  r.error = !r.poison && rsp != tlm::TLM_OK_RESPONSE;
  r.data = write ? 0 : mem_data_;
  return r;
}

unsigned RtlWalker::stall() {
  if (params_.stall_percent == 0) return 0;
  if (stall_rng_() % 100 >= params_.stall_percent) return 0;
  return 1 + static_cast<unsigned>(stall_rng_() % 3);
}

template <class Model>
void RtlWalker::run(Model& m, const WalkRequest& req, WalkResult& res) {
  // At a sample point the outputs show the state after the last rising
  // edge, and the inputs written now are what the next edge sees. Every RTL
  // output is a function of registers only, so each handshake of the next
  // edge is known here: valid (driven or read now) and ready (read or
  // driven now). Without stall injection the transactor is always ready and
  // answers memory requests at once.
  drive_request(m, req);
  bool request_pending = true;
  unsigned req_wait = stall();
  bool mem_req_seen = false;
  unsigned mem_ready_wait = 0;
  bool mem_rsp_pending = false;  // a response known, not offered yet
  unsigned mem_rsp_wait = 0;
  bool mem_rsp_offered = false;
  MemResponse mem;
  bool rsp_seen = false;
  unsigned rsp_ready_wait = 0;
  uint64_t cycles = 0;
  for (;;) {
    // Request channel.
    bool req_valid = false;
    if (request_pending) {
      if (req_wait > 0) --req_wait;
      else req_valid = true;
    }
    const bool req_fire = req_valid && m.req_ready;

    // Memory request channel: take the request (and answer it from memory).
    const bool mem_req_valid = m.mem_req_valid;
    bool mem_req_ready = true;
    if (mem_req_valid) {
      if (!mem_req_seen) {
        mem_req_seen = true;
        mem_ready_wait = stall();
      }
      if (mem_ready_wait > 0) {
        --mem_ready_wait;
        mem_req_ready = false;
      }
    }
    const bool mem_req_fire = mem_req_valid && mem_req_ready;
    if (mem_req_fire) {
      mem = mem_access(m.mem_req_addr, m.mem_req_write, m.mem_req_wdata, m.mem_req_lock);
      mem_req_seen = false;
      mem_rsp_pending = true;
      mem_rsp_wait = stall();
    }

    // Memory response channel (the response stays offered until taken).
    const bool mem_rsp_fire = mem_rsp_offered && m.mem_rsp_ready;

    // Result channel.
    const bool rsp_valid = m.rsp_valid;
    bool rsp_ready = true;
    if (rsp_valid) {
      if (!rsp_seen) {
        rsp_seen = true;
        rsp_ready_wait = stall();
      }
      if (rsp_ready_wait > 0) {
        --rsp_ready_wait;
        rsp_ready = false;
      }
    }
    const bool rsp_fire = rsp_valid && rsp_ready;
    if (rsp_fire) read_result(m, res);

    m.req_valid = req_valid;
    m.mem_req_ready = mem_req_ready;
    m.rsp_ready = rsp_ready;
    tick(m);

    if (req_fire) request_pending = false;
    if (mem_rsp_fire) {
      m.mem_rsp_valid = 0;
      mem_rsp_offered = false;
    }
    if (mem_rsp_pending) {
      if (mem_rsp_wait > 0) {
        --mem_rsp_wait;
      } else {
        m.mem_rsp_valid = 1;
        m.mem_rsp_data = mem.data;
        m.mem_rsp_error = mem.error;
        m.mem_rsp_poison = mem.poison;
        mem_rsp_offered = true;
        mem_rsp_pending = false;
      }
    }
    if (rsp_fire) {
      m.req_valid = 0;
      return;
    }
    if (++cycles > params_.max_cycles_per_walk) {
      SC_REPORT_ERROR(name(), "RTL walker did not answer within max_cycles_per_walk");
      return;
    }
  }
}

}  // namespace hw
