#include "hw/platform/devices.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "hw/block/block_device.h"
#include "hw/dma/dma_engine.h"
#include "hw/platform/memory_map.h"
#include "sw/hal/x86.h"

namespace hw {

namespace {

constexpr unsigned kAddrBits[] = {24, 32, 36, 40, 48, 64};

std::string kind_names() {
  std::string s;
  for (const sim::DeviceKind* k : device_kinds()) s += s.empty() ? k->name : fmt::format(", {}", k->name);
  return s;
}

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() < 16 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

// Slot, window, vector and boot-information entry of the device at `slot`.
sim::DeviceInfo place(const sim::DeviceKind& kind, unsigned slot, unsigned index) {
  sim::DeviceInfo info;
  info.kind = kind.name;
  info.index = index;
  info.id = slot + 1;  // the boot information lists the interrupt controller first
  info.mmio_base = MemoryMap::kDeviceBase + slot * MemoryMap::kDeviceSlotSize;
  info.mmio_size = kind.mmio_size;
  info.vector = kind.interrupts ? static_cast<uint8_t>(x86::VEC_DEVICE_BASE + slot) : 0;
  info.addr_bits = kind.default_addr_bits;
  return info;
}

// One entry: its common keys, then its kind's.
std::unique_ptr<sim::DeviceParams> read_entry(sim::ConfigNode& d, unsigned slot, std::vector<unsigned>& per_kind) {
  const std::string kind_name = d.get<std::string>("kind", "dma", fmt::format("What the device is ({})", kind_names()));
  const sim::DeviceKind* kind = find_device_kind(kind_name);
  if (!kind) d.fail("kind", fmt::format("unknown device kind '{}' ({})", kind_name, kind_names()));
  const size_t k =
      static_cast<size_t>(std::find(device_kinds().begin(), device_kinds().end(), kind) - device_kinds().begin());
  sim::DeviceInfo info = place(*kind, slot, per_kind[k]++);
  info.name =
      d.get<std::string>("name", fmt::format("{}{}", kind->name, info.index),
                         "The device's name (letters, digits, _; at most 15): /dev/<name>, statistics, monitor");
  if (!valid_name(info.name)) d.fail("name", "use at most 15 letters, digits and _");
  if (info.name == "checker") d.fail("name", "'checker' is the DMA checker's own name");
  info.addr_bits = d.get<unsigned>("addr_bits", kind->default_addr_bits,
                                   "Widest bus address the device can drive: 24, 32, 36, 40, 48 or 64 bits");
  if (std::find(std::begin(kAddrBits), std::end(kAddrBits), info.addr_bits) == std::end(kAddrBits))
    d.fail("addr_bits", "must be 24, 32, 36, 40, 48 or 64");
  return kind->read(d, info);
}

// The devices of a scenario that names none: an ISA-style 24-bit engine and
// a 32-bit PCI one, the devices ZONE_DMA and ZONE_DMA32 exist for. Read as
// given entries are, so that each of their keys is resolved and recorded.
nlohmann::ordered_json default_devices() {
  return nlohmann::ordered_json::array({{{"name", "dma0"}, {"kind", "dma"}, {"addr_bits", 24}},
                                        {{"name", "dma1"}, {"kind", "dma"}, {"addr_bits", 32}}});
}

}  // namespace

const std::vector<const sim::DeviceKind*>& device_kinds() {
  // The kinds of device the platform can build, by their `kind:` word.
  static const std::vector<const sim::DeviceKind*> kinds = {&kDmaEngineKind, &kBlockDeviceKind};
  return kinds;
}

const sim::DeviceKind* find_device_kind(const std::string& name) {
  for (const sim::DeviceKind* k : device_kinds())
    if (name == k->name) return k;
  return nullptr;
}

std::vector<std::unique_ptr<sim::DeviceParams>> read_devices(sim::ConfigNode platform) {
  std::vector<std::unique_ptr<sim::DeviceParams>> out;
  std::vector<unsigned> per_kind(device_kinds().size(), 0);
  auto list = platform.list("devices",
                            fmt::format("Devices: name, kind ({}), addr_bits and the kind's own keys "
                                        "(default: dma0, 24-bit, and dma1, 32-bit)",
                                        kind_names()),
                            default_devices());
  if (list.size() > MemoryMap::kMaxDevices)
    platform.fail("devices", fmt::format("at most {} devices", MemoryMap::kMaxDevices));
  for (unsigned slot = 0; slot < list.size(); ++slot) {
    out.push_back(read_entry(list[slot], slot, per_kind));
    for (unsigned i = 0; i < slot; ++i)
      if (out[i]->info.name == out[slot]->info.name)
        list[slot].fail("name", fmt::format("another device is already called '{}'", out[i]->info.name));
  }
  return out;
}

}  // namespace hw
