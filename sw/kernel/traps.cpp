// Traps of user tasks (Linux arch/x86/mm/fault.c, arch/x86/kernel/traps.c,
// mm/memory-failure.c through arch/x86/kernel/cpu/mce/core.c): a page fault
// goes to the memory manager and comes back as a retry or a signal; a
// general protection fault is SIGSEGV; a machine check is graded
// (sw/kernel/mce.cpp) and its page goes to memory_failure()
// (sw/mm/memory_failure.cpp), which signals whom 6.18 signals. A fatal
// signal ends the thread group.
//
// Every SIGBUS the kernel raises in a trap goes through force_sigbus: to
// the handler the process installed (the access is skipped) or fatal.
#include "sw/hal/uapi.h"
#include "sw/hal/x86_mce.h"
#include "sw/kernel/kernel.h"
#include "sw/lib/errno.h"

namespace fw {

// The timeline's marks around a trap (Hal::trace): 0 retried, 1 task killed.
static void trace_trap_end(hal::Hal& h, hal::TraceKind kind, hal::TrapOutcome r) {
  h.trace({kind, false, nullptr, {r == hal::TrapOutcome::retry ? 0u : 1u, 0}, false});
}

hal::TrapOutcome Kernel::page_fault(hal::Hal& h, hal::vaddr_t cr2, uint32_t ec) {
  h.trace({hal::TraceKind::page_fault, true, "page fault", {cr2, ec}, false});
  const hal::TrapOutcome r = do_page_fault(h, cr2, ec);
  trace_trap_end(h, hal::TraceKind::page_fault, r);
  return r;
}

hal::TrapOutcome Kernel::do_page_fault(hal::Hal& h, hal::vaddr_t cr2, uint32_t ec) {
  ctx_.charge(h, params_.cost_fault_entry_ns);
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "page fault at %#lx error %x with no task running on CPU%u",
                static_cast<unsigned long>(cr2), ec, h.cpu());
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  const FaultResult r = memory_.handle_fault(h, t->mm, cr2, ec);
  // The OOM killer chose this task during its fault: SIGKILL is delivered
  // on the way out (Linux: the fatal signal pending at return to user).
  if (t->oom_victim && reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  int sig = 0;
  switch (r.kind) {
    case FaultKind::handled:
    case FaultKind::spurious:
    case FaultKind::fallback:  // (never returned: the 4 KiB path takes over)
      t->oom_fault_retries = 0;
      ctx_.charge(h, params_.cost_fault_exit_ns);
      return hal::TrapOutcome::retry;
    case FaultKind::sigsegv_maperr:
    case FaultKind::sigsegv_accerr:
      // Linux's show_signal_msg line, with the reason instead of ip/sp.
      log_.printk(h, LOGLEVEL_INFO, "%s[%d]: segfault at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      sig = kSIGSEGV;
      break;
    case FaultKind::sigbus:
      log_.printk(h, LOGLEVEL_ERR, "%s[%d]: bus error at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      return force_sigbus(h, t, uapi::kBusAdrerr, cr2, 0);
    case FaultKind::hwpoison:
      // Linux do_sigbus: a poisoned page's entry; the signal carries the
      // exact address and the extent of the poison.
      log_.printk(h, LOGLEVEL_ERR, "MCE: Killing %s:%d due to hardware memory corruption fault at %lx", t->comm,
                  t->pid, static_cast<unsigned long>(cr2));
      return force_sigbus(h, t, uapi::kBusMceerrAr, cr2, r.lsb);
    case FaultKind::oom:
      // Linux pagefault_out_of_memory: the allocation already called the
      // OOM killer, which chose someone else; retry the fault. A fault
      // that keeps failing (a victim that does not finish dying, or an
      // allocation Linux never resolves by killing) ends the task instead
      // of spinning for ever.
      if (++t->oom_fault_retries < MAX_RECLAIM_RETRIES) {
        oom_.pagefault_out_of_memory(h, t);
        return hal::TrapOutcome::retry;
      }
      log_.printk(h, LOGLEVEL_ERR, "Out of memory: %s[%d] killed: its fault at %lx keeps failing (%s)", t->comm,
                  t->pid, static_cast<unsigned long>(cr2), r.reason);
      vmstat_.count(OOM_KILL);
      sig = kSIGKILL;
      break;
    case FaultKind::bad_pgtable:
    case FaultKind::kernel_mode:
      log_.printk(h, LOGLEVEL_ERR, "%s[%d]: fatal fault at %lx error %x (%s)", t->comm, t->pid,
                  static_cast<unsigned long>(cr2), ec, r.reason);
      sig = kSIGKILL;
      break;
  }
  // A fatal signal kills the whole thread group.
  kill_other_threads(h, t, 0, sig);
  do_exit(h, t, 0, sig);
  return hal::TrapOutcome::task_killed;
}

hal::TrapOutcome Kernel::general_protection(hal::Hal& h, hal::vaddr_t addr) {
  ctx_.charge(h, params_.cost_fault_entry_ns);
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "general protection fault at %#lx with no task running on CPU%u",
                static_cast<unsigned long>(addr), h.cpu());
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  // Linux's "general protection fault" line; the task gets SIGSEGV.
  log_.printk(h, LOGLEVEL_INFO, "traps: %s[%d] general protection fault at %lx (non-canonical address)", t->comm,
              t->pid, static_cast<unsigned long>(addr));
  kill_other_threads(h, t, 0, kSIGSEGV);
  do_exit(h, t, 0, kSIGSEGV);
  return hal::TrapOutcome::task_killed;
}

hal::TrapOutcome Kernel::machine_check(hal::Hal& h, const hal::MachineCheck& mc) {
  h.trace({hal::TraceKind::machine_check, true, "machine check", {mc.pa, mc.va_valid ? mc.va : 0}, false});
  const hal::TrapOutcome r = do_machine_check(h, mc);
  trace_trap_end(h, hal::TraceKind::machine_check, r);
  return r;
}

hal::TrapOutcome Kernel::force_sigbus(hal::Hal& h, task_struct* t, int code, uint64_t addr, unsigned lsb) {
  if (t->sigbus_handler) {
    mf_send_sigbus(h, t, code, addr, lsb);
    return hal::TrapOutcome::skip;
  }
  kill_other_threads(h, t, 0, kSIGBUS);
  do_exit(h, t, 0, kSIGBUS);
  return hal::TrapOutcome::task_killed;
}

hal::TrapOutcome Kernel::do_machine_check(hal::Hal& h, const hal::MachineCheck& mc) {
  MceStats& st = mce_.stats();
  ++st.total;
  if (mc.in_page_walk) ++st.in_page_walk;
  // do_machine_check(): grade the bank's record (a PANIC ends in mce_panic),
  // then clear the bank and MCG_STATUS.
  const hal::MachineCheck rec = Mce::record_of(mc);
  const MceGrade g = mce_.handle_exception(h, rec);
  mce_.clear_exception(h, rec);
  const uint64_t pfn = PFN_DOWN(rec.addr);
  if (g.sev == MceSeverity::ao) {
    // Action optional (a scrub find): the page is handled in the
    // background (Linux uc_decode_notifier: memory_failure(pfn, 0)); only
    // processes that asked for early kill hear of it now.
    ++st.action_optional;
    if (rec.kernel_mode) {
      // The #MC interrupted the kernel in a spin-wait, maybe holding locks
      // memory_failure() takes (interrupt handlers here take none): the
      // page waits for this CPU's next deferred work (memory_failure_queue).
      memory_failure_.memory_failure_queue(h, pfn, 0);
      return hal::TrapOutcome::retry;
    }
    memory_failure_.memory_failure(h, pfn, 0);
    // The interrupted task may be one of those killed early (fatally).
    if (reap_if_pending(h, current(h))) return hal::TrapOutcome::task_killed;
    return hal::TrapOutcome::retry;
  }
  if (g.sev != MceSeverity::ar) {
    // UCNA or nothing to do: logged (the record above), nothing else.
    log_.printk(h, LOGLEVEL_ERR, "mce: %#lx: %s", static_cast<unsigned long>(pfn), g.msg);
    return hal::TrapOutcome::retry;
  }
  ++st.action_required;
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: consumed with no task running", static_cast<unsigned long>(pfn));
    memory_failure_.memory_failure(h, pfn, 0);
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  return kill_me_maybe(h, t, rec);
}

hal::TrapOutcome Kernel::kill_me_maybe(hal::Hal& h, task_struct* t, const hal::MachineCheck& rec) {
  log_.printk(h, LOGLEVEL_ERR, "mce: Uncorrected hardware memory error in user-access at %llx",
              static_cast<unsigned long long>(rec.addr));
  // Not restartable (no RIPV): the task cannot go on whatever the page was.
  int flags = MF_ACTION_REQUIRED;
  if (!(rec.mcg_status & x86::MCG_STATUS_RIPV)) flags |= MF_MUST_KILL;
  mf_current_handled_ = nullptr;
  const int ret = memory_failure_.memory_failure(h, PFN_DOWN(rec.addr), flags);
  // memory_failure() signalled the task (kill_proc: BUS_MCEERR_AR at the
  // page's address), fatally or to its handler.
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  if (mf_current_handled_ == t) return hal::TrapOutcome::skip;
  // Recovered without a signal (a clean page dropped): the access retries
  // and faults the data in again; already poisoned (-EHWPOISON) or
  // filtered: nothing more to do here (a hwpoison entry answers the retry).
  if (!rec.in_page_walk && (ret == 0 || ret == -EHWPOISON || ret == -EOPNOTSUPP)) return hal::TrapOutcome::retry;
  log_.printk(h, LOGLEVEL_ERR, "mce: Memory error not recovered");
  if (rec.in_page_walk) {
    // A poisoned page table (Ignored: a kernel page, kept out of use):
    // every walk of this address space would meet it again, so its owner
    // dies whatever handler it has.
    kill_other_threads(h, t, 0, kSIGBUS);
    do_exit(h, t, 0, kSIGBUS);
    return hal::TrapOutcome::task_killed;
  }
  // kill_me_now: plain SIGBUS.
  return force_sigbus(h, t, uapi::kSiKernel, 0, 0);
}

}  // namespace fw
