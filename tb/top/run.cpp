#include "tb/top/run.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <ostream>

#include <fmt/format.h>
#include <systemc>

#include "hw/platform/platform.h"
#include "hw/base/config.h"
#include "hw/base/debug.h"
#include "tb/top/monitor.h"
#include "tb/top/progress.h"
#include "hw/base/stats.h"
#include "sw/kernel/kernel.h"
#include "sw/kernel/params.h"
#include "tb/workload/workload.h"

namespace sim {

namespace fs = std::filesystem;

namespace {

// The run's seed, read first so every model derives its own from it.
uint64_t read_seed(ConfigNode root) {
  return root.get<uint64_t>("seed", 1, "Seed of every random choice in the run (same seed, same scenario, same binary: same statistics)");
}

// firmware.<key> for every parameter the firmware declares.
fw::Params read_firmware_params(ConfigNode fwc) {
  fw::Params p;
  // A choice parameter as its word: get_enum takes the allowed words as an
  // initializer list, so the table's runtime list is spelled out by length.
  auto choice = [&](const fw::ParamDesc& d, const std::string& desc) -> std::string {
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
  };
  for (size_t i = 0; i < fw::kParamCount; ++i) {
    const fw::ParamDesc& d = fw::kParamTable[i];
    const std::string desc = fmt::format("{} ({})", d.desc, d.unit);
    uint64_t v = 0;
    if (d.type == fw::ParamType::boolean) v = fwc.get<bool>(d.key, d.def != 0, desc) ? 1 : 0;
    else if (d.type == fw::ParamType::bytes) v = fwc.get<Size>(d.key, Size{d.def}, desc).bytes;
    else if (d.type == fw::ParamType::choice) v = static_cast<uint64_t>(fw::param_choice_index(d, choice(d, desc).c_str()));
    else v = fwc.get<uint64_t>(d.key, d.def, desc);
    if (!fw::param_set(p, d, v)) fwc.fail(d.key, fmt::format("must be between {} and {}", d.min, d.max));
  }
  return p;
}

// The firmware's counters under system.fw, read at dump time.
class FirmwareStats final : public fw::StatVisitor {
 public:
  FirmwareStats(stats::Emitter& out, const std::string& prefix) : out_(out), prefix_(prefix) {}
  void scalar(const char* name, uint64_t value, const char* desc, const char* unit) override {
    out_.integer(prefix_ + name, value, desc, unit);
  }

 private:
  stats::Emitter& out_;
  const std::string& prefix_;
};

class FileSink final : public fw::TextSink {
 public:
  explicit FileSink(std::ostream& os) : os_(os) {}
  void write(const char* text, size_t len) override { os_.write(text, static_cast<std::streamsize>(len)); }

 private:
  std::ostream& os_;
};

Config load(const RunOptions& opts) {
  Config cfg = opts.scenario.empty() ? Config::load_string(default_scenario(), "<default scenario>")
                                     : Config::load_file(opts.scenario);
  for (const std::string& s : opts.sets) cfg.set(s);
  return cfg;
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.4g} {}", v, units[u]);
}


// Everything one run elaborates, in construction order.
struct Machine {
  Config cfg;
  uint64_t seed = 0;
  std::unique_ptr<fw::Kernel> kernel;
  std::unique_ptr<hw::Platform> platform;
  std::unique_ptr<tb::Workload> workload;
  std::unique_ptr<stats::Group> fw_group;
  std::unique_ptr<stats::Dynamic> fw_stats;

  explicit Machine(const RunOptions& opts) : cfg(load(opts)) {
    ConfigNode root = cfg.root();
    seed = read_seed(root);
    const fw::Params params = read_firmware_params(root.child("firmware"));
    kernel = std::make_unique<fw::Kernel>();
    kernel->set_params(params);
    platform = std::make_unique<hw::Platform>("system", root.child("platform"), seed, *kernel);
    const std::string base_dir =
        opts.scenario.empty() ? std::string() : fs::path(opts.scenario).parent_path().string();
    workload = std::make_unique<tb::Workload>(root.child("workload"), seed, platform->nr_cpus(), base_dir,
                                              &platform->stats_root());
    fw_group = std::make_unique<stats::Group>(&platform->stats_root(), "fw");
    fw::Kernel* k = kernel.get();
    fw_stats = std::make_unique<stats::Dynamic>(fw_group.get(), "counters",
                                                [k](stats::Emitter& out, const std::string& prefix) {
                                                  FirmwareStats v(out, prefix);
                                                  k->visit_stats(v);
                                                });
    cfg.check_unused();
    if (!opts.wave.empty()) platform->set_wave(opts.wave);
  }
};

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream os(p);
  if (!os) throw std::runtime_error(fmt::format("{}: cannot write", p.string()));
  os << text;
}

}  // namespace

int run_scenario(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  const auto host_start = std::chrono::steady_clock::now();
  std::unique_ptr<Machine> m;
  try {
    if (!opts.debug_flags.empty()) {
      const std::string unknown = debug::enable(opts.debug_flags);
      if (!unknown.empty()) {
        err << fmt::format("mmcosim: --debug-flags: unknown flag '{}' (mmcosim debug-flags lists them)\n", unknown);
        return 2;
      }
    }
    m = std::make_unique<Machine>(opts);
  } catch (const ConfigError& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    err << "mmcosim: " << (opts.scenario.empty() ? "<default scenario>" : opts.scenario) << ": " << e.what() << '\n';
    return 2;
  }

  const fs::path outdir(opts.outdir);
  std::error_code ec;
  fs::create_directories(outdir / "proc", ec);
  if (ec) {
    err << fmt::format("mmcosim: {}: cannot create the output directory: {}\n", outdir.string(), ec.message());
    return 2;
  }

  std::ofstream console(outdir / "console.log");
  hw::Platform& pf = *m->platform;
  hw::CoreComplex& cx = pf.complex();
  cx.console = [&console](unsigned cpu, const char* text, size_t len) {
    console.write(text, static_cast<std::streamsize>(len));
    if (debug::Firmware.enabled) {
      std::string line(text, len);
      while (!line.empty() && line.back() == '\n') line.pop_back();
      debug::print(static_cast<uint64_t>(sc_core::sc_time_stamp() / sc_core::sc_time(1, sc_core::SC_PS)),
                   fmt::format("system.cpu{}.console", cpu).c_str(), "{}", line);
    }
  };
  tb::Workload* wl = m->workload.get();
  fw::Kernel* kernel = m->kernel.get();
  cx.on_boot = [wl, kernel, &cx](hal::Hal& hal) { wl->spawn_all(hal, *kernel, cx); };

  const bool monitored = opts.interactive || !opts.script.empty();
  std::unique_ptr<Progress> progress;
  if (opts.progress && !monitored) progress = std::make_unique<Progress>("progress", cx, err);

  std::string error;
  try {
    write_file(outdir / "config.json", m->cfg.resolved().dump(2) + "\n");
    if (monitored) {
      std::ifstream script;
      if (!opts.script.empty()) {
        script.open(opts.script);
        if (!script) throw std::runtime_error(fmt::format("{}: cannot open the command script", opts.script));
      }
      Monitor monitor(pf, *kernel, *wl, opts.script.empty() ? std::cin : script, out, !opts.script.empty());
      error = monitor.run();
    } else {
      error = pf.run();
    }
  } catch (const std::exception& e) {
    error = e.what();
  }
  try {
    pf.finish();
  } catch (const std::exception& e) {
    if (error.empty()) error = e.what();
  }
  if (error.empty()) error = wl->check_outcomes();
  const double host_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_start).count();

  // Outputs are written even for a failed run: they show how far it got.
  try {
    stats::write_text(pf.stats_root(), (outdir / "stats.txt").string(), pf.sim_seconds());
    stats::write_json(pf.stats_root(), (outdir / "stats.json").string(), pf.sim_seconds());
    for (const char* name : {"meminfo", "buddyinfo", "zoneinfo", "pagetypeinfo", "vmstat", "slabinfo"}) {
      std::ofstream os(outdir / "proc" / name);
      FileSink sink(os);
      if (!kernel->proc_show(name, sink)) {
        os.close();
        fs::remove(outdir / "proc" / name, ec);
      }
    }
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 1;
  }

  if (!opts.quiet) {
    out << fmt::format("mmcosim: {}\n", opts.scenario.empty() ? "default scenario (built in)" : opts.scenario);
    out << fmt::format("  machine: {} CPU{}, {} of DRAM in {} node{}, seed {}\n", pf.nr_cpus(), pf.nr_cpus() > 1 ? "s" : "",
                       human_size(pf.memory_map().total_dram()), pf.memory_map().nodes.size(),
                       pf.memory_map().nodes.size() > 1 ? "s" : "", m->seed);
    for (const std::string& line : wl->summary()) out << "  " << line << '\n';
    uint64_t accesses = 0, walks = 0, faults = 0, misses = 0, stlb_misses = 0;
    for (unsigned c = 0; c < pf.nr_cpus(); ++c) {
      hw::CpuNode& cpu = pf.cpu(c);
      accesses += cpu.user_accesses();
      walks += cpu.mmu.stats.walks.value();
      faults += cpu.core.stats.page_faults.value();
      misses += cpu.mmu.itlb().stats.misses.value() + cpu.mmu.dtlb().stats.misses.value();
      stlb_misses += cpu.mmu.stlb() ? cpu.mmu.stlb()->stats.misses.value() : 0;
    }
    const double k = accesses ? 1000.0 / static_cast<double>(accesses) : 0.0;
    out << fmt::format("  {} user accesses, {} L1 TLB misses, {} walks, {} page faults\n", accesses, misses, walks,
                       faults);
    out << fmt::format("  per 1000 accesses: {:.3f} L1 TLB misses, {:.3f} STLB misses, {:.3f} walks\n", misses * k,
                       stlb_misses * k, walks * k);
    if (pf.walker_kind() == hw::WalkerKind::lockstep) {
      // Both walkers ran every walk: their host speeds side by side.
      uint64_t compared = 0, mismatches = 0;
      double tlm_s = 0, rtl_s = 0;
      for (unsigned c = 0; c < pf.nr_cpus(); ++c) {
        const hw::LockstepWalker& l = *pf.cpu(c).lockstep;
        compared += l.stats.compared.value();
        mismatches += l.stats.mismatches.value();
        tlm_s += l.tlm_host_seconds();
        rtl_s += l.rtl_host_seconds();
      }
      out << fmt::format("  lockstep: {} walks compared, {} mismatches; TLM walker {:.0f} walks/s, RTL walker {:.0f} walks/s (host)\n",
                         compared, mismatches, tlm_s > 0 ? compared / tlm_s : 0.0, rtl_s > 0 ? compared / rtl_s : 0.0);
    }
    out << fmt::format("  simulated {:.6f} s in {:.2f} s of host time ({:.2f} M accesses/s, {:.0f} walks/s)\n",
                       pf.sim_seconds(), host_seconds, host_seconds > 0 ? accesses / host_seconds / 1e6 : 0.0,
                       host_seconds > 0 ? walks / host_seconds : 0.0);
    out << fmt::format("  outputs: {}/{{stats.txt, stats.json, config.json, console.log, proc/}}\n", outdir.string());
    if (!opts.wave.empty()) out << fmt::format("  waveform: {}\n", opts.wave);
  }
  if (!error.empty()) {
    // One line per problem.
    size_t start = 0;
    while (start < error.size()) {
      size_t nl = error.find('\n', start);
      if (nl == std::string::npos) nl = error.size();
      err << "mmcosim: error: " << error.substr(start, nl - start) << '\n';
      start = nl + 1;
    }
    return 1;
  }
  return 0;
}

int list_params(const RunOptions& opts, std::ostream& out, std::ostream& err) {
  try {
    Machine m(opts);
    for (const ParamRecord& p : m.cfg.params())
      out << fmt::format("{:<46} {:<14} {:<10} {}{}\n", p.path, p.value, p.type, p.desc, p.from_scenario ? " [set]" : "");
    return 0;
  } catch (const std::exception& e) {
    err << "mmcosim: " << e.what() << '\n';
    return 2;
  }
}

}  // namespace sim
