// /proc/vmstat, /proc/zoneinfo and /proc/meminfo of every scenario in
// tb/scenarios/ (build/mmcosim runs) against Linux 6.18's key sets
// (tb/ref/linux-6.18-proc/keys): only keys 6.18 prints, in 6.18's order, and
// at least 90% of them. The oracle itself is checked on the files captured
// from a real 6.18 kernel, and must reject a file out of order or with a
// key 6.18 does not print.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"
#include "tb/common/proc_keys.h"

namespace {

namespace pk = tb::proc_keys;
using pk::File;

const std::string kRef = std::string(MMCOSIM_SOURCE_DIR) + "/tb/ref/linux-6.18-proc/";
constexpr File kFiles[] = {File::vmstat, File::zoneinfo, File::meminfo};

std::vector<std::string> key_set(File f) { return pk::read_keys(kRef + "keys/" + pk::file_name(f) + ".keys"); }

TEST(proc_format, key_sets_are_the_captured_files_plus_config_keys) {
  for (File f : kFiles) {
    const std::vector<std::string> set = key_set(f);
    ASSERT_FALSE(set.empty()) << pk::file_name(f);
    EXPECT_EQ(set, pk::reference_keys(f, pk::read_text(kRef + pk::file_name(f)))) << pk::file_name(f);
  }
  // The keys the issue names are there.
  const std::vector<std::string> vm = key_set(File::vmstat);
  for (const char* k : {"nr_dirty", "nr_writeback", "pgpgin", "pswpin", "pgsteal_kswapd", "pgscan_direct",
                        "workingset_refault_file", "nr_dirty_threshold", "nr_unstable", "cma_alloc_fail"})
    EXPECT_NE(std::find(vm.begin(), vm.end(), k), vm.end()) << k;
}

TEST(proc_format, the_oracle_passes_real_files_and_rejects_bad_ones) {
  for (File f : kFiles) {
    const std::string real = pk::read_text(kRef + pk::file_name(f));
    const pk::Verdict v = pk::check(f, real, key_set(f));
    EXPECT_EQ(v.error, "") << pk::file_name(f);
    // Everything but the configuration keys that kernel lacked.
    EXPECT_GT(v.coverage, 0.94) << pk::file_name(f);
  }
  // Two vmstat lines swapped, a key 6.18 never prints, a zoneinfo line
  // moved within its zone: each is named.
  std::string vm = pk::read_text(kRef + "vmstat");
  const size_t a = vm.find("pageoutrun "), b = vm.find("pgmigrate_success ");
  ASSERT_LT(a, b);
  std::string swapped = vm;
  const std::string la = vm.substr(a, vm.find('\n', a) + 1 - a), lb = vm.substr(b, vm.find('\n', b) + 1 - b);
  swapped.replace(b, lb.size(), la);
  swapped.replace(a, la.size(), lb);
  EXPECT_NE(pk::check(File::vmstat, swapped, key_set(File::vmstat)).error.find("out of 6.18's order"), std::string::npos);
  EXPECT_NE(pk::check(File::vmstat, vm + "pgfault_cow 3\n", key_set(File::vmstat)).error.find("pgfault_cow"),
            std::string::npos);
  std::string zi = pk::read_text(kRef + "zoneinfo");
  const size_t s = zi.find("  start_pfn:"), h = zi.find("        boost");
  ASSERT_LT(h, s);
  const std::string ls = zi.substr(s, zi.find('\n', s) + 1 - s);
  zi.erase(s, ls.size());
  zi.insert(h, ls);
  EXPECT_NE(pk::check(File::zoneinfo, zi, key_set(File::zoneinfo)).error, "");
  EXPECT_NE(pk::check(File::zoneinfo, "Node 0, zone      DMA\n  reserved_highatomic: 0\n", key_set(File::zoneinfo)).error,
            "");
  // A file that prints a tenth of the keys covers a tenth.
  EXPECT_LT(pk::check(File::meminfo, "MemTotal: 1 kB\n", key_set(File::meminfo)).coverage, 0.1);
}

// Every scenario file, one test each (so ctest spreads them over cores).
std::vector<std::string> scenario_files() {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::recursive_directory_iterator(std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios"))
    if (e.path().extension() == ".yaml") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

// A scenario's path below tb/scenarios as a test name: vm/cow-fork.yaml -> vm_cow_fork.
std::string scenario_name(const std::string& file) {
  std::string rel = std::filesystem::relative(file, std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios").string();
  rel = rel.substr(0, rel.size() - std::string(".yaml").size());
  for (char& c : rel)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return rel;
}

TEST(proc_format, the_scenarios_are_there) { EXPECT_GE(scenario_files().size(), 10u); }

class proc_format_scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(proc_format_scenario, prints_6_18_keys_in_6_18_order) {
  const std::string& file = GetParam();
  const std::string out = tb::temp_dir("proc_" + scenario_name(file));
  const tb::RunResult r = tb::run_mmcosim({"run", file, "--outdir", out, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  for (File f : kFiles) {
    const pk::Verdict v = pk::check(f, tb::read_file(out + "/proc/" + pk::file_name(f)), key_set(f));
    EXPECT_EQ(v.error, "") << pk::file_name(f);
    EXPECT_GE(v.coverage, 0.9) << pk::file_name(f);
  }
}

INSTANTIATE_TEST_SUITE_P(every, proc_format_scenario, ::testing::ValuesIn(scenario_files()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return scenario_name(i.param); });

}  // namespace
