// TLB maintenance and address-space switching (Linux arch/x86/mm/tlb.c, in
// the foundation's shape): one PCID per mm from a bitmap; a switch writes
// CR3 with NOFLUSH when this CPU's TLB still holds a current copy of that
// mm's translations (per-CPU TLB generations); ranges are flushed with
// INVLPG per page up to a ceiling, else with a full flush of the PCID.
// Flushes act on the calling CPU; other CPUs catch up on their next switch
// through the generation. Shootdown IPIs to CPUs with the mm loaded: issue 6.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"

namespace fw {

struct TlbStats {
  uint64_t cr3_writes = 0;
  uint64_t cr3_noflush = 0;       // switches that kept the TLB
  uint64_t invlpg = 0;
  uint64_t invpcid = 0;
  uint64_t full_flushes = 0;      // PCID-wide (or CR3 reload) flushes
  uint64_t pages_flushed = 0;     // pages invalidated by INVLPG
  uint64_t pcid_exhausted = 0;    // mms that got PCID 0
  uint64_t stale_reload = 0;      // lazily kept address spaces flushed when used again
  uint64_t kernel_flushes = 0;    // kernel-range flushes (vmalloc)
  uint64_t shootdown_ipis = 0;    // sent for kernel-range flushes
};

class Tlb {
 public:
  static constexpr unsigned kNrPcids = 4096;

  void init(MmContext* ctx, bool pcide, uint64_t kernel_root);
  bool pcide() const { return pcide_; }
  uint64_t kernel_root() const { return kernel_root_; }

  // A CPU comes up (or boots): load the kernel's tables.
  void cpu_init(hal::Hal& h);

  uint16_t alloc_pcid();
  void free_pcid(uint16_t pcid);

  // Loads next's tables on the calling CPU; nullptr loads the kernel's.
  void switch_mm(hal::Hal& h, mm_struct* next);
  mm_struct* loaded_mm(unsigned cpu) const { return loaded_[cpu]; }
  // Before an mm dies: no CPU may keep its tables in CR3.
  void drop_mm(hal::Hal& h, mm_struct* mm);

  // After PTEs of [start, end) were cleared (and tables freed when
  // freed_tables): invalidate them.
  void flush_range(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, bool freed_tables);
  // Kernel mappings (vmalloc) of [start, end) changed: INVLPG here (global
  // entries included), and a shootdown IPI to every other online CPU, whose
  // handler flushes everything (no wait for acknowledgement: issue 6).
  void flush_tlb_kernel_range(hal::Hal& h, uint64_t start, uint64_t end);
  // The shootdown IPI's handler on the receiving CPU.
  void handle_shootdown(hal::Hal& h);

  // The calling CPU went idle keeping its address space loaded (lazy TLB).
  void enter_lazy(hal::Hal& h) { lazy_[h.cpu()] = true; }
  // mm is loaded, not lazily, on a CPU other than `cpu`: its TLB may be in
  // use right now.
  bool mm_active_elsewhere(const mm_struct* mm, unsigned cpu) const;
  void set_nr_cpus(unsigned n) { nr_cpus_ = n; }

  const TlbStats& stats() const { return stats_; }

 private:
  void flush_local_all(hal::Hal& h, mm_struct* mm);

  MmContext* ctx_ = nullptr;
  bool pcide_ = false;
  uint64_t kernel_root_ = 0;
  mm_struct* loaded_[hal::kMaxCpus] = {};
  bool lazy_[hal::kMaxCpus] = {};
  bool kernel_flush_pending_[hal::kMaxCpus] = {};
  unsigned nr_cpus_ = 1;
  uint64_t pcid_map_[kNrPcids / 64] = {};
  TlbStats stats_;
};

}  // namespace fw
