// The firmware's debug interface: what observers outside the firmware (the
// simulator's outputs and monitor, tests) may read of it, the way a debugger
// reads a kernel through /proc, dmesg and its page tables rather than through
// its data structures. The firmware implements it; nothing outside sw/ needs
// a firmware header to inspect a running machine.
//
// Plain interfaces, no allocation: strings passed to a visitor or sink are
// only valid during the call.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sw/hal/hal.h"

namespace hal {

// Receives the firmware's scalar statistics, always in the same order.
struct StatVisitor {
  // name: relative to the firmware's statistics root (the simulator prefixes
  // "system.fw."), dotted, e.g. "vmstat.pgfault".
  virtual void scalar(const char* name, uint64_t value, const char* desc, const char* unit) = 0;

 protected:
  ~StatVisitor() = default;
};

// Receives Linux-format text (a /proc file, the kernel log).
struct TextSink {
  virtual void write(const char* text, size_t len) = 0;

 protected:
  ~TextSink() = default;
};

// One task, as `ps` shows it.
struct TaskInfo {
  int pid;
  int tgid;            // the thread group (process) it belongs to
  unsigned cpu;        // the CPU it runs on or last ran on
  bool running;        // currently on its CPU
  char comm[16];       // its name, NUL-terminated
};

// Receives tasks, in pid order.
struct TaskVisitor {
  virtual void task(const TaskInfo& t) = 0;

 protected:
  ~TaskVisitor() = default;
};

// The result of looking a virtual address up in a process's page tables.
struct Translation {
  bool present;        // a leaf maps the address
  unsigned level;      // leaf level (1: 4 KiB, 2: 2 MiB, 3: 1 GiB), or where the walk stopped
  uint64_t entry;      // the leaf, or the non-present entry found
  paddr_t entry_pa;    // where that entry lives
};

// One page as Linux's /proc/kpageflags and /proc/kpagecount show it (the
// testbench's view of a page's state: the RAS soak's page classification
// and its memory-failure oracle, tb/top/ras_soak).
struct PageInfo {
  // Bits of `kpageflags`: Linux's KPF_* numbers
  // (include/uapi/linux/kernel-page-flags.h and the kernel-internal ones
  // of include/linux/kernel-page-flags.h).
  enum : unsigned {
    kDirty = 4, kLru = 5, kSlab = 7, kWriteback = 8, kBuddy = 10, kMmap = 11, kAnon = 12, kSwapCache = 13,
    kSwapBacked = 14, kCompoundHead = 15, kCompoundTail = 16, kHuge = 17, kUnevictable = 18, kHwpoison = 19,
    kThp = 22, kPgtable = 26, kReserved = 32, kMlocked = 33,
  };
  uint64_t kpageflags;
  int refcount;        // kpagecount's companion: the head page's reference count
  int mapcount;        // kpagecount: mappings of this page (PTEs, or a THP's PMD)
  bool free;           // in a free block of the buddy allocator or on a per-CPU free list
  bool file;           // a regular file's page-cache page (KPF_ANON clear, not shared memory)
  bool folio_hwpoison; // its compound page is marked as a whole (a hugetlb folio's head PG_hwpoison)
  bool hugetlb_spare;  // a hugetlb page's pool has a free page no mapping is promised (one may be dissolved)
  bool has(unsigned kpf) const { return (kpageflags >> kpf) & 1; }
};

// Sees every memory_failure() call (the RAS soak's oracle): its page at
// entry, before anything changed, and the outcome it logged ("recovery
// action for TYPE: RESULT", 6.18's action_page_types[] and action_name[]).
// Called on the CPU running memory_failure(), through `cpu`.
struct MemoryFailureObserver {
  virtual void memory_failure_entry(Hal& cpu, uint64_t pfn, int flags) = 0;
  virtual void memory_failure_result(Hal& cpu, uint64_t pfn, const char* type, const char* result) = 0;

 protected:
  ~MemoryFailureObserver() = default;
};

class FirmwareDebug {
 public:
  // The system-wide /proc files the firmware provides ("meminfo",
  // "buddyinfo", ...), in the order the simulator writes them to proc/.
  // Returns nullptr past the last one.
  virtual const char* proc_file(unsigned index) const = 0;
  // Writes /proc/<name> in Linux's format; name is a system-wide file or
  // "<pid>/<file>" (e.g. "1/maps"). Returns false for an unknown name or pid.
  virtual bool proc_show(const char* name, TextSink& out) const = 0;
  // The kernel log (dmesg), oldest line first.
  virtual void dmesg(TextSink& out) const = 0;
  // Every statistic, always in the same order.
  virtual void visit_stats(StatVisitor& v) const = 0;
  // Every task, in pid order.
  virtual void visit_tasks(TaskVisitor& v) const = 0;
  // The physical address of pid's top-level page table (pid 0: the
  // kernel's). Returns false for an unknown pid.
  virtual bool page_table_root(int pid, paddr_t& root) const = 0;
  // Looks va up in pid's page tables (pid 0: the kernel's), reading them
  // through `cpu`. Returns true when a leaf maps va.
  virtual bool translate(Hal& cpu, int pid, vaddr_t va, Translation& out) = 0;
  // util-linux fincore of a file (a workload.files name): its pages in the
  // page cache, dirty and under writeback. Returns false when no file has
  // that name.
  virtual bool fincore(const char* file, TextSink& out) const = 0;
  // The state of the page at pfn: flags, counts, and for a page-cache page
  // its file and index. Returns false for a pfn outside the memory map.
  virtual bool page_state(uint64_t pfn, TextSink& out) const = 0;
  // Memory failure as the monitor's `hwpoison` shows it: num_poisoned_pages,
  // each node's memory_failure totals, the corrected-error collector's table.
  virtual void hwpoison_show(TextSink& out) const = 0;
  // Linux's debugfs hwpoison/unpoison-pfn: unpoison_memory(pfn), run through
  // `cpu`. Returns 0 or -errno (-EOPNOTSUPP once a hardware failure happened,
  // -EBUSY for a page that is not software-poisoned or still in use).
  virtual int unpoison_pfn(Hal& cpu, uint64_t pfn) = 0;
  // The page at pfn as /proc/kpageflags, /proc/kpagecount show it (no lock
  // taken, nothing changed: callable from any context). Returns false for
  // a pfn outside the memory map.
  virtual bool page_info(uint64_t pfn, PageInfo& out) const = 0;
  // Returns true when a page-table entry mapping the page at pfn has its
  // Dirty bit set (a reverse-map walk under the firmware's locks: call it
  // from the firmware's own context, e.g. a MemoryFailureObserver).
  virtual bool page_pte_dirty(Hal& cpu, uint64_t pfn) = 0;
  // Linux's debugfs hwpoison/corrupt-pfn (hwpoison-inject): software
  // injection, memory_failure(pfn, MF_SW_SIMULATED) without a poisoned
  // line, run by the next deferred work of a CPU (memory_failure_queue).
  // Returns false when that queue is full (nothing queued).
  virtual bool corrupt_pfn(Hal& cpu, uint64_t pfn) = 0;
  // Every memory_failure() call from now on is shown to `o` (nullptr: none).
  virtual void set_memory_failure_observer(MemoryFailureObserver* o) = 0;

 protected:
  ~FirmwareDebug() = default;
};

}  // namespace hal
