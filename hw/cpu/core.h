// A core: an SC_THREAD that boots (or joins) the firmware, runs the user
// programs the firmware schedules on it, and implements the firmware's HAL
// with TLM transactions. User accesses go through the MMU (fast path first,
// its TLM socket otherwise); page faults, machine checks, system calls,
// interrupts and timer ticks enter the firmware through hal::Firmware.
//
// Loosely timed with temporal decoupling: the core runs ahead of SystemC
// time by up to the global quantum (tlm_quantumkeeper) and synchronises at
// operation boundaries, where interrupts are taken.
#pragma once

#include <bitset>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "hw/base/config.h"
#include "hw/base/debug.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"
#include "hw/base/trace.h"
#include "hw/cpu/user_program.h"
#include "hw/ext/mmu_access.h"
#include "hw/intc/intc.h"
#include "hw/mmu/mmu.h"
#include "hw/ras/ras.h"
#include "sw/hal/firmware.h"
#include "sw/hal/hal.h"

// The firmware's console output: the core carries it (Hal::console), the
// program that owns the console (tb/top) prints it under this flag.
SIM_DECLARE_DEBUG_FLAG(Firmware)
// The core's own flags, also the timeline's filters (hw/base/trace.h).
SIM_DECLARE_DEBUG_FLAG(Core)
SIM_DECLARE_DEBUG_FLAG(Syscall)
SIM_DECLARE_DEBUG_FLAG(Kthread)

namespace hw {

// Thrown by Core::halt through the firmware's frames back to the core's
// thread when the firmware panics.
struct FirmwarePanic : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// What the cores of one machine share: boot, the count of live user
// programs (the run ends when it reaches zero), the console, run failure.
class CoreComplex : public ProgramHost {
 public:
  // Temporal decoupling and the run's time limit (`platform.sim.*`).
  struct Params {
    sc_core::sc_time quantum = sc_core::sc_time(1, sc_core::SC_US);  // global quantum of every core
    sc_core::sc_time max_time = sc_core::SC_ZERO_TIME;              // 0: no limit
  };
  // Reads `platform.sim`.
  static Params read_params(sim::ConfigNode sim);
  // Sets the global quantum and the time limit.
  void configure(const Params& p);

  const hal::BootInfo* boot_info = nullptr;
  hal::Firmware* firmware = nullptr;
  // Called on the bootstrap core once the firmware has booted (spawns the
  // scenario's processes through the given HAL).
  std::function<void(hal::Hal&)> on_boot;
  std::function<void(unsigned cpu, const char* text, size_t len)> console;
  sc_core::sc_time max_time = sc_core::SC_ZERO_TIME;  // 0: no limit

  void program_started() override { ++live_; }
  void program_ended() {
    if (live_ > 0) --live_;
    wake.notify(sc_core::SC_ZERO_TIME);
  }
  unsigned live_programs() const { return live_; }

  // Ends the run with an error (the first one wins).
  void fail(const std::string& message);
  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  void core_finished();
  void set_cores(unsigned n) { cores_ = n; }

  // ---- Monitor breaks: the cores report events, the monitor decides ----
  enum class Event : uint8_t { op, page_fault, machine_check, syscall, task_end };
  struct Breaks {
    uint64_t ops = 0;  // pause after this many more user operations (0: no limit)
    bool page_fault = false, machine_check = false, syscall = false, task_end = false;
    sc_core::sc_time at = sc_core::SC_ZERO_TIME;  // pause at this simulated time (0: never)
  };
  bool monitored = false;  // one branch on the hot path when no monitor runs
  Breaks breaks;
  // True when `e` (at simulated time `now`) is a break; the core then pauses.
  bool is_break(Event e, const sc_core::sc_time& now);
  // Pauses the simulation (sc_pause) until the monitor resumes it.
  void pause(const std::string& reason);
  const std::string& pause_reason() const { return pause_reason_; }
  void resume() {
    pause_reason_.clear();
    resumed_.notify(sc_core::SC_ZERO_TIME);
  }

  sc_core::sc_event booted;
  sc_core::sc_event wake;  // programs ended or appeared
  bool boot_done = false;
  bool boot_ok = false;

 private:
  unsigned live_ = 0;
  // Stops the simulation, once.
  void stop();

  unsigned cores_ = 0, finished_ = 0;
  bool stopped_ = false;
  std::string error_;
  std::string pause_reason_;
  sc_core::sc_event resumed_;
};

class Core : public sc_core::sc_module, public hal::Hal, public InterruptSink, public MachineCheckSink {
 public:
  struct Params {
    unsigned id = 0;
    unsigned node = 0;
    sc_core::sc_time timer_period = sc_core::sc_time(1, sc_core::SC_MS);
    sc_core::sc_time trap_latency = sc_core::sc_time(100, sc_core::SC_NS);  // fault/syscall entry+exit
    double copy_bytes_per_ns = 16.0;   // bulk physical copies and fills by the firmware
    sc_core::sc_time relax_period = sc_core::sc_time(100, sc_core::SC_NS);
    uint64_t intc_base = 0;            // where IPIs are sent
    unsigned max_fault_retries = 64;   // the same access faulting more often is a firmware livelock
    bool fast_loop = true;             // TLB hits in run_task's register-held loop (statistics identical)
  };

  // Reads `platform.core` (id, node and intc_base are the platform's to set).
  static Params read_params(sim::ConfigNode core);

  // The MMU's target socket, bound for other tools' user accesses (tests); the
  // core's own slow path calls Mmu::access() directly, without a payload.
  sim::InitiatorSocket mmu_socket;
  sim::InitiatorSocket mem_socket;  // the firmware's physical accesses (DMI where granted) and MMIO

  SC_HAS_PROCESS(Core);
  Core(sc_core::sc_module_name name, const Params& params, Mmu& mmu, CoreComplex& complex,
       sim::stats::Group* stats_parent);

  // ---- hal::Hal ----
  unsigned cpu() const override { return p_.id; }
  void* direct_map(hal::paddr_t pa, uint64_t len) override;
  hal::MemStatus phys_read(hal::paddr_t pa, void* dst, uint64_t len) override;
  hal::MemStatus phys_write(hal::paddr_t pa, const void* src, uint64_t len) override;
  hal::MemStatus phys_fill(hal::paddr_t pa, uint8_t value, uint64_t len) override;
  hal::MemStatus phys_copy(hal::paddr_t dst, hal::paddr_t src, uint64_t len) override;
  void set_paging_control(const hal::PagingControl& ctl) override;
  void write_cr3(uint64_t value) override;
  uint64_t read_cr3() const override;
  void invlpg(hal::vaddr_t va) override;
  void invpcid(x86::InvpcidType type, uint16_t pcid, hal::vaddr_t va) override;
  void send_ipi(unsigned target_cpu, uint8_t vector) override;
  hal::MemStatus mmio_read(hal::paddr_t pa, uint64_t& value, unsigned size) override;
  hal::MemStatus mmio_write(hal::paddr_t pa, uint64_t value, unsigned size) override;
  uint64_t now_ns() const override;
  void charge_ns(uint64_t ns) override;
  void cpu_relax() override;
  void console(const char* text, size_t len) override;
  bool rdmsr(uint32_t msr, uint64_t& value) override;
  bool wrmsr(uint32_t msr, uint64_t value) override;
  // ACPI EINJ: the error goes into DRAM through the RAS model (hw/ras), now.
  bool einj_inject(hal::paddr_t pa, hal::EinjError e) override;
  void task_ended(int pid, void* user, int exit_status, int signal) override;
  void signal_delivered(int pid, void* user, const hal::SigInfo& si) override;
  [[noreturn]] void halt(const char* reason) override;
  // The firmware's marks become spans on this CPU's track (Syscall, Fault,
  // Kthread flags); nothing when those are not traced.
  void trace(const hal::TraceMark& mark) override;

  // ---- InterruptSink ----
  void raise_interrupt(uint8_t vector) override;
  // ---- MachineCheckSink: an asynchronous #MC (a scrub find), taken like an interrupt ----
  void raise_machine_check() override { raise_interrupt(x86::VEC_MACHINE_CHECK); }

  // The machine-check banks (hw/ras); without them a consumed error is
  // delivered with the record the banks would have logged.
  void set_ras(Ras* ras) { ras_ = ras; }

  Mmu& mmu() { return mmu_; }
  // Simulated time of this core, including its decoupled offset.
  sc_core::sc_time local_now() const { return sc_core::sc_time_stamp() + qk_.get_local_time(); }

  struct Stats : sim::stats::Group {
    explicit Stats(sim::stats::Group* parent);
    sim::stats::Scalar reads{this, "reads", "User loads", "Count"};
    sim::stats::Scalar writes{this, "writes", "User stores", "Count"};
    sim::stats::Scalar fetches{this, "fetches", "User instruction fetches", "Count"};
    sim::stats::Scalar fast_accesses{this, "fastAccesses", "User accesses completed by a TLB hit without a TLM call", "Count"};
    sim::stats::Scalar syscalls{this, "syscalls", "System calls", "Count"};
    sim::stats::Scalar page_faults{this, "pageFaults", "Page faults delivered to the firmware", "Count"};
    sim::stats::Scalar machine_checks{this, "machineChecks", "Machine checks delivered to the firmware", "Count"};
    sim::stats::Scalar gp_faults{this, "gpFaults", "General-protection faults (task killed)", "Count"};
    sim::stats::Scalar skipped_accesses{this, "skippedAccesses", "Accesses skipped: a handler took the signal they raised", "Count"};
    sim::stats::Scalar interrupts{this, "interrupts", "Interrupts taken", "Count"};
    sim::stats::Scalar ipis_sent{this, "ipisSent", "IPIs sent", "Count"};
    sim::stats::Scalar timer_ticks{this, "timerTicks", "Timer interrupts", "Count"};
    sim::stats::Scalar schedules{this, "schedules", "Calls into the scheduler", "Count"};
    sim::stats::Scalar tasks_killed{this, "tasksKilled", "Tasks killed by a signal while running here", "Count"};
    sim::stats::Scalar tasks_exited{this, "tasksExited", "Tasks that exited while running here", "Count"};
    sim::stats::Scalar idle_ns{this, "idleTime", "Time with nothing to run", "ns"};
    sim::stats::Scalar spins{this, "spins", "User spin-waits (barriers)", "Count"};
    sim::stats::Scalar phys_bytes{this, "firmwarePhysBytes", "Bytes the firmware read, wrote, filled or copied through the HAL", "Byte"};
  } stats;
  const std::string who_ = stats.path();  // debug lines name the model by its statistics' path

 private:
  void run();
  void boot_or_join();
  void run_task(const hal::RunTask& task);
  struct FastLoop;
  void fast_open(FastLoop& f);
  // Ends the fast loop: the MMU's state, the time and the counts go back.
  void fast_settle(FastLoop& f);
  // After a memo miss: the access joins the walk in flight of its page
  // from the memo (Mmu::try_memo_join), when it can.
  bool memo_join(FastLoop& f, uint64_t va, unsigned size, x86::Access acc, void* data);
  // The program's batch of accesses through the fast loop: all done, none
  // (not in a batch), stopped at one that is not a memo hit (it goes the
  // one-operation way), or stopped at a time boundary.
  enum class Batch : uint8_t { done, none, stopped, boundary };
  Batch run_batch(UserProgram& prog, FastLoop& f);
  // Between operations: synchronise when the quantum is used up, take
  // interrupts; returns false when the task goes back to the scheduler.
  bool between_ops();
  // How much local time may pass before this core must look up from its
  // fast loop (a quantum boundary, a timer tick, the run's time limit), ps.
  uint64_t fast_budget_ps() const;
  // Executes one access; returns false when the task was killed.
  bool execute_access(UserProgram& prog, const UserOp& op);
  // Executes a system call; returns false when the task is gone (exit, kill).
  bool execute_syscall(UserProgram& prog, const UserOp& op);
  void deliver_interrupts();
  // The #MC of a consumed error on `op`'s access; returns false when the task was killed.
  hal::TrapOutcome deliver_machine_check(UserProgram& prog, const UserOp& op);
  // The access raised a signal its process's handler took: it is skipped.
  bool skip_access(UserProgram& prog, const UserOp& op);
  // An asynchronous #MC the RAS model has pending for this CPU.
  void deliver_async_machine_check();
  // Delivering interrupts from cpu_relax: the firmware was interrupted in a
  // spin-wait (kernel mode), not between two user operations.
  bool in_relax_ = false;
  // Monitor hook: pauses here when `e` is a break; `what()` says what
  // happened (only built when pausing).
  template <typename Describe>
  void monitor_event(CoreComplex::Event e, Describe&& what) {
    if (cx_.is_break(e, local_now())) pause_for_monitor(what());
  }
  void pause_for_monitor(const std::string& what);
  bool timer_due();
  void idle();
  void charge_bulk(uint64_t bytes, hal::paddr_t pa);
  // ---- The timeline (cold paths, called when the flag is traced) ----
  // This CPU's main track ("cpuN" in process "cpuN").
  sim::trace::TrackId trace_track(sim::trace::Sink& s);
  // The task's span around its run here (begin: true at the start).
  void trace_task(const hal::RunTask& task, bool begin);
  // Opens the span of the program's operation under way when it changed
  // (closes the previous one); `extra_ps`: time of the fast loop not yet
  // settled. close_op ends the open one, if any.
  void trace_op(UserProgram& prog, uint64_t extra_ps);
  void close_op(uint64_t extra_ps);
  void trace_interrupt(uint8_t vector, bool begin);
  void trace_mmu_op(const char* what, uint64_t value);
  int trace_op_ = -1;  // the operation whose span is open, -1: none
  // The firmware's marks of kswapd, kcompactd and khugepaged runs.
  void trace_kthread(const hal::TraceMark& mark);
  unsigned kthread_node_[3] = {};  // kswapd, kcompactd: the node of the run under way
  // One physical access within a page: DMI when granted, else a transaction.
  hal::MemStatus phys_chunk(hal::paddr_t pa, void* buf, uint64_t len, bool write);

  Params p_;
  Mmu& mmu_;
  CoreComplex& cx_;
  // The quantum keeper, with its next synchronisation point visible so the
  // fast loop can tell how far it may run without asking every access.
  struct QuantumKeeper : tlm_utils::tlm_quantumkeeper {
    sc_core::sc_time next_sync_point() const { return m_next_sync_point; }
  } qk_;
  std::bitset<256> pending_irq_;
  bool irq_pending_ = false;
  sc_core::sc_event irq_event_;
  sc_core::sc_time next_tick_;
  MmuAccessExtension user_ext_;  // request and outcome of every slow-path user access (also on mmu_socket)
  Ras* ras_ = nullptr;
};

}  // namespace hw
