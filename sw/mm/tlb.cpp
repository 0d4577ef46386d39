#include "sw/mm/tlb.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"
#include "sw/mm/vmstat.h"

namespace fw {

void Tlb::init(MmContext* ctx, bool pcide, uint64_t kernel_root) {
  ctx_ = ctx;
  pcide_ = pcide;
  kernel_root_ = kernel_root;
  set_bit(0, pcid_map_);  // PCID 0: the kernel's tables and mms without a PCID
}

void Tlb::cpu_init(hal::Hal& h) {
  loaded_[h.cpu()] = nullptr;
  lazy_[h.cpu()] = false;
  h.write_cr3(kernel_root_);
  ++stats_.cr3_writes;
}

uint16_t Tlb::alloc_pcid() {
  if (!pcide_) return 0;
  const unsigned i = find_next_zero_bit(pcid_map_, kNrPcids, 1);
  if (i >= kNrPcids) {
    ++stats_.pcid_exhausted;  // runs without a PCID of its own: every switch flushes
    return 0;
  }
  set_bit(i, pcid_map_);
  return static_cast<uint16_t>(i);
}

void Tlb::free_pcid(uint16_t pcid) {
  if (pcid) clear_bit(pcid, pcid_map_);
}

void Tlb::load_kernel_tables(hal::Hal& h) {
  const unsigned cpu = h.cpu();
  if (mm_struct* prev = loaded_[cpu]) prev->cpu_mask &= ~(1ull << cpu);
  loaded_[cpu] = nullptr;
  // The kernel's tables hold only global kernel mappings: keep the TLB.
  h.write_cr3(kernel_root_ | (pcide_ ? x86::CR3_NOFLUSH : 0));
  ++stats_.cr3_writes;
}

void Tlb::switch_mm(hal::Hal& h, mm_struct* next) {
  const unsigned cpu = h.cpu();
  mm_struct* prev = loaded_[cpu];
  lazy_[cpu] = false;
  if (prev == next) {
    // Kept loaded while lazy: translations may have changed meanwhile.
    if (next && next->cpu_tlb_gen[cpu] != next->tlb_gen) {
      ++stats_.stale_reload;
      flush_local_all(h, next);
      next->cpu_tlb_gen[cpu] = next->tlb_gen;
    }
    return;
  }
  if (!next) {
    load_kernel_tables(h);
    return;
  }
  // Joining the cpumask before reading the generation: a flush that bumps
  // it from now on also sends this CPU an IPI.
  next->cpu_mask |= 1ull << cpu;
  uint64_t cr3 = next->pgd;
  if (pcide_) {
    cr3 |= next->pcid;
    if (next->pcid && next->cpu_tlb_gen[cpu] == next->tlb_gen) {
      cr3 |= x86::CR3_NOFLUSH;  // this CPU's entries for the PCID are current
      ++stats_.cr3_noflush;
    }
  }
  next->cpu_tlb_gen[cpu] = next->tlb_gen;
  if (prev) prev->cpu_mask &= ~(1ull << cpu);
  loaded_[cpu] = next;
  h.write_cr3(cr3);
  ++stats_.cr3_writes;
}

void Tlb::leave_lazy(hal::Hal& h) {
  const unsigned cpu = h.cpu();
  if (!lazy_[cpu]) return;
  lazy_[cpu] = false;
  mm_struct* mm = loaded_[cpu];
  if (mm && mm->cpu_tlb_gen[cpu] != mm->tlb_gen) {
    ++stats_.stale_reload;
    flush_local_all(h, mm);
    mm->cpu_tlb_gen[cpu] = mm->tlb_gen;
  }
}

void Tlb::drop_mm(hal::Hal& h, mm_struct* mm) {
  const unsigned me = h.cpu();
  if (loaded_[me] == mm) load_kernel_tables(h);
  // CPUs that still have it loaded are lazy (no task of the mm is left):
  // they must leave the tables before these are freed.
  const uint64_t others = mm->cpu_mask & ~(1ull << me);
  if (others) {
    ++mm->tlb_gen;
    FlushRequest& f = req_[me];
    f.mm = mm;
    f.start = 0;
    f.end = kFlushAll;
    f.stride_shift = 12;
    f.freed_tables = true;
    f.drop = true;
    f.new_tlb_gen = mm->tlb_gen;
    shoot(h, others);
  }
  if (mm->cpu_mask) {
    ctx_->log->printk(h, LOGLEVEL_ERR, "tlb: mm %lu still loaded on CPUs %#lx at teardown",
                      static_cast<unsigned long>(mm->id), static_cast<unsigned long>(mm->cpu_mask));
    for (unsigned c = 0; c < hal::kMaxCpus; ++c)
      if (loaded_[c] == mm) loaded_[c] = nullptr;
    mm->cpu_mask = 0;
  }
}

void Tlb::flush_local_all(hal::Hal& h, mm_struct* mm) {
  ++stats_.full_flushes;
  if (pcide_ && mm->pcid) {
    h.invpcid(x86::InvpcidType::single_context, mm->pcid, 0);
    ++stats_.invpcid;
  } else {
    // Reloading CR3 (without NOFLUSH) drops the non-global entries.
    h.write_cr3(mm->pgd | (pcide_ ? mm->pcid : 0));
    ++stats_.cr3_writes;
  }
}

void Tlb::flush_func(hal::Hal& h, const FlushRequest& f, bool local) {
  const unsigned cpu = h.cpu();
  if (!local) {
    ++stats_.remote_flush_received;
    ctx_->vmstat->count(NR_TLB_REMOTE_FLUSH_RECEIVED);
    ctx_->charge(h, ctx_->params->cost_tlb_flush_ipi_ns);
  }
  if (!f.mm) {
    // Kernel range: global entries, whatever PCID is loaded.
    const uint64_t nr = (f.end - f.start) >> x86::PAGE_SHIFT;
    if (f.end == kFlushAll || nr > ctx_->params->tlb_single_page_flush_ceiling) {
      h.invpcid(x86::InvpcidType::all_contexts_global, 0, 0);
      ++stats_.invpcid;
      ++stats_.full_flushes;
    } else {
      for (uint64_t va = f.start; va < f.end; va += x86::PAGE_SIZE) {
        h.invlpg(va);
        ++stats_.invlpg;
        ++stats_.pages_flushed;
      }
    }
    return;
  }
  mm_struct* mm = f.mm;
  if (loaded_[cpu] != mm) {
    ++stats_.stale_requests;  // switched away since: its generation catches it up
    return;
  }
  if (f.drop) {
    // No task of the mm is left (this CPU's ended and has not rescheduled yet).
    ++stats_.lazy_switches;
    load_kernel_tables(h);
    return;
  }
  if (lazy_[cpu]) {
    if (f.freed_tables) {
      ++stats_.lazy_switches;
      load_kernel_tables(h);
    }
    return;
  }
  const uint64_t local_gen = mm->cpu_tlb_gen[cpu];
  const uint64_t mm_gen = mm->tlb_gen;
  if (local_gen >= f.new_tlb_gen) {
    ++stats_.stale_requests;  // an earlier full flush already covered it
    return;
  }
  const uint64_t stride = 1ull << f.stride_shift;
  const uint64_t nr = f.end == kFlushAll ? ~0ull : (f.end - f.start + stride - 1) >> f.stride_shift;
  // Only this change is pending: flush just its pages. Otherwise (several
  // changes, or a large range) the whole PCID, catching up completely.
  if (f.end != kFlushAll && f.new_tlb_gen == local_gen + 1 && f.new_tlb_gen == mm_gen &&
      nr <= ctx_->params->tlb_single_page_flush_ceiling) {
    // INVLPG also drops every paging-structure-cache entry of the current
    // PCID, which covers freed tables.
    uint64_t n = 0;
    for (uint64_t va = f.start; va < f.end; va += stride, ++n) {
      h.invlpg(va);
      ++stats_.invlpg;
    }
    if (n == 0 && f.freed_tables) {
      h.invlpg(f.start);
      ++stats_.invlpg;
    }
    stats_.pages_flushed += n;
    if (local) {
      stats_.local_flush_one += n;
      ctx_->vmstat->count(NR_TLB_LOCAL_FLUSH_ONE, n);
    }
    mm->cpu_tlb_gen[cpu] = f.new_tlb_gen;
  } else {
    flush_local_all(h, mm);
    if (local) {
      ++stats_.local_flush_all;
      ctx_->vmstat->count(NR_TLB_LOCAL_FLUSH_ALL);
    }
    mm->cpu_tlb_gen[cpu] = mm_gen;
  }
}

void Tlb::shoot(hal::Hal& h, uint64_t targets) {
  const unsigned me = h.cpu();
  FlushRequest& f = req_[me];
  f.pending = targets;
  ++stats_.shootdowns;
  ++stats_.remote_flush;
  ctx_->vmstat->count(NR_TLB_REMOTE_FLUSH);
  for (unsigned c = 0; c < nr_cpus_ && c < hal::kMaxCpus; ++c) {
    if (!(targets & (1ull << c))) continue;
    h.send_ipi(c, x86::VEC_TLB_SHOOTDOWN);
    ++stats_.shootdown_ipis;
  }
  // Wait for every acknowledgement. cpu_relax lets the others run (and
  // serves IPIs sent to this CPU meanwhile, so mutual shootdowns finish).
  const uint64_t start = h.now_ns();
  const uint64_t timeout = ctx_->params->tlb_shootdown_timeout_us * 1000;
  while (__atomic_load_n(&f.pending, __ATOMIC_ACQUIRE)) {
    h.cpu_relax();
    if (h.now_ns() - start > timeout && f.pending) {
      // Linux would report a CSD lock-up and keep waiting; a stuck CPU here
      // (one that left the simulation) must not hang it.
      const uint64_t stuck = f.pending;
      ctx_->log->printk(h, LOGLEVEL_ERR, "tlb: shootdown from CPU%u not acknowledged by CPUs %#lx after %lu us", me,
                        static_cast<unsigned long>(stuck), static_cast<unsigned long>(ctx_->params->tlb_shootdown_timeout_us));
      for (unsigned c = 0; c < hal::kMaxCpus; ++c)
        if (stuck & (1ull << c)) ++stats_.timeouts;
      f.pending = 0;
    }
  }
  stats_.wait_ns += h.now_ns() - start;
}

void Tlb::flush_tlb_mm_range(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, unsigned stride_shift,
                             bool freed_tables) {
  if (!mm) return;
  const unsigned me = h.cpu();
  // Every CPU that last synced this mm's PCID now holds stale entries.
  ++mm->tlb_gen;
  FlushRequest& f = req_[me];
  f.mm = mm;
  f.start = end == kFlushAll ? 0 : start;
  f.end = end;
  f.stride_shift = static_cast<uint8_t>(stride_shift);
  f.freed_tables = freed_tables;
  f.drop = false;
  f.new_tlb_gen = mm->tlb_gen;
  f.pending = 0;
  if (loaded_[me] == mm) flush_func(h, f, true);
  // The other CPUs that have it loaded: running ones always, lazy ones
  // only when tables were freed.
  uint64_t targets = 0;
  for (unsigned c = 0; c < nr_cpus_ && c < hal::kMaxCpus; ++c) {
    if (c == me || !(mm->cpu_mask & (1ull << c))) continue;
    if (lazy_[c] && !freed_tables) {
      ++stats_.lazy_skips;
      continue;
    }
    targets |= 1ull << c;
  }
  if (targets) shoot(h, targets);
}

void Tlb::flush_tlb_kernel_range(hal::Hal& h, uint64_t start, uint64_t end) {
  ++stats_.kernel_flushes;
  const unsigned me = h.cpu();
  FlushRequest& f = req_[me];
  f.mm = nullptr;
  f.start = start;
  f.end = end;
  f.stride_shift = 12;
  f.freed_tables = false;
  f.drop = false;
  f.new_tlb_gen = 0;
  f.pending = 0;
  flush_func(h, f, true);
  uint64_t targets = 0;
  for (unsigned c = 0; c < nr_cpus_ && c < hal::kMaxCpus; ++c)
    if (c != me) targets |= 1ull << c;
  if (targets) shoot(h, targets);
}

void Tlb::handle_shootdown(hal::Hal& h) {
  const unsigned me = h.cpu();
  const uint64_t bit = 1ull << me;
  for (unsigned s = 0; s < nr_cpus_ && s < hal::kMaxCpus; ++s) {
    FlushRequest& f = req_[s];
    if (!(f.pending & bit)) continue;
    ++stats_.ipis_received;
    flush_func(h, f, false);
    __atomic_fetch_and(&f.pending, ~bit, __ATOMIC_RELEASE);
  }
}

// ---------------------------------------------------------------- statistics

namespace {

const StatDesc<TlbStats> tlb_stat_table[] = {
    {"cr3_writes", &TlbStats::cr3_writes, "CR3 writes", "count"},
    {"cr3_noflush", &TlbStats::cr3_noflush, "address-space switches that kept the TLB (PCID, NOFLUSH)", "count"},
    {"invlpg", &TlbStats::invlpg, "INVLPG instructions", "count"},
    {"invpcid", &TlbStats::invpcid, "INVPCID instructions", "count"},
    {"full_flushes", &TlbStats::full_flushes, "flushes of a whole address space", "count"},
    {"pages_flushed", &TlbStats::pages_flushed, "pages invalidated one by one", "count"},
    {"pcid_exhausted", &TlbStats::pcid_exhausted, "address spaces created without a PCID of their own", "count"},
    {"stale_reload", &TlbStats::stale_reload, "lazily kept address spaces flushed when used again", "count"},
    {"kernel_flushes", &TlbStats::kernel_flushes, "kernel-range (vmalloc) flushes", "count"},
    {"shootdowns", &TlbStats::shootdowns, "flushes that had to reach other CPUs (IPIs sent, acknowledgements awaited)", "count"},
    {"shootdown_ipis", &TlbStats::shootdown_ipis, "TLB shootdown IPIs sent (user and kernel ranges)", "count"},
    {"ipis_received", &TlbStats::ipis_received, "flush requests served for another CPU", "count"},
    {"lazy_skips", &TlbStats::lazy_skips, "lazy CPUs a shootdown did not interrupt (they flush when they return)", "count"},
    {"lazy_switches", &TlbStats::lazy_switches, "lazy CPUs sent to the kernel's tables (page tables freed, mm gone)", "count"},
    {"stale_requests", &TlbStats::stale_requests, "flush requests a CPU found already covered", "count"},
    {"timeouts", &TlbStats::timeouts, "CPUs that did not acknowledge a shootdown in time", "count"},
    {"wait_ns", &TlbStats::wait_ns, "simulated time spent waiting for shootdown acknowledgements", "ns"},
    {"local_flush_one", &TlbStats::local_flush_one, "pages flushed one by one by the CPU that changed them", "pages"},
    {"local_flush_all", &TlbStats::local_flush_all, "full local flushes by the CPU that changed the tables", "count"},
};
// remote_flush and remote_flush_received are shown as vmstat events (nr_tlb_remote_flush*), not here.
static_assert(stat_table_size(tlb_stat_table) == sizeof(TlbStats) / sizeof(uint64_t) - 2, "one entry per counter");

}  // namespace

void Tlb::visit_stats(StatVisitor& v, const char* prefix) const {
  const StatEmitter e(v, prefix);
  e.table(stats_, tlb_stat_table);
}

}  // namespace fw
