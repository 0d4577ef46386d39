// A host machine with DMA devices for the firmware's DMA API tests and
// benchmark: the host HAL's boot information plus a 24-bit (dma0) and a
// 32-bit (dma1) DMA engine (the host HAL has no engines behind them: the
// API's side only).
#pragma once

#include <cstdio>
#include <cstring>
#include <string>

#include "sw/dma/dma.h"
#include "sw/mm/mmzone.h"
#include "sw/mm/page_alloc.h"
#include "tb/sw/mm/fw_rig.h"

namespace fwtest {

inline hal::BootInfo boot_with_devices(uint64_t mem) {
  hosthal::MachineSpec spec;
  spec.mem_bytes = mem;
  hal::BootInfo bi = hosthal::make_boot_info(spec);
  const unsigned bits[] = {24, 32};
  for (unsigned i = 0; i < 2; ++i) {
    hal::Device& d = bi.devices[bi.nr_devices++];
    // Not a block device: no capacity, no block size.
    d = hal::Device{hal::DeviceKind::dma, i, 0xfed00000ull + i * 0x1000, 0x1000, 0x40u + i, bits[i], {}, 0, 0};
    std::snprintf(d.name, sizeof d.name, "dma%u", i);
  }
  return bi;
}

inline fw::Params dma_params(uint64_t swiotlb = fw::SWIOTLB_AUTO) {
  fw::Params p = quiet_params();
  p.swiotlb = swiotlb;
  p.dma_debug_num_errors = 100;
  return p;
}

struct DmaRig : Rig {
  explicit DmaRig(uint64_t mem = 8 * GiB, uint64_t swiotlb = fw::SWIOTLB_AUTO)
      : Rig(boot_with_devices(mem), dma_params(swiotlb)) {}
  fw::device* dev(const char* name) { return k->dma().find_device(name); }
  uint64_t stat(const std::string& name) {
    StatMap s;
    k->visit_stats(s);
    return s.at(name);
  }
  // An order-0 page from the given zone modifier, filled with `fill`.
  fw::page* page_with(fw::gfp_t gfp, uint8_t fill) {
    fw::page* p = k->page_alloc().alloc_pages(cpu(), gfp, 0);
    EXPECT_NE(p, nullptr);
    std::memset(k->nodes().page_address(p), fill, PAGE_SIZE);
    return p;
  }
  uint64_t phys(fw::page* p) { return k->nodes().page_to_phys(p); }
  uint8_t* at(uint64_t pa) { return m->raw(pa, 1); }
};

}  // namespace fwtest
