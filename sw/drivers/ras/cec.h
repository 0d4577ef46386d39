// The corrected-error collector (Linux drivers/ras/cec.c, "RAS: CEC"): it
// counts corrected memory errors per page and soft-offlines a page whose
// count reaches the action threshold, before the errors there turn
// uncorrectable. Fed by the CMCI poll (sw/kernel/mce.cpp: corrected memory
// records with a usable address, as 6.18's cec_notifier eats them); the
// kernel's timer tick ages the table every decay interval and runs the
// queued soft offlines (Linux memory_failure_queue's work); the monitor's
// `hwpoison` shows the table.
//
// As cec.c: one 4 KiB page of 512 u64 entries sorted by pfn, each packing
// the pfn (bits 63:12), a 2-bit age (11:10, set to 3 on every error) and a
// 10-bit count (9:0). A full table drops its entry of lowest age-and-count
// (the least recently and least often hit). Every 128 insertions or
// increments, and every decay interval, each age drops by one ("spring
// cleaning"). At the threshold the entry leaves the table and the pfn is
// queued for soft_offline_page(). Departures: the table is firmware state
// (not a page from the allocator); the decay interval's one-hour minimum is
// not kept (params: cec_decay_interval_ms); no "initialized" line at boot.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/compiler.h"
#include "sw/lib/observe.h"

namespace fw {

class Log;
class MemoryFailure;
class MmNodes;
struct Params;

struct CecStats {
  uint64_t ces_entered = 0;    // corrected errors entered (Linux ce_arr.ces_entered)
  uint64_t pfns_poisoned = 0;  // pages sent to soft offline at the threshold
  uint64_t decays_done = 0;    // spring cleanings
  uint64_t evicted = 0;        // entries dropped from a full table
  uint64_t offlined = 0;       // queued soft offlines that succeeded
  uint64_t offline_failed = 0; // ... that failed (the page stays in use)
  uint64_t queue_overflows = 0;  // pfns lost because the queue was full
};

class Cec {
 public:
  static constexpr unsigned kMaxElems = 512;  // PAGE_SIZE / sizeof(u64)
  static constexpr unsigned kDecayBits = 2;
  static constexpr unsigned kCountBits = 12 - kDecayBits;
  static constexpr uint64_t kCountMask = (1ull << kCountBits) - 1;
  static constexpr uint64_t kDecayMask = (1ull << kDecayBits) - 1;
  static constexpr unsigned kCleanElems = kMaxElems >> kDecayBits;  // 128
  static constexpr unsigned kQueueSize = 16;  // Linux MEMORY_FAILURE_FIFO_SIZE

  void init(Log* log, MemoryFailure* mf, MmNodes* nodes, const Params* params) {
    log_ = log, mf_ = mf, nodes_ = nodes, params_ = params;
  }
  // Boot: the collector starts (unless cec_disable), and its decay clock.
  void boot(hal::Hal& h);

  // Counts one corrected error at pfn (Linux cec_add_elem). Returns 0 when
  // it was entered (the record is handled: not printed), 1 when the page
  // reached the action threshold (queued for soft offline; the record is
  // printed), -ENODEV when the collector is off.
  int add(hal::Hal& h, uint64_t pfn);
  // Timer work: a spring cleaning once the decay interval has passed, then
  // the queued soft offlines (memory_failure_work_func).
  void tick(hal::Hal& h);
  // Ages every entry by one (Linux do_spring_cleaning).
  void spring_cleaning();

  // The table and statistics as debugfs ras/cec/array shows them.
  void show(TextSink& out) const;
  unsigned size() const { return n_; }
  // Entry i's pfn, count and age.
  uint64_t pfn_at(unsigned i) const { return array_[i] >> 12; }
  unsigned count_at(unsigned i) const { return static_cast<unsigned>(array_[i] & kCountMask); }
  unsigned decay_at(unsigned i) const { return static_cast<unsigned>((array_[i] >> kCountBits) & kDecayMask); }
  unsigned queued() const { return q_len_; }

  const CecStats& stats() const { return stats_; }
  // Every counter under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  // Returns the index of pfn, or -1 with *to where it belongs (Linux find_elem).
  int find_elem(uint64_t pfn, unsigned* to) const;
  void del_elem(unsigned idx);
  // Drops the entry of lowest age-and-count (Linux del_lru_elem_unlocked).
  void del_lru_elem();
  // Linux memory_failure_queue(pfn, MF_SOFT_OFFLINE): false when the queue is full.
  bool queue(hal::Hal& h, uint64_t pfn);
  uint64_t action_threshold() const;
  // A "RAS: CEC: ..." line at KERN_INFO when Params::trace_ras is on (--debug-flags=RAS).
  void trace(hal::Hal& h, const char* fmt, ...) const FW_PRINTF(3, 4);

  Log* log_ = nullptr;
  MemoryFailure* mf_ = nullptr;
  MmNodes* nodes_ = nullptr;
  const Params* params_ = nullptr;
  bool enabled_ = false;
  uint64_t array_[kMaxElems] = {};
  unsigned n_ = 0;
  unsigned decay_count_ = 0;  // insertions and increments since the last cleaning
  uint64_t last_decay_ns_ = 0;
  uint64_t queue_[kQueueSize] = {};
  unsigned q_head_ = 0, q_len_ = 0;
  CecStats stats_;
};

}  // namespace fw
