// Task exit (Linux kernel/exit.c, and zap_other_threads of kernel/signal.c):
// ending a task and its address space with the last thread using it,
// ending a whole thread group, and reaping threads marked to end by
// another CPU.
#include "sw/kernel/kernel.h"

namespace fw {

void Kernel::do_exit(hal::Hal& h, task_struct* t, int exit_status, int signal) {
  const int pid = t->pid;
  void* user = t->user;
  // This CPU is in the kernel without a task now: lazy until it schedules.
  if (sched_.rq(t->cpu).curr == t && t->cpu == h.cpu()) tlb_.enter_lazy(h);
  sched_.task_dead(h, t);
  // The address space goes with the last thread using it.
  mm_struct* mm = t->mm;
  t->mm = nullptr;
  if (mm && --mm->mm_users == 0) mmap_.mm_destroy(h, mm);
  mmfs_.put_files(h, t->files);  // exit_files
  t->files = nullptr;
  list_del(&t->tasks);
  --task_stats_.live;
  if (signal) {
    ++task_stats_.killed;
    if (signal == kSIGSEGV) ++task_stats_.sigsegv;
    else if (signal == kSIGBUS) ++task_stats_.sigbus;
    else if (signal == kSIGKILL) ++task_stats_.sigkill;
  } else {
    ++task_stats_.exited;
  }
  slab_.kmem_cache_free(h, task_cachep_, t);
  if (!task_stats_.live) quiesce(h);
  h.task_ended(pid, user, signal ? -1 : exit_status, signal);
}

void Kernel::kill_other_threads(hal::Hal& h, task_struct* t, int exit_status, int signal) {
  for (bool again = true; again;) {
    again = false;
    for (list_head* p = tasks_.next; p != &tasks_; p = p->next) {
      task_struct* u = list_entry(p, task_struct, tasks);
      if (u == t || u->tgid != t->tgid || u->exit_pending) continue;
      ++task_stats_.group_kills;
      if (sched_.rq(u->cpu).curr == u && u->cpu != h.cpu()) {
        // Running elsewhere: its CPU ends it at its next entry here.
        u->exit_pending = true;
        u->exit_code = exit_status;
        u->exit_signal = signal;
        ++task_stats_.pending_reaps;
        h.send_ipi(u->cpu, x86::VEC_RESCHEDULE);
        continue;
      }
      do_exit(h, u, exit_status, signal);
      again = true;  // the list changed under us
      break;
    }
  }
}

void Kernel::oom_sigkill(hal::Hal& h, task_struct* victim) { group_fatal_signal(h, victim, kSIGKILL, true); }

void Kernel::group_fatal_signal(hal::Hal& h, task_struct* t, int sig, bool oom) {
  for_each_thread(t, [&](task_struct* u) {
    if (oom) u->oom_victim = true;
    if (u->exit_pending) return;
    u->exit_pending = true;
    u->exit_code = 0;
    u->exit_signal = sig;
    // This CPU's task dies when its trap returns; the others when their
    // CPU next enters the kernel or picks them.
    if (u == current(h)) return;
    ++task_stats_.pending_reaps;
    if (sched_.rq(u->cpu).curr == u && u->cpu != h.cpu()) h.send_ipi(u->cpu, x86::VEC_RESCHEDULE);
  });
}

bool Kernel::reap_if_pending(hal::Hal& h, task_struct* t) {
  if (!t || !t->exit_pending) return false;
  do_exit(h, t, t->exit_code, t->exit_signal);
  return true;
}

}  // namespace fw
