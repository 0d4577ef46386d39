// The machine of one run, assembled from a scenario: the firmware (its
// parameters from `firmware.*`), the platform (`platform.*`) and the
// workload (`workload.*`), wired together (the workload spawns its processes
// once the firmware has booted), the firmware's statistics under system.fw,
// and the configuration they resolved. This is the composition root: the one
// place outside tests that constructs the firmware (machine.cpp includes
// sw/kernel); the outputs and the monitor see it through hal::FirmwareDebug.
// Used by run.cpp.
#pragma once

#include <cstdint>
#include <memory>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "sw/hal/debug.h"
#include "tb/top/run.h"

namespace fw {
class Kernel;
struct Params;
}
namespace hw {
class Platform;
}
namespace tb {
class Workload;
}

namespace sim {

class RasSoak;
class Storage;

// The run's seed (`seed`), read first so every model derives its own from it.
uint64_t read_seed(ConfigNode root);
// `firmware.<key>` for every parameter the firmware declares
// (sw/kernel/params.h); throws ConfigError naming the key.
fw::Params read_firmware_params(ConfigNode firmware);

class Machine {
 public:
  // Loads the scenario (or the built-in default) with the --set overrides,
  // elaborates everything and rejects any key nobody read. Throws
  // ConfigError (or another exception) for bad input.
  explicit Machine(const RunOptions& opts);
  ~Machine();

  Config& config() { return cfg_; }
  uint64_t seed() const { return seed_; }
  hw::Platform& platform() { return *platform_; }
  tb::Workload& workload() { return *workload_; }
  hal::FirmwareDebug& firmware() { return *debug_; }
  // The disks' files: made before boot, checked after the run (storage.h).
  Storage& storage() { return *storage_; }
  // The random-injection soak of `platform.ras.random`, or nullptr.
  RasSoak* soak() { return soak_.get(); }
  // Pages reclaim freed so far (vmstat pgsteal_*: kswapd, direct, khugepaged, proactive).
  uint64_t pages_reclaimed() const;

 private:
  // In construction order.
  Config cfg_;
  uint64_t seed_ = 0;
  std::unique_ptr<fw::Kernel> kernel_;
  hal::FirmwareDebug* debug_ = nullptr;  // the kernel's debug interface
  std::unique_ptr<hw::Platform> platform_;
  std::unique_ptr<tb::Workload> workload_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<RasSoak> soak_;
  std::unique_ptr<stats::Group> fw_group_;
  std::unique_ptr<stats::Dynamic> fw_stats_;
  // system.reclaim: what reclaim freed and its rate (machines with disks:
  // without them nothing is reclaimable, neither page cache nor swap).
  std::unique_ptr<stats::Group> reclaim_group_;
  std::unique_ptr<stats::Gauge> reclaimed_;
  std::unique_ptr<stats::Formula> reclaim_rate_;
};

}  // namespace sim
