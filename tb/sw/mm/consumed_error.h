// The machine-check record of an uncorrected error a user load consumed,
// as the memory-manager tests hand it to Kernel::machine_check (a host HAL
// has no banks: the firmware completes it as SRAR, data load).
#pragma once

#include <stdint.h>

#include "sw/hal/firmware.h"

namespace fwtest {

inline hal::MachineCheck consumed(uint64_t pa, uint64_t va) {
  hal::MachineCheck mc{};
  mc.pa = pa;
  mc.va = va;
  mc.va_valid = true;
  mc.action_required = true;
  return mc;
}

}  // namespace fwtest
