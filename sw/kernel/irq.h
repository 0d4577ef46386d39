// Interrupts (Linux arch/x86/kernel/irq.c, smp.c): irq.cpp handles the
// vectors the firmware uses (reschedule and TLB shootdown IPIs, the timer,
// the devices' vectors, handed to their driver)
// and counts them.
#pragma once

#include <stdint.h>

#include "sw/lib/observe.h"

namespace fw {

struct IrqStats {
  uint64_t total = 0;
  uint64_t resched = 0;
  uint64_t tlb_shootdown = 0;
  uint64_t timer = 0;
  uint64_t dma = 0;  // the DMA engines' completions
  uint64_t other = 0;

  // Every counter under "<prefix>.", always in the same order.
  void visit(StatVisitor& v, const char* prefix) const;
};

}  // namespace fw
