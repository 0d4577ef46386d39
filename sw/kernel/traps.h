// Traps of user tasks (Linux arch/x86/kernel/traps.c, arch/x86/mm/fault.c,
// arch/x86/kernel/cpu/mce/core.c): traps.cpp turns a page fault, a general
// protection fault or a machine check into a retry or a signal. The
// machine-check counters live with the grading, in sw/kernel/mce.h.
#pragma once

#include <stdint.h>

#include "sw/kernel/mce.h"

namespace fw {

}  // namespace fw
