// The timeline end to end (mmcosim run --trace-events): a small two-CPU run
// with a TLB shootdown, khugepaged, a file read from a disk and a DMA copy.
// The file must be what Perfetto loads (the Trace Event Format's object
// form, metadata naming every track, spans nested per track, times in
// order), hold one event per fault, walk, system call, shootdown, DMA
// transfer and disk request that stats.txt counts, leave stats.txt as it
// is, be the same on a second run, and keep exactly the last N events
// under --trace-limit N.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const char* kScenario =
    "platform:\n"
    "  cores: 2\n"
    "  memory: {size: 512MiB}\n"
    "  devices:\n"
    "    - {name: dma0, kind: dma, addr_bits: 64}\n"
    "    - {name: disk0, kind: block, addr_bits: 64, size: 64MiB}\n"
    "firmware: {transparent_hugepage: madvise, khugepaged_scan_sleep_millisecs: 1}\n"
    "workload:\n"
    "  files:\n"
    "    - {name: data, device: disk0, size: 1MiB}\n"
    "  processes:\n"
    "    - name: app\n"
    "      cpu: 0\n"
    "      ops:\n"
    "        - mmap: {region: b, size: 4MiB}\n"
    "        - write: {region: b, pattern: strided, stride: 4096}\n"
    "        - thread:\n"
    "            name: t1\n"
    "            cpu: 1\n"
    "            ops:\n"
    "              - read: {region: b, pattern: strided, stride: 4096}   # in CPU 1's TLB...\n"
    "              - barrier: {name: read}\n"
    "              - barrier: {name: unmapped}\n"
    "        - barrier: {name: read}\n"
    "        - madvise: {region: b, advice: dontneed, length: 1MiB}   # ...so the unmap shoots it down\n"
    "        - barrier: {name: unmapped}\n"
    "        - madvise: {region: b, advice: hugepage}                  # khugepaged collapses\n"
    "        - access: {region: b, pattern: random, count: 20000, writes: 0.3}\n"
    "        - file_read: {file: data, offset: 0, length: 64KiB, count: 4}\n"
    "        - mmap: {region: c, size: 64KiB}\n"
    "        - dma_copy: {device: dma0, src: b, dst: c, length: 64KiB}\n";

using Json = nlohmann::json;
using TrackKey = std::pair<int, int>;

struct Traced {
  std::string dir;
  Json json;
  std::map<std::string, double> stats;
};

Traced run_traced(const std::string& dir, const std::string& scenario, std::vector<std::string> extra) {
  Traced t;
  t.dir = dir;
  std::vector<std::string> args = {"run", scenario, "--outdir", dir, "-q", "--no-progress", "--trace-events",
                                   dir + "/trace.json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = run_mmcosim(args);
  EXPECT_EQ(r.status, 0) << r.output;
  t.json = Json::parse(read_file(dir + "/trace.json"));
  t.stats = read_stats(dir + "/stats.txt");
  return t;
}

// The events that are not metadata, in file order.
std::vector<Json> timed_events(const Json& j) {
  std::vector<Json> out;
  for (const Json& e : j.at("traceEvents"))
    if (e.at("ph") != "M") out.push_back(e);
  return out;
}

// Every rule of the format a viewer relies on; fails the test where one is broken.
void check_structure(const Json& j) {
  ASSERT_TRUE(j.is_object());
  ASSERT_TRUE(j.contains("traceEvents") && j["traceEvents"].is_array());
  EXPECT_EQ(j.value("displayTimeUnit", ""), "ns");
  ASSERT_TRUE(j.contains("otherData") && j["otherData"].is_object());
  std::set<int> named_processes;
  std::set<TrackKey> named_threads;
  std::map<TrackKey, std::vector<const Json*>> by_track;
  const std::set<std::string> phases = {"X", "B", "E", "i", "C", "M"};
  for (const Json& e : j["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e["ph"].is_string()) << e;
    ASSERT_TRUE(phases.count(e["ph"].get<std::string>())) << e;
    ASSERT_TRUE(e.contains("pid") && e["pid"].is_number_integer()) << e;
    ASSERT_TRUE(e.contains("tid") && e["tid"].is_number_integer()) << e;
    ASSERT_TRUE(e.contains("name") && e["name"].is_string()) << e;
    const TrackKey key{e["pid"], e["tid"]};
    if (e["ph"] == "M") {
      if (e["name"] == "process_name") named_processes.insert(key.first);
      if (e["name"] == "thread_name") named_threads.insert(key);
      const std::string what = e["name"];
      if (what == "process_name" || what == "thread_name") {
        ASSERT_TRUE(e.contains("args") && e["args"].contains("name")) << e;
      }
      continue;
    }
    ASSERT_TRUE(e.contains("ts") && e["ts"].is_number() && e["ts"].get<double>() >= 0) << e;
    ASSERT_TRUE(e.contains("cat") && e["cat"].is_string()) << e;
    if (e["ph"] == "X") {
      ASSERT_TRUE(e.contains("dur") && e["dur"].is_number() && e["dur"].get<double>() >= 0) << e;
    }
    by_track[key].push_back(&e);
  }
  for (const auto& [key, evs] : by_track) {
    EXPECT_TRUE(named_processes.count(key.first)) << "no process_name for pid " << key.first;
    EXPECT_TRUE(named_threads.count(key)) << "no thread_name for pid " << key.first << " tid " << key.second;
    double last = 0;
    int open_be = 0;
    std::vector<double> enclosing;  // ends of the X spans around the current time
    for (const Json* e : evs) {
      const double ts = (*e)["ts"].get<double>();
      EXPECT_GE(ts, last) << "time goes back on pid " << key.first << " tid " << key.second << ": " << *e;
      last = ts;
      if ((*e)["ph"] == "B") ++open_be;
      if ((*e)["ph"] == "E") {
        EXPECT_GE(--open_be, 0) << *e;
      }
      if ((*e)["ph"] != "X") continue;
      while (!enclosing.empty() && enclosing.back() <= ts + 1e-9) enclosing.pop_back();
      const double end = ts + (*e)["dur"].get<double>();
      if (!enclosing.empty()) {
        EXPECT_LE(end, enclosing.back() + 1e-9) << "spans overlap without nesting: " << *e;
      }
      enclosing.push_back(end);
    }
    EXPECT_EQ(open_be, 0) << "B without E on pid " << key.first << " tid " << key.second;
  }
}

// Events of a category (and name, when given).
size_t count(const std::vector<Json>& ev, const std::string& cat, const std::string& name = "") {
  size_t n = 0;
  for (const Json& e : ev)
    if (e["cat"] == cat && (name.empty() || e["name"] == name)) ++n;
  return n;
}

// A statistic summed over the CPUs ("system.cpu{}.mmu.walker.walks").
double per_cpu(const std::map<std::string, double>& stats, const std::string& format) {
  double sum = 0;
  for (unsigned c = 0; c < 2; ++c) {
    std::string name = format;
    name.replace(name.find("{}"), 2, std::to_string(c));
    sum += stats.at(name);
  }
  return sum;
}

// Every test runs in its own process (and directory: ctest runs them in
// parallel) on the run of the scenario with every flag traced.
class TraceEvents : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = temp_dir(std::string("trace-events-") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    scenario_ = write_file(dir_, "s.yaml", kScenario);
    full_ = std::make_unique<Traced>(run_traced(dir_ + "/full", scenario_, {}));
  }
  std::string dir_, scenario_;
  std::unique_ptr<Traced> full_;
};

TEST_F(TraceEvents, TheFileIsWellFormedTraceEventJson) {
  check_structure(full_->json);
  std::set<std::string> processes;
  for (const Json& e : full_->json["traceEvents"])
    if (e["ph"] == "M" && e["name"] == "process_name") processes.insert(e["args"]["name"]);
  for (const char* p : {"cpu0", "cpu1", "dma0", "disk0"}) EXPECT_TRUE(processes.count(p)) << "no track " << p;
  const Json& other = full_->json["otherData"];
  EXPECT_EQ(other["events_dropped"], 0);
  EXPECT_EQ(other["events_recorded"].get<size_t>(), timed_events(full_->json).size());
}

TEST_F(TraceEvents, EventCountsMatchTheStatistics) {
  const auto ev = timed_events(full_->json);
  const auto& st = full_->stats;
  EXPECT_GT(st.at("system.fw.vmstat.pgfault"), 0);
  EXPECT_EQ(count(ev, "Fault", "page fault"), st.at("system.fw.vmstat.pgfault"));
  EXPECT_EQ(count(ev, "Fault", "page fault"), per_cpu(st, "system.cpu{}.core.pageFaults"));
  EXPECT_EQ(count(ev, "Walker", "walk"), per_cpu(st, "system.cpu{}.mmu.walker.walks"));
  EXPECT_EQ(count(ev, "Syscall"), st.at("system.fw.syscall.total"));
  EXPECT_EQ(count(ev, "Syscall", "madvise"), st.at("system.fw.syscall.madvise"));
  EXPECT_GT(st.at("system.fw.irq.tlb_shootdown"), 0);
  EXPECT_EQ(count(ev, "Intc", "TLB shootdown IPI"), st.at("system.fw.irq.tlb_shootdown"));
  EXPECT_EQ(count(ev, "Intc", "IPI sent"), per_cpu(st, "system.cpu{}.core.ipisSent"));
  EXPECT_EQ(count(ev, "MMU", "INVLPG"), per_cpu(st, "system.cpu{}.mmu.invlpg"));
  EXPECT_GT(st.at("system.fw.khugepaged.wakeups"), 0);
  EXPECT_EQ(count(ev, "Kthread", "khugepaged"), st.at("system.fw.khugepaged.wakeups"));
  EXPECT_EQ(count(ev, "Kthread", "kswapd"), st.at("system.fw.kswapd.runs"));
  EXPECT_EQ(count(ev, "Kthread", "kcompactd"),
            st.at("system.fw.compaction.kcompactd_runs") + st.at("system.fw.compaction.proactive_runs"));
  EXPECT_EQ(count(ev, "DMA"), st.at("system.dma.dma0.transfers"));
  EXPECT_GT(count(ev, "DMA"), 0u);
  EXPECT_EQ(count(ev, "Block"), st.at("system.block.disk0.reads") + st.at("system.block.disk0.writes") +
                                    st.at("system.block.disk0.flushes"));
  EXPECT_GT(count(ev, "Block", "read"), 0u);
  // The user operations: each of the scenario's, on the CPU that ran it.
  for (const char* op : {"mmap", "write", "read", "madvise", "access", "file_read", "dma_copy"})
    EXPECT_GT(count(ev, "Core", op), 0u) << "no span of the " << op << " operation";
  EXPECT_GT(count(ev, "Core", "app"), 0u);
  EXPECT_GT(count(ev, "Core", "t1"), 0u);
}

TEST_F(TraceEvents, TracingChangesNothingAndTheFileIsAPureFunctionOfTheRun) {
  const RunResult plain = run_mmcosim({"run", scenario_, "--outdir", dir_ + "/plain", "-q", "--no-progress"});
  ASSERT_EQ(plain.status, 0) << plain.output;
  EXPECT_EQ(read_file(dir_ + "/plain/stats.txt"), read_file(dir_ + "/full/stats.txt"));
  const Traced again = run_traced(dir_ + "/again", scenario_, {});
  EXPECT_EQ(read_file(dir_ + "/again/trace.json"), read_file(dir_ + "/full/trace.json"));
}

TEST_F(TraceEvents, TheRingKeepsTheLastNEventsAndCountsTheDropped) {
  const Traced small = run_traced(dir_ + "/ring", scenario_, {"--trace-limit", "40"});
  check_structure(small.json);
  const auto kept = timed_events(small.json), all = timed_events(full_->json);
  ASSERT_EQ(kept.size(), 40u);
  EXPECT_EQ(small.json["otherData"]["events_dropped"].get<size_t>(), all.size() - 40);
  EXPECT_EQ(small.json["otherData"]["trace_limit"], 40);
  // Every kept event is one of the full run's, and the last to end is kept.
  std::set<std::string> full_set;
  for (const Json& e : all) full_set.insert(e.dump());
  for (const Json& e : kept) EXPECT_TRUE(full_set.count(e.dump())) << e;
  const auto end_of = [](const Json& e) { return e["ts"].get<double>() + e.value("dur", 0.0); };
  double last_end = 0, kept_end = 0;
  for (const Json& e : all) last_end = std::max(last_end, end_of(e));
  for (const Json& e : kept) kept_end = std::max(kept_end, end_of(e));
  EXPECT_DOUBLE_EQ(kept_end, last_end);
  // The first events of the run (boot, the first operations) are gone.
  EXPECT_GT(kept.front()["ts"].get<double>(), all.front()["ts"].get<double>());
}

TEST_F(TraceEvents, FlagsFilterAndBadOptionsAreOneLineErrors) {
  const Traced walks = run_traced(dir_ + "/walks", scenario_, {"--trace-flags", "Walker,Fault"});
  const auto ev = timed_events(walks.json);
  ASSERT_FALSE(ev.empty());
  for (const Json& e : ev) EXPECT_TRUE(e["cat"] == "Walker" || e["cat"] == "Fault") << e;
  EXPECT_EQ(count(ev, "Walker", "walk"), per_cpu(walks.stats, "system.cpu{}.mmu.walker.walks"));
  RunResult bad = run_mmcosim({"run", scenario_, "--outdir", dir_ + "/bad", "-q", "--no-progress", "--trace-events",
                               dir_ + "/bad.json", "--trace-flags", "Walker,Nope"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("--trace-flags: unknown flag 'Nope'"), std::string::npos) << bad.output;
  bad = run_mmcosim({"run", scenario_, "--outdir", dir_ + "/bad", "-q", "--no-progress", "--trace-events",
                     dir_ + "/no/such/dir/t.json"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("cannot write"), std::string::npos) << bad.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/bad")) << "a refused run leaves its output directory behind";
  bad = run_mmcosim({"run", scenario_, "--outdir", dir_ + "/bad", "-q", "--no-progress", "--trace-events",
                     dir_ + "/bad.json", "--trace-limit", "0"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("--trace-limit: must be at least 1"), std::string::npos) << bad.output;
  bad = run_mmcosim({"run", scenario_, "--outdir", dir_ + "/bad", "-q", "--no-progress", "--trace-limit", "5"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.output.find("--trace-events"), std::string::npos) << bad.output;
}

}  // namespace
}  // namespace tb
