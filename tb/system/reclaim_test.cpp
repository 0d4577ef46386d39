// Memory pressure end to end (tb/scenarios/reclaim/): what each scenario
// names, checked from its statistics, /proc files and kernel log. Every
// scenario also checks itself as it runs: every load against the shadow,
// through swap-out and swap-in and page-cache eviction, and every process
// ended as it expects (the OOM victim by SIGKILL, the others normally).
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kReclaim = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/reclaim/";

struct ReclaimRun : ScenarioRun {
  // A "key value" line of proc/vmstat, or a "Key: value kB" one of proc/meminfo.
  double proc(const std::string& name, const std::string& key) const {
    const std::string text = file("proc/" + name);
    const std::regex re("(^|\n)" + key + ":?\\s+([0-9]+)");
    std::smatch m;
    EXPECT_TRUE(std::regex_search(text, m, re)) << "no " << key << " in proc/" << name;
    return m.empty() ? NAN : std::stod(m[2].str());
  }
  std::string console() const { return file("console.log"); }
  // The processes the OOM killer killed, in order ("Killed process N (name)").
  std::vector<std::string> oom_victims() const {
    std::vector<std::string> v;
    const std::string log = console();
    const std::regex re("Out of memory: Killed process [0-9]+ \\(([a-z_0-9]+)\\)");
    for (auto it = std::sregex_iterator(log.begin(), log.end(), re); it != std::sregex_iterator(); ++it)
      v.push_back((*it)[1].str());
    return v;
  }
};

ReclaimRun run(const std::string& scenario, std::vector<std::string> sets = {}) {
  static int runs = 0;
  ReclaimRun r;
  static_cast<ScenarioRun&>(r) = run_scenario_file(
      kReclaim + scenario, "reclaim-" + scenario.substr(0, scenario.find('.')) + "-" + std::to_string(runs++), sets);
  return r;
}

// What every scenario ends with: no load differed from the shadow (the run
// would have failed), every page back, and the OOM kills the log shows
// counted in vmstat.
void expect_clean_end(const ReclaimRun& r) {
  EXPECT_EQ(r["system.fw.buddy.free_pages"], r["system.fw.buddy.boot_free_pages"]) << "every page came back";
  EXPECT_EQ(r.proc("vmstat", "oom_kill"), static_cast<double>(r.oom_victims().size()));
}

TEST(Reclaim, WithoutSwapTheOomKillerEndsTheProcessWithTheHighestBadness) {
  const ReclaimRun r = run("oom-badness.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  EXPECT_EQ(r.oom_victims(), std::vector<std::string>{"hog"});
  EXPECT_EQ(r["system.workload.small.verifiedReads"], (16 << 20) / 8) << "small read back everything";
  EXPECT_EQ(r["system.workload.medium.verifiedReads"], (24 << 20) / 8);
  EXPECT_GT(r["system.fw.oom.invocations"], 0);
  EXPECT_EQ(r["system.fw.oom.kills"], 1);
  EXPECT_EQ(r["system.fw.task.sigkill"], 1);
  const std::string log = r.console();
  EXPECT_NE(log.find("hog invoked oom-killer: gfp_mask="), std::string::npos);
  EXPECT_NE(log.find("Tasks state (memory values in pages):"), std::string::npos);
  EXPECT_NE(log.find("oom-kill:constraint=CONSTRAINT_NONE"), std::string::npos);
}

TEST(Reclaim, OomScoreAdjChoosesTheVictim) {
  const ReclaimRun r = run("oom-score-adj.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  EXPECT_EQ(r.oom_victims(), std::vector<std::string>{"cache"}) << "oom_score_adj 1000 beats the largest RSS";
  EXPECT_EQ(r["system.fw.oom.reaped"], 1) << "cache was waiting: the reaper emptied it at once";
  EXPECT_GE(r["system.fw.oom.reaped_pages"], (24 << 20) / 4096 - 16);
  EXPECT_NE(r.console().find("oom_reaper: reaped process 1 (cache), now anon-rss:0kB"), std::string::npos);
  EXPECT_EQ(r["system.workload.db.verifiedReads"], (56 << 20) / 8);
}

}  // namespace
}  // namespace tb
