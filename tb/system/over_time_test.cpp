// Outputs over time, end to end: periodic statistics (--stats-period:
// repeated gem5 blocks in stats.txt, stats-timeseries.csv), which do not
// change what is simulated.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sstream>


#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {


// Two CPUs: a thread on CPU 1 holds the region in its TLB when CPU 0 unmaps
// part of it (a shootdown); transparent huge pages with khugepaged awake.
const char* kScenario =
    "platform: {cores: 2, memory: {size: 512MiB}}\n"
    "firmware: {transparent_hugepage: madvise, khugepaged_scan_sleep_millisecs: 1}\n"
    "workload:\n  processes:\n    - name: app\n      cpu: 0\n      ops:\n"
    "        - mmap: {region: b, size: 4MiB}\n"
    "        - write: {region: b, pattern: strided, stride: 4096}\n"
    "        - thread: {name: t1, cpu: 1, ops: [{read: {region: b, pattern: strided, stride: 4096}}, "
    "{barrier: {name: read}}, {barrier: {name: unmapped}}]}\n"
    "        - barrier: {name: read}\n"
    "        - madvise: {region: b, advice: dontneed, length: 1MiB}\n"
    "        - barrier: {name: unmapped}\n"
    "        - madvise: {region: b, advice: hugepage}\n"
    "        - access: {region: b, pattern: random, count: 200000, writes: 0.3}\n";

std::string scenario(const std::string& dir) { return write_file(dir, "s.yaml", kScenario); }

// The last gem5 block of stats.txt (from its blank line on).
std::string last_block(const std::string& text) { return text.substr(text.rfind("\n---------- Begin")); }

TEST(StatsPeriod, RepeatsBlocksAndWritesATimeSeriesWithoutChangingTheRun) {
  const std::string dir = temp_dir("stats-period");
  const std::string s = scenario(dir);
  RunResult plain = run_mmcosim({"run", s, "--outdir", dir + "/plain", "-q", "--no-progress"});
  ASSERT_EQ(plain.status, 0) << plain.output;
  RunResult r = run_mmcosim({"run", s, "--outdir", dir + "/periodic", "-q", "--no-progress", "--stats-period", "2ms"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string base = read_file(dir + "/plain/stats.txt"), periodic = read_file(dir + "/periodic/stats.txt");
  EXPECT_EQ(last_block(periodic), base) << "the end-of-run block must be the plain run's stats.txt";
  EXPECT_EQ(read_file(dir + "/plain/stats.json"), read_file(dir + "/periodic/stats.json"));

  const double sim_seconds = read_stats(dir + "/plain/stats.txt").at("simSeconds");
  size_t blocks = 0;
  for (size_t at = 0; (at = periodic.find("---------- Begin Simulation Statistics", at)) != std::string::npos; ++at)
    ++blocks;
  EXPECT_EQ(blocks, static_cast<size_t>(sim_seconds / 2e-3) + 1);

  // The time series: a header, then the same names at every dump.
  std::istringstream csv(read_file(dir + "/periodic/stats-timeseries.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line, "time,name,value");
  std::map<std::string, std::vector<double>> series;
  std::vector<double> times;
  while (std::getline(csv, line)) {
    const size_t a = line.find(','), b = line.rfind(',');
    const double t = std::stod(line.substr(0, a));
    if (times.empty() || times.back() != t) times.push_back(t);
    series[line.substr(a + 1, b - a - 1)].push_back(line.substr(b + 1) == "nan" ? -1 : std::stod(line.substr(b + 1)));
  }
  ASSERT_EQ(times.size(), blocks);
  EXPECT_DOUBLE_EQ(times[0], 2e-3);
  EXPECT_NEAR(times.back(), sim_seconds, 1e-6) << "stats.txt rounds simSeconds to six digits";
  const auto& faults = series.at("system.cpu0.core.pageFaults");
  ASSERT_EQ(faults.size(), blocks);
  EXPECT_TRUE(std::is_sorted(faults.begin(), faults.end())) << "counters are cumulative";
  EXPECT_EQ(faults.back(), read_stats(dir + "/plain/stats.txt").at("system.cpu0.core.pageFaults"));
  EXPECT_EQ(series.at("system.fw.meminfo.MemFree").size(), blocks) << "the firmware's counters are dumped too";

  RunResult bad = run_mmcosim({"run", s, "--outdir", dir + "/bad", "--stats-period", "often"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.output, "mmcosim: --stats-period: expected a positive time such as 10us or 1ms, got 'often'\n");
}

// The periodic files cannot be written (the time series' name is taken by
// a directory): bad input, one line, and the refused run leaves nothing it
// created, in a new output directory or in one that was there.
TEST(StatsPeriod, AnUnwritableFileIsBadInputAndLeavesNothingBehind) {
  const std::string dir = temp_dir("stats-period-unwritable");
  const std::string s = scenario(dir);
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/old/stats-timeseries.csv");
  RunResult r = run_mmcosim({"run", s, "--outdir", dir + "/old", "-q", "--no-progress", "--stats-period", "2ms"});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.output, "mmcosim: --outdir " + dir + "/old/stats-timeseries.csv: cannot write\n");
  EXPECT_FALSE(fs::exists(dir + "/old/console.log"));
  EXPECT_FALSE(fs::exists(dir + "/old/stats.txt"));
  EXPECT_FALSE(fs::exists(dir + "/old/proc"));
  EXPECT_TRUE(fs::is_directory(dir + "/old/stats-timeseries.csv")) << "what was there stays";
}

}  // namespace
}  // namespace tb
