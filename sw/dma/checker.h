// The DMA API's report to the bus-side DMA checker (hw/dma/dma_checker.h):
// every range it maps for a device, and every range it unmaps, written to
// the checker's MMIO debug channel, which the boot information lists as a
// device of kind dma_checker. mmcosim's own hardware, with no Linux
// counterpart: the checker keeps on the bus side the table dma-debug keeps
// in the kernel, and flags any device access outside it.
//
// Users: the DMA API (sw/dma/mapping.cpp, direct.cpp).
#pragma once

#include <stdint.h>

#include "sw/dma/device.h"
#include "sw/hal/hal.h"

namespace fw {

class DmaCheckerChannel {
 public:
  // The channel's window from the boot information (none: reports go nowhere).
  void init(const hal::BootInfo& bi);
  bool present() const { return base_ != 0; }

  void map(hal::Hal& h, const device* dev, uint64_t dma_addr, uint64_t size) { report(h, dev, dma_addr, size, 1); }
  void unmap(hal::Hal& h, const device* dev, uint64_t dma_addr, uint64_t size) { report(h, dev, dma_addr, size, 2); }
  uint64_t reports() const { return reports_; }

 private:
  void report(hal::Hal& h, const device* dev, uint64_t dma_addr, uint64_t size, uint64_t cmd);
  uint64_t base_ = 0;
  uint64_t reports_ = 0;
};

}  // namespace fw
