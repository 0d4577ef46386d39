// DMA zones end to end (tb/scenarios/dma/): what each scenario shows,
// checked from its statistics, /proc/swiotlb and console.log, and the
// variants docs/dma.md describes (swiotlb off, lowmem_reserve_ratio 0, the
// checker's expectation turned off). Every scenario checks its own data
// against the shadow as it runs; these tests check the DMA side.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "tb/common/mmcosim_run.h"

namespace tb {
namespace {

const std::string kDma = std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/dma/";

using DmaRun = ScenarioRun;

DmaRun run(const std::string& scenario, const std::string& tag, std::vector<std::string> sets = {}) {
  return run_scenario_file(kDma + scenario, "dma-" + tag, sets);
}

// Nothing the DMA API or the checker would complain about.
void expect_clean(const DmaRun& r, const std::string& dev) {
  EXPECT_EQ(r["system.dma.checker." + dev + ".violations"], 0);
  EXPECT_EQ(r["system.dma.checker." + dev + ".errorsBeyondWidth"], 0);
  EXPECT_EQ(r["system.fw.dma_debug.error_count"], 0);
  EXPECT_EQ(r["system.fw.swiotlb.io_tlb_used"], 0) << "every bounce buffer comes back";
  // When the machine went idle the driver let go of its engines: nothing held, nothing leaked.
  EXPECT_EQ(r["system.fw.dma_debug.num_entries"], 0);
  EXPECT_EQ(r["system.fw.dma_debug.leaked"], 0);
  EXPECT_EQ(r["system.fw.dma.alloc_coherent"], r["system.fw.dma.free_coherent"]);
  // The checker heard of every range the firmware let go, and only of those.
  EXPECT_EQ(r["system.dma.checker.mapRequests"], r["system.dma.checker.unmapRequests"]);
  EXPECT_EQ(r["system.dma.checker.badUnmaps"], 0);
}

TEST(Dma, A32BitEngineCopiesBuffersAbove4GiBThroughSwiotlb) {
  const DmaRun r = run("swiotlb-64g.yaml", "swiotlb-64g");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean(r, "dma1");
  EXPECT_EQ(r["system.fw.dmaengine.dma1.bytes"], (1 << 20) + 300000);
  EXPECT_GT(r["system.fw.swiotlb.mappings"], 0);
  EXPECT_EQ(r["system.fw.dma.bounced_maps"], r["system.fw.dma.map_sg_entries"]) << "every piece lies above 4 GiB";
  EXPECT_EQ(r["system.fw.swiotlb.bounced_bytes_from_device"], (1 << 20) + 300000);
  EXPECT_EQ(r["system.fw.swiotlb.io_tlb_nslabs"], 32768) << "64 MiB of 2 KiB slots";
  EXPECT_GT(r["system.fw.irq.dma"], 0) << "completions arrive by interrupt and are counted as such";
  // The pool: below 4 GiB, top-down, so above 16 MiB (out of a 24-bit engine's reach).
  unsigned long long start = 0, end = 0;
  const std::string proc = r.file("proc/swiotlb");
  const size_t at = proc.find("mem: [mem ");
  ASSERT_NE(at, std::string::npos) << proc;
  ASSERT_EQ(std::sscanf(proc.c_str() + at, "mem: [mem %llx-%llx]", &start, &end), 2) << proc;
  EXPECT_LT(end, 1ull << 32);
  EXPECT_GE(start, 1ull << 24);
  EXPECT_NE(r.file("console.log").find("software IO TLB: mapped [mem "), std::string::npos);
}

TEST(Dma, WithoutSwiotlbTheSameCopyFailsWithEio) {
  const DmaRun r = run("swiotlb-64g.yaml", "swiotlb-off",
                       {"firmware.swiotlb=off", "workload.processes[0].ops[3].dma_copy.expect=EIO",
                        "workload.processes[0].ops[5].dma_copy.expect=EIO"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r["system.fw.swiotlb.io_tlb_nslabs"], 0);
  EXPECT_EQ(r["system.fw.dmaengine.dma1.user_copy_failed"], 2);
  EXPECT_EQ(r["system.fw.dmaengine.dma1.transfers"], 0) << "nothing reaches the engine";
  EXPECT_EQ(r["system.fw.dma.overflow"], 2);
  EXPECT_NE(r.file("console.log").find("DMA addr 0x"), std::string::npos) << "dma-direct's overflow warning";
}

TEST(Dma, The24BitEngineWorksOnlyWithZoneDmaBuffers) {
  const DmaRun r = run("zone-dma.yaml", "zone-dma");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean(r, "dma0");
  EXPECT_EQ(r["system.fw.dma.overflow"], 2) << "both streaming copies fail: the pool is out of reach too";
  EXPECT_EQ(r["system.fw.dmaengine.dma0.bytes"], 65536 + 5000);
  // Two 64 KiB buffers and the descriptor ring (16 KiB), all from ZONE_DMA.
  EXPECT_GE(r["system.fw.vmstat.pgalloc_dma"], 16 + 16 + 4);
  EXPECT_EQ(r["system.fw.dma.alloc_coherent_failed"], 0);
  EXPECT_NE(r.file("console.log").find("swiotlb addr 0x"), std::string::npos) << "swiotlb_map's overflow warning";
}

TEST(Dma, AFullSwiotlbFailsTheMappingAndRecovers) {
  const DmaRun r = run("swiotlb-full.yaml", "swiotlb-full");
  ASSERT_EQ(r.status, 0) << r.output;
  expect_clean(r, "dma1");
  EXPECT_GE(r["system.fw.swiotlb.full"], 1);
  EXPECT_EQ(r["system.fw.swiotlb.io_tlb_nslabs"], 2048);
  EXPECT_GT(r["system.fw.swiotlb.io_tlb_used_hiwater"], 1536) << "the failed copy filled most of the pool";
  EXPECT_EQ(r["system.fw.dmaengine.dma1.bytes"], 1 << 20) << "the later copy works";
  EXPECT_NE(r.file("console.log").find("swiotlb buffer is full (sz: "), std::string::npos);
}

TEST(Dma, TheCheckerCatchesADriverThatSkipsTheMapping) {
  const DmaRun r = run("driver-bug.yaml", "driver-bug");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r["system.dma.checker.dma1.violations"], 2 * 65536 / 64) << "every read and write burst";
  EXPECT_EQ(r["system.fw.dmaengine.dma1.checker_flagged"], 1);
  EXPECT_NE(r.output.find("violation(s) (expected)"), std::string::npos) << r.output;
  // Not expected: the run fails and says why.
  const DmaRun bad = run("driver-bug.yaml", "driver-bug-unexpected", {"platform.dma_checker.expect_violations=false"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.output.find("DMA violation(s)"), std::string::npos) << bad.output;
  EXPECT_NE(bad.output.find("not mapped for it (nearest mapping"), std::string::npos) << bad.output;
  // Done right, the same copy has none.
  const DmaRun good = run("driver-bug.yaml", "driver-bug-fixed",
                          {"firmware.dma_driver_bug=none", "platform.dma_checker.expect_violations=false"});
  ASSERT_EQ(good.status, 0) << good.output;
  expect_clean(good, "dma1");
  // Unmapped before the engine runs: the checker knows the range is gone.
  const DmaRun stale = run("driver-bug.yaml", "driver-bug-stale", {"firmware.dma_driver_bug=stale"});
  ASSERT_EQ(stale.status, 0) << stale.output;
  EXPECT_EQ(stale["system.dma.checker.dma1.violations"], 2 * 65536 / 64);
}

TEST(Dma, LowmemReserveKeepsZoneDmaForTheDevicesThatNeedIt) {
  const DmaRun r = run("lowmem-reserve.yaml", "lowmem-reserve");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r["system.fw.dma.alloc_coherent"], 2) << "both dma_allocs got their buffers";
  EXPECT_EQ(r["system.fw.dma.alloc_coherent_failed"], 0);
  const DmaRun none =
      run("lowmem-reserve.yaml", "lowmem-reserve-0",
          {"firmware.lowmem_reserve_ratio_dma=0", "workload.processes[0].ops[4].dma_alloc.expect=ENOMEM",
           "workload.processes[0].ops[5].write.region=first", "workload.processes[0].ops[6].read.region=first"});
  ASSERT_EQ(none.status, 0) << none.output;
  EXPECT_EQ(none["system.fw.dma.alloc_coherent_failed"], 1) << "ZONE_DMA went to the filler";
  // Both fills ended with the filler OOM-killed, its pages kept by the
  // shared object the app maps.
  EXPECT_EQ(r.proc("vmstat", "oom_kill"), 1);
  EXPECT_EQ(none.proc("vmstat", "oom_kill"), 1);
}

}  // namespace
}  // namespace tb
