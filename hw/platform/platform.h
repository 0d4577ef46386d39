// Platform assembly: builds the machine a scenario describes (DRAM per NUMA
// node, the interconnect, the interrupt controller, the devices of
// `platform.devices` behind the bus-side DMA checker, per CPU a core,
// its MMU and its page walker, and the machine-check banks and patrol
// scrubber of hw/ras), binds their sockets, and
// produces the boot information the firmware is given. Each model reads its
// own part of `platform.*` (read_platform_params() calls them in the order
// config.json lists the keys); the platform only elaborates and binds. The
// module hierarchy gives the names used in statistics and debug output:
// system.cpu0.mmu.dtlb, ...
#pragma once

#include <memory>
#include <string>
#include <systemc>
#include <vector>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/block/block_device.h"
#include "hw/bus/interconnect.h"
#include "hw/cpu/core.h"
#include "hw/dma/dma_checker.h"
#include "hw/intc/intc.h"
#include "hw/mem/dram.h"
#include "hw/mmu/mmu.h"
#include "hw/mmu/walker.h"
#include "hw/platform/devices.h"
#include "hw/platform/memory_map.h"
#include "hw/ras/ras.h"
#include "hw/rtlwalk/lockstep.h"
#include "hw/rtlwalk/rtl_walker.h"
#include "hw/rtlwalk/wave.h"
#include "sw/hal/firmware.h"

namespace hw {

// Which page walker the MMUs use (`platform.mmu.walker`).
enum class WalkerKind { tlm, rtl, lockstep };
WalkerKind walker_kind_of(const std::string& name);

// Everything `platform.*` says, read by the models the keys belong to.
struct PlatformParams {
  unsigned cores = 1;
  unsigned maxphyaddr = 46;
  unsigned levels = 4;
  uint64_t seed = 1;
  MemoryMap map;                   // platform.memory
  std::vector<uint64_t> cpu_nodes; // NUMA node of each CPU
  Interconnect::Params membus;     // platform.membus
  Mmu::Params mmu;                 // platform.mmu (the walker kind included)
  RtlWalker::Params rtl;           // platform.mmu.rtl_clock
  Core::Params core;               // platform.core
  CoreComplex::Params sim;         // platform.sim
  std::vector<std::shared_ptr<const sim::DeviceParams>> devices;  // platform.devices
  DmaChecker::Params checker;                                     // platform.dma_checker
  Ras::Params ras;                                                // platform.ras
};
// Reads `platform.*` (throws sim::ConfigError naming the key).
PlatformParams read_platform_params(sim::ConfigNode platform, uint64_t seed);

// One CPU: the core, its MMU and its walker (TLM, RTL, or both in lockstep).
class CpuNode : public sc_core::sc_module {
 public:
  CpuNode(sc_core::sc_module_name name, unsigned id, const PlatformParams& p, CoreComplex& complex,
          sim::stats::Group* stats_parent);
  // Binds every memory initiator of this CPU to the bus, numbering them from `next`.
  void bind_memory(Interconnect& bus, unsigned& next);

  sim::stats::Group stats;  // "cpuN"
  Mmu mmu;
  std::unique_ptr<PageWalker> walker;         // tlm, lockstep
  std::unique_ptr<RtlWalker> rtl_walker;      // rtl, lockstep
  std::unique_ptr<WalkRecorder> recorder;     // lockstep: the RTL walker's accesses,
  std::unique_ptr<WalkReplay> replay;         // replayed to the TLM walker
  std::unique_ptr<LockstepWalker> lockstep;
  Core core;
  unsigned id, node;

  // TLB reach per thousand user accesses (what huge pages buy).
  uint64_t user_accesses() const;
  double per_kilo(uint64_t events) const;
  sim::stats::Formula walks_pka, stlb_misses_pka, l1_misses_pka;
};

class Platform : public sc_core::sc_module, public sim::BusPermissions {
 public:
  // Reads `platform.*` from the scenario and elaborates the machine.
  Platform(sc_core::sc_module_name name, sim::ConfigNode platform, uint64_t seed, hal::Firmware& firmware);
  Platform(sc_core::sc_module_name name, const PlatformParams& params, hal::Firmware& firmware);
  ~Platform() override;

  sim::stats::Group& stats_root() { return root_; }
  CoreComplex& complex() { return complex_; }
  const hal::BootInfo& boot_info() const { return boot_; }
  const MemoryMap& memory_map() const { return p_.map; }
  unsigned nr_cpus() const { return static_cast<unsigned>(cpus_.size()); }
  CpuNode& cpu(unsigned i) { return *cpus_.at(i); }
  Dram& dram(unsigned node) { return *drams_.at(node); }
  Dram* dram_at(uint64_t pa);
  Interconnect& membus() { return *membus_; }
  InterruptController& intc() { return *intc_; }
  Ras& ras() { return *ras_; }
  unsigned nr_devices() const { return static_cast<unsigned>(devices_.size()); }
  sim::Device& device(unsigned i) { return *devices_.at(i); }
  DmaChecker& dma_checker() { return *checker_; }
  // The disk (`block` device) called name, or nullptr.
  BlockDevice* block_device(const std::string& name);
  // ---- sim::BusPermissions: the DMA checker's (built after the devices) ----
  void allow(unsigned device_id, uint64_t base, uint64_t size) override { checker_->allow(device_id, base, size); }
  void revoke(unsigned device_id, uint64_t base, uint64_t size) override { checker_->revoke(device_id, base, size); }

  WalkerKind walker_kind() const { return walker_; }
  // Records the RTL walkers into `path` (.fst or .vcd); needs the RTL walker.
  void set_wave(const std::string& path);

  // Starts the simulation (elaboration, waveform set-up) without running it
  // past time 0; run() and the monitor call it first. Idempotent.
  void start();
  // Runs until every user program has ended (or the time limit, or an
  // error). Returns the error, or "" on success.
  std::string run();
  // Flushes what must be flushed at the end (the waveform).
  void finish();
  double sim_seconds() const;

 private:
  void make_boot_info();
  void elaborate_memory();
  void elaborate_devices();
  // The statistics group of a kind of device, made on first use.
  sim::stats::Group* kind_group(const std::string& kind);
  void elaborate_cpus(hal::Firmware& firmware);
  void elaborate_ras();

  PlatformParams p_;
  sim::stats::Group root_;  // "system"
  hal::BootInfo boot_{};
  CoreComplex complex_;
  std::unique_ptr<Interconnect> membus_;
  std::unique_ptr<sim::stats::Group> mem_group_;  // "mem": one child per node
  std::vector<std::unique_ptr<Dram>> drams_;
  std::unique_ptr<InterruptController> intc_;
  // One group per kind of device ("dma": its engines, then the checker).
  std::vector<std::unique_ptr<sim::stats::Group>> kind_groups_;
  std::unique_ptr<DmaChecker> checker_;
  std::vector<std::unique_ptr<sim::Device>> devices_;
  std::vector<std::unique_ptr<CpuNode>> cpus_;
  std::unique_ptr<Ras> ras_;  // after the CPUs: its statistics follow theirs
  WalkerKind walker_ = WalkerKind::tlm;
  std::unique_ptr<WaveFile> wave_;
  bool started_ = false;
};

}  // namespace hw
