#include "hw/cpu/core.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "hw/base/time.h"
#include "hw/ext/memory.h"

SIM_DEBUG_FLAG(Core, "core: scheduling, system calls, interrupts")
SIM_DEBUG_FLAG(Firmware, "the firmware's console output")
SIM_DEBUG_FLAG(Syscall, "system calls and their results")
SIM_DEBUG_FLAG(Kthread, "kernel threads: the runs of kswapd, kcompactd and khugepaged that did work")

namespace hw {

using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;
using x86::PAGE_SIZE;

// ---- CoreComplex -------------------------------------------------------------

CoreComplex::Params CoreComplex::read_params(sim::ConfigNode simc) {
  Params p;
  p.quantum = sim::from_ps(simc.get<sim::Duration>("quantum", {1000000}, "Global quantum of temporal decoupling").ps);
  p.max_time = sim::from_ps(simc.get<sim::Duration>(
      "max_time", {0}, "Stop after this much simulated time (0: run to the end of the workload)").ps);
  return p;
}

void CoreComplex::configure(const Params& p) {
  tlm_utils::tlm_quantumkeeper::set_global_quantum(p.quantum);
  max_time = p.max_time;
}

void CoreComplex::fail(const std::string& message) {
  if (error_.empty()) error_ = message;
  stop();
}

void CoreComplex::stop() {
  // A failing run ends twice (the failure, then its last core finishing);
  // SystemC warns about a second sc_stop, so only the first one stops.
  if (stopped_) return;
  stopped_ = true;
  sc_core::sc_stop();
}

bool CoreComplex::is_break(Event e, const sc_core::sc_time& now) {
  if (breaks.at != SC_ZERO_TIME && now >= breaks.at) {
    breaks.at = SC_ZERO_TIME;
    return true;
  }
  switch (e) {
    case Event::op:
      return breaks.ops && --breaks.ops == 0;
    case Event::page_fault:
      return breaks.page_fault;
    case Event::machine_check:
      return breaks.machine_check;
    case Event::syscall:
      return breaks.syscall;
    case Event::task_end:
      return breaks.task_end;
  }
  return false;
}

void CoreComplex::pause(const std::string& reason) {
  // A core that decided to break, then synchronised its quantum, may find the
  // monitor gone meanwhile (quit): pausing then would strand it forever.
  if (!monitored) return;
  pause_reason_ = reason;
  sc_core::sc_pause();
  sc_core::wait(resumed_);
}

void CoreComplex::core_finished() {
  if (++finished_ == cores_) stop();
}

// ---- Core ------------------------------------------------------------------

Core::Stats::Stats(sim::stats::Group* parent) : sim::stats::Group(parent, "core") {}

Core::Params Core::read_params(sim::ConfigNode core) {
  Params p;
  p.timer_period =
      sim::from_ps(core.get<sim::Duration>("timer_period", {1000000000}, "Period of each CPU's timer interrupt").ps);
  p.trap_latency = sim::from_ps(core.get<sim::Duration>(
      "trap_latency", {100000}, "Cost of entering and leaving the firmware (fault, system call, interrupt)").ps);
  p.copy_bytes_per_ns =
      core.get<double>("copy_bandwidth", 16.0, "Bytes per ns of the firmware's bulk copies and fills");
  p.fast_loop = core.get<bool>(
      "fast_loop", true,
      "Complete TLB hits in the core's register-held loop, in batches from the workload (false: one MMU call per "
      "access; the statistics are the same)");
  if (p.copy_bytes_per_ns <= 0) core.fail("copy_bandwidth", "must be positive");
  if (p.timer_period == SC_ZERO_TIME) core.fail("timer_period", "must not be zero");
  return p;
}

Core::Core(sc_core::sc_module_name name, const Params& params, Mmu& mmu, CoreComplex& complex,
           sim::stats::Group* stats_parent)
    : sc_module(name),
      mmu_socket("mmu_socket"),
      mem_socket("mem_socket"),
      stats(stats_parent),
      p_(params),
      mmu_(mmu),
      cx_(complex) {
  mmu_socket.attach(user_ext_);
  mmu_.set_trace_process(fmt::format("cpu{}", p_.id));
  SC_THREAD(run);
}

void Core::run() {
  try {
    boot_or_join();
    if (cx_.boot_ok) {
      next_tick_ = local_now() + p_.timer_period;
      while (cx_.live_programs() > 0 && !cx_.failed()) {
        if (cx_.max_time != SC_ZERO_TIME && local_now() >= cx_.max_time) break;
        deliver_interrupts();
        timer_due();
        ++stats.schedules;
        const hal::RunTask task = cx_.firmware->schedule(*this);
        if (task.pid < 0) {
          idle();
          continue;
        }
        if (SIM_TRACING(Core)) trace_task(task, true);
        run_task(task);
        if (SIM_TRACING(Core)) trace_task(task, false);
      }
    }
    qk_.sync();
  } catch (const std::exception& e) {
    cx_.fail(fmt::format("{}: {}", name(), e.what()));
  }
  cx_.core_finished();
}

void Core::boot_or_join() {
  if (p_.id == 0) {
    cx_.boot_ok = cx_.firmware->boot(*this, *cx_.boot_info);
    cx_.boot_done = true;
    if (!cx_.boot_ok) {
      cx_.fail("the firmware could not boot this machine (its console output says why)");
      return;
    }
    if (cx_.on_boot) cx_.on_boot(*this);
    qk_.sync();
    if (cx_.monitored)
      cx_.pause(fmt::format("firmware booted on {}; {} process(es) spawned", name(), cx_.live_programs()));
    cx_.booted.notify(SC_ZERO_TIME);
    return;
  }
  if (!cx_.boot_done) sc_core::wait(cx_.booted);
  if (!cx_.boot_ok) return;
  cx_.firmware->start_secondary(*this);
}

void Core::idle() {
  // Sleep until an interrupt, a change in the set of programs, or the next
  // timer tick.
  qk_.sync();
  const sc_time start = sc_core::sc_time_stamp();
  const sc_time until_tick = next_tick_ > start ? next_tick_ - start : SC_ZERO_TIME;
  if (!irq_pending_) sc_core::wait(until_tick, irq_event_ | cx_.wake);
  stats.idle_ns += sim::to_ns(sc_core::sc_time_stamp() - start);
  qk_.reset();
}

bool Core::timer_due() {
  if (local_now() < next_tick_) return false;
  while (next_tick_ <= local_now()) next_tick_ += p_.timer_period;
  ++stats.timer_ticks;
  cx_.firmware->timer_tick(*this);
  return true;
}

uint64_t Core::fast_budget_ps() const {
  const sc_time now = local_now();
  sc_time until = qk_.next_sync_point();
  if (next_tick_ < until) until = next_tick_;
  if (cx_.max_time != SC_ZERO_TIME && cx_.max_time < until) until = cx_.max_time;
  return until > now ? sim::to_ps(until - now) : 0;
}

// The fast loop: TLB hits found in the MMU's memo complete in run_task with
// the MMU's fast-path state, the time they annotate and their counts held in
// locals (no access waits on the previous one's stores); everything is
// settled before anything else runs: another kind of operation, a slow
// access, or a time boundary (quantum, timer tick, time limit).
struct Core::FastLoop {
  Mmu::FastState fs{};
  bool open = false;
  uint64_t ps = 0, budget = 0;
  uint64_t now_ps = 0;  // the core's time at fast_open(), from which ps counts
  uint64_t count[3] = {};  // by x86::Access: reads, writes, fetches
};

inline void Core::fast_open(FastLoop& f) {
  if (f.open) return;
  f.fs = mmu_.fast_begin();
  f.now_ps = sim::to_ps(local_now());
  f.budget = fast_budget_ps();
  f.open = true;
}

inline void Core::fast_settle(FastLoop& f) {
  if (!f.open) return;
  mmu_.fast_end(f.fs);
  qk_.inc(sim::from_ps(f.ps));
  stats.reads += f.count[0];
  stats.writes += f.count[1];
  stats.fetches += f.count[2];
  stats.fast_accesses += f.count[0] + f.count[1] + f.count[2];
  f.ps = f.count[0] = f.count[1] = f.count[2] = 0;
  f.open = false;
}

inline bool Core::memo_join(FastLoop& f, uint64_t va, unsigned size, x86::Access acc, void* data) {
  // On copies: the loop's own state, whose address is never taken, stays in
  // registers.
  Mmu::FastState fs = f.fs;
  uint64_t ps = f.ps;
  if (!mmu_.try_memo_join(va, size, acc, true, data, fs, ps, f.now_ps)) return false;
  f.fs = fs;
  f.ps = ps;
  return true;
}

__attribute__((always_inline)) inline Core::Batch Core::run_batch(UserProgram& prog, FastLoop& f) {
  unsigned n = 0;
  UserAccess* const b = prog.access_batch(n);
  if (!n) return Batch::none;
  fast_open(f);
  if (SIM_TRACING(Core)) trace_op(prog, f.ps);
  unsigned i = 0;
  Batch r = Batch::done;
  for (; i < n; ++i) {
    UserAccess& a = b[i];
    if (!mmu_.try_memo(a.va, a.size, a.access, true, a.data, f.fs, f.ps) &&
        !memo_join(f, a.va, a.size, a.access, a.data)) {
      r = Batch::stopped;  // this one takes the one-operation path
      break;
    }
    ++f.count[static_cast<unsigned>(a.access)];
    if (f.ps >= f.budget) {  // a time boundary: look up
      ++i;
      r = Batch::boundary;
      break;
    }
  }
  if (i) prog.complete_batch(i);
  return r;
}

bool Core::between_ops() {
  if (qk_.need_sync()) qk_.sync();
  if (irq_pending_) deliver_interrupts();
  if (timer_due() || cx_.failed()) return false;  // back to the scheduler
  if (cx_.max_time != SC_ZERO_TIME && local_now() >= cx_.max_time) return false;
  return true;
}

void Core::run_task(const hal::RunTask& task) {
  UserProgram& prog = *static_cast<UserProgram*>(task.user);
  UserOp op;
  uint64_t data[UserOp::kMaxSize / 8];
  FastLoop f;
  for (;;) {
    // With no monitor to stop at each operation: batches of accesses first.
    const bool fast = p_.fast_loop && !cx_.monitored;
    if (fast) {
      const Batch b = run_batch(prog, f);
      if (b == Batch::done) continue;
      if (b == Batch::boundary) {
        fast_settle(f);
        if (!between_ops()) return;
        continue;
      }
    }
    if (!prog.next(op)) {
      fast_settle(f);
      if (SIM_TRACING(Core)) close_op(0);
      // The program is finished: the process exits with status 0.
      op = UserOp{};
      op.kind = UserOp::Kind::syscall;
      op.sys.nr = hal::Sys::exit;
      execute_syscall(prog, op);
      return;
    }
    if (SIM_TRACING(Core)) trace_op(prog, f.ps);
    if (op.kind == UserOp::Kind::access) {
      if (fast) fast_open(f);
      void* buf = op.access == x86::Access::write ? static_cast<void*>(op.wdata) : static_cast<void*>(data);
      if (f.open && (mmu_.try_memo(op.va, op.size, op.access, true, buf, f.fs, f.ps) ||
                     memo_join(f, op.va, op.size, op.access, buf))) {
        ++f.count[static_cast<unsigned>(op.access)];
        prog.complete(op, 0, static_cast<const uint8_t*>(buf));
        if (f.ps < f.budget) continue;  // nothing to look up for yet
        fast_settle(f);
      } else {
        fast_settle(f);
        if (!execute_access(prog, op)) return;
      }
    } else {
      fast_settle(f);
      if (op.kind == UserOp::Kind::spin) {
        // Spin-waiting in user mode: let the other CPUs run.
        ++stats.spins;
        qk_.inc(p_.relax_period);
        qk_.sync();
        prog.complete(op, 0, nullptr);
      } else if (!execute_syscall(prog, op)) {
        return;
      }
    }
    if (cx_.monitored)
      monitor_event(CoreComplex::Event::op, [&] {
        return op.kind == UserOp::Kind::syscall
                   ? fmt::format("{}: system call {} done", prog.name(), static_cast<unsigned>(op.sys.nr))
                   : fmt::format("{}: {} of {} bytes at {:#x} done", prog.name(),
                                 op.access == x86::Access::write   ? "store"
                                 : op.access == x86::Access::fetch ? "fetch"
                                                                   : "load",
                                 static_cast<unsigned>(op.size), op.va);
      });
    if (!between_ops()) return;
  }
}

bool Core::execute_access(UserProgram& prog, const UserOp& op) {
  (op.access == x86::Access::write ? stats.writes : op.access == x86::Access::fetch ? stats.fetches : stats.reads) += 1;
  // Stores take their data from the op; loads and fetches land in `data`.
  uint64_t data[UserOp::kMaxSize / 8];
  void* buf = op.access == x86::Access::write ? const_cast<uint64_t*>(op.wdata) : data;
  user_ext_.access = op.access;
  user_ext_.user = true;
  sc_time delay = qk_.get_local_time();
  // A miss of the fast path goes on to the slow path within this call (its
  // outcome in user_ext_); retries after a fault take the slow path alone.
  if (mmu_.try_access(op.va, op.size, op.access, true, buf, delay, user_ext_)) {
    qk_.set(delay);
    ++stats.fast_accesses;
    prog.complete(op, 0, static_cast<const uint8_t*>(buf));
    return true;
  }
  for (unsigned attempt = 0;; ++attempt) {
    if (attempt > 0) {
      if (attempt > p_.max_fault_retries)
        throw std::runtime_error(
            fmt::format("access to {:#x} still faults after {} retries: the firmware's "
                        "fault handler does not resolve it",
                        op.va, p_.max_fault_retries));
      delay = qk_.get_local_time();  // user_ext_ still holds the request
      mmu_.access(Mmu::command(op.access), op.va, buf, op.size, user_ext_, delay);
    }
    qk_.set(delay);
    switch (user_ext_.outcome) {
      case AccessOutcome::ok:
        prog.complete(op, 0, static_cast<const uint8_t*>(buf));
        return true;
      case AccessOutcome::page_fault: {
        ++stats.page_faults;
        qk_.inc(p_.trap_latency);
        DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "page fault va={:#x} ec={:#x} -> firmware",
                user_ext_.fault_addr, user_ext_.error_code);
        if (cx_.monitored)
          monitor_event(CoreComplex::Event::page_fault, [&] {
            return fmt::format("{}: page fault at {:#x}, error code {:#x} (about to enter the firmware)", prog.name(),
                               user_ext_.fault_addr, user_ext_.error_code);
          });
        const hal::TrapOutcome r = cx_.firmware->page_fault(*this, user_ext_.fault_addr, user_ext_.error_code);
        if (r == hal::TrapOutcome::task_killed) return false;  // the firmware reported how through task_ended
        if (r == hal::TrapOutcome::skip) return skip_access(prog, op);
        break;  // retry
      }
      case AccessOutcome::machine_check: {
        const hal::TrapOutcome r = deliver_machine_check(prog, op);
        if (r == hal::TrapOutcome::task_killed) return false;
        if (r == hal::TrapOutcome::skip) return skip_access(prog, op);
        break;  // retry
      }
      case AccessOutcome::general_protection: {
        ++stats.gp_faults;
        qk_.inc(p_.trap_latency);
        DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "general protection fault va={:#x} -> firmware", op.va);
        const hal::TrapOutcome r = cx_.firmware->general_protection(*this, op.va);
        if (r == hal::TrapOutcome::task_killed) return false;
        if (r == hal::TrapOutcome::skip) return skip_access(prog, op);
        break;  // retry
      }
    }
  }
}

bool Core::skip_access(UserProgram& prog, const UserOp& op) {
  ++stats.skipped_accesses;
  DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "access at {:#x} skipped: a handler took its signal", op.va);
  prog.skipped(op);
  return true;
}

namespace {

hal::MachineCheck to_hal(const McaRecord& r) {
  hal::MachineCheck mc{};
  mc.pa = r.addr;
  mc.bank = r.bank;
  mc.mcg_status = r.mcg_status;
  mc.status = r.status;
  mc.addr = r.addr;
  mc.misc = r.misc;
  mc.action_required = r.status & x86::MCI_STATUS_AR;
  return mc;
}

}  // namespace

hal::TrapOutcome Core::deliver_machine_check(UserProgram& prog, const UserOp& op) {
  ++stats.machine_checks;
  qk_.inc(p_.trap_latency);
  const Consumer what = user_ext_.mc_in_walk                  ? Consumer::page_walk
                        : op.access == x86::Access::fetch ? Consumer::instruction_fetch
                                                          : Consumer::data_load;
  hal::MachineCheck mc{};
  if (ras_) mc = to_hal(ras_->consume(p_.id, user_ext_.mc_pa, what));
  mc.pa = user_ext_.mc_pa;
  mc.action_required = user_ext_.mc_action_required;
  mc.in_page_walk = user_ext_.mc_in_walk;
  mc.va = op.va;
  mc.va_valid = true;
  DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "machine check pa={:#x} va={:#x} -> firmware", mc.pa, mc.va);
  if (cx_.monitored)
    monitor_event(CoreComplex::Event::machine_check, [&] {
      return fmt::format("{}: machine check at pa {:#x} (va {:#x}){}", prog.name(), mc.pa, mc.va,
                         mc.in_page_walk ? " in a page walk" : "");
    });
  return cx_.firmware->machine_check(*this, mc);
}

void Core::deliver_async_machine_check() {
  McaRecord r;
  while (ras_ && ras_->take_pending(p_.id, r)) {
    ++stats.machine_checks;
    qk_.inc(p_.trap_latency);
    // Not tied to this CPU's instruction stream: whatever ran here was
    // interrupted, not at fault (Linux grades a scrub find before any rule
    // that looks at the context). kernel_mode says what was interrupted:
    // the firmware in a spin-wait, or a user program.
    hal::MachineCheck mc = to_hal(r);
    mc.kernel_mode = in_relax_;
    DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "asynchronous machine check pa={:#x} -> firmware", mc.pa);
    if (cx_.monitored)
      monitor_event(CoreComplex::Event::machine_check, [&] {
        return fmt::format("{}: asynchronous machine check at pa {:#x} (a scrub find)", name(), mc.pa);
      });
    cx_.firmware->machine_check(*this, mc);
  }
}

bool Core::execute_syscall(UserProgram& prog, const UserOp& op) {
  ++stats.syscalls;
  if (cx_.monitored)
    monitor_event(CoreComplex::Event::syscall, [&] {
      return fmt::format("{}: system call {} ({:#x}, {:#x}, {:#x}) about to enter the firmware", prog.name(),
                         static_cast<unsigned>(op.sys.nr), op.sys.arg[0], op.sys.arg[1], op.sys.arg[2]);
    });
  qk_.inc(p_.trap_latency);
  const int64_t ret = cx_.firmware->syscall(*this, op.sys);
  DPRINTF(Syscall, sim::to_ps(local_now()), who_.c_str(), "{}: syscall {} -> {}", prog.name(),
          static_cast<unsigned>(op.sys.nr), ret);
  if (op.sys.nr == hal::Sys::exit || op.sys.nr == hal::Sys::exit_group) return false;  // task_ended accounted for it
  if ((op.sys.nr == hal::Sys::fork || op.sys.nr == hal::Sys::clone) && ret > 0 && op.sys.child_user)
    cx_.program_started();
  prog.complete(op, static_cast<uint64_t>(ret), nullptr);
  return true;
}

void Core::pause_for_monitor(const std::string& what) {
  qk_.sync();  // the monitor sees this core's time
  cx_.pause(fmt::format("{} at {} ps: {}", name(), sim::to_ps(local_now()), what));
  qk_.reset();
}

void Core::signal_delivered(int pid, void* user, const hal::SigInfo& si) {
  DPRINTF(Fault, sim::to_ps(local_now()), who_.c_str(), "pid {} signal {} code {} addr {:#x} lsb {} -> its handler", pid,
          si.signo, si.code, si.addr, si.addr_lsb);
  if (user) static_cast<UserProgram*>(user)->signalled(si);
}

void Core::task_ended(int pid, void* user, int exit_status, int signal) {
  (signal ? stats.tasks_killed : stats.tasks_exited) += 1;
  DPRINTF(Core, sim::to_ps(local_now()), who_.c_str(), "pid {} ended: {} {}", pid, signal ? "signal" : "exit",
          signal ? signal : exit_status);
  if (user) static_cast<UserProgram*>(user)->ended(exit_status, signal);
  cx_.program_ended();
  if (cx_.monitored)
    monitor_event(CoreComplex::Event::task_end, [&] {
      return signal ? fmt::format("pid {} killed by signal {}", pid, signal)
                    : fmt::format("pid {} exited with status {}", pid, exit_status);
    });
}

void Core::halt(const char* reason) {
  // The firmware panicked. Unwind to run(), which ends the simulation.
  throw FirmwarePanic(fmt::format("firmware panic on cpu{}: {}", p_.id, reason));
}

void Core::raise_interrupt(uint8_t vector) {
  pending_irq_.set(vector);
  irq_pending_ = true;
  irq_event_.notify(SC_ZERO_TIME);
}

void Core::deliver_interrupts() {
  while (irq_pending_) {
    // A pending #MC (an exception, not an APIC vector) goes before any interrupt.
    if (pending_irq_.test(x86::VEC_MACHINE_CHECK)) {
      pending_irq_.reset(x86::VEC_MACHINE_CHECK);
      irq_pending_ = pending_irq_.any();
      deliver_async_machine_check();
      continue;
    }
    // Highest vector first, as a local APIC prioritises.
    int vec = -1;
    for (int v = 255; v >= 0; --v)
      if (pending_irq_.test(v)) {
        vec = v;
        break;
      }
    if (vec < 0) {
      irq_pending_ = false;
      break;
    }
    pending_irq_.reset(vec);
    irq_pending_ = pending_irq_.any();
    ++stats.interrupts;
    qk_.inc(p_.trap_latency);
    DPRINTF(Core, sim::to_ps(local_now()), who_.c_str(), "interrupt vector {:#x}", vec);
    if (SIM_TRACING(Intc)) trace_interrupt(static_cast<uint8_t>(vec), true);
    cx_.firmware->interrupt(*this, static_cast<uint8_t>(vec));
    if (SIM_TRACING(Intc)) trace_interrupt(static_cast<uint8_t>(vec), false);
  }
}

// ---- HAL: physical memory -----------------------------------------------------

void* Core::direct_map(hal::paddr_t pa, uint64_t len) {
  if (len == 0) len = 1;
  const tlm::tlm_dmi* d = mem_socket.get_dmi(pa, len, tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
  return d ? d->get_dmi_ptr() + (pa - d->get_start_address()) : nullptr;
}

hal::MemStatus Core::phys_chunk(hal::paddr_t pa, void* buf, uint64_t len, bool write) {
  if (uint8_t* p = static_cast<uint8_t*>(direct_map(pa, len))) {
    if (write)
      std::memcpy(p, buf, len);
    else
      std::memcpy(buf, p, len);
    return hal::MemStatus::ok;
  }
  PoisonExtension poison;
  sc_time delay = qk_.get_local_time();
  const tlm::tlm_response_status rsp =
      mem_socket.transport(write ? tlm::TLM_WRITE_COMMAND : tlm::TLM_READ_COMMAND, pa, buf,
                           static_cast<unsigned>(len), delay, poison);
  qk_.set(delay);
  if (poison.poisoned) return hal::MemStatus::poison;
  return rsp == tlm::TLM_OK_RESPONSE ? hal::MemStatus::ok : hal::MemStatus::address_error;
}

void Core::charge_bulk(uint64_t bytes, hal::paddr_t pa) {
  // One memory latency (where DMI tells it; transactions charge their own)
  // plus the bytes at the core's copy bandwidth.
  stats.phys_bytes += bytes;
  const tlm::tlm_dmi* d = mem_socket.dmi().find(pa);
  const sc_time latency = d ? d->get_read_latency() : SC_ZERO_TIME;
  qk_.inc(latency + sim::from_ns(static_cast<double>(bytes) / p_.copy_bytes_per_ns));
}

hal::MemStatus Core::phys_read(hal::paddr_t pa, void* dst, uint64_t len) {
  charge_bulk(len, pa);
  auto* out = static_cast<uint8_t*>(dst);
  while (len) {
    const uint64_t n = std::min(len, PAGE_SIZE - (pa & (PAGE_SIZE - 1)));
    const hal::MemStatus st = phys_chunk(pa, out, n, false);
    if (st != hal::MemStatus::ok) return st;
    pa += n;
    out += n;
    len -= n;
  }
  return hal::MemStatus::ok;
}

hal::MemStatus Core::phys_write(hal::paddr_t pa, const void* src, uint64_t len) {
  charge_bulk(len, pa);
  auto* in = static_cast<const uint8_t*>(src);
  while (len) {
    const uint64_t n = std::min(len, PAGE_SIZE - (pa & (PAGE_SIZE - 1)));
    const hal::MemStatus st = phys_chunk(pa, const_cast<uint8_t*>(in), n, true);
    if (st != hal::MemStatus::ok) return st;
    pa += n;
    in += n;
    len -= n;
  }
  return hal::MemStatus::ok;
}

hal::MemStatus Core::phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) {
  charge_bulk(len, pa);
  uint8_t buf[PAGE_SIZE];
  bool buf_ready = false;
  while (len) {
    const uint64_t n = std::min(len, PAGE_SIZE - (pa & (PAGE_SIZE - 1)));
    if (uint8_t* p = static_cast<uint8_t*>(direct_map(pa, n))) {
      std::memset(p, value, n);
    } else {
      if (!buf_ready) {
        std::memset(buf, value, sizeof buf);
        buf_ready = true;
      }
      const hal::MemStatus st = phys_chunk(pa, buf, n, true);
      if (st != hal::MemStatus::ok) return st;
    }
    pa += n;
    len -= n;
  }
  return hal::MemStatus::ok;
}

hal::MemStatus Core::phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) {
  charge_bulk(len, src);
  charge_bulk(0, dst);
  uint8_t buf[PAGE_SIZE];
  while (len) {
    const uint64_t n = std::min({len, PAGE_SIZE - (dst & (PAGE_SIZE - 1)), PAGE_SIZE - (src & (PAGE_SIZE - 1))});
    uint8_t* s = static_cast<uint8_t*>(direct_map(src, n));
    uint8_t* d = static_cast<uint8_t*>(direct_map(dst, n));
    if (s && d) {
      std::memmove(d, s, n);
    } else {
      hal::MemStatus st = phys_chunk(src, buf, n, false);
      if (st != hal::MemStatus::ok) return st;
      st = phys_chunk(dst, buf, n, true);
      if (st != hal::MemStatus::ok) return st;
    }
    dst += n;
    src += n;
    len -= n;
  }
  return hal::MemStatus::ok;
}

// ---- HAL: MMU, IPIs, MMIO, time, console ------------------------------------------

void Core::set_paging_control(const hal::PagingControl& ctl) {
  // CR4.LA57 cannot change in long mode (#GP): the firmware must run with
  // the paging mode the machine was built with.
  if (ctl.la57 != (mmu_.params().levels == 5))
    throw std::runtime_error(fmt::format("cpu{}: the firmware set CR4.LA57={}, but the MMU walks {} levels", p_.id,
                                         ctl.la57 ? 1 : 0, mmu_.params().levels));
  mmu_.set_control(ctl.wp, ctl.nxe, ctl.pcide);
  DPRINTF(MMU, sim::to_ps(local_now()), who_.c_str(), "paging control wp={} nxe={} pcide={}", ctl.wp, ctl.nxe, ctl.pcide);
}

// The MMU instructions, as instants of this CPU's timeline (MMU flag) at its local time.
void Core::trace_mmu_op(const char* what, uint64_t value) {
  sim::trace::Sink& s = *sim::debug::MMU.trace;
  s.instant(trace_track(s), "MMU", what, sim::to_ps(local_now()), {{"value", value, sim::trace::Arg::hex}});
}

void Core::write_cr3(uint64_t value) {
  if (SIM_TRACING(MMU)) trace_mmu_op("CR3 write", value);
  mmu_.write_cr3(value);
}
uint64_t Core::read_cr3() const { return mmu_.cr3(); }
void Core::invlpg(hal::vaddr_t va) {
  if (SIM_TRACING(MMU)) trace_mmu_op("INVLPG", va);
  mmu_.invlpg(va);
}
void Core::invpcid(x86::InvpcidType type, uint16_t pcid, hal::vaddr_t va) {
  if (SIM_TRACING(MMU)) trace_mmu_op("INVPCID", va);
  mmu_.invpcid(type, pcid, va);
}

void Core::send_ipi(unsigned target_cpu, uint8_t vector) {
  ++stats.ipis_sent;
  if (SIM_TRACING(Intc))
    sim::debug::Intc.trace->instant(trace_track(*sim::debug::Intc.trace), "Intc", "IPI sent", sim::to_ps(local_now()),
                               {{"to_cpu", target_cpu}, {"vector", vector, sim::trace::Arg::hex}});
  const uint64_t icr = (static_cast<uint64_t>(target_cpu) << 32) | vector;
  if (mmio_write(p_.intc_base + InterruptController::kRegIcr, icr, 8) != hal::MemStatus::ok)
    throw std::runtime_error(fmt::format("IPI to cpu{} failed: no such cpu", target_cpu));
}

hal::MemStatus Core::mmio_read(hal::paddr_t pa, uint64_t& value, unsigned size) {
  value = 0;
  if (size == 0 || size > 8) return hal::MemStatus::address_error;
  return phys_chunk(pa, &value, size, false);
}

hal::MemStatus Core::mmio_write(hal::paddr_t pa, uint64_t value, unsigned size) {
  if (size == 0 || size > 8) return hal::MemStatus::address_error;
  // MMIO must reach the device: never through DMI.
  sc_time delay = qk_.get_local_time();
  const tlm::tlm_response_status rsp = mem_socket.write(pa, &value, size, delay);
  qk_.set(delay);
  return rsp == tlm::TLM_OK_RESPONSE ? hal::MemStatus::ok : hal::MemStatus::address_error;
}

uint64_t Core::now_ns() const { return sim::to_ns(local_now()); }

void Core::charge_ns(uint64_t ns) { qk_.inc(sim::from_ns(static_cast<double>(ns))); }

void Core::cpu_relax() {
  qk_.sync();
  if (!irq_pending_) sc_core::wait(p_.relax_period, irq_event_);
  qk_.reset();
  in_relax_ = true;
  deliver_interrupts();
  in_relax_ = false;
}

bool Core::rdmsr(uint32_t msr, uint64_t& value) {
  value = 0;
  return ras_ && ras_->rdmsr(p_.id, msr, value);
}

bool Core::wrmsr(uint32_t msr, uint64_t value) { return ras_ && ras_->wrmsr(p_.id, msr, value); }

bool Core::einj_inject(hal::paddr_t pa, hal::EinjError e) {
  return ras_ && ras_->inject(pa, e == hal::EinjError::uc, "EINJ");
}

void Core::console(const char* text, size_t len) {
  if (cx_.console) cx_.console(p_.id, text, len);
}

// ---- The timeline ---------------------------------------------------------------

namespace {

// What an interrupt vector is (sw/hal/x86.h), as the timeline names it.
const char* vector_name(uint8_t vector) {
  switch (vector) {
    case x86::VEC_TLB_SHOOTDOWN: return "TLB shootdown IPI";
    case x86::VEC_RESCHEDULE: return "reschedule IPI";
    case x86::VEC_CALL_FUNCTION: return "call-function IPI";
    case x86::VEC_TIMER: return "timer interrupt";
    default: return "device interrupt";
  }
}

}  // namespace

sim::trace::TrackId Core::trace_track(sim::trace::Sink& s) {
  const std::string cpu = fmt::format("cpu{}", p_.id);
  return s.track(cpu, cpu);
}

void Core::trace_task(const hal::RunTask& task, bool begin) {
  sim::trace::Sink& s = *sim::debug::Core.trace;
  const uint64_t now = sim::to_ps(local_now());
  if (begin) {
    const auto& prog = *static_cast<const UserProgram*>(task.user);
    s.begin(trace_track(s), "Core", s.intern(prog.name()), now, {{"pid", static_cast<uint64_t>(task.pid)}});
    return;
  }
  close_op(0);
  s.end(trace_track(s), now);
}

void Core::trace_op(UserProgram& prog, uint64_t extra_ps) {
  const char* label = "";
  const int index = prog.op_under_way(label);
  if (index == trace_op_) return;
  close_op(extra_ps);
  trace_op_ = index;
  if (index < 0) return;
  sim::trace::Sink& s = *sim::debug::Core.trace;
  s.begin(trace_track(s), "Core", label, sim::to_ps(local_now()) + extra_ps,
          {{"op", static_cast<uint64_t>(index)}});
}

void Core::close_op(uint64_t extra_ps) {
  if (trace_op_ < 0) return;
  trace_op_ = -1;
  sim::trace::Sink& s = *sim::debug::Core.trace;
  s.end(trace_track(s), sim::to_ps(local_now()) + extra_ps);
}

void Core::trace_interrupt(uint8_t vector, bool begin) {
  sim::trace::Sink& s = *sim::debug::Intc.trace;
  if (begin)
    s.begin(trace_track(s), "Intc", vector_name(vector), sim::to_ps(local_now()),
            {{"vector", vector, sim::trace::Arg::hex}});
  else
    s.end(trace_track(s), sim::to_ps(local_now()));
}

namespace {

// The debug flag a firmware mark belongs to.
sim::debug::Flag& flag_of(hal::TraceKind kind) {
  switch (kind) {
    case hal::TraceKind::syscall: return sim::debug::Syscall;
    case hal::TraceKind::page_fault:
    case hal::TraceKind::machine_check: return sim::debug::Fault;
    default: return sim::debug::Kthread;
  }
}

}  // namespace

void Core::trace(const hal::TraceMark& m) {
  sim::debug::Flag& flag = flag_of(m.kind);
  if (!flag.trace && !flag.enabled) return;
  if (m.kind >= hal::TraceKind::kswapd) {
    trace_kthread(m);
    return;
  }
  if (!flag.trace) return;
  sim::trace::Sink& s = *flag.trace;
  const uint64_t now = sim::to_ps(local_now());
  using A = sim::trace::Arg;
  if (!m.begin)
    s.end(trace_track(s), now, {{m.kind == hal::TraceKind::syscall ? "ret" : "killed", m.arg[0]}});
  else if (m.kind == hal::TraceKind::syscall)
    s.begin(trace_track(s), "Syscall", m.name, now, {{"nr", m.arg[0]}, {"arg0", m.arg[1], A::hex}});
  else if (m.kind == hal::TraceKind::page_fault)
    s.begin(trace_track(s), "Fault", "page fault", now, {{"cr2", m.arg[0], A::hex}, {"ec", m.arg[1], A::hex}});
  else
    s.begin(trace_track(s), "Fault", "machine check", now, {{"pa", m.arg[0], A::hex}, {"va", m.arg[1], A::hex}});
}

void Core::trace_kthread(const hal::TraceMark& m) {
  // kswapd and kcompactd are per node (arg[0] at the start), khugepaged
  // one; each is a thread of the CPU that runs it.
  static const char* const kNames[] = {"kswapd", "kcompactd", "khugepaged"};
  const unsigned which = static_cast<unsigned>(m.kind) - static_cast<unsigned>(hal::TraceKind::kswapd);
  if (m.begin) kthread_node_[which] = static_cast<unsigned>(m.arg[0]);
  const std::string thread = m.kind == hal::TraceKind::khugepaged
                                 ? kNames[which]
                                 : fmt::format("{}{}", kNames[which], kthread_node_[which]);
  if (!m.begin && !m.idle) DPRINTF(Kthread, sim::to_ps(local_now()), who_.c_str(), "{} ran", thread);
  if (!SIM_TRACING(Kthread)) return;
  sim::trace::Sink& s = *sim::debug::Kthread.trace;
  const sim::trace::TrackId t = s.track(fmt::format("cpu{}", p_.id), thread);
  if (m.begin)
    s.begin(t, "Kthread", kNames[which], sim::to_ps(local_now()), {{"node", m.arg[0]}});
  else
    s.end(t, sim::to_ps(local_now()), {{"result", m.arg[0]}}, !m.idle);
}

}  // namespace hw
