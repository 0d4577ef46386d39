// Task lookup (Linux kernel/pid.c find_task_by_vpid, and `current`).
#include "sw/kernel/kernel.h"

namespace fw {

task_struct* Kernel::current(hal::Hal& h) const {
  const unsigned cpu = h.cpu();
  return cpu < hal::kMaxCpus ? sched_.rq(cpu).curr : nullptr;
}

int Kernel::current_pid(unsigned cpu) const {
  if (cpu >= hal::kMaxCpus) return -1;
  const task_struct* t = sched_.rq(cpu).curr;
  return t ? t->pid : -1;
}

task_struct* Kernel::find_task(int pid) const {
  for (const list_head* p = tasks_.next; p != &tasks_; p = p->next) {
    task_struct* t = list_entry(const_cast<list_head*>(p), task_struct, tasks);
    if (t->pid == pid) return t;
  }
  return nullptr;
}

mm_struct* Kernel::mm_of(int pid) const {
  task_struct* t = find_task(pid);
  return t ? t->mm : nullptr;
}

}  // namespace fw
