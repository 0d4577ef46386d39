// Storage end to end (tb/scenarios/storage/): what each scenario names,
// checked from its statistics and /proc files. Every scenario also checks
// itself as it runs (every byte read against the shadow) and at its end
// (every file's bytes on the disk against the shadow, after the final sync).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <regex>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kStorage = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/storage/";

struct StorageRun : ScenarioRun {
};

StorageRun run(const std::string& scenario, std::vector<std::string> sets = {}) {
  static int runs = 0;  // each run its own directory: proc files are read after later runs
  StorageRun r;
  static_cast<ScenarioRun&>(r) = run_scenario_file(
      kStorage + scenario, "storage-" + scenario.substr(0, scenario.find('.')) + "-" + std::to_string(runs++), sets);
  return r;
}

// What every scenario with files ends with: the whole of every file on the
// disk, equal to the shadow; nothing dirty or under writeback after the
// final sync; the disk's transfers as /proc/vmstat counts them (KiB: Linux
// counts reads as they are submitted, so a read the disk failed counts in
// pgpgin and not in the disk's bytes read; `failed` such bytes).
void expect_synced_and_verified(const StorageRun& r, double files, double bytes, double failed = 0) {
  EXPECT_EQ(r["system.workload.files.finalSyncs"], 1) << "the last process to finish synced";
  EXPECT_EQ(r["system.storage.mismatches"], 0);
  EXPECT_EQ(r["system.storage.filesVerified"], files);
  EXPECT_EQ(r["system.storage.bytesVerified"], bytes);
  EXPECT_EQ(r.proc("meminfo", "Dirty"), 0) << "the final sync wrote everything back";
  EXPECT_EQ(r.proc("meminfo", "Writeback"), 0);
  EXPECT_EQ(r.proc("vmstat", "pgpgin") * 1024, r["system.block.disk0.bytesRead"] + failed);
  EXPECT_EQ(r.proc("vmstat", "pgpgout") * 1024, r["system.block.disk0.bytesWritten"]);
  EXPECT_GT(r["system.storage.disk0.throughput"], 0);
  EXPECT_LE(r["system.storage.disk0.bandwidthUse"], 1.0) << "no disk moves data faster than its bandwidth";
}

TEST(Storage, SequentialReadsOpenAReadaheadWindow) {
  const StorageRun r = run("seq-read.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 16 << 20);
  EXPECT_EQ(r["system.workload.files.bytesRead"], 16 << 20);
  EXPECT_EQ(r["system.workload.files.verifiedBytes"], 16 << 20);
  EXPECT_GT(r["system.fw.readahead.async_ra"], 0) << "the stream was seen as sequential";
  EXPECT_EQ(r["system.fw.readahead.window_max"], 32) << "read_ahead_kb 128 = 32 pages";
  EXPECT_GE(r["system.fw.filemap.read_pages"], 4096) << "the whole file came from the disk once";
  EXPECT_LT(r["system.fw.filemap.read_ios"], 4096 / 8) << "in large requests";
  EXPECT_GE(r["system.block.disk0.bytesRead"], 16 << 20);
}

TEST(Storage, RandomReadsReadOnlyWhatIsAsked) {
  const StorageRun r = run("random-read.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 16 << 20);
  EXPECT_EQ(r["system.workload.files.reads"], 512);
  EXPECT_EQ(r["system.fw.readahead.async_ra"], 0);
  EXPECT_GT(r["system.fw.readahead.forced_ra"], 0);
  EXPECT_LE(r["system.fw.filemap.read_pages"], 512) << "one page per miss, no readahead";
  EXPECT_EQ(r["system.fw.filemap.read_pages"], r["system.fw.filemap.read_ios"]);
}

TEST(Storage, AWriterAboveDirtyRatioIsThrottledWhileTheFlusherWritesBack) {
  const StorageRun r = run("dirty-throttle.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 48 << 20);
  EXPECT_GT(r["system.fw.writeback.background_runs"], 0) << "background writeback above dirty_background_ratio";
  EXPECT_GT(r["system.fw.writeback.throttled"], 0) << "balance_dirty_pages made the writer wait";
  EXPECT_GT(r["system.fw.writeback.throttle_ns"], 0);
  EXPECT_GE(r["system.fw.writeback.pages_written"], 12288) << "every page written went to the disk";
  EXPECT_GE(r.proc("vmstat", "nr_dirtied"), 12288);
  EXPECT_GE(r.proc("vmstat", "nr_written"), 12288);
  EXPECT_GE(r["system.block.disk0.bytesWritten"], 48 << 20);
}

TEST(Storage, DroppedCachesAreReadAgainWithMajorFaults) {
  const StorageRun r = run("drop-caches.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 4 << 20);
  EXPECT_GE(r["system.fw.filemap.dropped"], 1024) << "the file's clean pages went";
  EXPECT_EQ(r["system.fw.filemap.faults"], 2048) << "each pass faults every page of the mapping";
  // The same run dropping only slab objects (level 2) keeps the page cache:
  // the second pass reads nothing from the disk and takes no major fault.
  const StorageRun kept = run("drop-caches.yaml", {"workload.processes[0].ops[5].drop_caches.level=2"});
  ASSERT_EQ(kept.status, 0) << kept.output;
  EXPECT_EQ(kept["system.fw.filemap.dropped"], 0);
  EXPECT_EQ(r["system.fw.filemap.read_pages"] - kept["system.fw.filemap.read_pages"], 1024)
      << "after the drop the whole file came from the disk again";
  EXPECT_GT(r.proc("vmstat", "pgmajfault"), kept.proc("vmstat", "pgmajfault")) << "and its faults were major";
  EXPECT_GT(r["system.fw.filemap.major_faults"], kept["system.fw.filemap.major_faults"]);
}

TEST(Storage, ASharedMappingWrittenByTwoProcessesReadsBackThroughRead) {
  const StorageRun r = run("shared-mapping.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 2 << 20);
  EXPECT_EQ(r["system.workload.files.bytesRead"], 2 * (2 << 20)) << "each process read the whole file";
  EXPECT_EQ(r.proc("vmstat", "nr_dirtied"), 512) << "every page was dirtied through the mappings";
  EXPECT_EQ(r["system.block.disk0.bytesWritten"], 2 << 20) << "and written back once";
}

TEST(Storage, APrivateMappingCopiesOnWriteAndLeavesTheFileAlone) {
  const StorageRun r = run("private-mapping.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 1 << 20);
  EXPECT_EQ(r["system.fw.vmstat.pgfault_cow"], 128) << "each of the 128 pages written was copied once";
  EXPECT_EQ(r.proc("vmstat", "nr_dirtied"), 0) << "no page of the file was dirtied";
  EXPECT_EQ(r["system.block.disk0.bytesWritten"], 0);
}

TEST(Storage, AMediaErrorFailsTheReadOfItsPageAndNothingElse) {
  const StorageRun r = run("media-error.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  // Each failed read was one page (fadvise RANDOM: no readahead around it).
  expect_synced_and_verified(r, 1, 4 << 20, r["system.block.disk0.errorsMedia"] * 4096);
  EXPECT_EQ(r["system.workload.reader.failedSyscalls"], 1) << "EIO, as the scenario expects";
  EXPECT_GE(r["system.fw.filemap.read_errors"], 1);
  EXPECT_GE(r["system.block.disk0.errorsMedia"], 1);
  EXPECT_EQ(r["system.workload.files.bytesRead"], (16 + 32) * 65536 + 60 * 1024) << "every other read whole";
  // Not expected, the same EIO fails the run.
  const StorageRun bad = run("media-error.yaml", {"workload.processes[0].ops[1].file_read.expect=ok"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("failed with EIO"), std::string::npos) << bad.output;
}

TEST(Storage, A32BitDiskOnA64GiBMachineBouncesThroughSwiotlb) {
  const StorageRun r = run("disk32-64g.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 8 << 20);
  EXPECT_GT(r["system.fw.dma.bounced_maps"], 0);
  // Every request bounced: reads are copied back on unmap, and copied in on
  // map too (as for every direction), writes copied in.
  EXPECT_EQ(r["system.fw.swiotlb.bounced_bytes_from_device"], r["system.block.disk0.bytesRead"]);
  EXPECT_EQ(r["system.fw.swiotlb.bounced_bytes_to_device"],
            r["system.block.disk0.bytesRead"] + r["system.block.disk0.bytesWritten"]);
  EXPECT_GE(r["system.block.disk0.bytesWritten"], 4 << 20);
  // The bus-side checker heard of every unmap: only the disk's coherent buffers (its virtqueue) stay mapped.
  EXPECT_EQ(r["system.dma.checker.mapRequests"] - r["system.dma.checker.unmapRequests"],
            r["system.fw.dma.alloc_coherent"] - r["system.fw.dma.free_coherent"]);
  EXPECT_EQ(r["system.dma.checker.badUnmaps"], 0);
  EXPECT_EQ(r["system.fw.swiotlb.io_tlb_used"], 0) << "every bounce buffer came back";
}

TEST(Storage, A64BitDiskOnTheSameMachineBouncesNothing) {
  const StorageRun r = run("disk64-64g.yaml");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_synced_and_verified(r, 1, 8 << 20);
  EXPECT_EQ(r["system.fw.dma.bounced_maps"], 0);
  EXPECT_EQ(r["system.fw.swiotlb.bounced_bytes_from_device"], 0);
  EXPECT_EQ(r["system.fw.swiotlb.bounced_bytes_to_device"], 0);
}

}  // namespace
}  // namespace tb
