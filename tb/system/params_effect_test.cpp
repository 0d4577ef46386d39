// Every key `mmcosim params` lists changes what the run is given: for each
// key of a scenario's parameter list, each other value tried is either
// rejected as bad input or changes the resolved machine (the platform's
// parameters, the firmware's parameters, the workload's processes and
// operations). A key that is accepted and changes nothing is the defect
// this catches (as platform.memory.write_latency once did beside
// node_latency). Firmware parameters are also checked to be read by the
// firmware, not only stored (sw/kernel/params.h names each field).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "hw/base/config.h"
#include "hw/base/stats.h"
#include "hw/dma/dma_engine.h"
#include "hw/platform/platform.h"
#include "sw/kernel/params.h"
#include "tb/top/machine.h"
#include "tb/top/run.h"
#include "tb/workload/workload.h"

namespace tb {
namespace {

using sim::Config;
using sim::ConfigError;

std::string ps(const sc_core::sc_time& t) { return std::to_string(t.value()); }

std::string describe_tlbs(const char* name, const std::vector<hw::TlbArray::Geometry>& arrays) {
  std::string out = fmt::format("{}:", name);
  for (const auto& g : arrays) {
    out += fmt::format(" {}={}x{}/{}/", g.name, g.sets, g.ways, static_cast<int>(g.replacement));
    for (unsigned s : g.sizes) out += std::to_string(s);
  }
  return out + "\n";
}

// Every field of the resolved platform parameters, as text.
std::string describe(const hw::PlatformParams& p) {
  std::string out = fmt::format("cores={} maxphyaddr={} levels={} seed={} cpu_nodes={}\n", p.cores, p.maxphyaddr,
                                p.levels, p.seed, fmt::join(p.cpu_nodes, ","));
  const hw::MemoryMap& m = p.map;
  for (const auto& n : m.nodes) {
    out += fmt::format("node {}-{} dram={} lat={}/{}:", n.span_start, n.span_end, n.dram_bytes, n.read_latency_ps,
                       n.write_latency_ps);
    for (const auto& r : n.dram) out += fmt::format(" {}+{}", r.base, r.size);
    out += "\n";
  }
  for (const auto& row : m.distance) out += fmt::format("distance {}\n", fmt::join(row, ","));
  for (const auto& e : m.e820) out += fmt::format("e820 {}+{} {}\n", e.addr, e.size, static_cast<int>(e.type));
  out += fmt::format("image={}+{} hole={}-{} membus={}\n", m.image_base, m.image_size, m.hole_start, m.hole_end,
                     ps(p.membus.latency));
  const hw::Mmu::Params& u = p.mmu;
  out += describe_tlbs("itlb", u.itlb) + describe_tlbs("dtlb", u.dtlb) + describe_tlbs("stlb", u.stlb);
  out += fmt::format("pwc {} {} {}:", u.pwc.enabled, ps(u.pwc.latency), u.pwc.invlpg_all_pcids);
  for (const auto& g : u.pwc.level) out += fmt::format(" {}x{}/{}", g.sets, g.ways, static_cast<int>(g.replacement));
  out += fmt::format("\nwindow={}/{} mmu={} {} {} {} {} {} {} {} {}\n", u.window.slots, u.window.lookahead,
                     u.maxphyaddr, u.levels, ps(u.hit_latency), ps(u.miss_latency), ps(u.stlb_latency),
                     ps(u.access_latency), u.walker, u.seed, u.cpu);
  out += fmt::format("rtl {} {} {} {} {} {}\n", ps(p.rtl.clock_period), p.rtl.bus_id, p.rtl.reset_cycles,
                     p.rtl.max_cycles_per_walk, p.rtl.stall_percent, p.rtl.stall_seed);
  out += fmt::format("core {} {} {} {} {} {} {} {} {}\n", p.core.id, p.core.node, ps(p.core.timer_period),
                     ps(p.core.trap_latency), p.core.copy_bytes_per_ns, ps(p.core.relax_period), p.core.intc_base,
                     p.core.max_fault_retries, p.core.fast_loop);
  out += fmt::format("mmu.direct_walk {}\n", u.direct_walk);
  out += fmt::format("sim {} {}\n", ps(p.sim.quantum), ps(p.sim.max_time));
  for (const auto& d : p.devices) {
    const sim::DeviceInfo& i = d->info;
    out += fmt::format("device {} {} {} {:#x} {:#x} {}", i.name, i.kind, i.addr_bits, i.mmio_base, i.mmio_size, i.vector);
    if (const auto* e = dynamic_cast<const hw::DmaEngine::Params*>(d.get()))
      out += fmt::format(" dma {} {} {}", e->burst, e->bandwidth, ps(e->setup));
    out += "\n";
  }
  out += fmt::format("dma_checker {} {:#x}\n", p.checker.expect_violations, p.checker.mmio_base);
  out += fmt::format("ras {} {} {} {}", ps(p.ras.scrub_period), p.ras.scrub_cmci, p.ras.cmci_threshold, p.ras.signal_cpu);
  for (const auto& i : p.ras.inject) out += fmt::format(" inject {:#x} {} {}", i.pa, i.uc, ps(i.at));
  out += "\n";
  return out;
}

std::string describe(const fw::Params& p) {
  std::string out;
  for (size_t i = 0; i < fw::kParamCount; ++i)
    out += fmt::format("firmware.{}={}\n", fw::kParamTable[i].key, fw::param_get(p, fw::kParamTable[i]));
  return out;
}

// A scenario resolved as Machine resolves it (same readers, same order),
// without elaborating it.
struct Resolved {
  std::string text;
  std::vector<sim::ParamRecord> params;
};

Resolved resolve(const std::string& scenario, const std::vector<std::string>& sets) {
  Config cfg = Config::load_string(scenario, "<scenario>");
  for (const std::string& s : sets) cfg.set(s);
  sim::ConfigNode root = cfg.root();
  const uint64_t seed = sim::read_seed(root);
  const fw::Params fp = sim::read_firmware_params(root.child("firmware"));
  const hw::PlatformParams pp = hw::read_platform_params(root.child("platform"), seed);
  sim::stats::Group stats(nullptr, "system");
  const Workload wl(root.child("workload"), seed, pp.cores, "", &stats);
  cfg.check_unused();
  return {describe(pp) + describe(fp) + wl.describe(), cfg.params()};
}

// Other values to try for a key, by its type and current value.
std::vector<std::string> alternatives(const sim::ParamRecord& r) {
  std::vector<std::string> alt;
  uint64_t v = 0;
  if (r.type == "bool") return {r.value == "true" ? "false" : "true"};
  if ((r.type == "uint" || r.type == "int") && sim::parse_uint(r.value, v)) {
    for (uint64_t w : {v + 1, v * 2, v / 2, v - 1, uint64_t{0}, uint64_t{1}, uint64_t{64}}) alt.push_back(std::to_string(w));
  } else if (r.type == "real") {
    const double d = std::stod(r.value);
    for (double w : {d * 2, d / 2, 0.5, 0.25}) alt.push_back(fmt::format("{}", w));
  } else if (r.type == "size" && sim::parse_size(r.value, v)) {
    for (uint64_t w : {v * 2, v / 2, v + 4096, v - 4096, uint64_t{4096}, uint64_t{1} << 30}) alt.push_back(std::to_string(w));
  } else if (r.type == "time" && sim::parse_duration(r.value, v)) {
    for (uint64_t w : {v * 2, v + 1000, v / 2, uint64_t{1000}}) alt.push_back(sim::format_duration(w));
  } else if (r.type == "frequency" && sim::parse_frequency(r.value, v)) {
    for (uint64_t w : {v * 2, v / 2}) alt.push_back(sim::format_frequency(w));
  } else if (r.type.find('|') != std::string::npos) {
    std::stringstream ss(r.type);
    for (std::string c; std::getline(ss, c, '|');) alt.push_back(c);
  } else if (r.type == "list" || r.type == "matrix") {
    alt = {"[]", "[4KiB]", "[2MiB]", "[4KiB, 2MiB, 1GiB]", "[90ns]", "[90ns, 70ns]", "[0]", "[1, 0]", "[0, 0]",
           "[[10]]", "[[10, 30], [30, 10]]", "[shared]", "[private, populate]"};
  } else {
    alt = {"other", "r", "rwx", "none", "SIGSEGV", "ENOMEM", "willneed", "hugepage", "force", "off", "32MiB", "2GiB/s"};
  }
  std::vector<std::string> out;
  for (const std::string& a : alt)
    if (a != r.value && std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
  return out;
}

// Tries other values of every key `scenario` lists, one at a time, and
// records the keys some other value of which loads in `accepted`. A key
// accepted with other values, none of which changes the resolved machine,
// is a failure. A value that resolves to the key's own (another spelling of
// it) proves nothing and is skipped.
void try_every_key(const std::string& name, const std::string& scenario, std::set<std::string>& accepted) {
  const Resolved base = resolve(scenario, {});
  for (const sim::ParamRecord& r : base.params) {
    bool loads = false, effect = false;
    for (const std::string& a : alternatives(r)) {
      Resolved other;
      try {
        other = resolve(scenario, {r.path + "=" + a});
      } catch (const ConfigError&) {
        continue;  // bad input
      }
      const auto same = std::find_if(other.params.begin(), other.params.end(),
                                     [&](const sim::ParamRecord& o) { return o.path == r.path; });
      if (same != other.params.end() && same->value == r.value) continue;
      loads = true;
      effect = effect || other.text != base.text;
    }
    if (loads) accepted.insert(std::regex_replace(r.path, std::regex("\\[\\d+\\]"), "[]"));
    EXPECT_TRUE(!loads || effect) << name << ": " << r.path << " is accepted with other values and changes nothing";
  }
}

// Two nodes with per-node latencies, two cores, a 1 GiB instruction TLB
// array, no STLB and no paging-structure caches, DMA engines given (--set
// reaches into a list only where the scenario gives it, so the default
// devices' keys are tried here), and operations of every kind.
const char* kRich = R"(
platform:
  cores: 2
  devices: [{name: dma0, kind: dma, addr_bits: 24}, {name: dma1, kind: dma, addr_bits: 32}]
  memory: {size: 1GiB, nodes: 2, node_latency: [80ns, 120ns], distance: [[10, 21], [21, 10]]}
  mmu: {itlb: {1g: {ways: 4}}, stlb: {enabled: false}, pwc: {enabled: false}}
workload:
  processes:
    - name: a
      ops:
        - mmap: {region: r, size: 4MiB}
        - mmap: {region: q, size: 0, expect: EINVAL}
        - access: {region: r, pattern: random, count: 100, writes: 0.5, value: 7}
        - read: {region: r, pattern: zipf, length: 1MiB, count: 10}
        - write: {region: r, pattern: strided, stride: 8192, count: 10}
        - fetch: {region: r, length: 4096}
        - madvise: {region: r, length: 4096, advice: dontneed, count: 4, stride: 8192}
        - mprotect: {region: r, offset: 1MiB, length: 4096, prot: r, count: 2, stride: 8192}
        - munmap: {region: r, offset: 2MiB, length: 4096, count: 2, stride: 8192}
        - fork:
            name: child
            ops:
              - read: {region: r, length: 4096}
              - exit: {status: 3}
        - thread:
            name: t
            ops:
              - barrier: {name: b}
        - barrier: {name: b}
)";

// Keys no other value of which can be tried alone: a region's name only
// ties operations together (another name leaves the others without their
// region); a device's only other kind (block) needs keys (size) a DMA
// engine's entry lacks.
bool cannot_be_tried(const std::string& key) {
  return std::regex_search(key, std::regex("\\.region$|^platform\\.devices\\[\\]\\.kind$"));
}

TEST(ParamsEffect, EveryKeyListedChangesTheResolvedMachine) {
  std::set<std::string> accepted;
  try_every_key("default scenario", sim::default_scenario(), accepted);
  try_every_key("rich scenario", kRich, accepted);
  // Every key is judged somewhere: some other value of it loads.
  std::set<std::string> listed;
  for (const char* s : {sim::default_scenario(), kRich})
    for (const sim::ParamRecord& r : resolve(s, {}).params)
      listed.insert(std::regex_replace(r.path, std::regex("\\[\\d+\\]"), "[]"));
  EXPECT_GT(listed.size(), 150u);
  for (const std::string& key : listed)
    EXPECT_TRUE(accepted.count(key) || cannot_be_tried(key)) << key << ": no other value tried loads: give the test one";
}

// The case that was once silently ignored: write_latency beside
// node_latency. Writes default to the reads per node; a uniform write
// latency applies to every node; per-node write latencies take effect; one
// latency given both ways is refused.
TEST(ParamsEffect, WriteLatenciesBesidePerNodeReadLatencies) {
  const Resolved d = resolve(kRich, {});
  EXPECT_NE(d.text.find("lat=80000/80000"), std::string::npos) << d.text;
  EXPECT_NE(d.text.find("lat=120000/120000"), std::string::npos) << d.text;
  const Resolved u = resolve(kRich, {"platform.memory.write_latency=100ns"});
  EXPECT_NE(u.text.find("lat=80000/100000"), std::string::npos) << u.text;
  EXPECT_NE(u.text.find("lat=120000/100000"), std::string::npos) << u.text;
  const Resolved n = resolve(kRich, {"platform.memory.node_write_latency=[100ns, 150ns]"});
  EXPECT_NE(n.text.find("lat=80000/100000"), std::string::npos) << n.text;
  EXPECT_NE(n.text.find("lat=120000/150000"), std::string::npos) << n.text;
  EXPECT_THROW(resolve(kRich, {"platform.memory.latency=100ns"}), ConfigError);
  EXPECT_THROW(resolve(kRich, {"platform.memory.node_write_latency=[100ns, 150ns]", "platform.memory.write_latency=90ns"}),
               ConfigError);
}

// A firmware parameter is stored into its field of fw::Params by the table;
// it has an effect only if the firmware reads that field somewhere.
TEST(ParamsEffect, EveryFirmwareParameterIsReadByTheFirmware) {
  namespace fs = std::filesystem;
  const std::string root = MMCOSIM_SOURCE_DIR;
  std::string firmware;
  for (const auto& e : fs::recursive_directory_iterator(root + "/sw")) {
    const std::string path = e.path().string();
    if (!e.is_regular_file() || path.find("/kernel/params.") != std::string::npos) continue;
    if (e.path().extension() != ".cpp" && e.path().extension() != ".h") continue;
    std::ifstream in(path);
    firmware += std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::ifstream in(root + "/sw/kernel/params.h");
  const std::string table(std::istreambuf_iterator<char>(in), {});
  const std::regex entry("offsetof\\(Params, (\\w+)\\)");
  size_t fields = 0;
  for (auto it = std::sregex_iterator(table.begin(), table.end(), entry); it != std::sregex_iterator(); ++it) {
    const std::string field = (*it)[1];
    ++fields;
    EXPECT_TRUE(std::regex_search(firmware, std::regex("[.>]" + field + "\\b")))
        << "firmware." << field << " is stored but no firmware code reads it";
  }
  EXPECT_EQ(fields, fw::kParamCount);
}

}  // namespace
}  // namespace tb
