// RAS end to end: tb/scenarios/ras/*.yaml (a consumed uncorrected error
// kills its process with SIGBUS after Linux's machine-check lines; the
// patrol scrubber finds errors on free pages, reports and corrects them,
// and nobody dies; corrected errors on one page make the corrected-error
// collector soft-offline it), and the monitor's `poison PID:VA`, `mce`,
// `unpoison` on a running process and `hwpoison` (with its unpoison).
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kRas = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/ras/";

TEST(Ras, ConsumedUncorrectedErrorIsSigbusWithLinuxLines) {
  const ScenarioRun r = run_scenario_file(kRas + "uc-load-sigbus.yaml", "ras-sigbus");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_signal: SIGBUS held
  const std::string console = r.file("console.log");
  EXPECT_NE(console.find("mce: [Hardware Error]: CPU 0: Machine Check Exception: 7 Bank 0: bd80000000000134"),
            std::string::npos)
      << console;
  EXPECT_NE(console.find("mce: [Hardware Error]: TSC "), std::string::npos);
  // The line the process injected (its buffer's second line), wherever the firmware put the page.
  std::smatch addr;
  ASSERT_TRUE(std::regex_search(console, addr, std::regex("ADDR ([0-9a-f]+)040 MISC 86"))) << console;
  EXPECT_NE(console.find("Memory failure: 0x" + addr[1].str() + ":"), std::string::npos) << console;
  EXPECT_EQ(r["system.ras.injected"], 0) << "EINJ from the process, not platform.ras.inject";
  EXPECT_EQ(r["system.mem.node0.poisonInjected"], 1);
  EXPECT_EQ(r["system.ras.ucConsumed"], 1);
  EXPECT_EQ(r["system.cpu0.core.machineChecks"], 1);
  EXPECT_EQ(r["system.fw.mce.action_required"], 1);
  EXPECT_EQ(r["system.fw.mce.records"], 1);
  EXPECT_EQ(r["system.fw.mce.panics"], 0);
}

TEST(Ras, ScrubberFindsErrorsOnFreePagesAndKillsNobody) {
  const ScenarioRun r = run_scenario_file(kRas + "scrub-free-page.yaml", "ras-scrub");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string console = r.file("console.log");
  // 0x8000000 is line 2097152: found at 2.097 ms with one line per ns.
  EXPECT_NE(console.find("[    0.002098] mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 2: "
                         "bd000000000000c0"),
            std::string::npos)
      << console;
  // memory_failure(pfn, 0): the free page leaves the buddy lists.
  EXPECT_NE(console.find("Memory failure: 0x8000: recovery action for free buddy page: Recovered"),
            std::string::npos)
      << console;
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  // The corrected record goes to the corrected-error collector, which
  // handles it (one error, below the threshold of 2): 6.18 does not print
  // such a record; the notification still comes.
  EXPECT_EQ(console.find("Machine Check: 0 Bank 2: 9c000040000000c0"), std::string::npos) << console;
  EXPECT_NE(console.find("mce: [Hardware Error]: Machine check events logged"), std::string::npos);
  EXPECT_EQ(r["system.fw.cec.ces_entered"], 1);
  EXPECT_EQ(r["system.fw.cec.pfns_poisoned"], 0);
  EXPECT_EQ(console.find("SIGBUS"), std::string::npos);
  EXPECT_EQ(r["system.ras.scrubUncorrected"], 1);
  EXPECT_EQ(r["system.ras.scrubCorrected"], 1);
  EXPECT_EQ(r["system.ras.cmci"], 1);
  EXPECT_EQ(r["system.mem.node0.poisonConsumed"], 0);  // found, never consumed
  EXPECT_EQ(r["system.fw.mce.action_optional"], 1);
  EXPECT_EQ(r["system.fw.mce.corrected"], 1);
  EXPECT_EQ(r["system.fw.mce.cmci"], 1);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
  // Without the scrubber, the same errors stay unseen.
  const ScenarioRun off = run_scenario_file(kRas + "scrub-free-page.yaml", "ras-scrub-off",
                                            {"platform.ras.scrub_period=0ns"});
  ASSERT_EQ(off.status, 0) << off.output;
  EXPECT_EQ(off["system.ras.scrubUncorrected"], 0);
  EXPECT_EQ(off["system.fw.mce.records"], 0);
}

TEST(Ras, MonitorPoisonsByPidVaShowsBanksAndUnpoisons) {
  const std::string dir = temp_dir("ras-monitor");
  const std::string scenario = write_file(dir, "s.yaml",
                                          "workload:\n  processes:\n    - name: app\n      ops:\n"
                                          "        - mmap: {region: a, size: 8KiB}\n"
                                          "        - write: {region: a}\n"
                                          "        - read: {region: a}\n");
  // Stop after the first store, make its page's line correctable then
  // poisoned, clear it again (the process reads good data), then poison
  // the second page for good: the read there is SIGBUS.
  const std::string script = write_file(dir, "cmds",
                                        "until fault\nstep 2\n"
                                        "poison 1:0x7ffff7ffd000 ce\n"
                                        "poison 1:0x7ffff7ffd000\n"
                                        "unpoison 1:0x7ffff7ffd000\n"
                                        "poison 1:0x7ffff7ffd000 bogus\n"
                                        "poison 1:0x1234\n"
                                        "until fault\nstep 2\n"
                                        "poison 1:0x7ffff7ffe080\n"
                                        "until mce\nmce\ncontinue\nquit\n");
  const RunResult r = run_mmcosim({"run", scenario, "--script", script, "--outdir", dir + "/out"});
  EXPECT_EQ(r.status, 1) << r.output;  // app was killed by SIGBUS, which the scenario did not expect
  EXPECT_TRUE(std::regex_search(r.output, std::regex("gave a correctable error to the line at 0x[0-9a-f]+000\n")))
      << r.output;
  EXPECT_NE(r.output.find("cleared\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the error is uc (uncorrected) or ce (correctable)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("0x1234 is not mapped in pid 1"), std::string::npos) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("poisoned the line at 0x[0-9a-f]+080\n")));
  EXPECT_TRUE(std::regex_search(r.output, std::regex("bank 0 \\(data\\): STATUS bd80000000000134 ADDR [0-9a-f]+080 MISC 86")))
      << r.output;
  EXPECT_NE(r.output.find("app (pid 1, cpu0): killed by SIGBUS"), std::string::npos) << r.output;
}

TEST(Ras, CorrectedErrorsOnOnePageMakeTheCollectorOfflineIt) {
  const std::string dir = temp_dir("ras-cec");
  // Two corrected errors in one free page (0x9000), found by two passes of
  // the scrubber: the collector's threshold (2) soft-offlines the page.
  const std::string scenario = write_file(dir, "s.yaml",
                                          "platform:\n  memory: {size: 256MiB}\n"
                                          "  ras:\n    scrub_period: 1ns\n    cmci_threshold: 1\n"
                                          "    inject:\n"
                                          "      - {pa: 0x9000080, error: ce, at: 0ns}\n"
                                          "      - {pa: 0x9000100, error: ce, at: 3ms}\n"
                                          "workload:\n  processes:\n    - name: app\n      ops:\n"
                                          "        - mmap: {region: a, size: 32MiB}\n"
                                          "        - write: {region: a}\n"
                                          "        - read: {region: a}\n"
                                          "        - write: {region: a}\n"
                                          "        - read: {region: a}\n");
  const std::string script = write_file(dir, "cmds",
                                        "until time 8ms\nhwpoison\n"
                                        "hwpoison unpoison 0x9000\nhwpoison unpoison 0x9000\n"
                                        "hwpoison\ncontinue\nquit\n");
  const RunResult r = run_mmcosim({"run", scenario, "--script", script, "--outdir", dir + "/out"});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string console = read_file(dir + "/out/console.log");
  EXPECT_NE(console.find("RAS: Soft-offlining pfn: 0x9000"), std::string::npos) << console;
  EXPECT_NE(r.output.find("num_poisoned_pages: 1\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("node0 memory_failure: total 0 ignored 0 failed 0 delayed 0 recovered 0\n"),
            std::string::npos);
  EXPECT_NE(r.output.find("Stats:\nCEs: 2\nofflined pages: 1\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pfn 0x9000 unpoisoned\n"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("pfn 0x9000 not unpoisoned: Device or resource busy"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("num_poisoned_pages: 0\n"), std::string::npos) << r.output;
  EXPECT_NE(console.find("Unpoison: 0x9000: software-unpoisoned page"), std::string::npos) << console;
  EXPECT_NE(console.find("Unpoison: 0x9000: page was already unpoisoned"), std::string::npos) << console;
}

TEST(Ras, ConsumedByAnInstructionFetchIsLoggedInTheFetchBank) {
  const std::string dir = temp_dir("ras-fetch");
  const std::string scenario = write_file(dir, "s.yaml",
                                          "workload:\n  processes:\n    - name: jit\n      expect_signal: SIGBUS\n"
                                          "      ops:\n"
                                          "        - mmap: {region: code, size: 4KiB, prot: rwx}\n"
                                          "        - write: {region: code}\n"
                                          "        - fetch: {region: code}\n");
  const std::string script =
      write_file(dir, "cmds", "until fault\nstep 2\npoison 1:0x7ffff7ffe100\nuntil mce\nmce\ncontinue\nquit\n");
  const RunResult r = run_mmcosim({"run", scenario, "--script", script, "--outdir", dir + "/out"});
  ASSERT_EQ(r.status, 0) << r.output;
  // SRAR, MCACOD 0x150 (instruction fetch), in bank 1.
  EXPECT_TRUE(std::regex_search(r.output, std::regex("bank 1 \\(fetch\\): STATUS bd80000000000150 ADDR [0-9a-f]+100")))
      << r.output;
  const std::string console = read_file(dir + "/out/console.log");
  EXPECT_NE(console.find("Machine Check Exception: 7 Bank 1: bd80000000000150"), std::string::npos) << console;
}


TEST(Ras, SoftOfflineOfAnAnonymousPageKeepsItsDataAndRetiresTheOldPage) {
  const ScenarioRun r = run_scenario_file(kRas + "soft-offline-anon.yaml", "ras-soft-anon");
  ASSERT_EQ(r.status, 0) << r.output;  // every load equal to what the process wrote, no signal (expect_sigbus: [])
  const std::string console = r.file("console.log");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(console, m, std::regex("Soft offlining pfn (0x[0-9a-f]+) at process virtual address "
                                                       "(0x[0-9a-f]+)")))
      << console;
  EXPECT_EQ(std::stoull(m[2].str(), nullptr, 16) & 0xfff, 0u);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4) << "exactly one 4 kB page retired";
  EXPECT_EQ(r["system.fw.madvise.soft_offline"], 1);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 0);
  EXPECT_TRUE(r.signal_lines().empty());
  EXPECT_GT(r["system.workload.app.verifiedReads"], 4096 / 8 * 2 - 1);
}

TEST(Ras, AProcessWithASigbusHandlerSurvivesAConsumedErrorAndMeetsThePoisonEntryLater) {
  const ScenarioRun r = run_scenario_file(kRas + "uc-load-record.yaml", "ras-uc-record");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus held, every other load checked
  const std::vector<std::string> sig = r.signal_lines();
  ASSERT_EQ(sig.size(), 2u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("reader 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+000 12 buf 0x0"))) << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("reader 1 SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+080 12 buf 0x80"))) << sig[1];
  const std::string console = r.file("console.log");
  EXPECT_TRUE(std::regex_search(console, std::regex("Memory failure: 0x[0-9a-f]+: recovery action for dirty LRU page: "
                                                    "Recovered")))
      << console;
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.cpu0.core.skippedAccesses"], 2);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 2);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
}

TEST(Ras, CorrectedErrorsInjectedByAProcessMakeTheCollectorOfflineItsPage) {
  const ScenarioRun r = run_scenario_file(kRas + "ce-collector-offline.yaml", "ras-cec-einj");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string console = r.file("console.log");
  EXPECT_NE(console.find("RAS: Soft-offlining pfn: 0x"), std::string::npos) << console;
  EXPECT_EQ(r["system.mem.node0.correctableInjected"], 1);
  EXPECT_GE(r["system.ras.ceLogged"], 2);
  EXPECT_EQ(r["system.fw.cec.offlined"], 1);
  // The collector swallows the records below its threshold; the one that
  // reaches it is printed (6.18's cec_notifier), and only that one.
  EXPECT_EQ(r["system.fw.cec.ces_entered"], r["system.fw.mce.corrected"]);
  EXPECT_EQ(r["system.fw.cec.pfns_poisoned"], 1);
  EXPECT_EQ(r["system.fw.mce.records"], 1);
  const std::string printed = "mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 2: 9c";
  const size_t at = console.find(printed);
  EXPECT_NE(at, std::string::npos) << console;
  EXPECT_EQ(console.find(printed, at + 1), std::string::npos) << console;
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.fw.task.sigbus_handled"], 0);
  EXPECT_TRUE(r.signal_lines().empty());
}

}  // namespace
}  // namespace tb
