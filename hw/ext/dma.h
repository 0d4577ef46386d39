// Extensions on a device's memory transactions (DMA): what the bus-side DMA
// checker (hw/dma/dma_checker.h) found. A device that wants to report the
// checker's findings in its status attaches its own DmaCheckExtension
// (cleared) to each transaction; the checker sets `violation` when the
// access lies outside every range the DMA API has mapped for the device.
// The access itself goes on (the checker observes, as the kernel's
// dma-debug does; it does not stand in the way like an IOMMU).
#pragma once

#include <cstdint>
#include <tlm>

namespace hw {

class DmaCheckExtension : public tlm::tlm_extension<DmaCheckExtension> {
 public:
  bool violation = false;

  void clear() { violation = false; }
  tlm::tlm_extension_base* clone() const override { return new DmaCheckExtension(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const DmaCheckExtension&>(other);
  }
};

}  // namespace hw
