// The walker selection end to end: the default scenario runs on the RTL
// walker and in lockstep with zero mismatches, so does a four-core scenario
// whose cores change the page tables under each other's walks, and --wave
// records the walker's state machine, its memory handshake and the
// MMU-level probe.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "tb/common/mmcosim_run.h"
#include "tb/common/vcd_changes.h"

namespace tb {
namespace {

TEST(WalkerModes, DefaultScenarioInLockstepHasNoMismatches) {
  const std::string out = temp_dir("lockstep-default");
  RunResult r = run_mmcosim({"run", "--walker=lockstep", "--outdir", out, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_stats(out + "/stats.txt");
  EXPECT_EQ(s.at("system.cpu0.mmu.lockstep.mismatches"), 0);
  EXPECT_EQ(s.at("system.cpu0.mmu.lockstep.walksCompared"), s.at("system.cpu0.mmu.walker.walks"));
  EXPECT_EQ(s.at("system.cpu0.mmu.rtlWalker.walks"), s.at("system.cpu0.mmu.walker.walks"));
  EXPECT_GE(s.at("system.cpu0.mmu.lockstep.walksCompared"), 2 * 16384);
  EXPECT_EQ(s.at("system.cpu0.core.pageFaults"), 16384);
  EXPECT_NE(r.output.find("0 mismatches"), std::string::npos) << r.output;
}

TEST(WalkerModes, LockstepAgreesWhileOtherCoresChangeTheTables) {
  const std::string out = temp_dir("lockstep-races");
  RunResult r = run_mmcosim({"run", std::string(MMCOSIM_SOURCE_DIR) + "/tb/scenarios/vm/lockstep-races.yaml",
                             "--walker=lockstep", "--outdir", out, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_stats(out + "/stats.txt");
  long long compared = 0;
  std::string per_core;
  for (int c = 0; c < 4; ++c) {
    const std::string cpu = "system.cpu" + std::to_string(c) + ".mmu.";
    EXPECT_EQ(s.at(cpu + "lockstep.mismatches"), 0) << cpu;
    EXPECT_GT(s.at(cpu + "lockstep.walksCompared"), 1000) << cpu;
    EXPECT_EQ(s.at(cpu + "lockstep.walksCompared"), s.at(cpu + "rtlWalker.walks")) << cpu;
    EXPECT_EQ(s.at(cpu + "lockstep.walksCompared"), s.at(cpu + "walker.walks")) << cpu;
    const long long n = static_cast<long long>(s.at(cpu + "lockstep.walksCompared"));
    compared += n;
    per_core += (c ? ", cpu" : "cpu") + std::to_string(c) + " " + std::to_string(n);
  }
  EXPECT_GE(compared, 200000);
  // The races happened: shootdowns reached the other cores, and two cores
  // set D on the shared mapping's entries.
  EXPECT_GT(s.at("system.fw.tlb.shootdowns"), 1000);
  EXPECT_GT(s.at("system.cpu1.mmu.rtlWalker.lockedReads"), 0);
  EXPECT_GT(s.at("system.cpu3.mmu.rtlWalker.lockedReads"), 0);
  EXPECT_NE(r.output.find(std::to_string(compared) + " walks compared (" + per_core + "), 0 mismatches"),
            std::string::npos)
      << r.output;
}

// The default scenario with 5-level paging: the PML5E cache is there, and
// both walkers still agree.
TEST(WalkerModes, FiveLevelPagingInLockstepHasNoMismatches) {
  const std::string out = temp_dir("lockstep-la57");
  RunResult r = run_mmcosim(
      {"run", "--walker=lockstep", "--set", "platform.paging_levels=5", "--outdir", out, "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto s = read_stats(out + "/stats.txt");
  EXPECT_EQ(s.at("system.cpu0.mmu.lockstep.mismatches"), 0);
  EXPECT_EQ(s.at("system.cpu0.mmu.lockstep.walksCompared"), s.at("system.cpu0.mmu.walker.walks"));
  EXPECT_EQ(s.at("system.cpu0.core.pageFaults"), 16384);
  EXPECT_GT(s.at("system.cpu0.mmu.pwc.pml5e.fills"), 0);
  EXPECT_EQ(s.at("system.cpu0.mmu.pwc.pml5e.misses"), s.at("system.cpu0.mmu.pwc.pml4e.misses"));
  EXPECT_EQ(s.at("system.workload.app.verifiedReads"), 8388608);
}

TEST(WalkerModes, RtlWalkerAloneGivesTheSameTranslations) {
  const std::string a = temp_dir("walker-tlm"), b = temp_dir("walker-rtl");
  ASSERT_EQ(run_mmcosim({"run", "--walker=tlm", "--outdir", a, "-q", "--no-progress"}).status, 0);
  RunResult r = run_mmcosim({"run", "--walker=rtl", "--outdir", b, "-q", "--no-progress"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto t = read_stats(a + "/stats.txt"), v = read_stats(b + "/stats.txt");
  // Same walks with the same outcomes; only their timing differs.
  EXPECT_EQ(v.at("system.cpu0.mmu.walker.walks"), t.at("system.cpu0.mmu.walker.walks"));
  EXPECT_EQ(v.at("system.cpu0.mmu.walker.pageFaults"), t.at("system.cpu0.mmu.walker.faultsNotPresent"));
  EXPECT_EQ(v.at("system.cpu0.mmu.walker.completed"), t.at("system.cpu0.mmu.walker.completed"));
  EXPECT_EQ(v.at("system.cpu0.mmu.walker.ptReads"), t.at("system.cpu0.mmu.walker.ptReads"));
  EXPECT_GT(v.at("system.cpu0.mmu.walker.cycles"), 0);
  EXPECT_EQ(v.at("system.workload.app.verifiedReads"), t.at("system.workload.app.verifiedReads"));
}

TEST(WalkerModes, WaveNeedsTheRtlWalkerAKnownFormatAndAWritableFile) {
  RunResult r = run_mmcosim({"run", "--wave", "/tmp/x.fst", "--outdir", temp_dir("wave-tlm")});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--wave records the RTL walker"), std::string::npos) << r.output;
  r = run_mmcosim({"run", "--walker=rtl", "--wave", "/tmp/x.ghw", "--outdir", temp_dir("wave-ext")});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("must end in .fst or .vcd"), std::string::npos) << r.output;
  // Bad input, found before the run starts: exit 2, one line, and no output
  // directory left behind (nor the directories above it the run created, nor
  // the timeline's file in it).
  const std::string dir = temp_dir("wave-nodir");
  r = run_mmcosim({"run", "--walker=rtl", "--wave", dir + "/no/such/dir/w.fst", "--outdir", dir + "/out"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--wave " + dir + "/no/such/dir/w.fst: cannot write\n"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out"));
  r = run_mmcosim({"run", "--walker=rtl", "--wave", dir + "/no/such/dir/w.fst", "--outdir", dir + "/new/out",
                   "--trace-events", dir + "/new/out/trace.json"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/new"));
  // An output directory that was there stays, with what it holds.
  std::filesystem::create_directories(dir + "/old");
  const std::string kept = write_file(dir + "/old", "notes.txt", "mine\n");
  r = run_mmcosim({"run", "--walker=rtl", "--wave", dir + "/no/such/dir/w.fst", "--outdir", dir + "/old"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(read_file(kept), "mine\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/old/proc"));
}

// platform.mmu.rtl_clock is the RTL walker's: `params` lists it only with
// one, and a run with the TLM walker that gives it is bad input.
TEST(WalkerModes, RtlClockIsAKeyOfTheRtlWalkerOnly) {
  RunResult r = run_mmcosim({"params"});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output.find("platform.mmu.rtl_clock"), std::string::npos);
  r = run_mmcosim({"params", "--set", "platform.mmu.walker=lockstep"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("platform.mmu.rtl_clock "), std::string::npos);
  r = run_mmcosim({"run", "--set", "platform.mmu.rtl_clock=2GHz", "--outdir", temp_dir("rtl-clock-tlm")});
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("platform.mmu.rtl_clock: the TLM walker has no clock"), std::string::npos) << r.output;
}


TEST(WalkerModes, WaveformShowsTheWalkerWorking) {
  const std::string dir = temp_dir("wave-vcd");
  const std::string scen = write_file(dir, "s.yaml",
                                      "platform: {memory: {size: 1GiB}}\n"
                                      "workload:\n  processes:\n    - name: a\n      ops:\n"
                                      "        - mmap: {region: r, size: 64KiB}\n"
                                      "        - write: {region: r, stride: 4096, pattern: strided}\n");
  RunResult r = run_mmcosim({"run", scen, "--walker=lockstep", "--wave", dir + "/w.vcd", "--outdir", dir + "/out"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto changes = vcd_changes(dir + "/w.vcd");
  // The walker's state machine, its memory handshake, and the MMU probe all move.
  for (const char* sig : {"walker.state_q", "walker.clk", "walker.mem_req_valid", "walker.mem_rsp_valid",
                          "walker.rsp_valid", "mmu_probe.tlb_miss", "mmu_probe.walk_ok", "mmu_probe.page_fault",
                          "mmu_probe.miss_va"}) {
    EXPECT_GE(changes[sig], 4) << sig << " barely changes in the waveform";
  }
  // The FST flavour is written too, and is not empty.
  r = run_mmcosim({"run", scen, "--walker=rtl", "--wave", dir + "/w.fst", "--outdir", dir + "/out2", "-q"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(read_file(dir + "/w.fst").size(), 1000u);
}

}  // namespace
}  // namespace tb
