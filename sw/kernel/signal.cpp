// Signals (Linux kernel/signal.c, the part mmcosim needs): SIGBUS of memory
// errors (force_sig_mceerr, send_sig_mceerr), delivered to the handler a
// process installed with rt_sigaction or fatal to its thread group; and the
// per-thread memory-error kill policy of prctl(PR_MCE_KILL).
//
// A handler here is a recording one (what mmcosim's programs install for
// `sigbus: record`): the platform notes the siginfo (Hal::signal_delivered)
// and the task goes on; no user code runs in the kernel's view.
#include "sw/hal/uapi.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/errno.h"

namespace fw {

bool Kernel::mf_send_sigbus(hal::Hal& h, task_struct* t, int code, uint64_t addr, unsigned lsb) {
  if (t->sigbus_handler) {
    ++task_stats_.sigbus_handled;
    if (t == current(h)) mf_current_handled_ = t;
    h.signal_delivered(t->pid, t->user, hal::SigInfo{uapi::kSigbus, code, addr, lsb});
    return true;
  }
  group_fatal_signal(h, t, kSIGBUS, false);
  return false;
}

int64_t Kernel::do_sigaction(task_struct* t, uint64_t sig, uint64_t handler) {
  // Only SIGBUS can be caught here: the other signals mmcosim sends
  // (SIGSEGV, SIGKILL) keep their default action.
  if (sig != static_cast<uint64_t>(uapi::kSigbus)) return sig == 0 || sig > 64 ? -EINVAL : -ENOSYS;
  // The threads share their handlers.
  for_each_thread(t, [handler](task_struct* u) { u->sigbus_handler = handler != 0; });
  return 0;
}

int64_t Kernel::do_prctl(task_struct* t, uint64_t option, uint64_t arg2, uint64_t arg3) {
  if (option == uapi::kPrMceKillGet) {
    if (!(t->mce_kill & PF_MCE_PROCESS)) return static_cast<int64_t>(uapi::kPrMceKillDefault);
    return static_cast<int64_t>((t->mce_kill & PF_MCE_EARLY) ? uapi::kPrMceKillEarly : uapi::kPrMceKillLate);
  }
  if (option != uapi::kPrMceKill) return -EINVAL;
  if (arg2 == uapi::kPrMceKillClear) {
    t->mce_kill = 0;
    return 0;
  }
  if (arg2 != uapi::kPrMceKillSet) return -EINVAL;
  if (arg3 == uapi::kPrMceKillDefault) {
    t->mce_kill = 0;
  } else if (arg3 == uapi::kPrMceKillEarly) {
    t->mce_kill = PF_MCE_PROCESS | PF_MCE_EARLY;
  } else if (arg3 == uapi::kPrMceKillLate) {
    t->mce_kill = PF_MCE_PROCESS;
  } else {
    return -EINVAL;
  }
  return 0;
}

}  // namespace fw
