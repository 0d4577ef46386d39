// TLB maintenance, address-space switching and shootdowns (Linux
// arch/x86/mm/tlb.c).
//
// PCIDs: one per mm from a bitmap. A switch writes CR3 with NOFLUSH when
// this CPU's TLB still holds a current copy of that mm's translations: each
// mm has a TLB generation, bumped by every change that needs a flush, and
// remembers per CPU the generation that CPU's entries reflect.
//
// Shootdowns (flush_tlb_mm_range): after changing an mm's page tables the
// caller bumps its generation, flushes locally (INVLPG per page up to
// tlb_single_page_flush_ceiling, else the whole PCID) and sends
// VEC_TLB_SHOOTDOWN to every other CPU in the mm's cpumask, then spins
// (Hal::cpu_relax, which lets the others run and take the IPI) until each
// has acknowledged. Each CPU has one request slot for the flush it is
// sending; a receiving CPU serves every slot that names it, so two CPUs
// shooting at each other both make progress.
//
// Lazy TLB: idle CPUs and kernel work (kswapd, kcompactd, khugepaged) keep
// the previous mm loaded. Shootdowns skip lazy CPUs (their generation makes
// them flush when they return to that mm), except when page tables were
// freed: then a lazy CPU switches to the kernel's tables, as Linux does,
// so no paging-structure cache keeps a pointer into a freed table.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"
#include "sw/mm/mm_types.h"
#include "sw/mm/page.h"

namespace fw {

struct TlbStats {
  uint64_t cr3_writes = 0;
  uint64_t cr3_noflush = 0;       // switches that kept the TLB
  uint64_t invlpg = 0;
  uint64_t invpcid = 0;
  uint64_t full_flushes = 0;      // PCID-wide (or CR3 reload) flushes, all CPUs
  uint64_t pages_flushed = 0;     // pages invalidated by INVLPG, all CPUs
  uint64_t pcid_exhausted = 0;    // mms that got PCID 0
  uint64_t stale_reload = 0;      // lazily kept address spaces flushed when used again
  uint64_t kernel_flushes = 0;    // kernel-range flushes (vmalloc)
  uint64_t shootdowns = 0;        // flushes that had to reach other CPUs
  uint64_t shootdown_ipis = 0;    // IPIs sent for them (user and kernel ranges)
  uint64_t ipis_received = 0;     // flush requests served by a CPU for another
  uint64_t lazy_skips = 0;        // lazy CPUs a shootdown did not interrupt
  uint64_t lazy_switches = 0;     // lazy CPUs sent to the kernel's tables (tables freed, mm gone)
  uint64_t stale_requests = 0;    // requests a CPU found already covered (switched away, or flushed further)
  uint64_t timeouts = 0;          // CPUs that did not acknowledge in time
  uint64_t wait_ns = 0;           // simulated time spent waiting for acknowledgements
  uint64_t local_flush_one = 0;   // Linux nr_tlb_local_flush_one (pages)
  uint64_t local_flush_all = 0;   // Linux nr_tlb_local_flush_all
  uint64_t remote_flush = 0;      // Linux nr_tlb_remote_flush
  uint64_t remote_flush_received = 0;  // Linux nr_tlb_remote_flush_received
};

class Tlb {
 public:
  static constexpr unsigned kNrPcids = 4096;
  static constexpr uint64_t kFlushAll = ~0ull;

  void init(MmContext* ctx, bool pcide, uint64_t kernel_root);
  bool pcide() const { return pcide_; }
  uint64_t kernel_root() const { return kernel_root_; }
  void set_nr_cpus(unsigned n) { nr_cpus_ = n; }

  // A CPU comes up (or boots): load the kernel's tables.
  void cpu_init(hal::Hal& h);

  // Returns a free PCID for a new address space, or 0 (shared, flushed at
  // every switch) when PCIDs are off or used up.
  uint16_t alloc_pcid();
  void free_pcid(uint16_t pcid);

  // Loads next's tables on the calling CPU (nullptr: the kernel's), leaving
  // lazy mode.
  void switch_mm(hal::Hal& h, mm_struct* next);
  mm_struct* loaded_mm(unsigned cpu) const { return loaded_[cpu]; }
  bool is_lazy(unsigned cpu) const { return lazy_[cpu]; }
  // Kernel work or idle on the calling CPU: keep the loaded mm, lazily.
  void enter_lazy(hal::Hal& h) { lazy_[h.cpu()] = true; }
  // Back to the loaded mm after kernel work: catch up with its generation.
  void leave_lazy(hal::Hal& h);
  // Before an mm dies (no task uses it): no CPU may keep its tables in CR3.
  void drop_mm(hal::Hal& h, mm_struct* mm);

  // Translations of [start, end) of mm changed (entries of 2^stride_shift
  // bytes; freed_tables when page tables went too): bump the generation,
  // flush here and shoot down the other CPUs. end == kFlushAll: everything.
  void flush_tlb_mm_range(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, unsigned stride_shift,
                          bool freed_tables);
  void flush_tlb_mm(hal::Hal& h, mm_struct* mm) { flush_tlb_mm_range(h, mm, 0, kFlushAll, PAGE_SHIFT, false); }
  void flush_tlb_page(hal::Hal& h, mm_struct* mm, uint64_t va) { flush_tlb_mm_range(h, mm, va, va + PAGE_SIZE, PAGE_SHIFT, false); }
  // 4 KiB entries, as the foundation named it.
  void flush_range(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, bool freed_tables) {
    flush_tlb_mm_range(h, mm, start, end, PAGE_SHIFT, freed_tables);
  }
  // Kernel mappings (vmalloc) of [start, end) changed: INVLPG here (global
  // entries included) and on every other online CPU, waiting for them.
  void flush_tlb_kernel_range(hal::Hal& h, uint64_t start, uint64_t end);
  // The shootdown IPI's handler on the receiving CPU: serves every request
  // that names it. Takes no lock (it may run inside a spin-wait).
  void handle_shootdown(hal::Hal& h);

  const TlbStats& stats() const { return stats_; }
  // Its statistics under "<prefix>.", always in the same order.
  void visit_stats(StatVisitor& v, const char* prefix) const;

 private:
  struct FlushRequest {
    mm_struct* mm;  // nullptr: kernel range
    uint64_t start, end;
    uint64_t new_tlb_gen;
    uint8_t stride_shift;
    bool freed_tables;
    bool drop;         // the mm dies: leave it, whether lazy or not
    uint64_t pending;  // CPUs that have not acknowledged yet
  };

  void flush_local_all(hal::Hal& h, mm_struct* mm);
  void flush_func(hal::Hal& h, const FlushRequest& f, bool local);
  // Sends req_[me] to `targets` and waits for every acknowledgement.
  void shoot(hal::Hal& h, uint64_t targets);
  void load_kernel_tables(hal::Hal& h);

  MmContext* ctx_ = nullptr;
  bool pcide_ = false;
  uint64_t kernel_root_ = 0;
  mm_struct* loaded_[hal::kMaxCpus] = {};
  bool lazy_[hal::kMaxCpus] = {};
  FlushRequest req_[hal::kMaxCpus] = {};
  unsigned nr_cpus_ = 1;
  uint64_t pcid_map_[kNrPcids / 64] = {};
  TlbStats stats_;
};

}  // namespace fw
