// The DMA subsystem of the firmware (Linux kernel/dma/): the state the DMA
// API (sw/dma/mapping.h) works on — the swiotlb pool, dma-debug's table,
// the report channel to the bus-side checker —, one struct device per
// device of the boot information that masters memory, and the API's
// counters. The files split as Linux's: mapping.cpp (the API), direct.cpp
// (dma-direct), swiotlb.cpp, debug.cpp, checker.cpp, scatterlist.cpp, and
// dma.cpp (this state).
//
// Tracing: with `--debug-flags=DMA` the simulator sets Params::trace_dma,
// and every map, unmap, bounce and coherent allocation is logged ("dma:
// ..." lines at KERN_INFO, so they reach console.log).
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sw/dma/checker.h"
#include "sw/dma/debug.h"
#include "sw/dma/device.h"
#include "sw/dma/mapping.h"
#include "sw/dma/swiotlb.h"
#include "sw/hal/hal.h"
#include "sw/lib/compiler.h"
#include "sw/lib/observe.h"
#include "sw/mm/context.h"

namespace fw {

class Memblock;
struct seq_file;

struct DmaStats {
  uint64_t map_page = 0;  // single buffers and pages mapped
  uint64_t unmap_page = 0;
  uint64_t map_sg = 0;  // scatter-gather lists mapped
  uint64_t map_sg_entries = 0;
  uint64_t unmap_sg = 0;
  uint64_t map_errors = 0;    // mappings that failed (DMA_MAPPING_ERROR)
  uint64_t overflow = 0;      // ... because the device could not reach the buffer or its bounce buffer
  uint64_t bounced_maps = 0;  // mappings served by swiotlb
  uint64_t sync_for_cpu = 0;
  uint64_t sync_for_device = 0;
  uint64_t alloc_coherent = 0;  // coherent buffers handed out
  uint64_t alloc_coherent_failed = 0;
  uint64_t alloc_coherent_retries = 0;  // pages out of reach, tried again in a lower zone
  uint64_t free_coherent = 0;
  uint64_t mask_rejected = 0;  // dma_set_mask calls answered -EIO
};

// Warning sites of the DMA API that print once per boot (dev_WARN_ONCE).
enum DmaWarnSite : unsigned { WARN_DIRECT_OVERFLOW, WARN_SWIOTLB_OVERFLOW, WARN_SWIOTLB_OVERFLOW_MAP, NR_DMA_WARN };

class Dma {
 public:
  static constexpr unsigned kMaxDevices = hal::kMaxDevices;

  void init(MmContext* ctx);
  // Boot, after CMA, while memblock allocates: the swiotlb pool.
  bool boot_early(hal::Hal& h, Memblock& mb) { return swiotlb_.boot(h, mb); }
  // Boot, once the page allocator works: a struct device for every device
  // of the boot information that masters memory (its masks at Linux's
  // default of 32 bits until its driver sets them), the checker channel,
  // and swiotlb's boot message.
  void boot(hal::Hal& h);

  // The device called name (dev_name), nullptr when none.
  device* find_device(const char* name);
  unsigned nr_devices() const { return nr_devices_; }
  device* device_at(unsigned i) { return i < nr_devices_ ? &devices_[i] : nullptr; }

  MmContext* ctx() const { return ctx_; }
  Swiotlb& swiotlb() { return swiotlb_; }
  const Swiotlb& swiotlb() const { return swiotlb_; }
  DmaDebug& debug() { return debug_; }
  const DmaDebug& debug() const { return debug_; }
  DmaCheckerChannel& checker() { return checker_; }
  DmaStats& stats() { return stats_; }
  const DmaStats& stats() const { return stats_; }

  // True the first time a warning site fires (dev_WARN_ONCE).
  bool warn_once(DmaWarnSite site);
  // A dev_WARN: the WARNING line, then "<driver> <device>: <message>".
  void dev_warn(hal::Hal& h, const device* dev, const char* file, const char* func, const char* fmt, ...)
      FW_PRINTF(6, 7);
  // Both: "WARNING: CPU: n at kernel/dma/<file>: <func>", then
  // "<prefix><driver> <device>: <message>".
  void vwarn(hal::Hal& h, const device* dev, const char* file, const char* func, const char* prefix, const char* fmt,
             va_list ap);
  // A trace line when tracing is on (Params::trace_dma).
  void trace(hal::Hal& h, const char* fmt, ...) FW_PRINTF(3, 4);
  bool tracing() const;

  // dma.*, swiotlb.*, dma_debug.*
  void visit_stats(StatVisitor& v) const;

 private:
  MmContext* ctx_ = nullptr;
  Swiotlb swiotlb_;
  DmaDebug debug_;
  DmaCheckerChannel checker_;
  device devices_[kMaxDevices] = {};
  unsigned nr_devices_ = 0;
  bool warned_[NR_DMA_WARN] = {};
  DmaStats stats_;
};

// /proc/swiotlb (sw/fs/proc's table): debugfs' swiotlb/ files.
void swiotlb_proc_show(seq_file* m, const MmContext& ctx);

}  // namespace fw
