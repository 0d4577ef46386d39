// RAS on huge pages end to end: tb/scenarios/ras/hugetlb-*.yaml and
// thp-uc-record.yaml. An uncorrected error consumed in hugetlb memory
// (BUS_MCEERR_AR with si_addr_lsb 21, the huge page dissolved, the pool one
// page smaller), one found by the scrubber on a free pool page (dissolved,
// nobody killed), soft offline of a hugetlb page (same data, the pool one
// page smaller), an error consumed in a THP (split first, one 4 KiB page
// lost). Each scenario checks its own data and signals; this test asserts
// Linux's lines, the pool counters, HardwareCorrupted and the statistics.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kRas = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/ras/";


bool has_re(const std::string& text, const char* re) { return std::regex_search(text, std::regex(re)); }

TEST(RasHugetlb, ConsumedErrorInAHugetlbPageIsLsb21AndDissolvesIt) {
  const ScenarioRun r = run_scenario_file(kRas + "hugetlb-uc-record.yaml", "ras-huge-uc");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus held, the other huge page's loads checked
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("reader 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+45000 21 huge 0x45000")))
      << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("reader 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+00080 21 huge 0x100080")))
      << sig[1];
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has_re(console, "Memory failure: 0x[0-9a-f]+45: recovery action for huge page: Recovered")) << console;
  EXPECT_TRUE(has_re(console, "MCE: Killing reader:1 due to hardware memory corruption fault at [0-9a-f]+00080"))
      << console;
  // The bad huge page left the pool; the other came back to it at exit.
  EXPECT_EQ(r.proc("meminfo", "HugePages_Total"), 3);
  EXPECT_EQ(r.proc("meminfo", "HugePages_Free"), 3);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.fw.hugetlb.2M.nr_hugepages"], 3);
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.num_poisoned_pages"], 1);
  EXPECT_EQ(r["system.fw.mce.action_required"], 1);
  EXPECT_EQ(r["system.cpu0.core.skippedAccesses"], 2);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 2);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
  EXPECT_GE(r["system.workload.reader.verifiedReads"], 2 * 1024 * 1024 / 8) << "the other huge page read whole";
}

TEST(RasHugetlb, ScrubberFindsAnErrorOnAFreePoolPageAndDissolvesIt) {
  const ScenarioRun r = run_scenario_file(kRas + "hugetlb-free-uc.yaml", "ras-huge-free");
  ASSERT_EQ(r.status, 0) << r.output;  // nobody killed, the other huge page's loads checked
  const std::string console = r.file("console.log");
  // Found by the scrubber (bank 2, MCACOD 0xC0, SRAO), never consumed.
  EXPECT_TRUE(has_re(console, "Machine Check Exception: 5 Bank 2: bd000000000000c0")) << console;
  EXPECT_TRUE(has_re(console, "Memory failure: 0x[0-9a-f]+: recovery action for free huge page: Recovered")) << console;
  EXPECT_EQ(console.find("SIGBUS"), std::string::npos) << console;
  EXPECT_EQ(r.proc("meminfo", "HugePages_Total"), 3);
  EXPECT_EQ(r.proc("meminfo", "HugePages_Free"), 3);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.ras.scrubUncorrected"], 1);
  EXPECT_EQ(r["system.mem.node0.poisonConsumed"], 0);
  EXPECT_EQ(r["system.fw.mce.action_optional"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.signals"], 0);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
  EXPECT_GE(r["system.workload.worker.verifiedReads"], 2 * 1024 * 1024 / 8);
}

TEST(RasHugetlb, SoftOfflineMovesAHugePageAndShrinksThePool) {
  const ScenarioRun r = run_scenario_file(kRas + "hugetlb-soft-offline.yaml", "ras-huge-soft");
  ASSERT_EQ(r.status, 0) << r.output;  // every load equal to what was written, no signal
  const std::string console = r.file("console.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(console, m, std::regex("Soft offlining pfn 0x([0-9a-f]+) at process virtual address "
                                                       "0x([0-9a-f]+)")))
      << console;
  EXPECT_EQ(std::stoull(m[1].str(), nullptr, 16) & 0x1ff, 3u) << "the fourth 4 KiB page of a huge page";
  EXPECT_EQ(console.find("Soft offline: 0x"), std::string::npos) << "no failure line: " << console;
  EXPECT_EQ(r.proc("meminfo", "HugePages_Total"), 3);
  EXPECT_EQ(r.proc("meminfo", "HugePages_Free"), 3);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.fw.madvise.soft_offline"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.num_poisoned_pages"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.node0.total"], 0) << "soft offline counts no memory_failure() outcome";
  EXPECT_TRUE(r.signal_lines().empty());
  EXPECT_GE(r["system.workload.app.verifiedReads"], 2 * 4 * 1024 * 1024 / 8);
}

TEST(RasThp, ConsumedErrorInATransparentHugePageSplitsItAndLosesOnePage) {
  const ScenarioRun r = run_scenario_file(kRas + "thp-uc-record.yaml", "ras-thp-uc");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus held, the other 2047 pages' loads checked
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("thp 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+11000 12 buf 0x411000")))
      << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("thp 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+11100 12 buf 0x411100")))
      << sig[1];
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has_re(console, "Memory failure: 0x[0-9a-f]+11: recovery action for dirty LRU page: Recovered")) << console;
  EXPECT_EQ(console.find("unsplit thp"), std::string::npos) << console;
  EXPECT_GE(r.proc("vmstat", "thp_fault_alloc"), 3) << "THPs mapped the aligned 2 MiB ranges";
  EXPECT_EQ(r.proc("vmstat", "thp_split_page"), 1) << "the THP holding the error, split first";
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
  EXPECT_GE(r["system.workload.thp.verifiedReads"], (8 * 1024 * 1024 - 4096) / 8);
}

}  // namespace
}  // namespace tb
