#include "hw/rtlwalk/rtl_walker.h"

#include <cstdlib>
#include <string>

#include <unistd.h>

#include "Vmmu_probe.h"
#include "Vwalker.h"
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

template <typename T>
using Signal = sc_core::sc_signal<T, sc_core::SC_MANY_WRITERS>;

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

}  // namespace

// The Verilated model and the signals between it and the transactor. Names
// follow the RTL ports (they appear in SystemC traces and error messages).
struct RtlWalker::Impl {
  Vwalker rtl;
  Vmmu_probe mmu;  // MMU-level signals for waveforms (rtl/mmu_probe.sv)

  Signal<bool> probe_tlb_miss{"probe_tlb_miss"};
  Signal<uint64_t> probe_miss_va{"probe_miss_va"};
  Signal<uint32_t> probe_miss_access{"probe_miss_access"};
  Signal<bool> probe_walk_ok{"probe_walk_ok"};
  Signal<uint64_t> probe_walk_pa{"probe_walk_pa"};
  Signal<bool> probe_page_fault{"probe_page_fault"};
  Signal<uint32_t> probe_fault_code{"probe_fault_code"};
  Signal<bool> probe_machine_check{"probe_machine_check"};
  Signal<uint32_t> probe_walk_count{"probe_walk_count"};

  Signal<bool> clk{"clk"};
  Signal<bool> rst_n{"rst_n"};

  Signal<bool> req_valid{"req_valid"};
  Signal<bool> req_ready{"req_ready"};
  Signal<uint64_t> req_va{"req_va"};
  Signal<uint32_t> req_access{"req_access"};
  Signal<bool> req_user{"req_user"};
  Signal<uint64_t> req_cr3{"req_cr3"};
  Signal<bool> req_wp{"req_wp"};
  Signal<bool> req_nxe{"req_nxe"};
  Signal<uint32_t> req_levels{"req_levels"};
  Signal<uint32_t> req_maxphyaddr{"req_maxphyaddr"};
  Signal<uint32_t> req_start_level{"req_start_level"};
  Signal<uint64_t> req_start_table{"req_start_table"};
  Signal<bool> req_acc_rw{"req_acc_rw"};
  Signal<bool> req_acc_us{"req_acc_us"};
  Signal<bool> req_acc_nx{"req_acc_nx"};

  Signal<bool> mem_req_valid{"mem_req_valid"};
  Signal<bool> mem_req_ready{"mem_req_ready"};
  Signal<uint64_t> mem_req_addr{"mem_req_addr"};
  Signal<bool> mem_req_write{"mem_req_write"};
  Signal<uint64_t> mem_req_wdata{"mem_req_wdata"};
  Signal<bool> mem_req_lock{"mem_req_lock"};
  Signal<bool> mem_rsp_valid{"mem_rsp_valid"};
  Signal<bool> mem_rsp_ready{"mem_rsp_ready"};
  Signal<uint64_t> mem_rsp_data{"mem_rsp_data"};
  Signal<bool> mem_rsp_error{"mem_rsp_error"};
  Signal<bool> mem_rsp_poison{"mem_rsp_poison"};

  Signal<bool> rsp_valid{"rsp_valid"};
  Signal<bool> rsp_ready{"rsp_ready"};
  Signal<uint32_t> rsp_status{"rsp_status"};
  Signal<uint64_t> rsp_pa{"rsp_pa"};
  Signal<uint32_t> rsp_leaf_level{"rsp_leaf_level"};
  Signal<bool> rsp_rw{"rsp_rw"};
  Signal<bool> rsp_us{"rsp_us"};
  Signal<bool> rsp_nx{"rsp_nx"};
  Signal<bool> rsp_global{"rsp_global"};
  Signal<bool> rsp_dirty{"rsp_dirty"};
  Signal<uint32_t> rsp_memtype{"rsp_memtype"};
  Signal<uint32_t> rsp_error_code{"rsp_error_code"};
  Signal<uint32_t> rsp_fault_level{"rsp_fault_level"};
  Signal<uint64_t> rsp_fault_pte_addr{"rsp_fault_pte_addr"};
  Signal<uint64_t> rsp_mc_addr{"rsp_mc_addr"};
  Signal<bool> rsp_mc_poison{"rsp_mc_poison"};
  Signal<uint32_t> rsp_pte_valid{"rsp_pte_valid"};
  Signal<sc_dt::sc_bv<kLevels * kPaBits>> rsp_pte_addr{"rsp_pte_addr"};
  Signal<sc_dt::sc_bv<kLevels * 64>> rsp_pte_value{"rsp_pte_value"};
  Signal<uint32_t> rsp_mem_reads{"rsp_mem_reads"};
  Signal<uint32_t> rsp_mem_writes{"rsp_mem_writes"};
  Signal<uint32_t> rsp_restarts{"rsp_restarts"};

  Impl() : rtl("rtl"), mmu("mmu") {
    mmu.tlb_miss(probe_tlb_miss);
    mmu.miss_va(probe_miss_va);
    mmu.miss_access(probe_miss_access);
    mmu.walk_ok(probe_walk_ok);
    mmu.walk_pa(probe_walk_pa);
    mmu.page_fault(probe_page_fault);
    mmu.fault_code(probe_fault_code);
    mmu.machine_check(probe_machine_check);
    mmu.walk_count(probe_walk_count);
    rtl.clk(clk);
    rtl.rst_n(rst_n);
    rtl.req_valid(req_valid);
    rtl.req_ready(req_ready);
    rtl.req_va(req_va);
    rtl.req_access(req_access);
    rtl.req_user(req_user);
    rtl.req_cr3(req_cr3);
    rtl.req_wp(req_wp);
    rtl.req_nxe(req_nxe);
    rtl.req_levels(req_levels);
    rtl.req_maxphyaddr(req_maxphyaddr);
    rtl.req_start_level(req_start_level);
    rtl.req_start_table(req_start_table);
    rtl.req_acc_rw(req_acc_rw);
    rtl.req_acc_us(req_acc_us);
    rtl.req_acc_nx(req_acc_nx);
    rtl.mem_req_valid(mem_req_valid);
    rtl.mem_req_ready(mem_req_ready);
    rtl.mem_req_addr(mem_req_addr);
    rtl.mem_req_write(mem_req_write);
    rtl.mem_req_wdata(mem_req_wdata);
    rtl.mem_req_lock(mem_req_lock);
    rtl.mem_rsp_valid(mem_rsp_valid);
    rtl.mem_rsp_ready(mem_rsp_ready);
    rtl.mem_rsp_data(mem_rsp_data);
    rtl.mem_rsp_error(mem_rsp_error);
    rtl.mem_rsp_poison(mem_rsp_poison);
    rtl.rsp_valid(rsp_valid);
    rtl.rsp_ready(rsp_ready);
    rtl.rsp_status(rsp_status);
    rtl.rsp_pa(rsp_pa);
    rtl.rsp_leaf_level(rsp_leaf_level);
    rtl.rsp_rw(rsp_rw);
    rtl.rsp_us(rsp_us);
    rtl.rsp_nx(rsp_nx);
    rtl.rsp_global(rsp_global);
    rtl.rsp_dirty(rsp_dirty);
    rtl.rsp_memtype(rsp_memtype);
    rtl.rsp_error_code(rsp_error_code);
    rtl.rsp_fault_level(rsp_fault_level);
    rtl.rsp_fault_pte_addr(rsp_fault_pte_addr);
    rtl.rsp_mc_addr(rsp_mc_addr);
    rtl.rsp_mc_poison(rsp_mc_poison);
    rtl.rsp_pte_valid(rsp_pte_valid);
    rtl.rsp_pte_addr(rsp_pte_addr);
    rtl.rsp_pte_value(rsp_pte_value);
    rtl.rsp_mem_reads(rsp_mem_reads);
    rtl.rsp_mem_writes(rsp_mem_writes);
    rtl.rsp_restarts(rsp_restarts);
  }

  // The MMU-level view: a miss starts a walk...
  void probe_start(const WalkRequest& req, uint64_t count) {
    probe_tlb_miss.write(true);
    probe_miss_va.write(req.va);
    probe_miss_access.write(static_cast<uint32_t>(req.access));
    probe_walk_ok.write(false);
    probe_page_fault.write(false);
    probe_machine_check.write(false);
    probe_walk_count.write(static_cast<uint32_t>(count));
  }
  // ...and ends one way, shown until the next walk starts.
  void probe_end(const WalkResult& r) {
    probe_tlb_miss.write(false);
    probe_walk_ok.write(r.status == WalkStatus::ok);
    probe_walk_pa.write(r.status == WalkStatus::ok ? r.pa : 0);
    probe_page_fault.write(r.status == WalkStatus::page_fault);
    probe_fault_code.write(r.status == WalkStatus::page_fault ? r.error_code : 0);
    probe_machine_check.write(r.status == WalkStatus::machine_check);
  }

  // Request inputs for `req` (offered until the RTL accepts it).
  void drive_request(const WalkRequest& req) {
    req_va.write(req.va & kVaMask);
    req_access.write(static_cast<uint32_t>(req.access));
    req_user.write(req.user);
    req_cr3.write(req.cr3);
    req_wp.write(req.wp);
    req_nxe.write(req.nxe);
    req_levels.write(req.levels);
    req_maxphyaddr.write(req.maxphyaddr);
    req_start_level.write(req.start_level);
    req_start_table.write(req.start_table & kPaMask);
    req_acc_rw.write(req.acc_rw);
    req_acc_us.write(req.acc_us);
    req_acc_nx.write(req.acc_nx);
    req_valid.write(true);
  }

  // The result the RTL offers (read while rsp_valid is 1).
  void read_result(WalkResult& r) const {
    r = WalkResult{};
    r.status = static_cast<WalkStatus>(rsp_status.read());
    r.pa = rsp_pa.read();
    r.leaf_level = rsp_leaf_level.read();
    r.page_size = (r.leaf_level >= 1 && r.leaf_level <= 3) ? 1ull << (12 + 9 * (r.leaf_level - 1)) : 0;
    r.rw = rsp_rw.read();
    r.us = rsp_us.read();
    r.nx = rsp_nx.read();
    r.global = rsp_global.read();
    r.dirty = rsp_dirty.read();
    r.memtype = static_cast<uint8_t>(rsp_memtype.read());
    r.error_code = rsp_error_code.read();
    r.fault_level = rsp_fault_level.read();
    r.fault_pte_addr = rsp_fault_pte_addr.read();
    r.mc_addr = rsp_mc_addr.read();
    r.mc_poison = rsp_mc_poison.read();
    const uint32_t valid = rsp_pte_valid.read();
    const sc_dt::sc_bv<kLevels * kPaBits> addrs = rsp_pte_addr.read();
    const sc_dt::sc_bv<kLevels * 64> values = rsp_pte_value.read();
    for (unsigned l = 1; l <= kLevels && l <= kMaxLevels; ++l) {
      r.pte_valid[l] = (valid >> (l - 1)) & 1;
      r.pte_addr[l] = addrs.range((l - 1) * kPaBits + kPaBits - 1, (l - 1) * kPaBits).to_uint64();
      r.pte_value[l] = values.range((l - 1) * 64 + 63, (l - 1) * 64).to_uint64();
    }
    r.mem_reads = rsp_mem_reads.read();
    r.mem_writes = rsp_mem_writes.read();
    r.restarts = rsp_restarts.read();
  }
};

RtlWalker::Params RtlWalker::read_params(sim::ConfigNode mmu) {
  Params p;
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
  impl_ = std::make_unique<Impl>();

  walk_socket.register_b_transport(this, &RtlWalker::b_transport);
}

RtlWalker::~RtlWalker() {
  close_trace();
#if VM_COVERAGE
  write_coverage();
#endif
}

void RtlWalker::trace(VerilatedFstSc* tfp, int levels) {
  impl_->rtl.trace(tfp, levels);
  impl_->mmu.trace(tfp, levels);
}

void RtlWalker::open_trace(const std::string& path, int levels) {
  close_trace();
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
  if (delay != SC_ZERO_TIME) {
    sc_core::wait(delay);
    delay = SC_ZERO_TIME;
  }
  while (busy_) sc_core::wait(idle_event_);
  busy_ = true;
  const sc_time start = sc_core::sc_time_stamp();
  if (!reset_done_) reset();
  impl_->probe_start(req, stats.walks + 1);
  run(req, res);
  impl_->probe_end(res);
  stats.busy_time += sc_core::sc_time_stamp() - start;
  ++stats.walks;
  stats.restarts += res.restarts;
  switch (res.status) {
    case WalkStatus::ok: ++stats.translations; break;
    case WalkStatus::page_fault: ++stats.page_faults; break;
    case WalkStatus::machine_check: ++stats.machine_checks; break;
  }
  busy_ = false;
  idle_event_.notify(SC_ZERO_TIME);
}

void RtlWalker::tick() {
  // Inputs were driven at the previous sample point; the rising edge comes
  // half a period later, and the next sample point half a period after it.
  sc_core::wait(first_half_);
  impl_->clk.write(true);
  sc_core::wait(second_half_);
  impl_->clk.write(false);
  ++stats.cycles;
}

void RtlWalker::reset() {
  Impl& s = *impl_;
  s.rst_n.write(false);
  s.req_valid.write(false);
  s.mem_req_ready.write(false);
  s.mem_rsp_valid.write(false);
  s.rsp_ready.write(false);
  stall_rng_.seed(params_.stall_seed);
  for (unsigned i = 0; i < params_.reset_cycles; ++i) tick();
  s.rst_n.write(true);
  reset_done_ = true;
}

RtlWalker::MemResponse RtlWalker::mem_access(uint64_t addr, bool write, uint64_t wdata, bool lock) {
  MemResponse r;
  mem_data_ = write ? wdata : 0;  // a failed read leaves zeros, as in the TLM walker
  const tlm::tlm_command cmd = write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND;
  poison_ext_.clear();
  sc_time latency = SC_ZERO_TIME;
  tlm::tlm_response_status rsp;
  if (lock) {
    lock_ext_.op = write ? LockExtension::Op::unlock_write : LockExtension::Op::lock_read;
    rsp = mem_socket.transport(cmd, addr, &mem_data_, 8, latency, lock_ext_, poison_ext_);
  } else {
    rsp = mem_socket.transport(cmd, addr, &mem_data_, 8, latency, poison_ext_);
  }
  r.poison = poison_ext_.poisoned;
  r.error = !r.poison && rsp != tlm::TLM_OK_RESPONSE;
  r.data = write ? 0 : mem_data_;
  if (write) ++stats.mem_writes;
  else ++stats.mem_reads;
  if (lock && !write) ++stats.locked_reads;
  // The memory's latency passes with the clock stopped.
  if (latency != SC_ZERO_TIME) sc_core::wait(latency);
  return r;
}

unsigned RtlWalker::stall() {
  if (params_.stall_percent == 0) return 0;
  if (stall_rng_() % 100 >= params_.stall_percent) return 0;
  return 1 + static_cast<unsigned>(stall_rng_() % 3);
}

void RtlWalker::run(const WalkRequest& req, WalkResult& res) {
  Impl& s = *impl_;
  // At a sample point the outputs show the state after the last rising
  // edge, and the inputs written now are what the next edge sees. Every RTL
  // output is a function of registers only, so each handshake of the next
  // edge is known here: valid (driven or read now) and ready (read or
  // driven now). Without stall injection the transactor is always ready and
  // answers memory requests at once.
  s.drive_request(req);
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
    const bool req_fire = req_valid && s.req_ready.read();

    // Memory request channel: take the request (and answer it from memory).
    const bool mem_req_valid = s.mem_req_valid.read();
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
      mem = mem_access(s.mem_req_addr.read(), s.mem_req_write.read(), s.mem_req_wdata.read(),
                       s.mem_req_lock.read());
      mem_req_seen = false;
      mem_rsp_pending = true;
      mem_rsp_wait = stall();
    }

    // Memory response channel (the response stays offered until taken).
    const bool mem_rsp_fire = mem_rsp_offered && s.mem_rsp_ready.read();

    // Result channel.
    const bool rsp_valid = s.rsp_valid.read();
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
    if (rsp_fire) s.read_result(res);

    s.req_valid.write(req_valid);
    s.mem_req_ready.write(mem_req_ready);
    s.rsp_ready.write(rsp_ready);
    tick();

    if (req_fire) request_pending = false;
    if (mem_rsp_fire) {
      s.mem_rsp_valid.write(false);
      mem_rsp_offered = false;
    }
    if (mem_rsp_pending) {
      if (mem_rsp_wait > 0) {
        --mem_rsp_wait;
      } else {
        s.mem_rsp_valid.write(true);
        s.mem_rsp_data.write(mem.data);
        s.mem_rsp_error.write(mem.error);
        s.mem_rsp_poison.write(mem.poison);
        mem_rsp_offered = true;
        mem_rsp_pending = false;
      }
    }
    if (rsp_fire) {
      s.req_valid.write(false);
      return;
    }
    if (++cycles > params_.max_cycles_per_walk) {
      SC_REPORT_ERROR(name(), "RTL walker did not answer within max_cycles_per_walk");
      return;
    }
  }
}

}  // namespace hw
