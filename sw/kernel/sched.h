// The scheduler (a round-robin stand-in for CFS): a run queue per CPU; the
// running task keeps its CPU until it exits, is killed, or a timer tick
// finds its timeslice used up while another task waits.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/kernel/task.h"
#include "sw/lib/list.h"
#include "sw/lib/observe.h"
#include "sw/lib/spinlock.h"

namespace fw {

struct RunQueue {
  list_head queue;     // runnable tasks waiting, FIFO
  task_struct* curr;   // running task, nullptr when idle
  bool need_resched;
  bool online;
  uint64_t slice_start_ns;
  uint64_t nr_running;  // queued + current
  uint64_t switches;
  uint64_t preemptions;
  uint64_t ticks;
};

struct SchedStats {
  uint64_t switches = 0;
  uint64_t preemptions = 0;
  uint64_t ticks = 0;
  uint64_t idle_picks = 0;
};

class Scheduler {
 public:
  void init();
  RunQueue& rq(unsigned cpu) { return rqs_[cpu]; }
  const RunQueue& rq(unsigned cpu) const { return rqs_[cpu]; }

  void enqueue(hal::Hal& h, task_struct* t);
  // Returns the task `cpu` should run now (may be the current one, nullptr
  // when idle) and makes it curr; *switched tells whether curr changed.
  task_struct* pick(hal::Hal& h, bool* switched);
  // A tick: true when the current task's slice is over and another waits.
  void tick(hal::Hal& h, uint64_t timeslice_ns);
  // The current task of h's CPU stops for good (exit, kill).
  void task_dead(hal::Hal& h, task_struct* t);

  SchedStats stats() const;
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  RunQueue rqs_[hal::kMaxCpus];
  SpinLock lock_;
};

}  // namespace fw
