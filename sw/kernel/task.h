// Tasks (Linux's task_struct, reduced): a thread of a user process, pinned
// to the CPU it was created on. The threads of a process (thread group,
// tgid = the first thread's pid) share its mm; fork gives a new process
// with a copy. Allocated from an object cache in simulated DRAM.
#pragma once

#include <stdint.h>

#include "sw/lib/list.h"
#include "sw/mm/mm_types.h"

namespace fw {

constexpr unsigned TASK_COMM_LEN = 16;

enum class TaskState : uint8_t { runnable, running, dead };

// Signals that end a task, numbered as on Linux (prefixed: the host's
// <signal.h> macros would clash in the host build).
constexpr int kSIGKILL = 9;
constexpr int kSIGBUS = 7;
constexpr int kSIGSEGV = 11;

struct task_struct {
  list_head tasks;     // in the Kernel's task list
  list_head run_list;  // in its CPU's run queue while runnable (not running)
  int pid;
  TaskState state;
  unsigned cpu;
  char comm[TASK_COMM_LEN];
  int tgid;    // the process (thread group): getpid()
  mm_struct* mm;
  void* user;  // the platform's context for the task (opaque)
  // The thread group is ending (exit_group or a fatal signal from another
  // thread) while this thread runs on another CPU: it is reaped the next
  // time its CPU enters the firmware (fault, exit, schedule).
  bool exit_pending;
  int exit_signal;
  int exit_code;
  uint64_t nvcsw;   // switches away while still runnable (preemptions)
  uint64_t nswitch_in;
  uint64_t start_ns;
};

}  // namespace fw
