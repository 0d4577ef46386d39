// The physical memory layout of a machine, built from the scenario: DRAM per
// NUMA node (PC-style, with the MMIO hole below 4 GiB), the boot memory map
// (e820) the firmware is given, and MMIO windows for devices. Pure data and
// checks, no SystemC: unit-testable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/base/config.h"
#include "sw/hal/hal.h"

namespace hw {

struct MemoryMap {
  struct Range {
    uint64_t base, size;
    uint64_t end() const { return base + size; }
  };
  struct Node {
    uint64_t span_start = 0, span_end = 0;  // physical span [start, end), holes included
    uint64_t dram_bytes = 0;
    std::vector<Range> dram;                // the parts of the span that are DRAM
    uint64_t read_latency_ps = 0, write_latency_ps = 0;
  };
  std::vector<Node> nodes;
  std::vector<std::vector<unsigned>> distance;  // SLIT
  std::vector<hal::E820Entry> e820;
  uint64_t image_base = 0, image_size = 0;      // firmware image (e820 reserved)
  uint64_t hole_start = 0, hole_end = 0;        // MMIO hole (0, 0 when none)

  // MMIO windows of devices (in the hole): the interrupt controller's, and
  // 16 slots of 4 KiB from kDeviceBase: one per entry of platform.devices
  // (hw/platform/devices.h), the last for the DMA checker's debug channel.
  static constexpr uint64_t kIntcBase = 0xfee00000;
  static constexpr uint64_t kDeviceBase = 0xfed00000;
  static constexpr uint64_t kDeviceSlotSize = 0x1000;
  static constexpr unsigned kDeviceSlots = 16;
  static constexpr unsigned kMaxDevices = kDeviceSlots - 1;
  static constexpr uint64_t kCheckerBase = kDeviceBase + kMaxDevices * kDeviceSlotSize;

  uint64_t total_dram() const;
  // The node whose span holds pa, or -1.
  int node_of(uint64_t pa) const;
  bool is_dram(uint64_t pa, uint64_t len) const;
};

// Reads `platform.memory` and builds the layout; throws sim::ConfigError
// (naming the key) on an inconsistent or overlapping map.
MemoryMap build_memory_map(sim::ConfigNode memory, unsigned maxphyaddr);

const char* e820_type_name(hal::E820Type t);

}  // namespace hw
