// The part of Linux's struct device (include/linux/device.h) the DMA API
// uses: a device's name and driver (dev_name, dev_driver_string), its DMA
// masks and bus limit, its NUMA node, and the DMA API state serving it (the
// swiotlb pool, dma-debug's table, the checker channel: fw::Dma). The DMA
// subsystem (sw/dma/dma.h) makes one per device of the boot information
// that masters memory; drivers (sw/drivers) find theirs by name.
#pragma once

#include <stdint.h>

#include "sw/hal/hal.h"

namespace fw {

class Dma;

struct device {
  char name[hal::kDeviceNameLen];  // dev_name(): "dma0"
  const char* driver;              // dev_driver_string(): the bound driver's name ("" when none)
  unsigned id;                     // its entry in the boot information (the checker's channel names it so)
  unsigned addr_bits;              // what the hardware can drive, from the boot information
  uint64_t* dma_mask;              // dev->dma_mask: points at dma_mask_storage
  uint64_t dma_mask_storage;
  uint64_t coherent_dma_mask;
  uint64_t bus_dma_limit;  // 0: no limit beyond the masks
  int numa_node;
  bool dma_uses_io_tlb;  // a mapping of it ever bounced
  Dma* dma;              // the DMA API state serving it
};

inline const char* dev_name(const device* dev) { return dev ? dev->name : "NULL"; }
inline const char* dev_driver_string(const device* dev) {
  return dev && dev->driver && dev->driver[0] ? dev->driver : "";
}

}  // namespace fw
