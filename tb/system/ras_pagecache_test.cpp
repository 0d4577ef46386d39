// Memory errors in the page cache and on the device path, end to end:
// tb/scenarios/ras/{pagecache-clean-uc,pagecache-dirty-uc,writeback-poison,
// soft-offline-pagecache,ucna-scrub}.yaml. Each scenario checks itself (every
// load and read against the shadow, the file on the disk at the end, the
// signals it expects); these tests assert the lines, counters and signals
// Linux 6.18 gives for each, and that the file shadow's lost pages are what
// lets a run that lost data pass (without them the same run fails).
#include <gtest/gtest.h>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kRas = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/ras/";


bool has(const std::string& text, const std::string& re) { return std::regex_search(text, std::regex(re)); }

TEST(RasPageCache, CleanPageCachePageIsDroppedAndReadAgain) {
  const ScenarioRun r = run_scenario_file(kRas + "pagecache-clean-uc.yaml", "ras-pc-clean");
  ASSERT_EQ(r.status, 0) << r.output;  // every load after the error checked, the file intact on the disk
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: corrupted page was clean: dropped without side effects"))
      << console;
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: recovery action for clean LRU page: Recovered")) << console;
  EXPECT_EQ(console.find("SIGBUS"), std::string::npos) << console;
  EXPECT_TRUE(r.signal_lines().empty());
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 1);
  EXPECT_EQ(r["system.ras.ucConsumed"], 1);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  // The page was read from the disk twice: before the error and after it.
  EXPECT_GE(r["system.fw.filemap.major_faults"], 2);
  EXPECT_EQ(r["system.storage.mismatches"], 0);
  EXPECT_GT(r["system.storage.bytesVerified"], 0);
}

TEST(RasPageCache, DirtyPageCachePageLosesItsDataFsyncReportsEioOnce) {
  const ScenarioRun r = run_scenario_file(kRas + "pagecache-dirty-uc.yaml", "ras-pc-dirty");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus and fsync's expect: EIO held; the disk check passed
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: recovery action for dirty LRU page: Recovered")) << console;
  const std::vector<std::string> sig = r.signal_lines();
  // The consumer (action required), the early-kill mapper at once, the
  // late-kill mapper on its touch of the poison entry.
  ASSERT_EQ(sig.size(), 3u);
  EXPECT_TRUE(std::regex_match(sig[0], std::regex("writer [0-9]+ SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+000 12 m 0x1000")))
      << sig[0];
  EXPECT_TRUE(std::regex_match(sig[1], std::regex("other [0-9]+ SIGBUS BUS_MCEERR_AR 0x[0-9a-f]+100 12 m 0x1100")))
      << sig[1];
  EXPECT_TRUE(std::regex_match(sig[2], std::regex("early [0-9]+ SIGBUS BUS_MCEERR_AO 0x[0-9a-f]+000 12 m 0x1000")))
      << sig[2];
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: Sending SIGBUS to early:[0-9]+ due to hardware memory "
                           "corruption"))
      << console;
  EXPECT_TRUE(has(console, "MCE: Killing other:[0-9]+ due to hardware memory corruption fault at [0-9a-f]+100"))
      << console;
  EXPECT_EQ(r["system.workload.writer.failedSyscalls"], 1);  // the one fsync that returned EIO
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_EQ(r["system.storage.mismatches"], 0);
}

TEST(RasPageCache, WritebackOfPoisonFailsTheRequestAndFsyncReturnsEio) {
  const ScenarioRun r = run_scenario_file(kRas + "writeback-poison.yaml", "ras-wb-poison");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "virtio_blk disk0: device error: poisoned memory at bus address 0x[0-9a-f]+000\n"))
      << console;
  // blk_print_req_error: the one-page write request of the rewritten page.
  EXPECT_TRUE(has(console, "I/O error, dev disk0, sector [0-9]+ op 0x1:\\(WRITE\\) flags 0x1 phys_seg 1 prio class 0"))
      << console;
  // The error precedes the machine check of the later load.
  EXPECT_LT(console.find("I/O error, dev disk0"), console.find("Machine Check Exception")) << console;
  EXPECT_EQ(r["system.block.disk0.errorsBus"], 1);
  EXPECT_EQ(r["system.fw.writeback.write_errors"], 1);
  EXPECT_EQ(r["system.workload.app.failedSyscalls"], 1);
  // The page stayed poisoned: the later load was a machine check, and the
  // clean page left the cache.
  EXPECT_EQ(r["system.ras.ucConsumed"], 1);
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: recovery action for clean LRU page: Recovered")) << console;
  EXPECT_TRUE(r.signal_lines().empty());
  EXPECT_EQ(r["system.storage.mismatches"], 0);
}

// The scenario with one line replaced (`from` must be in it).
std::string variant(const std::string& dir, const std::string& from, const std::string& to) {
  std::string text = read_file(kRas + "writeback-poison.yaml");
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return write_file(dir, "s.yaml", text);
}

TEST(RasPageCache, APageLostToWritebackIsKnownToTheChecker) {
  // Without the rewrite, the disk keeps the page's older data at the end:
  // the shadow knows that page is lost (the fsync's EIO), so the run
  // passes, and every other page is still checked on the disk.
  const std::string dir = temp_dir("ras-wb-lost");
  const std::string kept =
      variant(dir, "        - file_write: {file: data, offset: 8KiB, length: 4KiB}\n", "");
  const RunResult r = run_mmcosim({"run", kept, "--outdir", dir + "/out", "--no-progress"});
  EXPECT_EQ(r.status, 0) << r.output;
  // A process that does not expect the EIO is stopped by it: the loss is
  // never silent.
  const std::string dir2 = temp_dir("ras-wb-noexpect");
  const std::string strict = variant(dir2, "{file: data, expect: EIO}", "{file: data}");
  const RunResult s = run_mmcosim({"run", strict, "--outdir", dir2 + "/out", "--no-progress"});
  EXPECT_NE(s.status, 0) << s.output;
  EXPECT_NE(s.output.find("fsync failed with EIO"), std::string::npos) << s.output;
}

TEST(RasPageCache, SoftOfflineMigratesAMappedDirtyPageCachePage) {
  const ScenarioRun r = run_scenario_file(kRas + "soft-offline-pagecache.yaml", "ras-so-pc");
  ASSERT_EQ(r.status, 0) << r.output;  // same data everywhere, file right on the disk
  const std::string console = r.file("console.log");
  EXPECT_TRUE(has(console, "Soft offlining pfn 0x[0-9a-f]+ at process virtual address 0x[0-9a-f]+000")) << console;
  EXPECT_EQ(console.find("isolation failed"), std::string::npos) << console;
  EXPECT_EQ(console.find("migration failed"), std::string::npos) << console;
  EXPECT_EQ(r["system.fw.madvise.soft_offline"], 1);
  EXPECT_EQ(r["system.fw.migrate.succeeded"], 1);
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 4);
  EXPECT_TRUE(r.signal_lines().empty());
  EXPECT_EQ(r["system.storage.mismatches"], 0);
}

TEST(RasPageCache, UcnaFromTheScrubberGoesToMemoryFailure) {
  const ScenarioRun r = run_scenario_file(kRas + "ucna-scrub.yaml", "ras-ucna");
  ASSERT_EQ(r.status, 0) << r.output;  // expect_sigbus held: AO early, AR on the next touch
  const std::string console = r.file("console.log");
  EXPECT_NE(console.find("Memory failure: 0x8000: recovery action for free buddy page: Recovered"), std::string::npos)
      << console;
  EXPECT_TRUE(has(console, "Memory failure: 0x[0-9a-f]+: recovery action for dirty LRU page: Recovered")) << console;
  // A recovered record is not printed (6.18 skips MCE_HANDLED_UC ones):
  // the first printed is a later pass's find of a page already poisoned.
  const size_t recovered = console.find("dirty LRU page: Recovered");
  const size_t failed = console.find("recovery action for already poisoned page: Failed");
  ASSERT_NE(failed, std::string::npos) << console;
  EXPECT_LT(recovered, failed);
  const std::string record = "mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 2: bc000000000000c0";
  const size_t first_record = console.find(record);
  ASSERT_NE(first_record, std::string::npos) << console;
  EXPECT_GT(first_record, failed) << console;
  // Every pooled record memory_failure() did not handle is printed, and only those.
  EXPECT_EQ(count_of(console, record), r["system.fw.mce.records"]);
  EXPECT_EQ(count_of(console, "recovery action for already poisoned page: Failed"), r["system.fw.mce.records"]);
  EXPECT_NE(console.find("mce: [Hardware Error]: Machine check events logged"), std::string::npos);
  EXPECT_GE(r["system.fw.mce.ucna"], 2);
  EXPECT_EQ(r["system.fw.mce.total"], 0);  // no #MC: the scrubber's finds came by CMCI
  EXPECT_GE(r["system.ras.cmci"], 2);
  EXPECT_EQ(r["system.fw.memory_failure.node0.recovered"], 2);
  EXPECT_EQ(r["system.fw.memory_failure.node0.failed"], 0);  // already poisoned: not counted again
  EXPECT_EQ(r.proc("meminfo", "HardwareCorrupted"), 8);
  EXPECT_EQ(r["system.cpu0.core.tasksKilled"], 0);
}

}  // namespace
}  // namespace tb
