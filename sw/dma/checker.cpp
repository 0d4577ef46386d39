// The DMA API's report channel to the bus-side DMA checker (sw/dma/checker.h).
#include "sw/dma/checker.h"

namespace fw {

namespace {
// The channel's registers (hw/dma/dma_checker.h: DEVICE, ADDR, SIZE, CMD).
constexpr uint64_t kRegDevice = 0x00, kRegAddr = 0x08, kRegSize = 0x10, kRegCmd = 0x18;
}  // namespace

void DmaCheckerChannel::init(const hal::BootInfo& bi) {
  for (unsigned i = 0; i < bi.nr_devices; ++i)
    if (bi.devices[i].kind == hal::DeviceKind::dma_checker) base_ = bi.devices[i].mmio_base;
}

void DmaCheckerChannel::report(hal::Hal& h, const device* dev, uint64_t dma_addr, uint64_t size, uint64_t cmd) {
  if (!base_ || !size) return;
  ++reports_;
  h.mmio_write(base_ + kRegDevice, dev->id, 8);
  h.mmio_write(base_ + kRegAddr, dma_addr, 8);
  h.mmio_write(base_ + kRegSize, size, 8);
  h.mmio_write(base_ + kRegCmd, cmd, 8);
}

}  // namespace fw
