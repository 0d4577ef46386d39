// Task creation (Linux kernel/fork.c): a new process with an empty
// address space (spawn, the platform's way to start a program), fork and
// clone (copy_process: a new address space copied copy-on-write, or a
// thread sharing its parent's), and the task lifecycle counters.
#include "sw/kernel/kernel.h"

#include "sw/hal/uapi.h"
#include "sw/lib/errno.h"
#include "sw/lib/string.h"

namespace fw {

int Kernel::spawn(hal::Hal& caller, const char* name, unsigned cpu, void* user) {
  if (!booted_ || cpu >= boot_.nr_cpus) {
    ++task_stats_.spawn_failed;
    return -EINVAL;
  }
  mm_struct* mm = mmap_.mm_alloc(caller);
  task_struct* t = mm ? alloc_task(caller, name ? name : "task", cpu, mm, user) : nullptr;
  if (!t) {
    if (mm) mmap_.mm_destroy(caller, mm);
    ++task_stats_.spawn_failed;
    log_.printk(caller, LOGLEVEL_WARNING, "spawn %s: out of memory", name ? name : "?");
    return -ENOMEM;
  }
  ++task_stats_.spawned;
  sched_.enqueue(caller, t);
  // Wake an idle CPU elsewhere so it schedules the new task.
  if (cpu != caller.cpu() && sched_.rq(cpu).online && !sched_.rq(cpu).curr) caller.send_ipi(cpu, x86::VEC_RESCHEDULE);
  log_.printk(caller, LOGLEVEL_DEBUG, "spawn: %s[%d] on CPU%u, pcid %u", t->comm, t->pid, cpu, mm->pcid);
  return t->pid;
}

task_struct* Kernel::alloc_task(hal::Hal& h, const char* comm, unsigned cpu, mm_struct* mm, void* user) {
  task_struct* t = static_cast<task_struct*>(slab_.kmem_cache_zalloc(h, task_cachep_, GFP_KERNEL));
  if (!t) return nullptr;
  t->pid = next_pid_++;
  t->tgid = t->pid;
  t->cpu = cpu;
  t->mm = mm;
  t->user = user;
  t->start_ns = h.now_ns();
  str_copy(t->comm, comm, TASK_COMM_LEN);
  list_add_tail(&t->tasks, &tasks_);
  ++task_stats_.live;
  return t;
}

int64_t Kernel::do_fork(hal::Hal& h, task_struct* parent, uint64_t cpu_arg, uint64_t flags, void* child_user) {
  const uint64_t cpu = cpu_arg == uapi::kForkSameCpu ? parent->cpu : cpu_arg;
  if (cpu >= boot_.nr_cpus || !sched_.rq(static_cast<unsigned>(cpu)).online) return -EINVAL;
  // Linux copy_process: a thread shares signal handlers, which need the VM.
  if ((flags & uapi::kCloneThread) && !(flags & uapi::kCloneSighand)) return -EINVAL;
  if ((flags & uapi::kCloneSighand) && !(flags & uapi::kCloneVm)) return -EINVAL;
  mm_struct* mm;
  if (flags & uapi::kCloneVm) {
    mm = parent->mm;
    ++mm->mm_users;
  } else {
    int err = 0;
    mm = fork_.dup_mm(h, parent->mm, &err);
    if (!mm) return err;
  }
  task_struct* t = alloc_task(h, parent->comm, static_cast<unsigned>(cpu), mm, child_user);
  if (!t) {
    if (--mm->mm_users == 0) mmap_.mm_destroy(h, mm);
    return -ENOMEM;
  }
  // The child inherits oom_score_adj (Linux copies signal_struct's, or
  // shares it with a thread).
  t->oom_score_adj = parent->oom_score_adj;
  // Signal handlers are copied (fork) or shared (CLONE_SIGHAND); the
  // memory-error kill policy is inherited either way.
  t->sigbus_handler = parent->sigbus_handler;
  t->mce_kill = parent->mce_kill;
  // copy_files: CLONE_FILES shares the table, else the child gets a copy.
  if (parent->files && (flags & uapi::kCloneFiles)) {
    t->files = parent->files;
    ++t->files->count;
  } else if (parent->files) {
    t->files = mmfs_.dup_files(h, parent->files);
  }
  if (flags & uapi::kCloneThread) {
    t->tgid = parent->tgid;
    ++task_stats_.threads;
  } else {
    ++task_stats_.forked;
  }
  sched_.enqueue(h, t);
  if (t->cpu != h.cpu() && !sched_.rq(t->cpu).curr) h.send_ipi(t->cpu, x86::VEC_RESCHEDULE);
  log_.printk(h, LOGLEVEL_DEBUG, "%s: %s[%d] -> %d on CPU%u", (flags & uapi::kCloneThread) ? "clone" : "fork",
              parent->comm, parent->pid, t->pid, t->cpu);
  return t->pid;
}

namespace {

const StatDesc<TaskStats> task_stat_table[] = {
    {"spawned", &TaskStats::spawned, "processes created", "count"},
    {"spawn_failed", &TaskStats::spawn_failed, "process creations that failed", "count"},
    {"exited", &TaskStats::exited, "processes that called exit", "count"},
    {"killed", &TaskStats::killed, "processes killed by a signal", "count"},
    {"sigsegv", &TaskStats::sigsegv, "processes killed by SIGSEGV", "count"},
    {"sigbus", &TaskStats::sigbus, "processes killed by SIGBUS", "count"},
    {"sigbus_handled", &TaskStats::sigbus_handled, "SIGBUS delivered to a handler the process installed (it went on)", "count"},
    {"sigkill", &TaskStats::sigkill, "processes killed by SIGKILL", "count"},
    {"live", &TaskStats::live, "tasks (threads) alive", "count"},
    {"forked", &TaskStats::forked, "processes created by fork", "count"},
    {"threads", &TaskStats::threads, "threads created by clone", "count"},
    {"group_kills", &TaskStats::group_kills, "threads ended with their group (exit_group, fatal signals)", "count"},
    {"pending_reaps", &TaskStats::pending_reaps, "threads ended later by their own CPU (they were running)", "count"},
};
static_assert(stat_table_size(task_stat_table) == sizeof(TaskStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void TaskStats::visit(StatVisitor& v, const char* prefix) const { StatEmitter(v, prefix).table(*this, task_stat_table); }

}  // namespace fw
