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

struct page;
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

// Linux's enum mf_action_page_type, in 6.18's order; the names logged are
// action_page_types[] (mf_page_type_name). 6.18 has no slab or page-table
// row (those pages are "get hwpoison page": the kernel owns them); the two
// last values are this firmware's, for callers that name them.
enum class MfPageType : uint8_t {
  kernel,
  kernel_high_order,
  different_compound,
  huge,
  free_huge,
  get_hwpoison,
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
  already_poisoned,
  unknown,
  slab,
  pgtable,
};

// Returns the name 6.18 logs for a page type (action_page_types[]) and for
// a result (action_name[]: Ignored, Failed, Delayed, Recovered).
const char* mf_page_type_name(MfPageType t);
const char* mf_result_name(MfResult r);

// Linux's struct memory_failure_stats: one per node, /proc's
// node<N>/memory_failure/*. total = the sum of the other four.
struct MemoryFailureStats {
  uint64_t total = 0;
  uint64_t ignored = 0;
  uint64_t failed = 0;
  uint64_t delayed = 0;
  uint64_t recovered = 0;
};

// One process to signal (Linux struct to_kill): the thread, the address of
// the bad page in its space, log2 of the mapping's size (si_addr_lsb).
struct MfToKill {
  task_struct* tsk;
  uint64_t addr;
  uint8_t size_shift;
};

// collect_procs' list (Linux allocates its entries; a fixed array here:
// mappers beyond kMax are not signalled early, as when Linux's kmalloc fails).
struct MfKillList {
  static constexpr unsigned kMax = 32;
  MfToKill tk[kMax];
  unsigned n = 0;
  // Adds (t, addr) once.
  void add(task_struct* t, uint64_t addr, uint8_t shift);
};

struct MemoryFailureCounters {
  uint64_t calls = 0;    // memory_failure() on a page the kernel manages
  uint64_t signals = 0;  // SIGBUS sent by kill_proc
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
  // Linux memory_failure_queue: a page found bad where memory_failure()
  // cannot run (a kernel copy under page-table locks: copy-on-write,
  // khugepaged, a copy from a user buffer) is handled by the next deferred
  // work of this CPU (memory_failure_work). A full queue drops the pfn and
  // logs it, as Linux's 16-entry fifo does.
  void memory_failure_queue(hal::Hal& h, uint64_t pfn, int flags);
  // Linux memory_failure_work_func: memory_failure() of every queued pfn.
  void memory_failure_work(hal::Hal& h);
  // Linux soft_offline_page(pfn, flags): migrates the page's contents to a
  // new page (or takes a free page off the free lists), then marks the old
  // one poisoned. Returns 0 or -errno (-EBUSY, -EIO, -EHWPOISON...).
  int soft_offline_page(hal::Hal& h, uint64_t pfn, int flags);
  // Linux unpoison_memory(pfn): gives a software-poisoned page back to the
  // allocator. Returns 0, or -EBUSY/-EOPNOTSUPP when it may not (a real
  // hardware failure has happened since boot: 6.18's hw_memory_failure).
  int unpoison_memory(hal::Hal& h, uint64_t pfn);

  // Returns true once memory_failure() ran on a page the kernel manages (or
  // a page was poisoned): its statistics and /proc files exist from then on.
  bool happened() const { return stats_.calls || num_poisoned_pages_; }
  // Returns the pages poisoned now (Linux num_poisoned_pages).
  uint64_t num_poisoned_pages() const { return num_poisoned_pages_; }
  // Returns node nid's totals (Linux's per-node memory_failure_stats).
  const MemoryFailureStats& node_stats(int nid) const { return node_stats_[nid]; }
  // Every counter under "<prefix>.", per node, always in the same order;
  // nothing before the first memory failure.
  void visit_stats(StatVisitor& v, const char* prefix) const;

  // Linux task_early_kill: the thread of tsk's process that gets an early
  // signal — the current task itself when force_early and it shares tsk's
  // mm — or nullptr when the process is killed late (PR_MCE_KILL's policy,
  // else vm.memory_failure_early_kill).
  task_struct* task_early_kill(hal::Hal& h, task_struct* tsk, bool force_early);

 private:
  // ---- soft offline and unpoison (soft_offline.cpp) ----
  // Returns 1 with a reference on p's head for an in-use page soft offline
  // can handle (on the LRU, or hugetlb), 0 for a free buddy page, -EIO for
  // a page it cannot handle ("unhandlable page."), -EBUSY when it kept
  // changing under us (Linux get_any_page). MF_COUNT_INCREASED: the caller
  // already holds the reference.
  int get_any_page(hal::Hal& h, page* p, int flags);
  // Returns true when p is on the LRU or a free buddy page (Linux
  // HWPoisonHandlable; slab pages never).
  bool hwpoison_handlable(hal::Hal& h, page* p);
  // Soft offline of a page in use (Linux soft_offline_in_use_page): split a
  // THP, invalidate a clean unmapped page-cache page, else isolate and
  // migrate it; the old page poisoned. Consumes the caller's reference.
  // Returns 0 or -EBUSY/-ENOMEM/-EIO.
  int soft_offline_in_use_page(hal::Hal& h, page* p);
  // Returns true when p was taken off the page cache (Linux
  // mapping_evict_folio): a clean, unmapped page-cache page only the cache
  // and the caller hold.
  bool mapping_evict_page(hal::Hal& h, page* p);
  // Marks p poisoned and counts it (Linux page_handle_poison): a free page
  // is taken off the buddy lists first (false when it is not there any
  // more); `release` drops the caller's reference.
  bool page_handle_poison(hal::Hal& h, page* p, bool free_page, bool release);
  // Drops the reference MF_COUNT_INCREASED says the caller gave (Linux put_ref_page).
  void put_ref_page(hal::Hal& h, page* p, int flags);
  // num_poisoned_pages and HardwareCorrupted (NR_HWPOISON) of p's node.
  void num_poisoned_pages_add(page* p, int64_t nr);
  bool soft_offline_disabled_logged_ = false;  // pr_info_once of enable_soft_offline=0
  // ---- end of soft offline and unpoison ----
  // ---- hugetlb pages (memory_failure_hugetlb.cpp) ----
  // memory_failure() of a page of a hugetlb folio (*hugetlb set; else 0
  // and nothing done). Returns as memory_failure().
  int try_memory_failure_hugetlb(hal::Hal& h, page* p, uint64_t pfn, int flags, bool* hugetlb);
  // Returns 0 for a free pool page, 1 with a reference for one in use,
  // -EBUSY for neither, -EHWPOISON when p was already known bad; marks the
  // folio and p poisoned (Linux __get_huge_page_for_hwpoison).
  int get_huge_page_for_hwpoison(hal::Hal& h, page* head, page* p, int flags);
  // Marks the folio and its bad page p. Returns 0, or -EHWPOISON when the
  // folio was already poisoned (Linux folio_set_hugetlb_hwpoison).
  int folio_set_hugetlb_hwpoison(page* head, page* p);
  // hwpoison_user_mappings for a hugetlb folio. Returns false when some
  // mapping stayed.
  bool hwpoison_hugetlb_mappings(hal::Hal& h, page* head, page* p, uint64_t pfn, int flags);
  // Returns the "huge page" row's result (Linux me_huge_page).
  MfResult me_huge_page(hal::Hal& h, page* p);
  // soft_offline_in_use_page of a hugetlb page (we hold a reference on
  // its head). Returns 0 or -EBUSY/-ENOMEM.
  int soft_offline_hugetlb(hal::Hal& h, page* p);
  // ---- end of hugetlb pages ----
  // memory_failure() past the free and kernel pages: a user page (THP split first).
  int memory_failure_user(hal::Hal& h, page* p, uint64_t pfn, int flags);
  // Logs "Memory failure: " + fmt (one %#lx for pfn, one %s for what).
  void pr_err(hal::Hal& h, const char* fmt, uint64_t pfn, const char* what);
  // Logs the outcome, counts it (not for already poisoned pages). Returns
  // 0 for Recovered/Delayed, else -EBUSY (Linux action_result).
  int action_result(hal::Hal& h, uint64_t pfn, MfPageType type, MfResult result);
  // Sets PG_hwpoison and counts HardwareCorrupted. Returns false when it was set.
  bool set_hwpoison(page* p);
  // Returns 0 for a free page, 1 with a reference on a handlable (LRU)
  // page, -EIO for a page the kernel owns (Linux get_hwpoison_page).
  int get_hwpoison_page(hal::Hal& h, page* p);
  void collect_procs(hal::Hal& h, page* p, MfKillList* list, bool force_early);
  void kill_proc(hal::Hal& h, const MfToKill& tk, uint64_t pfn, int flags);
  void kill_procs(hal::Hal& h, const MfKillList& list, bool forcekill, uint64_t pfn, int flags);
  // An action-required error on a page already poisoned: finds the entry of
  // t's page tables naming pfn and signals t. Returns -EHWPOISON when it
  // did, 0 when no entry names it, -EFAULT without an mm.
  int kill_accessing_process(hal::Hal& h, task_struct* t, uint64_t pfn, int flags);
  // Unmaps a user page (TTU_HWPOISON: hwpoison entries) and signals the
  // early-kill processes when its data is lost. Returns false when some
  // mapping stayed.
  bool hwpoison_user_mappings(hal::Hal& h, page* p, uint64_t pfn, int flags);
  // Returns the result of the error_states[] row the page matches, logged.
  int identify_page_state(hal::Hal& h, uint64_t pfn, page* p, uint64_t page_flags);
  // The rows' actions (me_*). Return the row's result.
  MfResult me_pagecache_clean(hal::Hal& h, page* p, MfPageType type);
  MfResult me_pagecache_dirty(hal::Hal& h, page* p, MfPageType type);
  MfResult me_swapcache_dirty(hal::Hal& h, page* p, MfPageType type);
  MfResult me_swapcache_clean(hal::Hal& h, page* p, MfPageType type);
  // Takes the page off its LRU list. Returns false when it was not on one.
  bool delete_from_lru_cache(hal::Hal& h, page* p);
  // Returns Failed (logged) when others than memory_failure() (and the
  // cache, with extra_pins) still hold the page, else r.
  MfResult has_extra_refcount(hal::Hal& h, page* p, MfPageType type, bool extra_pins, MfResult r);

  MmContext* ctx_ = nullptr;
  MfTasks* tasks_ = nullptr;
  uint64_t num_poisoned_pages_ = 0;
  bool hw_memory_failure_ = false;  // a real (not software-simulated) failure happened
  uint64_t scratch_pfn_ = 0;
  // memory_failure_queue's fifo (Linux MEMORY_FAILURE_FIFO_SIZE, one per
  // CPU there; one here: the firmware runs one CPU's work at a time).
  static constexpr unsigned kFifoSize = 16;
  struct QueuedPfn {
    uint64_t pfn;
    int flags;
  };
  QueuedPfn fifo_[kFifoSize];
  unsigned fifo_head_ = 0, fifo_len_ = 0;
  MemoryFailureCounters stats_;
  MemoryFailureStats node_stats_[hal::kMaxNodes];
};

}  // namespace fw
