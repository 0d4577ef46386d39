// The physical memory manager through build/mmcosim runs of the scenario
// files tb/scenarios/mem-1g.yaml, mem-4g.yaml, mem-64g.yaml,
// numa-2node.yaml and mem-8g-movable-cma.yaml: proc/zoneinfo and
// proc/meminfo hold the zone boundaries, managed pages, min_free_kbytes
// (raised for THP), watermarks and protection values Linux 6.18's formulas
// give for the machine, recomputed here from console.log's e820 map and
// node ranges and config.json's parameters, with what the boot reserves
// computed by linuxref rather than read from the firmware (whose memblock
// dump must match it); stats.txt holds the same values under system.fw.*,
// every proc file the run writes is there, and every page came back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

#include "sw/dma/swiotlb.h"
#include "sw/mm/pcp.h"
#include "sw/mm/slub.h"
#include "tb/common/mmcosim_run.h"
#include "tb/sw/mm/linux_ref.h"

namespace {

struct Case {
  const char* file;
  const char* name;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

// A size as config.json records it: "64MiB", "2GiB", or plain bytes.
uint64_t config_bytes(const nlohmann::json& v) {
  if (v.is_number()) return v.get<uint64_t>();
  const std::string s = v.get<std::string>();
  size_t i = 0;
  const uint64_t n = std::stoull(s, &i);
  const std::string unit = s.substr(i);
  if (unit == "KiB") return n << 10;
  if (unit == "MiB") return n << 20;
  if (unit == "GiB") return n << 30;
  if (unit == "TiB") return n << 40;
  EXPECT_TRUE(unit.empty()) << "unknown size unit in " << s;
  return n;
}

// The machine as Linux's formulas see it: the firmware's console (e820,
// node ranges) and the run's configuration; the sizes of the firmware's
// per-CPU structures from its headers.
linuxref::Input machine_of(const linuxref::BootLog& boot, const nlohmann::json& config) {
  linuxref::Input in;
  in.usable = boot.usable;
  in.e820_other = boot.e820_other;
  in.nodes = boot.nodes;
  const nlohmann::json& fw = config.at("firmware");
  in.nr_cpus = config.at("platform").at("cores").get<unsigned>();
  in.pcp_bytes = sizeof(fw::per_cpu_pages);
  in.slab_percpu_bytes = fw::Slab::kMaxCaches * sizeof(fw::kmem_cache_cpu);
  in.cma_bytes = config_bytes(fw.at("cma"));
  in.movablecore_pages = config_bytes(fw.at("movablecore")) / x86::PAGE_SIZE;
  in.kernelcore_pages = config_bytes(fw.at("kernelcore")) / x86::PAGE_SIZE;
  in.thp = fw.at("transparent_hugepage").get<std::string>() != "never";
  const std::string swiotlb = fw.at("swiotlb").get<std::string>();
  linuxref::set_swiotlb(in, swiotlb == "off", swiotlb == "force",
                        swiotlb == "off" || swiotlb == "force" || swiotlb == "auto" ? 0 : config_bytes(fw.at("swiotlb")),
                        sizeof(fw::io_tlb_area));
  return in;
}

class fw_scenario : public ::testing::TestWithParam<Case> {};

TEST_P(fw_scenario, proc_files_match_linux_formulas_and_stats) {
  const Case& c = GetParam();
  const std::string out = tb::temp_dir(c.name);
  const std::string file = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/" + c.file;
  const tb::RunResult r = tb::run_mmcosim({"run", file, "--outdir", out, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string log = tb::read_file(out + "/console.log");
  const linuxref::BootLog boot = linuxref::parse_boot_log(log);
  ASSERT_FALSE(boot.usable.empty()) << log;
  ASSERT_FALSE(boot.nodes.empty());
  const linuxref::Input in = machine_of(boot, nlohmann::json::parse(tb::read_file(out + "/config.json")));
  const linuxref::Result want = linuxref::compute(in);
  EXPECT_EQ(boot.min_free_kbytes, want.min_free_kbytes);
  // The firmware reserved what linuxref says, where it says.
  ASSERT_EQ(boot.reserved_merged().size(), want.reserved.size()) << log;
  for (size_t i = 0; i < want.reserved.size(); ++i) {
    EXPECT_EQ(boot.reserved_merged()[i].start, want.reserved[i].start) << i;
    EXPECT_EQ(boot.reserved_merged()[i].end, want.reserved[i].end) << i;
  }
  if (in.cma_bytes) {
    EXPECT_EQ(boot.cma.start, want.cma.start);
    EXPECT_EQ(boot.cma.end, want.cma.end);
  }

  const auto zi = linuxref::parse_zoneinfo(tb::read_file(out + "/proc/zoneinfo"));
  const auto s = tb::read_stats(out + "/stats.txt");
  for (unsigned n = 0; n < want.nodes.size(); ++n)
    for (unsigned z = 0; z < linuxref::kZones; ++z) {
      const linuxref::Zone& w = want.nodes[n][z];
      const std::string where = std::string(c.name) + " node " + std::to_string(n) + " " + linuxref::zone_label(z);
      auto it = zi.find({n, linuxref::zone_label(z)});
      ASSERT_TRUE(it != zi.end()) << where;
      const linuxref::ProcZone& g = it->second;
      EXPECT_EQ(g.spanned, w.spanned) << where;
      EXPECT_EQ(g.present, w.present) << where;
      EXPECT_EQ(g.managed, w.managed) << where;
      EXPECT_EQ(g.min, w.min) << where;
      EXPECT_EQ(g.low, w.low) << where;
      EXPECT_EQ(g.high, w.high) << where;
      EXPECT_EQ(g.promo, w.promo) << where;
      ASSERT_EQ(g.protection.size(), linuxref::kZones) << where;
      for (unsigned j = 0; j < linuxref::kZones; ++j) EXPECT_EQ(g.protection[j], w.protection[j]) << where << " [" << j << "]";
      if (!w.spanned) continue;
      EXPECT_EQ(g.start_pfn, w.start_pfn) << where;
      // The same values under system.fw.zone.*
      const std::string pre = "system.fw.zone.node" + std::to_string(n) + "." + linuxref::zone_label(z) + ".";
      EXPECT_EQ(s.at(pre + "managed_pages"), w.managed) << where;
      EXPECT_EQ(s.at(pre + "present_pages"), w.present) << where;
      EXPECT_EQ(s.at(pre + "spanned_pages"), w.spanned) << where;
      EXPECT_EQ(s.at(pre + "wmark_min"), w.min) << where;
      EXPECT_EQ(s.at(pre + "wmark_low"), w.low) << where;
      EXPECT_EQ(s.at(pre + "wmark_high"), w.high) << where;
      EXPECT_EQ(s.at(pre + "protection.Normal"), w.protection[2]) << where;
    }
  const auto mi = linuxref::parse_meminfo(tb::read_file(out + "/proc/meminfo"));
  EXPECT_EQ(mi.at("MemTotal"), want.total_managed * 4);
  EXPECT_EQ(s.at("system.fw.meminfo.MemTotal"), want.total_managed * 4);
  EXPECT_EQ(s.at("system.fw.meminfo.MemFree"), mi.at("MemFree"));
  EXPECT_EQ(s.at("system.fw.meminfo.Inactive_anon"), mi.at("Inactive(anon)"));
  EXPECT_EQ(s.at("system.fw.mem.min_free_kbytes"), want.min_free_kbytes);
  // vm_commit_limit: half of the RAM outside hugetlb pools (none here), no swap.
  EXPECT_EQ(mi.at("CommitLimit"), want.total_managed / 2 * 4);
  if (in.cma_bytes) {
    EXPECT_EQ(mi.at("CmaTotal"), (want.cma.end - want.cma.start) * 4);
  }
  // Every proc file of the run, in Linux's shape.
  for (const char* f : {"meminfo", "zoneinfo", "buddyinfo", "pagetypeinfo", "vmstat"})
    EXPECT_FALSE(tb::read_file(out + "/proc/" + f).empty()) << f;
  EXPECT_NE(tb::read_file(out + "/proc/pagetypeinfo").find("Page block order: 9"), std::string::npos);
  const std::string vm = tb::read_file(out + "/proc/vmstat");
  EXPECT_EQ(vm.rfind("nr_free_pages ", 0), 0u);
  EXPECT_NE(vm.find("\npgfault "), std::string::npos);
  EXPECT_EQ(s.at("system.fw.vmstat.nr_free_pages") * 4, mi.at("MemFree"));
  // All pages back at the end.
  EXPECT_EQ(s.at("system.fw.buddy.free_pages"), s.at("system.fw.buddy.boot_free_pages"));
}

INSTANTIATE_TEST_SUITE_P(fw, fw_scenario,
                         ::testing::Values(Case{"mem-1g.yaml", "mem_1g"}, Case{"mem-4g.yaml", "mem_4g"},
                                           Case{"mem-64g.yaml", "mem_64g"}, Case{"numa-2node.yaml", "numa_2node"},
                                           Case{"mem-8g-movable-cma.yaml", "mem_8g_movable_cma"}),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
