// Reads an MMU's parameters from the scenario (`platform.mmu.*`; every key,
// its default and its meaning: docs/mmu.md), the walker kind included; the
// RTL walker reads its own key there (rtl_clock: RtlWalker::read_params, with
// the RTL walker only).
// The defaults are Mmu::Params().
#pragma once

#include "hw/mmu/mmu.h"
#include "hw/base/config.h"

namespace hw {

// `seed` is the run's seed (random replacement derives per-core seeds from it).
Mmu::Params read_mmu_params(sim::ConfigNode mmu, unsigned maxphyaddr, unsigned levels, uint64_t seed = 1);

// The parameters of one core's MMU: the platform's, tagged with the core.
inline Mmu::Params mmu_params_for_cpu(Mmu::Params p, unsigned cpu) {
  p.cpu = cpu;
  return p;
}

}  // namespace hw
