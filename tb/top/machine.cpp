#include "tb/top/machine.h"

#include <fmt/format.h>

#include <cstring>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

#include "hw/base/debug.h"
#include "hw/platform/platform.h"
#include "sw/kernel/kernel.h"
#include "sw/kernel/params.h"
#include "tb/top/ras_soak.h"
#include "tb/top/storage.h"
#include "tb/workload/workload.h"

// The machine being run, for the gdb scripts (scripts/gdb/mmcosim-gdb.py:
// mm-buddyinfo, mm-ptdump, ...): found by name, read only by the debugger.
extern "C" {
fw::Kernel* mmcosim_gdb_kernel = nullptr;
hw::Platform* mmcosim_gdb_platform = nullptr;
}

namespace sim {

namespace {

Config load_scenario(const RunOptions& opts) {
  Config cfg = opts.scenario.empty() ? Config::load_string(default_scenario(), "<default scenario>")
                                     : Config::load_file(opts.scenario);
  for (const std::string& s : opts.sets) cfg.set(s);
  return cfg;
}

// A choice parameter as its word: get_enum takes the allowed words as an
// initializer list, so the table's runtime list is spelled out by length.
std::string read_choice(ConfigNode& fwc, const fw::ParamDesc& d, const std::string& desc) {
  const char* const* c = d.choices;
  size_t n = 0;
  while (c && c[n]) ++n;
  const char* def = fw::param_choice_name(d, d.def);
  if (!def) throw std::logic_error(fmt::format("firmware.{}: default outside its choices", d.key));
  switch (n) {
    case 1: return fwc.get_enum(d.key, def, {c[0]}, desc);
    case 2: return fwc.get_enum(d.key, def, {c[0], c[1]}, desc);
    case 3: return fwc.get_enum(d.key, def, {c[0], c[1], c[2]}, desc);
    case 4: return fwc.get_enum(d.key, def, {c[0], c[1], c[2], c[3]}, desc);
    case 5: return fwc.get_enum(d.key, def, {c[0], c[1], c[2], c[3], c[4]}, desc);
    case 6: return fwc.get_enum(d.key, def, {c[0], c[1], c[2], c[3], c[4], c[5]}, desc);
    case 7: return fwc.get_enum(d.key, def, {c[0], c[1], c[2], c[3], c[4], c[5], c[6]}, desc);
    case 8: return fwc.get_enum(d.key, def, {c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]}, desc);
    default: throw std::logic_error(fmt::format("firmware.{}: {} choices (1 to 8 supported)", d.key, n));
  }
}

// A word of the parameter's choices, or a size (firmware.swiotlb: auto, or 64MiB).
uint64_t read_size_or_choice(ConfigNode& fwc, const fw::ParamDesc& d, const std::string& desc) {
  std::string words;
  for (const char* const* c = d.choices; *c; ++c) words += fmt::format("{}, ", *c);
  const std::string v = fwc.get<std::string>(d.key, fw::param_choice_name(d, d.def), desc);
  const int idx = fw::param_choice_index(d, v.c_str());
  if (idx >= 0) return static_cast<uint64_t>(idx);
  uint64_t bytes = 0;
  if (!parse_size(v, bytes)) fwc.fail(d.key, fmt::format("expected {}or a size such as 64MiB, got '{}'", words, v));
  if (bytes < d.min || bytes > d.max)
    fwc.fail(d.key, fmt::format("a size must be between {} and {}", format_size(d.min), format_size(d.max)));
  return bytes;
}

// The devices workload.files may name, from the boot information.
std::vector<tb::DeviceDesc> device_list(const hal::BootInfo& boot) {
  std::vector<tb::DeviceDesc> out;
  for (unsigned i = 0; i < boot.nr_devices; ++i) {
    const hal::Device& d = boot.devices[i];
    out.push_back({std::string(d.name, strnlen(d.name, hal::kDeviceNameLen)), d.kind == hal::DeviceKind::block,
                   d.capacity, d.block_size});
  }
  return out;
}

// The firmware's DMA and swap lines follow the DMA and Swap debug flags.
bool flag_enabled(const char* name) {
  for (const debug::Flag* f : debug::all_flags())
    if (std::string(f->name()) == name) return f->enabled;
  return false;
}

}  // namespace

uint64_t read_seed(ConfigNode root) {
  return root.get<uint64_t>("seed", 1, "Seed of every random choice in the run (same seed, same scenario, same binary: same statistics)");
}

// firmware.<key> for every parameter the firmware declares (sw/kernel/params.h).
fw::Params read_firmware_params(ConfigNode fwc) {
  fw::Params p;
  for (size_t i = 0; i < fw::kParamCount; ++i) {
    const fw::ParamDesc& d = fw::kParamTable[i];
    const std::string desc = fmt::format("{} ({})", d.desc, d.unit);
    uint64_t v = 0;
    if (d.type == fw::ParamType::boolean) v = fwc.get<bool>(d.key, d.def != 0, desc) ? 1 : 0;
    else if (d.type == fw::ParamType::bytes) v = fwc.get<Size>(d.key, Size{d.def}, desc).bytes;
    else if (d.type == fw::ParamType::choice)
      v = static_cast<uint64_t>(fw::param_choice_index(d, read_choice(fwc, d, desc).c_str()));
    else if (d.type == fw::ParamType::size_or_choice)
      v = read_size_or_choice(fwc, d, desc);
    else v = fwc.get<uint64_t>(d.key, d.def, desc);
    if (!fw::param_set(p, d, v)) fwc.fail(d.key, fmt::format("must be between {} and {}", d.min, d.max));
  }
  p.trace_dma = flag_enabled("DMA");
  p.trace_swap = flag_enabled("Swap");
  p.trace_ras = flag_enabled("RAS");
  return p;
}

namespace {

// The firmware's counters under system.fw, read at dump time.
class FirmwareStats final : public hal::StatVisitor {
 public:
  FirmwareStats(stats::Emitter& out, const std::string& prefix) : out_(out), prefix_(prefix) {}
  void scalar(const char* name, uint64_t value, const char* desc, const char* unit) override {
    out_.integer(prefix_ + name, value, desc, unit);
  }

 private:
  stats::Emitter& out_;
  const std::string& prefix_;
};

}  // namespace

Machine::Machine(const RunOptions& opts) : cfg_(load_scenario(opts)) {
  ConfigNode root = cfg_.root();
  seed_ = read_seed(root);
  fw::Params params = read_firmware_params(root.child("firmware"));
  kernel_ = std::make_unique<fw::Kernel>();
  kernel_->set_params(params);
  debug_ = kernel_.get();
  platform_ = std::make_unique<hw::Platform>("system", root.child("platform"), seed_, *kernel_);
  const std::string base_dir =
      opts.scenario.empty() ? std::string() : std::filesystem::path(opts.scenario).parent_path().string();
  std::vector<std::string> dma_engines;  // what a dma_copy may name, in the firmware's order
  for (unsigned i = 0; i < platform_->nr_devices(); ++i)
    if (platform_->device(i).info().kind == "dma") dma_engines.push_back(platform_->device(i).info().name);
  workload_ = std::make_unique<tb::Workload>(root.child("workload"), seed_, platform_->nr_cpus(), base_dir,
                                             &platform_->stats_root(), dma_engines,
                                             opts.progress ? &std::cerr : nullptr, device_list(platform_->boot_info()));
  storage_ = std::make_unique<Storage>(*platform_, workload_->files(), seed_);
  // Swap areas: known by name once the platform has its devices.
  const std::vector<uint8_t> swap = prepare_swap_disks(root.child("firmware"), *platform_, workload_->files(), seed_);
  std::copy(swap.begin(), swap.end(), params.swapon_devices);
  params.nr_swapon = static_cast<uint32_t>(swap.size());
  kernel_->set_params(params);
  fw_group_ = std::make_unique<stats::Group>(&platform_->stats_root(), "fw");
  const hal::FirmwareDebug* fw = debug_;
  fw_stats_ = std::make_unique<stats::Dynamic>(fw_group_.get(), "counters",
                                               [fw](stats::Emitter& out, const std::string& prefix) {
                                                 FirmwareStats v(out, prefix);
                                                 fw->visit_stats(v);
                                               });
  bool disks = false;
  for (const tb::DeviceDesc& d : device_list(platform_->boot_info())) disks = disks || d.block;
  if (disks) {
    reclaim_group_ = std::make_unique<stats::Group>(&platform_->stats_root(), "reclaim");
    reclaimed_ = std::make_unique<stats::Gauge>(reclaim_group_.get(), "pagesReclaimed",
                                                "Pages reclaim freed (pgsteal_*)", "Count",
                                                [this] { return pages_reclaimed(); });
    reclaim_rate_ = std::make_unique<stats::Formula>(
        reclaim_group_.get(), "pagesReclaimedPerSecond", "Pages reclaim freed per simulated second of the run",
        "Count/s", [this] {
          const double s = platform_->sim_seconds();
          return s > 0 ? static_cast<double>(pages_reclaimed()) / s : 0.0;
        });
  }
  if (RasSoak::wanted(root))
    soak_ = std::make_unique<RasSoak>("soak", RasSoak::read_params(root.child("platform").child("ras").child("random")),
                                      seed_, *platform_, *debug_, &platform_->stats_root());
  cfg_.check_unused();
  mmcosim_gdb_kernel = kernel_.get();
  mmcosim_gdb_platform = platform_.get();
  if (!opts.wave.empty()) {
    try {
      platform_->set_wave(opts.wave);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(e.what());  // names --wave and the file already
    }
  }
  // Once the firmware is up, the boot CPU spawns the workload's processes.
  hw::CoreComplex& cx = platform_->complex();
  tb::Workload* wl = workload_.get();
  fw::Kernel* k = kernel_.get();
  cx.on_boot = [wl, k, &cx](hal::Hal& hal) { wl->spawn_all(hal, *k, cx); };
}

uint64_t Machine::pages_reclaimed() const {
  const uint64_t* ev = kernel_->vmstat().event;
  return ev[fw::PGSTEAL_KSWAPD] + ev[fw::PGSTEAL_DIRECT] + ev[fw::PGSTEAL_KHUGEPAGED] + ev[fw::PGSTEAL_PROACTIVE];
}

Machine::~Machine() {
  mmcosim_gdb_kernel = nullptr;
  mmcosim_gdb_platform = nullptr;
}

}  // namespace sim
