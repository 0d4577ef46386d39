// Traps of user tasks (Linux arch/x86/kernel/traps.c, arch/x86/mm/fault.c,
// arch/x86/kernel/cpu/mce/core.c): traps.cpp turns a page fault, a general
// protection fault or a machine check into a retry or a signal. The
// machine-check counters live here.
#pragma once

#include <stdint.h>

#include "sw/lib/observe.h"

namespace fw {

struct MceStats {
  uint64_t total = 0;
  uint64_t action_required = 0;   // SRAR: consumed by an access
  uint64_t action_optional = 0;   // SRAO: found by a scrub
  uint64_t in_page_walk = 0;      // raised by a page-table read

  // Every counter under "<prefix>.", always in the same order.
  void visit(StatVisitor& v, const char* prefix) const;
};

}  // namespace fw
