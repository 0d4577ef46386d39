// The recovery matrix of docs/ras.md end to end, for anonymous memory and
// page tables: tb/scenarios/ras/{anon-early-kill, anon-late-kill,
// madvise-hwpoison-anon, soft-offline-pfn, pgtable-uc, uc-ifetch,
// zero-page-hwpoison}.yaml. Each scenario checks itself (every load against
// the shadow, expect_sigbus, expect_signal, the pagemap checks); this test
// asserts what the scenarios cannot say about themselves: Linux 6.18's
// lines, the signals in signals.txt, HardwareCorrupted rising by exactly one
// page, the counters, and that a poisoned page table stays out of use.
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kRas = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/ras/";

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

TEST(RasMatrix, EarlyKillSignalsTheOtherMapperWhenMemoryFailureRuns) {
  const ScenarioRun r = run_scenario_file(kRas + "anon-early-kill.yaml", "ras-early");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus of both, every other load checked
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("parent 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+000 12 buf 0x0"))) << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("child 2 SIGBUS BUS_MCEERR_AO 0x[0-9a-f]+000 12 buf 0x0"))) << sig[1];
  const std::string console = r.file("console.log");
  // A forked child keeps its parent's comm (no exec).
  EXPECT_TRUE(std::regex_search(console, std::regex("Memory failure: 0x[0-9a-f]+: Sending SIGBUS to parent:1 due to "
                                                    "hardware memory corruption")))
      << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("Memory failure: 0x[0-9a-f]+: Sending SIGBUS to parent:2 due to "
                                                    "hardware memory corruption")))
      << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("recovery action for dirty LRU page: Recovered"))) << console;
  // Signalled when memory_failure() ran, not on a touch: no fault on a
  // hwpoison entry, and only the parent's consuming load was skipped.
  EXPECT_FALSE(has(console, "MCE: Killing")) << console;
  EXPECT_EQ(r["system.cpu0.core.skippedAccesses"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.signals"], 2);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 2);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4) << "exactly one 4 kB page";
  EXPECT_EQ(r["system.workload.child.verifiedReads"], 4096 / 8);  // the second page, intact
}

TEST(RasMatrix, LateKillLeavesAPoisonEntryThatTheOtherMapperMeetsOnItsTouch) {
  const ScenarioRun r = run_scenario_file(kRas + "anon-late-kill.yaml", "ras-late");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 3u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("parent 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+000 12 buf 0x0"))) << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("parent 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+040 12 buf 0x40"))) << sig[1];
  EXPECT_TRUE(std::regex_match(sig[2], std::regex("child 2 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+100 12 buf 0x100"))) << sig[2];
  const std::string console = r.file("console.log");
  // Only the caller of madvise is signalled by memory_failure(); the child
  // hears of it from its own hwpoison entry.
  EXPECT_EQ(count_of(console, "due to hardware memory corruption\n"), 1u) << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("Sending SIGBUS to parent:1 due to"))) << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("MCE: Killing parent:2 due to hardware memory corruption fault at "
                                                    "[0-9a-f]+100\n")))
      << console;
  EXPECT_EQ(r["system.fw.memory_failure.signals"], 1);
  EXPECT_EQ(r["system.cpu0.core.skippedAccesses"], 2);
  EXPECT_EQ(r["system.fw.madvise.hwpoison"], 1);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.workload.child.verifiedReads"], 4096 / 8);
  EXPECT_EQ(r["system.workload.parent.verifiedReads"], 4096 / 8);
}

TEST(RasMatrix, MadviseHwpoisonOfAWrittenAnonymousPageIsSigbusAtThePage) {
  const ScenarioRun r = run_scenario_file(kRas + "madvise-hwpoison-anon.yaml", "ras-madv-hard");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("app 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+000 12 buf 0x1000"))) << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("app 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+080 12 buf 0x1080"))) << sig[1];
  const std::string console = r.file("console.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(console, m, std::regex("Injecting memory failure for pfn (0x[0-9a-f]+) at process "
                                                       "virtual address 0x[0-9a-f]+000\n")))
      << console;
  EXPECT_TRUE(has(console, "Memory failure: " + m[1].str() + ": recovery action for dirty LRU page: Recovered"))
      << console;
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.fw.madvise.hwpoison"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  EXPECT_EQ(r["system.workload.app.verifiedReads"], 2 * 4096 / 8);  // the other two pages
}

TEST(RasMatrix, SoftOfflineMovesThePageToAnotherPfnWithItsData) {
  const ScenarioRun r = run_scenario_file(kRas + "soft-offline-pfn.yaml", "ras-soft-pfn");
  ASSERT_EQ(r.status, 0) << r.output;  // differs_from and same_as held, every load checked
  EXPECT_TRUE(has(r.file("console.log"), "Soft offlining pfn 0x")) << r.file("console.log");
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.workload.app.verifiedReads"], 3 * 4096 / 8);
  EXPECT_TRUE(r.signal_lines().empty());
  // The check can fail: the soft-offlined page is not where it was.
  const std::string dir = temp_dir("ras-soft-pfn-same");
  std::string text = read_file(kRas + "soft-offline-pfn.yaml");
  text.replace(text.find("differs_from: before"), 20, "same_as: before");
  const RunResult bad = run_mmcosim({"run", write_file(dir, "s.yaml", text), "--outdir", dir + "/out"});
  EXPECT_EQ(bad.status, 1) << bad.output;
  EXPECT_TRUE(std::regex_search(bad.output, std::regex("buf\\+0x1000 is backed by pfn 0x[0-9a-f]+ now, not by pfn "
                                                       "0x[0-9a-f]+ \\('before'\\) as expected")))
      << bad.output;
}

TEST(RasMatrix, APoisonedPageTableKillsItsOwnerAndIsNeverReused) {
  const ScenarioRun r = run_scenario_file(kRas + "pgtable-uc.yaml", "ras-pgtable");
  ASSERT_EQ(r.status, 0) << r.output;  // victim died of SIGBUS, the bystander's data checked
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "Machine Check Exception: 7 Bank 0: bd80000000000134")) << console;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(console, m, std::regex("ADDR ([0-9a-f]+)[0-9a-f]{3} MISC 86"))) << console;
  const std::string pfn = "0x" + m[1].str();
  EXPECT_TRUE(has(console, "Memory failure: " + pfn + ": unhandlable page.")) << console;
  EXPECT_TRUE(has(console, "Memory failure: " + pfn + ": recovery action for get hwpoison page: Ignored")) << console;
  EXPECT_TRUE(has(console, "mce: Memory error not recovered")) << console;
  EXPECT_EQ(r["system.fw.mce.in_page_walk"], 1);
  EXPECT_EQ(r["system.fw.mce.action_required"], 1);
  EXPECT_EQ(r["system.fw.memory_failure.node0.ignored"], 1);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 1);
  EXPECT_EQ(r["system.fw.task.sigbus"], 1);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.workload.victim.verifiedReads"], 0);
  EXPECT_GT(r["system.workload.bystander.verifiedReads"], (32u << 20) / 8);
  // The same run again, its page looked at once the run ended: kept (one
  // reference, owned by nobody), poisoned, neither free nor a page table.
  const std::string dir = temp_dir("ras-pgtable-page");
  const std::string script = write_file(dir, "cmds", "continue\npage " + pfn + "\n");
  const RunResult again = run_mmcosim({"run", kRas + "pgtable-uc.yaml", "--script", script, "--outdir", dir + "/out"});
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_TRUE(std::regex_search(again.output, std::regex("pfn " + pfn + " node 0 zone [A-Za-z0-9]+ refcount 1 mapcount 0 "
                                                         "flags hwpoison\n")))
      << again.output;
}

TEST(RasMatrix, AnInstructionFetchConsumingPoisonIsLoggedInTheFetchBank) {
  const ScenarioRun r = run_scenario_file(kRas + "uc-ifetch.yaml", "ras-ifetch");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_signal: SIGBUS held
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "Machine Check Exception: 7 Bank 1: bd80000000000150")) << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("ADDR [0-9a-f]+100 MISC 86"))) << console;
  EXPECT_TRUE(std::regex_search(console, std::regex("recovery action for dirty LRU page: Recovered"))) << console;
  EXPECT_EQ(r["system.fw.mce.action_required"], 1);
  EXPECT_EQ(r["system.fw.mce.in_page_walk"], 0);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 1);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
}

TEST(RasMatrix, MadviseHwpoisonOfAnUntouchedPagePoisonsTheZeroPageAndALaterWriteIsNoSigbus) {
  const ScenarioRun r = run_scenario_file(kRas + "zero-page-hwpoison.yaml", "ras-zero");
  ASSERT_EQ(r.status, 0) << r.output;  // madvise EBUSY, no SIGBUS, every load checked
  const std::string console = r.file("console.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(console, m, std::regex("Injecting memory failure for pfn (0x[0-9a-f]+) at process "
                                                       "virtual address")))
      << console;
  EXPECT_TRUE(has(console, "Memory failure: " + m[1].str() + ": recovery action for reserved kernel page: Ignored"))
      << console;
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.workload.app.failedSyscalls"], 1);
  EXPECT_EQ(r["system.workload.app.verifiedReads"], 2 * 4096 / 8);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 0);
  EXPECT_TRUE(r.signal_lines().empty());
}

}  // namespace
}  // namespace tb
