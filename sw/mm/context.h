// The memory manager's shared context: the per-Kernel "globals" every mm
// subsystem reaches (there is no global mutable state in the firmware, so
// several Kernels can live in one process). The Kernel fills it in.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"

namespace fw {

class Log;
class Memblock;
class MmNodes;
class Buddy;
class PgTable;
class Tlb;
class ObjCache;
class Memory;
class Mmap;
struct Params;
struct VmStat;

struct MmContext {
  Log* log = nullptr;
  const Params* params = nullptr;
  const hal::BootInfo* boot = nullptr;
  Memblock* memblock = nullptr;
  MmNodes* nodes = nullptr;
  Buddy* buddy = nullptr;
  PgTable* pgtable = nullptr;
  Tlb* tlb = nullptr;
  ObjCache* mm_cache = nullptr;
  ObjCache* vma_cache = nullptr;
  Memory* memory = nullptr;
  Mmap* mmap = nullptr;
  VmStat* vmstat = nullptr;
  uint64_t charged_ns = 0;  // all firmware time charged, for statistics

  // Charges simulated time for firmware work on the calling CPU.
  void charge(hal::Hal& h, uint64_t ns) {
    if (!ns) return;
    charged_ns += ns;
    h.charge_ns(ns);
  }
};

}  // namespace fw
