// The firmware's entry points: the other half of the HAL. A core model calls
// these from its SC_THREAD, in the context of the CPU whose Hal it passes,
// the way a CPU enters a kernel through its vectors. The firmware
// (sw/kernel) implements the interface; the hardware never sees firmware
// internals.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"

namespace hal {

// System calls, numbered as on Linux x86-64.
enum class Sys : uint32_t {
  read = 0,
  write = 1,
  open = 2,   // open(file, flags): `file` is the index of a workload.files entry (no paths: mmcosim has no directories)
  close = 3,
  mmap = 9,
  mprotect = 10,
  munmap = 11,
  brk = 12,
  rt_sigaction = 13,  // rt_sigaction(sig, handler): handler non-zero installs one (mmcosim's programs only record signals), 0 is SIG_DFL
  ioctl = 16,
  pread64 = 17,
  pwrite64 = 18,
  mremap = 25,
  msync = 26,
  madvise = 28,
  getpid = 39,
  clone = 56,
  fork = 57,
  exit = 60,
  fsync = 74,
  fdatasync = 75,
  ftruncate = 77,
  mlock = 149,
  munlock = 150,
  sysctl = 156,  // sysctl(id, value): mmcosim's stand-in for writing /proc/sys files and /proc/self/oom_score_adj (uapi::kSysctl*)
  prctl = 157,   // prctl(option, arg2, arg3): PR_MCE_KILL / PR_MCE_KILL_GET (uapi::kPrMceKill*)
  sync = 162,
  fadvise64 = 221,
  exit_group = 231,
};

struct SyscallArgs {
  Sys nr;
  uint64_t arg[6];
  // fork, clone: the user-side context the child runs (opaque to the firmware).
  void* child_user;
};

// A system call made directly rather than decoded from a user program:
// unused arguments zero, no child context.
inline SyscallArgs make_syscall(Sys nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
                                uint64_t a4 = 0, uint64_t a5 = 0) {
  return SyscallArgs{nr, {a0, a1, a2, a3, a4, a5}, nullptr};
}

// What a trap handler decided about the interrupted user access.
enum class TrapOutcome : uint8_t {
  retry,        // the fault is resolved: retry the access
  task_killed,  // the current task was killed (signal); schedule another
  skip,         // a handler took the signal the access raised (Hal::signal_delivered): skip the access, go on
};

// A machine check raised by the hardware (#MC): the record of the bank that
// logged it, as a kernel's handler reads it from the MSRs (sw/hal/x86_mce.h
// names the bits), and what the core knows of the interrupted access. The
// firmware grades its severity from mcg_status and status
// (sw/kernel/mce.cpp). A HAL without banks (the host HAL, tests) may leave
// status zero and fill only pa/action_required/in_page_walk: the firmware
// then grades the record the platform would have logged for them.
struct MachineCheck {
  paddr_t pa;              // the physical address with the error
  bool action_required;    // SRAR (consumed by an access) vs SRAO (found by a scrub)
  bool in_page_walk;       // raised by a page-table read of the MMU
  vaddr_t va;              // the user address being accessed, if any
  bool va_valid;
  // ---- The bank's record ----
  unsigned bank;           // the bank that logged it
  uint64_t mcg_status;     // IA32_MCG_STATUS: RIPV, EIPV, MCIP
  uint64_t status;         // IA32_MCi_STATUS: VAL, OVER, UC, EN, MISCV, ADDRV, PCC, S, AR, MSCOD, MCACOD
  uint64_t addr;           // IA32_MCi_ADDR (valid with ADDRV)
  uint64_t misc;           // IA32_MCi_MISC: address LSB and mode (valid with MISCV)
  bool kernel_mode;        // the error hit the kernel (CS.RPL 0), not a user access
};

// The task a CPU should run now.
struct RunTask {
  int pid;      // < 0: nothing runnable on this CPU
  void* user;   // the user-side context given at spawn or fork
};

class Firmware {
 public:
  // Boots on the bootstrap CPU: memory map, allocators, page tables, the
  // kernel's address space. Returns false (after printing why on the console)
  // when the machine cannot be booted, e.g. an unusable memory map.
  virtual bool boot(Hal& bsp, const BootInfo& info) = 0;
  // Brings up a secondary CPU once boot() has returned.
  virtual void start_secondary(Hal& cpu) = 0;

  // Creates a user process with an empty address space, runnable on `cpu`.
  virtual int spawn(Hal& caller, const char* name, unsigned cpu, void* user) = 0;

  // Picks the task `cpu` runs next and switches to its address space.
  virtual RunTask schedule(Hal& cpu) = 0;
  // The periodic timer of `cpu` fired (preemption, deferred work).
  virtual void timer_tick(Hal& cpu) = 0;

  // Traps taken while running a user task.
  virtual TrapOutcome page_fault(Hal& cpu, vaddr_t cr2, uint32_t error_code) = 0;
  virtual TrapOutcome machine_check(Hal& cpu, const MachineCheck& mc) = 0;
  // A general-protection fault of the current task (a non-canonical address).
  virtual TrapOutcome general_protection(Hal& cpu, vaddr_t addr) = 0;
  virtual void interrupt(Hal& cpu, uint8_t vector) = 0;
  // A system call of the current task. Returns the result, negative errno on
  // failure, as Linux does. exit never returns to the task.
  virtual int64_t syscall(Hal& cpu, const SyscallArgs& args) = 0;

 protected:
  ~Firmware() = default;
};

}  // namespace hal
