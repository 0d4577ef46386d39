#include "sw/mm/tlb.h"

#include "sw/kernel/params.h"
#include "sw/lib/bitops.h"
#include "sw/lib/printk.h"

namespace fw {

void Tlb::init(MmContext* ctx, bool pcide, uint64_t kernel_root) {
  ctx_ = ctx;
  pcide_ = pcide;
  kernel_root_ = kernel_root;
  set_bit(0, pcid_map_);  // PCID 0: the kernel's tables and mms without a PCID
}

void Tlb::cpu_init(hal::Hal& h) {
  loaded_[h.cpu()] = nullptr;
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

void Tlb::switch_mm(hal::Hal& h, mm_struct* next) {
  const unsigned cpu = h.cpu();
  mm_struct* prev = loaded_[cpu];
  lazy_[cpu] = false;
  if (prev == next) {
    // Kept loaded while idle: translations may have changed meanwhile
    // (migration of its pages elsewhere).
    if (next && next->cpu_tlb_gen[cpu] != next->tlb_gen) {
      ++stats_.stale_reload;
      flush_local_all(h, next);
      next->cpu_tlb_gen[cpu] = next->tlb_gen;
    }
    return;
  }
  uint64_t cr3;
  if (!next) {
    // The kernel's tables hold only global kernel mappings: keep the TLB.
    cr3 = kernel_root_ | (pcide_ ? x86::CR3_NOFLUSH : 0);
  } else {
    cr3 = next->pgd;
    if (pcide_) {
      cr3 |= next->pcid;
      if (next->pcid && next->cpu_tlb_gen[cpu] == next->tlb_gen) {
        cr3 |= x86::CR3_NOFLUSH;  // this CPU's entries for the PCID are current
        ++stats_.cr3_noflush;
      }
    }
    next->cpu_tlb_gen[cpu] = next->tlb_gen;
    next->cpu_mask |= 1ull << cpu;
  }
  if (prev) prev->cpu_mask &= ~(1ull << cpu);
  loaded_[cpu] = next;
  h.write_cr3(cr3);
  ++stats_.cr3_writes;
}

void Tlb::drop_mm(hal::Hal& h, mm_struct* mm) {
  if (mm->cpu_mask & (1ull << h.cpu())) switch_mm(h, nullptr);
  // Another CPU still running on these tables would need an IPI (issue 6);
  // in the foundation a process only ever runs on its own CPU.
  FW_BUG_ON(*ctx_->log, h, mm->cpu_mask != 0);
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

void Tlb::flush_range(hal::Hal& h, mm_struct* mm, uint64_t start, uint64_t end, bool freed_tables) {
  // Every CPU that last synced this mm's PCID now holds stale entries.
  ++mm->tlb_gen;
  const unsigned cpu = h.cpu();
  if (loaded_[cpu] != mm) return;  // caught up at the next switch (no NOFLUSH)
  const uint64_t nr = (end - start) >> x86::PAGE_SHIFT;
  if (nr > ctx_->params->tlb_single_page_flush_ceiling) {
    flush_local_all(h, mm);
  } else {
    // INVLPG also drops every paging-structure-cache entry of the current
    // PCID, which covers freed tables.
    for (uint64_t va = start; va < end; va += x86::PAGE_SIZE) {
      h.invlpg(va);
      ++stats_.invlpg;
      ++stats_.pages_flushed;
    }
    if (nr == 0 && freed_tables) {
      h.invlpg(start);
      ++stats_.invlpg;
    }
  }
  mm->cpu_tlb_gen[cpu] = mm->tlb_gen;
}

}  // namespace fw

namespace fw {

bool Tlb::mm_active_elsewhere(const mm_struct* mm, unsigned cpu) const {
  if (!mm) return false;
  for (unsigned c = 0; c < nr_cpus_ && c < hal::kMaxCpus; ++c)
    if (c != cpu && loaded_[c] == mm && !lazy_[c]) return true;
  return false;
}

void Tlb::flush_tlb_kernel_range(hal::Hal& h, uint64_t start, uint64_t end) {
  ++stats_.kernel_flushes;
  const uint64_t nr = (end - start) >> x86::PAGE_SHIFT;
  if (nr > ctx_->params->tlb_single_page_flush_ceiling) {
    h.invpcid(x86::InvpcidType::all_contexts_global, 0, 0);
    ++stats_.invpcid;
    ++stats_.full_flushes;
  } else {
    for (uint64_t va = start; va < end; va += x86::PAGE_SIZE) {
      h.invlpg(va);
      ++stats_.invlpg;
      ++stats_.pages_flushed;
    }
  }
  for (unsigned c = 0; c < nr_cpus_ && c < hal::kMaxCpus; ++c) {
    if (c == h.cpu()) continue;
    kernel_flush_pending_[c] = true;
    h.send_ipi(c, x86::VEC_TLB_SHOOTDOWN);
    ++stats_.shootdown_ipis;
  }
}

void Tlb::handle_shootdown(hal::Hal& h) {
  const unsigned cpu = h.cpu();
  if (kernel_flush_pending_[cpu]) {
    kernel_flush_pending_[cpu] = false;
    h.invpcid(x86::InvpcidType::all_contexts_global, 0, 0);
    ++stats_.invpcid;
    ++stats_.full_flushes;
  }
  if (mm_struct* mm = loaded_[cpu]) flush_range(h, mm, 0, ~0ull << x86::PAGE_SHIFT, true);
}

}  // namespace fw
