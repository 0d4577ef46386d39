// The platform's devices (`platform.devices`, DESIGN.md): the table of
// device kinds, and the reading of the list into each device's parameters
// with its slot. Slot N (the device's position in the list) gives it the
// MMIO window MemoryMap::kDeviceBase + N * kDeviceSlotSize and the
// interrupt vector x86::VEC_DEVICE_BASE + N; the last slot is the DMA
// checker's debug channel. Adding a kind is one line in kinds() (and its
// library in this folder's CMakeLists.txt).
//
// Users: hw/platform/platform.cpp.
#pragma once

#include <memory>
#include <vector>

#include "hw/base/config.h"
#include "hw/base/device.h"

namespace hw {

// Every kind a `platform.devices` entry may name.
const std::vector<const sim::DeviceKind*>& device_kinds();
const sim::DeviceKind* find_device_kind(const std::string& name);

// Reads `platform.devices`: each entry's common keys (name, kind,
// addr_bits), then its kind's. Absent: dma0 (24-bit) and dma1 (32-bit),
// read the same way and recorded as defaults.
// Throws sim::ConfigError naming the key.
std::vector<std::unique_ptr<sim::DeviceParams>> read_devices(sim::ConfigNode platform);

}  // namespace hw
