// Tasks (Linux's task_struct, reduced to what the foundation needs): one
// single-threaded user process per task, with its own mm, pinned to the CPU
// it was spawned on. Allocated from an object cache in simulated DRAM.
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
  mm_struct* mm;
  void* user;  // the platform's context for the task (opaque)
  uint64_t nvcsw;   // switches away while still runnable (preemptions)
  uint64_t nswitch_in;
  uint64_t start_ns;
};

}  // namespace fw
