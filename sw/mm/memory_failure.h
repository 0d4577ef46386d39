// Memory failure (Linux mm/memory-failure.c): what the kernel does with a
// page found to hold an uncorrected error (a consumed #MC, a patrol-scrub
// find, MADV_HWPOISON) — memory_failure() with 6.18's page-state table and
// its results, who is signalled and when (early and late kill) — and with a
// page that is going bad (soft_offline_page(): the contents move to a new
// page, invisibly to its users) or a software-poisoned page given back
// (unpoison_memory()). The per-node totals are /proc's
// node<N>/memory_failure/{total,ignored,failed,delayed,recovered}.
//
// Callers: the #MC handler (Kernel::do_machine_check), MADV_HWPOISON and
// MADV_SOFT_OFFLINE (sw/mm/madvise), the corrected-error collector
// (sw/drivers/ras/cec), the monitor's unpoison (tb/top).
// memory_failure.cpp holds memory_failure() and the kill; soft_offline.cpp
// holds soft_offline_page() and unpoison_memory().
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

struct task_struct;

// Linux's enum mf_flags.
enum : int {
  MF_COUNT_INCREASED = 1 << 0,  // the caller holds a reference on the page
  MF_ACTION_REQUIRED = 1 << 1,  // consumed: the current task touched it (SRAR)
  MF_MUST_KILL = 1 << 2,        // kill the current task even if its page was recovered
  MF_SOFT_OFFLINE = 1 << 3,
  MF_UNPOISON = 1 << 4,
  MF_SW_SIMULATED = 1 << 5,     // software injection (MADV_HWPOISON, hwpoison-inject): unpoison may undo it
  MF_NO_RETRY = 1 << 6,
  MF_MEM_PRE_REMOVE = 1 << 7,
};

// Linux's enum mf_result and action_name[].
enum class MfResult : uint8_t { ignored, failed, delayed, recovered };

// Linux's enum mf_action_page_type; the names logged are action_page_types[].
enum class MfPageType : uint8_t {
  kernel,
  kernel_high_order,
  slab,
  different_compound,
  huge,
  free_huge,
  unmap_failed,
  dirty_swapcache,
  clean_swapcache,
  dirty_mlock,
  clean_mlock,
  dirty_unevict,
  clean_unevict,
  dirty_lru,
  clean_lru,
  truncated_lru,
  buddy,
  dax,
  unsplit_thp,
  pgtable,
  unknown,
};

// Linux's struct memory_failure_stats: one per node, /proc's
// node<N>/memory_failure/*. total = the sum of the other four.
struct MemoryFailureStats {
  uint64_t total = 0;
  uint64_t ignored = 0;
  uint64_t failed = 0;
  uint64_t delayed = 0;
  uint64_t recovered = 0;
};

// What memory failure needs of the task layer; fw::Kernel implements it
// (sw/kernel/signal.cpp).
class MfTasks {
 public:
  // The task running on h's CPU, nullptr in kernel work (Linux current).
  virtual task_struct* mf_current(hal::Hal& h) = 0;
  // Linux force_sig_mceerr / send_sig_mceerr: SIGBUS with si_code `code`
  // (uapi::kBusMceerrAr/Ao), si_addr `addr` and si_addr_lsb `lsb` to t.
  // A process with a SIGBUS handler (rt_sigaction) has it delivered
  // (Hal::signal_delivered) and goes on: returns true. Otherwise t's thread
  // group dies of SIGBUS when each thread next enters the kernel (t itself,
  // when it is current, on the way out of the trap): returns false.
  virtual bool mf_send_sigbus(hal::Hal& h, task_struct* t, int code, uint64_t addr, unsigned lsb) = 0;

 protected:
  ~MfTasks() = default;
};

class MemoryFailure {
 public:
  void init(MmContext* ctx) { ctx_ = ctx; }
  void set_tasks(MfTasks* tasks) { tasks_ = tasks; }

  // Linux memory_failure(pfn, flags): handles the page holding poison at
  // pfn by its state (6.18's table), logs "Memory failure: %#lx: recovery
  // action for %s: %s", counts it per node, and signals the processes that
  // map it (early or late kill). The page never returns to the allocator.
  // Returns 0 when handled (Recovered or Delayed), -EHWPOISON when the page
  // was already poisoned, -EBUSY/-EOPNOTSUPP/-ENXIO/-EFAULT as 6.18 does.
  int memory_failure(hal::Hal& h, uint64_t pfn, int flags);
  // Linux soft_offline_page(pfn, flags): migrates the page's contents to a
  // new page (or takes a free page off the free lists), then marks the old
  // one poisoned. Returns 0 or -errno (-EBUSY, -EIO, -EHWPOISON...).
  int soft_offline_page(hal::Hal& h, uint64_t pfn, int flags);
  // Linux unpoison_memory(pfn): gives a software-poisoned page back to the
  // allocator. Returns 0, or -EBUSY/-EOPNOTSUPP when it may not (a real
  // hardware failure has happened since boot: 6.18's hw_memory_failure).
  int unpoison_memory(hal::Hal& h, uint64_t pfn);

  // Returns the pages poisoned now (Linux num_poisoned_pages).
  uint64_t num_poisoned_pages() const { return num_poisoned_pages_; }
  // Returns node nid's totals (Linux's per-node memory_failure_stats).
  const MemoryFailureStats& node_stats(int nid) const { return node_stats_[nid]; }
  // Every counter under "<prefix>.", per node, always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  MmContext* ctx_ = nullptr;
  MfTasks* tasks_ = nullptr;
  uint64_t num_poisoned_pages_ = 0;
  bool hw_memory_failure_ = false;  // a real (not software-simulated) failure happened
  MemoryFailureStats node_stats_[hal::kMaxNodes];
};

}  // namespace fw
