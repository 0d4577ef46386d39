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

// variant: part of the output directory's name, so that tests running the
// same scenario at once (ctest -j) write to different places.
ReclaimRun run(const std::string& scenario, std::vector<std::string> sets = {}, const std::string& variant = "") {
  static int runs = 0;
  ReclaimRun r;
  static_cast<ScenarioRun&>(r) =
      run_scenario_file(kReclaim + scenario,
                        "reclaim-" + scenario.substr(0, scenario.find('.')) + variant + "-" + std::to_string(runs++), sets);
  return r;
}

// What every scenario ends with: no load differed from the shadow (the run
// would have failed), every page back (without files: the page cache and
// its tree outlive the processes), and the OOM kills the log shows counted
// in vmstat.
void expect_clean_end(const ReclaimRun& r, bool files = false) {
  if (!files) {
    EXPECT_GE(r["system.fw.buddy.free_pages"], r["system.fw.buddy.boot_free_pages"]) << "every page came back";
  }
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

// medium at 48 MiB: at the first OOM it outweighs the allocating hog (about
// 29 MiB then) and is killed although it is neither the current task nor
// the last spawned; the hog, largest at the second, goes next.
TEST(Reclaim, TheOomVictimIsTheLargestEvenWhenItIsNotTheAllocatingTask) {
  const ReclaimRun r = run("oom-badness.yaml", {"workload.processes[1].ops[0].mmap.size=48MiB",
                                                "workload.processes[1].expect_signal=SIGKILL"},
                           "-medium48");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  EXPECT_EQ(r.oom_victims(), (std::vector<std::string>{"medium", "hog"}));
  EXPECT_EQ(r["system.workload.small.verifiedReads"], (16 << 20) / 8);
}

// The same pressure with every process at oom_score_adj -1000: nobody is
// killable, and the kernel panics as 6.18's out_of_memory does; the run
// fails (exit 1) with the panic's message.
TEST(Reclaim, WithNobodyKillableTheOomKillerPanics) {
  const ReclaimRun r = run("oom-badness.yaml", {"workload.processes[0].oom_score_adj=-1000",
                                                "workload.processes[1].oom_score_adj=-1000",
                                                "workload.processes[2].oom_score_adj=-1000"},
                              "-unkillable");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("System is deadlocked on memory"), std::string::npos) << r.output;
  const std::string log = r.console();
  const size_t none = log.find("Out of memory and no killable processes...");
  EXPECT_NE(none, std::string::npos) << log;
  EXPECT_NE(log.find("Kernel panic - not syncing: System is deadlocked on memory", none), std::string::npos) << log;
  EXPECT_TRUE(r.oom_victims().empty());
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

// Swap used both ways and consistent: every anonymous page reclaimed was
// written to swap or was a clean copy of its slot read back earlier
// (pgsteal_anon <= pswpout + pswpin), each reclaimed page counted once by
// type and once by reclaimer, every page read from swap a refault of the
// shadow its eviction left, and every slot free again once the processes
// are gone (SwapFree back to SwapTotal).
void expect_swap_both_ways(const ReclaimRun& r) {
  auto v = [&](const char* item) { return r.proc("vmstat", item); };
  EXPECT_GT(v("pswpout"), 0);
  EXPECT_GT(v("pswpin"), 0);
  EXPECT_GT(v("pgsteal_anon"), 0) << "the reclaimed pages were anonymous";
  EXPECT_GE(v("pgscan_anon"), v("pgsteal_anon"));
  EXPECT_LE(v("pgsteal_anon"), v("pswpout") + v("pswpin"));
  EXPECT_EQ(v("pgsteal_anon") + v("pgsteal_file"),
            v("pgsteal_kswapd") + v("pgsteal_direct") + v("pgsteal_khugepaged") + v("pgsteal_proactive"));
  EXPECT_EQ(v("pgscan_anon") + v("pgscan_file"),
            v("pgscan_kswapd") + v("pgscan_direct") + v("pgscan_khugepaged") + v("pgscan_proactive"));
  EXPECT_EQ(v("workingset_refault_anon"), v("pswpin")) << "each swap-in (readahead too) found its shadow";
  EXPECT_GT(r.proc("meminfo", "SwapTotal"), 0);
  EXPECT_EQ(r.proc("meminfo", "SwapFree"), r.proc("meminfo", "SwapTotal"));
  EXPECT_EQ(r.proc("vmstat", "oom_kill"), 0) << "swap had room: nobody was killed";
}

TEST(Reclaim, AWorkingSetOneAndAHalfTimesMemorySwapsOutAndInWithEveryByteVerified) {
  const ReclaimRun r = run("swap-1.5x.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  expect_swap_both_ways(r);
  EXPECT_EQ(r["system.workload.app.verifiedReads"], (96 << 20) / 64) << "every byte read back and checked";
  EXPECT_GT(r.proc("vmstat", "allocstall_movable"), 0) << "the faults' allocations reclaimed directly";
  EXPECT_GT(r.proc("vmstat", "pgmajfault"), 0) << "swap-ins are major faults";
  EXPECT_GT(r["system.fw.vmstat.pgsteal_direct"] + r["system.fw.vmstat.pgsteal_kswapd"], 0);
  // The run's reclaim rate: what vmstat says reclaim freed, over the simulated time.
  EXPECT_EQ(r["system.reclaim.pagesReclaimed"], r["system.fw.vmstat.pgsteal_direct"] + r["system.fw.vmstat.pgsteal_kswapd"]);
  EXPECT_NEAR(r["system.reclaim.pagesReclaimedPerSecond"], r["system.reclaim.pagesReclaimed"] / r["simSeconds"],
              r["system.reclaim.pagesReclaimedPerSecond"] * 1e-3);
}

TEST(Reclaim, HugePagesUnderPressureAreSplitToSwap) {
  const ReclaimRun r = run("thp-swap.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  expect_swap_both_ways(r);
  EXPECT_GT(r.proc("vmstat", "thp_fault_alloc"), 0) << "the mapping got huge pages";
  EXPECT_GT(r.proc("vmstat", "thp_swpout_fallback"), 0) << "reclaim split them to swap them out";
  // Reclaim's splits for swap-out were the only splits, and every huge page
  // left memory that way: 128 MiB swept twice in order through 93 MiB
  // evicts each page before its next use.
  EXPECT_EQ(r.proc("vmstat", "thp_split_page"), r.proc("vmstat", "thp_swpout_fallback"));
  EXPECT_EQ(r.proc("vmstat", "thp_swpout_fallback"), r.proc("vmstat", "thp_fault_alloc"));
  EXPECT_EQ(r["system.workload.app.verifiedReads"], (128 << 20) / 64);
}

TEST(Reclaim, ANodeUnderPressureSpillsToTheOtherOne) {
  const ReclaimRun r = run("numa-node-pressure.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r);
  EXPECT_GT(r.proc("vmstat", "numa_miss"), 0) << "node 0's allocations fell back to node 1";
  // No reclaim: the fallback served every allocation. The one kswapd run
  // (a DMA-zone watermark boost) only skipped pages above ZONE_DMA.
  EXPECT_EQ(r.proc("vmstat", "pgsteal_kswapd") + r.proc("vmstat", "pgsteal_direct"), 0);
  EXPECT_EQ(r.proc("vmstat", "pswpout"), 0);
  EXPECT_EQ(r.proc("vmstat", "allocstall_movable"), 0) << "no allocation went to the slow path's reclaim";
  EXPECT_EQ(r.proc("vmstat", "pageoutrun"), 1);
  EXPECT_GT(r.proc("vmstat", "pgskip_dma32"), 0) << "kswapd's run was for ZONE_DMA";
  EXPECT_EQ(r["system.fw.node0.kswapd_failures"], 1);
  EXPECT_EQ(r["system.fw.node1.kswapd_failures"], 0);
  EXPECT_EQ(r.proc("vmstat", "oom_kill"), 0);
  EXPECT_EQ(r["system.workload.near.verifiedReads"], (160 << 20) / 64);
  EXPECT_EQ(r["system.workload.far.verifiedReads"], (32 << 20) / 64);
}

TEST(Reclaim, AStreamingReadDoesNotPushOutTheHotAnonymousSet) {
  const ReclaimRun r = run("workingset-stream.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean_end(r, true);
  const double hot_pages = (44 << 20) / 4096;
  // The streamed file went through the inactive file list and was
  // reclaimed there, with shadow entries; the hot set stayed resident.
  EXPECT_GT(r.proc("vmstat", "pgsteal_file"), (384 << 20) / 4096 / 2) << "most of the stream was reclaimed";
  EXPECT_LT(r.proc("vmstat", "pgmajfault"), hot_pages / 100) << "the hot set's major faults stay under 1% of it";
  EXPECT_LT(r.proc("vmstat", "pswpin"), hot_pages / 100);
  EXPECT_EQ(r.proc("vmstat", "workingset_activate_file"), 0) << "used-once pages never reach the active list";
  EXPECT_EQ(r["system.workload.hot.verifiedReads"], 12 * (44 << 20) / 4096) << "a line of every hot page, every round";
  EXPECT_EQ(r["system.workload.files.verifiedBytes"], 384 << 20);
  EXPECT_EQ(r["system.storage.mismatches"], 0);
}

}  // namespace
}  // namespace tb
