// Outputs over time, end to end: periodic statistics (--stats-period:
// repeated gem5 blocks in stats.txt, stats-timeseries.csv) and the timeline
// (--trace-events: Chrome/Perfetto JSON whose event counts match stats.txt).
// Neither changes what is simulated.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

using json = nlohmann::json;

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
  EXPECT_DOUBLE_EQ(times.back(), sim_seconds);
  const auto& faults = series.at("system.cpu0.core.pageFaults");
  ASSERT_EQ(faults.size(), blocks);
  EXPECT_TRUE(std::is_sorted(faults.begin(), faults.end())) << "counters are cumulative";
  EXPECT_EQ(faults.back(), read_stats(dir + "/plain/stats.txt").at("system.cpu0.core.pageFaults"));
  EXPECT_EQ(series.at("system.fw.meminfo.MemFree").size(), blocks) << "the firmware's counters are dumped too";

  RunResult bad = run_mmcosim({"run", s, "--outdir", dir + "/bad", "--stats-period", "often"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.output, "mmcosim: --stats-period: expected a positive time such as 10us or 1ms, got 'often'\n");
}

struct Timeline {
  json file;
  std::map<std::string, unsigned> tracks;  // name -> tid
  std::vector<json> events;                // X and i events
  size_t count(const std::function<bool(const json&)>& pred) const {
    return static_cast<size_t>(std::count_if(events.begin(), events.end(), pred));
  }
};

Timeline load_timeline(const std::string& path) {
  Timeline t;
  t.file = json::parse(read_file(path));
  for (const json& e : t.file.at("traceEvents")) {
    const std::string ph = e.at("ph");
    if (ph == "M") {
      if (e.at("name") == "thread_name") t.tracks[e.at("args").at("name")] = e.at("tid");
      continue;
    }
    EXPECT_TRUE(ph == "X" || ph == "i") << e.dump();
    EXPECT_TRUE(e.at("ts").is_number()) << e.dump();
    EXPECT_TRUE(e.at("pid") == 1 || e.at("pid") == 2) << e.dump();
    if (ph == "X") EXPECT_GE(e.at("dur").get<double>(), 0) << e.dump();
    t.events.push_back(e);
  }
  return t;
}

// Slices of one track nest (Perfetto draws a track's slices as a stack):
// no two overlap partially.
void expect_nesting(const Timeline& t) {
  std::map<unsigned, std::vector<std::pair<double, double>>> by_tid;
  for (const json& e : t.events)
    if (e.at("ph") == "X") by_tid[e.at("tid")].emplace_back(e.at("ts").get<double>(), e.at("ts").get<double>() + e.at("dur").get<double>());
  for (auto& [tid, v] : by_tid) {
    std::sort(v.begin(), v.end(), [](auto& a, auto& b) { return a.first < b.first || (a.first == b.first && a.second > b.second); });
    std::vector<double> stack;
    for (const auto& [b, e] : v) {
      while (!stack.empty() && stack.back() <= b + 1e-9) stack.pop_back();
      if (!stack.empty()) EXPECT_LE(e, stack.back() + 1e-9) << "tid " << tid << ": a slice at " << b << " overlaps its parent";
      stack.push_back(e);
    }
  }
}

double sum_over_cpus(const std::map<std::string, double>& s, const std::string& suffix) {
  double total = 0;
  for (const auto& [name, v] : s)
    if (std::regex_match(name, std::regex("system\\.cpu[0-9]+\\." + suffix))) total += v;
  return total;
}

TEST(Timeline, EventsMatchTheStatisticsAndNestOnEveryTrack) {
  const std::string dir = temp_dir("timeline");
  const std::string s = scenario(dir);
  // The monitor starts a DMA transfer on engine 0, so its track has one.
  const std::string cmds = write_file(dir, "cmds", "dma 0 0x100000 0x200000 4096\ncontinue\n");
  RunResult r = run_mmcosim({"run", s, "--outdir", dir + "/out", "--script", cmds, "--trace-events", dir + "/t.json"});
  ASSERT_EQ(r.status, 0) << r.output;
  const auto st = read_stats(dir + "/out/stats.txt");
  const Timeline t = load_timeline(dir + "/t.json");
  for (const char* track : {"cpu0", "cpu1", "cpu0 walker 0", "dma0"}) EXPECT_TRUE(t.tracks.count(track)) << track;

  auto named = [](const char* n) { return [n](const json& e) { return e.at("name") == n; }; };
  auto cat = [](const char* c) { return [c](const json& e) { return e.at("cat") == c; }; };
  EXPECT_EQ(t.count(named("page fault")), sum_over_cpus(st, "core\\.pageFaults"));
  EXPECT_GT(t.count(named("page fault")), 1000u);
  EXPECT_EQ(t.count(cat("walk")), sum_over_cpus(st, "mmu\\.walks"));
  EXPECT_EQ(t.count(cat("syscall")), sum_over_cpus(st, "core\\.syscalls"));
  EXPECT_EQ(t.count(cat("ipi")), sum_over_cpus(st, "core\\.ipisSent"));
  EXPECT_EQ(t.count(named("TLB shootdown")), st.at("system.fw.irq.tlb_shootdown"));
  EXPECT_GT(st.at("system.fw.irq.tlb_shootdown"), 0);
  EXPECT_EQ(t.count(cat("dma")), st.at("system.dma.dma0.transfers") + st.at("system.dma.dma1.transfers"));
  EXPECT_EQ(t.count(cat("dma")), 1u);
  EXPECT_GT(t.count(named("khugepaged")), 0u);
  EXPECT_EQ(t.count(named("app: write b")), 1u);
  EXPECT_EQ(t.count(named("t1: read b")), 1u);
  // A walk says how far it went and what the paging-structure caches saved.
  const auto walk = std::find_if(t.events.begin(), t.events.end(), cat("walk"));
  ASSERT_NE(walk, t.events.end());
  for (const char* arg : {"va", "levels", "pwc_levels_skipped", "pt_reads"}) EXPECT_TRUE(walk->at("args").contains(arg)) << arg;
  expect_nesting(t);

  const json& meta = t.file.at("otherData");
  EXPECT_EQ(meta.at("eventLimit"), 1000000);
  EXPECT_EQ(meta.at("eventsDropped"), 0);
  EXPECT_EQ(meta.at("eventsKept"), t.events.size());

  // Recording changes nothing that is simulated.
  RunResult plain = run_mmcosim({"run", s, "--outdir", dir + "/plain", "--script", cmds});
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(read_file(dir + "/plain/stats.txt"), read_file(dir + "/out/stats.txt"));
}

TEST(Timeline, KeepsTheLastEventsAndFiltersByFlag) {
  const std::string dir = temp_dir("timeline-ring");
  const std::string s = scenario(dir);
  RunResult full = run_mmcosim({"run", s, "--outdir", dir + "/a", "-q", "--no-progress", "--trace-events", dir + "/a.json"});
  ASSERT_EQ(full.status, 0) << full.output;
  RunResult ring = run_mmcosim({"run", s, "--outdir", dir + "/b", "-q", "--no-progress", "--trace-events", dir + "/b.json",
                                "--trace-events-limit", "100"});
  ASSERT_EQ(ring.status, 0) << ring.output;
  const Timeline a = load_timeline(dir + "/a.json"), b = load_timeline(dir + "/b.json");
  ASSERT_EQ(b.events.size(), 100u);
  const json& meta = b.file.at("otherData");
  EXPECT_EQ(meta.at("eventLimit"), 100);
  EXPECT_EQ(meta.at("eventsRecorded"), a.events.size());
  EXPECT_EQ(meta.at("eventsDropped"), a.events.size() - 100);
  // The ring kept the last hundred, in order.
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(b.events[i], a.events[a.events.size() - 100 + i]) << i;

  RunResult faults = run_mmcosim({"run", s, "--outdir", dir + "/c", "-q", "--no-progress", "--trace-events",
                                  dir + "/c.json", "--trace-flags=Fault"});
  ASSERT_EQ(faults.status, 0) << faults.output;
  const Timeline c = load_timeline(dir + "/c.json");
  EXPECT_EQ(c.count([](const json& e) { return e.at("cat") != "fault"; }), 0u);
  EXPECT_EQ(c.events.size(), read_stats(dir + "/c/stats.txt").at("system.cpu0.core.pageFaults") +
                                 read_stats(dir + "/c/stats.txt").at("system.cpu1.core.pageFaults"));
  EXPECT_EQ(c.file.at("otherData").at("flags"), "Fault");

  RunResult bad = run_mmcosim({"run", s, "--outdir", dir + "/d", "--trace-events", dir + "/d.json", "--trace-flags=Walkr"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.output, "mmcosim: --trace-flags: unknown flag 'Walkr' (mmcosim debug-flags lists them)\n");
}

}  // namespace
}  // namespace tb
