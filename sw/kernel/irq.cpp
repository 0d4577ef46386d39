// Interrupt entry (Linux arch/x86/kernel/irq.c, smp.c): reschedule IPIs,
// TLB shootdown IPIs, the timer, CMCI (sw/kernel/mce.cpp), and the devices'
// vectors (DMA engines, disks).
#include "sw/hal/x86_mce.h"
#include "sw/kernel/kernel.h"

namespace fw {

void Kernel::interrupt(hal::Hal& h, uint8_t vector) {
  ++irq_stats_.total;
  // Handlers take no locks: they may run inside a spin-wait of this CPU.
  switch (vector) {
    case x86::VEC_RESCHEDULE:
      ++irq_stats_.resched;
      if (h.cpu() < hal::kMaxCpus) sched_.rq(h.cpu()).need_resched = true;
      break;
    case x86::VEC_TLB_SHOOTDOWN:
      // Every flush request naming this CPU (sw/mm/tlb.h).
      ++irq_stats_.tlb_shootdown;
      tlb_.handle_shootdown(h);
      break;
    case x86::VEC_TIMER:
      ++irq_stats_.timer;
      timer_tick(h);
      break;
    case x86::VEC_CMCI:
      // Corrected errors (and UCNA) reached a bank's threshold: poll the banks.
      ++irq_stats_.other;
      mce_.cmci(h);
      break;
    default:
      // The disks' interrupts count as other (each disk counts its own:
      // blk.<disk>.irqs), so a machine without disks reports what it did.
      if (dma_driver_.handle_irq(h, vector)) {
        ++irq_stats_.dma;
      } else {
        blk_driver_.handle_irq(h, vector);
        ++irq_stats_.other;
      }
      break;
  }
}

namespace {

const StatDesc<IrqStats> irq_stat_table[] = {
    {"total", &IrqStats::total, "interrupts", "count"},
    {"resched", &IrqStats::resched, "reschedule IPIs", "count"},
    {"tlb_shootdown", &IrqStats::tlb_shootdown, "TLB shootdown IPIs", "count"},
    {"timer", &IrqStats::timer, "timer interrupts", "count"},
    {"dma", &IrqStats::dma, "DMA engine interrupts", "count"},
    {"other", &IrqStats::other, "other interrupts", "count"},
};
static_assert(stat_table_size(irq_stat_table) == sizeof(IrqStats) / sizeof(uint64_t), "one entry per counter");

}  // namespace

void IrqStats::visit(StatVisitor& v, const char* prefix) const { StatEmitter(v, prefix).table(*this, irq_stat_table); }

}  // namespace fw
