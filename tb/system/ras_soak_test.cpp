// The RAS soak end to end (tb/scenarios/ras/random-soak.yaml): thousands of
// random uncorrected and correctable errors across every page state the
// scenario covers, each memory_failure() outcome equal to what the soak's
// oracle predicts from Linux 6.18's table, every load correct or answered
// by SIGBUS, the files equal to the disk; and the key's bad input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kRas = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/ras/";

// The states the scenario claims to cover (its default weights).
const char* const kCovered[] = {"anon",      "anon_shared", "anon_mlocked", "anon_thp", "file_clean", "file_mapped",
                                "swapcache", "free",        "slab",         "pgtable",  "reserved"};

TEST(RasSoak, ThousandsOfRandomErrorsNoSilentCorruptionEveryOutcomeAsLinux) {
  const ScenarioRun r = run_scenario_file(kRas + "random-soak.yaml", "ras-soak");
  ASSERT_EQ(r.status, 0) << r.output;  // no wrong value, no oracle mismatch, the files as on the disk
  EXPECT_NE(r.output.find("ras soak: 2000 injections"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0 wrong values"), std::string::npos) << r.output;
  EXPECT_EQ(r["system.storage.filesVerified"], 2) << "both files (data, cold) were checked against the disk";
  EXPECT_EQ(r["system.soak.injected"], 2000);
  EXPECT_EQ(r["system.soak.oracle.mismatches"], 0);
  EXPECT_EQ(r["system.soak.oracle.unpredicted"], 0);
  EXPECT_GT(r["system.soak.oracle.calls"], 500);
  EXPECT_EQ(r["system.soak.oracle.matches"], r["system.soak.oracle.calls"]);
  for (const char* s : kCovered)
    EXPECT_GT(r["system.soak.uc." + std::string(s)] + r["system.soak.ce." + std::string(s)], 0) << s;
  EXPECT_GT(r["system.soak.softwareInjected"], 0);
  EXPECT_GT(r["system.soak.injectedCe"], 0);
  // The rows the run goes through, each matched.
  for (const char* row : {"free_buddy_page__Recovered", "get_hwpoison_page__Ignored", "dirty_LRU_page__Recovered",
                          "clean_LRU_page__Recovered", "already_poisoned_page__Failed"})
    EXPECT_GT(r["system.soak.oracle.row." + std::string(row)], 0) << row;
  // Consumed by loads (#MC), found by the scrubber (SRAO), corrected (CMCI, the collector).
  EXPECT_GT(r["system.ras.ucConsumed"], 0);
  EXPECT_GT(r["system.ras.scrubUncorrected"], 0);
  EXPECT_GT(r["system.ras.cmci"], 0);
  EXPECT_GT(r["system.fw.cec.ces_entered"], 0);
  EXPECT_EQ(r["system.fw.mce.panics"], 0);
  EXPECT_GT(r["system.fw.task.sigbus_handled"], 0);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"] + r["system.cpu1.core.tasksKilled"], 0);
  EXPECT_NE(r.file("signals.txt").find("BUS_MCEERR_AR"), std::string::npos);
}

TEST(RasSoak, BadKeysAreOneLineErrors) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"platform.ras.random.count=0", "count"},
      {"platform.ras.random.ce_percent=101", "ce_percent"},
      {"platform.ras.random.period=0us", "period"},
      {"platform.ras.random.samples=0", "samples"},
      {"platform.ras.random.weights.anon=0", "weights"},
      {"platform.ras.random.weights.bogus=1", "unknown page state"},
  };
  for (const auto& [set, key] : bad) {
    const ScenarioRun r = run_scenario_file(kRas + "random-soak.yaml", "ras-soak-bad", {set});
    EXPECT_EQ(r.status, 2) << set << ": " << r.output;
    EXPECT_NE(r.output.find(key), std::string::npos) << set << ": " << r.output;
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "one line: " << r.output;
  }
}

}  // namespace
}  // namespace tb
