// The OOM killer (Linux mm/oom_kill.c): when reclaim can free nothing more
// and an allocation that Linux resolves by killing still fails, pick the
// process whose death frees the most memory (oom_badness: RSS, swap entries
// and page tables, shifted by oom_score_adj), log what Linux logs
// (dump_header with Mem-Info and the task table, the oom-kill summary, "Out
// of memory: Killed process ..."), send it SIGKILL through the task layer,
// and reap its private memory at once (the OOM reaper). Callers: the page
// allocator's slow path (__alloc_pages_may_oom), the fault path
// (pagefault_out_of_memory), /proc/PID/oom_score.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/gfp.h"

namespace fw {

struct alloc_context;
struct mm_struct;
struct task_struct;

constexpr int OOM_SCORE_ADJ_MIN = -1000;  // never killed
constexpr int OOM_SCORE_ADJ_MAX = 1000;

// mm_struct::oom_flags (Linux's MMF_* bits of the OOM killer).
constexpr uint8_t MMF_OOM_SKIP = 1;     // reaped, or gone: the killer looks past it
constexpr uint8_t MMF_UNSTABLE = 2;     // the reaper took memory the owner may still see (it is dying)

// What the OOM killer needs of the task layer; fw::Kernel implements it
// with its existing kill machinery (sw/kernel/exit.cpp).
class OomTasks {
 public:
  // The task running on h's CPU, nullptr in kernel work (Linux current).
  virtual task_struct* oom_current(hal::Hal& h) = 0;
  // SIGKILL to every thread of t's process: each ends when it next enters
  // the kernel (a fault, its CPU's scheduler) rather than in the middle of
  // the caller's allocation, whose locks it may need.
  virtual void oom_sigkill(hal::Hal& h, task_struct* t) = 0;

 protected:
  ~OomTasks() = default;
};

struct OomStats {
  uint64_t invocations = 0;   // out_of_memory calls
  uint64_t kills = 0;         // processes killed (vmstat oom_kill)
  uint64_t victim_waits = 0;  // calls that found a victim still dying and killed nobody
  uint64_t no_victim = 0;     // calls that found nothing to kill
  uint64_t skipped = 0;       // calls that would not kill: no __GFP_FS
  uint64_t reaped = 0;        // address spaces the OOM reaper emptied
  uint64_t reaped_pages = 0;  // anonymous pages it unmapped
  uint64_t reap_busy = 0;     // reaps put off: the mm was busy (mmap_lock) or its task running here
  uint64_t fault_retries = 0; // faults retried after an allocation failed without killing the task
};

class OomKiller {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  void set_tasks(OomTasks* tasks) { tasks_ = tasks; }

  // The last resort of an allocation of 2^order pages under gfp (Linux
  // out_of_memory with __alloc_pages_may_oom's caller-side checks done).
  // Returns true when it made progress: a process was killed, or a victim
  // is still dying; false when it would not kill (no __GFP_FS). With
  // nobody to kill it panics, as Linux does ("System is deadlocked on memory").
  bool out_of_memory(hal::Hal& h, gfp_t gfp, unsigned order, const alloc_context& ac);
  // Returns true when the task running on h's CPU was chosen by the OOM
  // killer (its allocations may then dig into the reserves: ALLOC_OOM).
  bool current_is_victim(hal::Hal& h);
  // Returns the badness of t for totalpages of memory (Linux oom_badness):
  // its RSS, swap entries and page tables in pages plus oom_score_adj ×
  // totalpages / 1000; INT64_MIN when it must not be killed (adj -1000, no
  // mm, already reaped).
  int64_t oom_badness(const task_struct* t, uint64_t totalpages) const;
  // Returns what the OOM killer weighs against: RAM plus swap pages
  // (Linux totalram_pages() + total_swap_pages).
  uint64_t totalpages() const;
  // Returns /proc/PID/oom_score: the badness scaled to 0..2000 (Linux
  // proc_oom_score), 0 for an unkillable task.
  uint64_t oom_score(const task_struct* t) const;
  // The fault path met an allocation failure that did not kill the
  // faulting task (Linux pagefault_out_of_memory): counts and logs it.
  void pagefault_out_of_memory(hal::Hal& h, const task_struct* t);

  const OomStats& stats() const { return stats_; }
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  struct Control {
    gfp_t gfp;
    unsigned order;
    int64_t chosen_points;
    task_struct* chosen;
    bool abort;  // a victim is still dying: kill nobody else (Linux's -1 chosen)
    uint64_t totalpages;
  };
  // Returns the first thread of each process in turn (Linux
  // for_each_process): nullptr after the last. prev nullptr starts.
  task_struct* next_process(task_struct* prev) const;
  void select_bad_process(Control& oc);
  void oom_kill_process(hal::Hal& h, Control& oc);
  void dump_header(hal::Hal& h, const Control& oc);
  void show_mem(hal::Hal& h) const;
  void dump_tasks(hal::Hal& h) const;
  // The OOM reaper (Linux oom_reap_task_mm): unmaps the private memory of
  // the victim's mm unless it is busy. Returns true when it reaped.
  bool oom_reap(hal::Hal& h, task_struct* victim);

  MmContext* ctx_ = nullptr;
  OomTasks* tasks_ = nullptr;
  unsigned fault_reports_ = 0;
  OomStats stats_;
};

}  // namespace fw
