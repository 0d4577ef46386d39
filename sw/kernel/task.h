// Tasks (Linux's task_struct, reduced): a thread of a user process, pinned
// to the CPU it was created on. The threads of a process (thread group,
// tgid = the first thread's pid) share its mm; fork gives a new process
// with a copy. Allocated from an object cache in simulated DRAM.
#pragma once

#include <stdint.h>

#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/mm/mm_types.h"

namespace fw {

constexpr unsigned TASK_COMM_LEN = 16;

enum class TaskState : uint8_t { runnable, running, dead };

// Signals that end a task, numbered as on Linux (prefixed: the host's
// <signal.h> macros would clash in the host build).
constexpr int kSIGKILL = 9;
constexpr int kSIGBUS = 7;
constexpr int kSIGSEGV = 11;

// task_struct::mce_kill bits (Linux's PF_MCE_PROCESS, PF_MCE_EARLY).
constexpr uint8_t PF_MCE_PROCESS = 1;  // the thread set its own policy (else vm.memory_failure_early_kill)
constexpr uint8_t PF_MCE_EARLY = 2;    // its policy is early kill

struct files_struct;

struct task_struct {
  list_head tasks;     // in the Kernel's task list
  list_head run_list;  // in its CPU's run queue while runnable (not running)
  int pid;
  TaskState state;
  uint8_t oom_fault_retries;  // faults in a row that found no memory and were retried
  unsigned cpu;
  char comm[TASK_COMM_LEN];
  int tgid;    // the process (thread group): getpid()
  mm_struct* mm;
  files_struct* files;  // open files (sw/fs/mmfs): nullptr until the first open
  void* user;  // the platform's context for the task (opaque)
  // The thread group is ending (exit_group or a fatal signal from another
  // thread) while this thread runs on another CPU: it is reaped the next
  // time its CPU enters the firmware (fault, exit, schedule).
  bool exit_pending;
  // Chosen by the OOM killer (Linux TIF_MEMDIE): SIGKILL is pending and its
  // allocations may use the reserves until it dies.
  bool oom_victim;
  // /proc/PID/oom_score_adj (Linux keeps it per process in signal_struct:
  // every thread of a group holds the same value), -1000..1000.
  int16_t oom_score_adj;
  // A SIGBUS handler is installed (rt_sigaction): memory-error signals are
  // delivered to it (Hal::signal_delivered) instead of killing. Shared by
  // the threads of a process (Linux's sighand), copied by fork.
  bool sigbus_handler;
  // PR_MCE_KILL's policy for this thread (Linux PF_MCE_PROCESS and
  // PF_MCE_EARLY in task->flags), inherited by fork and clone.
  uint8_t mce_kill;
  int exit_signal;
  int exit_code;
  uint64_t nvcsw;   // switches away while still runnable (preemptions)
  uint64_t nswitch_in;
  uint64_t start_ns;
};

// Task lifecycle counters (kernel/fork.cpp, kernel/exit.cpp).
struct TaskStats {
  uint64_t spawned = 0;
  uint64_t spawn_failed = 0;
  uint64_t exited = 0;        // exit system calls
  uint64_t killed = 0;        // ended by a signal
  uint64_t sigsegv = 0;
  uint64_t sigbus = 0;
  uint64_t sigbus_handled = 0;  // SIGBUS delivered to a handler (the task went on)
  uint64_t sigkill = 0;
  uint64_t live = 0;          // tasks (threads) alive now
  uint64_t forked = 0;        // processes created by fork
  uint64_t threads = 0;       // threads created by clone
  uint64_t group_kills = 0;   // other threads ended with their group
  uint64_t pending_reaps = 0; // threads reaped later, on their own CPU

  // Every counter under "<prefix>.", always in the same order.
  void visit(StatVisitor& v, const char* prefix) const;
};

}  // namespace fw
