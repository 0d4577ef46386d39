// Traps of user tasks (Linux arch/x86/mm/fault.c, arch/x86/kernel/traps.c,
// mm/memory-failure.c through arch/x86/kernel/cpu/mce/core.c): a page fault
// goes to the memory manager and comes back as a retry or a signal; a
// general protection fault is SIGSEGV; a machine check is graded
// (sw/kernel/mce.cpp) and, consumed by the task, poisons the page and is
// SIGBUS. A fatal signal ends the thread group.
#include "sw/kernel/kernel.h"

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
      sig = kSIGBUS;
      break;
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
  if (g.sev != MceSeverity::ar) {
    // Action optional (a scrub find), UCNA, or nothing to do: logged; the
    // page is not taken offline (memory_failure() is not implemented yet).
    if (g.sev == MceSeverity::ao) ++st.action_optional;
    log_.printk(h, LOGLEVEL_ERR, "mce: %#lx: %s; memory_failure(): not yet", static_cast<unsigned long>(pfn), g.msg);
    return hal::TrapOutcome::retry;
  }
  ++st.action_required;
  if (page* p = nodes_.pfn_to_page_init(pfn)) {
    if (!PageHWPoison(p)) {
      SetPageHWPoison(p);  // never reused once freed
      vmstat_.mod(page_to_nid(p), NR_HWPOISON, 1);
    }
  }
  task_struct* t = current(h);
  if (!t) {
    log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: consumed with no task running", static_cast<unsigned long>(pfn));
    return hal::TrapOutcome::task_killed;
  }
  if (reap_if_pending(h, t)) return hal::TrapOutcome::task_killed;
  log_.printk(h, LOGLEVEL_ERR, "Memory failure: %#lx: Sending SIGBUS to %s:%d due to hardware memory corruption",
              static_cast<unsigned long>(pfn), t->comm, t->pid);
  kill_other_threads(h, t, 0, kSIGBUS);
  do_exit(h, t, 0, kSIGBUS);
  return hal::TrapOutcome::task_killed;
}

}  // namespace fw
