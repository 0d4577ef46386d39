// End-to-end runs of the mmcosim binary: the default scenario's statistics
// agree with each other, runs are deterministic, bad input gets one line and
// a non-zero exit, and a killed process does not stop the platform.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <regex>
#include <set>
#include <sstream>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

int count_lines(const std::string& s) { return static_cast<int>(std::count(s.begin(), s.end(), '\n')); }

TEST(DefaultScenario, StatisticsAgreeWithEachOther) {
  const std::string out = temp_dir("default-stats");
  RunResult r = run_mmcosim({"run", "--outdir", out, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_stats(out + "/stats.txt");

  // Demand paging 64 MiB of 4 KiB pages by writes: one fault per page.
  EXPECT_EQ(s.at("system.cpu0.core.pageFaults"), 16384);
  EXPECT_EQ(s.at("system.cpu0.mmu.pageFaults"), 16384);
  EXPECT_EQ(s.at("system.fw.vmstat.pgfault"), 16384);
  EXPECT_EQ(s.at("system.fw.fault.anon"), 16384);

  // Every word written, every word read back and checked.
  const double reads = s.at("system.cpu0.core.reads"), writes = s.at("system.cpu0.core.writes");
  EXPECT_EQ(writes, 64 << 20 >> 3);
  EXPECT_EQ(reads, 64 << 20 >> 3);
  EXPECT_EQ(s.at("system.workload.app.verifiedReads"), reads);

  // An access either completes on the fast path or goes through the MMU's
  // socket, once more for every fault it took.
  EXPECT_EQ(s.at("system.cpu0.core.fastAccesses") + s.at("system.cpu0.mmu.slowAccesses") -
                s.at("system.cpu0.core.pageFaults"),
            reads + writes);
  // Every fault was found by a walk, and every faulting access walked again.
  EXPECT_GE(s.at("system.cpu0.mmu.walker.walks"), 2 * 16384);
  EXPECT_EQ(s.at("system.cpu0.mmu.walker.faultsNotPresent"), 16384);

  // The free pages fell by at least the pages faulted in, and came back
  // when the process exited.
  const double boot_free = s.at("system.fw.buddy.boot_free_pages");
  EXPECT_GE(boot_free - s.at("system.fw.buddy.min_free_pages"), 16384);
  EXPECT_EQ(s.at("system.fw.buddy.free_pages"), boot_free);
  EXPECT_GT(s.at("simSeconds"), 0);

  // The other outputs exist and hold what they should.
  EXPECT_NE(read_file(out + "/config.json").find("\"platform\""), std::string::npos);
  EXPECT_NE(read_file(out + "/proc/meminfo").find("MemTotal:"), std::string::npos);
  EXPECT_NE(read_file(out + "/proc/buddyinfo").find("Node 0, zone"), std::string::npos);
  EXPECT_NE(r.output.find("16384 page faults"), std::string::npos) << r.output;
}

TEST(DefaultScenario, TwoRunsGiveByteIdenticalStatistics) {
  const std::string a = temp_dir("det-a"), b = temp_dir("det-b");
  ASSERT_EQ(run_mmcosim({"run", "--outdir", a, "-q", "--no-progress"}).status, 0);
  ASSERT_EQ(run_mmcosim({"run", "--outdir", b, "-q", "--no-progress"}).status, 0);
  const std::string sa = read_file(a + "/stats.txt"), sb = read_file(b + "/stats.txt");
  EXPECT_GT(sa.size(), 1000u);
  EXPECT_TRUE(sa == sb) << "stats.txt differs between two runs of the same seed and scenario";
  EXPECT_EQ(read_file(a + "/stats.json"), read_file(b + "/stats.json"));
}

// config.json holds every resolved key, the default devices' included (as
// a scenario's own devices would be): a run from it resolves the same
// configuration, key for key, and gives the same statistics.
TEST(DefaultScenario, ConfigJsonRunsTheSameMachine) {
  const std::string a = temp_dir("replay-a"), b = temp_dir("replay-b");
  ASSERT_EQ(run_mmcosim({"run", "--outdir", a, "-q", "--no-progress"}).status, 0);
  RunResult r = run_mmcosim({"run", a + "/config.json", "--outdir", b, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(read_file(a + "/stats.txt"), read_file(b + "/stats.txt"));
  // Byte for byte: keys are recorded in the order they are read, given or
  // defaulted (a TLB array's ways before its sets).
  const std::string config = read_file(a + "/config.json");
  EXPECT_EQ(config, read_file(b + "/config.json"));
  EXPECT_TRUE(std::regex_search(config, std::regex(R"("name": "dma1",[^}]*"burst": 64,[^}]*"bandwidth": "1GiB/s",)"
                                                   R"([^}]*"setup": "200ns")")))
      << config;
}

// A debug line names its model as stats.txt does ("<tick>: system.mem.node0:
// ..."), in runs that make every model with debug lines print; the
// firmware's console lines name their CPU (system.cpu0.console).
TEST(DebugFlags, LinesNameTheirModelAsTheStatisticsDo) {
  const std::string dir = temp_dir("debug-names");
  const std::string scenarios = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/";
  const std::vector<std::vector<std::string>> runs = {{"ras/uc-load-record.yaml"},
                                                      {"dma/driver-bug.yaml"},
                                                      {"storage/media-error.yaml"},
                                                      {"first-walks.yaml", "--walker=lockstep"}};
  const std::regex line(R"(^ *[0-9]+: ([^ :]+): )");
  std::set<std::string> named;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string out = dir + "/" + std::to_string(i);
    std::vector<std::string> args = {"run", scenarios + runs[i][0], "--outdir", out, "-q", "--no-progress",
                                     "--debug-flags=All"};
    args.insert(args.end(), runs[i].begin() + 1, runs[i].end());
    const RunResult r = run_mmcosim(args);
    ASSERT_EQ(r.status, 0) << r.output;
    std::set<std::string> groups;  // every group of stats.txt
    for (const auto& [name, value] : read_stats(out + "/stats.txt"))
      for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
        groups.insert(name.substr(0, dot));
    std::istringstream lines(r.output);
    std::smatch m;
    for (std::string l; std::getline(lines, l);) {
      if (!std::regex_search(l, m, line)) continue;
      std::string who = m[1];
      named.insert(who);
      const std::string console = ".console";
      if (who.size() > console.size() && who.compare(who.size() - console.size(), console.size(), console) == 0)
        who.resize(who.size() - console.size());
      EXPECT_TRUE(groups.count(who)) << runs[i][0] << ": a debug line names " << m[1] << ", which stats.txt does not";
    }
  }
  for (const char* model : {"system.mem.node0", "system.ras", "system.cpu0.mmu.walker", "system.cpu0.mmu.lockstep",
                            "system.dma.dma1", "system.dma.checker", "system.block.disk0"})
    EXPECT_TRUE(named.count(model)) << "no debug line of " << model;
}

TEST(Seeds, TheSeedDrivesRandomPatternsAndNothingElse) {
  const std::string dir = temp_dir("seeds");
  const std::string f = write_file(dir, "s.yaml",
                                   "platform: {memory: {size: 1GiB}}\n"
                                   "workload:\n  processes:\n    - name: r\n      ops:\n"
                                   "        - mmap: {region: b, size: 32MiB}\n"
                                   "        - access: {region: b, pattern: random, count: 20000, writes: 0.5}\n");
  auto run = [&](const std::string& seed, const std::string& out) {
    RunResult r = run_mmcosim({"run", f, "--outdir", dir + "/" + out, "-q", "--no-progress", "--seed", seed});
    EXPECT_EQ(r.status, 0) << r.output;
    return read_file(dir + "/" + out + "/stats.txt");
  };
  const std::string a1 = run("1", "a1"), a2 = run("1", "a2"), b = run("2", "b");
  EXPECT_EQ(a1, a2);
  EXPECT_NE(a1, b) << "a different seed must change which pages a random pattern touches";
}

// ---- Bad input: one line naming file, line and key; exit status 2 ----

void expect_one_line_error(const RunResult& r, const std::string& pattern) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(pattern))) << "output: " << r.output << "\nwanted: " << pattern;
}

TEST(BadInput, UnknownKeyNamesFileLineAndKey) {
  const std::string dir = temp_dir("unknown-key");
  const std::string f = write_file(dir, "s.yaml", "platform:\n  cores: 1\n  memroy:\n    size: 1GiB\n");
  expect_one_line_error(run_mmcosim({"run", f, "--outdir", dir + "/out"}),
                        "^mmcosim: .*s\\.yaml:3: platform\\.memroy: unknown key \\(did you mean 'memory'\\?\\)\n$");
}

TEST(BadInput, UnknownKeyInAnOperation) {
  const std::string dir = temp_dir("unknown-op-key");
  const std::string f = write_file(dir, "s.yaml",
                                   "workload:\n  processes:\n    - name: a\n      ops:\n"
                                   "        - mmap: {region: r, size: 1MiB, sise: 2}\n");
  expect_one_line_error(run_mmcosim({"run", f, "--outdir", dir + "/out"}),
                        "s\\.yaml:5: workload\\.processes\\[0\\]\\.ops\\[0\\]\\.mmap\\.sise: unknown key");
}

TEST(BadInput, WrongTypeNamesFileLineAndKey) {
  const std::string dir = temp_dir("wrong-type");
  const std::string f = write_file(dir, "s.yaml", "platform:\n  memory:\n    size: lots\n");
  expect_one_line_error(run_mmcosim({"run", f, "--outdir", dir + "/out"}),
                        "s\\.yaml:3: platform\\.memory\\.size: expected a size");
}

TEST(BadInput, OverlappingMemoryMap) {
  const std::string dir = temp_dir("overlap");
  const std::string f = write_file(dir, "s.yaml",
                                   "platform:\n  memory:\n    size: 1GiB\n    e820:\n"
                                   "      - {start: 0, size: 512MiB}\n"
                                   "      - {start: 256MiB, size: 512MiB}\n");
  expect_one_line_error(run_mmcosim({"run", f, "--outdir", dir + "/out"}),
                        "s\\.yaml:6: platform\\.memory\\.e820\\[1\\]\\.start: range .* overlaps");
}

TEST(BadInput, MissingScenarioFile) {
  expect_one_line_error(run_mmcosim({"run", "/nonexistent/scenario.yaml"}),
                        "^mmcosim: /nonexistent/scenario\\.yaml: cannot open: No such file or directory\n$");
  expect_one_line_error(run_mmcosim({"params", "/nonexistent/scenario.yaml"}), "^mmcosim: /nonexistent/scenario\\.yaml: ");
  const std::string dir = temp_dir("scenario-dir");
  expect_one_line_error(run_mmcosim({"run", dir}), "is a directory, not a file");
}

// Command-line errors are bad input too: exit status 2 and one line, not
// the command-line library's own exit codes and help text.
TEST(BadInput, CommandLineErrors) {
  expect_one_line_error(run_mmcosim({"run", "--walker=bogus"}), "^mmcosim: --walker: bogus not in \\{tlm,rtl,lockstep\\}");
  expect_one_line_error(run_mmcosim({"run", "--bogus"}), "^mmcosim: .*--bogus");
  expect_one_line_error(run_mmcosim({"frobnicate"}), "^mmcosim: unknown command 'frobnicate'");
  expect_one_line_error(run_mmcosim({"run", "--seed", "x"}), "^mmcosim: .*--seed.*'x'");
  const std::string dir = temp_dir("cli");
  const std::string script = write_file(dir, "script.txt", "quit\n");
  expect_one_line_error(run_mmcosim({"run", "--interactive", "--script", script}),
                        "^mmcosim: --interactive excludes --script");
  expect_one_line_error(run_mmcosim({"run", "--script", dir + "/missing.txt"}), "^mmcosim: --script .*missing\\.txt: cannot open");
}

// A workload error at run time (here mmap of size 0, which Linux refuses
// with EINVAL) fails the run with one line naming the errno, and no
// SystemC report about stopping twice.
TEST(RunError, OneLineNamingTheErrno) {
  const std::string dir = temp_dir("run-error");
  const std::string f = write_file(dir, "s.yaml",
                                   "platform: {memory: {size: 256MiB}}\n"
                                   "workload:\n  processes:\n    - name: a\n      ops:\n"
                                   "        - mmap: {region: r, size: 0}\n");
  const RunResult r = run_mmcosim({"run", f, "--outdir", dir + "/out", "-q", "--no-progress"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("^mmcosim: error: .*s\\.yaml:6: .*process a: mmap failed with EINVAL\n$")))
      << r.output;
}

TEST(BadInput, BadSetAndBadDebugFlag) {
  expect_one_line_error(run_mmcosim({"run", "--set", "platform.cores"}), "--set platform\\.cores: expected key=value");
  expect_one_line_error(run_mmcosim({"run", "--set", "platform.coers=2"}),
                        "--set platform\\.coers=2: platform\\.coers: unknown key \\(did you mean 'cores'\\?\\)");
  expect_one_line_error(run_mmcosim({"run", "--debug-flags=TLB,Nope"}), "unknown flag 'Nope'");
}

TEST(BadInput, YamlSyntaxError) {
  const std::string dir = temp_dir("syntax");
  const std::string f = write_file(dir, "s.yaml", "platform:\n  cores: [1, 2\n");
  expect_one_line_error(run_mmcosim({"run", f, "--outdir", dir + "/out"}), "s\\.yaml:\\d+: YAML syntax error");
}

// ---- Processes ----

const char* kSegv =
    "platform: {cores: 2, memory: {size: 1GiB}}\n"
    "workload:\n  processes:\n"
    "    - name: victim\n      cpu: 0\n%s"
    "      ops:\n"
    "        - mmap: {region: r, size: 1MiB}\n"
    "        - write: {region: r}\n"
    "        - munmap: {region: r, length: 4096}\n"
    "        - read: {region: r, length: 4096}\n"
    "    - name: bystander\n      cpu: 1\n"
    "      ops:\n"
    "        - mmap: {region: r, size: 8MiB}\n"
    "        - write: {region: r}\n"
    "        - read: {region: r}\n";

std::string with_expect(const char* expect) {
  char buf[2048];
  std::snprintf(buf, sizeof buf, kSegv, expect);
  return buf;
}

TEST(Processes, ExpectedSegfaultKillsOnlyThatProcess) {
  const std::string dir = temp_dir("segv-expected");
  const std::string f = write_file(dir, "s.yaml", with_expect("      expect_signal: SIGSEGV\n"));
  RunResult r = run_mmcosim({"run", f, "--outdir", dir + "/out", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("victim (pid 1, cpu0): killed by SIGSEGV"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("bystander (pid 2, cpu1): exited with status 0"), std::string::npos) << r.output;
  auto s = read_stats(dir + "/out/stats.txt");
  EXPECT_EQ(s.at("system.fw.task.sigsegv"), 1);
  EXPECT_EQ(s.at("system.workload.bystander.verifiedReads"), 8 << 20 >> 3);
  EXPECT_EQ(s.at("system.fw.buddy.free_pages"), s.at("system.fw.buddy.boot_free_pages"));
  EXPECT_NE(read_file(dir + "/out/console.log").find("segfault at"), std::string::npos);
}

TEST(Processes, UnexpectedSegfaultFailsTheRun) {
  const std::string dir = temp_dir("segv-unexpected");
  const std::string f = write_file(dir, "s.yaml", with_expect(""));
  RunResult r = run_mmcosim({"run", f, "--outdir", dir + "/out", "--no-progress"});
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("error: .*s\\.yaml:\\d+: process victim was killed by SIGSEGV")))
      << r.output;
}

TEST(Processes, ParamsListsEveryKeyWithItsValue) {
  RunResult r = run_mmcosim({"params", "--set", "platform.cores=3"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex("platform\\.cores +3 +uint .*\\[set\\]"))) << r.output;
  EXPECT_NE(r.output.find("firmware.timeslice_us"), std::string::npos);
  EXPECT_NE(r.output.find("platform.memory.size"), std::string::npos);
  // The default devices' keys too, with their descriptions, as defaults.
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex(R"(\nplatform\.devices\[0\]\.burst +64 +size +Bytes per bus transaction\n)")))
      << r.output;
  EXPECT_TRUE(std::regex_search(
      r.output, std::regex(R"(\nplatform\.devices\[1\]\.addr_bits +32 +uint +Widest[^\n]*bits\n)")))
      << r.output;
  // --set reaches into a default device.
  r = run_mmcosim({"params", "--set", "platform.devices[1].burst=128"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(\nplatform\.devices\[1\]\.burst +128 +size +[^\n]*\[set\]\n)")))
      << r.output;
}

// Replays `records` page-crossing modifies (each four accesses counting four
// splits) in process `app` after `ops_before`; the run's statistics.
std::map<std::string, double> replay_splitting_modifies(const std::string& name, int records,
                                                        const std::string& platform,
                                                        const std::string& ops_before) {
  const std::string dir = temp_dir(name);
  std::string text;
  for (int i = 0; i < records; ++i) {
    char line[32];
    std::snprintf(line, sizeof line, " M %08x,16\n", (0x40000 + i % 8) * 4096 + 4096 - 8);
    text += line;
  }
  const std::string trace = write_file(dir, "t.trace", text);
  const std::string f = write_file(dir, "s.yaml",
                                   "platform: " + platform + "\n"
                                   "workload:\n  processes:\n    - name: app\n      ops:\n" + ops_before +
                                       "        - replay: {file: " + trace + "}\n");
  RunResult r = run_mmcosim({"run", f, "--outdir", dir + "/out", "-q", "--no-progress"});
  EXPECT_EQ(r.status, 0) << r.output;
  return r.status == 0 ? read_stats(dir + "/out/stats.txt") : std::map<std::string, double>{};
}

// The counts of a replay of `n` page-crossing modifies: each record a load
// and a store of two pieces, four accesses counting four splits.
void expect_splitting_modifies(const std::map<std::string, double>& s, double n) {
  EXPECT_EQ(s.at("system.workload.app.traceRecords"), n);
  EXPECT_EQ(s.at("system.workload.app.reads"), 2 * n);
  EXPECT_EQ(s.at("system.workload.app.writes"), 2 * n);
  EXPECT_EQ(s.at("system.workload.app.traceSplits"), 4 * n);
  EXPECT_EQ(s.at("system.workload.app.verifiedReads"), 2 * n);
}

// A batch's counts are summed a byte each (ScriptedProgram::IssueSum): a
// trace of nothing but page-crossing modifies, each four accesses counting
// four splits, fills every batch with the most a byte must hold.
TEST(Replay, BatchCountsAddUpWhenEveryRecordSplits) {
  auto s = replay_splitting_modifies("replay-splits", 1000, "{memory: {size: 256MiB}}", "");
  ASSERT_FALSE(s.empty());
  expect_splitting_modifies(s, 1000);
  EXPECT_EQ(s.at("system.workload.app.fetches"), 0);
}

// A process that created a thread shares its memory with it: its replay
// runs without the slots of a second host thread (each load checked as it
// completes), and adds up the same.
TEST(Replay, AProcessWithAThreadReplaysAccessByAccess) {
  auto s = replay_splitting_modifies("replay-thread", 3000, "{cores: 2, memory: {size: 256MiB}}",
                                     "        - mmap: {region: r, size: 4KiB}\n"
                                     "        - thread: {name: t, cpu: 1, ops: [{read: {region: r}}]}\n");
  ASSERT_FALSE(s.empty());
  expect_splitting_modifies(s, 3000);
}

}  // namespace
}  // namespace tb
