// Devices of the platform, built from `platform.devices` (DESIGN.md): every
// entry names a kind ("dma", "block"), and
// the model of that kind reads the entry's own keys and builds itself. The
// platform (hw/platform/devices.cpp) gives each device a slot: an MMIO
// window, an interrupt vector and an entry in the boot information; it
// binds what the device hands back: its registers into the window, its bus
// master through the DMA checker. A new kind is one line in the platform's
// table of kinds and its own folder; nothing else in the platform knows it
// (as VCML's model factory).
//
// Users: hw/dma (the DMA engine kind), hw/block (the disk kind), hw/platform (the table and the
// wiring), the models' tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <systemc>
#include <tlm>

#include "hw/base/config.h"
#include "hw/base/initiator.h"
#include "hw/base/stats.h"

namespace sim {

// Where a device raises its interrupts (the interrupt controller).
class IrqSink {
 public:
  // Delivers `vector` to `cpu`.
  virtual void raise_irq(unsigned cpu, uint8_t vector) = 0;

 protected:
  ~IrqSink() = default;
};

// The bus side's record of what each device may touch (the DMA checker):
// a debugger that starts a transfer by hand declares its ranges as a
// driver's mapping would.
class BusPermissions {
 public:
  virtual void allow(unsigned device_id, uint64_t base, uint64_t size) = 0;
  virtual void revoke(unsigned device_id, uint64_t base, uint64_t size) = 0;

 protected:
  ~BusPermissions() = default;
};

// What every entry of `platform.devices` has, filled in by the platform.
struct DeviceInfo {
  std::string name;         // "dma0": in statistics, the monitor, debug lines and the boot information
  std::string kind;         // "dma"
  unsigned index = 0;       // among the devices of its kind, in list order
  unsigned id = 0;          // its entry in the boot information's device table
  unsigned addr_bits = 64;  // the widest bus address it can drive
  uint64_t mmio_base = 0;   // its register window
  uint64_t mmio_size = 0;
  uint8_t vector = 0;  // its interrupt vector
  uint64_t capacity = 0;    // storage devices: bytes (the boot information's capacity)
  uint32_t block_size = 0;  // storage devices: bytes per sector
};

// A device's parameters: the common part and, in a kind's derived struct,
// its own keys. Read before elaboration (config.json lists them).
struct DeviceParams {
  DeviceInfo info;
  virtual ~DeviceParams() = default;
};

// What a kind's device is given to build itself.
struct DeviceEnv {
  stats::Group* stats_parent = nullptr;  // the kind's group ("system.dma")
  IrqSink* irq = nullptr;
  BusPermissions* permissions = nullptr;
};

// A built device, as the platform wires it.
class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;
  // Its registers, bound at info().mmio_base; nullptr when it has none.
  virtual tlm::tlm_target_socket<>* registers() = 0;
  // The socket it masters memory through (DMA), bound to the DMA checker;
  // nullptr when it masters nothing.
  virtual InitiatorSocket* bus_master() = 0;
};

// One kind of device.
struct DeviceKind {
  const char* name;            // the word of `kind:`
  const char* desc;            // for `mmcosim params`
  uint32_t boot_kind;          // its hal::DeviceKind in the boot information
  unsigned default_addr_bits;  // when the entry gives none
  uint64_t mmio_size;          // its register window (at most the platform's slot)
  bool interrupts;             // it raises interrupts (gets a vector)
  // Reads the kind's own keys of one entry (`info` is filled in already),
  // a given one or one of the default list alike. Throws ConfigError naming
  // the key.
  std::unique_ptr<DeviceParams> (*read)(ConfigNode& entry, const DeviceInfo& info);
  // Builds the device during elaboration.
  std::unique_ptr<Device> (*build)(const DeviceParams& params, const DeviceEnv& env);
};

}  // namespace sim
