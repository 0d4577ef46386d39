#include "sw/kernel/sched.h"

namespace fw {

void Scheduler::init() {
  for (RunQueue& r : rqs_) {
    INIT_LIST_HEAD(&r.queue);
    r.curr = nullptr;
    r.need_resched = false;
    r.online = false;
    r.slice_start_ns = 0;
    r.nr_running = 0;
    r.switches = r.preemptions = r.ticks = 0;
  }
}

void Scheduler::enqueue(hal::Hal& h, task_struct* t) {
  LockGuard g(lock_, h);
  RunQueue& r = rqs_[t->cpu];
  t->state = TaskState::runnable;
  list_add_tail(&t->run_list, &r.queue);
  ++r.nr_running;
  if (!r.curr) r.need_resched = true;  // an idle CPU picks it up at once
}

task_struct* Scheduler::pick(hal::Hal& h, bool* switched) {
  LockGuard g(lock_, h);
  RunQueue& r = rqs_[h.cpu()];
  *switched = false;
  task_struct* prev = r.curr;
  if (prev && !r.need_resched) return prev;
  r.need_resched = false;
  if (list_empty(&r.queue)) {
    if (prev) r.slice_start_ns = h.now_ns();  // nobody waits: a new slice
    return prev;
  }
  task_struct* next = list_first_entry(&r.queue, task_struct, run_list);
  list_del(&next->run_list);
  if (prev) {
    // Preempted: to the back of the queue.
    prev->state = TaskState::runnable;
    ++prev->nvcsw;
    list_add_tail(&prev->run_list, &r.queue);
    ++r.preemptions;
  }
  next->state = TaskState::running;
  ++next->nswitch_in;
  r.curr = next;
  r.slice_start_ns = h.now_ns();
  ++r.switches;
  *switched = true;
  return next;
}

void Scheduler::tick(hal::Hal& h, uint64_t timeslice_ns) {
  LockGuard g(lock_, h);
  RunQueue& r = rqs_[h.cpu()];
  ++r.ticks;
  if (list_empty(&r.queue)) return;
  if (!r.curr || h.now_ns() - r.slice_start_ns >= timeslice_ns) r.need_resched = true;
}

void Scheduler::task_dead(hal::Hal& h, task_struct* t) {
  LockGuard g(lock_, h);
  RunQueue& r = rqs_[t->cpu];
  if (r.curr == t) {
    r.curr = nullptr;
  } else if (t->state == TaskState::runnable) {
    list_del(&t->run_list);
  }
  t->state = TaskState::dead;
  --r.nr_running;
  r.need_resched = true;
}

SchedStats Scheduler::stats() const {
  SchedStats s;
  for (const RunQueue& r : rqs_) {
    s.switches += r.switches;
    s.preemptions += r.preemptions;
    s.ticks += r.ticks;
  }
  return s;
}


void Scheduler::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  const SchedStats s = stats();
  e("switches", s.switches, "task switches", "count");
  e("preemptions", s.preemptions, "switches away from a task still runnable", "count");
  e("ticks", s.ticks, "timer ticks", "count");
}

}  // namespace fw
